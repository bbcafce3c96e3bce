"""Class names of the datasets TSM was published on, and the sidecar that carries them
next to a converted model.

Label files live in ``tsm_tf/labels/{dataset}.txt``: ``#`` comment lines, then one class name
per line in class-index order. A converted model ``model.keras`` gets a sidecar
``model.labels.json`` (``{"dataset": ..., "class_names": [...], ...}``) so any tool that loads
the model can print class names: ``class_names_for("model.keras")``.

Example:
    >>> names = load_labels("jester")
    >>> len(names), names[0]
    (27, 'Doing other things')
"""

from __future__ import annotations

import json
import os
from functools import cache
from importlib import resources
from pathlib import Path

from tsm_tf.io_utils import atomic_write_json

# dataset -> number of classes (the published checkpoints' classifier sizes).
DATASETS = {
    "kinetics400": 400,
    "ucf101": 101,
    "hmdb51": 51,
    "something_v1": 174,
    "something_v2": 174,
    "jester": 27,
}
SIDECAR_SUFFIX = ".labels.json"


@cache
def _read_label_file(dataset: str) -> tuple[str, ...]:
    text = resources.files("tsm_tf").joinpath("labels", f"{dataset}.txt").read_text("utf-8")
    names = tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )
    if len(names) != DATASETS[dataset]:
        raise RuntimeError(
            f"tsm_tf/labels/{dataset}.txt holds {len(names)} class names, expected "
            f"{DATASETS[dataset]}: the installed package is damaged, reinstall tsm-tf."
        )
    return names


def load_labels(dataset: str) -> list[str]:
    """Class names of ``dataset`` (one of ``DATASETS``) in class-index order."""
    if dataset not in DATASETS:
        raise ValueError(
            f"No label file for dataset {dataset!r}. Known datasets: {', '.join(DATASETS)}."
        )
    return list(_read_label_file(dataset))


def sidecar_path(model_path: str | os.PathLike) -> Path:
    """``run/model.keras`` -> ``run/model.labels.json`` (same rule for ``.tflite``, ``.h5``)."""
    path = Path(model_path)
    name = path.name
    if name.endswith(".weights.h5"):
        name = name[: -len(".weights.h5")]
    elif path.suffix:
        name = path.stem
    return path.with_name(name + SIDECAR_SUFFIX)


def write_sidecar(
    model_path: str | os.PathLike,
    class_names: list[str],
    *,
    dataset: str | None = None,
    extra: dict | None = None,
) -> Path:
    """Write the labels sidecar of ``model_path`` atomically; returns its path."""
    target = sidecar_path(model_path)
    payload = {"dataset": dataset, "num_classes": len(class_names),
               "class_names": list(class_names)}
    if extra:
        payload.update(extra)
    atomic_write_json(target, payload, indent=1)
    return target


def read_sidecar(model_path: str | os.PathLike) -> dict | None:
    """The sidecar dict of ``model_path``, or ``None`` when it has none."""
    target = sidecar_path(model_path)
    if not target.exists():
        return None
    try:
        payload = json.loads(target.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{target}: not valid JSON ({error}). Delete it or re-run the conversion."
        ) from error
    if not isinstance(payload, dict):
        raise ValueError(f"{target}: expected a JSON object with 'class_names', got a "
                         f"{type(payload).__name__}. Delete it or re-run the conversion.")
    names = payload.get("class_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{target}: 'class_names' must be a list of strings.")
    return payload


def class_names_for(model_path: str | os.PathLike) -> list[str] | None:
    """Class names saved next to a model (``model.labels.json``), or ``None``.

    Example:
        >>> class_names_for("runs/tsm_k400.keras")  # doctest: +SKIP
        ['abseiling', 'air drumming', ...]
    """
    payload = read_sidecar(model_path)
    return None if payload is None else list(payload["class_names"])

"""Class names for reports and plots.

Looked up in order: names given by the caller; names carried by the model (a converted
reference checkpoint's ``model.class_names``, or the ``model.labels.json`` sidecar written by
``tsm_tf.weights`` next to a ``.keras`` file); a ``classes.txt`` (one name per line, label
order) in the dataset root or next to the list file; the dataset's label file shipped in
``tsm_tf/labels/``; else the label indices as strings. A source with the wrong number of names
is skipped, so a class is never silently mislabelled.
"""

from __future__ import annotations

import os
from collections.abc import Sequence


def read_names(path: str | os.PathLike) -> list[str]:
    """Class names of a text file: one per line, blank lines and ``#`` comments ignored."""
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def _packaged_names(dataset: str) -> list[str] | None:
    try:
        from tsm_tf.weights import load_labels
    except ImportError:  # pragma: no cover - the weights package ships with tsm_tf
        return None
    try:
        return load_labels(dataset)
    except (ValueError, OSError, RuntimeError):
        return None


def _sidecar_names(model_path: str | None) -> list[str] | None:
    if not model_path:
        return None
    try:
        from tsm_tf.weights import class_names_for
    except ImportError:  # pragma: no cover
        return None
    try:
        return class_names_for(model_path)
    except (OSError, ValueError):
        return None


def resolve_class_names(
    num_classes: int,
    *,
    names: Sequence[str] | None = None,
    model=None,
    model_path: str | None = None,
    root: str | None = None,
    list_file: str | None = None,
    dataset: str | None = None,
) -> tuple[list[str], str]:
    """``(names, source)``: ``num_classes`` class names and where they came from.

    Example:
        >>> resolve_class_names(3)
        (['0', '1', '2'], 'indices')
    """
    if names is not None:
        names = list(names)
        if len(names) != num_classes:
            raise ValueError(
                f"{len(names)} class names given for a model with {num_classes} classes"
            )
        return names, "given"
    candidates = [
        (getattr(model, "class_names", None), "model"),
        (_sidecar_names(model_path), f"labels sidecar of {model_path}"),
    ]
    folders = [root, os.path.dirname(os.path.abspath(list_file)) if list_file else None]
    for folder in dict.fromkeys(f for f in folders if f):
        path = os.path.join(folder, "classes.txt")
        if os.path.isfile(path):
            candidates.append((read_names(path), path))
    if dataset:
        candidates.append((_packaged_names(dataset), f"tsm_tf/labels/{dataset}.txt"))
    for found, source in candidates:
        if found and len(found) == num_classes:
            return [str(n) for n in found], source
    return [str(i) for i in range(num_classes)], "indices"

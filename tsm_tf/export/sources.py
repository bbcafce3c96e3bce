"""What the converter converts: a ``.keras`` TSM / StreamingTSM, a training run folder (its best
checkpoint), or a reference PyTorch checkpoint / preset name (through ``tsm_tf.weights``).

Example (needs a model file, so not run as a doctest)::
    source = load_source("runs/synthetic-tsm_online_mobilenetv2")
    source.kind, source.model_path.name, source.dataset
    ('run', 'best.keras', 'synthetic')
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from tsm_tf.common.constants import is_torch_checkpoint_path, strip_checkpoint_suffix

__all__ = ["ModelSource", "SourceError", "file_sha256", "load_source"]


class SourceError(ValueError):
    """The source cannot be converted (missing, unreadable, or not a tsm_tf model)."""


@dataclass
class ModelSource:
    """A loaded source model and what is known about it.

    ``model`` is a ``TSM`` or ``StreamingTSM``; ``kind`` is ``"keras"``, ``"run"``, ``"pth"`` or
    ``"preset"``; ``model_path`` the file the weights came from (hashed in ``sha256``);
    ``run_config`` the training configuration of a run folder (``config.yaml``).
    """

    model: object
    kind: str
    path: Path
    model_path: Path
    sha256: str
    class_names: list[str] | None = None
    dataset: str | None = None
    run_config: dict | None = None
    preset: object | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def stem(self) -> str:
        """A default base name for the exported files."""
        if self.kind == "run":
            return self.path.name
        if self.kind == "preset" and self.preset is not None:
            return self.preset.name
        name = self.model_path.name
        stripped = strip_checkpoint_suffix(name)
        return stripped if stripped != name else self.model_path.stem


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _load_keras(path: Path):
    import keras

    from tsm_tf.models import TSM, StreamingTSM

    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # noqa: BLE001 - keras raises many types for a bad file
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SourceError(f"Cannot load {str(path)!r} as a Keras model: {first}") from None
    if not isinstance(model, TSM | StreamingTSM):
        raise SourceError(
            f"{str(path)!r} holds a {type(model).__name__}, not a tsm_tf TSM or StreamingTSM; "
            "save a model built with tsm_tf.create_model(...)."
        )
    return model


def _run_folder(path: Path) -> tuple[Path, dict | None]:
    for name in ("best.keras", "last.keras"):
        if (path / name).is_file():
            break
    else:
        raise SourceError(
            f"{str(path)!r} is a folder without best.keras or last.keras: pass a training run "
            "folder (python -m tsm_tf.train --output-dir ...), a .keras model or a checkpoint."
        )
    config = None
    if (path / "config.yaml").is_file():
        from tsm_tf.train.config import load_yaml_config

        config = load_yaml_config(path / "config.yaml")
    return path / name, config


def _labels_for(dataset: str | None, num_classes: int) -> list[str] | None:
    if dataset == "synthetic":
        from tsm_tf.data.synthetic import SYNTHETIC_CLASSES

        names = list(SYNTHETIC_CLASSES)
    elif dataset is not None:
        from tsm_tf.weights.labels import DATASETS, load_labels

        if dataset not in DATASETS:
            return None
        names = load_labels(dataset)
    else:
        return None
    return names if len(names) == num_classes else None


def load_source(source: str | os.PathLike, *, input_size: int | None = None) -> ModelSource:
    """Load ``source``: a ``.keras`` file, a run folder, a ``.pth``/``.pth.tar`` or a preset name.

    ``input_size`` sets the frame size of a network rebuilt from a checkpoint (default 224, or
    the preset's); Keras models keep their own. Raises ``SourceError`` with a one-line
    explanation for anything that cannot be converted.
    """
    text = os.fspath(source)
    path = Path(text)
    from tsm_tf.weights.presets import PRESETS

    if path.is_dir():
        model_path, config = _run_folder(path)
        model = _load_keras(model_path)
        dataset = (config or {}).get("dataset")
        kind = "run"
        class_names, preset = None, None
    elif text.lower().endswith(".keras"):
        if not path.is_file():
            raise SourceError(f"Model {text!r} not found.")
        model_path, config, kind, preset = path, None, "keras", None
        model = _load_keras(path)
        from tsm_tf.weights.labels import read_sidecar as read_labels

        labels = read_labels(path) or {}
        class_names, dataset = labels.get("class_names"), labels.get("dataset")
    elif is_torch_checkpoint_path(text) or text in PRESETS:
        return _load_checkpoint(text, input_size)
    elif not path.exists():
        raise SourceError(
            f"Model {text!r} not found (not a file, a run folder or a preset name; presets: "
            f"{', '.join(sorted(PRESETS))})."
        )
    else:
        raise SourceError(
            f"Cannot convert {text!r}: expected a .keras model, a training run folder, a "
            "reference checkpoint (.pth / .pth.tar) or a preset name."
        )
    num_classes = int(model.tsm_config["num_classes"])
    if class_names is None:
        class_names = _labels_for(dataset, num_classes)
    return ModelSource(model=model, kind=kind, path=path, model_path=model_path,
                       sha256=file_sha256(model_path), class_names=class_names, dataset=dataset,
                       run_config=config, preset=preset)


def _load_checkpoint(text: str, input_size: int | None) -> ModelSource:
    from tsm_tf.weights.convert import build_from_state, resolve_weights_path
    from tsm_tf.weights.layouts import canonicalize
    from tsm_tf.weights.presets import PRESETS
    from tsm_tf.weights.torch_io import load_checkpoint

    try:
        checkpoint = resolve_weights_path(text)
    except FileNotFoundError as error:
        raise SourceError(str(error)) from None
    try:
        raw = load_checkpoint(checkpoint)
        state = canonicalize(raw.state)
        result = build_from_state(checkpoint, state, {"input_size": input_size})
    except ImportError as error:
        raise SourceError(f"Reading {text!r} needs PyTorch ({error}); install it with "
                          "pip install -e \".[torch]\".") from None
    except Exception as error:  # noqa: BLE001 - torch / the weight mapper raise many types
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SourceError(f"{text!r} is not a TSM checkpoint tsm_tf can convert: {first}") \
            from None
    kind = "preset" if text in PRESETS else "pth"
    return ModelSource(
        model=result.model, kind=kind, path=Path(text), model_path=Path(checkpoint),
        sha256=file_sha256(checkpoint), class_names=result.class_names, dataset=result.dataset,
        preset=result.preset, notes=list(result.notes),
    )

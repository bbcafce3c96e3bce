"""Load the model to evaluate and check it fits the dataset."""

from __future__ import annotations

import os

from tsm_tf.common.constants import is_torch_checkpoint_path
from tsm_tf.common.streaming import streaming_problem


class ModelMismatchError(ValueError):
    """The model cannot be evaluated on this dataset as it is (e.g. class count differs)."""


def load_model(path: str | os.PathLike):
    """A ``TSM`` from a ``.keras`` file or a reference PyTorch checkpoint (converted on load by
    ``tsm_tf.weights``).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: unsupported file type, or the file is not a tsm_tf TSM model.
    """
    import keras

    from tsm_tf.models import TSM

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"Model file not found: {path}. Pass a .keras file saved by tsm_tf (training writes "
            "one) or a reference checkpoint (.pth / .pth.tar)."
        )
    lower = path.lower()
    if lower.endswith(".keras"):
        model = keras.saving.load_model(path, compile=False)
    elif is_torch_checkpoint_path(path):
        model = _load_reference_checkpoint(path)
    else:
        raise ValueError(
            f"Cannot evaluate {path!r}: expected a .keras model or a reference PyTorch "
            "checkpoint (.pth / .pth.tar)."
        )
    if not isinstance(model, TSM):
        raise ValueError(
            f"{path} holds a {type(model).__name__}, not a tsm_tf TSM model; build and save it "
            "with tsm_tf.create_model(...).save(path)."
        )
    return model


def _load_reference_checkpoint(path: str):
    """Convert a reference checkpoint on load (``tsm_tf.weights``); its class names are kept
    in ``model.class_names``."""
    try:
        from tsm_tf.weights import model_from_checkpoint
    except ImportError as e:  # pragma: no cover - the weights package ships with tsm_tf
        raise ValueError(
            f"{path} is a PyTorch checkpoint and the converter (tsm_tf.weights) is missing; "
            "convert it to .keras with `python -m tsm_tf.weights.convert` first."
        ) from e
    return model_from_checkpoint(path)


def check_num_classes(model, num_classes: int, *, model_name: str, dataset_name: str) -> None:
    """Raise :class:`ModelMismatchError` when the classifier size differs from the dataset's."""
    have = int(model.tsm_config["num_classes"])
    if have != int(num_classes):
        raise ModelMismatchError(
            f"Model {model_name} has {have} classes but dataset {dataset_name!r} has "
            f"{num_classes}. A classifier cannot be evaluated on another label set: fine-tune "
            f"it on {dataset_name!r} first (python -m tsm_tf.train --dataset {dataset_name} "
            f"--weights {model_name} --reset-classifier ..., which replaces the {have}-way "
            f"classifier by a {num_classes}-way one), or pass the dataset the model was "
            "trained on (--dataset, or --num-classes for a custom one)."
        )


def check_input(model, *, early: bool = False) -> None:
    """Early recognition needs a causal model: uni-directional shift (or none), no temporal
    pooling, no non-local blocks."""
    if not early:
        return
    problem = streaming_problem(model.tsm_config)
    if problem:
        raise ModelMismatchError(
            f"Early recognition needs an online model, whose per-frame predictions use only "
            f"past frames: {problem}. A TSN model (shift='none') also qualifies.")

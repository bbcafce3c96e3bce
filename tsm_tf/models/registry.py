"""Model registry and factory: ``create_model("tsm_resnet50", num_classes=400, ...)``.

Names are ``{family}_{arch}``: ``tsm_`` (bi-directional shift), ``tsm_online_``
(uni-directional shift, streamable), ``tsn_`` (no shift, the 2D baseline). Keyword arguments
override the defaults, so ``create_model("tsm_resnet50", shift="none")`` is TSN too.
"""

from __future__ import annotations

import os

import keras

from tsm_tf.models.tsm import ARCHITECTURES, TSM

FAMILIES = {"tsm": "bidirectional", "tsm_online": "unidirectional", "tsn": "none"}
_MODEL_NAMES = {
    f"{family}_{arch}": (arch, shift)
    for family, shift in FAMILIES.items()
    for arch in ARCHITECTURES
}


def list_models() -> list[str]:
    """Names accepted by ``create_model``."""
    return sorted(_MODEL_NAMES)


def create_model(name: str, *, weights: str | os.PathLike | None = None, **kwargs) -> TSM:
    """Build a registered model; ``weights`` loads a ``.keras`` / ``.weights.h5`` file, or a
    PyTorch checkpoint (``.pth`` / ``.pth.tar``, or a preset name of ``tsm_tf.weights.PRESETS``).

    With a PyTorch checkpoint, the architecture options (classes, frames, shift, non-local,
    ...) come from the checkpoint's preset, file name and keys, so
    ``create_model("tsm_resnet50", weights="TSM_kinetics_RGB_resnet50_..._segment8_e50.pth")``
    needs no other argument; keyword arguments still override. The model then has a
    ``class_names`` attribute (``None`` when the dataset is unknown).

    Example:
        >>> model = create_model("tsm_mobilenetv2", num_classes=27, num_segments=8)
        >>> model.tsm_config["shift"]
        'bidirectional'
    """
    if name not in _MODEL_NAMES:
        raise ValueError(
            f"Unknown model name {name!r}. Accepted names: {', '.join(list_models())}."
        )
    arch, shift = _MODEL_NAMES[name]
    if weights is not None:
        from tsm_tf.weights.convert import is_torch_weights, model_from_checkpoint

        if is_torch_weights(weights):
            return model_from_checkpoint(
                weights, model_name=name, arch=arch, family_shift=shift, **kwargs
            )
    kwargs.setdefault("shift", shift)
    model = TSM(arch=arch, **kwargs)
    if weights is not None:
        load_weights_into(model, weights)
    return model


def load_weights_into(model: keras.Model, path: str | os.PathLike) -> None:
    """Load weights saved by Keras (``.keras`` model or ``.weights.h5``) into ``model``."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Weights file not found: {path}")
    if path.endswith(".weights.h5"):
        model.load_weights(path)
    elif path.endswith(".keras"):
        from tsm_tf.models.tsm import copy_weights_by_name

        copy_weights_by_name(keras.saving.load_model(path, compile=False), model)
    else:
        raise ValueError(
            f"Cannot load weights from {path!r}: expected a .keras or .weights.h5 file "
            "(convert PyTorch checkpoints with `python -m tsm_tf.weights.convert`)."
        )

"""Copy canonical PyTorch parameters into a Keras TSM, all or nothing.

Keras layer names are the PyTorch module paths with ``.`` -> ``_`` (``layer1.0.conv1`` ->
``layer1_0_conv1``), so each weighted Keras layer has exactly one PyTorch module. Every
layer's values are converted and shape-checked first; only when the whole model matches are
they set. A mismatch raises ``WeightMismatchError`` listing the missing keys, unexpected keys
and shape mismatches: never a silent partial load.
"""

from __future__ import annotations

import keras
import numpy as np

from tsm_tf.layers import StatefulTemporalShift

_BN_PARAMS = ("weight", "bias", "running_mean", "running_var")


class WeightMismatchError(ValueError):
    """The checkpoint's parameters do not fit the model's layers."""


def _conv_kernel(weight: np.ndarray) -> np.ndarray:
    """``[O, I, kh, kw]`` (or Conv3d ``[O, I, 1, kh, kw]``) -> ``[kh, kw, I, O]``."""
    if weight.ndim == 5:
        if weight.shape[2] != 1:
            raise ValueError(f"Conv3d weight with temporal kernel {weight.shape[2]} != 1")
        weight = weight[:, :, 0]
    return np.transpose(weight, (2, 3, 1, 0))


def _depthwise_kernel(weight: np.ndarray) -> np.ndarray:
    """``[C, 1, kh, kw]`` -> ``[kh, kw, C, 1]``."""
    return np.transpose(weight, (2, 3, 0, 1))


def _torch_shape(kind: str, keras_shape: tuple, param: str) -> tuple:
    """The PyTorch shape a Keras weight of ``keras_shape`` corresponds to (for messages)."""
    if param == "weight" and kind == "conv":
        kh, kw, i, o = keras_shape
        return (o, i, kh, kw)
    if param == "weight" and kind == "depthwise":
        kh, kw, c, _ = keras_shape
        return (c, 1, kh, kw)
    if param == "weight" and kind == "dense":
        return tuple(reversed(keras_shape))
    return tuple(keras_shape)


def _layer_spec(layer) -> tuple[str, list[str]]:
    """(kind, PyTorch parameter names in Keras weight order) for a weighted layer."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return "depthwise", ["weight"] + (["bias"] if layer.use_bias else [])
    if isinstance(layer, keras.layers.Conv2D):
        return "conv", ["weight"] + (["bias"] if layer.use_bias else [])
    if isinstance(layer, keras.layers.BatchNormalization):
        return "bn", list(_BN_PARAMS)
    if isinstance(layer, keras.layers.Dense):
        return "dense", ["weight", "bias"]
    raise TypeError(f"No PyTorch mapping for layer {layer.name!r} ({type(layer).__name__}).")


def _convert(kind: str, param: str, value: np.ndarray) -> np.ndarray:
    if param != "weight":
        return value
    if kind == "conv":
        return _conv_kernel(value)
    if kind == "depthwise":
        return _depthwise_kernel(value)
    if kind == "dense":
        return value.T
    return value


def _summary(label: str, keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit]) + (", ..." if len(keys) > limit else "")
    return f"{len(keys)} {label}: {shown}"


def assign_weights(
    model: keras.Model,
    params: dict[str, np.ndarray],
    *,
    skip_layers: tuple[str, ...] = (),
    source: str = "checkpoint",
) -> int:
    """Set every weighted layer of ``model`` (except ``skip_layers``) from ``params``.

    ``params`` maps canonical PyTorch names (``layer1.0.conv1.weight``) to arrays. Returns the
    number of layers set. Raises ``WeightMismatchError`` (nothing is set) on any missing key,
    unexpected key or shape mismatch.
    """
    remaining = dict(params)
    for name in skip_layers:
        for key in [k for k in remaining if k.startswith(name + ".")]:
            del remaining[key]
    modules = {}
    for key in params:
        path = key.rsplit(".", 1)[0]
        modules[path.replace(".", "_")] = path
    updates: list[tuple[keras.layers.Layer, list[np.ndarray]]] = []
    missing: list[str] = []
    mismatched: list[str] = []
    for layer in model.layers:
        if not layer.weights or isinstance(layer, StatefulTemporalShift):
            continue
        if layer.name in skip_layers:
            continue
        # Layer names are module paths with "." -> "_" (no module name has an underscore).
        module = modules.get(layer.name, layer.name.replace("_", "."))
        kind, names = _layer_spec(layer)
        values = []
        for param, variable in zip(names, layer.weights, strict=True):
            key = f"{module}.{param}"
            if key not in remaining:
                missing.append(key)
                continue
            value = _convert(kind, param, remaining.pop(key))
            if tuple(value.shape) != tuple(variable.shape):
                expected = _torch_shape(kind, tuple(variable.shape), param)
                got = params[key].shape
                mismatched.append(f"{key}: checkpoint {tuple(got)}, model needs {expected}")
                continue
            values.append(value.astype(variable.dtype))
        if len(values) == len(names):
            updates.append((layer, values))
    unexpected = sorted(remaining)
    if missing or unexpected or mismatched:
        lines = [f"The {source} does not fit model {model.name!r}; nothing was loaded."]
        if missing:
            lines.append(_summary("missing keys (the model has them, the checkpoint not)",
                                  missing))
        if unexpected:
            lines.append(_summary("unexpected keys (in the checkpoint, not in the model)",
                                  unexpected))
        if mismatched:
            lines.append(_summary("shape mismatches", mismatched))
        lines.append(
            "Check the architecture options (--arch, --num-classes, non-local / temporal "
            "pool) or let them be inferred from the checkpoint."
        )
        raise WeightMismatchError("\n".join(lines))
    for layer, values in updates:
        layer.set_weights(values)
    return len(updates)

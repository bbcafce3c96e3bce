"""Model cost: parameters and multiply-adds (the paper's "FLOPs") per clip.

Counted analytically from layer shapes, so the figures do not depend on the machine:
convolutions, depthwise convolutions, fully-connected layers and the non-local attention
matmuls. The shift, pooling, BatchNorm and additions are not counted (the paper's convention:
the shift adds zero FLOPs).
"""

from __future__ import annotations

import keras
import numpy as np

from tsm_tf.layers import NonLocalAttention


def _static(shape, what: str) -> tuple[int, ...]:
    if any(dim is None for dim in shape):
        raise ValueError(f"{what} has a dynamic shape {tuple(shape)}; build with batch_size=1.")
    return tuple(int(d) for d in shape)


def layer_macs(layer: keras.layers.Layer) -> int:
    """Multiply-adds of one call of ``layer`` at the shapes it was built with."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        out = _static(layer.output.shape, layer.name)
        kh, kw = layer.kernel_size
        return int(np.prod(out)) * kh * kw
    if isinstance(layer, keras.layers.Conv2D):
        out = _static(layer.output.shape, layer.name)
        kh, kw = layer.kernel_size
        in_channels = layer.input.shape[-1] // layer.groups
        return int(np.prod(out)) * kh * kw * in_channels
    if isinstance(layer, keras.layers.Dense):
        out = _static(layer.output.shape, layer.name)
        return int(np.prod(out)) * int(layer.input.shape[-1])
    if isinstance(layer, NonLocalAttention):
        theta, phi, _ = (_static(t.shape, layer.name) for t in layer.input)
        clips = theta[0] // layer.num_segments
        queries = layer.num_segments * theta[1] * theta[2]
        keys = layer.num_segments * phi[1] * phi[2]
        return 2 * clips * queries * keys * theta[3]  # scores, then the weighted sum
    return 0


def count_macs(model: keras.Model) -> int:
    """Multiply-adds of one forward pass of ``model`` at its (static) input shape."""
    return sum(layer_macs(layer) for layer in model.layers)


def model_cost(model) -> dict:
    """``{"params": trainable parameters, "macs": multiply-adds per clip}`` of a TSM model.

    Example:
        >>> from tsm_tf.models import create_model
        >>> cost = model_cost(create_model("tsm_resnet50", num_classes=400))
        >>> round(cost["macs"] / 1e9)  # 33G for 8 frames at 224x224, as in the paper
        33
    """
    from tsm_tf.models import TSM

    single = model
    if isinstance(model, TSM) and model.tsm_config["batch_size"] != 1:
        single = TSM(**{**model.tsm_config, "batch_size": 1})
    params = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return {"params": params, "macs": count_macs(single)}

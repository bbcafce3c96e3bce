"""Building blocks shared by the backbones: PyTorch-compatible convolutions, BatchNorm, the
shift placement policy and the non-local block.

Layer names follow the reference (torchvision) parameter names with ``.`` replaced by ``_``
(``layer1.0.conv1`` -> ``layer1_0_conv1``), so ported weights map one to one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras

from tsm_tf.layers import (
    NonLocalAttention,
    StatefulTemporalShift,
    StreamingTemporalShift,
    TemporalShift,
)
from tsm_tf.layers.shift import shift_fold

SHIFT_MODES = ("bidirectional", "unidirectional", "none")
SHIFT_PLACES = ("blockres", "block")

# Layer names other modules rely on (weight conversion, training policies, class activation
# maps, early recognition): the global pooling, the classifier and the per-frame logits.
POOL_LAYER = "avgpool"
CLASSIFIER_LAYER = "fc"
FRAME_LOGITS_LAYER = "frame_logits"

# PyTorch's defaults: BatchNorm eps 1e-5 and momentum 0.1 (Keras counts momentum the other way).
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9


def conv_initializer() -> keras.initializers.Initializer:
    """PyTorch's ResNet initialisation (Kaiming normal, fan_out), a fresh instance per layer.

    One shared unseeded instance would give every kernel of the same shape identical values
    and draw its seed at import time, so ``keras.utils.set_random_seed`` would not make the
    initial weights reproducible. A new instance per layer draws its seed from Python's
    ``random``, which ``set_random_seed`` seeds.
    """
    return keras.initializers.VarianceScaling(scale=2.0, mode="fan_out", distribution="normal")


def state_name(shift_layer_name: str) -> str:
    """Name of the streaming cache of a shift layer, as it appears in model and TFLite
    signatures: ``"state_" + layer name``, e.g. ``state_layer1_0_shift``."""
    return f"state_{shift_layer_name}"


def conv2d(x, filters: int, kernel: int, stride: int = 1, *, name: str, use_bias: bool = False,
           depthwise: bool = False):
    """Convolution padded like PyTorch's ``padding=kernel // 2``.

    Stride 1 with an odd kernel pads symmetrically under ``"same"`` too; for stride 2 TF's
    ``"same"`` pads asymmetrically, so pad explicitly and convolve ``"valid"``.
    """
    pad = kernel // 2
    padding = "same" if pad else "valid"
    if pad and stride > 1:
        x = keras.layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
        padding = "valid"
    if depthwise:
        return keras.layers.DepthwiseConv2D(
            kernel, strides=stride, padding=padding, use_bias=use_bias,
            depthwise_initializer=conv_initializer(), name=name,
        )(x)
    return keras.layers.Conv2D(
        filters, kernel, strides=stride, padding=padding, use_bias=use_bias,
        kernel_initializer=conv_initializer(), name=name,
    )(x)


def batch_norm(x, *, name: str, zero_init: bool = False):
    init = "zeros" if zero_init else "ones"
    return keras.layers.BatchNormalization(
        epsilon=BN_EPSILON, momentum=BN_MOMENTUM, gamma_initializer=init, name=name
    )(x)


@dataclass
class ShiftPlan:
    """How a backbone inserts the shift, and (for streaming models) the caches it creates.

    ``apply(x, name, num_segments)`` returns ``x`` shifted by the layer the plan calls for:
    ``TemporalShift`` offline, ``StreamingTemporalShift`` with a named cache input and output,
    or ``StatefulTemporalShift``.
    """

    shift: str = "bidirectional"
    shift_div: int = 8
    shift_place: str = "blockres"
    streaming: bool = False
    stateful: bool = False
    batch_size: int = 1
    frames_per_step: int = 1
    state_inputs: dict = field(default_factory=dict)
    state_outputs: dict = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return self.shift != "none"

    def apply(self, x, name: str, num_segments: int):
        if not self.streaming:
            return TemporalShift(num_segments, self.shift_div, self.shift, name=name)(x)
        if self.stateful:
            return StatefulTemporalShift(
                self.shift_div, self.batch_size, self.frames_per_step, name=name
            )(x)
        fold = shift_fold(x.shape[-1], self.shift_div)
        key = state_name(name)
        cache = keras.Input(
            shape=(x.shape[1], x.shape[2], fold), batch_size=self.batch_size, name=key
        )
        layer = StreamingTemporalShift(self.shift_div, self.frames_per_step, name=name)
        shifted, new_cache = layer(x, cache)
        self.state_inputs[key] = cache
        self.state_outputs[key] = new_cache
        return shifted

    def split(self, x, name: str, num_segments: int | None):
        """Inputs of a block's residual branch and shortcut, with the shift placed.

        ``num_segments=None`` means this block is not shifted.
        Residual shift ("blockres"): only the residual branch sees the shifted tensor.
        In-place shift ("block"): the block input itself is shifted, shortcut included.
        """
        if num_segments is None or not self.enabled:
            return x, x
        shifted = self.apply(x, f"{name}_shift", num_segments)
        return (shifted, shifted) if self.shift_place == "block" else (shifted, x)


def non_local_block(x, num_segments: int, *, name: str):
    """Embedded-Gaussian non-local block (inter channels C/2, keys and values max-pooled 2x2
    in space, output BatchNorm initialised to zero so the block starts as the identity)."""
    channels = x.shape[-1]
    inter = channels // 2

    def conv1x1(tensor, filters, layer_name):
        return keras.layers.Conv2D(filters, 1, use_bias=True, name=layer_name)(tensor)

    values = keras.layers.MaxPooling2D(2, name=f"{name}_g_1")(conv1x1(x, inter, f"{name}_g_0"))
    queries = conv1x1(x, inter, f"{name}_theta")
    keys = keras.layers.MaxPooling2D(2, name=f"{name}_phi_1")(conv1x1(x, inter, f"{name}_phi_0"))
    attended = NonLocalAttention(num_segments, name=f"{name}_attention")(queries, keys, values)
    out = conv1x1(attended, channels, f"{name}_W_0")
    out = batch_norm(out, name=f"{name}_W_1", zero_init=True)
    return keras.layers.Add(name=f"{name}_add")([out, x])

"""MobileNetV2 backbone in the reference TSM block layout (``features.N.conv.K``), with the
shift before the 1x1 expansion conv of every inverted-residual block that has both an
expansion and a residual connection (10 blocks at width 1.0)."""

from __future__ import annotations

import math

import keras

from tsm_tf.models.blocks import ShiftPlan, batch_norm, conv2d

# (expansion t, output channels c, repeats n, first stride s)
INVERTED_RESIDUAL_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round up to a multiple of ``divisor`` (the reference's channel rounding)."""
    return int(math.ceil(value / divisor) * divisor)


def mobilenet_v2_feature_channels(width_mult: float = 1.0) -> int:
    return make_divisible(1280 * width_mult) if width_mult > 1.0 else 1280


def _relu6(x, name):
    return keras.layers.ReLU(max_value=6.0, name=name)(x)


def inverted_residual(x, out_channels, stride, expansion, name, plan, num_segments):
    in_channels = x.shape[-1]
    use_residual = stride == 1 and in_channels == out_channels
    hidden = int(in_channels * expansion)
    if expansion == 1:
        y = conv2d(x, hidden, 3, stride, name=f"{name}_conv_0", depthwise=True)
        y = _relu6(batch_norm(y, name=f"{name}_conv_1"), f"{name}_conv_2")
        y = conv2d(y, out_channels, 1, name=f"{name}_conv_3")
        y = batch_norm(y, name=f"{name}_conv_4")
        identity = x
    else:
        shifted = num_segments if use_residual else None
        residual, identity = plan.split(x, name, shifted)
        y = conv2d(residual, hidden, 1, name=f"{name}_conv_0")
        y = _relu6(batch_norm(y, name=f"{name}_conv_1"), f"{name}_conv_2")
        y = conv2d(y, hidden, 3, stride, name=f"{name}_conv_3", depthwise=True)
        y = _relu6(batch_norm(y, name=f"{name}_conv_4"), f"{name}_conv_5")
        y = conv2d(y, out_channels, 1, name=f"{name}_conv_6")
        y = batch_norm(y, name=f"{name}_conv_7")
    if use_residual:
        y = keras.layers.Add(name=f"{name}_add")([y, identity])
    return y


def mobilenet_v2_backbone(frames, plan: ShiftPlan, num_segments: int, *, width_mult: float = 1.0):
    """Frames ``[N*T, H, W, 3]`` -> features ``[N*T, H/32, W/32, 1280]`` and ``T``."""
    channels = int(32 * width_mult)
    x = conv2d(frames, channels, 3, 2, name="features_0_0")
    x = _relu6(batch_norm(x, name="features_0_1"), "features_0_2")
    index = 1
    for expansion, base_channels, repeats, first_stride in INVERTED_RESIDUAL_SETTINGS:
        out_channels = base_channels
        if expansion > 1:
            out_channels = make_divisible(base_channels * width_mult)
        for repeat in range(repeats):
            stride = first_stride if repeat == 0 else 1
            x = inverted_residual(
                x, out_channels, stride, expansion, f"features_{index}", plan, num_segments
            )
            index += 1
    x = conv2d(x, mobilenet_v2_feature_channels(width_mult), 1, name=f"features_{index}_0")
    x = _relu6(batch_norm(x, name=f"features_{index}_1"), f"features_{index}_2")
    return x, num_segments

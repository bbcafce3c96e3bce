"""ResNet backbones (torchvision layout, v1.5: stride on the 3x3 conv) with the temporal shift
inserted the reference's way: before the first conv of a block's residual branch."""

from __future__ import annotations

import keras

from tsm_tf.layers import TemporalMaxPool
from tsm_tf.models.blocks import ShiftPlan, batch_norm, conv2d, non_local_block

STAGE_WIDTHS = (64, 128, 256, 512)
# name -> (block type, blocks per stage, stage widths; the stem has the first stage's width)
RESNET_LAYOUTS = {
    "resnet18": ("basic", (2, 2, 2, 2), STAGE_WIDTHS),
    "resnet34": ("basic", (3, 4, 6, 3), STAGE_WIDTHS),
    "resnet50": ("bottleneck", (3, 4, 6, 3), STAGE_WIDTHS),
    "resnet101": ("bottleneck", (3, 4, 23, 3), STAGE_WIDTHS),
    # Not from the paper: one basic block per stage, 16-128 channels. For tests and the
    # embedded synthetic demo, where it trains from scratch in minutes on 2 CPU cores.
    "resnet_tiny": ("basic", (1, 1, 1, 1), (16, 32, 64, 128)),
}
# (stage index, block index) followed by a non-local block: layer2 blocks 0, 2; layer3 0, 2, 4.
NON_LOCAL_POSITIONS = frozenset({(1, 0), (1, 2), (2, 0), (2, 2), (2, 4)})


def default_shift_every(arch: str, shift_place: str = "blockres") -> int:
    """The reference's residual shift covers every block, or every other block when layer3
    has >= 23 blocks; its in-place shift covers every block."""
    if shift_place != "blockres":
        return 1
    return 2 if RESNET_LAYOUTS[arch][1][2] >= 23 else 1


def _relu(x, name):
    return keras.layers.ReLU(name=name)(x)


def _shortcut(x, channels, stride, name):
    if stride == 1 and x.shape[-1] == channels:
        return x
    x = conv2d(x, channels, 1, stride, name=f"{name}_downsample_0")
    return batch_norm(x, name=f"{name}_downsample_1")


def basic_block(x, width, stride, name, plan, num_segments):
    residual, identity = plan.split(x, name, num_segments)
    y = conv2d(residual, width, 3, stride, name=f"{name}_conv1")
    y = _relu(batch_norm(y, name=f"{name}_bn1"), f"{name}_relu1")
    y = conv2d(y, width, 3, name=f"{name}_conv2")
    y = batch_norm(y, name=f"{name}_bn2")
    y = keras.layers.Add(name=f"{name}_add")([y, _shortcut(identity, width, stride, name)])
    return _relu(y, f"{name}_out")


def bottleneck_block(x, width, stride, name, plan, num_segments):
    residual, identity = plan.split(x, name, num_segments)
    y = conv2d(residual, width, 1, name=f"{name}_conv1")
    y = _relu(batch_norm(y, name=f"{name}_bn1"), f"{name}_relu1")
    y = conv2d(y, width, 3, stride, name=f"{name}_conv2")
    y = _relu(batch_norm(y, name=f"{name}_bn2"), f"{name}_relu2")
    y = conv2d(y, width * 4, 1, name=f"{name}_conv3")
    y = batch_norm(y, name=f"{name}_bn3")
    y = keras.layers.Add(name=f"{name}_add")([y, _shortcut(identity, width * 4, stride, name)])
    return _relu(y, f"{name}_out")


def resnet_backbone(
    frames,
    arch: str,
    plan: ShiftPlan,
    num_segments: int,
    *,
    shift_every: int,
    temporal_pool: bool = False,
    non_local: bool = False,
):
    """Frames ``[N*T, H, W, 3]`` -> features ``[N*T', H/32, W/32, C]`` and ``T'``.

    ``T' = ceil(T / 2)`` with ``temporal_pool`` (max-pool over time after layer1), else ``T``.
    """
    block_type, stage_blocks, stage_widths = RESNET_LAYOUTS[arch]
    block_fn = bottleneck_block if block_type == "bottleneck" else basic_block

    x = conv2d(frames, stage_widths[0], 7, 2, name="conv1")
    x = _relu(batch_norm(x, name="bn1"), "relu")
    # Zero padding equals PyTorch's -inf here: the input is post-ReLU (non-negative).
    x = keras.layers.ZeroPadding2D(1, name="maxpool_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="maxpool")(x)

    segments = num_segments
    for stage, (blocks, width) in enumerate(zip(stage_blocks, stage_widths, strict=True)):
        if stage == 1 and temporal_pool:
            pool = TemporalMaxPool(segments, name="temporal_pool")
            x = pool(x)
            segments = pool.output_segments
        for index in range(blocks):
            name = f"layer{stage + 1}_{index}"
            stride = 2 if index == 0 and stage > 0 else 1
            shifted = plan.enabled and index % shift_every == 0
            x = block_fn(x, width, stride, name, plan, segments if shifted else None)
            if non_local and (stage, index) in NON_LOCAL_POSITIONS:
                x = non_local_block(x, segments, name=f"{name}_nl")
    return x, segments

"""Layers that move between clips and frames: fold time into the batch, pool over time,
average the per-frame predictions (the TSN "avg consensus")."""

from __future__ import annotations

import keras
from keras import ops

from tsm_tf.layers.shift import check_num_segments


@keras.saving.register_keras_serializable(package="tsm_tf")
class FoldTime(keras.layers.Layer):
    """``[N, T, H, W, C] -> [N*T, H, W, C]``: frames of a clip become consecutive batch rows.

    Example:
        >>> tuple(FoldTime()(keras.ops.ones((2, 8, 32, 32, 3))).shape)
        (16, 32, 32, 3)
    """

    def call(self, inputs):
        return ops.reshape(inputs, (-1,) + tuple(inputs.shape[2:]))

    def compute_output_shape(self, input_shape):
        batch, frames = input_shape[0], input_shape[1]
        folded = None if batch is None or frames is None else batch * frames
        return (folded,) + tuple(input_shape[2:])


@keras.saving.register_keras_serializable(package="tsm_tf")
class UnfoldTime(keras.layers.Layer):
    """``[N*T, ...] -> [N, T, ...]``: the inverse of ``FoldTime``.

    Example:
        >>> tuple(UnfoldTime(num_segments=8)(keras.ops.ones((16, 10))).shape)
        (2, 8, 10)
    """

    def __init__(self, num_segments: int, **kwargs):
        super().__init__(**kwargs)
        check_num_segments(num_segments)
        self.num_segments = num_segments

    def call(self, inputs):
        return ops.reshape(inputs, (-1, self.num_segments) + tuple(inputs.shape[1:]))

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        batch = None if batch is None else batch // self.num_segments
        return (batch, self.num_segments) + tuple(input_shape[1:])

    def get_config(self):
        config = super().get_config()
        config.update(num_segments=self.num_segments)
        return config


@keras.saving.register_keras_serializable(package="tsm_tf")
class TemporalMaxPool(keras.layers.Layer):
    """Max-pool over time, kernel 3, stride 2, one frame of padding each side: T -> ceil(T/2).

    Input and output are frames folded into the batch, ``[N*T, H, W, C] -> [N*T', H, W, C]``.
    The padding is zeros, which equals PyTorch's ``-inf`` padding because the input follows a
    ReLU (non-negative); the windows are those of the reference (frames -1..1, 1..3, ...).

    Example:
        >>> pool = TemporalMaxPool(num_segments=8)
        >>> tuple(pool(keras.ops.ones((16, 7, 7, 4))).shape)
        (8, 7, 7, 4)
    """

    def __init__(self, num_segments: int, **kwargs):
        super().__init__(**kwargs)
        check_num_segments(num_segments)
        self.num_segments = num_segments

    @property
    def output_segments(self) -> int:
        return (self.num_segments - 1) // 2 + 1

    def call(self, inputs):
        shape = ops.shape(inputs)
        height, width, channels = shape[1], shape[2], inputs.shape[-1]
        # [N*T, H, W, C] -> [N, T, H*W, C]
        clips = ops.reshape(inputs, (-1, self.num_segments, height * width, channels))
        clips = ops.pad(clips, ((0, 0), (1, 1), (0, 0), (0, 0)))  # [N, T+2, H*W, C]
        pooled = ops.max_pool(clips, pool_size=(3, 1), strides=(2, 1), padding="valid")
        return ops.reshape(pooled, (-1, height, width, channels))  # [N*T', H, W, C]

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        if batch is not None:
            batch = batch // self.num_segments * self.output_segments
        return (batch,) + tuple(input_shape[1:])

    def get_config(self):
        config = super().get_config()
        config.update(num_segments=self.num_segments)
        return config


@keras.saving.register_keras_serializable(package="tsm_tf")
class AverageConsensus(keras.layers.Layer):
    """Average per-frame predictions ``[N, T, K]`` over time: ``[N, K]`` (TSN's avg consensus).

    Example:
        >>> tuple(AverageConsensus()(keras.ops.ones((2, 8, 10))).shape)
        (2, 10)
    """

    def call(self, inputs):
        return ops.mean(inputs, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

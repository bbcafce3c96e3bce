"""Temporal shift: offline (whole clip) and streaming (one frame at a time).

Conventions (those of the reference implementation, so its checkpoints port exactly):

* Activations are ``[N*T, H, W, C]``: the T frames of a clip are folded into the batch,
  T-major inside each clip (rows ``0..T-1`` are clip 0).
* ``fold = C // shift_div``.
* Bi-directional: channels ``[0, fold)`` of frame t take frame t+1, channels
  ``[fold, 2*fold)`` take frame t-1, the rest is unchanged.
* Uni-directional (online): channels ``[0, fold)`` of frame t take frame t-1, the rest is
  unchanged (the reference online demo's cache layout).
* Clip boundaries are zero-filled, never circular.

Everything is written with reshape, slice, pad and concatenate so that it converts to TFLite
builtins, and to an all-int8 model (no ``zeros_like``, see the toolchain facts).
"""

from __future__ import annotations

import keras
from keras import ops

SHIFT_DIRECTIONS = ("bidirectional", "unidirectional")


def check_shift_args(shift_div: int, direction: str = "bidirectional") -> None:
    """Raise ``ValueError`` for a ``shift_div`` or ``direction`` the shift cannot use."""
    if isinstance(shift_div, bool) or not isinstance(shift_div, int) or shift_div < 2:
        raise ValueError(
            "`shift_div` must be an integer >= 2 (the shift moves C // shift_div channels each "
            f"way; 8 is the paper's default). Received: shift_div={shift_div!r}"
        )
    if direction not in SHIFT_DIRECTIONS:
        raise ValueError(
            f"`direction` must be one of {SHIFT_DIRECTIONS}. Received: direction={direction!r}"
        )


def check_num_segments(num_segments: int) -> None:
    if isinstance(num_segments, bool) or not isinstance(num_segments, int) or num_segments < 1:
        raise ValueError(
            "`num_segments` (frames per clip, T) must be a positive integer. "
            f"Received: num_segments={num_segments!r}"
        )


def shift_fold(channels: int, shift_div: int) -> int:
    """Channels moved in each direction: ``channels // shift_div``."""
    return channels // shift_div


def temporal_shift(x, num_segments: int, shift_div: int = 8, direction: str = "bidirectional"):
    """Shift part of the channels of ``x`` ``[N*T, H, W, C]`` along time (see module doc)."""
    channels = x.shape[-1]
    fold = shift_fold(channels, shift_div)
    if fold == 0:  # fewer channels than shift_div: nothing to move.
        return x
    batch = x.shape[0]
    if batch is not None and batch % num_segments != 0:
        raise ValueError(
            f"The batch dimension ({batch}) of a TemporalShift input must be a multiple of "
            f"`num_segments` ({num_segments}): frames are folded into the batch as [N*T, H, W, C]."
        )
    dynamic_shape = ops.shape(x)
    height, width = dynamic_shape[1], dynamic_shape[2]
    # [N*T, H, W, C] -> [N, T, H*W, C]: rank 4 keeps Edge TPU's rank rules for N = 1.
    clips = ops.reshape(x, (-1, num_segments, height * width, channels))
    from_past = ((0, 0), (1, 0), (0, 0), (0, 0))  # frame t gets t-1; frame 0 gets zeros
    from_future = ((0, 0), (0, 1), (0, 0), (0, 0))  # frame t gets t+1; frame T-1 gets zeros
    if direction == "bidirectional":
        parts = [
            ops.pad(clips[:, 1:, :, :fold], from_future),
            ops.pad(clips[:, :-1, :, fold : 2 * fold], from_past),
            clips[:, :, :, 2 * fold :],
        ]
    else:
        parts = [ops.pad(clips[:, :-1, :, :fold], from_past), clips[:, :, :, fold:]]
    shifted = ops.concatenate(parts, axis=-1)  # [N, T, H*W, C]
    return ops.reshape(shifted, (-1, height, width, channels))  # [N*T, H, W, C]


def streaming_shift(x, cache, shift_div: int = 8, num_frames: int = 1):
    """The uni-directional shift for the next ``num_frames`` frames, with an explicit cache.

    Args:
        x: activations of the next frames, ``[B*K, H, W, C]`` with ``K = num_frames``
            (``[B, H, W, C]`` for one frame at a time).
        cache: channels ``[0, fold)`` of the frame before them, ``[B, H, W, fold]``
            (zeros before the first frame of a video).
        shift_div: as in ``TemporalShift``.
        num_frames: K, frames per step (1 for frame-by-frame streaming).

    Returns:
        ``(y, new_cache)``: ``y`` equals the offline uni-directional shift of the whole video
        restricted to these frames; ``new_cache`` holds channels ``[0, fold)`` of the last frame.
    """
    channels = x.shape[-1]
    fold = shift_fold(channels, shift_div)
    if fold == 0:
        return x, cache
    if num_frames == 1:  # the common case, kept to two ops for TFLite
        return ops.concatenate([cache, x[..., fold:]], axis=-1), x[..., :fold]
    dynamic_shape = ops.shape(x)
    height, width = dynamic_shape[1], dynamic_shape[2]
    clips = ops.reshape(x, (-1, num_frames, height * width, channels))  # [B, K, H*W, C]
    previous = ops.reshape(cache, (-1, 1, height * width, fold))  # [B, 1, H*W, fold]
    past = ops.concatenate([previous, clips[:, :-1, :, :fold]], axis=1)  # [B, K, H*W, fold]
    shifted = ops.concatenate([past, clips[:, :, :, fold:]], axis=-1)  # [B, K, H*W, C]
    new_cache = ops.reshape(clips[:, -1, :, :fold], (-1, height, width, fold))  # [B, H, W, fold]
    return ops.reshape(shifted, (-1, height, width, channels)), new_cache


@keras.saving.register_keras_serializable(package="tsm_tf")
class TemporalShift(keras.layers.Layer):
    """Temporal shift over frames folded into the batch (no parameters, no FLOPs).

    Args:
        num_segments: frames per clip, T. The batch must be a multiple of it.
        shift_div: ``C // shift_div`` channels move in each direction (default 8: 1/8
            forward, 1/8 backward, the paper's best setting).
        direction: ``"bidirectional"`` (offline models) or ``"unidirectional"`` (past only;
            models that can run online frame by frame).

    Example:
        >>> shift = TemporalShift(num_segments=8)
        >>> y = shift(keras.ops.ones((2 * 8, 7, 7, 64)))  # 2 clips of 8 frames
        >>> tuple(y.shape)
        (16, 7, 7, 64)
    """

    def __init__(
        self,
        num_segments: int,
        shift_div: int = 8,
        direction: str = "bidirectional",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_num_segments(num_segments)
        check_shift_args(shift_div, direction)
        self.num_segments = num_segments
        self.shift_div = shift_div
        self.direction = direction

    def call(self, inputs):
        return temporal_shift(inputs, self.num_segments, self.shift_div, self.direction)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            num_segments=self.num_segments, shift_div=self.shift_div, direction=self.direction
        )
        return config


@keras.saving.register_keras_serializable(package="tsm_tf")
class StreamingTemporalShift(keras.layers.Layer):
    """Uni-directional shift for the next frame(s), cache passed in and out:
    ``(x, cache) -> (y, new_cache)``. ``num_frames`` frames per call (default 1).

    This is the form TFLite, the Edge TPU and the Android app use: the cache is an ordinary
    model input and output, so it survives into the TFLite signature under a stable name.

    Example:
        >>> layer = StreamingTemporalShift(shift_div=8)
        >>> frame = keras.ops.ones((1, 7, 7, 64))
        >>> y, cache = layer(frame, keras.ops.zeros((1, 7, 7, 8)))
        >>> tuple(y.shape), tuple(cache.shape)
        ((1, 7, 7, 64), (1, 7, 7, 8))
    """

    def __init__(self, shift_div: int = 8, num_frames: int = 1, **kwargs):
        super().__init__(**kwargs)
        check_shift_args(shift_div)
        check_num_segments(num_frames)
        self.shift_div = shift_div
        self.num_frames = num_frames

    def call(self, frame, cache):
        return streaming_shift(frame, cache, self.shift_div, self.num_frames)

    def compute_output_shape(self, frame_shape, cache_shape):
        return tuple(frame_shape), tuple(cache_shape)

    def get_config(self):
        config = super().get_config()
        config.update(shift_div=self.shift_div, num_frames=self.num_frames)
        return config


@keras.saving.register_keras_serializable(package="tsm_tf")
class StatefulTemporalShift(keras.layers.Layer):
    """Uni-directional shift that keeps its cache in a non-trainable variable.

    Input: the next ``num_frames`` frames of ``batch_size`` videos, ``[batch_size*K, H, W, C]``.
    Each call returns the frame with channels ``[0, fold)`` from the previous call and stores
    this frame's ``[0, fold)`` channels. ``reset_states()`` zeroes the cache (a new video).
    The batch size is fixed at construction (the variable has a static shape).

    Example:
        >>> layer = StatefulTemporalShift(shift_div=8, batch_size=1)
        >>> y0 = layer(keras.ops.ones((1, 7, 7, 64)))  # first frame: zeros shifted in
        >>> float(keras.ops.sum(y0[..., :8]))
        0.0
        >>> layer.reset_states()
    """

    def __init__(self, shift_div: int = 8, batch_size: int = 1, num_frames: int = 1, **kwargs):
        super().__init__(**kwargs)
        check_shift_args(shift_div)
        check_num_segments(num_frames)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive integer. Received: {batch_size!r}")
        self.shift_div = shift_div
        self.batch_size = batch_size
        self.num_frames = num_frames
        self.cache = None

    def build(self, input_shape):
        _, height, width, channels = input_shape
        if height is None or width is None or channels is None:
            raise ValueError(
                "StatefulTemporalShift needs static H, W and C to size its cache. "
                f"Received input shape {tuple(input_shape)}"
            )
        fold = shift_fold(channels, self.shift_div)
        self.cache = self.add_weight(
            shape=(self.batch_size, height, width, fold),
            initializer="zeros",
            trainable=False,
            name="cache",
            dtype=self.variable_dtype,
        )

    def call(self, inputs):
        if self.cache.shape[-1] == 0:
            return inputs
        previous = ops.cast(self.cache, inputs.dtype)
        outputs, new_cache = streaming_shift(inputs, previous, self.shift_div, self.num_frames)
        self.cache.assign(ops.cast(new_cache, self.cache.dtype))
        return outputs

    def reset_states(self) -> None:
        """Zero the cache, as before the first frame of a video."""
        if self.cache is not None:
            self.cache.assign(ops.zeros(self.cache.shape, dtype=self.cache.dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            shift_div=self.shift_div, batch_size=self.batch_size, num_frames=self.num_frames
        )
        return config

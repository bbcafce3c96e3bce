"""Temporal shift layers against an independent numpy reference."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from shift_reference import numpy_shift

from tsm_tf.layers import (
    StatefulTemporalShift,
    StreamingTemporalShift,
    TemporalShift,
    streaming_shift,
)

CASES = [  # (clips, T, channels, shift_div)
    (1, 8, 16, 8),
    (2, 4, 24, 8),
    (3, 3, 13, 4),  # C not a multiple of shift_div
    (2, 8, 10, 3),
    (1, 2, 64, 2),  # every channel shifted
    (2, 1, 16, 8),  # a single frame: only zeros come in
]


def random_frames(clips, frames, channels, seed=0, height=3, width=5):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(clips * frames, height, width, channels)).astype("float32")


@pytest.mark.parametrize("direction", ["bidirectional", "unidirectional"])
@pytest.mark.parametrize("clips,frames,channels,shift_div", CASES)
def test_shift_matches_numpy_reference(direction, clips, frames, channels, shift_div):
    x = random_frames(clips, frames, channels)
    layer = TemporalShift(frames, shift_div=shift_div, direction=direction)
    got = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_array_equal(got, numpy_shift(x, frames, shift_div, direction))


def test_shift_inside_a_compiled_function_with_dynamic_batch():
    x = random_frames(3, 4, 16)
    layer = TemporalShift(4, direction="bidirectional")
    fn = tf.function(layer, input_signature=[tf.TensorSpec((None, 3, 5, 16), tf.float32)])
    np.testing.assert_array_equal(fn(x).numpy(), numpy_shift(x, 4, 8, "bidirectional"))


def test_boundaries_are_zero_not_circular():
    frames, channels = 4, 16
    x = np.ones((frames, 2, 2, channels), "float32") * np.arange(1, frames + 1)[:, None, None, None]
    y = keras.ops.convert_to_numpy(TemporalShift(frames)(x))
    fold = channels // 8
    assert np.all(y[-1, ..., :fold] == 0)  # last frame: nothing comes from the future
    assert np.all(y[0, ..., fold : 2 * fold] == 0)  # first frame: nothing from the past
    assert np.all(y[0, ..., :fold] == 2)  # frame 0 reads frame 1
    assert np.all(y[1, ..., fold : 2 * fold] == 1)  # frame 1 reads frame 0
    assert np.all(y[..., 2 * fold :] == x[..., 2 * fold :])


@pytest.mark.parametrize("direction", ["bidirectional", "unidirectional"])
def test_gradient_is_the_time_reversed_shift(direction):
    """The shift is linear; its adjoint moves gradients the other way in time, which equals
    shifting the time-reversed gradient and reversing back."""
    frames, channels = 5, 16
    x = tf.constant(random_frames(2, frames, channels, seed=1))
    upstream = random_frames(2, frames, channels, seed=2)
    layer = TemporalShift(frames, direction=direction)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x) * upstream)
    grad = tape.gradient(loss, x).numpy()

    def reverse_time(a):
        return a.reshape(2, frames, *a.shape[1:])[:, ::-1].reshape(a.shape)

    expected = reverse_time(numpy_shift(reverse_time(upstream), frames, 8, direction))
    np.testing.assert_allclose(grad, expected, rtol=0, atol=1e-6)
    assert np.abs(grad).sum() > 0


def test_streaming_shift_one_frame_at_a_time_equals_offline_unidirectional():
    frames, channels = 6, 16
    x = random_frames(1, frames, channels, seed=3)
    expected = numpy_shift(x, frames, 8, "unidirectional")
    layer = StreamingTemporalShift(shift_div=8)
    cache = np.zeros((1, 3, 5, channels // 8), "float32")
    for t in range(frames):
        y, cache = layer(x[t : t + 1], cache)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(y), expected[t : t + 1])


@pytest.mark.parametrize("chunk", [2, 3])
def test_streaming_shift_in_chunks_equals_offline(chunk):
    frames, channels, clips = 6, 16, 2
    x = random_frames(clips, frames, channels, seed=4)
    expected = numpy_shift(x, frames, 8, "unidirectional").reshape(clips, frames, 3, 5, channels)
    clip_major = x.reshape(clips, frames, 3, 5, channels)
    cache = np.zeros((clips, 3, 5, channels // 8), "float32")
    for start in range(0, frames, chunk):
        piece = clip_major[:, start : start + chunk].reshape(clips * chunk, 3, 5, channels)
        y, cache = streaming_shift(piece, cache, 8, num_frames=chunk)
        got = keras.ops.convert_to_numpy(y).reshape(clips, chunk, 3, 5, channels)
        np.testing.assert_array_equal(got, expected[:, start : start + chunk])


def test_stateful_shift_carries_and_resets_its_cache():
    frames, channels = 5, 16
    x = random_frames(1, frames, channels, seed=5)
    expected = numpy_shift(x, frames, 8, "unidirectional")
    layer = StatefulTemporalShift(shift_div=8, batch_size=1)
    for _ in range(2):  # the second pass checks reset_states
        for t in range(frames):
            y = keras.ops.convert_to_numpy(layer(x[t : t + 1]))
            np.testing.assert_array_equal(y, expected[t : t + 1])
        layer.reset_states()


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="shift_div"):
        TemporalShift(8, shift_div=1)
    with pytest.raises(ValueError, match="direction.*bidirectional"):
        TemporalShift(8, direction="forward")
    with pytest.raises(ValueError, match="num_segments"):
        TemporalShift(0)
    with pytest.raises(ValueError, match=r"multiple of `num_segments` \(4\)"):
        TemporalShift(4)(np.zeros((6, 2, 2, 16), "float32"))


@pytest.mark.parametrize(
    "layer",
    [
        TemporalShift(4, shift_div=4, direction="unidirectional"),
        StreamingTemporalShift(shift_div=4, num_frames=2),
        StatefulTemporalShift(shift_div=4, batch_size=2, num_frames=3),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_layer_config_round_trip(layer):
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is type(layer)
    assert restored.get_config() == layer.get_config()

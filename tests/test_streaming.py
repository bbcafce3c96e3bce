"""Streaming (online) models give the offline uni-directional model's per-frame logits."""

import keras
import numpy as np
import pytest
from shared_helpers import randomize_statistics

import tsm_tf
from tsm_tf.models import StreamingTSM

FRAMES = 8


def trained_like(arch, shift="unidirectional", seed=0):
    """A tiny model with random, non-trivial BatchNorm statistics (as after training)."""
    keras.utils.set_random_seed(seed)
    model = tsm_tf.create_model(f"tsm_{arch}", num_classes=5, num_segments=FRAMES,
                                input_size=32, shift=shift, width_mult=1.0)
    return randomize_statistics(model, seed)


def video(seed=1):
    return np.random.default_rng(seed).normal(size=(1, FRAMES, 32, 32, 3)).astype("float32")


def offline_frame_logits(model, clip):
    return np.asarray(model.frame_logits_model()(clip, training=False))[0]  # [T, K]


def run_functional(streaming, clip, chunk):
    """Through the model's own call with dict inputs and outputs, states carried by hand."""
    states = streaming.init_states()
    outputs = []
    for start in range(0, FRAMES, chunk):
        frames = clip[:, start : start + chunk]
        key = "image" if chunk == 1 else "video"
        result = streaming({key: frames[:, 0] if chunk == 1 else frames, **states})
        states = {name: np.asarray(v) for name, v in result.items() if name != "logits"}
        outputs.append(np.asarray(result["logits"]).reshape(chunk, -1))
    return np.concatenate(outputs)


def run_step(streaming, clip, chunk):
    """Through StreamingTSM.step, starting from states=None."""
    states, outputs = None, []
    for start in range(0, FRAMES, chunk):
        frames = clip[:, start : start + chunk]
        logits, states = streaming.step(frames[:, 0] if chunk == 1 else frames, states)
        outputs.append(logits.reshape(chunk, -1))
    return np.concatenate(outputs)


def run_stateful(streaming, clip, chunk):
    streaming.reset_states()
    outputs = []
    for start in range(0, FRAMES, chunk):
        frames = clip[:, start : start + chunk]
        logits = streaming(frames[:, 0] if chunk == 1 else frames)
        outputs.append(np.asarray(logits).reshape(chunk, -1))
    return np.concatenate(outputs)


# 8 frames one by one (chunk 1), in 4 chunks of 2, in 2 chunks of 4; MobileNetV2 (slow to run
# eagerly layer by layer) on a subset.
STREAMING_CASES = [
    (arch, stateful, chunk)
    for arch in ("resnet_tiny", "mobilenetv2")
    for stateful in (False, True)
    for chunk in (1, 2, 4)
    if arch == "resnet_tiny" or chunk != 2
]


@pytest.mark.parametrize("arch,stateful,chunk", STREAMING_CASES)
def test_streaming_equals_offline_per_frame_logits(arch, stateful, chunk):
    model = trained_like(arch)
    clip = video()
    expected = offline_frame_logits(model, clip)
    streaming = StreamingTSM.from_model(model, stateful=stateful, frames_per_step=chunk)
    run = run_stateful if stateful else run_functional
    got = run(streaming, clip, chunk)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    if not stateful:
        np.testing.assert_allclose(run_step(streaming, clip, chunk), expected, rtol=0, atol=1e-5)
    if stateful:  # a second video after reset_states gives the same answer again
        np.testing.assert_allclose(run(streaming, clip, chunk), expected, rtol=0, atol=1e-5)
    assert np.abs(expected).max() > 1e-2  # the comparison is not between near-zeros


def test_bidirectional_model_does_not_match_streaming():
    bidirectional = trained_like("resnet_tiny", shift="bidirectional")
    clip = video()
    expected = offline_frame_logits(bidirectional, clip)
    config = {**bidirectional.tsm_config, "shift": "unidirectional", "batch_size": 1}
    streaming = StreamingTSM(**config)
    tsm_tf.models.copy_weights_by_name(bidirectional, streaming)
    got = run_functional(streaming, clip, 1)
    assert np.abs(got - expected).max() > 1e-3


def test_streaming_refuses_a_bidirectional_model():
    with pytest.raises(ValueError, match="unidirectional"):
        StreamingTSM.from_model(trained_like("resnet_tiny", shift="bidirectional"))


def test_mobilenet_v2_caches_at_224_have_the_reference_shapes():
    model = tsm_tf.create_model("tsm_online_mobilenetv2", num_classes=27, num_segments=8)
    streaming = StreamingTSM.from_model(model)
    shapes = list(streaming.state_shapes.values())
    assert shapes == [(1, 56, 56, 3), (1, 28, 28, 4), (1, 28, 28, 4), (1, 14, 14, 8),
                      (1, 14, 14, 8), (1, 14, 14, 8), (1, 14, 14, 12), (1, 14, 14, 12),
                      (1, 7, 7, 20), (1, 7, 7, 20)]
    assert list(streaming.state_shapes) == [
        f"state_features_{i}_shift" for i in (3, 5, 6, 8, 9, 10, 12, 13, 15, 16)
    ]
    assert {name: tuple(v.shape) for name, v in streaming.init_states().items()} == \
        streaming.state_shapes


def test_streaming_keras_round_trip(tmp_path):
    streaming = StreamingTSM.from_model(trained_like("resnet_tiny"))
    path = tmp_path / "online.keras"
    streaming.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is StreamingTSM
    clip = video(2)
    np.testing.assert_array_equal(run_functional(restored, clip, 1),
                                  run_functional(streaming, clip, 1))

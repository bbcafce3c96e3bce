"""TFLite round trips of tiny models on LiteRT: float matches Keras, int8 is integer-only."""

import numpy as np
import pytest
from test_streaming import offline_frame_logits, trained_like, video

from tsm_tf.export import LiteRTModel, convert_to_tflite, float32_tensor_ops, op_names
from tsm_tf.models import StreamingTSM

FRAMES = 8


def builtin_only(flatbuffer):
    names = op_names(flatbuffer)
    return not any(name.startswith("Flex") or name in ("CUSTOM", "DELEGATE") for name in names)


def stream_through(runner, clip):
    states = {name: np.zeros(runner.input_details[name]["shape"], np.float32)
              for name in runner.input_names if name.startswith("state_")}
    logits = []
    for t in range(clip.shape[1]):
        out = runner({"image": clip[:, t], **states})
        states = {name: out[name] for name in states}
        logits.append(out["logits"][0])
    return np.stack(logits)


@pytest.fixture(scope="module")
def offline_model():
    return trained_like("resnet_tiny", shift="bidirectional", seed=3)


@pytest.fixture(scope="module")
def online_model():
    return trained_like("resnet_tiny", shift="unidirectional", seed=4)


def calibration_clips(count=6):
    return [video(seed=100 + i) for i in range(count)]


def test_offline_float_tflite_matches_keras(offline_model):
    flatbuffer = convert_to_tflite(offline_model, batch_size=1)
    runner = LiteRTModel(flatbuffer)
    assert runner.input_names == ["video"] and runner.output_names == ["logits"]
    clip = video(seed=7)
    expected = np.asarray(offline_model(clip, training=False))
    np.testing.assert_allclose(runner({"video": clip})["logits"], expected, rtol=0, atol=1e-5)
    assert builtin_only(flatbuffer)


def test_offline_int8_tflite_is_integer_only(offline_model):
    def representative():
        for clip in calibration_clips():
            yield {"video": clip}

    flatbuffer = convert_to_tflite(offline_model, quantization="int8",
                                   representative_data=representative)
    assert float32_tensor_ops(flatbuffer) == []
    assert builtin_only(flatbuffer)
    assert "ZEROS_LIKE" not in op_names(flatbuffer)
    runner = LiteRTModel(flatbuffer)
    assert runner.input_details["video"]["dtype"] == np.int8
    clip = video(seed=7)
    expected = np.asarray(offline_model(clip, training=False))[0]
    got = runner({"video": clip})["logits"][0]
    assert np.corrcoef(got, expected)[0, 1] > 0.9  # quantized, but the same function


def test_streaming_float_tflite_matches_offline_keras(online_model):
    streaming = StreamingTSM.from_model(online_model)
    flatbuffer = convert_to_tflite(streaming)
    runner = LiteRTModel(flatbuffer)
    assert runner.input_names == ["image", *streaming.state_shapes]
    assert sorted(runner.output_names) == sorted(["logits", *streaming.state_shapes])
    clip = video(seed=8)
    expected = offline_frame_logits(online_model, clip)
    np.testing.assert_allclose(stream_through(runner, clip), expected, rtol=0, atol=1e-5)
    assert builtin_only(flatbuffer)


def test_streaming_int8_tflite_is_integer_only_with_matching_cache_scales(online_model):
    streaming = StreamingTSM.from_model(online_model)

    def representative():  # frames in order, states carried, as at run time
        for clip in calibration_clips():
            states = streaming.init_states()
            for t in range(FRAMES):
                yield {"image": clip[:, t], **states}
                _, states = streaming.step(clip[:, t], states)

    flatbuffer = convert_to_tflite(streaming, quantization="int8",
                                   representative_data=representative)
    assert float32_tensor_ops(flatbuffer) == []
    assert builtin_only(flatbuffer)
    runner = LiteRTModel(flatbuffer)
    for name in streaming.state_shapes:
        assert runner.input_details[name]["dtype"] == np.int8
        assert runner.quantization(name) == runner.quantization(name, output=True), name
    clip = video(seed=8)
    expected = offline_frame_logits(online_model, clip)
    got = stream_through(runner, clip)
    assert np.corrcoef(got.ravel(), expected.ravel())[0, 1] > 0.9

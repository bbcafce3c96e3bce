"""Every hand-over form streams exactly: LiteRT per-frame logits equal the offline Keras
model's per-frame logits, and a reset starts a new video."""

import numpy as np
import pytest
from bench_models import clip, reference_frame_logits, tiny_model

from tsm_tf.bench.handover import FORMS, open_form


def stream(form, frames) -> np.ndarray:
    return np.stack([np.asarray(form.step(frame[None])).reshape(-1) for frame in frames])


@pytest.mark.slow
@pytest.mark.parametrize("form_name", FORMS)
def test_float32_streaming_equals_offline(form_name):
    form = open_form(form_name, tiny_model("tsm_float32"), num_threads=1)
    assert len(form.states) >= 2  # resnet_tiny: a cache per shifted block
    frames = clip()[0]
    np.testing.assert_allclose(stream(form, frames), reference_frame_logits(), atol=1e-4)
    form.reset()
    np.testing.assert_allclose(stream(form, frames[:3]), reference_frame_logits()[:3], atol=1e-4)


@pytest.mark.slow
def test_stateful_export_streams_exactly_without_caches_at_the_boundary():
    form = open_form("views", tiny_model("tsm_stateful_float32"), num_threads=1)
    assert form.states == []
    np.testing.assert_allclose(stream(form, clip()[0]), reference_frame_logits(), atol=1e-4)


@pytest.mark.slow
def test_int8_forms_carry_the_same_integers():
    """Raw int8 caches: every form yields the signature runner's logits bit for bit (the
    runtime's session dequantizes them: compared after the same dequantization)."""
    path = tiny_model("tsm_int8")
    reference = open_form("signature", path, num_threads=1)
    scale, zero_point = reference.output_details[reference.logits_name]["quantization"]
    frames = clip()[0]
    inputs = reference.input_details[reference.frame_name]
    in_scale, in_zero = inputs["quantization"]
    quantized = np.clip(np.round(frames / in_scale) + in_zero, -128, 127).astype(np.int8)
    expected = stream(reference, quantized)
    dequantized = (expected.astype(np.float32) - zero_point) * scale
    for name in FORMS:
        if name == "signature":
            continue
        logits = stream(open_form(name, path, 1), quantized)
        if name == "session":
            np.testing.assert_allclose(logits, dequantized, rtol=0, atol=1e-6)
        else:
            np.testing.assert_array_equal(logits, expected, err_msg=name)
    float_logits = reference_frame_logits()
    assert np.abs(dequantized - float_logits).max() < 0.25 * np.abs(float_logits).max()


def test_unknown_form_is_refused():
    with pytest.raises(ValueError, match="Unknown hand-over form 'dicts'.*views"):
        open_form("dicts", b"")


@pytest.mark.slow
def test_stateful_int8_export_is_not_all_integer():
    """Why the stateful form is not kept for int8: the converter leaves resource variables in
    float32, with QUANTIZE / DEQUANTIZE around every cache (explicit caches: none)."""
    from tsm_tf.export import float32_tensor_ops

    assert float32_tensor_ops(tiny_model("tsm_int8")) == []
    stateful = tiny_model("tsm_stateful_int8")
    flagged = set(float32_tensor_ops(stateful))
    assert {"READ_VARIABLE", "ASSIGN_VARIABLE", "DEQUANTIZE"} <= flagged

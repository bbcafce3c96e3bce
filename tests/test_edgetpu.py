"""Edge TPU compatibility check on real converted models and on one-op graphs built to break
one rule each."""

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from test_streaming import trained_like, video

from tsm_tf.export import convert_to_tflite
from tsm_tf.export.calibrate import calibration_frames
from tsm_tf.export.edgetpu import (
    RULE_AFTER,
    RULE_CONCAT,
    RULE_CONSTANT,
    RULE_INTEGER,
    RULE_OP,
    RULE_PAD_BATCH,
    RULE_RANK,
    RULE_REDUCE_BATCH,
    RULE_STATIC,
    RULE_TRANSPOSE_5D,
    check_compatibility,
)
from tsm_tf.export.targets import load_target
from tsm_tf.models import StreamingTSM

pytestmark = pytest.mark.filterwarnings("ignore:Statistics for quantized inputs")


def litert_ops(flatbuffer):
    """Op names and tensor details as the LiteRT interpreter sees them (an independent reader)."""
    interpreter = Interpreter(model_content=flatbuffer)
    return interpreter._get_ops_details(), interpreter


@pytest.fixture(scope="module")
def online_model():
    return trained_like("resnet_tiny", shift="unidirectional", seed=4)


@pytest.fixture(scope="module")
def streaming(online_model):
    return StreamingTSM.from_model(online_model)


@pytest.fixture(scope="module")
def streaming_int8(streaming):
    """The streaming model as the edgetpu recipe builds it: full integer, its I/O type."""
    clips = np.concatenate([video(seed=100 + i) for i in range(3)])  # [3, T, H, W, 3]
    recipe = load_target("edgetpu")
    return convert_to_tflite(streaming, quantization=recipe["quantization"], io=recipe["io"],
                             representative_data=calibration_frames(streaming, clips))


@pytest.mark.slow
def test_streaming_int8_tsm_meets_every_edge_tpu_rule(streaming_int8):
    report = check_compatibility(streaming_int8)
    ops, interpreter = litert_ops(streaming_int8)
    assert report.num_ops == len(ops)
    assert report.compatible, report.summary()
    assert report.cpu_ops == 0 and report.tpu_ops == len(ops)
    assert report.fallbacks == [] and report.first_unsupported is None
    # Independently, through LiteRT: the boundary is uint8 (the recipe's), every activation
    # (model input or op output) is 8-bit with no dimension > 1 outside the innermost three.
    assert {d["dtype"] for d in interpreter.get_input_details()} == {np.uint8}
    details = {t["index"]: t for t in interpreter.get_tensor_details()}
    activations = [d["index"] for d in interpreter.get_input_details()]
    activations += [i for op in ops for i in op["outputs"]]
    for index in activations:
        tensor = details[index]
        assert tensor["dtype"] in (np.int8, np.uint8), tensor["name"]
        assert all(d == 1 for d in tensor["shape"][:-3]), tensor["name"]
    assert f"all {len(ops)} operations" in report.summary()


@pytest.mark.slow
def test_offline_int8_model_falls_back_from_its_5d_reshape(online_model):
    def representative():
        for i in range(3):
            yield {"video": video(seed=200 + i)}

    flatbuffer = convert_to_tflite(online_model, quantization="int8",
                                   representative_data=representative)
    report = check_compatibility(flatbuffer)
    ops, interpreter = litert_ops(flatbuffer)
    video_input = interpreter.get_input_details()[0]
    assert len(video_input["shape"]) == 5  # [1, T, H, W, 3]
    assert not report.compatible
    first = report.fallbacks[0]
    assert first.index == 0 and first.op == ops[0]["op_name"] == "RESHAPE"
    assert first.rule == RULE_RANK and first.tensor == video_input["name"]
    assert "5-D [N,T,H,W,C] clip" in first.reason and "--mode streaming" in first.reason
    # The frames folded into the batch break the rule too, op after op.
    assert any("folds its frames into the batch" in f.reason for f in report.violations[1:])
    # The first unsupported op sends everything after it to the CPU: every op is listed.
    assert report.cpu_ops == len(ops) and report.tpu_ops == 0
    assert sorted({f.index for f in report.fallbacks}) == list(range(len(ops)))
    assert "#0 RESHAPE" in report.summary()


@pytest.mark.slow
def test_float_model_is_flagged_as_not_full_integer(streaming):
    flatbuffer = convert_to_tflite(streaming)
    report = check_compatibility(flatbuffer)
    _, interpreter = litert_ops(flatbuffer)
    image = next(d for d in interpreter.get_input_details() if "image" in d["name"])
    assert image["dtype"] == np.float32
    first = report.violations[0]
    assert first.index == 0 and first.rule == RULE_INTEGER
    assert first.tensor == image["name"] and "float32" in first.reason
    assert report.cpu_ops == report.num_ops
    as_dict = report.to_dict()
    assert as_dict["compatible"] is False and as_dict["cpu_ops"] == report.num_ops
    assert as_dict["fallbacks"][0]["rule"] == RULE_INTEGER


def int8_graph(function, shape, io=tf.int8):
    """A one- or two-op full-integer model of ``function`` on a float input of ``shape``."""
    traced = tf.function(function, input_signature=[tf.TensorSpec(shape, tf.float32)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [traced.get_concrete_function()], traced)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    concrete = [1 if d is None else d for d in shape]
    converter.representative_dataset = lambda: (
        [rng.normal(size=concrete).astype("float32")] for _ in range(4))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = io
    converter.inference_output_type = io
    return converter.convert()


CASES = {
    # name: (function, input shape, the rule it breaks or None)
    "concat_constant_ones": (lambda x: tf.concat([x, tf.ones([1, 4, 4, 2])], -1),
                             (1, 4, 4, 3), RULE_CONCAT),
    "concat_constant_zeros": (lambda x: tf.concat([tf.zeros([1, 4, 4, 2]), x], -1),
                              (1, 4, 4, 3), None),
    "mean_over_batch": (lambda x: tf.reduce_mean(x, axis=0), (4, 6, 8), RULE_REDUCE_BATCH),
    "mean_over_height_width": (lambda x: tf.reduce_mean(x, axis=[1, 2]), (1, 6, 6, 8), None),
    "pad_on_batch": (lambda x: tf.pad(x, [[1, 1], [0, 0], [0, 0]]), (2, 4, 4), RULE_PAD_BATCH),
    "pad_on_height": (lambda x: tf.pad(x, [[0, 0], [1, 1], [0, 0], [0, 0]]), (1, 4, 4, 3), None),
    "transpose_5d": (lambda x: tf.transpose(x, [0, 1, 3, 2, 4]), (1, 1, 2, 3, 4),
                     RULE_TRANSPOSE_5D),
    "batch_of_two": (lambda x: tf.nn.relu(x - 0.5), (2, 4, 4, 3), RULE_RANK),
    "dynamic_batch": (lambda x: tf.nn.relu(x - 0.5), (None, 4, 3), RULE_STATIC),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_each_rule_on_a_graph_built_to_break_it(name):
    function, shape, rule = CASES[name]
    report = check_compatibility(int8_graph(function, shape))
    if rule is None:
        assert report.compatible, report.summary()
    else:
        assert {v.rule for v in report.violations} == {rule}, report.summary()
        assert report.fallbacks[0].index == 0


@pytest.mark.slow
def test_an_unsupported_op_sends_it_and_every_later_op_to_the_cpu():
    flatbuffer = int8_graph(lambda x: tf.nn.relu(tf.abs(x) - 0.5) * 2.0, (1, 4, 4, 3))
    ops, _ = litert_ops(flatbuffer)
    names = [op["op_name"] for op in ops]
    assert names[0] == "ABS" and len(names) >= 2
    report = check_compatibility(flatbuffer)
    assert [(f.index, f.op, f.rule) for f in report.fallbacks] == \
        [(0, "ABS", RULE_OP)] + [(i, names[i], RULE_AFTER) for i in range(1, len(names))]
    assert "op #0 (ABS)" in report.fallbacks[1].reason


@pytest.mark.slow
def test_weights_computed_at_run_time_are_not_constant_parameters():
    # x @ x^T converts to a FULLY_CONNECTED whose weight operand is the input itself.
    flatbuffer = int8_graph(lambda x: tf.matmul(x, x, transpose_b=True), (4, 8))
    ops, _ = litert_ops(flatbuffer)
    assert [op["op_name"] for op in ops] == ["FULLY_CONNECTED"]
    report = check_compatibility(flatbuffer)
    assert [(v.rule, v.tensor) for v in report.violations] == [(RULE_CONSTANT, "x")]


@pytest.mark.slow
def test_float_boundary_of_an_integer_model_says_to_use_integer_io():
    flatbuffer = int8_graph(lambda x: tf.nn.relu(x - 0.5), (1, 4, 4, 3), io=tf.float32)
    ops, interpreter = litert_ops(flatbuffer)
    assert ops[0]["op_name"] == "QUANTIZE"
    report = check_compatibility(flatbuffer)
    first = report.violations[0]
    assert (first.index, first.op, first.rule) == (0, "QUANTIZE", RULE_INTEGER)
    assert first.tensor == interpreter.get_input_details()[0]["name"]
    assert "--io uint8 or int8" in first.reason

"""The TF-free flatbuffer reader against what the LiteRT interpreter and Keras report."""

import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from test_streaming import trained_like, video

from tsm_tf.export import convert_to_tflite
from tsm_tf.export.flatbuffer import read_flatbuffer


@pytest.fixture(scope="module")
def keras_model():
    return trained_like("resnet_tiny", shift="bidirectional", seed=3)


@pytest.fixture(scope="module")
def float_model(keras_model):
    return convert_to_tflite(keras_model)


@pytest.fixture(scope="module")
def int8_model(keras_model):
    def representative():
        for seed in range(4):
            yield {"video": video(seed=50 + seed)}

    return convert_to_tflite(keras_model, quantization="int8", representative_data=representative)


def test_reader_and_sidecar_import_without_tensorflow_or_litert():
    code = ("import sys, tsm_tf.sidecar, tsm_tf.export.flatbuffer; "
            "bad = [m for m in ('tensorflow', 'keras', 'ai_edge_litert') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("which", ["float_model", "int8_model"])
def test_ops_and_tensors_match_the_litert_interpreter(which, request):
    flatbuffer = request.getfixturevalue(which)
    parsed = read_flatbuffer(flatbuffer)
    interpreter = Interpreter(model_content=flatbuffer)
    ops = interpreter._get_ops_details()  # the interpreter's own view, as an independent check
    assert parsed.op_names() == [op["op_name"] for op in ops]
    assert Counter(parsed.op_histogram()) == Counter(op["op_name"] for op in ops)
    for mine, theirs in zip(parsed.operators, ops, strict=True):
        assert list(mine.inputs) == list(theirs["inputs"])
        assert list(mine.outputs) == list(theirs["outputs"])
    details = interpreter.get_tensor_details()
    assert len(parsed.tensors) == len(details)
    for tensor in details:
        mine = parsed.tensors[tensor["index"]]
        assert mine.name == tensor["name"]
        assert mine.shape == tuple(tensor["shape"])
        assert np.dtype(mine.dtype) == tensor["dtype"]
        params = tensor["quantization_parameters"]
        if mine.quantization is None:
            assert len(params["scales"]) == 0
        else:
            np.testing.assert_array_equal(mine.quantization["scales"], params["scales"])
            np.testing.assert_array_equal(mine.quantization["zero_points"], params["zero_points"])
    runner = interpreter.get_signature_runner("serving_default")
    for name, detail in runner.get_input_details().items():
        tensor = parsed.signature_tensor(name)
        assert tensor.shape == tuple(detail["shape"])
        assert tensor.scale_zero_point in (None, tuple(detail["quantization"]))
    assert parsed.flex_ops() == []


def test_float32_tensor_ops_flags_float_models_only(float_model, int8_model):
    assert len(read_flatbuffer(float_model).float32_tensor_ops()) == \
        len(read_flatbuffer(float_model).operators)
    assert read_flatbuffer(int8_model).float32_tensor_ops() == []


def test_constant_data_and_options_are_the_model_s(keras_model, float_model):
    parsed = read_flatbuffer(float_model)
    (fc,) = [op for op in parsed.operators if op.name == "FULLY_CONNECTED"]
    kernel = parsed.tensor_data(fc.inputs[1])  # TFLite stores [out, in]
    dense = [layer for layer in keras_model.layers if layer.__class__.__name__ == "Dense"][-1]
    np.testing.assert_array_equal(kernel, np.asarray(dense.kernel).T)
    assert parsed.tensor_data(fc.inputs[1]) is not None and parsed.tensors[fc.inputs[1]].constant
    assert not parsed.signature_tensor("video").constant
    assert parsed.tensor_data(parsed.signature_tensor("video").index) is None
    concat = [op for op in parsed.operators if op.name == "CONCATENATION"]
    assert concat and all(op.options["fused_activation_function"] == "NONE" for op in concat)
    # The shift concatenates along time after a 5-D reshape: axis is that of a 5-D tensor.
    for op in concat:
        rank = len(parsed.tensors[op.outputs[0]].shape)
        assert -rank <= op.options["axis"] < rank


def test_flex_ops_are_detected():
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([4], tf.float32)])
    def uses_tf_ops(x):
        return {"y": tf.math.cumprod(x) + tf.linalg.det(tf.reshape(x, [2, 2]))}

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [uses_tf_ops.get_concrete_function()], uses_tf_ops)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                           tf.lite.OpsSet.SELECT_TF_OPS]
    parsed = read_flatbuffer(converter.convert())
    assert sorted(parsed.flex_ops()) == ["FlexCumprod", "FlexMatrixDeterminant"]
    assert "ADD" in parsed.op_names() and "ADD" not in parsed.flex_ops()


def test_not_a_flatbuffer_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not a TFLite flatbuffer"):
        read_flatbuffer(b"{}" * 8)
    with pytest.raises(FileNotFoundError, match="Cannot read TFLite model"):
        read_flatbuffer(tmp_path / "missing.tflite")

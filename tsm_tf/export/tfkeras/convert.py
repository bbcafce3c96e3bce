"""Quantization-aware tf_keras model -> full-integer TFLite flatbuffer.

Same conventions as ``tsm_tf.export.tflite``: a fixed batch of 1 and a ``serving_default``
signature taking and returning dicts keyed by the model's names (``video`` / ``image``,
``state_*``, ``logits``).
"""

from __future__ import annotations

import tempfile
import warnings

import tensorflow as tf
import tf_keras

from tsm_tf.export.tflite import fixed_input_specs

IO_DTYPES = {"int8": tf.int8, "uint8": tf.uint8, "float32": tf.float32}


def convert_quantized(model: tf_keras.Model, *, io_type: str = "int8") -> bytes:
    """Convert a quantize-applied (and range-calibrated) model to a full-integer flatbuffer.

    Every range comes from the model's fake-quantization ops; none from calibration at
    conversion time: calibration statistics would disagree with the learned ranges, and the
    converter rejects ops that must keep one scale (e.g. the reshape that writes a
    multi-frame cache) when they do.
    """
    if io_type not in IO_DTYPES:
        raise ValueError(f"`io_type` must be one of {tuple(IO_DTYPES)}. Received: {io_type!r}")
    specs = fixed_input_specs(model, batch_size=1)
    multi_input = len(model.inputs) > 1

    @tf.function(input_signature=[specs])
    def serve(inputs):
        outputs = model(inputs if multi_input else inputs[model.inputs[0].name], training=False)
        return outputs if isinstance(outputs, dict) else {"logits": outputs}

    with tempfile.TemporaryDirectory(prefix="tsm_tf_qat_") as saved_model_dir:
        tf.saved_model.save(model, saved_model_dir, signatures={"serving_default": serve})
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        # Full-integer conversion insists on a representative dataset; an empty one adds no
        # statistics, so the learned ranges are the only ones.
        converter.representative_dataset = lambda: iter(())
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = IO_DTYPES[io_type]
        converter.inference_output_type = IO_DTYPES[io_type]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*tf\.lite\.Interpreter is deprecated",
                                    category=UserWarning)
            return converter.convert()

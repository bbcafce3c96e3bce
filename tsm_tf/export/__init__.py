"""Export to TensorFlow Lite and run the result on LiteRT.

The full converter suite (float16, dynamic range, QAT, Edge TPU, command-line tools) builds on
these functions in the deployment phase.
"""

from tsm_tf.export.litert import LiteRTModel, float32_tensor_ops, op_names
from tsm_tf.export.tflite import QUANTIZATIONS, convert_to_tflite

__all__ = ["QUANTIZATIONS", "LiteRTModel", "convert_to_tflite", "float32_tensor_ops", "op_names"]

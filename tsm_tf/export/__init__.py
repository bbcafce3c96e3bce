"""Export to TensorFlow Lite, inspect the flatbuffer, and run the result on LiteRT.

Names are imported on first use, so ``tsm_tf.export.flatbuffer`` (and ``tsm_tf.sidecar``) load
with neither TensorFlow nor LiteRT installed.
"""

from importlib import import_module

_EXPORTS = {
    "LiteRTModel": "tsm_tf.export.litert",
    "float32_tensor_ops": "tsm_tf.export.litert",
    "op_names": "tsm_tf.export.litert",
    "QUANTIZATIONS": "tsm_tf.export.convert",
    "convert_to_tflite": "tsm_tf.export.convert",
    "read_flatbuffer": "tsm_tf.export.flatbuffer",
    "ExportOptions": "tsm_tf.export.exporter",
    "export_model": "tsm_tf.export.exporter",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tsm_tf.export' has no attribute {name!r}")

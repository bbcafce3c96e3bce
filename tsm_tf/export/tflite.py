"""Old import path of the converter; the code lives in ``tsm_tf.export.convert``."""

from tsm_tf.export.convert import (  # noqa: F401
    QUANTIZATIONS,
    convert_to_tflite,
    export_saved_model,
    fixed_input_specs,
)

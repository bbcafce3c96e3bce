"""tsm-tf: the Temporal Shift Module (TSM) for video recognition in Keras 3 and TFLite.

Example:
    >>> import tsm_tf
    >>> model = tsm_tf.create_model("tsm_resnet50", num_classes=400, num_segments=8)
    >>> model.count_params()
    24327632
"""

from tsm_tf.models.registry import create_model, list_models

__version__ = "0.1.0"

__all__ = ["create_model", "list_models", "__version__"]

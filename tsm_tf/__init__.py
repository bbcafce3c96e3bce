"""tsm-tf: the Temporal Shift Module (TSM) for video recognition in Keras 3 and TFLite.

Example:
    >>> import tsm_tf
    >>> model = tsm_tf.create_model("tsm_resnet50", num_classes=400, num_segments=8)
    >>> model.count_params()
    24380752

``create_model`` and ``list_models`` are imported on first use, so tools that need no
TensorFlow (e.g. ``python -m tsm_tf.data.synthetic``) start fast and command-line entry points
can quiet TensorFlow's logging before it loads.
"""

__version__ = "0.1.0"

__all__ = ["create_model", "list_models", "__version__"]


def __getattr__(name: str):
    if name in ("create_model", "list_models"):
        from tsm_tf.models import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'tsm_tf' has no attribute {name!r}")

"""tsm-tf: the Temporal Shift Module (TSM) for video recognition in Keras 3 and TFLite.

Example:
    >>> import tsm_tf
    >>> model = tsm_tf.create_model("tsm_resnet50", num_classes=400, num_segments=8)
    >>> model.count_params()
    24380752
    >>> import os, tempfile
    >>> tiny = tsm_tf.create_model("tsm_resnet_tiny", num_classes=8, num_segments=4,
    ...                            input_size=32)
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.keras")
    >>> tiny.save(path)
    >>> tsm_tf.load_model(path).count_params() == tiny.count_params()
    True

``create_model``, ``list_models`` and ``load_model`` are imported on first use, so tools that
need no TensorFlow (e.g. ``python -m tsm_tf.data.synthetic``) start fast and command-line entry
points can quiet TensorFlow's logging before it loads.

Saved models: ``tsm_tf.load_model(path)`` loads any model file the package writes. Plain
``keras.saving.load_model`` also works once ``tsm_tf`` is imported, before or after ``keras``:
the package's Keras classes are registered when Keras is (or already was) imported.
"""

import sys

__version__ = "0.1.0"

__all__ = ["create_model", "list_models", "load_model", "__version__"]


def __getattr__(name: str):
    if name in ("create_model", "list_models"):
        from tsm_tf.models import registry

        return getattr(registry, name)
    if name == "load_model":
        from tsm_tf.saved import load_model

        return load_model
    raise AttributeError(f"module 'tsm_tf' has no attribute {name!r}")


def _register_keras_classes() -> None:
    import tsm_tf.models  # noqa: F401  (the decorators register the classes)


if "keras" in sys.modules:  # keras first: register now (TensorFlow is loaded anyway)
    _register_keras_classes()
else:  # tsm_tf first: register right after keras finishes importing, if it ever does
    from tsm_tf._keras_hook import install as _install_keras_hook

    _install_keras_hook(_register_keras_classes)

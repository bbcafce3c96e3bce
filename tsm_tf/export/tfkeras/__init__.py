"""The project's Keras 3 networks rebuilt under tf_keras (Keras 2), for quantization-aware
training with ``tensorflow-model-optimization``, which accepts tf_keras models only.

Import this package only in a process that has ``TF_USE_LEGACY_KERAS=1`` set before TensorFlow
was imported (``tsm_tf.export.qat_worker`` does): it imports ``tf_keras`` and ``tfmot``.
"""

from tsm_tf.export.tfkeras.layers import Keras3Op
from tsm_tf.export.tfkeras.translate import translate_model

__all__ = ["Keras3Op", "translate_model"]

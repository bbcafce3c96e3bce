"""The project's own Keras 3 layers (shift, fold/unfold time, consensus, ...) as tf_keras layers.

``Keras3Op`` holds a weightless Keras 3 layer and runs its ``call`` on tf_keras tensors: with
the TensorFlow backend, ``keras.ops`` are TensorFlow ops, so the shift and its companions keep
one implementation (``tsm_tf.layers``) whichever Keras builds the graph.
"""

from __future__ import annotations

import keras
import tf_keras


@tf_keras.utils.register_keras_serializable(package="tsm_tf_tfkeras")
class Keras3Op(tf_keras.layers.Layer):
    """A tf_keras layer computing ``layer.call(*inputs)`` for a weightless Keras 3 ``layer``.

    Args:
        keras3_layer: the Keras 3 layer, serialized (``keras.saving.serialize_keras_object``).
    """

    def __init__(self, keras3_layer: dict, **kwargs):
        super().__init__(**kwargs)
        self.keras3_layer = keras3_layer
        layer = keras.saving.deserialize_keras_object(keras3_layer)
        if layer.weights:
            raise ValueError(
                f"Keras3Op runs weightless layers only; {layer.name!r} has weights."
            )
        # Not an attribute tf_keras tracks: the Keras 3 layer owns no variables.
        object.__setattr__(self, "_keras3", layer)

    @classmethod
    def wrap(cls, layer: keras.layers.Layer) -> Keras3Op:
        """The tf_keras counterpart of ``layer``, under the same name."""
        return cls(keras.saving.serialize_keras_object(layer), name=layer.name)

    @property
    def keras3_class(self) -> str:
        return type(self._keras3).__name__

    def call(self, inputs):
        # Several tensor arguments (StreamingTemporalShift's frame and cache) come as a list.
        if isinstance(inputs, list | tuple):
            outputs = self._keras3.call(*inputs)
        else:
            outputs = self._keras3.call(inputs)
        return list(outputs) if isinstance(outputs, tuple) else outputs

    def get_config(self):
        config = super().get_config()
        config.update(keras3_layer=self.keras3_layer)
        return config

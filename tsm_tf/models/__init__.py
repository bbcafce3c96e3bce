"""TSM / TSN video classifiers, their streaming form, and the model registry."""

from tsm_tf.models.blocks import state_name
from tsm_tf.models.registry import create_model, list_models
from tsm_tf.models.tsm import ARCHITECTURES, TSM, StreamingTSM, copy_weights_by_name

__all__ = [
    "ARCHITECTURES",
    "TSM",
    "StreamingTSM",
    "copy_weights_by_name",
    "create_model",
    "list_models",
    "state_name",
]

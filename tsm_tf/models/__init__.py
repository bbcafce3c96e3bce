"""TSM / TSN video classifiers, their streaming form, and the model registry."""

from tsm_tf.models.blocks import CLASSIFIER_LAYER, FRAME_LOGITS_LAYER, POOL_LAYER, state_name
from tsm_tf.models.registry import create_model, list_models
from tsm_tf.models.tsm import ARCHITECTURES, TSM, StreamingTSM, copy_weights_by_name

__all__ = [
    "ARCHITECTURES",
    "CLASSIFIER_LAYER",
    "FRAME_LOGITS_LAYER",
    "POOL_LAYER",
    "TSM",
    "StreamingTSM",
    "copy_weights_by_name",
    "create_model",
    "list_models",
    "state_name",
]

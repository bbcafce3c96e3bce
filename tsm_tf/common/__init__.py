"""Small shared pieces with no heavy imports (no TensorFlow, no Keras): constants, argument
checks and a progress line, used by data, models, weights, training and evaluation alike."""

from tsm_tf.common.constants import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    TORCH_CHECKPOINT_SUFFIXES,
    is_torch_checkpoint_path,
    strip_checkpoint_suffix,
)
from tsm_tf.common.progress import Progress
from tsm_tf.common.validation import check_choice

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "TORCH_CHECKPOINT_SUFFIXES",
    "Progress",
    "check_choice",
    "is_torch_checkpoint_path",
    "strip_checkpoint_suffix",
]

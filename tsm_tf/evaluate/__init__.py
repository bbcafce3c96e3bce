"""Evaluation: test protocols, metrics, early recognition, class activation maps, reports.

The function API::

    from tsm_tf.evaluate import evaluate
    result = evaluate("model.keras", dataset="something_v1", root="/data/sth1",
                      list_file="/data/sth1/val.txt", protocol="center", out_dir="runs/test")
    result["top1"], result["mean_class_accuracy"], result["per_class"]
    # several models: an ensemble (video scores averaged); unreadable clips stop the run
    # unless on_error="skip" (then result["top1_all"] counts them wrong)

The command line is ``python -m tsm_tf.test`` (``tsm_tf.evaluate.cli``).
"""

from tsm_tf.evaluate.early import early_scores, observed_frames, parse_fractions
from tsm_tf.evaluate.loading import ModelMismatchError, load_model
from tsm_tf.evaluate.metrics import (
    classification_summary,
    confusion_matrix,
    mean_class_accuracy,
    per_class_accuracy,
    top_k_accuracy,
)
from tsm_tf.evaluate.protocols import (
    AVERAGE_CHOICES,
    Protocol,
    average_views,
    ensemble,
    model_at_size,
    resolve_protocol,
)
from tsm_tf.evaluate.runner import evaluate, write_cams

__all__ = [
    "AVERAGE_CHOICES",
    "ModelMismatchError",
    "Protocol",
    "average_views",
    "classification_summary",
    "confusion_matrix",
    "early_scores",
    "ensemble",
    "evaluate",
    "load_model",
    "mean_class_accuracy",
    "model_at_size",
    "observed_frames",
    "parse_fractions",
    "per_class_accuracy",
    "resolve_protocol",
    "top_k_accuracy",
    "write_cams",
]

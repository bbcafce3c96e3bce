"""Classification metrics in numpy: top-k, confusion matrix, per-class and mean class accuracy.

Conventions: ``scores`` are ``[N, K]`` (logits or probabilities, any monotone score), ``labels``
``[N]`` ints in ``[0, K)``. The confusion matrix has true classes as rows and predicted classes
as columns. Per-class accuracy is the recall of each class (``cm[k, k] / cm[k].sum()``), NaN
for a class with no sample; the mean class accuracy averages the classes that have samples.

Example:
    >>> scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    >>> top_k_accuracy(scores, np.array([1, 1, 1]), k=1)
    0.6666666666666666
"""

from __future__ import annotations

import numpy as np


def _check(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if scores.ndim != 2:
        raise ValueError(f"scores must be [N, K]. Received shape {scores.shape}")
    if scores.shape[0] != labels.shape[0]:
        raise ValueError(
            f"scores has {scores.shape[0]} rows but labels has {labels.shape[0]} entries"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        raise ValueError(
            f"labels must be in [0, {scores.shape[1]}). Received min {labels.min()}, "
            f"max {labels.max()}"
        )
    return scores, labels


def top_k_hits(scores: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """``[N]`` bool: is the true label among the ``k`` highest scores of its row.

    ``k`` larger than the number of classes counts every sample as a hit.
    """
    scores, labels = _check(scores, labels)
    if k < 1:
        raise ValueError(f"k must be >= 1. Received: k={k}")
    k = min(k, scores.shape[1])
    # A label is in the top k when fewer than k classes rank above it. Ties rank as argmax
    # does (lower class index first), and a non-finite true score is always a miss, so a
    # diverged model (NaN scores) or a constant one cannot look accurate.
    rows = np.arange(len(labels))
    true_score = scores[rows, labels][:, None]
    classes = np.arange(scores.shape[1])[None, :]
    ahead = (scores > true_score) | ((scores == true_score) & (classes < labels[:, None]))
    return ((ahead.sum(axis=1) < k) & np.isfinite(true_score[:, 0]))


def top_k_accuracy(scores: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Fraction of samples whose label is among the ``k`` highest scores."""
    hits = top_k_hits(scores, labels, k)
    return float(hits.mean()) if hits.size else float("nan")


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """``[K, K]`` int64 counts: ``cm[true, predicted]``."""
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    predictions = np.asarray(predictions).astype(np.int64).reshape(-1)
    if labels.shape != predictions.shape:
        raise ValueError(f"{labels.shape[0]} labels but {predictions.shape[0]} predictions")
    for name, v in (("labels", labels), ("predictions", predictions)):
        if v.size and (v.min() < 0 or v.max() >= num_classes):
            raise ValueError(f"{name} must be in [0, {num_classes})")
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (labels, predictions), 1)
    return cm


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """``[K]`` float: recall of each class from a confusion matrix, NaN for absent classes."""
    cm = np.asarray(cm)
    counts = cm.sum(axis=1).astype(np.float64)
    correct = np.diag(cm).astype(np.float64)
    out = np.full(cm.shape[0], np.nan)
    present = counts > 0
    out[present] = correct[present] / counts[present]
    return out


def mean_class_accuracy(cm: np.ndarray) -> float:
    """Mean of the per-class accuracies over the classes that have at least one sample."""
    acc = per_class_accuracy(cm)
    present = ~np.isnan(acc)
    return float(acc[present].mean()) if present.any() else float("nan")


def classification_summary(
    scores: np.ndarray, labels: np.ndarray, topk: tuple[int, ...] = (1, 5)
) -> dict:
    """All metrics at once: ``top1``, ``top5`` (per ``topk``), ``mean_class_accuracy``,
    ``per_class_accuracy`` (list, NaN for absent classes), ``class_counts``,
    ``confusion_matrix`` (``[K, K]`` ndarray), ``predictions`` and ``num_samples``."""
    scores, labels = _check(scores, labels)
    num_classes = scores.shape[1]
    predictions = scores.argmax(axis=1) if len(labels) else np.zeros(0, np.int64)
    cm = confusion_matrix(labels, predictions, num_classes)
    out: dict = {f"top{k}": top_k_accuracy(scores, labels, k) for k in topk}
    out.update(
        mean_class_accuracy=mean_class_accuracy(cm),
        per_class_accuracy=per_class_accuracy(cm).tolist(),
        class_counts=cm.sum(axis=1).tolist(),
        confusion_matrix=cm,
        predictions=predictions,
        num_samples=int(len(labels)),
    )
    return out

"""Metrics, protocols and early-recognition arithmetic against small hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tsm_tf.evaluate.early import early_scores, observed_frames, parse_fractions
from tsm_tf.evaluate.metrics import (
    classification_summary,
    confusion_matrix,
    mean_class_accuracy,
    per_class_accuracy,
    top_k_accuracy,
)
from tsm_tf.evaluate.protocols import average_views, eval_size, resolve_protocol

# 5 samples, 4 classes. Rankings (best first): s0: 2,1,0,3  s1: 0,3,1,2  s2: 3,2,1,0
# s3: 1,0,2,3  s4: 2,3,0,1
SCORES = np.array([
    [0.2, 0.3, 0.4, 0.1],
    [0.9, 0.02, 0.01, 0.07],
    [0.1, 0.2, 0.3, 0.4],
    [0.3, 0.5, 0.15, 0.05],
    [0.25, 0.05, 0.4, 0.3],
])
LABELS = np.array([2, 1, 2, 1, 0])


def test_top_k_hand_computed():
    # top-1 hits: s0 (2 == 2), s3 (1 == 1) -> 2/5
    assert top_k_accuracy(SCORES, LABELS, 1) == pytest.approx(2 / 5)
    # top-2: s0 yes, s1 (1 is 3rd) no, s2 (2 is 2nd) yes, s3 yes, s4 (0 is 3rd) no -> 3/5
    assert top_k_accuracy(SCORES, LABELS, 2) == pytest.approx(3 / 5)
    # top-3: s1 (3rd) yes, s4 (3rd) yes -> 5/5
    assert top_k_accuracy(SCORES, LABELS, 3) == pytest.approx(1.0)
    # k above the class count: every sample counts
    assert top_k_accuracy(SCORES, LABELS, 5) == pytest.approx(1.0)


def test_confusion_and_class_accuracies_hand_computed():
    preds = SCORES.argmax(axis=1)  # [2, 0, 3, 1, 2]
    cm = confusion_matrix(LABELS, preds, 4)
    expected = np.zeros((4, 4), int)
    expected[2, 2] = 1  # s0
    expected[1, 0] = 1  # s1
    expected[2, 3] = 1  # s2
    expected[1, 1] = 1  # s3
    expected[0, 2] = 1  # s4
    np.testing.assert_array_equal(cm, expected)
    acc = per_class_accuracy(cm)
    # class 0: 0/1, class 1: 1/2, class 2: 1/2, class 3: no samples
    np.testing.assert_allclose(acc[:3], [0.0, 0.5, 0.5])
    assert math.isnan(acc[3])
    assert mean_class_accuracy(cm) == pytest.approx((0.0 + 0.5 + 0.5) / 3)


def test_summary_agrees_with_parts():
    s = classification_summary(SCORES, LABELS)
    assert s["top1"] == pytest.approx(0.4)
    assert s["top5"] == pytest.approx(1.0)
    assert s["class_counts"] == [1, 2, 2, 0]
    assert s["num_samples"] == 5
    assert s["confusion_matrix"].sum() == 5


def test_bad_metric_input_is_named():
    with pytest.raises(ValueError, match="labels must be in"):
        top_k_accuracy(SCORES, np.array([0, 1, 2, 3, 4]), 1)
    with pytest.raises(ValueError, match="5 rows but labels has 4"):
        top_k_accuracy(SCORES, LABELS[:4], 1)


def test_view_averaging_logits_and_softmax():
    views = np.array([[[2.0, 0.0], [0.0, 1.0]]])  # 1 video, 2 views, 2 classes
    np.testing.assert_allclose(average_views(views, "logits"), [[1.0, 0.5]])
    p1 = np.exp([2.0, 0.0]) / np.exp([2.0, 0.0]).sum()
    p2 = np.exp([0.0, 1.0]) / np.exp([0.0, 1.0]).sum()
    np.testing.assert_allclose(average_views(views, "probabilities")[0], (p1 + p2) / 2)
    # the reference's --softmax: mean of the views' logits, then softmax
    m = np.array([1.0, 0.5])
    np.testing.assert_allclose(average_views(views, "logits-softmax")[0],
                               np.exp(m) / np.exp(m).sum())
    with pytest.raises(ValueError, match="`average` must be one of"):
        average_views(views, "max")
    with pytest.raises(ValueError, match="now 'probabilities'.*'logits-softmax'"):
        average_views(views, "softmax")


def test_protocols():
    dense = resolve_protocol("dense")
    assert (dense.num_clips, dense.num_crops, dense.full_res, dense.sampling) == (
        10, 3, True, "dense")
    twice = resolve_protocol("twice")
    assert (twice.num_clips, twice.num_crops, twice.full_res) == (2, 3, True)
    center = resolve_protocol("center")
    assert (center.views, center.full_res) == (1, False)
    # the dataset's own protocol string, and overrides on top
    own = resolve_protocol("dataset", "2clips-3crops-fullres")
    assert (own.num_clips, own.num_crops, own.full_res) == (2, 3, True)
    custom = resolve_protocol("center", num_clips=4, full_res=True)
    assert (custom.num_clips, custom.num_crops, custom.full_res) == (4, 1, True)
    assert resolve_protocol("5clips-1crop").views == 5
    with pytest.raises(ValueError, match="Unknown test protocol 'bogus'.*center, dense"):
        resolve_protocol("bogus")
    with pytest.raises(ValueError, match=r"`num_crops` must be one of \(1, 3, 5, 10\)"):
        resolve_protocol("center", num_crops=2)
    ten = resolve_protocol("2clips-10crops-fullres")
    assert (ten.num_clips, ten.num_crops, ten.full_res, ten.views) == (2, 10, True, 20)
    assert resolve_protocol("center", num_crops=5).views == 5
    # full resolution: short side 256 for a 224 model, unless given
    assert eval_size(224, dense) == 256
    assert eval_size(224, center) == 224
    assert eval_size(32, dense, scale_size=40) == 40


def test_observed_frames_hand_computed():
    # T = 4: frames at positions 0.125, 0.375, 0.625, 0.875 of the video
    assert observed_frames([0.1, 0.125, 0.2, 0.4, 0.6, 0.7, 0.9, 1.0], 4).tolist() == [
        1, 1, 1, 2, 2, 3, 4, 4]
    # T = 10: position of frame t is 0.05 + 0.1 t; decimal fractions must not lose a frame
    assert observed_frames([0.15, 0.35, 0.95], 10).tolist() == [2, 4, 10]


def test_early_scores_are_running_means():
    frame_logits = np.array([[[1.0, 0.0], [3.0, 0.0], [5.0, 3.0], [7.0, 1.0]]])  # [1, 4, 2]
    out = early_scores(frame_logits, [0.1, 0.4, 0.7, 1.0])  # 1, 2, 3, 4 frames seen
    np.testing.assert_allclose(out[:, 0], [[1, 0], [2, 0], [3, 1], [4, 1]])


def test_parse_fractions():
    assert parse_fractions("0.5,0.1") == (0.1, 0.5)
    assert parse_fractions("10, 20,100") == (0.1, 0.2, 1.0)
    assert parse_fractions("") == tuple(round(0.1 * i, 1) for i in range(1, 11))
    with pytest.raises(ValueError, match="fractions"):
        parse_fractions("0,0.5")
    with pytest.raises(ValueError, match="comma-separated"):
        parse_fractions("half")


def test_top_k_ties_rank_like_argmax_and_nan_is_a_miss():
    labels = np.array([0, 2, 1])
    constant = np.zeros((3, 3))
    # All scores equal: argmax says class 0, so only the first sample is a top-1 hit.
    assert top_k_accuracy(constant, labels, 1) == pytest.approx(1 / 3)
    assert top_k_accuracy(constant, labels, 2) == pytest.approx(2 / 3)  # classes 0 and 1
    diverged = np.full((3, 3), np.nan)
    assert top_k_accuracy(diverged, labels, 1) == 0.0
    assert top_k_accuracy(diverged, labels, 5) == 0.0

"""Smoothing rules on hand-made logit sequences, expected decisions derived by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tsm_tf.runtime.smoothing import (
    MeanSmoother,
    ReferenceSmoother,
    Smoother,
    make_smoother,
    softmax,
)


def run(smoother, sequence):
    return [smoother.update(np.array(v, np.float32)) for v in sequence]


def test_none_is_the_frame_argmax_with_its_probability():
    out = run(make_smoother("none"), [[0.0, math.log(3.0)], [2.0, 0.0]])
    assert [label for label, _ in out] == [1, 0]
    assert out[0][1] == pytest.approx(0.75)  # e^ln3 / (1 + e^ln3)


def test_mean_of_the_last_k():
    # window 2: means [1, 0] -> 0; [0.5, 1.5] -> 1; [0, 1.5] -> 1; [1, 0] -> 0
    seq = [[1, 0], [0, 3], [0, 0], [2, -3]]
    out = run(make_smoother("mean:2"), seq)
    assert [label for label, _ in out] == [0, 1, 1, 0]
    # third frame: mean [0, 1.5] -> p(1) = 1 / (1 + e^-1.5)
    assert out[2][1] == pytest.approx(1 / (1 + math.exp(-1.5)), rel=1e-6)


def test_reference_rule_alone_holds_the_output_one_frame_after_a_change():
    # window 1: the window prediction is the frame's argmax, so the rule alone is tested.
    # The reference demo: a new prediction is taken unless the last two outputs differ (the
    # output just changed), then the last output is repeated.
    #  pred 2: first, taken            outputs [2]       (history 2, 2)
    #  pred 0: history equal -> taken  [2, 0]            (2, 0)
    #  pred 2: history differs -> held [2, 0, 0]         (0, 0)
    #  pred 0: same                    [.., 0]           (0, 0)
    #  pred 0: same                    [.., 0]
    #  pred 1: equal -> taken          [.., 1]           (0, 1)
    #  pred 2: differs -> held         [.., 1]           (1, 1)
    #  pred 2: equal -> taken          [.., 2]
    votes = [2, 0, 2, 0, 0, 1, 2, 2]
    seq = [np.eye(3)[v] for v in votes]
    labels = [label for label, _ in run(ReferenceSmoother(window=1), seq)]
    assert labels == [2, 0, 0, 0, 0, 1, 1, 2]
    # predictions A, A, B, A: B is taken, the A right after it is held back
    labels = [label for label, _ in run(ReferenceSmoother(window=1),
                                        [np.eye(2)[v] for v in (0, 0, 1, 0)])]
    assert labels == [0, 0, 1, 1]


def test_reference_window_sums_logits():
    # window 3. Window sums and argmax:
    #  f1 [1,0] -> [1,0] 0 (first)     f2 [1,0] -> [2,0] 0
    #  f3 [0,5] -> [2,5] 1 (taken: the output was stable)
    #  f4 [3,0] -> [4,5] 1             f5 [3,0] -> [6,5] 0 (taken: 1 was stable)
    #  f6 [3,0] -> [9,0] 0 (f3 left the window)
    seq = [[1, 0], [1, 0], [0, 5], [3, 0], [3, 0], [3, 0]]
    labels = [label for label, _ in run(ReferenceSmoother(window=3), seq)]
    assert labels == [0, 0, 1, 1, 0, 0]


def test_reference_default_window_is_twelve():
    smoother = make_smoother("reference")
    assert isinstance(smoother, ReferenceSmoother) and smoother.window == 12
    # 12 frames favouring class 1 by 1, then k frames favouring class 0 by 2.5: the window
    # sum is [2.5 k, 12 - k], class 0 from k = 4 on ([10, 8]; k = 3 gives [7.5, 9]), taken at
    # once since the output had been stable.
    seq = [[0, 1]] * 12 + [[2.5, 0]] * 7
    labels = [label for label, _ in run(smoother, seq)]
    assert labels[:12] == [1] * 12
    assert labels[12:] == [1, 1, 1, 0, 0, 0, 0]


def test_reference_score_is_the_probability_of_the_output_under_the_window_mean():
    smoother = ReferenceSmoother(window=2)
    smoother.update(np.array([0.0, 2.0], np.float32))  # pred 1, first
    assert smoother.update(np.array([4.0, 0.0], np.float32))[0] == 0  # mean [2, 1]: taken
    label, score = smoother.update(np.array([0.0, 8.0], np.float32))  # mean [2, 4], pred 1
    assert label == 0  # held: the output changed on the previous frame
    assert score == pytest.approx(float(softmax(np.array([2.0, 4.0]))[0]), rel=1e-6)


def test_reset_forgets_history():
    for smoother in (MeanSmoother(4), ReferenceSmoother(4)):
        run(smoother, [[5, 0]] * 4)
        smoother.reset()
        assert smoother.update(np.array([0, 1], np.float32))[0] == 1


@pytest.mark.parametrize("rule", ["median", "mean:x", "none:3", "mean:"])
def test_unknown_rules_are_refused(rule):
    with pytest.raises(ValueError, match="Unknown smoothing"):
        make_smoother(rule)


def test_instances_pass_through():
    smoother = MeanSmoother(3)
    assert make_smoother(smoother) is smoother
    assert type(make_smoother(None)) is Smoother

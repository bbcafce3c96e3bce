"""Frame sampling against the reference loader's formulas, re-derived here with plain loops."""

from __future__ import annotations

import numpy as np
import pytest

from tsm_tf.data.sampling import (
    dense_indices,
    sample_indices,
    twice_sample_indices,
    uniform_test_indices,
    uniform_train_indices,
    uniform_val_indices,
)

LENGTHS = [1, 2, 3, 5, 7, 8, 9, 16, 17, 31, 64, 65, 100, 301]


def ref_val(n: int, t: int) -> list[int]:
    # Reference validation: segment centres if the clip is longer than T, else frame 1.
    if n > t:
        tick = n / float(t)
        return [int(tick / 2.0 + tick * x) + 1 for x in range(t)]
    return [1] * t


def ref_test(n: int, t: int, twice: bool = False) -> list[int]:
    tick = n / float(t)
    offs = [int(tick / 2.0 + tick * x) for x in range(t)]
    if twice:
        offs += [int(tick * x) for x in range(t)]
    return [o + 1 for o in offs]


def ref_dense_test(n: int, t: int, clips: int = 10) -> list[int]:
    sample_pos = max(1, 1 + n - 64)
    stride = 64 // t
    out = []
    for start in np.linspace(0, sample_pos - 1, num=clips, dtype=int).tolist():
        out += [(k * stride + start) % n + 1 for k in range(t)]
    return out


@pytest.mark.parametrize("t", [1, 3, 8, 16])
@pytest.mark.parametrize("n", LENGTHS)
def test_val_and_test_match_reference(n, t):
    assert uniform_val_indices(n, t).tolist() == ref_val(n, t)
    assert uniform_test_indices(n, t, 1).tolist() == ref_test(n, t)
    assert twice_sample_indices(n, t).tolist() == ref_test(n, t, twice=True)


@pytest.mark.parametrize("t", [4, 8, 16])
@pytest.mark.parametrize("n", LENGTHS)
def test_dense_test_matches_reference(n, t):
    assert dense_indices(n, t, None, num_clips=10).tolist() == ref_dense_test(n, t)


@pytest.mark.parametrize("t", [3, 8])
@pytest.mark.parametrize("n", LENGTHS)
def test_uniform_train_one_frame_per_segment(n, t):
    rng = np.random.default_rng(n * 100 + t)
    avg = n // t
    seen = set()
    for _ in range(200):
        idx = uniform_train_indices(n, t, rng)
        assert idx.shape == (t,)
        if avg == 0:  # shorter than T: the reference repeats frame 1
            assert idx.tolist() == [1] * t
            continue
        for k, i in enumerate(idx.tolist()):
            assert k * avg + 1 <= i <= (k + 1) * avg  # inside segment k (1-based)
        seen.update(idx.tolist())
    if 1 < avg <= 10:
        # every position of every segment gets drawn eventually (random, not fixed)
        assert len(seen) == t * avg


def test_uniform_train_is_seeded():
    a = uniform_train_indices(100, 8, np.random.default_rng(3))
    b = uniform_train_indices(100, 8, np.random.default_rng(3))
    c = uniform_train_indices(100, 8, np.random.default_rng(4))
    assert a.tolist() == b.tolist()
    assert a.tolist() != c.tolist()


@pytest.mark.parametrize("n", [5, 64, 65, 66, 200])
def test_dense_train_window(n):
    t = 8
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(300):
        idx = dense_indices(n, t, rng).tolist()
        start = idx[0] - 1
        # stride 64 // T inside the window, wrapping modulo the clip length
        assert idx == [(start + 8 * k) % n + 1 for k in range(t)]
        starts.add(start)
    sample_pos = max(1, 1 + n - 64)
    # the reference draws randint(0, sample_pos - 1): upper bound excluded
    expect = {0} if sample_pos == 1 else set(range(sample_pos - 1))
    assert starts <= expect
    if len(expect) > 1:
        assert len(starts) > 1


def test_single_dense_eval_clip_is_centre_window():
    idx = dense_indices(164, 8, None, num_clips=1)
    assert idx[0] == (164 - 64) // 2 + 1
    assert np.all(np.diff(idx) == 8)


def test_multi_clip_uniform_spreads_inside_segments():
    idx = uniform_test_indices(300, 4, 3).reshape(3, 4)
    tick = 75
    fracs = [0.5, (0.5 - 1 / 3) % 1, (0.5 - 2 / 3) % 1]
    for k in range(3):
        assert idx[k].tolist() == [int(tick * fracs[k] + tick * x) + 1 for x in range(4)]


def test_sample_indices_shapes_and_errors():
    rng = np.random.default_rng(0)
    assert sample_indices(50, 8, training=True, rng=rng).shape == (1, 8)
    assert sample_indices(50, 8, training=False, num_clips=2).shape == (2, 8)
    assert sample_indices(50, 8, training=False, sampling="dense", num_clips=10).shape == (10, 8)
    with pytest.raises(ValueError, match="num_frames"):
        uniform_val_indices(0, 8)
    with pytest.raises(ValueError, match="sampling"):
        sample_indices(50, 8, training=False, sampling="random")
    with pytest.raises(ValueError, match="rng"):
        sample_indices(50, 8, training=True)

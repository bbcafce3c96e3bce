"""Frame-index sampling, as in the reference TSN/TSM data loader. Pure numpy.

All functions return **1-based** frame indices (frame files are numbered from 1), int64.

- uniform (TSN): split the clip into ``T`` equal segments; training takes a random frame per
  segment, evaluation the centre of each segment.
- dense (I3D style): ``T`` frames at stride ``64 // T`` in a 64-frame window; training takes one
  random window, testing ``num_clips`` windows spread evenly (10 in the reference).
- twice sample: segment centres followed by segment starts (2 clips).

Short clips follow the reference: with fewer frames than segments, uniform training and
validation repeat frame 1; the test sampler uses ``int(tick * (x + 0.5))`` with a tick below
1, which repeats frames; dense windows wrap around the clip (modulo the frame count).

Example:
    >>> uniform_val_indices(16, 4).tolist()
    [3, 7, 11, 15]
"""

from __future__ import annotations

import numpy as np

DENSE_WINDOW = 64


def _check(num_frames: int, num_segments: int) -> None:
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1. Received: num_frames={num_frames}")
    if num_segments < 1:
        raise ValueError(f"num_segments must be >= 1. Received: num_segments={num_segments}")


def uniform_train_indices(
    num_frames: int, num_segments: int, rng: np.random.Generator
) -> np.ndarray:
    """One random frame per segment (TSN training sampling). Shape ``[T]``."""
    _check(num_frames, num_segments)
    avg = num_frames // num_segments
    if avg > 0:
        offsets = np.arange(num_segments) * avg + rng.integers(0, avg, size=num_segments)
    else:  # fewer frames than segments: the reference repeats the first frame
        offsets = np.zeros(num_segments, dtype=np.int64)
    return offsets.astype(np.int64) + 1


def uniform_test_indices(num_frames: int, num_segments: int, num_clips: int = 1) -> np.ndarray:
    """Deterministic uniform sampling for ``num_clips`` clips. Shape ``[num_clips * T]``.

    Clip ``k`` takes the point at fraction ``(0.5 - k / num_clips) mod 1`` of each segment:
    one clip = segment centres (the reference validation), two clips = centres then starts
    (the reference "twice sample"), more clips spread evenly inside the segments.
    """
    _check(num_frames, num_segments)
    if num_clips < 1:
        raise ValueError(f"num_clips must be >= 1. Received: num_clips={num_clips}")
    tick = num_frames / float(num_segments)
    x = np.arange(num_segments, dtype=np.float64)
    out = []
    for k in range(num_clips):
        frac = (0.5 - k / num_clips) % 1.0
        # tick * frac + tick * x, in this order, equals the reference's tick / 2.0 + tick * x.
        out.append(np.floor(tick * frac + tick * x).astype(np.int64))
    return np.concatenate(out) + 1


def uniform_val_indices(num_frames: int, num_segments: int) -> np.ndarray:
    """Segment centres (TSN validation sampling). Shape ``[T]``.

    As in the reference validation loader, a clip with no more frames than segments
    (``num_frames <= T``) gives frame 1 repeated; the test sampler
    (:func:`uniform_test_indices`) instead spreads such clips with a tick below 1.
    """
    _check(num_frames, num_segments)
    if num_frames <= num_segments:
        return np.ones(num_segments, dtype=np.int64)
    return uniform_test_indices(num_frames, num_segments, 1)


def twice_sample_indices(num_frames: int, num_segments: int) -> np.ndarray:
    """Segment centres then segment starts (2 clips). Shape ``[2 * T]``."""
    return uniform_test_indices(num_frames, num_segments, 2)


def dense_indices(
    num_frames: int,
    num_segments: int,
    rng: np.random.Generator | None = None,
    num_clips: int = 1,
    window: int = DENSE_WINDOW,
) -> np.ndarray:
    """Dense sampling: ``T`` frames at stride ``window // T``. Shape ``[num_clips * T]``.

    With ``rng``: ``num_clips`` random windows (training; the reference draws the start in
    ``[0, num_frames - window)``). Without: windows at ``linspace(0, num_frames - window,
    num_clips)`` (the reference test uses 10); a single deterministic clip takes the centre
    window. Windows longer than the clip wrap around.
    """
    _check(num_frames, num_segments)
    if num_clips < 1:
        raise ValueError(f"num_clips must be >= 1. Received: num_clips={num_clips}")
    sample_pos = max(1, 1 + num_frames - window)
    stride = max(1, window // num_segments)
    if rng is not None:
        if sample_pos == 1:
            starts = np.zeros(num_clips, dtype=np.int64)
        else:
            starts = rng.integers(0, sample_pos - 1, size=num_clips)
    elif num_clips == 1:
        starts = np.array([(sample_pos - 1) // 2], dtype=np.int64)
    else:
        starts = np.linspace(0, sample_pos - 1, num=num_clips).astype(np.int64)
    idx = np.arange(num_segments, dtype=np.int64) * stride
    out = [(idx + s) % num_frames for s in starts]
    return np.concatenate(out).astype(np.int64) + 1


def sample_indices(
    num_frames: int,
    num_segments: int,
    *,
    training: bool,
    sampling: str = "uniform",
    num_clips: int = 1,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Dispatch to the right sampler. Shape ``[num_clips, T]``, 1-based."""
    if sampling == "dense":
        idx = dense_indices(num_frames, num_segments, rng if training else None, num_clips)
    elif sampling == "uniform":
        if training:
            if rng is None:
                raise ValueError("training sampling needs a numpy Generator (rng)")
            idx = np.concatenate(
                [uniform_train_indices(num_frames, num_segments, rng) for _ in range(num_clips)]
            )
        else:
            idx = uniform_test_indices(num_frames, num_segments, num_clips)
    else:
        raise ValueError(f"sampling must be 'uniform' or 'dense'. Received: {sampling!r}")
    return idx.reshape(num_clips, num_segments)

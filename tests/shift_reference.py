"""An independent numpy reference of the temporal shift, written element by element from the
reference convention (not from tsm_tf's code)."""

import numpy as np


def numpy_shift(x: np.ndarray, num_segments: int, shift_div: int, direction: str) -> np.ndarray:
    """x: [N*T, H, W, C]. Bi-directional: channels [0, fold) read frame t+1, [fold, 2*fold)
    read frame t-1. Uni-directional: channels [0, fold) read frame t-1. Zeros past the ends."""
    frames, _, _, channels = x.shape
    fold = channels // shift_div
    out = np.zeros_like(x)
    for row in range(frames):
        t = row % num_segments
        for c in range(channels):
            if direction == "bidirectional" and c < fold:
                source = t + 1
            elif direction == "bidirectional" and c < 2 * fold:
                source = t - 1
            elif direction == "unidirectional" and c < fold:
                source = t - 1
            else:
                source = t
            if 0 <= source < num_segments:
                out[row, :, :, c] = x[row - t + source, :, :, c]
    return out

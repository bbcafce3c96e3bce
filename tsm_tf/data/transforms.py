"""Clip-level spatial transforms on uint8 frame stacks ``[T, H, W, 3]`` (numpy + OpenCV).

One random draw per clip (every frame gets the same crop and flip), as in the reference.

- Training: multi-scale crop (crop side = short side x one of 1, .875, .75, .66, width and
  height chosen independently with at most one step of aspect distortion, crop sides within
  3 px of the input size snapped to it, 13 fixed positions), resized to the input size;
  optional horizontal flip.
- Evaluation (the reference test script's views): resize the short side to ``scale_size``,
  then 1 centre crop; 3 crops (left, right, centre along the long side, vertically centred);
  5 crops (four corners and centre); 10 crops (those five, each followed by its horizontal
  flip). ``full_res`` crops ``scale_size`` squares instead of ``input_size`` ones.

Example:
    >>> rng = np.random.default_rng(0)
    >>> clip = np.zeros((8, 256, 340, 3), np.uint8)
    >>> train_transform(clip, 224, rng)[0].shape
    (8, 224, 224, 3)
"""

from __future__ import annotations

import numpy as np

from tsm_tf.common.constants import IMAGENET_MEAN, IMAGENET_STD, eval_scale_size  # noqa: F401

# The evaluation protocol's per-frame core lives in the TF-free runtime, shared with the
# streaming recognizer (one implementation); re-exported here for the data pipeline.
from tsm_tf.runtime.preprocess import (  # noqa: F401
    center_crop_box,
    normalize,
    short_side_size,
)
from tsm_tf.runtime.preprocess import resize_image as _resize

MULTISCALE_SCALES = (1.0, 0.875, 0.75, 0.66)
CROP_CHOICES = (1, 3, 5, 10)  # evaluation crops per clip


def fixed_crop_offsets(
    image_w: int, image_h: int, crop_w: int, crop_h: int, more_fix_crop: bool = True
) -> list[tuple[int, int]]:
    """The 5 (or 13 with ``more_fix_crop``) fixed crop positions ``(x, y)``."""
    ws = (image_w - crop_w) // 4
    hs = (image_h - crop_h) // 4
    grid = [(0, 0), (4, 0), (0, 4), (4, 4), (2, 2)]  # corners + centre, in step units
    if more_fix_crop:
        grid += [(0, 2), (4, 2), (2, 4), (2, 0), (1, 1), (3, 1), (1, 3), (3, 3)]
    return [(gx * ws, gy * hs) for gx, gy in grid]


def multiscale_crop_sizes(
    image_w: int,
    image_h: int,
    input_size: int | tuple[int, int],
    scales: tuple[float, ...] = MULTISCALE_SCALES,
    max_distort: int = 1,
) -> list[tuple[int, int]]:
    """All allowed ``(crop_w, crop_h)`` pairs of the multi-scale crop.

    A size within 3 px of the input size snaps to it (as the reference does), but never beyond
    the image: a frame slightly smaller than the input size keeps its own extent.
    """
    in_w, in_h = (input_size, input_size) if isinstance(input_size, int) else input_size
    base = min(image_w, image_h)
    sizes = [int(base * s) for s in scales]
    hs = [min(in_h, image_h) if abs(s - in_h) < 3 else s for s in sizes]
    ws = [min(in_w, image_w) if abs(s - in_w) < 3 else s for s in sizes]
    return [(w, h) for i, h in enumerate(hs) for j, w in enumerate(ws) if abs(i - j) <= max_distort]


def multiscale_crop_box(
    image_w: int,
    image_h: int,
    input_size: int | tuple[int, int],
    rng: np.random.Generator,
    scales: tuple[float, ...] = MULTISCALE_SCALES,
    max_distort: int = 1,
) -> tuple[int, int, int, int]:
    """Random multi-scale crop ``(x, y, w, h)``."""
    pairs = multiscale_crop_sizes(image_w, image_h, input_size, scales, max_distort)
    w, h = pairs[int(rng.integers(len(pairs)))]
    offsets = fixed_crop_offsets(image_w, image_h, w, h, more_fix_crop=True)
    x, y = offsets[int(rng.integers(len(offsets)))]
    return x, y, w, h


def crop_resize(frames: np.ndarray, box: tuple[int, int, int, int], out_w: int, out_h: int
                ) -> np.ndarray:
    """Crop ``box = (x, y, w, h)`` from every frame and resize it. ``[T,H,W,C] -> [T,oh,ow,C]``."""
    x, y, w, h = box
    return np.stack([_resize(f[y:y + h, x:x + w], out_w, out_h) for f in frames])


def resize_short_side(frames: np.ndarray, size: int) -> np.ndarray:
    """Resize every frame so its short side is ``size``. ``[T,H,W,C] -> [T,H',W',C]``."""
    h, w = frames.shape[1:3]
    nw, nh = short_side_size(w, h, size)
    if (nw, nh) == (w, h):
        return frames
    return np.stack([_resize(f, nw, nh) for f in frames])


def three_crop_boxes(image_w: int, image_h: int, crop: int) -> list[tuple[int, int, int, int]]:
    """Left, right and centre crops along the long side, vertically centred (the reference's
    3-crop test, also used at full resolution)."""
    ws = (image_w - crop) // 4
    hs = (image_h - crop) // 4
    return [(0, 2 * hs, crop, crop), (4 * ws, 2 * hs, crop, crop), (2 * ws, 2 * hs, crop, crop)]


def five_crop_boxes(image_w: int, image_h: int, crop: int) -> list[tuple[int, int, int, int]]:
    """Upper left, upper right, lower left, lower right and centre (the reference's
    over-sampling positions, steps of a quarter of the free space)."""
    return [(x, y, crop, crop)
            for x, y in fixed_crop_offsets(image_w, image_h, crop, crop, more_fix_crop=False)]


def eval_crop_views(image_w: int, image_h: int, crop: int, num_crops: int
                    ) -> list[tuple[tuple[int, int, int, int], bool]]:
    """``[(box, flipped), ...]`` of the evaluation views, in the reference's order (10 crops:
    each of the five boxes, then its mirror image)."""
    if num_crops == 1:
        return [(center_crop_box(image_w, image_h, crop), False)]
    if num_crops == 3:
        return [(b, False) for b in three_crop_boxes(image_w, image_h, crop)]
    if num_crops == 5:
        return [(b, False) for b in five_crop_boxes(image_w, image_h, crop)]
    if num_crops == 10:
        return [(b, f) for b in five_crop_boxes(image_w, image_h, crop) for f in (False, True)]
    raise ValueError(f"num_crops must be one of {CROP_CHOICES}. Received: num_crops={num_crops}")


def train_transform(
    frames: np.ndarray,
    input_size: int,
    rng: np.random.Generator,
    allow_flip: bool = True,
    scales: tuple[float, ...] = MULTISCALE_SCALES,
) -> tuple[np.ndarray, bool]:
    """Multi-scale crop + resize (+ random flip). ``[T,H,W,3] -> [T,S,S,3]``, flipped."""
    h, w = frames.shape[1:3]
    box = multiscale_crop_box(w, h, input_size, rng, scales)
    out = crop_resize(frames, box, input_size, input_size)
    flipped = bool(allow_flip and rng.random() < 0.5)
    if flipped:
        out = out[:, :, ::-1]
    return out, flipped


def eval_transform(
    frames: np.ndarray,
    input_size: int,
    scale_size: int | None = None,
    num_crops: int = 1,
    full_res: bool = False,
) -> np.ndarray:
    """Resize the short side, then the views of :func:`eval_crop_views` (1, 3, 5 or 10).
    ``[T,H,W,3] -> [crops,T,S,S,3]``.

    ``S`` is ``input_size``, or ``scale_size`` with ``full_res`` (as the reference test).
    """
    scale = eval_scale_size(input_size, scale_size)
    crop = scale if full_res else input_size
    frames = resize_short_side(frames, scale)
    h, w = frames.shape[1:3]
    views = []
    for box, flipped in eval_crop_views(w, h, crop, num_crops):
        view = crop_resize(frames, box, crop, crop)  # [T, S, S, 3]
        views.append(view[:, :, ::-1] if flipped else view)
    return np.stack(views)

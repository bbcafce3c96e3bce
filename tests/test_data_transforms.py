"""Spatial transforms: crop sizes/positions of the multi-scale crop, eval crops, normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from tsm_tf.data.transforms import (
    eval_transform,
    multiscale_crop_box,
    normalize,
    resize_short_side,
    train_transform,
)


def coded_clip(t: int, h: int, w: int) -> np.ndarray:
    """Pixel (y, x) of every frame holds (x, y, frame) so crops can be located exactly."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx, yy, np.zeros_like(xx)], -1).astype(np.uint8)
    clip = np.repeat(img[None], t, axis=0)
    clip[..., 2] = np.arange(t)[:, None, None]
    return clip


def test_multiscale_sizes_and_positions():
    # 340x256 frames, 224 input: crop sides from 256 * (1, .875, .75, .66) = 256, 224, 192, 168
    # (224 is within 3 px of the input size); width and height at most one scale step apart.
    sides = [256, 224, 192, 168]
    allowed = {(sides[j], sides[i]) for i in range(4) for j in range(4) if abs(i - j) <= 1}
    rng = np.random.default_rng(0)
    seen_sizes, seen_pos = set(), {}
    for _ in range(3000):
        x, y, w, h = multiscale_crop_box(340, 256, 224, rng)
        assert (w, h) in allowed
        assert 0 <= x and x + w <= 340 and 0 <= y and y + h <= 256
        ws, hs = (340 - w) // 4, (256 - h) // 4
        gx, gy = (x // ws if ws else 0), (y // hs if hs else 0)
        assert (gx * ws, gy * hs) == (x, y)  # on the 5x5 step grid
        seen_sizes.add((w, h))
        seen_pos.setdefault((w, h), set()).add((gx, gy))
    assert seen_sizes == allowed
    # 13 fixed positions: 4 corners, centre, 4 edge midpoints, 4 quarter points
    thirteen = {(0, 0), (4, 0), (0, 4), (4, 4), (2, 2), (0, 2), (4, 2), (2, 4), (2, 0),
                (1, 1), (3, 1), (1, 3), (3, 3)}
    assert seen_pos[(168, 168)] == thirteen


def test_crop_snaps_to_input_size():
    # short side 250 -> sides 250, 218, 187, 165; 250 is within 3 px of input 249 -> 249
    rng = np.random.default_rng(1)
    sides = {v for _ in range(500) for v in multiscale_crop_box(300, 250, 249, rng)[2:]}
    assert sides == {249, 218, 187, 165}


def test_train_crop_is_a_clean_shared_window():
    clip = coded_clip(4, 48, 64)
    rng = np.random.default_rng(0)
    offsets = set()
    for _ in range(200):
        out, flipped = train_transform(clip, 48, rng, allow_flip=False, scales=(1.0,))
        assert out.shape == (4, 48, 48, 3) and not flipped
        x0 = int(out[0, 0, 0, 0])
        # no resize at scale 1: exactly the 48x48 window at x0, the same for every frame
        np.testing.assert_array_equal(out, clip[:, :, x0:x0 + 48])
        offsets.add(x0)
    assert offsets == {0, 4, 8, 12, 16}  # (64 - 48) // 4 = 4 px steps


def test_flip_is_per_clip_and_mirrors():
    clip = coded_clip(3, 48, 64)
    rng = np.random.default_rng(0)
    flips = 0
    for _ in range(100):
        out, flipped = train_transform(clip, 48, rng, allow_flip=True, scales=(1.0,))
        if flipped:
            flips += 1
            x_left = int(out[0, 0, -1, 0])
            np.testing.assert_array_equal(out, clip[:, :, x_left:x_left + 48][:, :, ::-1])
    assert 25 < flips < 75


def test_eval_centre_and_three_crops():
    clip = coded_clip(2, 60, 100)  # short side already 60: no resize with scale_size=60
    c1 = eval_transform(clip, 40, scale_size=60, num_crops=1)
    assert c1.shape == (1, 2, 40, 40, 3)
    np.testing.assert_array_equal(c1[0], clip[:, 10:50, 30:70])  # round((100-40)/2), (60-40)/2
    c3 = eval_transform(clip, 40, scale_size=60, num_crops=3, full_res=True)
    assert c3.shape == (3, 2, 60, 60, 3)  # full resolution: scale_size squares
    step = (100 - 60) // 4
    for k, x in enumerate([0, 4 * step, 2 * step]):  # left, right, centre
        np.testing.assert_array_equal(c3[k], clip[:, :, x:x + 60])
    with pytest.raises(ValueError, match="num_crops"):
        eval_transform(clip, 40, num_crops=7)


def _reference_boxes(w: int, h: int, crop: int, num_crops: int) -> list[tuple[int, int, bool]]:
    """The reference test script's views, from its stated convention: free space split in
    quarter steps; 3 crops left/right/centre at mid height; 5 crops upper-left, upper-right,
    lower-left, lower-right, centre; 10 crops each of those then its mirror image."""
    sx, sy = (w - crop) // 4, (h - crop) // 4
    if num_crops == 3:
        return [(0, 2 * sy, False), (4 * sx, 2 * sy, False), (2 * sx, 2 * sy, False)]
    five = [(0, 0), (4 * sx, 0), (0, 4 * sy), (4 * sx, 4 * sy), (2 * sx, 2 * sy)]
    if num_crops == 5:
        return [(x, y, False) for x, y in five]
    return [(x, y, f) for x, y in five for f in (False, True)]


@pytest.mark.parametrize("num_crops", [3, 5, 10])
@pytest.mark.parametrize("full_res", [False, True])
@pytest.mark.parametrize("hw", [(60, 100), (100, 60), (60, 60)])
def test_eval_multi_crop_views_match_the_reference_boxes(num_crops, full_res, hw):
    h, w = hw
    clip = coded_clip(2, h, w)  # short side 60 = scale_size: no resize
    views = eval_transform(clip, 40, scale_size=60, num_crops=num_crops, full_res=full_res)
    crop = 60 if full_res else 40
    boxes = _reference_boxes(w, h, crop, num_crops)
    assert views.shape == (num_crops, 2, crop, crop, 3)
    for view, (x, y, flipped) in zip(views, boxes, strict=True):
        expect = clip[:, y:y + crop, x:x + crop]
        np.testing.assert_array_equal(view, expect[:, :, ::-1] if flipped else expect)


def test_ten_crops_are_five_crops_and_their_mirrors():
    clip = coded_clip(2, 70, 90)
    five = eval_transform(clip, 40, scale_size=70, num_crops=5)
    ten = eval_transform(clip, 40, scale_size=70, num_crops=10)
    np.testing.assert_array_equal(ten[0::2], five)
    np.testing.assert_array_equal(ten[1::2], five[:, :, :, ::-1])
    assert len({v.tobytes() for v in ten}) == 10  # ten distinct views


@pytest.mark.parametrize("hw, size, expect", [((256, 340), 256, (256, 340)),
                                                ((60, 100), 30, (30, 50)),
                                                ((100, 60), 30, (50, 30)),
                                                ((101, 99), 224, (228, 224))])
def test_resize_short_side(hw, size, expect):
    out = resize_short_side(np.zeros((2, *hw, 3), np.uint8), size)
    assert out.shape == (2, *expect, 3)


def test_eval_default_scale_is_256_over_224():
    out = eval_transform(np.zeros((1, 120, 160, 3), np.uint8), 112)  # scale 112*256//224 = 128
    assert out.shape == (1, 1, 112, 112, 3)
    out = eval_transform(np.zeros((1, 120, 160, 3), np.uint8), 112, full_res=True)
    assert out.shape == (1, 1, 128, 128, 3)


def test_normalize_matches_imagenet_formula():
    x = np.array([[0, 128, 255]], np.uint8)
    got = normalize(x)
    want = (np.array([0, 128, 255]) / 255.0 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    np.testing.assert_allclose(got[0], want, rtol=1e-6)


def test_multiscale_crop_never_exceeds_a_frame_just_below_the_input_size():
    from tsm_tf.data.transforms import fixed_crop_offsets, multiscale_crop_sizes

    for width, height in [(223, 223), (300, 222), (222, 400)]:
        for crop_w, crop_h in multiscale_crop_sizes(width, height, 224):
            assert crop_w <= width and crop_h <= height
            for x, y in fixed_crop_offsets(width, height, crop_w, crop_h):
                assert 0 <= x <= width - crop_w and 0 <= y <= height - crop_h

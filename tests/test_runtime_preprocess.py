"""Runtime preprocessing: the evaluation protocol per frame, equal to the data pipeline's."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tsm_tf.runtime.preprocess import (
    FramePreprocessor,
    crop_frame,
    dequantize,
    preprocess_frame,
    preprocess_spec_for,
    quantize,
)

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
FLOAT_INPUT = {"dtype": "float32", "quantization": None, "mean": list(MEAN), "std": list(STD)}


def random_frame(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def reference_float(frame_bgr: np.ndarray, input_size: int) -> np.ndarray:
    """The protocol written out by hand, float64 arithmetic."""
    h, w = frame_bgr.shape[:2]
    short = input_size * 256 // 224
    new_w, new_h = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
    interp = cv2.INTER_AREA if (new_w * 2 <= w and new_h * 2 <= h) else cv2.INTER_LINEAR
    resized = cv2.resize(frame_bgr, (new_w, new_h), interpolation=interp)
    x0, y0 = round((new_w - input_size) / 2), round((new_h - input_size) / 2)
    rgb = resized[y0:y0 + input_size, x0:x0 + input_size, ::-1].astype(np.float64)
    return (rgb / 255.0 - MEAN) / STD


@pytest.mark.parametrize("hw, size", [((48, 80), 32), ((90, 40), 32), ((37, 37), 32),
                                      ((480, 640), 32)])  # the last one shrinks > 2x: area
def test_float_matches_protocol_written_by_hand(hw, size):
    frame = random_frame(*hw)
    got = preprocess_frame(frame, FLOAT_INPUT, preprocess_spec_for(size))
    assert got.shape == (size, size, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, reference_float(frame, size), atol=2e-6)


def test_rgb_and_bgr_inputs_give_the_same_result():
    bgr = random_frame(50, 70)
    spec = preprocess_spec_for(32)
    a = preprocess_frame(bgr, FLOAT_INPUT, spec, color="bgr")
    b = preprocess_frame(np.ascontiguousarray(bgr[..., ::-1]), FLOAT_INPUT, spec, color="rgb")
    np.testing.assert_array_equal(a, b)


def test_quantize_rounds_half_away_from_zero_and_clips():
    # x / 0.5: 1, -1, 0.5 (tie -> 1), -0.5 (tie -> -1), 2000 (clip), then + zero point -3
    x = np.array([0.5, -0.5, 0.25, -0.25, 1000.0], np.float32)
    np.testing.assert_array_equal(quantize(x, 0.5, -3, np.int8), [-2, -4, -2, -4, 127])
    np.testing.assert_array_equal(quantize(x, 0.5, 128, np.uint8), [129, 127, 129, 127, 255])
    np.testing.assert_allclose(dequantize(np.array([-2, -4], np.int8), 0.5, -3), [0.5, -0.5])


@pytest.mark.parametrize("dtype, zero_point", [("int8", -7), ("uint8", 121)])
def test_quantized_input_is_the_quantized_protocol(dtype, zero_point):
    frame = random_frame(60, 44, seed=3)
    scale = 0.0185
    spec = {**FLOAT_INPUT, "dtype": dtype, "quantization": {"scale": scale,
                                                             "zero_point": zero_point}}
    got = preprocess_frame(frame, spec, preprocess_spec_for(32))
    assert got.dtype == np.dtype(dtype)
    want = np.round(reference_float(frame, 32) / scale) + zero_point
    info = np.iinfo(dtype)
    want = np.clip(want, info.min, info.max)
    # float64 reference vs float32 runtime may differ by one step where x / scale sits at .5
    diff = np.abs(got.astype(np.int32) - want.astype(np.int32))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.999


def test_writes_into_a_given_buffer():
    frame = random_frame(40, 40)
    prep = FramePreprocessor(FLOAT_INPUT, preprocess_spec_for(32))
    out = np.full((1, 32, 32, 3), np.nan, np.float32)
    assert prep(frame, out=out[0]) is not None
    np.testing.assert_array_equal(out[0], preprocess_frame(frame, FLOAT_INPUT,
                                                           preprocess_spec_for(32)))


@pytest.mark.parametrize("color", ["bgr", "rgb"])
@pytest.mark.parametrize("height, width", [(40, 52), (36, 36), (96, 128)])  # up, none, down
def test_reused_buffers_give_what_a_fresh_preprocessor_gives(color, height, width):
    """One preprocessor resizes and crops into the same memory every frame; each frame's
    result still equals that frame preprocessed on its own."""
    prep = FramePreprocessor(FLOAT_INPUT, preprocess_spec_for(32), color=color)
    frames = [random_frame(height, width, seed=s) for s in range(3)]
    crops = [prep.crop_rgb(f) for f in frames]
    assert all(c is crops[0] for c in crops)  # one buffer, overwritten
    for frame in frames:
        fresh = preprocess_frame(frame, FLOAT_INPUT, preprocess_spec_for(32), color=color)
        np.testing.assert_array_equal(prep(frame), fresh)
    # the buffer holds the last frame's crop, in RGB order
    last = frames[-1] if color == "rgb" else frames[-1][..., ::-1]
    np.testing.assert_array_equal(prep.crop_rgb(frames[-1]),
                                  crop_frame(np.ascontiguousarray(last), preprocess_spec_for(32)))


@pytest.mark.parametrize("frame, message", [
    (np.zeros((40, 40), np.uint8), "grayscale"),
    (np.zeros((40, 40, 1), np.uint8), "grayscale"),
    (np.zeros((40, 40, 4), np.uint8), "4 channels"),
    (np.zeros((40, 40, 3), np.float32), "uint8"),
    (np.zeros((2, 40, 40, 3), np.uint8), r"\[H, W, 3\]"),
])
def test_bad_frames_are_refused_with_the_fix(frame, message):
    with pytest.raises(ValueError, match=message):
        preprocess_frame(frame, FLOAT_INPUT, preprocess_spec_for(32))


def test_frame_size_change_within_a_stream_is_refused_until_reset():
    prep = FramePreprocessor(FLOAT_INPUT, preprocess_spec_for(32))
    prep(random_frame(40, 60))
    with pytest.raises(ValueError, match="changed from 60x40 to 50x40"):
        prep(random_frame(40, 50))
    prep.reset()
    prep(random_frame(40, 50))


def test_quantized_input_without_parameters_is_refused():
    spec = {**FLOAT_INPUT, "dtype": "int8", "quantization": None}
    with pytest.raises(ValueError, match="quantization"):
        preprocess_frame(random_frame(40, 40), spec, preprocess_spec_for(32))


def test_equals_the_data_pipeline_on_the_same_frames(tmp_path):
    """The tf.data evaluation pipeline and the runtime give the same numbers per frame."""
    from tsm_tf.data import build_dataset, get_dataset_spec

    frames = [random_frame(48, 80, seed=s) for s in range(4)]  # BGR, non-square
    folder = tmp_path / "clip0"
    folder.mkdir()
    for i, frame in enumerate(frames, start=1):
        cv2.imwrite(str(folder / f"{i:04d}.png"), frame)  # lossless: decodes to these pixels
    (tmp_path / "val.txt").write_text("clip0 4 0\n")
    spec = get_dataset_spec("custom", num_classes=2, frame_template="{:04d}.png")
    ds = build_dataset(spec, root=str(tmp_path), list_file=str(tmp_path / "val.txt"),
                       num_segments=4, input_size=32, batch_size=1, training=False)
    clip = np.asarray(next(iter(ds))[0])[0]  # [T, 32, 32, 3]; 4 of 4 frames: all, in order
    prep = FramePreprocessor(FLOAT_INPUT, preprocess_spec_for(32), color="bgr")
    ours = np.stack([prep(f) for f in frames])
    np.testing.assert_allclose(ours, clip, atol=1e-6, rtol=0)

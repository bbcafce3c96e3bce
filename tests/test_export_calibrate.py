"""Calibration data: clips from a list, frames fed in order with the caches carried."""

import numpy as np
import pytest
from export_helpers import FRAMES, SIZE, synthetic_set, tiny_model

from tsm_tf.data.listfile import read_list_file
from tsm_tf.export.calibrate import (
    CalibrationError,
    calibration_clips,
    calibration_frames,
    calibration_source,
    load_clips,
)
from tsm_tf.export.metadata import temporal_spec
from tsm_tf.models import StreamingTSM


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return synthetic_set(tmp_path_factory.mktemp("synthetic"), num_train=5, num_val=3)


@pytest.fixture(scope="module")
def online():
    return tiny_model("unidirectional", seed=1)


def test_load_clips_in_list_order_with_labels(synthetic):
    data = calibration_source(dataset="synthetic", root=synthetic)
    clips, labels = load_clips(data, num_clips=4, num_segments=FRAMES, input_size=SIZE)
    assert clips.shape == (4, FRAMES, SIZE, SIZE, 3) and clips.dtype == np.float32
    records = read_list_file(str(synthetic / "train.txt"))
    np.testing.assert_array_equal(labels, [r.label for r in records[:4]])
    later, later_labels = load_clips(data, num_clips=1, num_segments=FRAMES, input_size=SIZE,
                                     skip=3)
    np.testing.assert_array_equal(later[0], clips[3])  # skip really skips, order is kept
    assert later_labels[0] == labels[3]
    val = calibration_source(dataset="synthetic", root=synthetic, split="val")
    assert val["list_file"].endswith("val.txt")


def test_calibration_errors(synthetic, tmp_path):
    data = calibration_source(dataset="synthetic", root=synthetic)
    with pytest.raises(CalibrationError, match="has 5 clips, fewer than the 6 asked"):
        load_clips(data, num_clips=6, num_segments=FRAMES, input_size=SIZE)
    with pytest.raises(CalibrationError, match="python -m tsm_tf.data.synthetic --out"):
        calibration_source(dataset="synthetic", root=tmp_path / "nowhere")
    with pytest.raises(CalibrationError, match="not found"):
        calibration_source(dataset="custom", list_file=tmp_path / "missing.txt", num_classes=3)
    with pytest.raises(CalibrationError, match="needs a list of clips"):
        calibration_source(dataset="jester")
    with pytest.raises(CalibrationError, match="Unknown dataset|unknown dataset|not_a_dataset"):
        calibration_source(dataset="not_a_dataset", list_file=synthetic / "train.txt")


@pytest.mark.parametrize("frames_per_step", [1, 2])
def test_streaming_calibration_carries_the_caches(online, frames_per_step):
    streaming = StreamingTSM.from_model(online, frames_per_step=frames_per_step)
    rng = np.random.default_rng(0)
    clips = rng.normal(size=(2, FRAMES, SIZE, SIZE, 3)).astype(np.float32)
    samples = list(calibration_frames(streaming, clips)())
    per_clip = FRAMES // frames_per_step
    assert len(samples) == 2 * per_clip
    for c, clip in enumerate(clips):
        # Reference: the offline model's own per-frame features are not exposed, so replay the
        # stream with step() and compare each sample's states with the previous outputs.
        states = streaming.init_states()
        for i in range(per_clip):
            sample = samples[c * per_clip + i]
            frames = clip[i * frames_per_step:(i + 1) * frames_per_step]
            expected_frames = frames[0][None] if frames_per_step == 1 else frames[None]
            np.testing.assert_array_equal(sample[streaming.frame_input_name], expected_frames)
            for name, value in states.items():
                np.testing.assert_allclose(sample[name], value, atol=1e-6)
            if i == 0:  # a new clip starts from zero caches
                assert all(not np.any(sample[name]) for name in states)
            _, states = streaming.step(expected_frames, states)
        assert any(np.any(v) for v in states.values())  # the caches did fill up


def test_offline_calibration_feeds_whole_clips(online):
    clips = np.zeros((3, FRAMES, SIZE, SIZE, 3), np.float32)
    samples = list(calibration_clips(online, clips)())
    assert len(samples) == 3 and samples[0]["video"].shape == (1, FRAMES, SIZE, SIZE, 3)


def test_temporal_stride():
    # Uniform (TSN) sampling: one frame per segment, so the stride is the mean length / T.
    assert temporal_spec(8, "uniform", [16, 32, 48])["train_frame_stride"] == 4.0
    assert temporal_spec(8, "uniform", None)["train_frame_stride"] is None
    dense = temporal_spec(8, "dense", None, fps=25.0)
    assert dense["sampling"] == "dense" and dense["train_frame_stride"] == 8.0
    assert dense["train_stride_seconds"] == pytest.approx(8 / 25)

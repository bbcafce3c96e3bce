"""Early recognition, class activation maps and resolution changes on tiny models."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from evaluate_helpers import randomize

import tsm_tf
from tsm_tf.evaluate.cam import class_activation_maps, clip_overlays, normalize_cams
from tsm_tf.evaluate.early import early_scores, frame_logits
from tsm_tf.evaluate.loading import ModelMismatchError, check_input
from tsm_tf.evaluate.protocols import model_at_size
from tsm_tf.models import TSM

T, SIZE, K = 4, 32, 5


@pytest.fixture(scope="module")
def online():
    model = tsm_tf.create_model("tsm_online_resnet_tiny", num_classes=K, num_segments=T,
                                input_size=SIZE)
    return randomize(model, seed=1)


@pytest.fixture(scope="module")
def clips():
    return np.random.default_rng(0).normal(size=(3, T, SIZE, SIZE, 3)).astype(np.float32)


def test_streaming_and_offline_frame_logits_agree(online, clips):
    # batch 2 for 3 clips: the streaming runner also pads a partial batch
    offline = frame_logits(online, clips, "frame_logits", batch_size=2)
    streamed = frame_logits(online, clips, "streaming", batch_size=2)
    assert offline.shape == (3, T, K)
    assert np.abs(offline).max() > 0.1  # non-trivial logits
    np.testing.assert_allclose(streamed, offline, rtol=1e-4, atol=1e-4)
    # and so the early predictions agree at every fraction
    fractions = [0.1, 0.3, 0.6, 1.0]
    np.testing.assert_allclose(early_scores(streamed, fractions),
                               early_scores(offline, fractions), rtol=1e-4, atol=1e-4)


def test_full_video_equals_clip_prediction(online, clips):
    full = early_scores(frame_logits(online, clips), [1.0])[0]
    np.testing.assert_allclose(full, np.asarray(online(clips, training=False)), rtol=1e-4,
                               atol=1e-5)


def test_early_prediction_ignores_unseen_frames(online, clips):
    changed = clips.copy()
    changed[:, 2:] = np.random.default_rng(5).normal(size=changed[:, 2:].shape)
    fractions = [0.4, 0.9]  # T=4 (frames at 0.125, 0.375, ...): 2 frames seen, then all 4
    before = early_scores(frame_logits(online, clips), fractions)
    after = early_scores(frame_logits(online, changed), fractions)
    np.testing.assert_allclose(after[0], before[0], rtol=1e-5, atol=1e-6)
    assert np.abs(after[1] - before[1]).max() > 1e-3


def test_early_needs_a_causal_model():
    offline = tsm_tf.create_model("tsm_resnet_tiny", num_classes=K, num_segments=T,
                                  input_size=SIZE)
    with pytest.raises(ModelMismatchError, match="online model"):
        check_input(offline, early=True)
    check_input(tsm_tf.create_model("tsn_resnet_tiny", num_classes=K, num_segments=T,
                                    input_size=SIZE), early=True)


def test_cam_reproduces_class_scores():
    model = randomize(tsm_tf.create_model("tsm_resnet_tiny", num_classes=K, num_segments=T,
                                          input_size=64), seed=2)
    clips = np.random.default_rng(3).normal(size=(2, T, 64, 64, 3)).astype(np.float32)
    targets = np.array([4, 1])
    cams, frame_out = class_activation_maps(model, clips, targets)
    assert cams.shape == (2, T, 2, 2)  # 64 px / 32
    kernel, bias = model.get_layer("fc").get_weights()
    # numpy CAM from the last conv features (the avgpool input)
    features = keras.Model(model.inputs[0], model.get_layer("avgpool").input)(clips)
    features = np.asarray(features).reshape(2, T, 2, 2, -1)
    for n, k in enumerate(targets):
        np.testing.assert_allclose(cams[n], features[n] @ kernel[:, k], rtol=1e-4, atol=1e-5)
    # a frame's class score is the spatial mean of its CAM plus the bias ...
    for n, k in enumerate(targets):
        np.testing.assert_allclose(cams[n].mean(axis=(1, 2)) + bias[k], frame_out[n, :, k],
                                   rtol=1e-4, atol=1e-5)
    # ... and the clip score the mean over frames of those
    clip_logits = np.asarray(model(clips, training=False))
    for n, k in enumerate(targets):
        expected = (cams[n].mean(axis=(1, 2)) + bias[k]).mean()
        assert clip_logits[n, k] == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_cam_overlays():
    cams = np.array([[[0.0, 1.0], [2.0, 3.0]], [[4.0, 5.0], [6.0, 7.0]]])
    norm = normalize_cams(cams)
    assert norm.min() == 0.0 and norm.max() == 1.0
    assert norm[1, 1, 1] == 1.0 and norm[0, 0, 0] == 0.0  # scaled over the whole clip
    np.testing.assert_array_equal(normalize_cams(np.ones((2, 3, 3))), np.zeros((2, 3, 3)))
    frames = np.full((2, 16, 16, 3), 128, np.uint8)
    out = clip_overlays(frames, cams)
    assert out.shape == (2, 16, 16, 3) and out.dtype == np.uint8
    # JET: the hot corner is red-dominated, the cold one blue-dominated
    hot, cold = out[1, -1, -1].astype(int), out[0, 0, 0].astype(int)
    assert hot[0] > hot[2] and cold[2] > cold[0]


def test_model_at_size_keeps_weights(online):
    assert model_at_size(online, SIZE) is online
    bigger = model_at_size(online, 48)
    assert bigger.tsm_config["input_size"] == (48, 48)
    # independent route: the same architecture built at 48 px, weights set in order
    config = online.tsm_config | {"input_size": 48}
    direct = TSM(**config)
    direct.set_weights(online.get_weights())
    x = np.random.default_rng(4).normal(size=(2, T, 48, 48, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(bigger(x, training=False)),
                               np.asarray(direct(x, training=False)), rtol=1e-5, atol=1e-6)

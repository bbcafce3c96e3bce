"""Report figures: PNGs that decode, at the requested pixel size, written atomically."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np

from tsm_tf.evaluate.plots import save_cam_strip, save_confusion_matrix, save_early_curve
from tsm_tf.io_utils import atomic_write_json


def decode(path):
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, f"{path} does not decode as an image"
    return image


def no_temp_files(folder):
    return [f for f in os.listdir(folder) if f.startswith(".")] == []


def test_confusion_matrix_png(tmp_path):
    cm = np.array([[3, 1, 0], [0, 2, 2], [1, 0, 4]])
    path = save_confusion_matrix(cm, ["a", "b", "c"], tmp_path / "cm.png", figsize=(5, 4),
                                 dpi=50)
    assert decode(path).shape == (4 * 50, 5 * 50, 3)
    assert no_temp_files(tmp_path)
    # many classes: drawn without names, default size grows with the class count
    big = np.random.default_rng(0).integers(0, 5, (150, 150))
    small_default = decode(save_confusion_matrix(cm, ["a", "b", "c"], tmp_path / "s.png", dpi=20))
    big_default = decode(save_confusion_matrix(big, [str(i) for i in range(150)],
                                               tmp_path / "big.png", dpi=20))
    assert big_default.shape[0] > small_default.shape[0]


def test_confusion_matrix_shows_counts(tmp_path):
    # a matrix with all mass on the diagonal is dark there and light off it
    cm = np.diag([5, 5])
    image = decode(save_confusion_matrix(cm, ["x", "y"], tmp_path / "d.png", figsize=(4, 4),
                                         dpi=100)).astype(int)
    assert image.min() < 100  # dark cells exist
    assert image.shape == (400, 400, 3)


def test_early_curve_png(tmp_path):
    rows = [{"fraction": f, "frames": i + 1, "top1": f / 2, "top5": f} for i, f in
            enumerate([0.25, 0.5, 0.75, 1.0])]
    path = save_early_curve(rows, tmp_path / "early.png", figsize=(6, 4), dpi=60,
                            extra=[rows], labels=("TSM", "TSN"))
    assert decode(path).shape == (240, 360, 3)
    assert no_temp_files(tmp_path)


def test_cam_strip_png(tmp_path):
    frames = np.zeros((4, 32, 32, 3), np.uint8)
    overlay = np.full((4, 32, 32, 3), 200, np.uint8)
    path = save_cam_strip(frames, [("TSM", overlay), ("TSN", overlay)], tmp_path / "c.png",
                          title="clip", figsize=(8, 6), dpi=40)
    assert decode(path).shape == (6 * 40, 8 * 40, 3)


def test_atomic_json_replaces_and_cleans(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("old")
    atomic_write_json(path, {"a": np.float32(0.5), "b": float("nan"), "c": np.arange(2)})
    assert json.loads(path.read_text()) == {"a": 0.5, "b": None, "c": [0, 1]}
    assert no_temp_files(tmp_path)

"""Helpers for the evaluation tests: a tiny frame-folder dataset written with OpenCV in the
reference format, an independent clip loader (segment centres / starts, written from the
reference formulas), and tiny models with non-trivial weights."""

from __future__ import annotations

import os

import cv2
import numpy as np

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def write_dataset(root, num_clips=6, num_frames=10, size=40, num_classes=3, seed=0,
                  class_names=True, width=None):
    """Clips of smooth random colour blobs drifting over time, ``size`` x ``width`` (default
    square) pixels. Returns (list path, labels)."""
    width = width or size
    rng = np.random.default_rng(seed)
    lines, labels = [], []
    for i in range(num_clips):
        rel = f"frames/clip_{i:02d}"
        os.makedirs(os.path.join(root, rel), exist_ok=True)
        base = rng.uniform(0, 255, (6, 6, 3)).astype(np.float32)
        drift = rng.uniform(-1, 1, (6, 6, 3)).astype(np.float32) * 20
        for f in range(num_frames):
            small = np.clip(base + f * drift, 0, 255).astype(np.uint8)
            rgb = cv2.resize(small, (width, size), interpolation=cv2.INTER_CUBIC)
            path = os.path.join(root, rel, f"img_{f + 1:05d}.jpg")
            assert cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        label = i % num_classes
        labels.append(label)
        lines.append(f"{rel} {num_frames} {label}\n")
    list_path = os.path.join(root, "val.txt")
    with open(list_path, "w") as f:
        f.writelines(lines)
    if class_names:
        with open(os.path.join(root, "classes.txt"), "w") as f:
            f.writelines(f"class_{chr(97 + k)}\n" for k in range(num_classes))
    return list_path, np.array(labels)


def segment_frames(num_frames, num_segments, where="centre"):
    """1-based frame numbers: the centre (or start) of each of T equal segments."""
    tick = num_frames / num_segments
    offset = 0.5 if where == "centre" else 0.0
    return [int(tick * (t + offset)) + 1 for t in range(num_segments)]


def load_clip(root, rel, frame_numbers, crop=None):
    """Normalised RGB clip [T, H, W, 3] read with cv2; ``crop=(y, x, side)``."""
    frames = []
    for n in frame_numbers:
        bgr = cv2.imread(os.path.join(root, rel, f"img_{n:05d}.jpg"), cv2.IMREAD_COLOR)
        rgb = bgr[..., ::-1].astype(np.float32) / 255.0
        if crop is not None:
            y, x, s = crop
            rgb = rgb[y:y + s, x:x + s]
        frames.append((rgb - MEAN) / STD)
    return np.stack(frames)


def read_list(list_path):
    rows = []
    with open(list_path) as f:
        for line in f:
            rel, n, label = line.split()
            rows.append((rel, int(n), int(label)))
    return rows


def randomize(model, seed=0):
    """Give a freshly built model non-trivial weights: random BN statistics and affine
    parameters, a classifier with logits of order 1."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        names = [w.path.split("/")[-1] for w in layer.weights]
        new = []
        for name, w in zip(names, weights, strict=True):
            if name == "moving_variance" or name == "gamma":
                new.append(rng.uniform(0.5, 1.5, w.shape).astype(w.dtype))
            elif name in ("moving_mean", "beta", "bias"):
                new.append(rng.normal(0, 0.2, w.shape).astype(w.dtype))
            elif layer.name == "fc":
                new.append(rng.normal(0, 0.5, w.shape).astype(w.dtype))
            else:
                new.append(w)
        layer.set_weights(new)
    return model

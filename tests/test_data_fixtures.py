"""Tiny data for the data tests (helpers only, no tests here).

Frame ``i`` (1-based) of every clip is a flat colour that encodes its index, so a test can
tell which frame the pipeline picked after crops, resizes and JPEG/video compression:
``R = code(i)``, ``G = 200``, ``B = 30`` (RGB).
"""

from __future__ import annotations

import os

import cv2
import numpy as np

G_VALUE, B_VALUE = 200, 30


def code(i: int) -> int:
    return 8 * int(i) + 4


def decode_index(red: float) -> int:
    # Video codecs (and a JPEG re-encode after them) darken red by 1-5 levels here, so the
    # window is centred 2 levels below the code: errors in [-6, +2) decode correctly.
    return int(round((float(red) - 4 + 2) / 8))


def frame_bgr(i: int, h: int = 48, w: int = 64) -> np.ndarray:
    img = np.empty((h, w, 3), np.uint8)
    img[...] = (B_VALUE, G_VALUE, code(i))  # OpenCV order
    return img


def write_frames(folder: str, n: int, template: str = "img_{:05d}.jpg", h: int = 48,
                 w: int = 64) -> str:
    os.makedirs(folder, exist_ok=True)
    for i in range(1, n + 1):
        assert cv2.imwrite(os.path.join(folder, template.format(i)), frame_bgr(i, h, w))
    return folder


FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".webm": "VP80"}


def write_video(path: str, n: int, h: int = 48, w: int = 64, fps: int = 10) -> str:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    ext = os.path.splitext(path)[1]
    wr = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*FOURCC[ext]), fps, (w, h))
    assert wr.isOpened(), path
    for i in range(1, n + 1):
        wr.write(frame_bgr(i, h, w))
    wr.release()
    return path


def write_text(path: str, text: str) -> str:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def clip_indices(clip_rgb_uint8_or_float: np.ndarray, denormalize: bool = True) -> list[int]:
    """Frame indices of a ``[T, H, W, 3]`` clip from the pipeline (normalised by default)."""
    x = np.asarray(clip_rgb_uint8_or_float, np.float64)
    if denormalize:
        mean = np.array([0.485, 0.456, 0.406])
        std = np.array([0.229, 0.224, 0.225])
        x = (x * std + mean) * 255.0
    return [decode_index(f[..., 0].mean()) for f in x]

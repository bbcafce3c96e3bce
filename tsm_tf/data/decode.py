"""Reading frames: JPEG files in a folder, JPEG bytes, or a raw video decoded with OpenCV.

Frames come back as uint8 ``[N, H, W, 3]`` **BGR** (OpenCV order; the pipeline converts the
small, cropped result to RGB). Every failure is a :class:`DataError` naming the file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import cv2
import numpy as np

from tsm_tf.data.errors import DataError


def _stack(frames: list[np.ndarray]) -> np.ndarray:
    h, w = frames[0].shape[:2]
    same = [f if f.shape[:2] == (h, w) else cv2.resize(f, (w, h)) for f in frames]
    return np.stack(same)


def read_frame_files(folder: str, indices: Sequence[int], template: str) -> np.ndarray:
    """Decode frames ``indices`` (1-based) of a frame folder. ``-> [len(indices), H, W, 3]``."""
    cache: dict[int, np.ndarray] = {}
    out = []
    for i in indices:
        i = int(i)
        if i not in cache:
            path = os.path.join(folder, template.format(i))
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if img is None:
                if not os.path.exists(path):
                    raise DataError(
                        f"missing frame file {path} (the list says the clip has at least {i} "
                        "frames; re-extract the clip or fix its frame count)", "missing_frame")
                raise DataError(f"undecodable image {path} (corrupt or not a JPEG/PNG)",
                                "bad_image")
            cache[i] = img
        out.append(cache[i])
    return _stack(out)


def decode_jpegs(blobs: Sequence[bytes], where: str = "") -> np.ndarray:
    """Decode encoded images (e.g. from a TFRecord). ``-> [len(blobs), H, W, 3]``."""
    out = []
    for k, b in enumerate(blobs):
        img = cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR) if len(b) else None
        if img is None:
            raise DataError(f"undecodable image #{k} of {where}", "bad_image")
        out.append(img)
    return _stack(out)


class ShortVideoError(Exception):
    """The video has fewer frames than its header claimed."""

    def __init__(self, actual: int):
        super().__init__(f"video ended after {actual} frames")
        self.actual = actual


def _open(path: str) -> cv2.VideoCapture:
    if not os.path.exists(path):
        raise DataError(f"missing video file {path}", "missing_video")
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        cap.release()
        raise DataError(f"undecodable video {path} (OpenCV/FFmpeg cannot open it)", "bad_video")
    return cap


def count_video_frames(path: str, exact: bool = False) -> int:
    """Frame count from the container header, or by decoding (``exact`` or no header count)."""
    cap = _open(path)
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if exact or n <= 0:
            n = 0
            while cap.grab():
                n += 1
    finally:
        cap.release()
    if n <= 0:
        raise DataError(f"undecodable video {path} (no frames could be decoded)", "bad_video")
    return n


def read_video_frames(path: str, indices: Sequence[int]) -> np.ndarray:
    """Decode frames ``indices`` (1-based) of a video by reading it sequentially.

    Sequential ``grab`` is slower than seeking but exact for every codec.

    Raises:
        ShortVideoError: the video ended before the largest index (retry with its true length).
        DataError: the video cannot be opened or decoded.
    """
    want = sorted({int(i) for i in indices})
    cap = _open(path)
    got: dict[int, np.ndarray] = {}
    try:
        pos = 0
        for target in want:
            while pos < target:
                if not cap.grab():
                    if pos == 0:
                        raise DataError(f"undecodable video {path} (no frames decoded)",
                                        "bad_video")
                    raise ShortVideoError(pos)
                pos += 1
            ok, img = cap.retrieve()
            if not ok or img is None:
                raise DataError(f"undecodable frame {target} of video {path}", "bad_video")
            got[target] = img
    finally:
        cap.release()
    return _stack([got[int(i)] for i in indices])


class FrameCountCache:
    """Thread-safe cache of video frame counts (header first, corrected when a read runs short).

    Entries are keyed by path, size and modification time, so a re-encoded file is counted
    again. One process-wide instance (``FRAME_COUNTS``) serves every dataset, so a correction
    found in one epoch holds for the next even though training rebuilds its dataset per epoch.
    """

    def __init__(self) -> None:
        self._counts: dict[tuple, int] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(path: str) -> tuple:
        try:
            st = os.stat(path)
        except OSError:
            return (path,)
        return (path, st.st_size, st.st_mtime_ns)

    def get(self, path: str) -> int:
        n = self.known(path)
        if n is None:
            n = count_video_frames(path)
            self.set(path, n)
        return n

    def known(self, path: str) -> int | None:
        """The count already measured for ``path`` (no decoding), or ``None``."""
        key = self._key(path)
        with self._lock:
            return self._counts.get(key)

    def set(self, path: str, n: int) -> None:
        key = self._key(path)
        with self._lock:
            self._counts[key] = n


FRAME_COUNTS = FrameCountCache()

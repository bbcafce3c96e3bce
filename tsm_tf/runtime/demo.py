"""The video / camera demo: a streaming recognizer over OpenCV frames, annotated output.

Every input frame is kept; the model sees one frame in ``every`` (default: the stride that
matches the model's training rate at the source's frame rate), and each frame is drawn with
the latest prediction: smoothed label, confidence, the model call's ms and the loop's fps.
Headless (``out`` given) it writes an annotated video (same size, fps and frame count as the
input); otherwise it shows a window (q or Esc quits).

Example (needs a model file, so not run as a doctest)::
    summary = run_demo("online_tsm_int8.tflite", video="clip.mp4", out="annotated.mp4")
    summary["frames"], summary["last_label"]
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from tsm_tf.common.progress import Progress
from tsm_tf.runtime.recognizer import Recognizer, Result

WINDOW = "tsm_tf demo"
# What the camera is asked for: the reference online demo's 320x240 ("a lower resolution for
# speed up"). The frame is resized to the model's short side anyway, and a VGA frame costs
# the recognizer about twice the resize time (benchmarks/recognizer_loop.py).
DEFAULT_CAMERA_SIZE = (320, 240)
# Output codec per file extension (OpenCV fourcc): mp4v in .mp4, Motion JPEG in .avi.
_CODECS = {".mp4": "mp4v", ".avi": "MJPG"}


class DemoError(RuntimeError):
    """A source or output the demo cannot use (the message says which and why)."""


@dataclass
class Source:
    """An opened video file or camera."""

    capture: cv2.VideoCapture
    name: str
    fps: float
    frame_count: int | None  # None for cameras (or files that do not say)
    size: tuple[int, int]  # (width, height)
    first: np.ndarray  # the first frame, already read


def open_source(video: str | None = None, camera: int | None = None,
                camera_size: tuple[int, int] | None = DEFAULT_CAMERA_SIZE) -> Source:
    """Open a video file or a camera and read its first frame, or raise ``DemoError``.

    A camera is asked for ``camera_size`` ``(width, height)`` frames (None: its default); it
    may choose another size, which ``Source.size`` reports.
    """
    if (video is None) == (camera is None):
        raise ValueError("Give exactly one of video= or camera=.")
    if video is not None:
        if not os.path.isfile(video):
            raise FileNotFoundError(f"Video {video!r} not found.")
        capture, name = cv2.VideoCapture(video), repr(video)
        if not capture.isOpened():
            raise DemoError(f"Video {name} cannot be opened: not a video OpenCV can decode "
                            "(convert it, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4).")
    else:
        capture, name = cv2.VideoCapture(int(camera)), f"camera {camera}"
        if not capture.isOpened():
            raise DemoError(f"{name.capitalize()} cannot be opened: is it connected, free (not "
                            "used by another program) and readable by this user? Try another "
                            "index, or --video FILE.")
        if camera_size is not None:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, int(camera_size[0]))
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, int(camera_size[1]))
    ok, first = capture.read()
    if not ok or first is None:
        capture.release()
        raise DemoError(f"{name.capitalize()} gave no frame: the file is empty or cannot be "
                        "decoded." if video is not None else f"{name} opened but gave no frame.")
    fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if video is not None else 0
    return Source(capture, name, fps if 1.0 <= fps <= 1000.0 else 30.0, count or None,
                  (first.shape[1], first.shape[0]), first)


def frames_of(source: Source) -> Iterator[np.ndarray]:
    """The source's frames (BGR uint8), the first one included."""
    yield source.first
    while True:
        ok, frame = source.capture.read()
        if not ok or frame is None:
            return
        yield frame


def annotate(frame: np.ndarray, result: Result | None, loop_fps: float) -> np.ndarray:
    """Draw label, confidence, model ms and loop fps on ``frame`` (in place) and return it."""
    h, w = frame.shape[:2]
    scale = max(0.35, min(w, h) / 480)
    thickness = max(1, int(round(scale * 2)))
    if result is None:
        lines = ["warming up..."]
    else:
        lines = [f"{result.smoothed_label}  {100 * result.smoothed_score:.0f}%",
                 f"{result.ms:.1f} ms/frame  {loop_fps:.1f} fps"]
    y = int(24 * scale) + 4
    for text in lines:
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        cv2.rectangle(frame, (4, y - th - 4), (8 + tw, y + base), (0, 0, 0), cv2.FILLED)
        cv2.putText(frame, text, (6, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                    thickness, cv2.LINE_AA)
        y += th + base + 8
    return frame


def _has_display() -> bool:
    try:
        cv2.namedWindow(WINDOW)
    except cv2.error:
        return False
    return True


def run_demo(model: str, *, video: str | None = None, camera: int | None = None,
             out: str | None = None, smoothing: str = "reference", every: int | None = None,
             num_threads: int | None = None, delegate=None, max_frames: int | None = None,
             progress: bool = True,
             camera_size: tuple[int, int] | None = DEFAULT_CAMERA_SIZE) -> dict:
    """Run the recognizer over a video or camera; write ``out`` or show a window.

    Returns a summary: frames read and annotated, model calls, the expected frame count, whether
    the video ended early, the stride used, the last smoothed label and every frame's label.
    """

    if every is not None and int(every) < 1:
        raise ValueError(f"--every must be >= 1. Received: {every}")
    fourcc = _fourcc_for(out) if out is not None else None
    recognizer = Recognizer.from_file(model, num_threads=num_threads, smoothing=smoothing,
                                      delegate=delegate)
    source = open_source(video=video, camera=camera, camera_size=camera_size)
    try:
        return _run(recognizer, source, model=model, video=video, out=out, fourcc=fourcc,
                    every=every, max_frames=max_frames, progress=progress)
    finally:
        source.capture.release()  # every path: errors included (releasing twice is harmless)


def _fourcc_for(out: str) -> str:
    """The codec OpenCV writes ``out`` with, chosen by its extension."""
    extension = os.path.splitext(out)[1].lower()
    if extension not in _CODECS:
        raise DemoError(f"Cannot write {out!r}: use an output name ending in "
                        f"{' or '.join(_CODECS)}.")
    return _CODECS[extension]


def _run(recognizer: Recognizer, source, *, model: str, video: str | None, out: str | None,
         fourcc: str | None, every: int | None, max_frames: int | None, progress: bool) -> dict:
    from tsm_tf.io_utils import _replace_from_temp

    stride = recognizer.stride_for_fps(source.fps) if every is None else int(every)
    if out is None and not _has_display():
        raise DemoError("No display here (headless OpenCV or no $DISPLAY): give --out OUT.mp4 "
                        "to write the annotated video instead.")
    summary = {"model": model, "source": source.name, "fps": source.fps, "stride": stride,
               "expected_frames": source.frame_count, "frames": 0, "model_calls": 0,
               "ended_early": False, "stopped": False, "labels": [], "last_label": None,
               "out": out}

    def loop(writer: cv2.VideoWriter | None) -> None:
        result: Result | None = None
        bar = Progress(source.frame_count or 0, unit="frames", label=f"demo {source.name}",
                       every=2.0, enabled=progress and bool(source.frame_count))
        start = time.perf_counter()
        try:
            for index, frame in enumerate(frames_of(source)):
                if max_frames is not None and index >= max_frames:
                    break
                if index % stride == 0:
                    latest = recognizer(frame)
                    if latest is not None:
                        result = latest
                        summary["model_calls"] += 1
                summary["frames"] = index + 1
                loop_fps = (index + 1) / max(time.perf_counter() - start, 1e-9)
                annotate(frame, result, loop_fps)
                summary["labels"].append(result.smoothed_label if result else None)
                if writer is not None:
                    writer.write(frame)
                else:
                    cv2.imshow(WINDOW, frame)
                    if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                        summary["stopped"] = True
                        break
                bar.update(index + 1)
        except KeyboardInterrupt:
            summary["stopped"] = True  # keep what was written so far
        finally:
            bar.update(summary["frames"], force=True)
            source.capture.release()
        summary["last_label"] = result.smoothed_label if result else None

    if out is None:
        try:
            loop(None)
        finally:
            cv2.destroyAllWindows()
    else:
        def write(tmp: str) -> None:
            writer = cv2.VideoWriter(tmp, cv2.VideoWriter.fourcc(*fourcc), source.fps,
                                     source.size)
            if not writer.isOpened():
                other = next(e for e, c in _CODECS.items() if c != fourcc)
                raise DemoError(f"Cannot write {out!r}: OpenCV has no {fourcc} encoder here; "
                                f"try an output name ending in {other}.")
            try:
                loop(writer)
            finally:
                writer.release()

        try:
            _replace_from_temp(out, write, suffix=os.path.splitext(out)[1])
        except OSError as error:
            raise DemoError(f"Cannot write {out!r}: {error.strerror or error}.") from None
    expected = source.frame_count
    if (video is not None and expected and max_frames is None and not summary["stopped"]
            and summary["frames"] < expected):
        summary["ended_early"] = True
    return summary

"""The streaming recognizer: camera or video frames in, smoothed action labels out.

``Recognizer.from_file("model.tflite")`` reads the sidecar (``docs/sidecar.md``: labels, input
size and normalisation or quantization, state names, training stride), refuses an offline
model, and runs frames through ``preprocess`` -> ``StreamingSession`` -> ``smoothing``.

Which frames to give it is the caller's: an online model learned motion at its training frame
stride, so feed one frame every ``recognizer.stride_for_fps(fps)`` source frames (``stream``
does this). A model taking F frames per step collects F frames, then runs once.

Example (needs a model file, so not run as a doctest)::
    recognizer = Recognizer.from_file("online_tsm_int8.tflite", smoothing="reference")
    result = recognizer(frame_bgr)          # one frame, any size, uint8
    result.smoothed_label, result.smoothed_score
    recognizer.reset()                      # new video or scene cut
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from tsm_tf.common.streaming import streaming_problem
from tsm_tf.runtime.preprocess import FramePreprocessor
from tsm_tf.runtime.session import StreamingSession
from tsm_tf.runtime.smoothing import Smoother, make_smoother, softmax


@dataclass
class Result:
    """The recognizer's answer after a frame (the last frame of a multi-frame step).

    ``logits`` and ``probabilities`` are ``[num_classes]`` float32 for that frame; ``label`` /
    ``score`` its own top class; ``smoothed_label`` / ``smoothed_score`` after smoothing.
    ``frame_index`` counts the frames given to the recognizer since ``reset()`` (from 0);
    ``ms`` is the time of the call (preprocessing, model, cache hand-over, smoothing).
    """

    logits: np.ndarray
    probabilities: np.ndarray
    index: int
    label: str
    score: float
    smoothed_index: int
    smoothed_label: str
    smoothed_score: float
    frame_index: int
    ms: float


def _close(a: Mapping | None, b: Mapping | None) -> bool:
    if not a or not b:
        return not a and not b
    return (abs(float(a["scale"]) - float(b["scale"])) <= 1e-6 * abs(float(b["scale"]))
            and int(a["zero_point"]) == int(b["zero_point"]))


def _check_sections(sidecar: Mapping, where: str | os.PathLike | None = None) -> None:
    """Refuse a sidecar without the sections the recognizer reads, naming the first missing."""
    from tsm_tf.sidecar import SidecarError

    of = f" of {os.fspath(where)!r}" if where is not None else ""
    for key in ("input", "preprocess"):
        if not isinstance(sidecar.get(key), Mapping):
            raise SidecarError(f"The sidecar{of} has no {key!r} section: it was not written by "
                               "converters/to_tflite.py (or is damaged); convert again.")
    states = sidecar.get("states") or []
    if not isinstance(states, list) or not all(
            isinstance(s, Mapping) and "input" in s and "output" in s for s in states):
        raise SidecarError(f"The sidecar{of} lists states without 'input' and 'output' names; "
                           "convert again.")


class Recognizer:
    """A streaming (online) TSM on LiteRT with preprocessing, cache carrying and smoothing.

    Args:
        session: the model's ``StreamingSession``.
        sidecar: the model's sidecar dict (``tsm_tf.sidecar.read_sidecar``).
        smoothing: ``"none"``, ``"mean"``, ``"mean:K"``, ``"reference"`` (default; the
            reference online demo's rule) or a ``Smoother``.
        color: channel order of the frames given: ``"bgr"`` (OpenCV) or ``"rgb"``.
    """

    def __init__(self, session: StreamingSession, sidecar: Mapping,
                 smoothing: str | Smoother | None = "reference", color: str = "bgr"):
        check_streaming(sidecar)
        _check_sections(sidecar)
        self.session = session
        self.sidecar = dict(sidecar)
        frame = session.frame
        if frame is None or len(frame.shape) not in (4, 5) or frame.shape[0] != 1:
            raise ValueError(f"The model's inputs {sorted(session.inputs)} are not one frame "
                             "input [1, H, W, 3] (or [1, F, H, W, 3]) plus states.")
        input_spec = dict(self.sidecar["input"])
        # The interpreter's tensor is the truth; the sidecar must agree with it.
        if input_spec.get("dtype") != frame.dtype.name or not _close(
                input_spec.get("quantization"), frame.quantization):
            raise ValueError(
                f"The sidecar says the input is {input_spec.get('dtype')} "
                f"{input_spec.get('quantization')}, the model's tensor {frame.name!r} is "
                f"{frame.dtype.name} {frame.quantization}: the sidecar belongs to another "
                "model; convert again.")
        input_spec["quantization"] = frame.quantization
        self.preprocessor = FramePreprocessor(input_spec, self.sidecar["preprocess"], color)
        if tuple(self.preprocessor.crop_hw) != tuple(frame.shape[-3:-1]):
            raise ValueError(f"The sidecar crops {self.preprocessor.crop_hw} but the model "
                             f"takes {frame.shape[-3:-1]} frames: convert again.")
        self.labels = list(self.sidecar.get("labels") or [])
        num_classes = session.logits.shape[-1]
        if len(self.labels) != num_classes:
            self.labels = [str(i) for i in range(num_classes)]
        self.smoother = make_smoother(smoothing)
        self.frames_per_step = session.frames_per_step
        self._pending = 0  # frames written into the input of a multi-frame step
        self._frames = 0

    @classmethod
    def from_file(cls, path: str | os.PathLike, num_threads: int | None = None,
                  smoothing: str | Smoother | None = "reference", delegate=None, *,
                  color: str = "bgr", backend: str | None = None) -> Recognizer:
        """Load a streaming ``.tflite`` and its sidecar (the ``.json`` beside it or embedded)."""
        from tsm_tf.sidecar import read_sidecar

        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Model file {path!r} not found: give the .tflite written "
                                    "by converters/to_tflite.py.")
        sidecar = read_sidecar(path)
        check_streaming(sidecar, path)
        _check_sections(sidecar, path)
        states = [(s["input"], s["output"]) for s in sidecar.get("states") or []]
        session = StreamingSession.open(path, num_threads=num_threads, delegate=delegate,
                                        backend=backend, states=states)
        return cls(session, sidecar, smoothing=smoothing, color=color)

    # -- temporal rate ----------------------------------------------------------------------
    def stride_for_fps(self, fps: float | None = None) -> int:
        """Source frames between two frames given to the model, to match training's rate.

        From the training stride in seconds when the sidecar knows it and ``fps`` is given,
        else the training stride in frames; at least 1.
        """
        temporal = self.sidecar.get("temporal") or {}
        seconds = temporal.get("train_stride_seconds")
        if fps and seconds:
            return max(1, int(round(float(seconds) * float(fps))))
        frames = temporal.get("train_frame_stride")
        return max(1, int(round(float(frames)))) if frames else 1

    @property
    def stride(self) -> int:
        """``stride_for_fps()`` without a frame rate: the training stride in frames."""
        return self.stride_for_fps(None)

    # -- frames ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Start a new video: zero caches, empty smoothing history, any frame size."""
        self.session.reset_states()
        self.smoother.reset()
        self.preprocessor.reset()
        self._pending = 0
        self._frames = 0

    def __call__(self, frame: np.ndarray) -> Result | None:
        """Run one uint8 frame ``[H, W, 3]``; None while a multi-frame step is incomplete."""
        start = time.perf_counter()
        rgb = self.preprocessor.crop_rgb(frame)  # checks the frame; may raise
        buffer = self.session.frame_buffer()  # [1, H, W, 3] or [1, F, H, W, 3]
        try:
            slot = buffer[0] if self.frames_per_step == 1 else buffer[0, self._pending]
            self.preprocessor.values(rgb, out=slot)  # written into the interpreter's input
        finally:
            buffer = slot = None  # no view into the interpreter may outlive this (invoke)
        self._frames += 1
        self._pending += 1
        if self._pending < self.frames_per_step:
            return None
        self._pending = 0
        logits = self.session.run().reshape(self.frames_per_step, -1)  # [F, K]
        for row in logits:
            smoothed, smoothed_score = self.smoother.update(row)
        last = logits[-1]
        probabilities = softmax(last)
        index = int(np.argmax(last))
        return Result(
            logits=last, probabilities=probabilities, index=index, label=self.labels[index],
            score=float(probabilities[index]), smoothed_index=smoothed,
            smoothed_label=self.labels[smoothed], smoothed_score=smoothed_score,
            frame_index=self._frames - 1, ms=1000 * (time.perf_counter() - start))

    def stream(self, frames: Iterable[np.ndarray], fps: float | None = None,
               stride: int | None = None) -> Iterator[Result]:
        """Results for every ``stride``-th frame of ``frames`` (default: the matched stride
        at ``fps``), from a reset state. ``Result.frame_index`` counts the frames given to the
        model."""
        stride = self.stride_for_fps(fps) if stride is None else int(stride)
        if stride < 1:
            raise ValueError(f"stride must be >= 1. Received: stride={stride}")
        self.reset()
        for position, frame in enumerate(frames):
            if position % stride:
                continue
            result = self(frame)
            if result is not None:
                yield result


def check_streaming(sidecar: Mapping, where: str = "the model") -> None:
    """Refuse an offline model (or one with a bi-directional shift) with the reason."""
    model = sidecar.get("model") or {}
    problem = streaming_problem(model)
    if model.get("mode") != "streaming" or problem:
        raise ValueError(
            f"{where} is an offline model (mode {model.get('mode')!r}, shift "
            f"{model.get('shift')!r}): it takes whole clips"
            + (f", and {problem}." if problem else "; convert its streaming form "
               "(converters/to_tflite.py --mode streaming)."))

"""The streaming recognizer runtime: LiteRT models fed frame by frame, without TensorFlow.

A runtime-only install needs ``ai-edge-litert`` (or ``tflite-runtime``), numpy and OpenCV.

- ``preprocess``: the evaluation protocol per frame (``preprocess_frame``, ``quantize``),
  shared with ``tsm_tf.data``.
- ``smoothing``: ``"none"``, ``"mean:K"``, ``"reference"`` (``make_smoother``).
- ``backend``: interpreter choice (``ai_edge_litert``, ``tflite_runtime``, ``tf.lite``),
  threads, delegates.
- ``session``: one model's signature resolved once; caches carried in place between calls.
- ``recognizer``: ``Recognizer.from_file(path)``, ``recognizer(frame) -> Result``.
- ``demo``: the annotated video / camera loop behind ``mobile/demo.py``.

Example (needs a model file, so not run as a doctest)::
    from tsm_tf.runtime import Recognizer
    recognizer = Recognizer.from_file("online_tsm_int8.tflite")
    for result in recognizer.stream(frames_bgr, fps=30):
        print(result.label, result.score)

Submodules are imported on first use, so ``tsm_tf.data`` can share the preprocessing without
loading the interpreter.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "preprocess_frame": "preprocess", "quantize": "preprocess", "dequantize": "preprocess",
    "FramePreprocessor": "preprocess", "IMAGENET_MEAN": "preprocess",
    "IMAGENET_STD": "preprocess",
    "make_smoother": "smoothing", "softmax": "smoothing", "SMOOTHING_RULES": "smoothing",
    "load_interpreter": "backend", "available_backends": "backend",
    "RuntimeBackendError": "backend",
    "StreamingSession": "session",
    "Recognizer": "recognizer", "Result": "recognizer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f"tsm_tf.runtime.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'tsm_tf.runtime' has no attribute {name!r}")

"""What the recognizer loop adds to the model's per-frame time (target: under 15 %).

Streaming TSM-MobileNetV2 224x224 (float32 and int8, the models of
``benchmarks/streaming_overhead.py``) run by ``tsm_tf.runtime.Recognizer`` on camera frames
of two sizes: 320x240 (what the reference online demo asks its camera for) and 640x480.
Three entries are timed interleaved in rounds (shuffled order each round):

  model       the model step an application pays: ``StreamingSession.run()`` (model call,
              caches handed over in place, logits out)
  recognizer  ``recognizer(frame)``: checks, preprocessing (resize, centre crop, colour order,
              normalise or quantize by lookup table, written into the input tensor), the
              model step, smoothing (the reference rule) and the ``Result``
  loop work   preprocessing + smoothing alone, as the recognizer does them

Shares are medians over rounds of each round's ratio: ``recognizer / model - 1`` (everything
the recognizer adds, Python included) and ``loop work / model``. Run with both OpenCV thread
settings: its default (one worker per core) and ``cv2.setNumThreads(1)``.

    python benchmarks/recognizer_loop.py --json runs/recognizer_loop.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from streaming_overhead import (  # noqa: E402
    NUM_CLASSES,
    add_common_arguments,
    build_models,
    report_header,
)

from tsm_tf.bench.timing import interleaved_rounds, percentile  # noqa: E402
from tsm_tf.io_utils import atomic_write_text  # noqa: E402

CAMERAS = ((320, 240), (640, 480))


def open_recognizer(path: Path, threads: int):
    """A ``Recognizer`` on a model written without a sidecar: the sidecar sections it reads
    are built here from the interpreter's own tensors."""
    from tsm_tf.runtime import Recognizer
    from tsm_tf.runtime.preprocess import preprocess_spec_for
    from tsm_tf.runtime.session import StreamingSession

    session = StreamingSession.open(str(path), num_threads=threads)
    frame = session.frame
    sidecar = {
        "model": {"mode": "streaming", "shift": "unidirectional"},
        "input": {"dtype": frame.dtype.name, "quantization": frame.quantization},
        "preprocess": preprocess_spec_for(frame.shape[1]),
        "labels": [f"class_{i}" for i in range(NUM_CLASSES)],
    }
    return Recognizer(session, sidecar, smoothing="reference")


def measure(path: Path, threads: int, camera_size: tuple[int, int], rounds: int,
            runs: int) -> dict:
    recognizer = open_recognizer(path, threads)
    session, preprocessor, smoother = (recognizer.session, recognizer.preprocessor,
                                       recognizer.smoother)
    width, height = camera_size
    camera = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    logits = recognizer(camera).logits

    def loop_work():
        rgb = preprocessor.crop_rgb(camera)
        preprocessor.values(rgb, out=session.frame_buffer()[0])
        smoother.update(logits)

    calls = {"model": session.run, "recognizer": lambda: recognizer(camera),
             "loop": loop_work}
    for _ in range(10):
        for call in calls.values():
            call()
    times = interleaved_rounds(calls, rounds=rounds, runs=runs)
    med = {name: [statistics.median(r) for r in rows] for name, rows in times.items()}
    model, rec, loop = med["model"], med["recognizer"], med["loop"]
    return {
        "camera": f"{width}x{height}",
        "model_ms": statistics.median(model),
        "recognizer_ms": statistics.median(rec),
        "loop_ms": statistics.median(loop),
        "recognizer_adds_pct": 100 * statistics.median(
            [r / m - 1 for r, m in zip(rec, model, strict=True)]),
        "loop_share_pct": 100 * statistics.median(
            [w / m for w, m in zip(loop, model, strict=True)]),
        "model_p10_ms": percentile(model, 10), "recognizer_p10_ms": percentile(rec, 10),
        "loop_p10_ms": percentile(loop, 10),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser, rounds=300, runs=3, json_path="runs/recognizer_loop.json")
    args = parser.parse_args(argv)
    report = report_header("recognizer_loop", args)
    report["rows"] = []
    default_threads = cv2.getNumThreads()
    print(f"{'precision':<10}{'camera':<9}{'cv2 thr':>8}{'model ms':>10}{'recognizer ms':>15}"
          f"{'adds':>8}{'loop ms':>9}{'loop share':>12}")
    for precision in args.precisions.split(","):
        path = build_models(Path(args.models_dir), args.size, precision, names=("tsm",))["tsm"]
        for opencv_threads in (default_threads, 1):
            cv2.setNumThreads(opencv_threads)
            for camera in CAMERAS:
                row = measure(path, args.threads, camera, args.rounds, args.runs)
                row.update(precision=precision, opencv_threads=opencv_threads)
                report["rows"].append(row)
                print(f"{precision:<10}{row['camera']:<9}{opencv_threads:>8}"
                      f"{row['model_ms']:>10.3f}{row['recognizer_ms']:>15.3f}"
                      f"{row['recognizer_adds_pct']:>+7.1f}%{row['loop_ms']:>9.3f}"
                      f"{row['loop_share_pct']:>11.1f}%", flush=True)
        cv2.setNumThreads(default_threads)
    atomic_write_text(args.json, json.dumps(report, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

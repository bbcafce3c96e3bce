"""Accuracy of a streamed online TSM at stride 1 versus the stride matched to its training.

    python -m tsm_tf.train --shift unidirectional --output-dir runs/online   # or reuse a run
    python mobile/stride_accuracy.py --model runs/online --out runs/online/stride.json

Converts the run's streaming form with ``export_model`` (TFLite + sidecar), then streams every
validation clip of the synthetic set (all its frames, as a camera would deliver them) through
``tsm_tf.runtime.Recognizer`` once per stride: 1 (every frame), the sidecar's training stride,
and any given with --strides. A clip's prediction is the argmax of the mean of the logits of
the frames the model saw (the offline model's consensus), and also the final smoothed label.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def clip_accuracy(recognizer, clips: list[tuple[Path, int]], stride: int,
                  template: str = "img_{:05d}.jpg") -> dict:
    """Top-1 of the mean logits and of the final smoothed label, streaming at ``stride``."""
    mean_hits = smoothed_hits = 0
    seen = []
    for folder, label in clips:
        files = sorted(folder.glob(template.replace("{:05d}", "*")))
        frames = [cv2.imread(str(f)) for f in files]  # BGR, as OpenCV delivers a camera
        if not frames or any(f is None for f in frames):
            raise ValueError(f"{folder}: no readable {template} frames")
        results = list(recognizer.stream(frames, stride=stride))
        if not results:
            raise ValueError(f"{folder}: {len(frames)} frames give no model output at stride "
                             f"{stride}")
        seen.append(len(results))
        mean = np.mean([r.logits for r in results], axis=0)
        mean_hits += int(np.argmax(mean) == label)
        smoothed_hits += int(results[-1].smoothed_index == label)
    frames_seen = min(seen) if min(seen) == max(seen) else f"{min(seen)}-{max(seen)}"
    return {"stride": stride, "clips": len(clips), "frames_seen": frames_seen,
            "top1_mean_logits": mean_hits / len(clips),
            "top1_final_smoothed": smoothed_hits / len(clips)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True,
                        help="an online run folder or .keras (uni-directional shift)")
    parser.add_argument("--data", default=None,
                        help="synthetic set folder (default: the train CLI's)")
    parser.add_argument("--precision", default="float32", help="float32 | int8 | ...")
    parser.add_argument("--strides", type=int, nargs="*", default=[],
                        help="more strides to try beside 1 and the matched one")
    parser.add_argument("--smoothing", default="reference")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)

    from tsm_tf.common.paths import synthetic_root
    from tsm_tf.export.exporter import export_model
    from tsm_tf.io_utils import atomic_write_json
    from tsm_tf.runtime.recognizer import Recognizer

    data = synthetic_root(args.data)
    val_list = data / "val.txt"
    if not val_list.is_file():
        print(f"error: no synthetic set at {data} (val.txt missing): generate it with "
              "python -m tsm_tf.data.synthetic --out DIR", file=sys.stderr)
        return 2
    clips = []
    for line in val_list.read_text().splitlines():
        if line.strip():
            path, _, label = line.split()
            clips.append((data / path, int(label)))

    with tempfile.TemporaryDirectory(prefix="stride_accuracy_") as work:
        sidecars = export_model(args.model, work, precisions=[args.precision],
                                mode="streaming", verbose=False)
        tflite = sidecars[0]["files"]["tflite"]
        recognizer = Recognizer.from_file(tflite, num_threads=args.threads,
                                          smoothing=args.smoothing)
        strides = sorted({1, recognizer.stride, *args.strides})
        rows = [clip_accuracy(recognizer, clips, s) for s in strides]
        temporal = recognizer.sidecar["temporal"]
    report = {"model": args.model, "precision": args.precision, "smoothing": args.smoothing,
              "temporal": temporal, "matched_stride": recognizer.stride, "rows": rows}
    print(f"training stride {temporal.get('train_frame_stride')} frames -> matched stride "
          f"{recognizer.stride}; {len(clips)} validation clips")
    print("| stride | frames seen per clip | top-1 (mean logits) | top-1 (final smoothed) |")
    print("|---|---|---|---|")
    for row in rows:
        tag = " (matched)" if row["stride"] == recognizer.stride else ""
        print(f"| {row['stride']}{tag} | {row['frames_seen']} | "
              f"{100 * row['top1_mean_logits']:.1f} % | {100 * row['top1_final_smoothed']:.1f} % |")
    if args.out:
        atomic_write_json(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

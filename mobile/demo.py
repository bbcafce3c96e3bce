"""Streaming action recognition on a video file or a camera, with the prediction drawn on
every frame.

    python mobile/demo.py --model online_tsm_int8.tflite --video clip.mp4 --out annotated.mp4
    python mobile/demo.py --model online_tsm_int8.tflite --camera 0

The model's sidecar (the .json beside it, or embedded) gives labels, preprocessing and the
training frame stride; by default the model sees one frame every `stride` source frames, the
rate it was trained on (--every overrides). Needs LiteRT, numpy and OpenCV, not TensorFlow.
The logic is ``tsm_tf.runtime.demo``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tsm_tf.runtime.backend import RuntimeBackendError  # noqa: E402
from tsm_tf.runtime.demo import DemoError, run_demo  # noqa: E402
from tsm_tf.sidecar import SidecarError  # noqa: E402


def _size(text: str) -> tuple[int, int] | None:
    if text == "default":
        return None
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 320x240, or 'default'; "
                                         f"got {text!r}") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive; got {text!r}")
    return width, height


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="streaming .tflite (with its sidecar)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", help="input video file")
    source.add_argument("--camera", type=int, help="camera index (e.g. 0)")
    parser.add_argument("--camera-size", type=_size, default="320x240", metavar="WxH",
                        help="frame size asked of the camera (default 320x240, as the "
                             "reference online demo; 'default' keeps the camera's own)")
    parser.add_argument("--out", help="write the annotated video here, .mp4 or .avi "
                                      "(headless); default: show a window")
    parser.add_argument("--smoothing", default="reference",
                        help="none | mean | mean:K | reference | reference:K "
                             "(default: reference, the reference online demo's rule)")
    parser.add_argument("--every", type=int, default=None,
                        help="run the model on one frame in N (default: the model's training "
                             "stride at the source's fps)")
    parser.add_argument("--threads", type=int, default=min(4, os.cpu_count() or 1),
                        help="interpreter threads (default: the CPU count, at most 4)")
    parser.add_argument("--delegate", default=None,
                        help="xnnpack (default) | edgetpu | path to a delegate library")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        summary = run_demo(args.model, video=args.video, camera=args.camera, out=args.out,
                           smoothing=args.smoothing, every=args.every, num_threads=args.threads,
                           delegate=args.delegate, max_frames=args.max_frames,
                           progress=not args.quiet, camera_size=args.camera_size)
    except (FileNotFoundError, ValueError, DemoError, SidecarError,
            RuntimeBackendError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if summary["ended_early"]:
        print(f"warning: {summary['source']} ended after {summary['frames']} of the "
              f"{summary['expected_frames']} frames its header announces (truncated or "
              "undecodable frames); the output holds the frames read.", file=sys.stderr)
    print(json.dumps({k: summary[k] for k in ("frames", "model_calls", "stride", "last_label",
                                              "ended_early", "out")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Edge TPU compatibility at 224x224: how many ops of each model meet the Edge TPU rules.

Builds TSM-MobileNetV2 and TSM-ResNet-50 (uni-directional shift, random weights: the graph, not
the weights, decides compatibility), converts each to full-integer int8 with uint8 I/O in the
streaming form (one frame plus the caches) and in the offline form (8 frames folded into the
batch), and runs ``tsm_tf.export.edgetpu.check_compatibility`` on every flatbuffer. Prints one
row per model: operators, how many meet the rules, the first op that does not and why, and the
int8 size (the Edge TPU caches about 7 MiB of parameters on chip).

    python benchmarks/edgetpu_ops.py --json runs/edgetpu_ops.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import numpy as np  # noqa: E402

from tsm_tf.io_utils import atomic_write_json  # noqa: E402

ARCHS = ("mobilenetv2", "resnet50")
MODES = ("streaming", "offline")


def check_model(arch: str, mode: str, *, input_size: int, num_classes: int,
                num_segments: int, calib_clips: int) -> dict:
    """Convert one model to int8 (uint8 I/O) and apply the Edge TPU rules to it."""
    import tsm_tf
    from tsm_tf.export import convert_to_tflite
    from tsm_tf.export.calibrate import representative_data
    from tsm_tf.export.edgetpu import check_compatibility
    from tsm_tf.export.exporter import prepare_model

    started = time.perf_counter()
    model = tsm_tf.create_model(f"tsm_{arch}", num_classes=num_classes,
                                num_segments=num_segments, input_size=input_size,
                                shift="unidirectional")
    model = prepare_model(model, mode)
    rng = np.random.default_rng(0)
    # [clips, T, H, W, 3]: the streaming calibration feeds each clip frame by frame
    clips = rng.normal(size=(calib_clips, num_segments, input_size, input_size, 3))
    flatbuffer = convert_to_tflite(model, quantization="int8", io="uint8",
                                   representative_data=representative_data(
                                       model, clips.astype(np.float32)))
    report = check_compatibility(flatbuffer)
    first = report.violations[0] if report.violations else None
    row = {"arch": arch, "mode": mode, "int8_bytes": len(flatbuffer), "ops": report.num_ops,
           "tpu_ops": report.tpu_ops, "cpu_ops": report.cpu_ops,
           "input_size": input_size, "first_unsupported": first.line() if first else None,
           "first_unsupported_short":
               f"#{first.index} {first.op} [{first.rule}]" if first else None,
           "seconds": round(time.perf_counter() - started, 1)}
    print(f"{arch} {mode}: {report.tpu_ops} of {report.num_ops} ops meet the Edge TPU rules, "
          f"int8 {len(flatbuffer) / 1e6:.1f} MB ({row['seconds']} s)", flush=True)
    return row


def table(rows: list[dict]) -> str:
    lines = ["| model (int8, uint8 I/O) | mode | size (MB) | ops meeting the Edge TPU rules "
             "| first op that does not |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| TSM-{row['arch']} {row['input_size']} | {row['mode']} | "
                     f"{row['int8_bytes'] / 1e6:.1f} | {row['tpu_ops']} of {row['ops']} | "
                     f"{row['first_unsupported_short'] or '-'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", nargs="+", default=list(ARCHS),
                        help="TSM backbones (mobilenetv2 resnet50)")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--num-classes", type=int, default=27, help="27 (Jester)")
    parser.add_argument("--num-segments", type=int, default=8)
    parser.add_argument("--calib-clips", type=int, default=2,
                        help="random clips for the int8 ranges (2)")
    parser.add_argument("--json", help="write the rows here too")
    args = parser.parse_args(argv)
    rows = [check_model(arch, mode, input_size=args.input_size, num_classes=args.num_classes,
                        num_segments=args.num_segments, calib_clips=args.calib_clips)
            for arch in args.archs for mode in args.modes]
    print(json.dumps(rows, indent=2))
    print(table(rows))
    if args.json:
        atomic_write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

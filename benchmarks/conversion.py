"""Conversion quality and size: every precision of a model trained on the synthetic set, on LiteRT.

Measures, for an online (uni-directional) TSM trained on the synthetic set:
- offline: top-1 of float32 / float16 / dynamic / int8 PTQ (and int8 QAT when the ``qat`` extra
  and ``tsm_tf.export.qat`` are installed) on the validation clips, and each one's top-1
  agreement with the float Keras model;
- streaming: int8 vs float per-frame agreement over a stream of consecutive validation clips
  (each clip's frames as the test protocol samples them, caches carried, reset between
  videos; 38 clips of 8 frames = 304 frames), and the clip top-1 of both;
and, with ``--sizes``, the float32 vs int8 file sizes of TSM-MobileNetV2 and TSM-ResNet-50 at
224x224 (random weights: sizes do not depend on them). Calibration always uses training clips.

    python -m tsm_tf.train --arch mobilenetv2 --shift unidirectional --output-dir runs/online_mnv2
    python benchmarks/conversion.py runs/online_mnv2 --json runs/conversion.json --sizes
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import numpy as np  # noqa: E402

from tsm_tf.export.exporter import export_model  # noqa: E402
from tsm_tf.io_utils import atomic_write_json  # noqa: E402


def _qat_available() -> bool:
    try:
        import tensorflow_model_optimization  # noqa: F401

        from tsm_tf.export import qat  # noqa: F401
    except ImportError:
        return False
    return True


def _summary(sidecar: dict) -> dict:
    report = sidecar["report"]
    agree = report["agreement"] or {}
    out = {"size_bytes": report["size_bytes"], "float32_size_ratio": report["float32_size_ratio"],
           "top1": agree.get("converted_top1"), "float_top1": agree.get("float_top1"),
           "top1_agreement": agree.get("top1_agreement"),
           "max_logit_error": agree.get("max_logit_error"),
           "mean_logit_error": agree.get("mean_logit_error"), "clips": agree.get("clips")}
    if "frame_top1_agreement" in agree:
        out.update(frame_top1_agreement=agree["frame_top1_agreement"], frames=agree["frames"])
    checks = report.get("integer_checks")
    if checks is not None:
        out.update(float32_ops=len(checks["float32_ops"]), flex_ops=len(checks["flex_ops"]))
    if report.get("states", {}).get("count"):
        out["states_equal_in_out"] = report["states"]["equal_in_out"]
    return out


def measure_model(model: str, root: str | None, out_dir: str, *, num_calib: int,
                  num_val: int, stream_frames: int, qat: bool) -> dict:
    calib = {"root": root} if root else {}
    precisions = ["float32", "float16", "dynamic", "int8"] + (["qat"] if qat else [])
    started = time.perf_counter()
    offline = export_model(model, os.path.join(out_dir, "offline"), precisions=precisions,
                           mode="offline", calib=calib, num_calib=num_calib,
                           num_report=num_val, verbose=True)
    frames_per_clip = offline[0]["model"]["num_segments"]
    clips = math.ceil(stream_frames / frames_per_clip)
    streaming = export_model(model, os.path.join(out_dir, "streaming"),
                             precisions=["float32", "int8"], mode="streaming", calib=calib,
                             num_calib=num_calib, num_report=clips, verbose=True)
    return {
        "model": model,
        "calibration_clips": num_calib,
        "offline": {s["conversion"]["precision"]: _summary(s) for s in offline},
        "streaming": {s["conversion"]["precision"]: _summary(s) for s in streaming},
        "seconds": round(time.perf_counter() - started, 1),
    }


def measure_sizes(archs: tuple[str, ...] = ("mobilenetv2", "resnet50")) -> dict:
    """float32 and int8 sizes at 224x224 with random weights (calibrated on random clips)."""
    import tsm_tf
    from tsm_tf.export import convert_to_tflite
    from tsm_tf.export.calibrate import calibration_clips

    sizes = {}
    rng = np.random.default_rng(0)
    for arch in archs:
        model = tsm_tf.create_model(f"tsm_{arch}", num_classes=400, num_segments=8,
                                    input_size=224)
        clips = rng.normal(size=(2, 8, 224, 224, 3)).astype(np.float32)
        float32 = len(convert_to_tflite(model))
        int8 = len(convert_to_tflite(model, quantization="int8",
                                     representative_data=calibration_clips(model, clips)))
        sizes[arch] = {"params": int(model.count_params()), "float32_bytes": float32,
                       "int8_bytes": int8, "ratio": round(float32 / int8, 2)}
        print(f"{arch}: float32 {float32 / 1e6:.1f} MB, int8 {int8 / 1e6:.1f} MB "
              f"({float32 / int8:.2f}x)", flush=True)
    return sizes


def table(result: dict) -> str:
    def pct(value):
        return "-" if value is None else f"{100 * value:.1f} %"

    lines = ["| precision | mode | size (MB) | top-1 | top-1 agreement with float Keras | "
             "max / mean logit error |", "|---|---|---|---|---|---|"]
    for mode in ("offline", "streaming"):
        for precision, row in result.get(mode, {}).items():
            agree = pct(row["top1_agreement"])
            if "frame_top1_agreement" in row:
                agree += f" (frames: {pct(row['frame_top1_agreement'])} of {row['frames']})"
            errors = "-" if row["max_logit_error"] is None else \
                f"{row['max_logit_error']:.3g} / {row['mean_logit_error']:.3g}"
            lines.append(f"| {precision} | {mode} | {row['size_bytes'] / 1e6:.2f} | "
                         f"{pct(row['top1'])} | {agree} | {errors} |")
    for arch, row in result.get("sizes", {}).items():
        lines.append(f"| size only: TSM-{arch} 224 | offline | {row['float32_bytes'] / 1e6:.1f}"
                     f" -> {row['int8_bytes'] / 1e6:.1f} (int8, {row['ratio']}x) | | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="an online TSM trained on the synthetic set "
                        "(run folder or .keras); omit with --sizes to measure sizes only")
    parser.add_argument("--root", help="the synthetic set's folder (default: its cache folder)")
    parser.add_argument("--out", help="where the converted models go (default: a temp folder)")
    parser.add_argument("--num-calib", type=int, default=32, help="calibration clips (32)")
    parser.add_argument("--num-val", type=int, default=240, help="validation clips (240)")
    parser.add_argument("--stream-frames", type=int, default=300, help="frames streamed (300)")
    parser.add_argument("--sizes", action="store_true",
                        help="also the float32 / int8 sizes of MobileNetV2 and ResNet-50 at 224")
    parser.add_argument("--json", help="write the result here too")
    args = parser.parse_args(argv)
    if not args.model and not args.sizes:
        parser.error("give a model, --sizes, or both")
    result: dict = {}
    with tempfile.TemporaryDirectory(prefix="tsm_tf_conversion_") as scratch:
        if args.model:
            result.update(measure_model(args.model, args.root, args.out or scratch,
                                        num_calib=args.num_calib, num_val=args.num_val,
                                        stream_frames=args.stream_frames,
                                        qat=_qat_available()))
    if args.sizes:
        result["sizes"] = measure_sizes()
    print(json.dumps(result, indent=2))
    print(table(result))
    if args.json:
        atomic_write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

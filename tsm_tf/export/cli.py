"""``python converters/to_tflite.py SOURCE --out DIR [options]``: the converter's command line.

Every option maps onto ``tsm_tf.export.exporter.ExportOptions``; this module only parses flags,
reports errors in one line and runs the Edge TPU compiler after writing when asked.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

EPILOG = """examples:
  python converters/to_tflite.py runs/synthetic-tsm_online_mobilenetv2 --mode streaming \\
      --int8 --out exported/
  python converters/to_tflite.py mobilenetv2_jester_online.pth.tar --mode streaming --int8 \\
      --out jester/
  python converters/to_tflite.py best.keras --float16 --dynamic --int8 --out exported/
  python converters/to_tflite.py runs/online --target edgetpu --out edgetpu/

Each model is NAME.tflite plus NAME.json (the sidecar, also embedded in the .tflite as
metadata 'tsm_tf'; see docs/sidecar.md). The conversion report is printed and stored in it."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + error
        self.exit(2, f"error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python converters/to_tflite.py",
        description="Convert a tsm_tf model (.keras TSM or StreamingTSM, a training run folder, "
                    "a reference .pth / .pth.tar or a preset name) to TensorFlow Lite, with a "
                    "sidecar and a conversion report.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help=".keras file, run folder, .pth/.pth.tar or preset name")
    parser.add_argument("--out", required=True, help="output folder")
    precision = parser.add_argument_group("precision (several flags write several files; "
                                          "none: the target's, float32 for host)")
    precision.add_argument("--float32", action="store_true", help="float32 (also with others)")
    precision.add_argument("--float16", action="store_true", help="float16 weights")
    precision.add_argument("--dynamic", action="store_true",
                           help="dynamic range: int8 weights, float activations")
    precision.add_argument("--int8", action="store_true",
                           help="full integer, post-training calibration")
    precision.add_argument("--qat", action="store_true",
                           help="full integer after quantization-aware fine-tuning "
                                "(pip install -e \".[qat]\")")
    model = parser.add_argument_group("model")
    model.add_argument("--mode", choices=("offline", "streaming"),
                       help="offline: a clip in; streaming: one frame (or K) plus the caches in "
                            "and out (default: the target's, else offline for a TSM)")
    model.add_argument("--frames-per-step", type=int, default=1, metavar="K",
                       help="streaming: frames per call (default 1)")
    model.add_argument("--target", help="deployment recipe from tsm_tf/export/targets.yaml: "
                                        "host, note8, pixel1, edgetpu, ... (quantization, I/O, "
                                        "mode, threads, delegate)")
    model.add_argument("--io", choices=("float32", "int8", "uint8"),
                       help="boundary type of full-integer models (default: the target's, "
                            "else int8)")
    model.add_argument("--input-size", type=int, help="frame size of a network rebuilt from a "
                       ".pth checkpoint or preset (default: 224)")
    model.add_argument("--name", help="base name of the files (default SOURCE_MODE[_PRECISION])")
    calib = parser.add_argument_group("calibration (training clips; the report measures "
                                      "agreement on other clips)")
    calib.add_argument("--calib-dataset", default=None,
                       help="registry dataset (default: the run's, else synthetic)")
    calib.add_argument("--calib-list", help="list file in the reference format "
                                            "('path num_frames label' per line)")
    calib.add_argument("--root", help="folder the list's paths start from (synthetic: the "
                                      "generated set's folder)")
    calib.add_argument("--frame-template", help="frame file name template, e.g. "
                                                "'img_{:05d}.jpg'")
    calib.add_argument("--num-calib", type=int, default=32, help="calibration clips (32)")
    calib.add_argument("--num-report", type=int, default=16,
                       help="held-out clips for the agreement check (16)")
    calib.add_argument("--report-list", help="list of the held-out clips (default: the "
                                             "validation list)")
    calib.add_argument("--qat-epochs", type=int, default=1, help="QAT fine-tuning epochs (1)")
    parser.add_argument("--quiet", action="store_true", help="print errors only")
    return parser


def _precisions(args) -> tuple[str, ...]:
    names = ("float32", "float16", "dynamic", "int8", "qat")
    return tuple(name for name in names if getattr(args, name))


def _options(args):
    from tsm_tf.export.exporter import ExportOptions

    for flag, value in (("--num-calib", args.num_calib), ("--num-report", args.num_report),
                        ("--frames-per-step", args.frames_per_step),
                        ("--qat-epochs", args.qat_epochs)):
        if value < 1:
            raise ValueError(f"{flag} must be at least 1, not {value}.")
    calib = {}
    if args.calib_dataset:
        calib["dataset"] = args.calib_dataset
    if args.calib_list:
        calib["list_file"] = args.calib_list
        calib.setdefault("dataset", "custom")
    if args.root:
        calib["root"] = args.root
    if args.frame_template:
        calib["frame_template"] = args.frame_template
    return ExportOptions(
        precisions=_precisions(args), mode=args.mode, frames_per_step=args.frames_per_step,
        target=args.target, io=args.io, calib=calib, num_calib=args.num_calib,
        num_report=args.num_report, report_list=args.report_list,
        qat_epochs=args.qat_epochs, name=args.name, input_size=args.input_size,
        verbose=not args.quiet,
    )


def _compile_for_edgetpu(out_dir: str, verbose: bool):
    def after_write(sidecar: dict, _flatbuffer: bytes) -> None:
        from tsm_tf.export import edgetpu

        tflite = sidecar["files"]["tflite"]
        try:
            result = edgetpu.run_compiler(tflite, out_dir)
        except RuntimeError as error:  # the model is written; the compiler refused it
            raise ValueError(f"{tflite} and its .json were written; {error}") from None
        if result is None:  # no compiler here: say so and give the command
            print(edgetpu.compiler_missing_message(tflite, out_dir))
        elif verbose:
            print(edgetpu.compiler_summary(result) if isinstance(result, dict) else result)

    return after_write


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already printed in one line
        return int(exit_.code or 0)
    try:
        options = _options(args)
        from tsm_tf.export.exporter import export_model

        after = _compile_for_edgetpu(args.out, options.verbose) if args.target == "edgetpu" \
            else None
        export_model(args.source, args.out, options, after_write=after)
    except (ValueError, FileNotFoundError, OSError, ImportError) as error:
        message = " ".join(str(error).split())  # one line
        print(f"error: {message}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - TF's converter, LiteRT: one line, not a trace
        if os.environ.get("TSM_TF_DEBUG"):
            raise
        message = " ".join(str(error).split())[:500]
        print(f"error: the conversion failed ({type(error).__name__}: {message}); nothing was "
              "written. Rerun with TSM_TF_DEBUG=1 for the traceback, and report it if the "
              "model is a TSM tsm_tf built.", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Command line of ``mobile/benchmark.py`` (see docs/benchmark.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tsm_tf.bench.devices import load_devices, resolve_device
from tsm_tf.bench.handover import FORMS
from tsm_tf.bench.remote import DeviceUnavailable, RemoteSession
from tsm_tf.bench.results import append_results, check_results_files, json_path_for
from tsm_tf.bench.runner import DEFAULT_FORM, cross_check_host, run_local, run_remote


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mobile/benchmark.py",
        description="Per-frame latency of a TFLite model on a device (host, adb, ssh, edgetpu).")
    parser.add_argument("--model", required=True, help="the .tflite model (streaming TSM)")
    parser.add_argument("--baseline", help="the same network without shift: run interleaved, "
                                           "overhead = median of per-round ratios")
    parser.add_argument("--device", default="host",
                        help="profile in mobile/devices.yaml, adb:SERIAL, ssh:[USER@]HOST or "
                             "PROFILE@adb:SERIAL / PROFILE@ssh:HOST")
    parser.add_argument("--devices-file", help="another device profiles YAML")
    parser.add_argument("--threads", type=_at_least(1),
                        help="CPU threads (default: the profile's)")
    parser.add_argument("--runs", type=_at_least(1), default=20,
                        help="timed frames per model per round")
    parser.add_argument("--warmup", type=_at_least(0), default=5,
                        help="untimed frames per model")
    parser.add_argument("--rounds", type=_at_least(1), default=10, help="interleaved rounds")
    parser.add_argument("--handover", choices=FORMS, default=DEFAULT_FORM,
                        help="host: how caches travel between frames (see docs/benchmark.md)")
    parser.add_argument("--cross-check", action="store_true",
                        help="host: also run LiteRT's benchmark_litert_model on --model")
    parser.add_argument("--op-profile", action="store_true",
                        help="adb/ssh: run with --enable_op_profiling=true and keep the "
                             "binary's per-op tables beside --results")
    parser.add_argument("--benchmark-binary",
                        help="adb/ssh: the TFLite benchmark_model binary built for the device")
    parser.add_argument("--results", default="results.csv", help="CSV to append rows to")
    return parser


def _at_least(minimum: int):
    """An argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _print_rows(rows: list[dict]) -> None:
    print(f"{'model':<34}{'measure':<16}{'mean ms':>9}{'median':>9}{'p90':>8}{'fps':>8}"
          f"{'overhead':>10}  status")
    for row in rows:
        p90 = "-" if row.get("p90_ms") is None else f"{row['p90_ms']:.2f}"
        overhead = "-" if row.get("overhead_pct") is None else f"{row['overhead_pct']:+.1f} %"
        print(f"{row['model'][:33]:<34}{row['measure']:<16}{row['mean_ms']:>9.2f}"
              f"{row['median_ms']:>9.2f}{p90:>8}{row['fps']:>8.1f}{overhead:>10}  {row['status']}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        profile = resolve_device(args.device, load_devices(args.devices_file))
        check_results_files(args.results)  # a bad results file fails now, not after the run
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    threads = args.threads or int(profile.get("threads", 1))
    run = dict(threads=threads, runs=args.runs, warmup=args.warmup, rounds=args.rounds)
    try:
        if profile["kind"] in ("host", "edgetpu"):
            rows = run_local(args.model, args.baseline, profile=profile, form=args.handover, **run)
            if args.cross_check and profile["kind"] == "host":
                rows.append(cross_check_host(args.model, profile=profile, threads=threads,
                                             runs=args.runs * args.rounds, warmup=args.warmup))
        else:
            session = RemoteSession(profile, args.benchmark_binary)
            profile_dir = Path(args.results).parent if args.op_profile else None
            rows = run_remote(session, args.model, args.baseline, op_profile_dir=profile_dir,
                              log=lambda line: print(line, file=sys.stderr), **run)
    except DeviceUnavailable as error:
        print(f"device unavailable: {error}", file=sys.stderr)
        return 3
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not rows:  # the device was lost before any round completed (the log says why)
        print("no results: no round completed; nothing appended", file=sys.stderr)
        return 4
    _print_rows(rows)
    append_results(args.results, rows)
    print(f"appended {len(rows)} rows to {args.results} and {json_path_for(args.results)}")
    return 0 if all(row["status"] == "ok" for row in rows) else 4

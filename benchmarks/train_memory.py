"""The trainer's memory estimate against the measured peak RSS of short training runs.

Each row runs ``python -m tsm_tf.train`` on the synthetic set for a few steps in a child
process, reads the estimate the trainer prints before its first step, and takes the child's
peak resident memory from ``os.wait4`` (the kernel's ``ru_maxrss``). The default rows are the
ones of docs/training.md; the resnet50 row needs about 7 GiB and a few minutes on 2 cores.

    python benchmarks/train_memory.py --json runs/train_memory.json
    python benchmarks/train_memory.py --rows resnet_tiny:64:16:adam
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tsm_tf.io_utils import atomic_write_json  # noqa: E402

# arch:input_size:clips_per_step:optimizer[:accum_steps]
DEFAULT_ROWS = ("resnet18:112:8:sgd", "resnet_tiny:64:16:adam", "mobilenetv2:112:8:sgd",
                "resnet50:224:4:sgd:2")
ESTIMATE = re.compile(r"memory estimate ([\d.]+) GiB")
GIB = 1024 ** 3
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam"}


def parse_row(text: str) -> dict:
    """``"resnet50:224:4:sgd:2"`` -> the row's options (accum_steps defaults to 1)."""
    parts = text.split(":")
    if len(parts) not in (4, 5):
        raise argparse.ArgumentTypeError(
            f"row {text!r}: write arch:input_size:clips_per_step:optimizer[:accum_steps]")
    try:
        accum = int(parts[4]) if len(parts) == 5 else 1
        return {"arch": parts[0], "input_size": int(parts[1]), "clips": int(parts[2]),
                "optimizer": parts[3], "accum_steps": accum}
    except ValueError:
        raise argparse.ArgumentTypeError(f"row {text!r}: sizes and counts are integers") from None


def train_command(row: dict, out_dir: str, steps: int, frames: int) -> list[str]:
    """The trainer's command line for ``row`` (global batch = clips per step x accum steps)."""
    return [sys.executable, "-m", "tsm_tf.train", "--arch", row["arch"],
            "--input-size", str(row["input_size"]), "--num-segments", str(frames),
            "--batch-size", str(row["clips"] * row["accum_steps"]),
            "--accum-steps", str(row["accum_steps"]), "--optimizer", row["optimizer"],
            "--epochs", "1", "--steps-per-epoch", str(steps),
            "--verbose", "2", "--output-dir", out_dir]


def exact_estimate(config_path: Path) -> float:
    """The trainer's estimate in GiB, unrounded: its own function on the run's saved config
    (one replica, as here). The log prints it to 0.1 GiB only."""
    from tsm_tf.train.config import load_yaml_config, model_kwargs
    from tsm_tf.train.memory import estimate_memory

    cfg = load_yaml_config(config_path)
    accum = int(cfg.get("accum_steps") or 1)
    estimate = estimate_memory(model_kwargs(cfg), int(cfg["batch_size"]) // accum,
                               cfg["optimizer"], accum, bool(cfg.get("mixed_precision")))
    return estimate.total / GIB


def measure(row: dict, steps: int, frames: int) -> dict:
    """Run one short training in a child process: its printed estimate and its peak RSS."""
    with tempfile.TemporaryDirectory(prefix="tsm_tf_memory_") as scratch:
        log_path = Path(scratch) / "train.log"
        started = time.perf_counter()
        with open(log_path, "w", encoding="utf-8") as log:
            child = subprocess.Popen(train_command(row, str(Path(scratch) / "run"), steps,
                                                   frames),
                                     stdout=log, stderr=subprocess.STDOUT,
                                     cwd=Path(__file__).resolve().parents[1])
            _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        text = log_path.read_text(encoding="utf-8", errors="replace")
        if child.returncode != 0:
            raise RuntimeError(f"training {row} failed (exit {child.returncode}):\n"
                               f"{text[-2000:]}")
        estimate = exact_estimate(Path(scratch) / "run" / "config.yaml")
    found = ESTIMATE.search(text)
    if found is None or abs(float(found.group(1)) - estimate) > 0.051:
        raise RuntimeError(f"training {row} printed no memory estimate, or not "
                           f"{estimate:.2f} GiB:\n{text[-2000:]}")
    peak = usage.ru_maxrss * 1024 / GIB  # ru_maxrss is in KiB on Linux
    result = {**row, "estimate_gib": round(estimate, 3), "peak_rss_gib": round(peak, 3),
              "ratio": round(estimate / peak, 3),
              "seconds": round(time.perf_counter() - started, 1)}
    print(f"{row['arch']} {row['input_size']} px, {row['clips']} clips/step: estimate "
          f"{estimate:.2f} GiB, peak RSS {peak:.2f} GiB ({estimate / peak:.2f}x)", flush=True)
    return result


def table(rows: list[dict]) -> str:
    lines = ["| model, input, clips per step | estimate | measured peak RSS | "
             "estimate / measured |", "|---|---|---|---|"]
    for row in rows:
        accum = f", accum {row['accum_steps']}" if row["accum_steps"] > 1 else ""
        lines.append(f"| {row['arch']}, {row['input_size']} px, {row['clips']} "
                     f"({OPTIMIZER_NAMES.get(row['optimizer'], row['optimizer'])}"
                     f"{accum}) | {row['estimate_gib']:.2f} GiB | {row['peak_rss_gib']:.2f} GiB "
                     f"| {row['ratio']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", type=parse_row,
                        default=[parse_row(r) for r in DEFAULT_ROWS],
                        help="arch:input_size:clips_per_step:optimizer[:accum_steps] "
                             f"(default: {' '.join(DEFAULT_ROWS)})")
    parser.add_argument("--steps", type=int, default=3, help="training steps per run (3)")
    parser.add_argument("--frames", type=int, default=8, help="frames per clip (8)")
    parser.add_argument("--json", help="write the rows here too")
    args = parser.parse_args(argv)
    rows = [measure(row, args.steps, args.frames) for row in args.rows]
    print(json.dumps(rows, indent=2))
    print(table(rows))
    if args.json:
        atomic_write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

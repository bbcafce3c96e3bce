"""Shift overhead on this CPU: TSM-ResNet-50 vs TSN (no shift), side by side in one run.

Measures inference latency of ResNet-50, 8 frames at 224x224, batch 1 clip, for TSN and for TSM
shifting 1/8, 1/4 (the default), 1/2 and all of the channels (the paper's Fig. 2a), plus
parameters and multiply-adds per model. Models are timed in interleaved rounds (TSN, TSM, ...
in a shuffled order each round) so machine noise hits all of them alike. Three overheads are
reported: the median over rounds of each round's TSM/TSN latency ratio (the headline), the
ratio of the fastest runs (least disturbed by other work on a shared machine), and the ratio
of the median process CPU times (all threads; time stolen by other machines does not count).

A last row is a floor, not a model: TSN plus a copy of the activation at every place the
shift goes, moving whole frames (``frame i <- frame i+1``: contiguous memory, the cheapest
data movement there is). Any shift that writes its output costs at least about this.

    python benchmarks/shift_overhead.py --json runs/shift_overhead.json
    python benchmarks/shift_overhead.py --runtime litert --json runs/shift_overhead_litert.json
    python benchmarks/shift_overhead.py --runtime litert-int8 --json runs/shift_overhead_int8.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tsm_tf  # noqa: E402
from tsm_tf.export import LiteRTModel, convert_to_tflite  # noqa: E402
from tsm_tf.io_utils import atomic_write_text  # noqa: E402
from tsm_tf.layers import TemporalShift  # noqa: E402
from tsm_tf.profile import model_cost  # noqa: E402

# label -> shift_div (C // shift_div channels move each way); None = TSN (no shift)
VARIANTS = {
    "TSN (no shift)": None,
    "TSM shift 1/8": 16,
    "TSM shift 1/4 (default)": 8,
    "TSM shift 1/2": 4,
    "TSM shift all": 2,
}
FRAME_COPY = "floor: frame copy"  # built from the default model, its shifts replaced
DEFAULT_SHIFT_DIV = 8
PAPER_OVERHEAD = {16: 3.0, 8: 4.3, 4: 8.0, 2: 13.7}  # percent, CPU, paper Fig. 2a


class FrameCopy(keras.layers.Layer):
    """Benchmark floor: every frame takes the whole next frame of the batch, ``[N*T, H, W, C]``
    rolled by one along the folded batch axis (the last frame takes the first). Slices along
    the first axis are contiguous, so this is one concatenation of two memory blocks: a copy of
    the activation with nothing computed."""

    def call(self, x):
        return keras.ops.concatenate([x[1:], x[:1]], axis=0)


def with_frame_copy(model: keras.Model) -> keras.Model:
    """``model`` with every ``TemporalShift`` replaced by a ``FrameCopy``, same weights."""

    def clone(layer):
        if isinstance(layer, TemporalShift):
            return FrameCopy(name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    floor = keras.models.clone_model(model, clone_function=clone)
    floor.set_weights(model.get_weights())
    return floor


def calibration_clips(frames: int, size: int, count: int = 2):
    """Random clips for int8 calibration: the ranges do not matter for latency."""
    rng = np.random.default_rng(1)
    shape = (1, frames, size, size, 3)
    return lambda: ({"video": rng.normal(size=shape).astype("float32")} for _ in range(count))


def build(label, args):
    """The model and a ``forward(clip) -> numpy logits`` on the chosen runtime."""
    kwargs = dict(num_classes=400, num_segments=args.frames, input_size=args.size, batch_size=1)
    shift_div = VARIANTS.get(label, DEFAULT_SHIFT_DIV)
    if shift_div is None:
        model = tsm_tf.create_model(f"tsn_{args.arch}", **kwargs)
    else:
        model = tsm_tf.create_model(f"tsm_{args.arch}", shift_div=shift_div, **kwargs)
    if label == FRAME_COPY:
        model = with_frame_copy(model)
    if args.runtime.startswith("litert"):
        quantization = "int8" if args.runtime == "litert-int8" else "float32"
        flatbuffer = convert_to_tflite(model, quantization=quantization,
                                       representative_data=calibration_clips(args.frames,
                                                                             args.size))
        runner = LiteRTModel(flatbuffer, num_threads=args.threads or len(os.sched_getaffinity(0)))
        return model, lambda clip: runner({"video": clip})["logits"]
    compiled = tf.function(lambda clip: model(clip, training=False), jit_compile=args.xla)
    return model, lambda clip: compiled(clip).numpy()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds per model")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per model")
    parser.add_argument("--threads", type=int, default=0,
                        help="intra-op threads (0: TensorFlow's default; LiteRT: all cores)")
    parser.add_argument("--xla", action="store_true", help="compile with XLA (jit_compile)")
    parser.add_argument("--runtime", choices=("keras", "litert", "litert-int8"), default="keras",
                        help="keras: TensorFlow graph; litert: float32 TFLite on ai-edge-litert; "
                             "litert-int8: full-integer TFLite on ai-edge-litert")
    parser.add_argument("--json", default="runs/shift_overhead.json", help="where to write JSON")
    args = parser.parse_args(argv)
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)

    clip = np.random.default_rng(0).normal(size=(1, args.frames, args.size, args.size, 3))
    clip = clip.astype("float32")
    tf.get_logger().setLevel("ERROR")
    models = {}
    for label in [*VARIANTS, FRAME_COPY]:
        model, forward = build(label, args)
        for _ in range(args.warmup):
            forward(clip)
        models[label] = (model, forward, VARIANTS.get(label, DEFAULT_SHIFT_DIV))
        print(f"built {label}", file=sys.stderr)

    times = {label: [] for label in models}
    cpu_times = {label: [] for label in models}
    order = list(models)
    rng = random.Random(0)
    for index in range(args.rounds):
        rng.shuffle(order)
        for label in order:
            forward = models[label][1]
            start, start_cpu = time.perf_counter(), time.process_time()
            forward(clip)
            times[label].append(time.perf_counter() - start)
            cpu_times[label].append(time.process_time() - start_cpu)
        print(f"round {index + 1}/{args.rounds}", file=sys.stderr)

    baseline = times["TSN (no shift)"]
    rows = []
    for label, (model, _, shift_div) in models.items():
        cost = model_cost(model)
        ratios = [t / b for t, b in zip(times[label], baseline, strict=True)]
        rows.append({
            "model": label,
            "shift_div": shift_div,
            "floor": label == FRAME_COPY,
            "median_ms": 1000 * statistics.median(times[label]),
            "overhead_pct": 100 * (statistics.median(ratios) - 1),
            "overhead_fastest_pct": 100 * (min(times[label]) / min(baseline) - 1),
            "median_cpu_ms": 1000 * statistics.median(cpu_times[label]),
            "overhead_cpu_pct": 100 * (statistics.median(cpu_times[label])
                                       / statistics.median(cpu_times["TSN (no shift)"]) - 1),
            "paper_overhead_pct": PAPER_OVERHEAD.get(shift_div),
            "params": cost["params"],
            "gmacs": cost["macs"] / 1e9,
        })

    header = (f"{'model':<26}{'median ms':>10}{'overhead':>10}{'fastest':>9}{'CPU ms':>9}"
              f"{'CPU ovh':>9}{'paper':>8}{'params':>12}{'GMACs':>7}")
    print(header)
    for row in rows:
        paper = row["paper_overhead_pct"]
        print(f"{row['model']:<26}{row['median_ms']:>10.1f}{row['overhead_pct']:>9.1f}%"
              f"{row['overhead_fastest_pct']:>8.1f}%{row['median_cpu_ms']:>9.1f}"
              f"{row['overhead_cpu_pct']:>8.1f}%{'' if paper is None else f'{paper:.1f}%':>8}"
              f"{row['params']:>12,}{row['gmacs']:>7.1f}")
    report = {
        "benchmark": "shift_overhead",
        "arch": args.arch, "frames": args.frames, "size": args.size, "rounds": args.rounds,
        "runtime": args.runtime, "xla": args.xla, "tensorflow": tf.__version__,
        "machine": platform.processor() or platform.machine(),
        "cpus": len(os.sched_getaffinity(0)),
        "rows": rows,
    }
    atomic_write_text(args.json, json.dumps(report, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Where the streaming TSM's per-frame time goes on LiteRT, and which hand-over is cheapest.

Streaming TSM-MobileNetV2 (10 caches) against the same network without shift (the 2D
baseline), float32 and int8, on this CPU with LiteRT/XNNPACK. Every entry is timed in
interleaved rounds (shuffled order each round); overheads are the median over rounds of each
round's ratio to the baseline, wall clock and process CPU time.

Model forms:
  tsm           caches as 10 inputs + 10 outputs (``StreamingTSM`` -> ``convert_to_tflite``)
  tsm_packed    all caches packed into one input and one output tensor
  tsm_stateful  caches in resource variables inside the model (``StreamingTSM(stateful=True)``)
  ablation_io   each shift point only slices its cache output, ``x[..., :fold]``; no cache
                input, no concatenation (not a valid model: TSM minus it = the concatenation)
  tsm_split     ``tsm`` with both channel groups cut by one SPLIT_V op instead of two slices
Hand-over forms (``tsm_tf.bench.handover``): session (the runtime's ``StreamingSession``,
what the ``Recognizer`` runs), signature, set_tensor, views, compiled.

The recognizer loop's own cost (preprocessing + smoothing) is ``benchmarks/recognizer_loop.py``.

    python benchmarks/streaming_overhead.py --json runs/streaming_overhead.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tsm_tf.bench.handover import open_form  # noqa: E402
from tsm_tf.bench.host import describe_host, host_facts  # noqa: E402
from tsm_tf.bench.timing import interleaved_rounds, paired_overhead, percentile  # noqa: E402
from tsm_tf.io_utils import atomic_write_bytes, atomic_write_text  # noqa: E402

NUM_CLASSES = 27  # Jester, the paper's online gesture demo

# (model, hand-over form, measure); "app" = frame in + caches handed over + run + logits out
ENTRIES = [
    ("tsn", "session", "app"), ("tsn", "signature", "app"), ("tsn", "views", "app"),
    ("tsn", "compiled", "app"), ("tsn", "views", "call"),
    ("tsm", "session", "app"), ("tsm", "signature", "app"), ("tsm", "set_tensor", "app"),
    ("tsm", "views", "app"), ("tsm", "compiled", "app"), ("tsm", "views", "call"),
    ("tsm_packed", "session", "app"), ("tsm_packed", "views", "app"),
    ("tsm_packed", "compiled", "app"),
    ("tsm_stateful", "views", "app"), ("tsm_stateful", "compiled", "app"),
    ("ablation_io", "raw", "call"), ("tsm_split", "views", "app"), ("tsm_split", "views", "call"),
]


# -- model building ---------------------------------------------------------------------------
def _representative(model, states_from=None, frames: int = 4):
    """Calibration dicts: random frames with the caches they meet when streamed."""
    rng = np.random.default_rng(0)
    shapes = {t.name: tuple(t.shape) for t in model.inputs}

    def data():
        states = states_from.init_states() if states_from is not None else None
        for _ in range(frames):
            frame = rng.normal(size=shapes["image"]).astype(np.float32)
            sample = {"image": frame}
            if states is not None:
                if "state" in shapes:
                    sample["state"] = pack(states)
                else:
                    sample.update(states)
                _, states = states_from.step(frame, states)
            yield sample

    return data


def pack(states: dict) -> np.ndarray:
    """Caches in name order, each flattened, side by side: ``[1, sum of sizes]``."""
    return np.concatenate([states[n].reshape(1, -1) for n in sorted(states)], axis=1)


def packed_model(streaming):
    """A model with one ``state`` input/output holding every cache (in name order)."""
    import keras

    names = sorted(streaming.state_shapes)
    shapes = [streaming.state_shapes[n] for n in names]
    sizes = [int(np.prod(s[1:])) for s in shapes]
    height, width = streaming.tsm_config["input_size"]
    image = keras.Input((height, width, 3), batch_size=1, name="image")
    state = keras.Input((sum(sizes),), batch_size=1, name="state")
    caches, offset = {}, 0
    for name, shape, size in zip(names, shapes, sizes, strict=True):
        part = keras.ops.slice(state, (0, offset), (1, size))  # [1, size]
        caches[name] = keras.ops.reshape(part, shape)  # [1, H, W, fold]
        offset += size
    outputs = streaming({"image": image, **caches})
    new_state = keras.ops.concatenate(
        [keras.ops.reshape(outputs[n], (1, -1)) for n in names], axis=1)  # [1, sum of sizes]
    return keras.Model({"image": image, "state": state},
                       {"logits": outputs["logits"], "state": new_state}, name="tsm_packed")


@contextlib.contextmanager
def patched_shift(replacement):
    """Build models whose streaming shifts call ``replacement(x, cache, fold)`` instead."""
    import tsm_tf.layers.shift as shift_module

    original = shift_module.streaming_shift

    def shift(x, cache, shift_div=8, num_frames=1):
        return replacement(x, cache, shift_module.shift_fold(x.shape[-1], shift_div))

    shift_module.streaming_shift = shift
    try:
        yield
    finally:
        shift_module.streaming_shift = original


def io_only(x, cache, fold):
    """Ablation: the input unchanged and its cache output sliced; the cache input is unused
    (the converter drops it)."""
    return x, x[..., :fold]


def split_once(x, cache, fold):
    """Both channel groups from one SPLIT_V op instead of two strided slices (exact)."""
    import keras

    head, rest = keras.ops.split(x, [fold], axis=-1)
    return keras.ops.concatenate([cache, rest], axis=-1), head


FORMS = ("tsn", "tsm", "tsm_packed", "tsm_stateful", "ablation_io", "tsm_split")


def build_models(folder: Path, size: int, precision: str,
                 names: tuple[str, ...] = FORMS) -> dict[str, Path]:
    """Convert (or reuse from ``folder``) the model forms ``names`` at one precision."""
    import tsm_tf
    from tsm_tf.export import convert_to_tflite
    from tsm_tf.models import StreamingTSM

    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / f"{name}_{size}_{precision}.tflite" for name in names}
    if all(p.is_file() for p in paths.values()):
        return paths
    import keras

    keras.utils.set_random_seed(0)  # the forms of one precision share these weights
    kwargs = dict(num_classes=NUM_CLASSES, num_segments=8, input_size=size)
    online = tsm_tf.create_model("tsm_online_mobilenetv2", **kwargs)
    streaming = StreamingTSM.from_model(online)
    builders = {
        "tsn": lambda: StreamingTSM.from_model(tsm_tf.create_model("tsn_mobilenetv2", **kwargs)),
        "tsm": lambda: streaming,
        "tsm_packed": lambda: packed_model(streaming),
        "tsm_stateful": lambda: StreamingTSM.from_model(online, stateful=True),
    }
    for name, build in builders.items():
        if name not in paths or paths[name].is_file():
            continue
        model = build()
        source = streaming if name in ("tsm", "tsm_packed") else None
        flatbuffer = convert_to_tflite(model, quantization=precision,
                                       representative_data=_representative(model, source))
        atomic_write_bytes(paths[name], flatbuffer)
        print(f"built {paths[name].name}", file=sys.stderr)
    for name, replacement in (("ablation_io", io_only), ("tsm_split", split_once)):
        if name not in paths or paths[name].is_file():
            continue
        with patched_shift(replacement):
            model = StreamingTSM.from_model(online)
            flatbuffer = convert_to_tflite(model, quantization=precision,
                                           representative_data=_representative(model, model))
        atomic_write_bytes(paths[name], flatbuffer)
        print(f"built {paths[name].name}", file=sys.stderr)
    return paths


# -- checks -----------------------------------------------------------------------------------
def model_facts(paths: dict[str, Path]) -> dict[str, dict]:
    """Op counts, float ops (int8 models), caches at the boundary, size."""
    from collections import Counter

    from tsm_tf.export import float32_tensor_ops, op_names

    facts = {}
    for name, path in paths.items():
        ops = Counter(op_names(path))
        form = RawInterpreter(path, 1)
        inputs = form.interpreter.get_input_details()
        # ops the XNNPACK delegate took are replaced by DELEGATE nodes, one per partition
        partitions = sum(d["op_name"] == "DELEGATE"
                         for d in form.interpreter._get_ops_details())  # noqa: SLF001
        facts[name] = {"ops": dict(ops), "size_mb": path.stat().st_size / 1e6,
                       "xnnpack_partitions": partitions,
                       "boundary_caches": sum("state" in d["name"] for d in inputs),
                       "float32_ops": len(float32_tensor_ops(path))}
    return facts


def agreement(paths: dict[str, Path], frames: int = 6) -> dict[str, float]:
    """Max |float logits difference| of each form and model against ``tsm`` on the signature
    runner (0 = bit-exact), streamed over the same random frames."""
    reference_form = open_form("signature", paths["tsm"], 1)
    rng = np.random.default_rng(3)
    shape, dtype = reference_form.frame_shape, reference_form.frame_dtype
    if dtype == np.float32:
        clip = rng.normal(size=(frames, *shape)).astype(dtype)
    else:
        clip = rng.integers(-128, 127, (frames, *shape)).astype(dtype)
    scale, zero_point = reference_form.output_details[reference_form.logits_name]["quantization"]

    def as_float(logits, form_name):  # the session dequantizes, the other forms return raw
        logits = np.asarray(logits, np.float32).reshape(-1)
        return logits if form_name == "session" or not scale else (logits - zero_point) * scale

    reference = np.stack([as_float(reference_form.step(f), "signature") for f in clip])
    result = {}
    for model, form, _ in ENTRIES:
        if model in ("tsn", "ablation_io") or f"{model}/{form}" in result:
            continue
        try:
            runner = open_form(form, paths[model], 1)
        except ValueError as error:  # e.g. a cache that needs requantizing: not this form
            result[f"{model}/{form}"] = f"not possible: {error}"
            continue
        logits = np.stack([as_float(runner.step(f), form) for f in clip])
        result[f"{model}/{form}"] = float(np.abs(logits - reference).max())
    return result


# -- timing -----------------------------------------------------------------------------------
class RawInterpreter:
    """The model call alone on a plain interpreter, inputs left at zero (for the ablation,
    whose unused cache inputs stay float32 in int8: no hand-over form accepts it)."""

    def __init__(self, path: Path, threads: int):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
        self.interpreter.allocate_tensors()
        self.invoke = self.interpreter.invoke
        details = self.interpreter.get_input_details()[0]
        self.frame_shape, self.frame_dtype = tuple(details["shape"]), np.dtype(details["dtype"])

    def step(self, frame) -> None:
        self.invoke()

def measure(paths: dict[str, Path], threads: int, rounds: int, runs: int,
            skipped: dict) -> list[dict]:
    calls, forms = {}, {}
    for model, form, measure_name in ENTRIES:
        key = (model, form)
        if key in skipped:
            continue
        if key not in forms:
            try:
                runner = (RawInterpreter(paths[model], threads) if form == "raw"
                          else open_form(form, paths[model], threads))
            except ValueError as error:
                skipped[key] = str(error)
                continue
            frame = np.zeros(runner.frame_shape, runner.frame_dtype)
            for _ in range(5):
                runner.step(frame)
            forms[key] = (runner, frame)
        runner, frame = forms[key]
        calls[(model, form, measure_name)] = (
            (lambda r=runner, f=frame: r.step(f)) if measure_name == "app" else runner.invoke)
    cpu: dict = {}
    times = interleaved_rounds(calls, rounds=rounds, runs=runs, cpu=cpu)
    medians = {k: [statistics.median(r) for r in v] for k, v in times.items()}
    best_base = min((k for k in medians if k[0] == "tsn" and k[2] == "app"),
                    key=lambda k: statistics.median(medians[k]))
    rows = []
    for key in calls:
        model, form, measure_name = key
        same = ("tsn", form, measure_name) if ("tsn", form, measure_name) in medians else best_base
        rows.append({
            "model": model, "handover": form, "measure": measure_name,
            "median_ms": statistics.median(medians[key]),
            "cpu_ms": statistics.median(cpu[key]),
            "baseline": "/".join(same),
            "overhead_pct": paired_overhead(medians[key], medians[same]),
            "overhead_cpu_pct": paired_overhead(cpu[key], cpu[same]),
            "vs_best_baseline": "/".join(best_base),
            "overhead_vs_best_pct": paired_overhead(medians[key], medians[best_base]),
            # fastest decile: the rounds least disturbed by other work on a shared machine
            "p10_ms": percentile(medians[key], 10),
            "overhead_p10_pct": 100 * (percentile(medians[key], 10)
                                       / percentile(medians[same], 10) - 1),
        })
    return rows


def print_rows(precision: str, rows: list[dict]) -> None:
    print(f"\n== {precision} ==")
    print(f"{'model':<14}{'hand-over':<12}{'measure':<8}{'median ms':>10}{'CPU ms':>8}"
          f"{'p10 ms':>8}{'vs 2D (same form)':>19}{'CPU':>8}{'p10':>8}{'vs best 2D app':>16}")
    for r in rows:
        print(f"{r['model']:<14}{r['handover']:<12}{r['measure']:<8}{r['median_ms']:>10.3f}"
              f"{r['cpu_ms']:>8.2f}{r['p10_ms']:>8.3f}{r['overhead_pct']:>+18.1f}%"
              f"{r['overhead_cpu_pct']:>+7.1f}%{r['overhead_p10_pct']:>+7.1f}%"
              f"{r['overhead_vs_best_pct']:>+15.1f}%")


def add_common_arguments(parser: argparse.ArgumentParser, *, rounds: int, runs: int,
                         json_path: str) -> None:
    """The options this script shares with ``benchmarks/recognizer_loop.py``."""
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=2, help="model threads (2)")
    parser.add_argument("--rounds", type=int, default=rounds, help=f"rounds ({rounds})")
    parser.add_argument("--runs", type=int, default=runs,
                        help=f"timed frames per entry per round ({runs})")
    parser.add_argument("--precisions", default="float32,int8")
    parser.add_argument("--models-dir", default="runs/streaming_overhead/models")
    parser.add_argument("--json", default=json_path)


def report_header(name: str, args: argparse.Namespace) -> dict:
    """The run's settings and the host (CPU, cores, SIMD features, LiteRT), printed too."""
    host = host_facts()
    print(f"host: {describe_host(host)}; {args.threads} model threads", flush=True)
    return {"benchmark": name, "size": args.size, "threads": args.threads,
            "rounds": args.rounds, "runs": args.runs, "host": host,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser, rounds=150, runs=1, json_path="runs/streaming_overhead.json")
    args = parser.parse_args(argv)
    report = report_header("streaming_overhead", args)
    report["precisions"] = {}
    for precision in args.precisions.split(","):
        paths = build_models(Path(args.models_dir), args.size, precision)
        facts = model_facts(paths)
        exact = agreement(paths)
        skipped: dict = {}
        rows = measure(paths, args.threads, args.rounds, args.runs, skipped)
        print_rows(precision, rows)
        for (model, form), reason in skipped.items():
            print(f"not measured: {model}/{form}: {reason}")
        print("max |logits - tsm/signature|:",
              {k: v if isinstance(v, str) else f"{v:.2g}" for k, v in exact.items()})
        print("XNNPACK partitions:", {k: v["xnnpack_partitions"] for k, v in facts.items()})
        print("float32 ops:", {k: v["float32_ops"] for k, v in facts.items()},
              "caches at the boundary:", {k: v["boundary_caches"] for k, v in facts.items()})
        report["precisions"][precision] = {
            "rows": rows, "agreement": exact, "models": facts,
            "not_measured": {"/".join(k): v for k, v in skipped.items()}}
    atomic_write_text(args.json, json.dumps(report, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

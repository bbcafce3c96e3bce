"""Benchmark one model (and optionally its 2D baseline) on one device; rows for the results.

Every device gives the same fields (``tsm_tf.bench.results.RESULT_FIELDS``). With a baseline,
both models run interleaved in rounds in one invocation and the overhead is the median of the
per-round latency ratios.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
from pathlib import Path

import numpy as np

from tsm_tf.bench.handover import open_form
from tsm_tf.bench.host import describe_host
from tsm_tf.bench.modelinfo import model_size_mb, quantization_of
from tsm_tf.bench.remote import (
    DeviceLost,
    DeviceUnavailable,
    RemoteModel,
    RemoteSession,
    model_inputs,
)
from tsm_tf.bench.timing import interleaved_rounds, paired_overhead, percentile, summarize
from tsm_tf.io_utils import atomic_write_text

DEFAULT_FORM = "session"  # the runtime's StreamingSession: what the Recognizer pays per frame


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_model(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model file {path}: pass --model PATH.tflite")
    return path


def _base_row(profile: dict, path: Path, role: str, threads: int, delegate: str) -> dict:
    return {"timestamp": _now(), "device": profile["name"], "backend": profile["kind"],
            "model": path.name, "role": role, "quantization": quantization_of(path),
            "threads": threads, "delegate": delegate, "model_size_mb": model_size_mb(path),
            "status": "ok"}


def _frame(form) -> np.ndarray:
    rng = np.random.default_rng(0)
    if form.frame_dtype == np.float32:
        return rng.normal(size=form.frame_shape).astype(np.float32)
    info = np.iinfo(form.frame_dtype)
    values = rng.integers(info.min, info.max, form.frame_shape, endpoint=True)
    return values.astype(form.frame_dtype)


def load_delegates(profile: dict) -> list:
    """The TFLite delegates of an in-process profile (``edgetpu``), loaded by the runtime's
    ``load_delegate`` (one implementation with the Recognizer's)."""
    if profile.get("delegate") != "edgetpu":
        return []
    from ai_edge_litert import interpreter as litert

    from tsm_tf.runtime.backend import RuntimeBackendError, load_delegate

    library = profile.get("delegate_library", "edgetpu")
    try:
        return [load_delegate(litert, library, profile.get("delegate_options"))]
    except RuntimeBackendError as error:
        raise DeviceUnavailable(
            f"{profile['name']}: {error} The model must be compiled with edgetpu_compiler."
        ) from None


def run_local(model, baseline=None, *, profile: dict, threads: int, runs: int, warmup: int,
              rounds: int, form: str = DEFAULT_FORM) -> list[dict]:
    """LiteRT in-process (``host`` and ``edgetpu`` profiles).

    Two measures per model: ``app`` (write the frame, hand the caches over, run, read the
    logits: what an application pays per frame) and ``call`` (the model call alone).
    """
    paths = {"model": _check_model(model)}
    if baseline is not None:
        paths["baseline"] = _check_model(baseline)
    delegates = load_delegates(profile)
    delegate = profile.get("delegate", "xnnpack")
    runners, init_ms, first_ms = {}, {}, {}
    for role, path in paths.items():
        start = time.perf_counter()
        runner = open_form(form, path, threads, delegates or None)
        init_ms[role] = (time.perf_counter() - start) * 1000
        frame = _frame(runner)
        start = time.perf_counter()
        runner.step(frame)
        first_ms[role] = (time.perf_counter() - start) * 1000
        for _ in range(warmup):
            runner.step(frame)
        runners[role] = (runner, frame)
    calls = {}
    for role, (runner, frame) in runners.items():
        calls[(role, "app")] = (lambda r=runner, f=frame: r.step(f))
        calls[(role, "call")] = runner.invoke
    cpu: dict = {}
    times = interleaved_rounds(calls, rounds=rounds, runs=runs, cpu=cpu)
    host = describe_host()  # int8 vs float32 depends on the CPU's SIMD features
    round_medians = {key: [statistics.median(r) for r in value] for key, value in times.items()}
    rows = []
    for (role, measure), per_round in times.items():
        row = _base_row(profile, paths[role], role, threads, delegate)
        notes = [f"hand-over: {form}"] if measure == "app" else []
        notes.append(f"CPU {statistics.median(cpu[(role, measure)]):.3f} ms/frame")
        if baseline is not None:
            row["baseline"] = paths["baseline"].name
            if role == "model":
                row["overhead_pct"] = paired_overhead(round_medians[(role, measure)],
                                                      round_medians[("baseline", measure)])
                cpu_overhead = paired_overhead(cpu[(role, measure)], cpu[("baseline", measure)])
                fastest = 100 * (percentile(round_medians[(role, measure)], 10)
                                 / percentile(round_medians[("baseline", measure)], 10) - 1)
                notes.append(f"CPU-time overhead {cpu_overhead:+.1f} %; fastest-decile "
                             f"overhead {fastest:+.1f} %")
        notes.append(host)
        row.update(measure=measure, init_ms=init_ms[role], first_ms=first_ms[role],
                   runs=runs * rounds, warmup=warmup, rounds=rounds, note="; ".join(notes),
                   **summarize([t for r in per_round for t in r]))
        rows.append(row)
    return rows


def cross_check_host(model, *, profile: dict, threads: int, runs: int, warmup: int) -> dict:
    """The same model through ``ai_edge_litert.tools.benchmark_litert_model`` (LiteRT's own
    benchmark, CompiledModel API, random inputs): a row to set beside the ``call`` measure."""
    import argparse
    import contextlib
    import io

    from ai_edge_litert.tools import benchmark_litert_model as tool

    path = _check_model(model)
    args = argparse.Namespace(
        model=str(path), signature="", use_cpu=True, no_cpu=False, use_gpu=False, use_npu=False,
        require_full_delegation=False, dispatch_library_path="", compiler_plugin_path="",
        runtime_path="", num_runs=runs, warmup_runs=warmup, num_threads=threads,
        result_json="", verbose=False)
    with contextlib.redirect_stdout(io.StringIO()):
        latency = tool.run_benchmark(args)["latency"]
    row = _base_row(profile, path, "model", threads, "xnnpack")
    row.update(measure="benchmark_litert_model", init_ms=latency["init_ms"],
               first_ms=latency["warmup_first_ms"], mean_ms=latency["avg_ms"],
               median_ms=latency["median_ms"], p90_ms=None, fps=1000.0 / latency["median_ms"],
               runs=latency["num_runs"], warmup=warmup, rounds=1,
               note="LiteRT's benchmark tool (CompiledModel, random inputs); p95 "
                    f"{latency['p95_ms']:.2f} ms")
    return row


def run_remote(session: RemoteSession, model, baseline=None, *, threads: int, runs: int,
               warmup: int, rounds: int, log=print, op_profile_dir=None) -> list[dict]:
    """``benchmark_model`` on an adb or ssh device, models alternating round by round.

    A device lost mid-benchmark ends the loop: the rows then hold the rounds completed so far
    (``status`` says so) rather than nothing.
    """
    paths = {"model": _check_model(model)}
    if baseline is not None:
        paths["baseline"] = _check_model(baseline)
    remote = {role: RemoteModel(path, model_inputs(path)) for role, path in paths.items()}
    run = dict(threads=threads, runs=runs, warmup=warmup)
    session.check(list(remote.values()), **run)
    if op_profile_dir is not None:
        run["op_profiling"] = True
    results = {role: [] for role in remote}
    status = "ok"
    try:
        session.setup(list(remote.values()))
        for index in range(rounds):
            order = list(remote) if index % 2 == 0 else list(remote)[::-1]
            for role in order:
                results[role].append(session.run_model(remote[role], **run))
                if op_profile_dir is not None:  # the binary's per-op tables, last round kept
                    name = f"{session.profile['name']}.{paths[role].stem}.op_profile.txt"
                    atomic_write_text(Path(op_profile_dir) / name, session.last_output)
            log(f"round {index + 1}/{rounds}: " + ", ".join(
                f"{role} {results[role][-1]['mean_ms']:.2f} ms" for role in remote))
    except DeviceLost as error:
        done = min(len(r) for r in results.values())
        status = f"partial: device lost after {done} of {rounds} rounds ({error})"
        log(status)
    warning = session.cleanup()
    if warning:
        log(warning)
    return _remote_rows(session.profile, paths, results, threads=threads, runs=runs,
                        warmup=warmup, status=status)


def _remote_rows(profile, paths, results, *, threads, runs, warmup, status) -> list[dict]:
    rows = []
    paired = min(len(r) for r in results.values())
    for role, per_round in results.items():
        if not per_round:
            continue
        means = [r["mean_ms"] for r in per_round]
        median = (per_round[0]["median_ms"] if len(per_round) == 1 and per_round[0]["median_ms"]
                  else statistics.median(means))
        memory = [r["memory_overall_mb"] or r["memory_peak_mb"] for r in per_round]
        memory = [m for m in memory if m is not None]
        row = _base_row(profile, paths[role], role, threads, profile.get("delegate", "xnnpack"))
        row.update(measure="benchmark_model", init_ms=per_round[0]["init_ms"],
                   first_ms=per_round[0]["first_ms"], mean_ms=statistics.fmean(means),
                   median_ms=median, p90_ms=None, fps=1000.0 / median,
                   runs=runs * len(per_round), warmup=warmup, rounds=len(per_round),
                   memory_mb=max(memory) if memory else None, status=status,
                   note="median over rounds of benchmark_model's mean; p90 not reported "
                        "by the binary; caches random, not carried")
        if "baseline" in paths:
            row["baseline"] = paths["baseline"].name
            if role == "model" and paired:
                row["overhead_pct"] = paired_overhead(
                    means[:paired], [r["mean_ms"] for r in results["baseline"][:paired]])
        rows.append(row)
    return rows


def describe_missing(profile: dict, binary: str | os.PathLike | None) -> str:
    """One line per missing piece for a device, for the command line."""
    return f"{profile['name']} ({profile['kind']}): binary {binary or 'not given'}"

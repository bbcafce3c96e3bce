"""Interleaved rounds and the statistics every device reports."""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), ``q`` in [0, 100]."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(times_ms: list[float]) -> dict:
    """mean / median / p90 latency (ms) and fps (from the median) of per-frame times."""
    median = statistics.median(times_ms)
    return {"mean_ms": statistics.fmean(times_ms), "median_ms": median,
            "p90_ms": percentile(times_ms, 90), "fps": 1000.0 / median}


def paired_overhead(times: list[float], baseline: list[float]) -> float:
    """Percent overhead: the median over rounds of each round's ratio to the baseline."""
    ratios = [t / b for t, b in zip(times, baseline, strict=True)]
    return 100.0 * (statistics.median(ratios) - 1.0)


def interleaved_rounds(calls: dict, *, rounds: int, runs: int, seed: int = 0,
                       cpu: dict | None = None) -> dict[object, list[list[float]]]:
    """Time ``runs`` calls of each entry per round, entries in a shuffled order each round,
    so machine noise hits all of them alike. Returns per-call wall times (ms) per round; when
    ``cpu`` is a dict it receives the process CPU time (ms, all threads) of each round's calls
    divided by ``runs`` (time other processes take from this one does not count there)."""
    order = list(calls)
    rng = random.Random(seed)
    times = {name: [] for name in calls}
    if cpu is not None:
        cpu.update({name: [] for name in calls})
    clock, cpu_clock = time.perf_counter, time.process_time
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            call: Callable[[], object] = calls[name]
            per_call = []
            cpu_start = cpu_clock()
            for _ in range(runs):
                start = clock()
                call()
                per_call.append((clock() - start) * 1000.0)
            if cpu is not None:
                cpu[name].append((cpu_clock() - cpu_start) * 1000.0 / runs)
            times[name].append(per_call)
    return times

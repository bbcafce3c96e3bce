"""Parse the text printed by TensorFlow Lite's ``benchmark_model`` binary.

The lines it prints (Android over adb, Linux boards over ssh; with or without a logcat-style
prefix such as ``INFO:`` or ``I tflite  :``)::

    count=50 first=15064 curr=14931 min=14447 max=17366 avg=15128.4 std=401 [p5=.. median=.. p95=..]
    Inference timings in us: Init: 36251, First inference: 25781, Warmup (avg): 16213.2, \
        Inference (avg): 15128.4      (one line)
    Memory footprint delta from the start of the tool (MB): init=30.07 overall=37.67
    Peak memory footprint (MB): init=4.93 overall=138.81          (newer builds)
    Overall peak memory footprint (MB) via periodic monitoring: 41.2

Times are microseconds and may be written in exponent form (``2.95034e+06``).
"""

from __future__ import annotations

import re

_NUMBER = r"([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)"
_TIMINGS = re.compile(
    r"Inference timings in us: Init: " + _NUMBER + r", First inference: " + _NUMBER
    + r", Warmup \(avg\): " + _NUMBER + r", Inference \(avg\): " + _NUMBER
)
_STAT = re.compile(r"count=(\d+)((?: [a-z0-9]+=[0-9.eE+-]+)+)")
_MEMORY = re.compile(
    r"(?:Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\): "
    r"init=" + _NUMBER + r" overall=" + _NUMBER
)
_PEAK = re.compile(r"Overall peak memory footprint \(MB\) via periodic monitoring: " + _NUMBER)
_DELEGATED = re.compile(r"Replacing (\d+) out of (\d+) node\(s\) with delegate")


class BenchmarkOutputError(ValueError):
    """The text holds no ``Inference timings in us`` line: the run failed or was cut off."""


def parse_benchmark_output(text: str) -> dict:
    """Timings (ms) and memory (MB) from ``benchmark_model`` output.

    Returns a dict with ``init_ms``, ``first_ms``, ``warmup_mean_ms``, ``mean_ms`` (always),
    ``runs``, ``min_ms``, ``max_ms``, ``std_ms``, ``median_ms`` (``None`` when this build does not
    print percentiles), ``memory_init_mb``, ``memory_overall_mb``, ``memory_peak_mb``,
    ``delegated_nodes`` (``"n/m"`` or ``None``).

    Raises:
        BenchmarkOutputError: no timing summary (the tail of the text is quoted).
    """
    timings = _TIMINGS.search(text)
    if timings is None:
        tail = " | ".join(line.strip() for line in text.strip().splitlines()[-3:])
        raise BenchmarkOutputError(
            "benchmark_model printed no 'Inference timings in us' line (the run failed or the "
            f"device went away); last output: {tail or '(none)'}"
        )
    init, first, warmup, mean = (float(v) / 1000 for v in timings.groups())
    result = {"init_ms": init, "first_ms": first, "warmup_mean_ms": warmup, "mean_ms": mean,
              "runs": None, "min_ms": None, "max_ms": None, "std_ms": None, "median_ms": None,
              "memory_init_mb": None, "memory_overall_mb": None, "memory_peak_mb": None,
              "delegated_nodes": None}
    stats = _STAT.findall(text[: timings.start()])
    if stats:  # the last stat line before the summary is the timed runs (the first: warm-up)
        count, fields = stats[-1]
        values = dict(pair.split("=") for pair in fields.split())
        result["runs"] = int(count)
        for key, name in (("min", "min_ms"), ("max", "max_ms"), ("std", "std_ms"),
                          ("median", "median_ms")):
            if key in values:
                result[name] = float(values[key]) / 1000
    memory = _MEMORY.search(text)
    if memory:
        result["memory_init_mb"], result["memory_overall_mb"] = map(float, memory.groups())
    peak = _PEAK.search(text)
    if peak:
        result["memory_peak_mb"] = float(peak.group(1))
    delegated = _DELEGATED.search(text)
    if delegated:
        result["delegated_nodes"] = f"{delegated.group(1)}/{delegated.group(2)}"
    return result

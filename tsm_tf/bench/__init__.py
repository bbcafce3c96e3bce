"""Benchmark harness: per-frame latency of TFLite models on the host (LiteRT in-process) and
on phones, boards and the Edge TPU (the TFLite ``benchmark_model`` binary over adb or ssh).

``mobile/benchmark.py`` and ``mobile/report.py`` are thin command lines over this package.
"""

from tsm_tf.bench.parse import BenchmarkOutputError, parse_benchmark_output
from tsm_tf.bench.results import RESULT_FIELDS, append_results, read_results

__all__ = [
    "RESULT_FIELDS",
    "BenchmarkOutputError",
    "append_results",
    "parse_benchmark_output",
    "read_results",
]

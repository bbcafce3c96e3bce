"""benchmark_model output parsing against the binary's real output format."""

from pathlib import Path

import pytest

from tsm_tf.bench.parse import BenchmarkOutputError, parse_benchmark_output

FIXTURE = (Path(__file__).parent / "fakes" / "benchmark_model_output.txt").read_text()


def test_full_output_of_a_recent_build():
    text = FIXTURE.replace("MODEL", "tsm").replace("MEAN", "33250.5").replace("MEDIAN", "33101")
    result = parse_benchmark_output(text)
    assert result["init_ms"] == pytest.approx(48.211)
    assert result["first_ms"] == pytest.approx(41.532)
    assert result["warmup_mean_ms"] == pytest.approx(34.1056)
    assert result["mean_ms"] == pytest.approx(33.2505)
    # the timed runs' line (count=30), not the warm-up line (count=23)
    assert result["runs"] == 30
    assert result["median_ms"] == pytest.approx(33.101)
    assert result["min_ms"] == pytest.approx(32.705)
    assert result["memory_init_mb"] == pytest.approx(22.0391)
    assert result["memory_overall_mb"] == pytest.approx(31.5273)
    assert result["memory_peak_mb"] == pytest.approx(36.8125)
    assert result["delegated_nodes"] == "122/122"


def test_older_build_exponent_notation_and_logcat_prefix():
    text = "\n".join([
        "I tflite  : count=50 first=2990275 curr=2913402 min=2727568 max=3189954 "
        "avg=2.95034e+06 std=109798",
        "I tflite  : Inference timings in us: Init: 17187, First inference: 3512391, "
        "Warmup (avg): 3.51239e+06, Inference (avg): 2.95034e+06",
        "I tflite  : Peak memory footprint (MB): init=4.92969 overall=138.809",
    ])
    result = parse_benchmark_output(text)
    assert result["mean_ms"] == pytest.approx(2950.34)
    assert result["warmup_mean_ms"] == pytest.approx(3512.39)
    assert result["median_ms"] is None  # this build prints no percentiles
    assert result["runs"] == 50
    assert result["memory_overall_mb"] == pytest.approx(138.809)


def test_output_cut_off_before_the_summary_names_the_last_line():
    text = FIXTURE.split("Inference timings")[0] + "error: device 'R58M' not found\n"
    with pytest.raises(BenchmarkOutputError, match="device 'R58M' not found"):
        parse_benchmark_output(text)

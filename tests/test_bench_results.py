"""Result rows (CSV + JSON), the report, and the host device end to end."""

import csv
import json

import pytest
from bench_models import tiny_model

from tsm_tf.bench.cli import main as benchmark_main
from tsm_tf.bench.report import PAPER_FPS, write_report
from tsm_tf.bench.results import RESULT_FIELDS, append_results, read_results
from tsm_tf.bench.timing import paired_overhead, percentile, summarize


def row(**values):
    base = {"device": "note8", "model": "tsm.tflite", "role": "model", "measure": "app",
            "mean_ms": 40.0, "median_ms": 40.0, "fps": 25.0, "status": "ok"}
    return {**base, **values}


def test_rows_append_to_csv_and_json(tmp_path):
    path = tmp_path / "results.csv"
    append_results(path, [row()])
    append_results(path, [row(model="tsn.tflite", role="baseline", overhead_pct=None)])
    with open(path, newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == list(RESULT_FIELDS) and len(lines) == 3  # one header
    assert [r["model"] for r in read_results(path)] == ["tsm.tflite", "tsn.tflite"]
    stored = json.loads(path.with_suffix(".json").read_text())
    assert len(stored) == 2 and stored[1]["overhead_pct"] is None


def test_unknown_fields_and_foreign_csv_are_refused(tmp_path):
    with pytest.raises(ValueError, match="Unknown result fields"):
        append_results(tmp_path / "r.csv", [row(speed=1)])
    foreign = tmp_path / "other.csv"
    foreign.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="other columns"):
        append_results(foreign, [row()])
    with pytest.raises(ValueError, match="not a benchmark results CSV"):
        read_results(foreign)


def test_statistics_against_numpy_definitions():
    import numpy as np

    values = [5.0, 1.0, 4.0, 2.0, 3.0, 10.0]
    assert percentile(values, 90) == pytest.approx(np.percentile(values, 90))
    summary = summarize(values)
    assert summary["median_ms"] == pytest.approx(3.5)
    assert summary["fps"] == pytest.approx(1000 / 3.5)
    # median of per-round ratios, not ratio of medians: rounds 1.1, 1.2, 1.0 -> +10 %
    assert paired_overhead([11.0, 24.0, 5.0], [10.0, 20.0, 5.0]) == pytest.approx(10.0)


def test_report_has_a_table_a_chart_per_device_and_the_paper(tmp_path):
    path = tmp_path / "results.csv"
    append_results(path, [
        row(overhead_pct=2.5, baseline="tsn.tflite"),
        row(model="tsn.tflite", role="baseline", fps=26.0),
        row(device="host", fps=120.0, overhead_pct=1.0),
    ])
    written = write_report(path, tmp_path / "report")
    text = (tmp_path / "report" / "report.md").read_text()
    assert "| note8 | tsm.tflite | model | app |" in text and "+2.5 %" in text
    assert f"| {PAPER_FPS['note8']:.1f} |" in text  # the paper's Note8 figure beside ours
    assert "Jetson Nano GPU | 74.6" in text and "4.7 ms, TSM 4.8 ms" in text
    charts = [p for p in written if p.endswith(".png")]
    assert len(charts) == 2
    for chart in charts:
        assert open(chart, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_report_without_results_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="run mobile/benchmark.py"):
        write_report(tmp_path / "none.csv", tmp_path / "out")


@pytest.mark.slow
def test_host_benchmark_pairs_the_models_and_writes_rows(tmp_path, capsys):
    results = tmp_path / "results.csv"
    code = benchmark_main(["--model", str(tiny_model("tsm_float32")), "--baseline",
                           str(tiny_model("tsn_float32")), "--device", "host", "--threads", "1",
                           "--rounds", "3", "--runs", "4", "--warmup", "1", "--cross-check",
                           "--results", str(results)])
    assert code == 0
    rows = read_results(results)
    tool = rows.pop()  # LiteRT's own benchmark on the same model, beside our "call" measure
    assert tool["measure"] == "benchmark_litert_model" and tool["runs"] == 12
    ours = next(r for r in rows if r["role"] == "model" and r["measure"] == "call")
    assert 0.2 < tool["median_ms"] / ours["median_ms"] < 5
    assert {(r["role"], r["measure"]) for r in rows} == {
        ("model", "app"), ("model", "call"), ("baseline", "app"), ("baseline", "call")}
    for r in rows:
        assert r["runs"] == 12 and r["threads"] == 1 and r["quantization"] == "float32"
        assert r["p90_ms"] >= r["median_ms"] > 0
        assert r["fps"] == pytest.approx(1000 / r["median_ms"], rel=1e-4)  # CSV keeps 6 digits
        assert r["init_ms"] > 0 and r["first_ms"] > 0 and r["model_size_mb"] > 0
        assert (r["overhead_pct"] is not None) == (r["role"] == "model")
    assert "appended 5 rows" in capsys.readouterr().out


def test_missing_model_is_a_one_line_error(tmp_path, capsys):
    code = benchmark_main(["--model", str(tmp_path / "nope.tflite"), "--results",
                           str(tmp_path / "r.csv")])
    assert code == 2
    assert "No model file" in capsys.readouterr().err and not (tmp_path / "r.csv").exists()


# LiteRT's Delegate.__del__ fails on a delegate whose library did not load (not our object)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_edgetpu_without_runtime_says_what_is_missing(tmp_path, capsys):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"not read before the delegate loads")
    code = benchmark_main(["--model", str(model), "--device", "edgetpu", "--results",
                           str(tmp_path / "r.csv")])
    err = capsys.readouterr().err
    assert code == 3 and "libedgetpu.so.1" in err and "edgetpu_compiler" in err


@pytest.mark.parametrize("flag, value", [("--runs", "0"), ("--rounds", "0"),
                                         ("--warmup", "-1"), ("--threads", "0"),
                                         ("--runs", "many")])
def test_counts_are_checked_by_the_parser(flag, value, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        benchmark_main(["--model", str(tmp_path / "m.tflite"), flag, value])
    assert exit_.value.code == 2 and flag in capsys.readouterr().err


def test_a_bad_results_file_fails_before_the_benchmark(tmp_path, capsys):
    results = tmp_path / "results.csv"
    results.with_suffix(".json").write_text("{not json")
    # the model does not exist either: the results file is checked first, so that error wins
    code = benchmark_main(["--model", str(tmp_path / "absent.tflite"), "--results",
                           str(results)])
    err = capsys.readouterr().err
    assert code == 2 and "results.json is not valid JSON" in err
    assert not results.exists()
    with pytest.raises(ValueError, match="not a list of result rows"):
        results.with_suffix(".json").write_text('{"rows": []}')
        append_results(results, [{"device": "host", "model": "m", "mean_ms": 1.0}])
    assert not results.exists()  # the CSV is not written when the JSON beside it is bad

"""The shift-overhead benchmark script: its frame-copy floor and its report (not its timings)."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import tsm_tf
from tsm_tf.layers import TemporalShift

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "shift_overhead.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("shift_overhead", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_frame_copy_moves_whole_frames(bench):
    x = np.random.default_rng(0).normal(size=(8, 3, 3, 5)).astype("float32")
    y = np.asarray(bench.FrameCopy()(x))
    np.testing.assert_array_equal(y, np.roll(x, -1, axis=0))


def test_frame_copy_model_replaces_each_shift_and_keeps_the_weights(bench):
    model = tsm_tf.create_model("tsm_resnet_tiny", num_classes=3, num_segments=4, input_size=32)
    floor = bench.with_frame_copy(model)
    shifts = [layer for layer in model.layers if isinstance(layer, TemporalShift)]
    copies = [layer for layer in floor.layers if isinstance(layer, bench.FrameCopy)]
    assert shifts and len(copies) == len(shifts)
    assert not any(isinstance(layer, TemporalShift) for layer in floor.layers)
    for ours, theirs in zip(floor.weights, model.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs), err_msg=ours.path)


def test_report_lists_every_variant_with_tsn_parameters_and_macs(bench, tmp_path):
    out = tmp_path / "overhead.json"
    code = bench.main(["--arch", "resnet_tiny", "--frames", "4", "--size", "32", "--rounds", "2",
                       "--warmup", "1", "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    labels = [row["model"] for row in report["rows"]]
    assert labels == [*bench.VARIANTS, bench.FRAME_COPY]
    tsn = report["rows"][0]
    assert tsn["overhead_pct"] == 0 and tsn["overhead_fastest_pct"] == 0
    assert [row["floor"] for row in report["rows"]] == [False] * 5 + [True]
    for row in report["rows"]:
        assert row["params"] == tsn["params"] and row["gmacs"] == tsn["gmacs"]
        assert row["median_ms"] > 0


@pytest.mark.slow
def test_edgetpu_ops_script_passes_the_streaming_model_and_rejects_the_offline_one(tmp_path):
    """The README's Edge TPU counts come from benchmarks/edgetpu_ops.py: the streaming int8
    model meets every rule; the offline one fails from op #0 on its 5-D clip."""
    module = load_script("edgetpu_ops")
    out = tmp_path / "edgetpu_ops.json"
    assert module.main(["--archs", "resnet_tiny", "--input-size", "32", "--num-segments", "4",
                        "--num-classes", "3", "--calib-clips", "1", "--json", str(out)]) == 0
    streaming, offline = json.loads(out.read_text())
    assert (streaming["mode"], offline["mode"]) == ("streaming", "offline")
    assert streaming["tpu_ops"] == streaming["ops"] > 0 and streaming["cpu_ops"] == 0
    assert offline["tpu_ops"] == 0 and offline["cpu_ops"] == offline["ops"]
    assert offline["first_unsupported_short"].startswith("#0 ")
    assert "[tensor-rank]" in offline["first_unsupported_short"]


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPT.with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_memory_rows_parse_and_bad_rows_say_the_format():
    bench = load_script("train_memory")
    assert bench.parse_row("resnet50:224:4:sgd:2") == {
        "arch": "resnet50", "input_size": 224, "clips": 4, "optimizer": "sgd", "accum_steps": 2}
    assert bench.parse_row("resnet_tiny:64:16:adam")["accum_steps"] == 1
    command = bench.train_command(bench.parse_row("resnet50:224:4:sgd:2"), "out", 3, 8)
    assert command[command.index("--batch-size") + 1] == "8"  # 4 clips x 2 accumulation steps
    for bad, message in (("resnet50:224", "arch:input_size"), ("resnet50:big:4:sgd", "integers")):
        with pytest.raises(Exception, match=message):
            bench.parse_row(bad)


@pytest.mark.slow
def test_train_memory_reads_the_estimate_and_the_childs_peak_rss(tmp_path):
    bench = load_script("train_memory")
    out = tmp_path / "memory.json"
    assert bench.main(["--rows", "resnet_tiny:32:2:adam", "--steps", "1", "--frames", "4",
                       "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert row["estimate_gib"] > 0
    # the child imported TensorFlow and trained: hundreds of MiB, not this process's figure
    assert 0.2 < row["peak_rss_gib"] < 8
    assert row["ratio"] == pytest.approx(row["estimate_gib"] / row["peak_rss_gib"], abs=0.01)

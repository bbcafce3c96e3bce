"""adb / ssh devices: commands, parsing and failures, with fake adb, ssh and scp on PATH."""

import json
import os
import shlex
from pathlib import Path

import pytest
from bench_models import tiny_model

from tsm_tf.bench.cli import main as benchmark_main
from tsm_tf.bench.devices import load_devices, resolve_device
from tsm_tf.bench.remote import DeviceUnavailable, RemoteModel, RemoteSession
from tsm_tf.bench.results import read_results
from tsm_tf.bench.runner import run_remote

FAKES = Path(__file__).parent / "fakes"


@pytest.fixture
def fake_tools(tmp_path, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv("PATH", f"{FAKES}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_REMOTE_LOG", str(log))
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF fake")
    return log, binary


def calls(log: Path) -> list[tuple[str, list[str]]]:
    return [(line.split(" ", 1)[0], json.loads(line.split(" ", 1)[1]))
            for line in log.read_text().splitlines()]


def test_adb_command_pins_big_cores_and_names_every_cache_input():
    profile = resolve_device("note8@adb:R58M123", load_devices())
    session = RemoteSession(profile, "benchmark_model")
    model = RemoteModel(Path("tsm.tflite"), [("serving_default_image:0", (1, 224, 224, 3)),
                                             ("serving_default_state_a:0", (1, 56, 56, 3))])
    command = session.shell(session.benchmark_command(model, threads=4, runs=30, warmup=5))
    assert command[:4] == ["adb", "-s", "R58M123", "shell"]
    remote = shlex.split(command[4])
    assert remote[:3] == ["taskset", "f0", "/data/local/tmp/tsm_bench/benchmark_model"]
    assert "--graph=/data/local/tmp/tsm_bench/tsm.tflite" in remote
    assert {"--num_threads=4", "--num_runs=30", "--warmup_runs=5", "--use_xnnpack=true"} <= set(
        remote)
    assert "--input_layer=serving_default_image:0,serving_default_state_a:0" in remote
    assert "--input_layer_shape=1,224,224,3:1,56,56,3" in remote


@pytest.mark.slow
def test_adb_run_interleaves_parses_and_cleans_up(fake_tools, monkeypatch):
    log, binary = fake_tools
    models = {name: tiny_model(name) for name in ("tsm_float32", "tsn_float32")}
    monkeypatch.setenv("FAKE_MEAN_US_tsm_float32", "36000")
    monkeypatch.setenv("FAKE_MEAN_US_tsn_float32", "32000")
    session = RemoteSession(resolve_device("pixel1@adb:FAKE123", load_devices()), binary)
    rows = run_remote(session, models["tsm_float32"], models["tsn_float32"], threads=2, runs=10,
                      warmup=2, rounds=3, log=lambda line: None)
    by_role = {row["role"]: row for row in rows}
    assert by_role["model"]["mean_ms"] == pytest.approx(36.0)
    assert by_role["baseline"]["mean_ms"] == pytest.approx(32.0)
    assert by_role["model"]["overhead_pct"] == pytest.approx(100 * (36 / 32 - 1))
    assert by_role["model"]["init_ms"] == pytest.approx(48.211)
    assert by_role["model"]["memory_mb"] == pytest.approx(31.5273)
    assert all(row["status"] == "ok" and row["rounds"] == 3 for row in rows)

    recorded = calls(log)
    assert all(tool == "adb" and args[:2] == ["-s", "FAKE123"] for tool, args in recorded)
    runs = [args for _, args in recorded if "--graph=" in " ".join(args)]
    graphs = [shlex.split(args[-1])[3] for args in runs]  # after "taskset c <binary>"
    assert graphs == [f"--graph=/data/local/tmp/tsm_bench/{n}.tflite" for n in
                      ("tsm_float32", "tsn_float32", "tsn_float32", "tsm_float32",
                       "tsm_float32", "tsn_float32")]
    # the streaming model's caches are named with their shapes
    tsm_command = shlex.split(runs[0][-1])
    layers = next(a for a in tsm_command if a.startswith("--input_layer="))
    assert "state_" in layers and layers.count(",") >= 2
    pushes = [args[-2:] for _, args in recorded if "push" in args]
    assert [str(binary), "/data/local/tmp/tsm_bench/benchmark_model"] in pushes
    assert recorded[-1][1][-1] == "rm -rf /data/local/tmp/tsm_bench"
    assert "--enable_op_profiling=true" not in runs[0][-1]


@pytest.mark.slow
def test_op_profile_flag_keeps_the_binary_output(fake_tools, tmp_path):
    log, binary = fake_tools
    code = benchmark_main(["--model", str(tiny_model("tsm_float32")), "--device",
                           "note8@adb:FAKE123", "--benchmark-binary", str(binary), "--rounds",
                           "1", "--op-profile", "--results", str(tmp_path / "r.csv")])
    assert code == 0
    runs = [args for _, args in calls(log) if "--graph=" in " ".join(args)]
    assert all("--enable_op_profiling=true" in args[-1] for args in runs)
    kept = (tmp_path / "note8.tsm_float32.op_profile.txt").read_text()
    assert "Inference timings in us" in kept


@pytest.mark.slow
def test_device_lost_mid_benchmark_keeps_completed_rounds(fake_tools, monkeypatch, tmp_path):
    log, binary = fake_tools
    models = {name: tiny_model(name) for name in ("tsm_float32", "tsn_float32")}
    monkeypatch.setenv("FAKE_MEAN_US_tsm_float32", "30000")
    monkeypatch.setenv("FAKE_MEAN_US_tsn_float32", "25000")
    monkeypatch.setenv("FAKE_FAIL_AFTER", "3")  # round 1 both, round 2 the baseline, then gone
    results = tmp_path / "results.csv"
    code = benchmark_main(["--model", str(models["tsm_float32"]), "--baseline",
                           str(models["tsn_float32"]), "--device", "note8@adb:FAKE123",
                           "--benchmark-binary", str(binary), "--rounds", "4", "--runs", "5",
                           "--results", str(results)])
    assert code == 4  # partial results
    rows = {row["role"]: row for row in read_results(results)}
    assert rows["model"]["rounds"] == 1 and rows["baseline"]["rounds"] == 2
    assert rows["model"]["status"].startswith("partial: device lost after 1 of 4 rounds")
    assert rows["model"]["overhead_pct"] == pytest.approx(20.0)
    assert json.loads(results.with_suffix(".json").read_text())[0]["device"] == "note8"


@pytest.mark.slow
def test_missing_binary_says_so_and_prints_the_commands(fake_tools, capsys):
    code = benchmark_main(["--model", str(tiny_model("tsm_float32")), "--device", "note8",
                           "--results", os.devnull])
    err = capsys.readouterr().err
    assert code == 3
    assert "missing the TFLite benchmark_model binary for arm64-v8a" in err
    assert "--benchmark-binary" in err
    assert "adb push" in err and "taskset f0 /data/local/tmp/tsm_bench/benchmark_model" in err


@pytest.mark.slow
def test_no_phone_attached(fake_tools, monkeypatch):
    log, binary = fake_tools
    monkeypatch.setenv("FAKE_DEVICE_STATE", "offline")
    session = RemoteSession(resolve_device("note8", load_devices()), binary)
    model = RemoteModel(tiny_model("tsm_float32"))
    with pytest.raises(DeviceUnavailable, match="no device answers.*no devices/emulators found"):
        session.check([model], threads=4, runs=10, warmup=2)


@pytest.mark.slow
def test_ssh_board_uses_scp_and_ssh_with_the_host(fake_tools):
    log, binary = fake_tools
    models = {name: tiny_model(name) for name in ("tsm_float32", "tsn_float32")}
    session = RemoteSession(resolve_device("rpi4@ssh:pi@10.0.0.7", load_devices()), binary)
    rows = run_remote(session, models["tsm_float32"], None, threads=4, runs=5, warmup=1,
                      rounds=1, log=lambda line: None)
    assert rows[0]["device"] == "rpi4" and rows[0]["backend"] == "ssh"
    recorded = calls(log)
    assert {tool for tool, _ in recorded} == {"ssh", "scp"}
    assert all("pi@10.0.0.7" in " ".join(args) for _, args in recorded)
    scp_targets = [args[-1] for tool, args in recorded if tool == "scp"]
    assert "pi@10.0.0.7:/tmp/tsm_bench/tsm_float32.tflite" in scp_targets


def test_ssh_profile_without_host_is_refused():
    session = RemoteSession(resolve_device("jetson_nano", load_devices()), "benchmark_model")
    with pytest.raises(DeviceUnavailable, match="jetson_nano@ssh"):
        session.shell(["true"])


def test_device_names():
    devices = load_devices()
    assert resolve_device("adb:XYZ", devices)["serial"] == "XYZ"
    assert resolve_device("ssh:me@board", devices)["host"] == "me@board"
    assert resolve_device("note8@adb:S1", devices)["cpu_mask"] == "f0"
    with pytest.raises(ValueError, match="Unknown device 'iphone'.*note8"):
        resolve_device("iphone", devices)
    with pytest.raises(ValueError, match="is a adb device"):
        resolve_device("note8@ssh:host", devices)


@pytest.mark.slow
def test_device_lost_before_any_round_is_exit_4_with_nothing_appended(fake_tools, monkeypatch,
                                                                      tmp_path, capsys):
    log, binary = fake_tools
    monkeypatch.setenv("FAKE_FAIL_AFTER", "0")  # the first benchmark_model run finds it gone
    results = tmp_path / "results.csv"
    code = benchmark_main(["--model", str(tiny_model("tsm_float32")), "--device",
                           "note8@adb:FAKE123", "--benchmark-binary", str(binary),
                           "--rounds", "2", "--runs", "5", "--results", str(results)])
    err = capsys.readouterr().err
    assert code == 4
    assert "device lost after 0 of 2 rounds" in err and "nothing appended" in err
    assert not results.exists() and not results.with_suffix(".json").exists()

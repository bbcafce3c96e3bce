"""The converter's --target edgetpu end to end: streaming full-integer uint8 model, the
compatibility check in the sidecar report, the compiler run (fake) or the command to run."""

import json
import os
from pathlib import Path

import pytest
from export_helpers import synthetic_set, tiny_model

from tsm_tf.export.cli import main as convert_main
from tsm_tf.export.flatbuffer import read_flatbuffer

FAKES = Path(__file__).resolve().parent / "fakes"


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("edgetpu_source")
    path = folder / "online.keras"
    tiny_model("unidirectional", seed=5).save(path)
    return path, synthetic_set(folder / "synthetic", num_train=4, num_val=2)


def convert(source, out, *extra):
    model, data = source
    return convert_main([str(model), "--target", "edgetpu", "--out", str(out), "--root",
                         str(data), "--num-calib", "2", "--num-report", "2", "--quiet", *extra])


@pytest.mark.slow
def test_target_edgetpu_writes_a_checked_and_compiled_streaming_model(source, tmp_path,
                                                                      monkeypatch, capsys):
    monkeypatch.setenv("PATH", f"{FAKES}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_EDGETPU_OPS", "CONV_2D:20:Mapped to Edge TPU")
    out = tmp_path / "edgetpu"
    assert convert(source, out) == 0
    (sidecar_path,) = out.glob("*.json")
    sidecar = json.loads(sidecar_path.read_text())
    assert sidecar["model"]["mode"] == "streaming"
    assert sidecar["conversion"]["precision"] == "int8" and sidecar["conversion"]["io"] == "uint8"
    model = read_flatbuffer(sidecar_path.with_suffix(".tflite"))
    assert model.signature_tensor("image").dtype == "uint8"
    check = sidecar["report"]["edgetpu"]
    assert check["compatible"] is True and check["cpu_ops"] == 0
    assert check["num_ops"] == len(model.operators)
    assert (out / f"{sidecar_path.stem}_edgetpu.tflite").is_file()


@pytest.mark.slow
def test_without_compiler_the_converter_prints_the_command(source, tmp_path, monkeypatch,
                                                           capsys):
    python_dir = os.path.dirname(os.path.realpath(os.sys.executable))
    monkeypatch.setenv("PATH", python_dir)  # no edgetpu_compiler
    out = tmp_path / "edgetpu"
    assert convert(source, out) == 0
    (tflite,) = out.glob("*.tflite")
    printed = capsys.readouterr().out
    assert "edgetpu_compiler is not on PATH" in printed
    assert f"edgetpu_compiler -s -o {out} {tflite}" in printed


@pytest.mark.slow
def test_target_edgetpu_refuses_the_offline_model(source, tmp_path, capsys):
    assert convert(source, tmp_path / "out", "--mode", "offline") != 0
    error = capsys.readouterr().err
    assert "edgetpu" in error and "streaming" in error and "5-D" in error
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


@pytest.mark.slow
def test_a_compiler_failure_is_one_line_and_a_non_zero_exit(source, tmp_path, monkeypatch,
                                                            capsys):
    monkeypatch.setenv("PATH", f"{FAKES}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_EDGETPU_FAIL", "1")
    out = tmp_path / "edgetpu"
    assert convert(source, out) != 0
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error
    # what was kept, and why the compiler step failed
    assert "online_streaming_int8.tflite and its .json were written" in error
    assert "edgetpu_compiler failed on" in error and "Internal compiler error" in error
    assert (out / "online_streaming_int8.tflite").is_file()
    assert not list(out.glob("*_edgetpu.*"))

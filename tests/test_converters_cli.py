"""converters/to_tflite.py: bad input gets one line and a non-zero exit, and leaves no file;
run folders, target recipes and the Edge TPU hooks."""

import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml
from export_helpers import synthetic_set, tiny_model

import tsm_tf.export
from tsm_tf.data.synthetic import SYNTHETIC_CLASSES
from tsm_tf.export.cli import main
from tsm_tf.sidecar import read_sidecar

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return synthetic_set(tmp_path_factory.mktemp("synthetic"), num_train=6, num_val=3)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for shift in ("bidirectional", "unidirectional"):
        paths[shift] = folder / f"{shift}.keras"
        tiny_model(shift, seed=21).save(paths[shift])
    return paths


def fails(capsys, argv, match):
    """Run the CLI, expect exit 2 with one error line containing ``match``."""
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert match in err, err
    return err


def no_outputs(folder: Path) -> bool:
    if not folder.exists():
        return True
    return not [p for p in folder.iterdir() if p.suffix in (".tflite", ".json")
                or p.name.startswith(".")]  # temp files start with a dot


def test_missing_and_unreadable_models(capsys, tmp_path):
    out = tmp_path / "out"
    fails(capsys, [str(tmp_path / "nope.keras"), "--out", str(out)], "not found")
    fails(capsys, [str(tmp_path / "nothing_here"), "--out", str(out)], "not found")
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"this is not a zip archive")
    fails(capsys, [str(garbage), "--out", str(out)], "Cannot load")
    other = tmp_path / "model.onnx"
    other.write_bytes(b"x")
    fails(capsys, [str(other), "--out", str(out)], "expected a .keras model")
    empty_run = tmp_path / "run"
    empty_run.mkdir()
    fails(capsys, [str(empty_run), "--out", str(out)], "without best.keras")
    assert no_outputs(out)


def test_a_pth_that_is_not_a_tsm_checkpoint(capsys, tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "weights.pth"
    torch.save({"encoder.weight": torch.zeros(3, 3)}, path)
    fails(capsys, [str(path), "--out", str(tmp_path / "out")], "is not a TSM checkpoint")
    assert no_outputs(tmp_path / "out")


def test_bad_options_are_refused_before_any_conversion(capsys, models, tmp_path, monkeypatch):
    out = tmp_path / "out"
    bidirectional = str(models["bidirectional"])
    err = fails(capsys, [bidirectional, "--mode", "streaming", "--out", str(out)],
                "--shift unidirectional")
    assert "bi-directional" in err
    fails(capsys, [bidirectional, "--io", "int8", "--out", str(out)], "--io int8 applies")
    fails(capsys, [bidirectional, "--frames-per-step", "2", "--out", str(out)],
          "--mode streaming only")
    fails(capsys, [bidirectional, "--frames-per-step", "0", "--out", str(out)], "at least 1")
    fails(capsys, [bidirectional, "--input-size", "64", "--out", str(out)], "checkpoints")
    fails(capsys, [bidirectional, "--target", "mars", "--out", str(out)], "mars")
    fails(capsys, [bidirectional, "--bogus", "--out", str(out)], "unrecognized arguments")
    # the extra not installed (tensorflow-model-optimization cannot be found)
    monkeypatch.setitem(sys.modules, "tensorflow_model_optimization", None)
    fails(capsys, [bidirectional, "--qat", "--out", str(out)], 'pip install -e ".[qat]"')
    assert no_outputs(out)


def test_calibration_data_missing_or_short(capsys, models, synthetic, tmp_path):
    out = tmp_path / "out"
    online = str(models["unidirectional"])
    fails(capsys, [online, "--int8", "--calib-list", str(tmp_path / "missing.txt"),
                   "--out", str(out)], "missing.txt")
    fails(capsys, [online, "--int8", "--root", str(synthetic), "--num-calib", "100",
                   "--out", str(out)], "fewer than the 100 asked")
    fails(capsys, [online, "--int8", "--root", str(tmp_path / "no_synthetic"),
                   "--out", str(out)], "python -m tsm_tf.data.synthetic")
    assert no_outputs(out)


def test_output_folder_that_cannot_be_written(capsys, models, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    fails(capsys, [str(models["bidirectional"]), "--out", str(blocker / "sub")],
          "Cannot write to the output folder")


def test_dynamic_shapes_are_refused():
    import keras

    from tsm_tf.export.convert import fixed_input_specs

    inputs = keras.Input((None, None, 3), name="image")
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
    with pytest.raises(ValueError, match="static shapes"):
        fixed_input_specs(model)


def fake_targets(monkeypatch):
    recipes = {
        "host": {"quantization": "float32", "io": "float32", "mode": "streaming", "threads": 2,
                 "delegate": "xnnpack", "notes": "host"},
        "edgetpu": {"quantization": "int8", "io": "uint8", "mode": "streaming", "threads": 1,
                    "delegate": "edgetpu", "notes": "streaming only: the offline 5-D reshape "
                                                    "breaks the Edge TPU rules",
                    "requires": {"quantization": ["int8"], "io": ["uint8", "int8"],
                                 "mode": ["streaming"]}},
    }

    def load_target(name):
        if name not in recipes:
            raise ValueError(f"Unknown target {name!r}.")
        return dict(recipes[name])

    module = types.SimpleNamespace(load_target=load_target)
    monkeypatch.setitem(sys.modules, "tsm_tf.export.targets", module)
    monkeypatch.setattr(tsm_tf.export, "targets", module, raising=False)


def test_edgetpu_recipe_refuses_what_the_edge_tpu_cannot_run(capsys, models, tmp_path,
                                                            monkeypatch):
    fake_targets(monkeypatch)
    online, out = str(models["unidirectional"]), str(tmp_path / "out")
    err = fails(capsys, [online, "--target", "edgetpu", "--mode", "offline", "--out", out],
                "needs mode in ['streaming']")
    assert "5-D reshape" in err
    fails(capsys, [online, "--target", "edgetpu", "--float16", "--out", out],
          "needs quantization in ['int8']")
    fails(capsys, [online, "--target", "edgetpu", "--io", "float32", "--out", out],
          "needs io in ['uint8', 'int8']")
    fails(capsys, [online, "--target", "jupiter", "--out", out], "Unknown target 'jupiter'")


@pytest.mark.slow
def test_edgetpu_target_builds_the_streaming_int8_model_and_calls_the_compiler(
        capsys, models, synthetic, tmp_path, monkeypatch):
    fake_targets(monkeypatch)
    calls = []

    def check_compatibility(flatbuffer):
        calls.append(("check", len(flatbuffer)))
        return {"cpu_ops": [], "edgetpu_ops": 7}

    def run_compiler(tflite_path, out_dir):
        calls.append(("compile", str(tflite_path), str(out_dir)))
        return None  # not on PATH

    def compiler_missing_message(tflite_path, out_dir):
        return f"edgetpu_compiler not found; run: edgetpu_compiler -s -o {out_dir} {tflite_path}"

    module = types.SimpleNamespace(check_compatibility=check_compatibility,
                                   run_compiler=run_compiler,
                                   compiler_missing_message=compiler_missing_message)
    monkeypatch.setitem(sys.modules, "tsm_tf.export.edgetpu", module)
    monkeypatch.setattr(tsm_tf.export, "edgetpu", module, raising=False)
    out = tmp_path / "edgetpu"
    code = main([str(models["unidirectional"]), "--target", "edgetpu", "--root", str(synthetic),
                 "--num-calib", "2", "--num-report", "1", "--name", "online", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    sidecar = read_sidecar(out / "online.tflite")
    assert sidecar["model"]["mode"] == "streaming"
    assert (sidecar["conversion"]["precision"], sidecar["conversion"]["io"]) == ("int8", "uint8")
    assert sidecar["input"]["dtype"] == "uint8"
    assert sidecar["conversion"]["target"] == "edgetpu"
    assert sidecar["conversion"]["target_recipe"]["delegate"] == "edgetpu"
    assert sidecar["report"]["edgetpu"] == {"cpu_ops": [], "edgetpu_ops": 7}
    assert calls[0][0] == "check"
    assert calls[-1] == ("compile", str(out / "online.tflite"), str(out))
    printed = capsys.readouterr().out
    assert f"run: edgetpu_compiler -s -o {out} {out / 'online.tflite'}" in printed


@pytest.mark.slow
def test_run_folder_and_nothing_partial_when_a_write_fails(capsys, models, synthetic, tmp_path,
                                                           monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.keras").write_bytes(models["bidirectional"].read_bytes())
    (run / "config.yaml").write_text(yaml.safe_dump({
        "dataset": "synthetic", "root": str(synthetic),
        "train_list": str(synthetic / "train.txt"), "val_list": str(synthetic / "val.txt")}))
    out = tmp_path / "out"
    writes = []

    def flaky(path, data):
        if len(writes) == 3:
            raise OSError(28, "No space left on device")
        writes.append(path)
        Path(path).write_bytes(data)

    monkeypatch.setattr("tsm_tf.io_utils.atomic_write_bytes", flaky)
    fails(capsys, [str(run), "--float32", "--float16", "--out", str(out)],
          "No space left on device")
    assert len(writes) == 3 and no_outputs(out)  # the three written files were removed
    monkeypatch.undo()
    code = main([str(run), "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    sidecar = read_sidecar(out / "run_offline_float32.tflite")
    assert sidecar["source"]["kind"] == "run"
    assert sidecar["source"]["path"] == str(run)
    assert sidecar["labels"] == list(SYNTHETIC_CLASSES)  # the run dataset's class names
    assert sidecar["temporal"]["train_frame_stride"] == 1.0  # 8-frame clips, 8 segments
    assert sidecar["report"]["agreement"]["clips"] == 3  # the run's validation clips
    assert sidecar["report"]["agreement"]["max_logit_error"] < 1e-4
    assert sorted(p.name for p in out.iterdir()) == ["run_offline_float32.json",
                                                     "run_offline_float32.tflite"]


def test_the_script_is_a_thin_wrapper():
    result = subprocess.run([sys.executable, str(REPO / "converters" / "to_tflite.py"), "--help"],
                            capture_output=True, text=True, check=True)
    for flag in ("--float16", "--dynamic", "--int8", "--qat", "--mode", "--frames-per-step",
                 "--target", "--io", "--calib-dataset", "--calib-list", "--root",
                 "--frame-template", "--num-calib", "--qat-epochs", "--name"):
        assert flag in result.stdout
    bad = subprocess.run([sys.executable, str(REPO / "converters" / "to_tflite.py"), "x.keras",
                          "--out", "o", "--mode", "sideways"], capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert bad.stderr.startswith("error:")


@pytest.mark.slow
def test_qat_goes_through_the_qat_module(capsys, models, synthetic, tmp_path, monkeypatch):
    """--qat hands tsm_tf.export.qat.convert_qat a .keras path and JSON-able training data, and
    checks and documents what it returns like any int8 model (a stand-in module does the work
    here; the real one has its own tests)."""
    import json

    import keras

    from tsm_tf.export import convert_to_tflite
    from tsm_tf.export.calibrate import load_clips, representative_data
    from tsm_tf.models import StreamingTSM

    calls = []

    def convert_qat(model_path, *, data, mode, frames_per_step, epochs, io_type, num_calib,
                    verbose):
        calls.append(dict(model_path=model_path, data=json.loads(json.dumps(data)), mode=mode,
                          frames_per_step=frames_per_step, epochs=epochs, io_type=io_type,
                          num_calib=num_calib))
        model = keras.saving.load_model(model_path, compile=False)
        if mode == "streaming":
            model = StreamingTSM.from_model(model, frames_per_step=frames_per_step)
        config = model.tsm_config
        clips, _ = load_clips(data, num_clips=num_calib, num_segments=config["num_segments"],
                              input_size=config["input_size"])
        return convert_to_tflite(model, quantization="int8", io=io_type,
                                 representative_data=representative_data(model, clips))

    module = types.SimpleNamespace(convert_qat=convert_qat, check_qat_installed=lambda: None)
    monkeypatch.setitem(sys.modules, "tsm_tf.export.qat", module)
    monkeypatch.setattr(tsm_tf.export, "qat", module, raising=False)
    out = tmp_path / "out"
    code = main([str(models["unidirectional"]), "--qat", "--mode", "streaming", "--io", "uint8",
                 "--qat-epochs", "3", "--root", str(synthetic), "--num-calib", "2",
                 "--num-report", "1", "--name", "online_qat", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    (call,) = calls
    assert call["model_path"] == str(models["unidirectional"])
    assert call["data"]["list_file"] == str(synthetic / "train.txt")  # training clips
    assert (call["mode"], call["epochs"], call["io_type"], call["num_calib"]) == \
        ("streaming", 3, "uint8", 2)
    sidecar = read_sidecar(out / "online_qat.tflite")
    assert sidecar["conversion"]["precision"] == "qat" and sidecar["input"]["dtype"] == "uint8"
    assert sidecar["report"]["integer_checks"]["passed"]
    assert len(sidecar["states"]) == 4

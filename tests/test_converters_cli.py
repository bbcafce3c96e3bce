"""converters/to_tflite.py: bad input gets one line and a non-zero exit, and leaves no file;
run folders, target recipes and the Edge TPU hooks."""

import os
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
    assert blocker.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


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


def make_run(folder: Path, model: Path, synthetic: Path, **config) -> Path:
    """A training run folder: best.keras and a config.yaml naming the synthetic lists."""
    folder.mkdir()
    (folder / "best.keras").write_bytes(model.read_bytes())
    (folder / "config.yaml").write_text(yaml.safe_dump({
        "dataset": "synthetic", "root": str(synthetic),
        "train_list": str(synthetic / "train.txt"), "val_list": str(synthetic / "val.txt"),
        **config}))
    return folder


@pytest.mark.slow
def test_run_folder_and_a_failed_write_keeps_the_earlier_export(capsys, models, synthetic,
                                                               tmp_path, monkeypatch):
    run = make_run(tmp_path / "run", models["bidirectional"], synthetic)
    out = tmp_path / "out"
    code = main([str(run), "--float32", "--float16", "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == ["run_offline_float16.json", "run_offline_float16.tflite",
                              "run_offline_float32.json", "run_offline_float32.tflite"]
    sidecar = read_sidecar(out / "run_offline_float32.tflite")
    assert sidecar["source"]["kind"] == "run"
    assert sidecar["source"]["path"] == str(run)
    assert sidecar["labels"] == list(SYNTHETIC_CLASSES)  # the run dataset's class names
    assert sidecar["temporal"]["train_frame_stride"] == 1.0  # 8-frame clips, 8 segments
    assert sidecar["report"]["agreement"]["clips"] == 3  # the run's validation clips
    assert sidecar["report"]["agreement"]["max_logit_error"] < 1e-4
    assert sidecar["conversion"]["target"] is None  # none was asked for
    assert sidecar["conversion"]["options"]["report_clips"]["list_file"] == \
        str(synthetic / "val.txt")

    # the disk fills while the third of four files is written: nothing is replaced
    real_fsync, synced = os.fsync, []

    def flaky(fd):
        if len(synced) == 2:
            raise OSError(28, "No space left on device")
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", flaky)
    fails(capsys, [str(run), "--float32", "--float16", "--num-report", "1", "--out", str(out)],
          "No space left on device; nothing was written")
    monkeypatch.undo()
    assert len(synced) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temp file either


@pytest.mark.slow
def test_root_and_template_alone_relocate_the_run_s_clips(capsys, models, synthetic, tmp_path):
    """--root / --frame-template lay over the run's lists; --calib-list chooses other clips."""
    import shutil

    moved = tmp_path / "moved"
    shutil.copytree(synthetic, moved)
    run = make_run(tmp_path / "run", models["unidirectional"], synthetic,
                   train_list="train.txt", val_list="val.txt")  # relative to the root
    out = tmp_path / "out"
    code = main([str(run), "--int8", "--root", str(moved), "--num-calib", "2",
                 "--num-report", "2", "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    options = read_sidecar(out / "run_offline_int8.tflite")["conversion"]["options"]
    assert options["calibration"]["list_file"] == str(moved / "train.txt")
    assert options["calibration"]["num_clips"] == 2
    assert options["report_clips"]["list_file"] == str(moved / "val.txt")
    # a report list that is the calibration list is refused
    fails(capsys, [str(run), "--int8", "--root", str(moved), "--num-calib", "2",
                   "--report-list", "train.txt", "--out", str(tmp_path / "o2")],
          "is the calibration list")
    fails(capsys, [str(run), "--int8", "--root", str(moved), "--num-calib", "2",
                   "--report-list", "absent.txt", "--out", str(tmp_path / "o2")], "absent.txt")
    assert no_outputs(tmp_path / "o2")


def test_a_broken_run_config_or_labels_file_is_one_line(capsys, models, synthetic, tmp_path):
    run = make_run(tmp_path / "run", models["bidirectional"], synthetic)
    (run / "config.yaml").write_text("dataset: synthetic\nroot: [unclosed\n")
    fails(capsys, [str(run), "--out", str(tmp_path / "out")], "is not valid YAML")
    model = tmp_path / "labelled.keras"
    model.write_bytes(models["bidirectional"].read_bytes())
    model.with_suffix(".labels.json").write_text('["a", "b"]')
    fails(capsys, [str(model), "--out", str(tmp_path / "out")], "expected a JSON object")
    assert no_outputs(tmp_path / "out")


def test_an_unexpected_failure_is_one_line_and_writes_nothing(capsys, models, tmp_path,
                                                              monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("converter exploded\nwith a long trace")

    monkeypatch.setattr("tsm_tf.export.convert.convert_to_tflite", broken)
    err = fails(capsys, [str(models["bidirectional"]), "--out", str(tmp_path / "out")],
                "RuntimeError: converter exploded with a long trace")
    assert "TSM_TF_DEBUG=1" in err and no_outputs(tmp_path / "out")
    monkeypatch.setenv("TSM_TF_DEBUG", "1")
    with pytest.raises(RuntimeError, match="converter exploded"):
        main([str(models["bidirectional"]), "--out", str(tmp_path / "out")])


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


@pytest.mark.slow
def test_a_model_of_another_dataset_calibrated_on_synthetic_clips(capsys, models, synthetic,
                                                                  tmp_path, monkeypatch):
    """A model trained on Jester, with only the synthetic set here: int8 is calibrated on it
    with a note and no top-1 (its labels are not Jester's); QAT, which trains on the labels, is
    refused."""
    import json

    model = tmp_path / "gestures.keras"
    model.write_bytes(models["unidirectional"].read_bytes())
    names = [f"gesture {i}" for i in range(8)]
    model.with_suffix(".labels.json").write_text(json.dumps(
        {"dataset": "jester", "class_names": names}))
    out = tmp_path / "out"
    code = main([str(model), "--int8", "--root", str(synthetic), "--num-calib", "2",
                 "--num-report", "2", "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "note: clips from the synthetic set, not the model's jester data" in printed.out
    sidecar = read_sidecar(out / "gestures_offline_int8.tflite")
    agreement = sidecar["report"]["agreement"]
    assert agreement["clips"] == 2 and "top1_agreement" in agreement
    assert "float_top1" not in agreement and "converted_top1" not in agreement
    assert any("not the model's jester data" in n for n in sidecar["report"]["notes"])
    assert sidecar["labels"] == names

    module = types.SimpleNamespace(convert_qat=None, check_qat_installed=lambda: None)
    monkeypatch.setitem(sys.modules, "tsm_tf.export.qat", module)
    monkeypatch.setattr(tsm_tf.export, "qat", module, raising=False)
    fails(capsys, [str(model), "--qat", "--root", str(synthetic), "--num-calib", "2",
                   "--out", str(tmp_path / "o2")], "not jester's: pass --calib-list F --root D")
    assert no_outputs(tmp_path / "o2")


@pytest.mark.slow
def test_report_list_of_the_default_synthetic_set_and_exported_file_modes(
        capsys, models, synthetic, tmp_path, monkeypatch):
    """--report-list relative to the synthetic set's own folder (no --root) is found; with
    calibration data that cannot be read, a float export still measures the named list; the
    files get the permissions of a plain open (0o666 minus the umask)."""
    import shutil
    import stat

    cache = tmp_path / "cache"
    shutil.copytree(synthetic, cache / "synthetic")
    monkeypatch.setenv("TSM_TF_CACHE", str(cache))
    out = tmp_path / "out"
    old_umask = os.umask(0o022)
    try:
        code = main([str(models["unidirectional"]), "--int8", "--num-calib", "2",
                     "--report-list", "val.txt", "--num-report", "2", "--out", str(out),
                     "--quiet"])
    finally:
        os.umask(old_umask)
    assert code == 0, capsys.readouterr().err
    sidecar = read_sidecar(out / "unidirectional_offline_int8.tflite")
    assert sidecar["conversion"]["options"]["report_clips"]["list_file"] == \
        str(cache / "synthetic" / "val.txt")
    assert sidecar["report"]["agreement"]["clips"] == 2
    for path in out.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path

    # float32 only, calibration dataset unreadable: the named report list is still measured
    out2 = tmp_path / "out2"
    code = main([str(models["unidirectional"]), "--calib-dataset", "jester", "--root",
                 str(cache / "synthetic"), "--frame-template", "img_{:05d}.jpg",
                 "--report-list", "val.txt", "--num-report", "2", "--out", str(out2),
                 "--quiet"])  # jester without --calib-list: no calibration source
    assert code == 0, capsys.readouterr().err
    agreement = read_sidecar(out2 / "unidirectional_offline_float32.tflite")["report"][
        "agreement"]
    assert agreement is not None and agreement["clips"] == 2

"""Command line, YAML config and recipe resolution of the trainer (no training here)."""

import subprocess
import sys

import pytest
import yaml

from tsm_tf.train.checkpoint import RunDirError, check_output_dir
from tsm_tf.train.cli import build_parser, config_from_args
from tsm_tf.train.config import TrainConfig, load_yaml_config, resolve_config, write_yaml_config


def test_defaults_are_the_synthetic_demo():
    cfg = resolve_config(config_from_args([]))
    assert cfg.dataset == "synthetic" and cfg.arch == "resnet_tiny"
    assert cfg.shift == "bidirectional" and cfg.num_classes == 8
    assert cfg.output_dir.endswith("synthetic-tsm_resnet_tiny")


def test_flags_override_yaml_which_overrides_recipe(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 3\nlr: 0.5\nshift-div: 4\narch: resnet18\n")
    cfg = resolve_config(config_from_args(["--config", str(path), "--lr", "0.25"]))
    assert (cfg.epochs, cfg.lr, cfg.shift_div, cfg.arch) == (3, 0.25, 4, "resnet18")
    assert cfg.batch_size == 16  # from the synthetic recipe


def test_resolved_config_round_trips(tmp_path):
    cfg = resolve_config(config_from_args(["--shift", "unidirectional", "--epochs", "2"]))
    write_yaml_config(cfg, tmp_path / "config.yaml")
    again = resolve_config(TrainConfig(**load_yaml_config(tmp_path / "config.yaml")))
    assert again.shift == "unidirectional" and again.epochs == 2 and again.lr == cfg.lr


def test_recipes_from_the_reference():
    common = dict(root="/x", train_list="t.txt", val_list="v.txt")
    kin = resolve_config(TrainConfig(dataset="kinetics400", **common))
    assert (kin.lr, kin.batch_size, kin.lr_steps, kin.clip_grad_norm) == (0.02, 128, [20, 40], 20)
    assert kin.optimizer == "sgd" and kin.fc_lr5 and kin.arch == "resnet50"
    assert not kin.partial_bn
    ucf = resolve_config(TrainConfig(dataset="ucf101", batch_size=32, **common))
    assert ucf.partial_bn and ucf.dropout == 0.8
    assert ucf.lr == pytest.approx(0.001 * 32 / 64)  # linear scaling from the recipe batch
    big = resolve_config(TrainConfig(dataset="kinetics400", batch_size=512, **common))
    assert big.lr == pytest.approx(0.08) and big.warmup_epochs == 5  # scaled up: warm-up
    explicit = resolve_config(TrainConfig(dataset="kinetics400", batch_size=512, lr=0.3,
                                          **common))
    assert explicit.lr == 0.3


@pytest.mark.parametrize("kwargs, words", [
    (dict(dataset="imagenet21k"), ["Unknown dataset", "kinetics400"]),
    (dict(arch="resnet7"), ["--arch", "resnet50"]),
    (dict(dataset="custom", train_list="a", val_list="b"), ["--num-classes"]),
    (dict(dataset="jester"), ["--train-list"]),
    (dict(optimizer="rmsprop"), ["--optimizer"]),
    (dict(epochs=0), ["--epochs"]),
])
def test_bad_config_is_explained(kwargs, words):
    with pytest.raises(ValueError) as e:
        resolve_config(TrainConfig(**kwargs))
    for word in words:
        assert word in str(e.value)


def test_custom_dataset_takes_its_class_count():
    cfg = resolve_config(TrainConfig(dataset="custom", num_classes=5, frame_template="{:04d}.png",
                                     train_list="a", val_list="b"))
    assert cfg.num_classes == 5 and cfg.arch == "resnet50"


def test_yaml_unknown_key(tmp_path):
    (tmp_path / "c.yaml").write_text("learning_rate: 3\n")
    with pytest.raises(ValueError, match="unknown option"):
        load_yaml_config(tmp_path / "c.yaml")


def test_output_dir_with_another_run_is_refused(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(RunDirError, match="--resume.*--overwrite"):
        check_output_dir(tmp_path, resume=False, overwrite=False)
    check_output_dir(tmp_path, resume=True, overwrite=False)
    check_output_dir(tmp_path, resume=False, overwrite=True)
    check_output_dir(tmp_path / "new", resume=False, overwrite=False)


def test_help_lists_every_flag_of_the_issue():
    text = build_parser().format_help()
    for flag in ("--dataset", "--root", "--train-list", "--val-list", "--num-classes",
                 "--frame-template", "--arch", "--num-segments", "--shift", "--shift-div",
                 "--shift-place", "--temporal-pool", "--non-local", "--input-size", "--epochs",
                 "--batch-size", "--lr", "--lr-schedule", "--lr-steps", "--warmup-epochs",
                 "--weight-decay", "--dropout", "--clip-grad-norm", "--partial-bn", "--weights",
                 "--mixed-precision", "--output-dir", "--resume", "--seed", "--config",
                 "--overwrite", "TF_CONFIG"):
        assert flag in text, flag


def test_cli_bad_input_exit_code(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "tsm_tf.train", "--dataset", "custom", "--train-list", "a",
         "--val-list", "b", "--output-dir", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "--num-classes" in proc.stderr and "Traceback" not in proc.stderr


def test_yaml_file_written_by_run_is_valid(tmp_path):
    cfg = resolve_config(TrainConfig())
    write_yaml_config(cfg, tmp_path / "config.yaml")
    data = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert data["dataset"] == "synthetic" and "resume" not in data


def test_resume_takes_the_run_config_and_flags_still_override(tmp_path):
    from tsm_tf.train.cli import config_from_args
    from tsm_tf.train.config import TrainConfig, write_yaml_config

    run = TrainConfig(dataset="ucf101", arch="resnet_tiny", num_segments=4, epochs=7,
                      train_list="a.txt", val_list="b.txt", root="/data/ucf")
    write_yaml_config(run, tmp_path / "config.yaml")
    resumed = config_from_args(["--output-dir", str(tmp_path), "--resume"])
    assert (resumed.dataset, resumed.arch, resumed.num_segments, resumed.epochs) == \
        ("ucf101", "resnet_tiny", 4, 7)
    assert resumed.resume and resumed.root == "/data/ucf"
    longer = config_from_args(["--output-dir", str(tmp_path), "--resume", "--epochs", "9"])
    assert longer.epochs == 9 and longer.dataset == "ucf101"

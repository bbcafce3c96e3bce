"""``--flip/--no-flip`` and ``--flip-label-map`` for any dataset, recorded in the resolved config;
a flip-sensitive set learns with augmentation on and the flip off."""

import pytest
import yaml

from tsm_tf.data.synthetic import generate_synthetic_dataset
from tsm_tf.train import TrainConfig, resolve_config, train
from tsm_tf.train.cli import config_from_args
from tsm_tf.train.config import write_yaml_config
from tsm_tf.train.flip import read_flip_label_map
from tsm_tf.train.trainer import _spec

NAMES = ["moving_left", "moving_right", "growing", "shrinking"]


def test_label_map_by_index_and_by_name(tmp_path):
    f = tmp_path / "flip.txt"
    f.write_text("# swapped on flip\n0 1\nmoving_left moving_right  # same pair again\n"
                 "'growing', 3\n")
    assert read_flip_label_map(f, 4, NAMES) == {0: 1, 1: 0, 2: 3, 3: 2}


@pytest.mark.parametrize("text, words", [
    ("0 1 2\n", ["flip.txt:1", "two classes"]),
    ("0 7\n", ["flip.txt:1", "outside [0, 4)"]),
    ("0 1\n1 2\n", ["flip.txt:2", "already paired"]),
    ("left right\n", ["flip.txt:1", "unknown class name 'left'"]),
])
def test_bad_label_map_names_file_and_line(tmp_path, text, words):
    f = tmp_path / "flip.txt"
    f.write_text(text)
    with pytest.raises(ValueError) as e:
        read_flip_label_map(f, 4, NAMES)
    for w in words:
        assert w in str(e.value)


def test_flip_defaults_flags_and_resolved_config(tmp_path):
    custom = dict(dataset="custom", num_classes=4, train_list="a", val_list="b")
    assert resolve_config(TrainConfig(**custom)).flip is True  # custom: flip by default
    assert resolve_config(TrainConfig()).flip is False  # synthetic: direction is the label
    assert resolve_config(TrainConfig(dataset="something_v2", train_list="a",
                                      val_list="b")).flip is False
    cfg = config_from_args(["--dataset", "custom", "--num-classes", "4", "--train-list", "a",
                            "--val-list", "b", "--no-flip"])
    assert resolve_config(cfg).flip is False
    f = tmp_path / "flip.txt"
    f.write_text("0 1\n")
    cfg = resolve_config(config_from_args(["--dataset", "custom", "--num-classes", "4",
                                           "--train-list", "a", "--val-list", "b", "--flip",
                                           "--flip-label-map", str(f)]))
    write_yaml_config(cfg, tmp_path / "config.yaml")
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert saved["flip"] is True and saved["flip_label_map"] == str(f)
    spec = _spec(cfg)
    assert spec.allow_flip is True and spec.flip_label_map == {0: 1, 1: 0}
    # names come from <root>/classes.txt for custom sets
    (tmp_path / "classes.txt").write_text("\n".join(NAMES) + "\n")
    f.write_text("moving_left moving_right\n")
    spec = _spec(resolve_config(TrainConfig(**custom, root=str(tmp_path), flip=True,
                                            flip_label_map=str(f))))
    assert spec.flip_label_map == {0: 1, 1: 0}
    # the Something-Something V2 map stays when the flip is turned on there
    ssv2 = _spec(resolve_config(TrainConfig(dataset="something_v2", train_list="a",
                                            val_list="b", flip=True)))
    assert ssv2.allow_flip and ssv2.flip_label_map[86] == 87


@pytest.mark.slow
def test_left_right_set_learns_with_augmentation_and_no_flip(tmp_path):
    """Left vs right motion: a flip turns one class into the other, so a flipped training set
    holds each clip under both labels; with --no-flip (and scale jitter, random sampling on)
    TSM learns it."""
    root = tmp_path / "data"
    generate_synthetic_dataset(root, num_train=128, num_val=48, num_frames=8, size=32,
                               classes=["moving_left", "moving_right"], verbose=False)
    cfg = config_from_args([
        "--dataset", "custom", "--num-classes", "2", "--root", str(root),
        "--train-list", str(root / "train.txt"), "--val-list", str(root / "val.txt"),
        "--arch", "resnet_tiny", "--num-segments", "4", "--input-size", "32",
        "--batch-size", "8", "--epochs", "5", "--optimizer", "adam", "--lr", "3e-3",
        "--lr-schedule", "cosine", "--weight-decay", "0", "--dropout", "0", "--no-fc-lr5",
        "--no-flip", "--verbose", "0", "--output-dir", str(tmp_path / "run")])
    assert cfg.augment is True
    result = train(cfg)
    assert result["config"]["flip"] is False and result["config"]["augment"] is True
    assert result["best_val_accuracy"] >= 0.85, result["history"]

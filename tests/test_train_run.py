"""End-to-end training runs on a tiny synthetic set (32 px, 4 frames, 32 clips)."""

import csv
import shutil

import keras
import numpy as np
import pytest

from tsm_tf.data.synthetic import generate_synthetic_dataset
from tsm_tf.models import TSM, StreamingTSM
from tsm_tf.train import TrainConfig, TrainingDivergedError, train
from tsm_tf.train.checkpoint import RunDirError, list_checkpoints, read_checkpoint_state
from tsm_tf.train.init_weights import ClassMismatchError


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    generate_synthetic_dataset(root, num_train=32, num_val=16, num_frames=8, size=32, workers=1,
                               verbose=False)
    return root


def _config(root, out, **kw):
    base = dict(root=str(root), num_segments=4, input_size=32, batch_size=8, epochs=1,
                dropout=0.0, output_dir=str(out), verbose=0, shift="unidirectional")
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def init_weights(tmp_path_factory):
    """A saved starting point, so the test knows every initial weight."""
    keras.utils.set_random_seed(123)
    model = TSM("resnet_tiny", num_classes=8, num_segments=4, input_size=32,
                shift="unidirectional", dropout=0.0)
    path = tmp_path_factory.mktemp("init") / "init.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def one_epoch_run(data_root, init_weights, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    result = train(_config(data_root, out, weights=str(init_weights), partial_bn=True))
    return out, result


def test_outputs_of_a_run(one_epoch_run):
    out, result = one_epoch_run
    for name in ("config.yaml", "best.keras", "last.keras", "metrics.csv", "curves.png"):
        assert (out / name).is_file(), name
    assert any((out / "tensorboard").rglob("events.out.tfevents*"))
    assert [e for e, _ in list_checkpoints(out)] == [1]
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [r["epoch"] for r in rows] == ["1"]
    assert {"loss", "accuracy", "val_accuracy", "lr", "clips_per_s"} <= set(rows[0])
    assert result["epochs_run"] == 1 and 0.0 <= result["best_val_accuracy"] <= 1.0
    state = read_checkpoint_state(list_checkpoints(out)[0][1])
    assert state["step"] == 4  # 32 clips / batch 8


def test_partial_bn_freezes_all_but_first_bn(one_epoch_run, init_weights):
    out, _ = one_epoch_run
    before = keras.saving.load_model(init_weights)
    after = keras.saving.load_model(out / "last.keras")
    bns = [layer.name for layer in after.layers
           if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns[0] == "bn1" and len(bns) > 4

    def changed(name):
        return not all(np.array_equal(a, b) for a, b in zip(
            before.get_layer(name).get_weights(), after.get_layer(name).get_weights(),
            strict=True))

    assert changed("bn1")  # statistics and gamma/beta train
    assert not any(changed(name) for name in bns[1:])  # frozen: stats and gamma/beta
    assert changed("conv1") and changed("fc")


def test_trained_online_model_streams(one_epoch_run, data_root):
    out, _ = one_epoch_run
    model = keras.saving.load_model(out / "last.keras")
    online = StreamingTSM.from_model(model)
    clip = np.random.default_rng(0).normal(size=(1, 4, 32, 32, 3)).astype("float32")
    offline = model.frame_logits_model().predict(clip, verbose=0)[0]  # [T, K]
    states = online.init_states()
    for t in range(4):
        outputs = online({"image": clip[:, t], **states})
        states = {k: np.asarray(v) for k, v in outputs.items() if k != "logits"}
        np.testing.assert_allclose(np.asarray(outputs["logits"])[0], offline[t], atol=1e-4)


def test_rerun_in_same_dir_is_refused(one_epoch_run, data_root):
    out, _ = one_epoch_run
    with pytest.raises(RunDirError, match="--resume"):
        train(_config(data_root, out))


def test_resume_with_other_class_count(one_epoch_run, data_root):
    out, _ = one_epoch_run
    cfg = _config(data_root, out, dataset="custom", num_classes=5, resume=True,
                  train_list=str(data_root / "train.txt"), val_list=str(data_root / "val.txt"))
    with pytest.raises(ClassMismatchError, match="--reset-classifier"):
        train(cfg)


def test_weights_with_other_class_count(one_epoch_run, data_root, tmp_path):
    out, _ = one_epoch_run
    with pytest.raises(ValueError, match="--arch resnet_tiny"):
        train(_config(data_root, tmp_path / "c", arch="resnet18",
                      weights=str(out / "last.keras")))
    common = dict(dataset="custom", num_classes=8 - 3, arch="resnet_tiny",
                  train_list=str(data_root / "train.txt"), val_list=str(data_root / "val.txt"),
                  weights=str(out / "last.keras"))
    with pytest.raises(ClassMismatchError, match="--reset-classifier"):
        train(_config(data_root, tmp_path / "a", **common))
    # fine-tuning: everything but the classifier is loaded
    result = train(_config(data_root, tmp_path / "b", reset_classifier=True,
                           steps_per_epoch=1, **common))
    tuned = result["model"]
    source = keras.saving.load_model(out / "last.keras")
    assert tuned.get_layer("fc").get_weights()[0].shape == (128, 5)
    assert result["history"][0]["epoch"] == 1
    assert source.get_layer("fc").get_weights()[0].shape == (128, 8)


def test_progress_is_one_line_per_epoch_when_output_is_not_a_terminal(data_root, tmp_path,
                                                                      capsys):
    train(_config(data_root, tmp_path / "run", verbose=1, epochs=2, steps_per_epoch=2))
    out = capsys.readouterr().out  # captured: not a terminal
    epoch_lines = [line for line in out.splitlines() if "val_accuracy" in line]
    assert len(epoch_lines) == 2
    assert "\r" not in out and "\u2501" not in out  # no redrawn progress bar


@pytest.mark.slow
def test_resume_equals_uninterrupted_run(one_epoch_run, data_root, init_weights, tmp_path):
    out, _ = one_epoch_run
    resumed_dir = tmp_path / "resumed"
    shutil.copytree(out, resumed_dir)
    resumed = train(_config(data_root, resumed_dir, weights=str(init_weights), partial_bn=True,
                            epochs=2, resume=True))
    assert resumed["start_epoch"] == 1 and len(resumed["history"]) == 2
    assert read_checkpoint_state(list_checkpoints(resumed_dir)[-1][1])["step"] == 8
    straight = train(_config(data_root, tmp_path / "straight", weights=str(init_weights),
                             partial_bn=True, epochs=2))
    for a, b in zip(resumed["model"].get_weights(), straight["model"].get_weights(),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # schedule position restored: the lr after epoch 2 is the same
    assert resumed["history"][-1]["lr"] == pytest.approx(straight["history"][-1]["lr"])


@pytest.mark.slow
def test_resume_with_dropout_equals_uninterrupted_run(data_root, init_weights, tmp_path):
    """Dropout masks come from a seed generator: its state is part of the checkpoint."""
    settings = dict(weights=str(init_weights), dropout=0.5)
    train(_config(data_root, tmp_path / "resumed", epochs=1, **settings))
    resumed = train(_config(data_root, tmp_path / "resumed", epochs=2, resume=True, **settings))
    straight = train(_config(data_root, tmp_path / "straight", epochs=2, **settings))
    assert resumed["start_epoch"] == 1
    for a, b in zip(resumed["model"].get_weights(), straight["model"].get_weights(),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_last_good_checkpoint(one_epoch_run, data_root, tmp_path,
                                                        monkeypatch):
    out, _ = one_epoch_run
    run = tmp_path / "nan"
    shutil.copytree(out, run)
    good = (run / "last.keras").read_bytes()

    class NanLoss(keras.losses.SparseCategoricalCrossentropy):
        def call(self, y_true, y_pred):
            return super().call(y_true, y_pred) * float("nan")

    monkeypatch.setattr(keras.losses, "SparseCategoricalCrossentropy", NanLoss)
    with pytest.raises(TrainingDivergedError) as e:
        train(_config(data_root, run, epochs=2, resume=True, partial_bn=True))
    assert (e.value.epoch, e.value.step) == (2, 1)
    assert "epoch 2, step 1" in str(e.value) and "epoch_001.npz" in str(e.value)
    assert [ep for ep, _ in list_checkpoints(run)] == [1]
    assert (run / "last.keras").read_bytes() == good


def test_progress_bar_stays_on_a_terminal_and_in_notebooks(monkeypatch):
    import sys

    from tsm_tf.train.trainer import _fit_verbosity

    class Terminal:
        def isatty(self):
            return True

    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.setattr(sys, "stdout", Terminal())
    assert _fit_verbosity(1) == 1
    monkeypatch.setattr(sys, "stdout", None)  # pythonw, some service launchers
    assert _fit_verbosity(1) == 2
    assert _fit_verbosity(0) == 0 and _fit_verbosity(2) == 2
    monkeypatch.setitem(sys.modules, "ipykernel", object())
    assert _fit_verbosity(1) == 1

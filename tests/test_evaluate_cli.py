"""End to end: ``evaluate()`` and ``python -m tsm_tf.test`` on a tiny frame-folder dataset
written here, checked against clips loaded independently (cv2 + the reference sampling
formulas) and run through the model directly."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from evaluate_helpers import load_clip, randomize, read_list, segment_frames, write_dataset

import tsm_tf
from tsm_tf.evaluate import ModelMismatchError, evaluate
from tsm_tf.evaluate.cli import main

T, SIZE, FRAME, K, N = 4, 32, 40, 3, 6
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    list_path, labels = write_dataset(str(root / "ds"), num_clips=N, num_frames=10, size=FRAME,
                                      num_classes=K)
    online = randomize(tsm_tf.create_model("tsm_online_resnet_tiny", num_classes=K,
                                           num_segments=T, input_size=SIZE), seed=0)
    tsn = randomize(tsm_tf.create_model("tsn_resnet_tiny", num_classes=K, num_segments=T,
                                        input_size=SIZE), seed=1)
    online_path, tsn_path = str(root / "online.keras"), str(root / "tsn.keras")
    online.save(online_path)
    tsn.save(tsn_path)
    return {"root": str(root), "ds": str(root / "ds"), "list": list_path, "labels": labels,
            "online": online, "online_path": online_path, "tsn_path": tsn_path}


def independent_clips(data, where="centre", crop=None):
    rows = read_list(data["list"])
    return np.stack([load_clip(data["ds"], rel, segment_frames(n, T, where), crop)
                     for rel, n, _ in rows])


def test_centre_crop_protocol_matches_direct_model_run(data):
    result = evaluate(data["online_path"], dataset="custom", list_file=data["list"],
                      protocol="center", scale_size=FRAME, batch_size=4, verbose=False)
    assert result["model"] == data["online_path"]
    # scale_size = frame side: no resize, centre 32x32 crop at offset (40 - 32) / 2 = 4
    clips = independent_clips(data, crop=(4, 4, SIZE))
    logits = np.asarray(data["online"](clips, training=False))
    np.testing.assert_allclose(result["scores"], logits, rtol=1e-4, atol=1e-4)
    labels = data["labels"]
    np.testing.assert_array_equal(result["labels"], labels)
    preds = logits.argmax(axis=1)
    assert result["top1"] == pytest.approx(np.mean(preds == labels))
    per_class = [np.mean(preds[labels == k] == k) for k in range(K)]
    assert [c["accuracy"] for c in result["per_class"]] == pytest.approx(per_class)
    assert result["mean_class_accuracy"] == pytest.approx(np.mean(per_class))
    assert result["top5"] == 1.0  # 3 classes
    assert result["class_names"] == ["class_a", "class_b", "class_c"]  # from classes.txt
    assert result["num_videos"] == N and result["skipped"] == 0


@pytest.mark.parametrize("average", ["logits", "probabilities", "logits-softmax"])
def test_twice_sample_averages_both_clips(data, average):
    result = evaluate(data["online"], dataset="custom", list_file=data["list"],
                      protocol="2clips-1crop", scale_size=FRAME, average=average,
                      verbose=False)
    crop = (4, 4, SIZE)
    a = np.asarray(data["online"](independent_clips(data, "centre", crop), training=False))
    b = np.asarray(data["online"](independent_clips(data, "start", crop), training=False))
    def softmax(x):
        return np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)

    if average == "probabilities":
        a, b = softmax(a), softmax(b)
    expect = softmax((a + b) / 2) if average == "logits-softmax" else (a + b) / 2
    np.testing.assert_allclose(result["scores"], expect, rtol=1e-4, atol=1e-4)
    assert result["protocol"]["views"] == 2


def test_full_resolution_rebuilds_the_model(data):
    result = evaluate(data["online"], dataset="custom", list_file=data["list"],
                      protocol="center", full_res=True, scale_size=FRAME, verbose=False)
    assert result["protocol"]["size"] == FRAME
    # the whole 40x40 frame through the same architecture built at 40 px, same weights
    direct = tsm_tf.models.TSM(**(data["online"].tsm_config | {"input_size": FRAME}))
    direct.set_weights(data["online"].get_weights())
    logits = np.asarray(direct(independent_clips(data), training=False))
    np.testing.assert_allclose(result["scores"], logits, rtol=1e-4, atol=1e-4)


def test_twice_sample_three_crops_full_resolution(data, tmp_path):
    """The Something-V2 protocol on 40x56 frames: 2 clips x 3 crops of 40x40 (the short side,
    no resize with scale_size 40) at x = 0, 16 (left, right: (56 - 40) // 4 steps) and 8
    (centre), the model rebuilt at 40 px, logits averaged over the 6 views."""
    list_path, _ = write_dataset(str(tmp_path), num_clips=3, num_frames=10, size=40, width=56,
                                 num_classes=K, seed=3)
    result = evaluate(data["online"], list_file=list_path, protocol="twice", scale_size=40,
                      verbose=False)
    assert result["protocol"]["views"] == 6 and result["protocol"]["size"] == 40
    direct = tsm_tf.models.TSM(**(data["online"].tsm_config | {"input_size": 40}))
    direct.set_weights(data["online"].get_weights())
    views = []
    for where in ("centre", "start"):
        for x in (0, 16, 8):
            clips = np.stack([load_clip(str(tmp_path), rel, segment_frames(n, T, where),
                                        crop=(0, x, 40)) for rel, n, _ in read_list(list_path)])
            views.append(np.asarray(direct(clips, training=False)))
    np.testing.assert_allclose(result["scores"], np.mean(views, axis=0), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_early_recognition_through_the_dataset(data):
    kwargs = dict(dataset="custom", list_file=data["list"], protocol="center",
                  scale_size=FRAME, early=[0.4, 1.0], verbose=False)
    fast = evaluate(data["online"], **kwargs)
    streamed = evaluate(data["online"], early_method="streaming", **kwargs)
    assert fast["early"]["rows"] == streamed["early"]["rows"]
    rows = fast["early"]["rows"]
    assert [r["frames"] for r in rows] == [2, 4]
    assert rows[-1]["top1"] == pytest.approx(fast["top1"])  # all frames = the clip prediction
    # 2 frames seen: the mean of the first two per-frame logits, computed directly
    clips = independent_clips(data, crop=(4, 4, SIZE))
    frames_model = data["online"].frame_logits_model()
    first_two = np.asarray(frames_model.predict(clips, verbose=0))[:, :2].mean(axis=1)
    assert rows[0]["top1"] == pytest.approx(np.mean(first_two.argmax(1) == data["labels"]))


@pytest.mark.slow
def test_cli_writes_every_report(data, tmp_path, capsys):
    out_json = tmp_path / "report" / "result.json"
    code = main([
        "--model", data["online_path"], "--val-list", data["list"], "--protocol", "center",
        "--scale-size", str(FRAME), "--json", str(out_json), "--early", "25,50,100",
        "--cam", str(tmp_path / "cam"), "--compare-model", data["tsn_path"],
        "--cam-clips", "2", "--quiet",
    ])
    assert code == 0
    printed = capsys.readouterr().out
    assert "top-1:" in printed and "class_b" in printed and "| 50% |" in printed
    report = json.loads(out_json.read_text())
    direct = evaluate(data["online"], list_file=data["list"], protocol="center",
                      scale_size=FRAME, verbose=False)
    assert report["top1"] == pytest.approx(direct["top1"])
    assert report["mean_class_accuracy"] == pytest.approx(direct["mean_class_accuracy"])
    assert np.sum(report["confusion_matrix"]) == N
    assert [r["fraction"] for r in report["early"]["rows"]] == [0.25, 0.5, 1.0]
    assert "scores" not in report  # per-video arrays stay out of the JSON
    folder = out_json.parent
    for name in ("confusion_matrix.png", "early.png"):
        assert cv2.imread(str(folder / name)) is not None, name
    assert (folder / "early.md").read_text().count("\n") == 2 + 3
    cams = sorted(os.listdir(tmp_path / "cam"))
    assert cams == ["cam_000.png", "cam_001.png"]
    strip = cv2.imread(str(tmp_path / "cam" / cams[0]))
    assert strip is not None and strip.shape[0] > strip.shape[1] / 2  # 3 rows of 4 frames


def run_cli(args, capsys):
    code = main(args)
    return code, capsys.readouterr().err


def test_class_count_mismatch_is_explained(data, capsys):
    code, err = run_cli(["--model", data["online_path"], "--val-list", data["list"],
                         "--num-classes", "5", "--quiet"], capsys)
    assert code == 2
    assert "has 3 classes" in err and "has 5" in err and "fine-tune" in err
    with pytest.raises(ModelMismatchError):
        evaluate(data["online"], dataset="synthetic", list_file=data["list"], verbose=False)


def test_bad_inputs_fail_clearly(data, tmp_path, capsys):
    code, err = run_cli(["--model", str(tmp_path / "nope.keras"), "--val-list", data["list"]],
                        capsys)
    assert code == 2 and "Model file not found" in err and "nope.keras" in err
    code, err = run_cli(["--model", data["online_path"], "--val-list",
                         str(tmp_path / "missing.txt")], capsys)
    assert code == 2 and "missing.txt" in err
    code, err = run_cli(["--model", data["online_path"], "--val-list", data["list"],
                         "--protocol", "3x7"], capsys)
    assert code == 2 and "Unknown test protocol '3x7'" in err
    offline = str(tmp_path / "offline.keras")
    tsm_tf.create_model("tsm_resnet_tiny", num_classes=K, num_segments=T,
                        input_size=SIZE).save(offline)
    code, err = run_cli(["--model", offline, "--val-list", data["list"], "--early"], capsys)
    assert code == 2 and "online model" in err


def test_synthetic_dataset_defaults_to_the_generated_set(tmp_path, monkeypatch, capsys):
    from tsm_tf.data.synthetic import generate_synthetic_dataset

    monkeypatch.setenv("TSM_TF_CACHE", str(tmp_path / "cache"))
    model = str(tmp_path / "m.keras")
    tsm_tf.create_model("tsm_resnet_tiny", num_classes=8, num_segments=T,
                        input_size=SIZE).save(model)
    args = ["--model", model, "--dataset", "synthetic", "--protocol", "center", "--quiet"]
    code, err = run_cli(args, capsys)  # nothing generated yet
    assert code == 2
    assert str(tmp_path / "cache" / "synthetic" / "val.txt") in err and "generate" in err
    generate_synthetic_dataset(tmp_path / "cache" / "synthetic", num_train=8, num_val=8,
                               num_frames=8, size=SIZE, workers=1, verbose=False)
    code = main([*args, "--json", str(tmp_path / "r.json")])
    assert code == 0
    report = json.loads((tmp_path / "r.json").read_text())
    root = tmp_path / "cache" / "synthetic"
    assert report["list_file"] == str(root / "val.txt") and report["root"] == str(root)
    assert report["num_videos"] == 8 and report["skipped"] == 0
    with pytest.raises(SystemExit):  # other datasets still need their list
        main(["--model", model, "--dataset", "custom"])
    assert "--val-list is required" in capsys.readouterr().err


@pytest.mark.slow
def test_module_entry_point():
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run([sys.executable, "-m", "tsm_tf.test", "--help"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for flag in ("--model", "--protocol", "--early", "--cam", "--compare-model", "--json"):
        assert flag in proc.stdout

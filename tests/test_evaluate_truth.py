"""Evaluation that tells the truth: unreadable clips stop the run by default or are reported
next to the metric, every list entry keeps its row; the reference's 5/10-crop views; view
averaging and multi-model ensembles as the reference test script combines them."""

from __future__ import annotations

import ast
import csv
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from evaluate_helpers import load_clip, randomize, read_list, segment_frames, write_dataset

import tsm_tf
from tsm_tf.data.errors import DataError
from tsm_tf.evaluate import evaluate
from tsm_tf.evaluate.cli import main

T, SIZE, FRAME, K, N = 4, 32, 40, 3, 6
BAD = 2  # index of the clip made unreadable


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("truth")
    list_path, labels = write_dataset(str(root / "ds"), num_clips=N, num_frames=10, size=FRAME,
                                      num_classes=K)
    models = [randomize(tsm_tf.create_model("tsm_resnet_tiny", num_classes=K, num_segments=T,
                                            input_size=SIZE), seed=s) for s in (0, 1)]
    paths = [str(root / f"m{i}.keras") for i in range(2)]
    for m, p in zip(models, paths, strict=True):
        m.save(p)
    return {"ds": str(root / "ds"), "list": list_path, "labels": labels, "models": models,
            "paths": paths}


def direct_logits(model, data, crop=(4, 4, SIZE), rows=None):
    """The model run on clips loaded independently (cv2, segment centres, centre crop)."""
    rows = rows if rows is not None else read_list(data["list"])
    clips = np.stack([load_clip(data["ds"], rel, segment_frames(n, T), crop)
                      for rel, n, _ in rows])
    return np.asarray(model(clips, training=False))


@pytest.fixture
def broken(data, tmp_path):
    """A copy of the dataset whose clip BAD has no frame folder."""
    ds = tmp_path / "ds"
    shutil.copytree(data["ds"], ds)
    shutil.rmtree(ds / f"frames/clip_{BAD:02d}")
    return ds


def test_unreadable_clip_stops_the_run_by_default(data, broken, capsys):
    with pytest.raises(DataError, match=rf"1 of {N} clips unreadable: .*clip_{BAD:02d}"):
        evaluate(data["models"][0], list_file=str(broken / "val.txt"), protocol="center",
                 scale_size=FRAME, verbose=False)
    code = main(["--model", data["paths"][0], "--val-list", str(broken / "val.txt"),
                 "--protocol", "center", "--scale-size", str(FRAME), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"1 of {N} clips unreadable" in err and f"clip_{BAD:02d}" in err
    assert "--on-error skip" in err


def test_skip_reports_both_top1_and_keeps_every_record(data, broken, tmp_path, capsys):
    out = tmp_path / "out"
    result = evaluate(data["models"][0], list_file=str(broken / "val.txt"), protocol="center",
                      scale_size=FRAME, on_error="skip", out_dir=str(out), verbose=False)
    rows = read_list(data["list"])
    good = [i for i in range(N) if i != BAD]
    logits = direct_logits(data["models"][0], data, rows=[rows[i] for i in good])
    labels = data["labels"]
    correct = logits.argmax(1) == labels[good]
    assert result["num_videos"] == N and result["num_unreadable"] == 1
    assert result["num_readable"] == N - 1
    assert result["top1"] == pytest.approx(correct.mean())  # over the readable clips
    assert result["top1_all"] == pytest.approx(correct.sum() / N)  # unreadable counted wrong
    # per-video output: one row per list entry, aligned with the list
    assert [v["index"] for v in result["videos"]] == list(range(N))
    assert [v["label"] for v in result["videos"]] == labels.tolist()
    statuses = [v["status"] for v in result["videos"]]
    assert statuses[BAD].startswith("unreadable") and f"clip_{BAD:02d}" in statuses[BAD]
    assert all(s == "ok" for i, s in enumerate(statuses) if i != BAD)
    np.testing.assert_allclose(result["scores"][good], logits, rtol=1e-4, atol=1e-4)
    assert np.isnan(result["scores"][BAD]).all() and result["predictions"][BAD] == -1
    with open(out / "per_video.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == N and [r["status"] for r in table][BAD].startswith("unreadable")
    assert table[BAD]["prediction"] == "" and table[0]["path"].endswith("clip_00")
    # the CLI prints the count next to the metric
    code = main(["--model", data["paths"][0], "--val-list", str(broken / "val.txt"),
                 "--protocol", "center", "--scale-size", str(FRAME), "--on-error", "skip",
                 "--out-dir", str(tmp_path / "cli"), "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0
    assert f"1 of {N} clips unreadable" in printed
    assert f"{100 * correct.mean():.2f}% over the {N - 1} readable clips" in printed
    assert f"{100 * correct.sum() / N:.2f}% over all {N}" in printed


def test_undecodable_frame_is_caught_too(data, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(data["ds"], ds)
    rel, n, _ = read_list(data["list"])[1]
    # every frame the sampler may pick is garbage (the files exist: only decoding fails)
    for f in range(1, n + 1):
        (ds / rel / f"img_{f:05d}.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=r"clips unreadable.*clip_01"):
        evaluate(data["models"][0], list_file=str(ds / "val.txt"), protocol="center",
                 scale_size=FRAME, verbose=False)
    result = evaluate(data["models"][0], list_file=str(ds / "val.txt"), protocol="center",
                      scale_size=FRAME, on_error="skip", verbose=False)
    assert result["num_unreadable"] == 1 and not result["readable"][1]
    assert result["videos"][1]["status"].startswith("unreadable")


def test_ten_crops_match_direct_views(data):
    """1 clip x 10 crops on 40x40 frames, scale 40 (no resize), 32 px crops: corners at 0 and
    (40 - 32) // 4 * 4 = 8, centre at 4, each then mirrored; logits averaged over the ten."""
    result = evaluate(data["models"][0], list_file=data["list"], protocol="1clip-10crops",
                      scale_size=FRAME, verbose=False)
    assert result["protocol"]["views"] == 10
    views = []
    for y, x in [(0, 0), (0, 8), (8, 0), (8, 8), (4, 4)]:
        rows = read_list(data["list"])
        clips = np.stack([load_clip(data["ds"], rel, segment_frames(n, T), (y, x, SIZE))
                          for rel, n, _ in rows])
        for flip in (False, True):
            c = clips[:, :, :, ::-1] if flip else clips
            views.append(np.asarray(data["models"][0](c, training=False)))
    np.testing.assert_allclose(result["scores"], np.mean(views, axis=0), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("average", ["logits", "logits-softmax"])
def test_ensemble_averages_the_models(data, average, tmp_path):
    """Two models: each model's video score (its logits, or softmax of them: the reference's
    --softmax), then the mean over the models, as the reference test script does."""
    result = evaluate(data["paths"], list_file=data["list"], protocol="center",
                      scale_size=FRAME, average=average, verbose=False)
    per_model = [direct_logits(m, data) for m in data["models"]]
    if average == "logits-softmax":
        per_model = [np.exp(x) / np.exp(x).sum(axis=1, keepdims=True) for x in per_model]
    expect = np.mean(per_model, axis=0)
    np.testing.assert_allclose(result["scores"], expect, rtol=1e-4, atol=1e-4)
    assert result["top1"] == pytest.approx(np.mean(expect.argmax(1) == data["labels"]))
    assert result["models"] == data["paths"]
    code = main(["--weights", *data["paths"], "--val-list", data["list"], "--protocol",
                 "center", "--scale-size", str(FRAME), "--average", average, "--quiet",
                 "--json", str(tmp_path / "r.json")])
    assert code == 0


def test_evaluation_does_not_depend_on_training():
    """No module of tsm_tf.evaluate imports tsm_tf.train (at top level or inside a function)."""
    folder = Path(tsm_tf.__file__).parent / "evaluate"
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("tsm_tf.train"), (path.name, node.module)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("tsm_tf.train"), (path.name, alias.name)
    assert os.path.isdir(folder)

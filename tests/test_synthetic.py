"""Tests of the synthetic temporal-order dataset (tsm_tf.data.synthetic).

Every property is measured here from the files on disk with code independent of the
generator: list lines are parsed with a regex, the object is found by its brightness (the
documented contract: one channel of the object >= 229, the background <= 100 + noise), and its
centroid, area and orientation (second-order image moments) are computed in numpy.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from tsm_tf.data.synthetic import SYNTHETIC_CLASSES, generate_synthetic_dataset, main

SIZE = 32
FRAMES = 8
LINE_RE = re.compile(r"^(frames/[A-Za-z0-9_]+) (\d+) (\d+)$")


# ----------------------------------------------------------------------------- helpers


def parse_list(path: Path) -> list[tuple[str, int, int]]:
    rows = []
    for line in path.read_text().splitlines():
        m = LINE_RE.match(line)
        assert m, f"{path}: line not in 'path num_frames label' format: {line!r}"
        rows.append((m.group(1), int(m.group(2)), int(m.group(3))))
    return rows


def load_clip(root: Path, rel: str, num_frames: int) -> np.ndarray:
    """Decode a clip as uint8 [T, H, W, 3] RGB."""
    frames = []
    for t in range(1, num_frames + 1):
        bgr = cv2.imread(str(root / rel / f"img_{t:05d}.jpg"), cv2.IMREAD_COLOR)
        assert bgr is not None, f"cannot decode {root / rel} frame {t}"
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return np.stack(frames)


def object_stats(clip: np.ndarray) -> np.ndarray:
    """Per frame [cx, cy, area, orientation] of the bright object: float [T, 4].

    Orientation is the second-moment axis angle in degrees, in image coordinates (x right,
    y down), so it increases when the object turns clockwise on screen.
    """
    # Soft object mask: 0 at the brightest background (100 + noise), 1 at the dimmest object
    # (229); anti-aliased edges get fractional weights, which keeps small objects measurable.
    weight = np.clip((clip.max(axis=-1).astype(np.float64) - 130.0) / 80.0, 0.0, 1.0)
    ys, xs = np.mgrid[0 : clip.shape[1], 0 : clip.shape[2]]
    out = []
    for w in weight:  # [H, W]
        area = w.sum()
        assert area > 1, "object not found in a frame"
        cx, cy = (w * xs).sum() / area, (w * ys).sum() / area
        dx, dy = xs - cx, ys - cy
        mu20, mu02, mu11 = ((w * v).sum() / area for v in (dx * dx, dy * dy, dx * dy))
        theta = 0.5 * np.degrees(np.arctan2(2 * mu11, mu20 - mu02))
        out.append((cx, cy, area, theta))
    return np.array(out, dtype=np.float64)


def total_turn(theta: np.ndarray) -> float:
    """Sum of frame-to-frame orientation changes, each wrapped to [-90, 90) (axis is mod 180)."""
    d = np.diff(theta)
    return float(np.sum((d + 90.0) % 180.0 - 90.0))


def fitted_change(values: np.ndarray) -> np.ndarray:
    """Least-squares line through each row of [N, T] values: its rise from frame 0 to T-1."""
    t = np.arange(values.shape[-1], dtype=np.float64)
    t -= t.mean()
    slope = (values * t).sum(-1) / (t * t).sum()
    return slope * (values.shape[-1] - 1)


def all_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "meta.json"
    }


def softmax_regression_accuracy(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> float:
    """Multinomial logistic regression (full-batch gradient descent), test accuracy."""
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-8
    a = np.c_[(x_train - mu) / sd, np.ones(len(x_train))]
    b = np.c_[(x_test - mu) / sd, np.ones(len(x_test))]
    k = int(max(y_train.max(), y_test.max())) + 1
    onehot = np.eye(k)[y_train]
    w = np.zeros((a.shape[1], k))
    for _ in range(500):
        z = a @ w
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        w -= 0.5 * (a.T @ (p - onehot) / len(a) + 1e-4 * w)
    return float(((b @ w).argmax(1) == y_test).mean())


def two_fold(features: np.ndarray, labels: np.ndarray, clip_index: np.ndarray) -> float:
    """Mean test accuracy over a 2-fold split by clip (frames of one clip never straddle).

    Labels cycle with period 8 over clip indices, so folds are blocks of 8 clips.
    """
    fold = (clip_index // 8) % 2 == 0
    accs = [
        softmax_regression_accuracy(features[f], labels[f], features[~f], labels[~f])
        for f in (fold, ~fold)
    ]
    return float(np.mean(accs))


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic_tiny")
    summary = generate_synthetic_dataset(
        root,
        num_train=16,
        num_val=8,
        num_frames=FRAMES,
        size=SIZE,
        seed=3,
        workers=1,
        verbose=False,
    )
    return root, summary


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """48 clips per class, every frame measured: (labels [N], stats [N, T, 4])."""
    root = tmp_path_factory.mktemp("synthetic_stats")
    generate_synthetic_dataset(
        root,
        num_train=48 * 8,
        num_val=0,
        num_frames=FRAMES,
        size=SIZE,
        seed=11,
        workers=2,
        verbose=False,
    )
    rows = parse_list(root / "train.txt")
    labels = np.array([label for _, _, label in rows])
    stats = np.stack([object_stats(load_clip(root, rel, n)) for rel, n, _ in rows])
    return labels, stats


def label_of(name: str) -> int:
    return SYNTHETIC_CLASSES.index(name)


# ----------------------------------------------------------------------------- format


def test_files_follow_reference_frame_folder_format(tiny):
    root, summary = tiny
    assert (root / "classes.txt").read_text().splitlines() == list(SYNTHETIC_CLASSES)
    assert len(SYNTHETIC_CLASSES) == 8
    for split, count in (("train", 16), ("val", 8)):
        rows = parse_list(root / f"{split}.txt")
        assert len(rows) == count
        assert len({rel for rel, _, _ in rows}) == count  # unique clip folders
        for rel, n, label in rows:
            assert n == FRAMES
            assert 0 <= label < 8
            names = sorted(os.listdir(root / rel))
            assert names == [f"img_{t:05d}.jpg" for t in range(1, n + 1)]
            clip = load_clip(root, rel, n)
            assert clip.shape == (FRAMES, SIZE, SIZE, 3)
            with open(root / rel / "img_00001.jpg", "rb") as f:
                assert f.read(3) == b"\xff\xd8\xff"  # a JPEG, whatever the extension says
        counts = np.bincount([label for _, _, label in rows], minlength=8)
        assert counts.max() - counts.min() <= 1  # balanced
    meta = json.loads((root / "meta.json").read_text())
    assert meta["seed"] == 3 and meta["num_frames"] == FRAMES and meta["size"] == SIZE
    assert meta["complete"] is True
    assert (root / "README.txt").exists()
    assert summary["written"] == 24 and summary["skipped"] == 0
    assert not list((root / "frames").glob(".tmp-*"))


def test_same_seed_same_bytes_any_worker_count(tmp_path):
    kw = dict(num_train=8, num_val=4, num_frames=4, size=SIZE, verbose=False)
    generate_synthetic_dataset(tmp_path / "a", seed=5, workers=1, **kw)
    generate_synthetic_dataset(tmp_path / "b", seed=5, workers=2, **kw)
    generate_synthetic_dataset(tmp_path / "c", seed=6, workers=1, **kw)
    a, b, c = (all_files(tmp_path / d) for d in "abc")
    assert a == b
    frames_a = {k: v for k, v in a.items() if k.endswith(".jpg")}
    assert len(frames_a) == 12 * 4
    assert all(frames_a[k] != c[k] for k in frames_a)  # another seed: every frame differs


def test_rerun_skips_finished_clips_and_redoes_broken_ones(tmp_path):
    kw = dict(num_train=8, num_val=0, num_frames=4, size=SIZE, seed=1, workers=1, verbose=False)
    generate_synthetic_dataset(tmp_path, **kw)
    frames = sorted((tmp_path / "frames").rglob("*.jpg"))
    before = {p: (p.stat().st_mtime_ns, p.stat().st_ino, p.read_bytes()) for p in frames}

    again = generate_synthetic_dataset(tmp_path, **kw)
    assert (again["written"], again["skipped"]) == (0, 8)
    assert {p: (p.stat().st_mtime_ns, p.stat().st_ino, p.read_bytes()) for p in frames} == before

    # A clip with a missing frame and a temp folder left by an interrupted run.
    broken = tmp_path / "frames" / "train_00002"
    (broken / "img_00003.jpg").unlink()
    stale = tmp_path / "frames" / ".tmp-train_00005-12345"
    stale.mkdir()
    (stale / "img_00001.jpg").write_bytes(b"partial")
    third = generate_synthetic_dataset(tmp_path, **kw)
    assert (third["written"], third["skipped"]) == (1, 7)
    assert not stale.exists()
    for p, (mtime, ino, data) in before.items():
        assert p.read_bytes() == data  # the redone clip is identical to the first one
        if p.parent != broken:
            assert (p.stat().st_mtime_ns, p.stat().st_ino) == (mtime, ino)


def test_other_parameters_in_same_dir_are_refused_unless_overwrite(tmp_path):
    kw = dict(num_train=4, num_val=0, num_frames=4, size=SIZE, workers=1, verbose=False)
    generate_synthetic_dataset(tmp_path, seed=1, **kw)
    old = (tmp_path / "frames/train_00000/img_00001.jpg").read_bytes()
    with pytest.raises(ValueError, match=r"meta\.json.*--overwrite"):
        generate_synthetic_dataset(tmp_path, seed=2, **kw)
    generate_synthetic_dataset(tmp_path, seed=2, overwrite=True, **kw)
    assert (tmp_path / "frames/train_00000/img_00001.jpg").read_bytes() != old
    assert json.loads((tmp_path / "meta.json").read_text())["seed"] == 2


def test_class_subset_and_bad_names(tmp_path):
    generate_synthetic_dataset(
        tmp_path,
        num_train=4,
        num_val=0,
        num_frames=FRAMES,
        size=SIZE,
        workers=1,
        classes=["shrinking", "growing"],
        verbose=False,
    )
    assert (tmp_path / "classes.txt").read_text().splitlines() == ["shrinking", "growing"]
    for rel, n, label in parse_list(tmp_path / "train.txt"):
        area = object_stats(load_clip(tmp_path, rel, n))[:, 2]
        assert (area[-1] > area[0]) == (label == 1)
    with pytest.raises(ValueError, match="moving_left"):
        generate_synthetic_dataset(tmp_path / "x", classes=["jumping"], verbose=False)


def test_cli(tmp_path, capsys):
    out = tmp_path / "cli"
    argv = [
        "--out",
        str(out),
        "--num-train",
        "8",
        "--num-val",
        "8",
        "--frames",
        "4",
        "--size",
        "24",
        "--seed",
        "2",
        "--workers",
        "1",
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["written"] == 16
    assert "16/16 clips" in captured.err  # progress goes to stderr
    assert parse_list(out / "val.txt")[0] == ("frames/val_00000", 4, 0)
    assert cv2.imread(str(out / "frames/val_00007/img_00004.jpg")).shape == (24, 24, 3)
    assert main(["--out", str(tmp_path / "bad"), "--classes", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


# ----------------------------------------------------------------------------- temporal cue


def test_each_class_shows_its_motion(measured):
    labels, stats = measured
    dx, dy = fitted_change(stats[..., 0]), fitted_change(stats[..., 1])
    growth = np.exp(fitted_change(np.log(stats[..., 2])))  # area ratio, last / first frame
    turn = np.array([total_turn(s[:, 3]) for s in stats])
    min_travel = 0.15 * SIZE  # the generator moves 0.25-0.40 of the side; margin for JPEG/AA
    still = 0.06 * SIZE

    def check(name, ok):
        sel = labels == label_of(name)
        assert sel.sum() == 48
        assert np.all(ok[sel]), f"{name}: {np.flatnonzero(~ok[sel])} clips do not show it"

    check("moving_left", (dx < -min_travel) & (np.abs(dy) < still))
    check("moving_right", (dx > min_travel) & (np.abs(dy) < still))
    check("moving_up", (dy < -min_travel) & (np.abs(dx) < still))
    check("moving_down", (dy > min_travel) & (np.abs(dx) < still))
    # Radius x 1.5-2.2 means area x 2.25-4.8; small thin shapes lose area to JPEG chroma.
    check("growing", (growth > 1.75) & (np.abs(dx) < still) & (np.abs(dy) < still))
    check("shrinking", (growth < 1 / 1.75) & (np.abs(dx) < still) & (np.abs(dy) < still))
    # On screen (y down) an increasing moment angle is a clockwise turn; 90-180 degrees made.
    check("rotating_clockwise", (turn > 45) & (np.abs(dx) < still) & (np.abs(dy) < still))
    check("rotating_counterclockwise", (turn < -45) & (np.abs(dx) < still) & (np.abs(dy) < still))
    # Area is steady in moving / turning clips (up to the aliasing of thin shapes at 32 px).
    steady = (growth > 1 / 1.7) & (growth < 1.7)
    for name in SYNTHETIC_CLASSES:
        if name not in ("growing", "shrinking"):
            check(name, steady)


def test_single_frames_do_not_tell_paired_classes(measured):
    labels, stats = measured
    # Pooled over all frames, paired classes have the same mean position / area. Tolerance:
    # 4 standard errors of the difference, with clips (not correlated frames) as the units.
    values = np.stack([stats[..., 0], stats[..., 1], np.log(stats[..., 2])], axis=-1)
    for a, b, col, max_se in (
        ("moving_left", "moving_right", 0, 0.05 * SIZE),
        ("moving_up", "moving_down", 1, 0.05 * SIZE),
        ("growing", "shrinking", 2, 0.1),  # log area
    ):
        ma = values[labels == label_of(a), :, col].mean(1)  # per-clip means [48]
        mb = values[labels == label_of(b), :, col].mean(1)
        se = np.sqrt(ma.var(ddof=1) / len(ma) + mb.var(ddof=1) / len(mb))
        assert se < max_se  # the comparison has power: a shift of a few pixels would show
        assert abs(ma.mean() - mb.mean()) < 4 * se, (a, b, ma.mean(), mb.mean(), se)


def _frame_features(stats: np.ndarray) -> np.ndarray:
    """Quadratic features of one frame's (x, y, log area, orientation): [..., 14]."""
    x, y, la = stats[..., 0], stats[..., 1], np.log(stats[..., 2])
    c, s = np.cos(np.radians(2 * stats[..., 3])), np.sin(np.radians(2 * stats[..., 3]))
    base = [x, y, la, c, s]
    quad = [x * x, y * y, la * la, x * y, x * la, y * la, c * c - s * s, 2 * c * s, c * la]
    return np.stack(base + quad, axis=-1)


def test_classifier_on_single_frames_is_near_chance_but_frame_changes_separate(measured):
    labels, stats = measured
    n, t = labels.shape[0], stats.shape[1]
    clip = np.repeat(np.arange(n), t)
    frame_x = _frame_features(stats).reshape(n * t, -1)
    frame_y = np.repeat(labels, t)

    # 8 classes from one frame (position, size, angle): chance is 1/8.
    acc8 = two_fold(frame_x, frame_y, clip)
    assert acc8 < 0.22, acc8
    # Each time-reversed pair from one frame: chance is 1/2.
    for k in range(0, 8, 2):
        sel = (frame_y == k) | (frame_y == k + 1)
        acc2 = two_fold(frame_x[sel], frame_y[sel] - k, clip[sel])
        assert acc2 < 0.65, (SYNTHETIC_CLASSES[k], acc2)

    # Positive control 1: the same classifier on how the frame changes over the clip.
    change = np.stack(
        [
            stats[:, -1, 0] - stats[:, 0, 0],
            stats[:, -1, 1] - stats[:, 0, 1],
            np.log(stats[:, -1, 2] / stats[:, 0, 2]),
            [total_turn(s[:, 3]) for s in stats],
        ],
        axis=1,
    )
    assert two_fold(change, labels, np.arange(n)) > 0.95
    # Positive control 2: one frame at a FIXED time index does carry some position cue
    # (left-movers start further right), so the single-frame classifier has power; it is the
    # frame order a per-frame model does not see that hides it.
    lr = (labels == label_of("moving_left")) | (labels == label_of("moving_right"))
    first = _frame_features(stats[lr, 0])
    acc_first = two_fold(first, labels[lr] - label_of("moving_left"), np.flatnonzero(lr))
    assert acc_first > 0.7, acc_first


def test_workers_are_not_forked_from_a_process_with_tensorflow(monkeypatch):
    """A forked child of a process whose TensorFlow thread pools run can hang forever on a lock
    copied mid-use (the demo test did, inside the full test session): spawn there instead."""
    import sys
    import types

    from tsm_tf.common.processes import worker_context

    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    assert worker_context().get_start_method() == ("fork" if sys.platform == "linux" else "spawn")
    monkeypatch.setitem(sys.modules, "tensorflow", types.ModuleType("tensorflow"))
    assert worker_context().get_start_method() == "spawn"

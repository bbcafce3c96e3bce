"""A run killed with SIGKILL inside an epoch, right after a ``--save-every-steps`` checkpoint,
resumes from that step and ends where an uninterrupted run ends: same step count, lr schedule,
optimizer state and (CPU, deterministic data) weights."""

import csv
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tsm_tf.data.synthetic import generate_synthetic_dataset
from tsm_tf.train.checkpoint import (
    list_checkpoints,
    list_step_checkpoints,
    read_checkpoint_state,
)


def _arrays(path, prefix):
    with np.load(path) as f:
        keys = sorted((k for k in f.files if k.startswith(prefix)),
                      key=lambda k: int(k.split("/")[1]))
        return [f[k] for k in keys]


@pytest.mark.slow
def test_kill_9_mid_epoch_then_resume_continues_exactly(tmp_path):
    root = tmp_path / "data"
    generate_synthetic_dataset(root, num_train=32, num_val=8, num_frames=8, size=32, workers=1,
                               verbose=False)

    def cmd(out):  # 32 clips / batch 4 = 8 steps per epoch; dropout draws random masks
        return [sys.executable, "-m", "tsm_tf.train", "--root", str(root), "--num-segments", "4",
                "--input-size", "32", "--batch-size", "4", "--epochs", "2", "--dropout", "0.3",
                "--save-every-steps", "3", "--output-dir", str(out), "--verbose", "0"]

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    straight = subprocess.Popen(cmd(tmp_path / "straight"), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
    out = tmp_path / "run"
    proc = subprocess.Popen(cmd(out), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 600
    try:
        while not list_step_checkpoints(out):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "no step checkpoint after 600 s"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)  # inside epoch 1, after step 3
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert list_checkpoints(out) == [], "killed too late: epoch 1 had finished"
    step, ckpt = list_step_checkpoints(out)[-1]
    state = read_checkpoint_state(ckpt)
    assert (state["epoch"], state["epoch_step"], state["step"]) == (0, step, step)
    assert step % 3 == 0 and 0 < step < 8

    # Without --resume the folder is protected ...
    again = subprocess.run(cmd(out), env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 2 and "--resume" in again.stderr
    # ... with --resume it continues from that step, and says what differs.
    resumed = subprocess.run(cmd(out)[:-1] + ["1", "--resume"], env=env, capture_output=True,
                             text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {ckpt} (epoch 0, batch {step}, step {step})" in resumed.stderr
    assert re.search(rf"after batch {step} of 8.*average only its remaining {8 - step} batches",
                     resumed.stderr.replace("\n", " "))
    _, err = straight.communicate(timeout=900)
    assert straight.returncode == 0, err[-3000:]

    final = {name: list_checkpoints(tmp_path / name)[-1] for name in ("run", "straight")}
    assert final["run"][0] == final["straight"][0] == 2
    a, b = final["run"][1], final["straight"][1]
    # step count: 2 epochs x 8 steps, none repeated or skipped
    assert read_checkpoint_state(a)["step"] == read_checkpoint_state(b)["step"] == 16
    # optimizer state: iteration counter and slots continue exactly
    opt_a, opt_b = _arrays(a, "opt/"), _arrays(b, "opt/")
    assert len(opt_a) == len(opt_b)
    for x, y in zip(opt_a, opt_b, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6)
    # lr schedule: the same lr after every epoch
    rows = {name: list(csv.DictReader(open(tmp_path / name / "metrics.csv")))
            for name in ("run", "straight")}
    assert [r["epoch"] for r in rows["run"]] == ["1", "2"]
    assert [float(r["lr"]) for r in rows["run"]] == pytest.approx(
        [float(r["lr"]) for r in rows["straight"]], rel=1e-6)
    # weights: equal to the uninterrupted run's (CPU, deterministic data order and dropout)
    for x, y in zip(_arrays(a, "w/"), _arrays(b, "w/"), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)
    assert (out / "best.keras").is_file() and (out / "last.keras").is_file()
    leftovers = [p.name for p in out.rglob(".*") if p.is_file()]
    assert leftovers == []

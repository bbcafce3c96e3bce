"""A run killed with SIGKILL right after an epoch's checkpoint resumes and finishes."""

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from tsm_tf.data.synthetic import generate_synthetic_dataset
from tsm_tf.train.checkpoint import list_checkpoints, read_checkpoint_state


@pytest.mark.slow
def test_kill_9_then_resume(tmp_path):
    root = tmp_path / "data"
    generate_synthetic_dataset(root, num_train=32, num_val=8, num_frames=8, size=32, workers=1,
                               verbose=False)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "tsm_tf.train", "--root", str(root), "--num-segments", "4",
           "--input-size", "32", "--batch-size", "8", "--epochs", "3", "--dropout", "0",
           "--output-dir", str(out), "--verbose", "0"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    try:
        while not list_checkpoints(out):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "no checkpoint after 300 s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # now inside epoch 2
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    done = [e for e, _ in list_checkpoints(out)]
    assert done and done[-1] < 3  # killed before the end

    # Without --resume the folder is protected ...
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "--resume" in again.stderr
    # ... with --resume it finishes the missing epochs.
    resumed = subprocess.run(cmd[:-1] + ["2", "--resume"], env=env, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {out / 'checkpoints'}" in resumed.stderr
    assert [e for e, _ in list_checkpoints(out)][-1] == 3
    state = read_checkpoint_state(list_checkpoints(out)[-1][1])
    assert state["epoch"] == 3 and state["step"] == 3 * 4  # 32 clips / batch 8 per epoch
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert (out / "best.keras").is_file() and (out / "last.keras").is_file()
    leftovers = [p.name for p in out.rglob(".*") if p.is_file()]
    assert leftovers == []

"""``remove_stale_temp_files`` deletes the temp files a killed run of this package left, and
nothing else: a user's own hidden files in the run folder survive."""

import os
import subprocess
import sys

from tsm_tf.train.checkpoint import remove_stale_temp_files

# Killed between writing the temp file and renaming it (os.replace never runs).
KILLED_WRITE = r"""
import os, sys
from tsm_tf import io_utils
os.replace = lambda *a: os._exit(9)
io_utils.atomic_write_bytes(sys.argv[1], b"half-written")
"""


def _killed_write(path):
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITE, str(path)], timeout=120)
    assert proc.returncode == 9


def test_only_the_packages_temp_files_are_removed(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    ckpts = run / "checkpoints"
    for target in (run / "metrics.csv", run / "config.yaml", ckpts / "epoch_002.npz",
                   ckpts / "step_00000012.npz"):
        _killed_write(target)
    stale = sorted(p.name for p in run.rglob(".*") if p.is_file())
    assert len(stale) == 4 and all(name.endswith(".tmp") for name in stale)

    users = [run / ".notes.tmp", run / ".my_model.keras", run / ".last.keras.backup",
             run / "checkpoints" / ".keep.tmp", run / ".env"]
    for p in users:
        p.write_text("mine")
    assert remove_stale_temp_files(run) == 4
    left = sorted(os.path.relpath(p, run) for p in run.rglob(".*") if p.is_file())
    assert left == sorted(os.path.relpath(p, run) for p in users)
    assert all(p.read_text() == "mine" for p in users)

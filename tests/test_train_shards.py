"""TFRecord shards in training: steps per epoch counted from each worker's own shards (uneven
shards, two loopback workers), and a truncated or corrupt shard named in the error."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from shared_helpers import free_ports

from tsm_tf.data.errors import DataError
from tsm_tf.data.registry import get_dataset_spec
from tsm_tf.data.tfrecord import count_file_records, find_corrupt_file, write_index, write_shard
from tsm_tf.train.checkpoint import list_checkpoints, read_checkpoint_state
from tsm_tf.train.data import steps_per_epoch, worker_clip_counts

SIZES = (10, 3, 3)  # uneven: worker 0 reads shards 0 and 2 (13 clips), worker 1 shard 1 (3)


def _write_shards(folder, sizes=SIZES, frames=8, side=32, classes=4):
    rng = np.random.default_rng(0)
    shards = []
    for s, n in enumerate(sizes):
        clips = []
        for c in range(n):
            label = int(rng.integers(classes))
            jpegs = [cv2.imencode(".jpg", rng.integers(0, 255, (side, side, 3), np.uint8))[1]
                     .tobytes() for _ in range(frames)]
            clips.append((f"shard{s}/clip{c}", label, jpegs))
        name = f"train-{s:05d}-of-{len(sizes):05d}.tfrecord"
        write_shard(str(folder / name), clips)
        shards.append({"file": name, "num_clips": n})
    write_index(str(folder / "train.json"), shards)
    return folder / "train.json"


def test_clips_per_worker_follow_the_file_sharding(tmp_path):
    index = _write_shards(tmp_path)
    spec = get_dataset_spec("custom", num_classes=4, frame_template="{:05d}.jpg")
    assert worker_clip_counts(spec, None, str(index), 2) == [13, 3]
    assert worker_clip_counts(spec, None, str(tmp_path / "*.tfrecord"), 2) == [13, 3]
    assert worker_clip_counts(spec, None, str(index), 1) == [16]
    assert worker_clip_counts(spec, None, str(index), 4) == [4, 4, 4, 4]  # fewer files: by clip
    assert steps_per_epoch([13, 3], 1) == 3
    with pytest.raises(ValueError, match="fewer than one step"):
        steps_per_epoch([13, 3], 4)


def test_truncated_shard_is_named(tmp_path):
    _write_shards(tmp_path)
    bad = tmp_path / "train-00001-of-00003.tfrecord"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) - 100])
    with pytest.raises(DataError, match="train-00001-of-00003.tfrecord is truncated or corrupt"):
        count_file_records(str(bad))
    files = sorted(str(p) for p in tmp_path.glob("*.tfrecord"))
    assert str(bad) in str(find_corrupt_file(files))
    assert find_corrupt_file([files[0], files[2]]) is None


@pytest.mark.slow
def test_corrupt_shard_during_training_is_named(tmp_path):
    """The index says the shards are fine, so the damage shows up inside fit(): the error
    names the file instead of TensorFlow's bare 'corrupted record at N'."""
    from tsm_tf.train import TrainConfig, train

    index = _write_shards(tmp_path)
    bad = tmp_path / "train-00000-of-00003.tfrecord"
    data = bytearray(bad.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = b"\xff" * 64  # flip bytes mid-file: CRC fails
    bad.write_bytes(bytes(data))
    cfg = TrainConfig(dataset="custom", num_classes=4, train_list=str(index),
                      val_list=str(index), arch="resnet_tiny", num_segments=4, input_size=32,
                      batch_size=4, epochs=1, shuffle=False, verbose=0,
                      output_dir=str(tmp_path / "run"))
    with pytest.raises(DataError, match="train-00000-of-00003.tfrecord is truncated or corrupt"):
        train(cfg)


WORKER = r"""
import json, sys
from tsm_tf.train import TrainConfig, train
train(TrainConfig(**json.loads(sys.argv[1])))
"""


@pytest.mark.slow
def test_two_workers_over_uneven_shards_take_the_smaller_shards_steps(tmp_path):
    index = _write_shards(tmp_path)
    config = dict(dataset="custom", num_classes=4, train_list=str(index), val_list=str(index),
                  arch="resnet_tiny", num_segments=4, input_size=32, batch_size=2, epochs=1,
                  dropout=0.0, shuffle=False, verbose=0, distribute="multiworker",
                  output_dir=str(tmp_path / "run"))
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    procs = []
    for i in range(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
               "TF_CONFIG": json.dumps({"cluster": cluster,
                                        "task": {"type": "worker", "index": i}})}
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(config)],
                                      env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True))
    for proc in procs:
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
    # per-replica batch 1: worker 1's 3 clips allow 3 steps (16 clips / 2 would claim 8, and
    # worker 1 would wrap around its shard within the epoch)
    state = read_checkpoint_state(list_checkpoints(tmp_path / "run")[-1][1])
    assert state["step"] == 3 and state["steps_per_epoch"] == 3

"""The memory check before the first step: refuses a run that cannot fit, naming the estimate,
the memory there is and what would fit; --accum-steps keeps the global batch."""

import os
import re
import subprocess
import sys

import pytest

from tsm_tf.train.config import TrainConfig, model_kwargs, resolve_config
from tsm_tf.train.memory import GIB, check_memory, estimate_memory

AVAILABLE = 24 * GIB  # this machine kind


def _custom_recipe_kwargs():
    cfg = resolve_config(TrainConfig(dataset="custom", num_classes=10, train_list="a",
                                     val_list="b"))
    return cfg, model_kwargs(cfg)


def test_estimate_grows_with_batch_and_input_size():
    kw = dict(model_kwargs(resolve_config(TrainConfig())), arch="resnet18", input_size=64)
    one = estimate_memory(kw, 1, "sgd")
    eight = estimate_memory(kw, 8, "sgd")
    assert eight.activations == 8 * one.activations
    assert eight.weights == one.weights and eight.optimizer == one.optimizer
    big = estimate_memory({**kw, "input_size": 128}, 1, "sgd")
    assert 3.5 < big.activations / one.activations < 4.5  # ~ pixels
    assert estimate_memory(kw, 1, "adam").optimizer == 2 * one.optimizer


@pytest.mark.slow
def test_default_custom_recipe_is_refused_with_what_fits():
    cfg, kw = _custom_recipe_kwargs()
    assert (cfg.arch, cfg.input_size, cfg.batch_size) == ("resnet50", 224, 64)
    with pytest.raises(MemoryError) as e:
        check_memory(kw, global_batch=64, replicas=1, accum_steps=1, optimizer="sgd",
                     available=AVAILABLE)
    msg = str(e.value)
    need = float(re.search(r"needs about ([\d.]+) GiB", msg).group(1))
    assert need > 24 and "24.0 GiB is available" in msg
    accum = int(re.search(r"--batch-size 64 --accum-steps (\d+)", msg).group(1))
    clips = 64 // accum
    # the suggestion fits, and is the largest step that does
    assert estimate_memory(kw, clips, "sgd", accum).total <= AVAILABLE
    bigger = [d for d in range(clips + 1, 65) if 64 % d == 0]
    assert all(estimate_memory(kw, d, "sgd", 64 // d).total > AVAILABLE for d in bigger)
    # and the suggested flags pass the check
    check_memory(kw, global_batch=64, replicas=1, accum_steps=accum, optimizer="sgd",
                 available=AVAILABLE)


def test_small_run_passes_and_nothing_fits_in_too_little_memory():
    kw = dict(model_kwargs(resolve_config(TrainConfig())), num_segments=4, input_size=32)
    est = check_memory(kw, global_batch=8, replicas=1, accum_steps=1, optimizer="adam",
                       available=AVAILABLE)
    assert est.total < AVAILABLE
    with pytest.raises(MemoryError, match="only 0.1 GiB is available"):
        check_memory(kw, global_batch=8, replicas=1, accum_steps=1, optimizer="adam",
                     available=GIB // 10)


@pytest.mark.slow
def test_cli_refuses_the_default_custom_recipe(tmp_path):
    (tmp_path / "list.txt").write_text("".join(f"clip{i} 8 0\n" for i in range(64)))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-m", "tsm_tf.train", "--dataset", "custom", "--num-classes", "10",
         "--root", str(tmp_path), "--train-list", str(tmp_path / "list.txt"),
         "--val-list", str(tmp_path / "list.txt"), "--batch-size", "64", "--epochs", "1",
         "--output-dir", str(tmp_path / "run")],
        capture_output=True, text=True, env=env, timeout=600)
    # on a machine with more than ~170 GiB free this run would fit; this machine kind has 24
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "error: training resnet50 on 64 clips per step" in proc.stderr
    assert "GiB is available" in proc.stderr and "--accum-steps" in proc.stderr

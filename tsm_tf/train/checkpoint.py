"""Run directories and checkpoints, all written atomically (temp file in the same dir, then
``os.replace``), so a run killed at any moment leaves either the old file or the new one.

Layout of ``--output-dir``::

    config.yaml                 resolved configuration (pass back with --config)
    checkpoints/epoch_003.npz   resumable training state after epoch 3 (weights, optimizer
                                slots and step counter, epoch, best accuracy, metric history)
    checkpoints/step_00000120.npz  the same inside an epoch, after optimizer step 120
                                (``--save-every-steps``)
    last.keras, best.keras      the model after the last / the best-validation epoch
    metrics.csv                 one row per epoch; curves.png; tensorboard/

A training-state checkpoint is an ``.npz`` holding ``w/<i>`` (``model.weights`` in order),
``opt/<i>`` (``optimizer.variables``), ``rng/<i>`` (dropout seed generators) and ``state``
(JSON: ``epoch`` finished epochs, ``epoch_step`` batches done in the next one, ``step``
optimizer steps, ``steps_per_epoch``, config, history, best).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from tsm_tf.io_utils import atomic_write_bytes, is_temp_file

CHECKPOINT_DIR = "checkpoints"
_CKPT_RE = re.compile(r"^epoch_(\d+)\.npz$")
_STEP_CKPT_RE = re.compile(r"^step_(\d+)\.npz$")
RUN_MARKERS = ("checkpoints", "last.keras", "best.keras", "metrics.csv")


class RunDirError(ValueError):
    """The output directory holds another run."""


class ResumeWarning(UserWarning):
    """Part of a checkpoint could not be restored: the resumed run differs from an
    uninterrupted one in the way the message says."""


def list_checkpoints(output_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """``[(epoch, path)]`` of the training-state checkpoints, oldest first."""
    folder = Path(output_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _CKPT_RE.match(p.name))]
    return sorted(found)


def step_checkpoint_path(output_dir: str | os.PathLike, step: int) -> Path:
    return Path(output_dir) / CHECKPOINT_DIR / f"step_{int(step):08d}.npz"


def list_step_checkpoints(output_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """``[(optimizer step, path)]`` of the mid-epoch checkpoints, oldest first."""
    folder = Path(output_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    return sorted((int(m.group(1)), p) for p in folder.iterdir()
                  if (m := _STEP_CKPT_RE.match(p.name)))


def latest_checkpoint(output_dir: str | os.PathLike) -> Path | None:
    """The checkpoint furthest into training (epoch-end or mid-epoch)."""
    found = [(read_checkpoint_state(p)["step"], 1, p) for _, p in list_checkpoints(output_dir)]
    found += [(step, 0, p) for step, p in list_step_checkpoints(output_dir)]
    return max(found)[2] if found else None


def prune_checkpoints(output_dir: str | os.PathLike, keep: int) -> None:
    """Keep the newest ``keep`` epoch checkpoints, and the mid-epoch ones newer than the
    newest epoch checkpoint (at most ``keep``)."""
    epochs = list_checkpoints(output_dir)
    for _, old in epochs[:-keep]:
        old.unlink()
    last_epoch_step = read_checkpoint_state(epochs[-1][1])["step"] if epochs else -1
    steps = list_step_checkpoints(output_dir)
    newer = [(s, p) for s, p in steps if s > last_epoch_step]
    for s, p in steps:
        if (s, p) not in newer[-keep:]:
            p.unlink()


def check_output_dir(output_dir: str | os.PathLike, *, resume: bool, overwrite: bool) -> None:
    """Refuse to write into a folder that holds another run, unless resuming or overwriting."""
    out = Path(output_dir)
    if resume or overwrite or not out.exists():
        return
    found = [name for name in RUN_MARKERS if (out / name).exists()]
    if found:
        raise RunDirError(
            f"Output dir {out} already holds a training run ({', '.join(found)}). "
            "Continue it with --resume, replace it with --overwrite, or choose another "
            "--output-dir."
        )


def clear_run(output_dir: str | os.PathLike) -> None:
    """``--overwrite``: remove the previous run's checkpoints and outputs (nothing else)."""
    out = Path(output_dir)
    for _, path in list_checkpoints(out) + list_step_checkpoints(out):
        path.unlink()
    for name in ("last.keras", "best.keras", "metrics.csv", "curves.png"):
        if (out / name).exists():
            (out / name).unlink()
    tb = out / "tensorboard"
    if tb.is_dir():
        import shutil

        shutil.rmtree(tb)


def remove_stale_temp_files(output_dir: str | os.PathLike) -> int:
    """Delete the temp files a killed run of this package left behind: only the names
    ``tsm_tf.io_utils`` gives them (``io_utils.is_temp_file``); a user's own hidden files are
    left alone."""
    removed = 0
    for folder in (Path(output_dir), Path(output_dir) / CHECKPOINT_DIR):
        if folder.is_dir():
            for p in folder.iterdir():
                if p.is_file() and is_temp_file(p):
                    p.unlink()
                    removed += 1
    return removed


def _random_state_variables(model) -> list:
    """Variables that are not weights: the seed generators of Dropout and augmentation layers.
    Saving them makes a resumed run draw the same dropout masks as an uninterrupted one."""
    weight_ids = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weight_ids]


def save_checkpoint(path: str | os.PathLike, model, optimizer, state: dict[str, Any]) -> None:
    """Write the resumable training state (see the module docstring) atomically."""
    arrays = {f"w/{i}": np.asarray(v) for i, v in enumerate(model.get_weights())}
    arrays.update({f"rng/{i}": np.asarray(v.numpy())
                   for i, v in enumerate(_random_state_variables(model))})
    arrays.update({f"opt/{i}": np.asarray(v.numpy()) for i, v in enumerate(optimizer.variables)})
    arrays["state"] = np.frombuffer(json.dumps(state).encode("utf-8"), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def read_checkpoint_state(path: str | os.PathLike) -> dict[str, Any]:
    with np.load(path) as data:
        return json.loads(bytes(data["state"]).decode("utf-8"))


def load_checkpoint(path: str | os.PathLike, model, optimizer) -> dict[str, Any]:
    """Restore weights and optimizer state saved by :func:`save_checkpoint`; return the state.

    The optimizer must be built (``optimizer.build(model.trainable_variables)``) first.
    """
    with np.load(path) as data:
        state = json.loads(bytes(data["state"]).decode("utf-8"))
        count = {p: sum(k.startswith(p) for k in data.files) for p in ("w/", "opt/", "rng/")}
        weights = [data[f"w/{i}"] for i in range(count["w/"])]
        opt_values = [data[f"opt/{i}"] for i in range(count["opt/"])]
        rng_values = [data[f"rng/{i}"] for i in range(count["rng/"])]
    if len(weights) != len(model.weights):
        raise ValueError(f"{path}: holds {len(weights)} weight arrays, the model has "
                         f"{len(model.weights)}: it was saved from another architecture.")
    model.set_weights(weights)
    if len(opt_values) != len(optimizer.variables):
        raise ValueError(f"{path}: holds {len(opt_values)} optimizer variables, this optimizer "
                         f"has {len(optimizer.variables)}: resume with the run's --optimizer, "
                         "--partial-bn and --mixed-precision settings.")
    for var, value in zip(optimizer.variables, opt_values, strict=True):
        var.assign(value)
    random_state = _random_state_variables(model)
    same = len(rng_values) == len(random_state) and all(
        tuple(v.shape) == a.shape for v, a in zip(random_state, rng_values, strict=False))
    if same:
        for var, value in zip(random_state, rng_values, strict=True):
            var.assign(value)
    else:
        warnings.warn(
            f"{path}: holds {len(rng_values)} random-state variables (dropout seed generators), "
            f"the model has {len(random_state)}; they start afresh, so dropout masks will "
            "differ from an uninterrupted run (weights, optimizer, schedule and data order "
            "are restored).", ResumeWarning, stacklevel=2)
    return state


def write_metrics_csv(path: str | os.PathLike, history: list[dict[str, Any]]) -> None:
    """One row per finished epoch, rewritten atomically from the checkpointed history."""
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    atomic_write_bytes(path, buf.getvalue().encode("utf-8"))


def plot_curves(path: str | os.PathLike, history: list[dict[str, Any]]) -> None:
    """Training curves (loss; top-1 accuracy) per epoch as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    for key, label in (("loss", "train"), ("val_loss", "val")):
        if any(key in row for row in history):
            ax_loss.plot(epochs, [row.get(key, np.nan) for row in history], "o-", label=label)
    for key, label in (("accuracy", "train"), ("val_accuracy", "val")):
        if any(key in row for row in history):
            ax_acc.plot(epochs, [100 * row.get(key, np.nan) for row in history], "o-",
                        label=label)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="top-1 (%)", title="accuracy", ylim=(0, 100))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())

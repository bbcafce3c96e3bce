"""Quantization-aware training (QAT), then full-integer TFLite conversion.

``tensorflow-model-optimization`` (the ``qat`` extra) accepts tf_keras models only, and tf_keras
needs ``TF_USE_LEGACY_KERAS=1`` before TensorFlow is imported, so ``convert_qat`` runs the job
in a child process (``tsm_tf.export.qat_worker``): it rebuilds the Keras 3 model under tf_keras
layer by layer with the weights copied (``tsm_tf.export.tfkeras``), inserts fake quantization,
fine-tunes on the training clips and converts.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import tsm_tf

QAT_PACKAGES = {"tf_keras": "tf-keras", "tensorflow_model_optimization":
                "tensorflow-model-optimization"}
IO_TYPES = ("int8", "uint8", "float32")
MODES = ("offline", "streaming")
STDERR_TAIL_LINES = 20
ERROR_PREFIX = "tsm_tf.qat error: "  # the child's one-line message of an expected failure


def check_qat_installed() -> None:
    """Raise ``ImportError`` (one line, with the install command) if the extra is missing."""
    missing = [pip for module, pip in QAT_PACKAGES.items()
               if importlib.util.find_spec(module) is None]
    if missing:
        raise ImportError(
            f"QAT needs {' and '.join(missing)} (the qat extra): pip install -e \".[qat]\""
        )


def _check_arguments(model_path, data, mode, frames_per_step, epochs, io_type, num_calib,
                     learning_rate, batch_size) -> None:
    if not Path(model_path).is_file():
        raise FileNotFoundError(f"Model file not found: {model_path}")
    if not isinstance(data, dict) or "list_file" not in data:
        raise ValueError("`data` must be a dict of tsm_tf.data.build_dataset arguments with at "
                         "least `list_file` (and `root`, `dataset`) for the training clips.")
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}. Received: {mode!r}")
    if io_type not in IO_TYPES:
        raise ValueError(f"`io_type` must be one of {IO_TYPES}. Received: {io_type!r}")
    for name, value, low in (("frames_per_step", frames_per_step, 1), ("epochs", epochs, 0),
                             ("num_calib", num_calib, 1), ("batch_size", batch_size, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"`{name}` must be an integer >= {low}. Received: {value!r}")
    if mode == "offline" and frames_per_step != 1:
        raise ValueError("`frames_per_step` applies to mode='streaming' only.")
    if not learning_rate > 0:
        raise ValueError(f"`learning_rate` must be > 0. Received: {learning_rate!r}")


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["TF_USE_LEGACY_KERAS"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    package_parent = str(Path(tsm_tf.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    return env


def convert_qat(
    model_path: str,
    *,
    data: dict,
    mode: str = "offline",
    frames_per_step: int = 1,
    epochs: int = 1,
    io_type: str = "int8",
    num_calib: int = 32,
    learning_rate: float = 1e-4,
    batch_size: int = 8,
    verbose: bool = True,
    seed: int = 0,
) -> bytes:
    """Fine-tune a ``.keras`` TSM under quantization-aware training and convert it to a
    full-integer TFLite flatbuffer (fixed batch 1, ``serving_default`` signature).

    Args:
        model_path: a ``.keras`` offline ``TSM`` (uni- or bi-directional, or TSN).
        data: ``tsm_tf.data.build_dataset`` arguments for the training clips (``dataset``,
            ``root``, ``list_file``, ``frame_template`` for custom sets, ...); frames and
            input size come from the model.
        mode: ``"offline"`` (``video`` in, ``logits`` out) or ``"streaming"`` (``image``
            plus ``state_*`` caches in, ``logits`` plus caches out; uni-directional or TSN).
        frames_per_step: streaming only: frames per call (input ``video`` when > 1).
        epochs: QAT fine-tuning epochs over ``data`` (0: calibrated ranges, float weights).
        io_type: boundary type, ``"int8"``, ``"uint8"`` or ``"float32"``.
        num_calib: training clips on which every activation range is calibrated before the
            fine-tuning (the converted model keeps the learned ranges).
        learning_rate, batch_size: of the fine-tuning (Adam).
        verbose: print progress.
        seed: makes the fine-tuning reproducible.

    Raises:
        ImportError: the ``qat`` extra is not installed.
        ValueError: bad arguments, or the job failed (the message ends with its stderr).

    Example (needs a trained model and its data, so not run as a doctest)::

        flatbuffer = convert_qat("runs/online/best.keras", mode="streaming",
            data={"dataset": "synthetic", "root": "data", "list_file": "data/train.txt"})
    """
    check_qat_installed()
    _check_arguments(model_path, data, mode, frames_per_step, epochs, io_type, num_calib,
                     learning_rate, batch_size)
    job = dict(model_path=os.fspath(Path(model_path).resolve()), data=dict(data), mode=mode,
               frames_per_step=frames_per_step, epochs=epochs, io_type=io_type,
               num_calib=num_calib, learning_rate=float(learning_rate),
               batch_size=batch_size, verbose=verbose, seed=seed)
    with tempfile.TemporaryDirectory(prefix="tsm_tf_qat_") as work:
        job_path, out_path = Path(work) / "job.json", Path(work) / "model.tflite"
        job_path.write_text(json.dumps(job))
        result = subprocess.run(
            [sys.executable, "-m", "tsm_tf.export.qat_worker", str(job_path), str(out_path)],
            env=_child_env(), stdout=None if verbose else subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, check=False,
        )
        if result.returncode != 0 or not out_path.is_file():
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            errors = [line for line in lines if line.startswith(ERROR_PREFIX)]
            if errors:  # an expected failure: its one-line message
                raise ValueError(f"QAT of {model_path} failed: {errors[-1][len(ERROR_PREFIX):]}")
            tail = "\n".join(lines[-STDERR_TAIL_LINES:])
            raise ValueError(f"QAT of {model_path} failed (exit {result.returncode}):\n{tail}")
        return out_path.read_bytes()

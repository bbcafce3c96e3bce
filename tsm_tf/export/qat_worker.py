"""The quantization-aware training job, run in its own process by ``tsm_tf.export.qat``.

tfmot needs tf_keras, and ``TF_USE_LEGACY_KERAS=1`` must be set before TensorFlow is imported,
so the job runs here, never in the caller's process::

    TF_USE_LEGACY_KERAS=1 python -m tsm_tf.export.qat_worker JOB.json OUT.tflite

``JOB.json`` holds ``convert_qat``'s arguments. Expected failures (bad data, bad model) end
with one line ``tsm_tf.qat error: ...`` on stderr and exit code 2.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from tsm_tf.export.qat import ERROR_PREFIX  # noqa: E402

EXIT_ERROR = 2


_STARTED = time.perf_counter()


def _say(message: str, verbose: bool) -> None:
    if verbose:
        print(f"[qat {time.perf_counter() - _STARTED:6.1f} s] {message}", flush=True)


def training_data(data: dict, config: dict, *, batch_size: int, training: bool, seed: int):
    """``build_dataset`` on the job's clips, at the model's frames and input size."""
    from tsm_tf.data.pipeline import build_dataset
    from tsm_tf.data.registry import get_dataset_spec

    kwargs = dict(data)
    height, width = config["input_size"]
    if height != width:
        raise ValueError(f"QAT data needs a square input; the model takes {height}x{width}.")
    overrides = {k: kwargs.pop(k) for k in ("frame_template", "num_classes") if k in kwargs}
    kwargs["dataset"] = get_dataset_spec(kwargs.get("dataset", "synthetic"), **overrides)
    kwargs.update(num_segments=config["num_segments"], input_size=height,
                  batch_size=batch_size, training=training, seed=seed, deterministic=True,
                  on_error="raise")
    return build_dataset(**kwargs)


def calibration_clips(data: dict, config: dict, num_calib: int) -> np.ndarray:
    """``num_calib`` training clips, evaluation transforms: ``[num_calib, T, H, W, 3]``."""
    dataset = training_data(data, config, batch_size=1, training=False, seed=0)
    clips = [np.asarray(clip) for clip, _ in dataset.take(num_calib)]
    if len(clips) < num_calib:
        raise ValueError(f"Calibration needs {num_calib} clips; the training list "
                         f"{data.get('list_file')!r} has {len(clips)}.")
    return np.concatenate(clips)


def fine_tune(qat_model, data: dict, config: dict, job: dict) -> dict:
    """Train ``qat_model`` for ``job['epochs']`` epochs; return the last epoch's metrics."""
    import tf_keras

    if job["epochs"] == 0:
        return {}
    dataset = training_data(data, config, batch_size=job["batch_size"], training=True,
                            seed=job["seed"])
    if dataset.steps_per_epoch < 1:
        raise ValueError(f"QAT needs at least batch_size={job['batch_size']} training clips; "
                         f"{data.get('list_file')!r} has {dataset.num_samples}.")
    qat_model.compile(
        optimizer=tf_keras.optimizers.Adam(job["learning_rate"]),
        loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = qat_model.fit(dataset.repeat(), epochs=job["epochs"],
                            steps_per_epoch=dataset.steps_per_epoch,
                            verbose=2 if job["verbose"] else 0)
    return {name: float(values[-1]) for name, values in history.history.items()}


def run(job: dict, out_path: str) -> None:
    import keras
    import tf_keras

    from tsm_tf.export.tfkeras import translate_model
    from tsm_tf.export.tfkeras.convert import convert_quantized
    from tsm_tf.export.tfkeras.quantize import (
        calibrate_ranges,
        copy_quantized_weights,
        freeze_batch_norm,
        quantize_scope,
        quantize_translated,
    )
    from tsm_tf.io_utils import atomic_write_bytes
    from tsm_tf.models import TSM, StreamingTSM

    verbose = job["verbose"]
    tf_keras.utils.set_random_seed(job["seed"])
    model = keras.saving.load_model(job["model_path"], compile=False)
    if not isinstance(model, TSM):
        raise ValueError(f"{job['model_path']}: expected an offline tsm_tf TSM model, "
                         f"got {type(model).__name__}.")
    config = model.tsm_config
    if job["mode"] == "streaming":
        StreamingTSM.from_model(model)  # refuses bi-directional models before any training
    _say(f"translating {model.name} to tf_keras and inserting fake quantization", verbose)
    with quantize_scope():
        qat_model = quantize_translated(freeze_batch_norm(translate_model(model)))
        clips = calibration_clips(job["data"], config, job["num_calib"])
        _say(f"calibrating activation ranges on {len(clips)} training clips", verbose)
        calibrate_ranges(qat_model, [clips[i:i + 8] for i in range(0, len(clips), 8)])
        _say(f"fine-tuning for {job['epochs']} epoch(s)", verbose)
        fine_tune(qat_model, job["data"], config, job)
        if job["mode"] == "offline":
            target = qat_model
        else:
            streaming = StreamingTSM.from_model(model, frames_per_step=job["frames_per_step"])
            target = quantize_translated(translate_model(streaming))
            copy_quantized_weights(qat_model, target)
        _say(f"converting ({job['mode']}, {job['io_type']} I/O)", verbose)
        flatbuffer = convert_quantized(target, io_type=job["io_type"])
    atomic_write_bytes(out_path, flatbuffer)
    _say(f"wrote {len(flatbuffer):,} bytes", verbose)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m tsm_tf.export.qat_worker JOB.json OUT.tflite", file=sys.stderr)
        return EXIT_ERROR
    with open(argv[0]) as handle:
        job = json.load(handle)
    try:
        run(job, argv[1])
    except (ValueError, OSError) as error:
        message = " ".join(str(error).split())
        print(f"{ERROR_PREFIX}{type(error).__name__}: {message}", file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())

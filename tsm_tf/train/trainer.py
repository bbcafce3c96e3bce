"""The training loop: ``train(config) -> result dict``.

One ``model.fit`` call per epoch (the compiled step function is reused), with epoch ``e``'s
data order and augmentation drawn from ``(seed, e)``: a resumed run sees the same data as an
uninterrupted one. After each epoch the chief writes the training-state checkpoint, ``last.keras``,
``best.keras`` (if the validation top-1 improved), ``metrics.csv`` and ``curves.png``.

Example:
    >>> from tsm_tf.train import TrainConfig, train
    >>> result = train(TrainConfig(output_dir="runs/demo", epochs=2))
    >>> result["best_val_accuracy"]
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from tsm_tf.io_utils import save_model_atomic
from tsm_tf.train.checkpoint import (
    check_output_dir,
    clear_run,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    plot_curves,
    read_checkpoint_state,
    remove_stale_temp_files,
    save_checkpoint,
    write_metrics_csv,
)
from tsm_tf.train.config import TrainConfig, resolve_config, synthetic_root, write_yaml_config
from tsm_tf.train.init_weights import ClassMismatchError, class_mismatch_message

log = logging.getLogger("tsm_tf.train")

KEEP_CHECKPOINTS = 3  # training-state checkpoints kept (the newest); best/last.keras always
# Fields that must match between a checkpoint and the run resuming it.
ARCH_FIELDS = ("arch", "num_segments", "shift", "shift_div", "shift_place", "temporal_pool",
               "non_local", "input_size")


class TrainingDivergedError(RuntimeError):
    """The loss became NaN/inf; the last good checkpoint is kept."""

    def __init__(self, message: str, epoch: int, step: int, checkpoint: str | None):
        super().__init__(message)
        self.epoch, self.step, self.checkpoint = epoch, step, checkpoint


def _fit_verbosity(verbose: int) -> int:
    """Keras' progress bar redraws one line; in a log file or pipe that is one endless line
    of bars, so there it becomes one line per epoch (notebooks draw the bar fine)."""
    if verbose != 1 or "ipykernel" in sys.modules:
        return verbose
    isatty = getattr(sys.stdout, "isatty", None)
    return 1 if isatty is not None and isatty() else 2


def _say(msg: str, verbose: int) -> None:
    if verbose:
        print(f"[tsm_tf.train] {msg}", file=sys.stderr, flush=True)


def prepare_synthetic(cfg: TrainConfig, chief: bool) -> TrainConfig:
    """Default the synthetic set's root and lists; generate it (once, cached) if missing."""
    if cfg.dataset != "synthetic" or (cfg.train_list and cfg.val_list):
        return cfg
    root = synthetic_root(cfg.root)
    meta = root / "meta.json"
    complete = meta.exists() and '"complete": true' in meta.read_text()
    if not complete:
        if not chief:
            raise RuntimeError(f"Synthetic data missing in {root}; in multi-worker runs generate "
                               f"it first (python -m tsm_tf.data.synthetic --out {root}) and "
                               "pass --root.")
        from tsm_tf.data.synthetic import generate_synthetic_dataset

        _say(f"generating the synthetic dataset in {root} (once)", cfg.verbose)
        generate_synthetic_dataset(root, verbose=bool(cfg.verbose))
    return dataclasses.replace(cfg, root=str(root), train_list=cfg.train_list or
                               str(root / "train.txt"), val_list=cfg.val_list or
                               str(root / "val.txt"))


def _steps_per_epoch(num_clips: int, global_batch: int, strategy) -> int:
    """Steps every worker can take: shards are clips i, i+W, ...; each step takes one
    per-replica batch for each local replica."""
    from tsm_tf.train.distribute import num_replicas

    replicas = num_replicas(strategy)
    workers = max(1, getattr(strategy.extended, "_num_workers", 1) or 1)
    local = max(1, replicas // workers)
    per_replica = global_batch // replicas
    steps = min(len(range(i, num_clips, workers)) // per_replica // local for i in range(workers))
    if steps < 1:
        raise ValueError(f"{num_clips} training clips are fewer than one global batch "
                         f"({global_batch}); lower --batch-size.")
    return steps


def _check_resume(state: dict, cfg: TrainConfig, path: Path) -> None:
    old = state["config"]
    if old["num_classes"] != cfg.num_classes:
        raise ClassMismatchError(class_mismatch_message(
            path, old["num_classes"], cfg.num_classes, cfg.dataset, resuming=True))
    diff = [f"{k}: {old.get(k)!r} -> {getattr(cfg, k)!r}" for k in ARCH_FIELDS
            if old.get(k) != getattr(cfg, k)]
    if diff:
        raise ValueError(f"--resume: {path} was trained with another model ({'; '.join(diff)}). "
                         "Use the same model flags, or start a new run with --output-dir.")


def _apply_partial_bn(model) -> list[str]:
    """Freeze every BatchNorm but the first (inference statistics, fixed gamma/beta): the
    reference's partial BN for fine-tuning on small datasets."""
    import keras

    # The non-local blocks' output BN (gamma 0 at start) is not part of the backbone's BN
    # stack the reference freezes (it counts BatchNorm2d only): it stays trainable.
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
           and not layer.name.endswith("_nl_W_1")]
    for layer in bns[1:]:
        layer.trainable = False
    return [layer.name for layer in bns[1:]]


def _set_sync_bn(model, on: bool) -> None:
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = on


def _rank1_step_logs(model) -> None:
    """Keras 3.15 reduces a multi-worker step's logs with ``strategy.reduce("MEAN", v, axis=0)``,
    which fails on scalars: return each log as a 1-element vector (the reduce then averages
    the replicas' values, as intended)."""
    import tensorflow as tf

    def wrap(step):
        def rank1_step(data):
            return {k: tf.reshape(v, [1]) for k, v in step(data).items()}
        return rank1_step

    model.train_step = wrap(model.train_step)
    model.test_step = wrap(model.test_step)


def _model_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    return dict(arch=cfg.arch, num_classes=cfg.num_classes, num_segments=cfg.num_segments,
                shift=cfg.shift, shift_div=cfg.shift_div, shift_place=cfg.shift_place,
                temporal_pool=cfg.temporal_pool, non_local=cfg.non_local,
                dropout=cfg.dropout, input_size=cfg.input_size)


def train(config: TrainConfig | dict[str, Any]) -> dict[str, Any]:
    """Train a TSM/TSN model; return a summary.

    Returns a dict with ``output_dir``, ``best_val_accuracy``, ``best_epoch``,
    ``final_val_accuracy``, ``epochs_run`` (epochs trained by this call), ``start_epoch``,
    ``history`` (one dict per epoch), ``seconds``, ``best_model``, ``last_model``, ``config``.

    Raises ``ValueError`` for bad configuration, ``RunDirError`` for an output dir holding
    another run, ``ClassMismatchError``, ``TrainingDivergedError`` (NaN loss).
    """
    if isinstance(config, dict):
        config = TrainConfig(**config)
    cfg = resolve_config(config)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from tsm_tf.data.pipeline import build_dataset, dataset_size
    from tsm_tf.models.tsm import TSM
    from tsm_tf.train.callbacks import NanGuard, ProgressExtras, StopAfterOneEpoch, current_lr
    from tsm_tf.train.distribute import (
        distribute_dataset,
        is_chief,
        make_strategy,
        num_replicas,
        worker_index,
    )
    from tsm_tf.train.init_weights import load_initial_weights
    from tsm_tf.train.optimizer import make_optimizer, parameter_policy
    from tsm_tf.train.schedule import WarmupSchedule

    t_start = time.perf_counter()
    strategy = make_strategy(cfg.distribute)
    chief = is_chief(strategy)
    verbose = cfg.verbose if chief else 0
    out = Path(cfg.output_dir)
    if chief:
        check_output_dir(out, resume=cfg.resume, overwrite=cfg.overwrite)
    cfg = prepare_synthetic(cfg, chief)

    # --- resume: find the checkpoint and check it matches before building anything
    ckpt_path = latest_checkpoint(out) if cfg.resume else None
    state: dict[str, Any] = {}
    if ckpt_path is not None:
        state = read_checkpoint_state(ckpt_path)
        _check_resume(state, cfg, ckpt_path)
    elif cfg.resume:
        _say(f"--resume: no checkpoint in {out}, starting from scratch", verbose)
    if chief and cfg.overwrite and ckpt_path is None:
        clear_run(out)
    out.mkdir(parents=True, exist_ok=True)
    if chief:
        remove_stale_temp_files(out)
        write_yaml_config(cfg, out / "config.yaml")

    # --- data
    global_batch = int(cfg.batch_size)
    replicas = num_replicas(strategy)
    if global_batch % replicas:
        raise ValueError(f"--batch-size {global_batch} (global) must be divisible by the "
                         f"{replicas} replicas.")
    num_train = dataset_size(cfg.dataset if cfg.dataset != "custom" else _spec(cfg),
                             cfg.root, cfg.train_list, training=True)
    steps = _steps_per_epoch(num_train, global_batch, strategy)
    if cfg.steps_per_epoch:
        steps = min(steps, int(cfg.steps_per_epoch))
    spec = _spec(cfg)

    def train_data(epoch: int):
        def make(ctx):
            # Rebuilt every epoch with seed (seed, epoch); repeat() so that fit never sees
            # the end of the data inside its `steps` steps.
            return build_dataset(
                spec, cfg.root, cfg.train_list, num_segments=cfg.num_segments,
                input_size=cfg.input_size, batch_size=global_batch, training=cfg.augment,
                shuffle=cfg.shuffle, drop_remainder=True, seed=cfg.seed * 100003 + epoch,
                deterministic=True, input_context=ctx).repeat()
        return distribute_dataset(strategy, make, global_batch)

    def make_val(ctx):
        return build_dataset(
            spec, cfg.root, cfg.val_list, num_segments=cfg.num_segments,
            input_size=cfg.input_size, batch_size=global_batch, training=False, shuffle=False,
            drop_remainder=replicas > 1, seed=cfg.seed, deterministic=True, input_context=ctx)

    val_data = distribute_dataset(strategy, make_val, global_batch) if cfg.val_list else None
    val_steps = None
    if val_data is not None:
        num_val = dataset_size(spec, cfg.root, cfg.val_list, training=False)
        val_steps = (_steps_per_epoch(num_val, global_batch, strategy) if replicas > 1
                     else -(-num_val // global_batch))

    # --- model and optimizer
    keras.utils.set_random_seed(cfg.seed)
    policy_before = keras.config.dtype_policy()
    if cfg.mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")
    try:
        with strategy.scope():
            model = TSM(**_model_kwargs(cfg))
            if cfg.weights and ckpt_path is None:
                info = load_initial_weights(model, cfg.weights, dataset=cfg.dataset,
                                            reset_classifier=cfg.reset_classifier)
                _say(f"initialised {len(info['loaded'])} layers from {cfg.weights} "
                     f"(new: {', '.join(info['skipped']) or 'none'})", verbose)
            if cfg.partial_bn:
                frozen = _apply_partial_bn(model)
                _say(f"partial BN: {len(frozen)} BatchNorm layers frozen", verbose)
            sync_bn = cfg.sync_bn if cfg.sync_bn is not None else replicas > 1
            _set_sync_bn(model, bool(sync_bn))
            schedule = WarmupSchedule(cfg.lr, steps, cfg.epochs, cfg.lr_schedule,
                                      cfg.lr_steps, warmup_epochs=cfg.warmup_epochs)
            optimizer = make_optimizer(
                cfg.optimizer, schedule, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                policy=parameter_policy(model, fc_lr5=bool(cfg.fc_lr5)),
                clip_grad_norm=cfg.clip_grad_norm)
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
            if cfg.num_classes > 5:
                metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5"))
            model.compile(optimizer=optimizer,
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          metrics=metrics)
            model.optimizer.build(model.trainable_variables)
            if ckpt_path is not None:
                load_checkpoint(ckpt_path, model, model.optimizer)
    finally:
        keras.config.set_dtype_policy(policy_before)
    export_model = TSM(**_model_kwargs(cfg))  # float32, unfrozen: what best/last.keras hold

    history: list[dict[str, Any]] = list(state.get("history", []))
    start_epoch = int(state.get("epoch", 0))
    best = state.get("best", {"val_accuracy": -1.0, "epoch": 0})
    if ckpt_path is not None:
        _say(f"resuming from {ckpt_path} (epoch {start_epoch}, step "
             f"{int(model.optimizer.iterations.numpy())})", verbose)
    _say(f"{cfg.model_name} on {cfg.dataset}: {num_train} clips, {steps} steps/epoch, "
         f"global batch {global_batch} on {replicas} replica(s), lr {cfg.lr:g} "
         f"({cfg.optimizer}, {cfg.lr_schedule}), epochs {start_epoch + 1}..{cfg.epochs} -> {out}",
         verbose)

    work_dir = out if chief else out / f".worker{worker_index(strategy)}"
    progress = ProgressExtras(global_batch)
    guard = NanGuard()
    callbacks: list = [progress, guard, StopAfterOneEpoch()]
    if chief:
        callbacks.append(keras.callbacks.TensorBoard(
            str(out / "tensorboard"), update_freq="epoch", write_graph=False, profile_batch=0))

    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        # Keras 3.15's eager "symbolic build" at the start of fit() reduces a data batch with
        # strategy.reduce, which fails on multi-worker PerReplica values. Without a stored
        # strategy Keras builds inside the traced step instead; fit() then runs in the
        # strategy's scope (below), which is where Keras looks it up.
        model._distribute_strategy = None
        _rank1_step_logs(model)

    for epoch in range(start_epoch, cfg.epochs):
        with strategy.scope():
            fit = model.fit(
                train_data(epoch), epochs=cfg.epochs, initial_epoch=epoch,
                steps_per_epoch=steps, validation_data=val_data, validation_steps=val_steps,
                callbacks=callbacks, verbose=_fit_verbosity(verbose), shuffle=False,
            )
        if guard.bad_step is not None:
            last = latest_checkpoint(out)
            raise TrainingDivergedError(
                f"Loss became NaN/inf at epoch {epoch + 1}, step {guard.bad_step + 1} "
                f"(global step {epoch * steps + guard.bad_step + 1}); training stopped. "
                f"Last good checkpoint: {last or 'none (diverged in the first epoch)'}. "
                "Lower --lr, keep --clip-grad-norm (e.g. 20), or check the input data.",
                epoch + 1, guard.bad_step + 1, str(last) if last else None)
        row: dict[str, Any] = {"epoch": epoch + 1}
        row.update({k: float(v[-1]) for k, v in fit.history.items()})
        row["lr"] = current_lr(model.optimizer)
        row["clips_per_s"] = round(progress.clips_per_s, 2)
        row["epoch_seconds"] = round(progress.seconds, 2)
        history.append(row)
        val_acc = row.get("val_accuracy", row.get("accuracy", 0.0))
        improved = val_acc > best["val_accuracy"]
        if improved:
            best = {"val_accuracy": val_acc, "epoch": epoch + 1}
        # Every worker computes the same values; only the chief writes.
        if chief:
            export_model.set_weights(model.get_weights())
            if improved:
                save_model_atomic(export_model, out / "best.keras")
            save_model_atomic(export_model, out / "last.keras")
            new_state = {"epoch": epoch + 1, "step": int(model.optimizer.iterations.numpy()),
                         "best": best, "history": history, "config": cfg.to_dict()}
            save_checkpoint(out / "checkpoints" / f"epoch_{epoch + 1:03d}.npz", model,
                            model.optimizer, new_state)
            for _, old in list_checkpoints(out)[:-KEEP_CHECKPOINTS]:
                old.unlink()
            write_metrics_csv(out / "metrics.csv", history)
            plot_curves(out / "curves.png", history)
        else:
            work_dir.mkdir(parents=True, exist_ok=True)

    final = history[-1] if history else {}
    result = {
        "output_dir": str(out),
        "best_val_accuracy": best["val_accuracy"],
        "best_epoch": best["epoch"],
        "final_val_accuracy": final.get("val_accuracy"),
        "final_train_accuracy": final.get("accuracy"),
        "start_epoch": start_epoch,
        "epochs_run": cfg.epochs - start_epoch,
        "history": history,
        "seconds": time.perf_counter() - t_start,
        "best_model": str(out / "best.keras"),
        "last_model": str(out / "last.keras"),
        "config": cfg.to_dict(),
        "model": model,
    }
    _say(f"done: best val top-1 {100 * best['val_accuracy']:.1f}% (epoch {best['epoch']}), "
         f"{result['seconds']:.0f}s", verbose)
    return result


def _spec(cfg: TrainConfig):
    from tsm_tf.data.registry import get_dataset_spec

    if cfg.dataset == "custom":
        return get_dataset_spec("custom", num_classes=cfg.num_classes,
                                frame_template=cfg.frame_template or "img_{:05d}.jpg")
    return get_dataset_spec(cfg.dataset)

"""The training loop: ``train(config) -> result dict``.

``train`` runs four named steps: resolve (config, run folder, data sizes, resume point),
build (memory check, model, initial weights or checkpoint, optimizer), run (one ``model.fit``
per epoch, the compiled step reused) and report (the summary dict).

Epoch ``e``'s data order and augmentation are drawn from ``(seed, e)``: a resumed run sees the
same data as an uninterrupted one, also from inside an epoch (the steps already done are
skipped). After each epoch the chief writes the training-state checkpoint, ``last.keras``,
``best.keras`` (if the validation top-1 improved), ``metrics.csv`` and ``curves.png``; with
``save_every_steps`` also a mid-epoch checkpoint every N optimizer steps.

Example (needs a dataset or a model, so not run as a doctest)::
    from tsm_tf.train import TrainConfig, train
    result = train(TrainConfig(output_dir="runs/demo", epochs=2))
    result["best_val_accuracy"]
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tsm_tf import compat
from tsm_tf.io_utils import save_model_atomic
from tsm_tf.train.checkpoint import (
    ResumeWarning,
    check_output_dir,
    clear_run,
    latest_checkpoint,
    load_checkpoint,
    plot_curves,
    prune_checkpoints,
    read_checkpoint_state,
    remove_stale_temp_files,
    save_checkpoint,
    step_checkpoint_path,
    write_metrics_csv,
)
from tsm_tf.train.config import (
    TrainConfig,
    model_kwargs,
    resolve_config,
    synthetic_root,
    write_yaml_config,
)
from tsm_tf.train.data import explain_data_loss, steps_per_epoch, worker_clip_counts
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



@dataclass
class _Run:
    """What the named steps of :func:`train` share."""

    cfg: TrainConfig
    strategy: Any
    chief: bool
    verbose: int
    out: Path
    t_start: float
    spec: Any = None
    replicas: int = 1
    local_replicas: int = 1
    micro_batch: int = 0  # global clips per fit step: --batch-size / --accum-steps
    steps: int = 0  # fit steps (micro-batches) per epoch
    num_train: int = 0
    val_steps: int | None = None
    ckpt_path: Path | None = None
    state: dict[str, Any] = field(default_factory=dict)
    model: Any = None
    export_model: Any = None
    memory: Any = None
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=lambda: {"val_accuracy": -1.0, "epoch": 0})
    start_epoch: int = 0
    skip: int = 0  # micro-batches of start_epoch done before a mid-epoch checkpoint


def train(config: TrainConfig | dict[str, Any]) -> dict[str, Any]:
    """Train a TSM/TSN model; return a summary.

    Returns a dict with ``output_dir``, ``best_val_accuracy``, ``best_epoch``,
    ``final_val_accuracy``, ``epochs_run`` (epochs trained by this call), ``start_epoch``,
    ``history`` (one dict per epoch), ``seconds``, ``best_model``, ``last_model``, ``config``,
    ``memory_estimate`` (bytes, None with ``memory_check=False``), ``model``.

    Raises ``ValueError`` for bad configuration, ``RunDirError`` for an output dir holding
    another run, ``ClassMismatchError`` / ``WeightsMismatchError`` (``--weights``),
    ``MemoryError`` (the run would not fit in memory), ``TrainingDivergedError`` (NaN loss).
    """
    run = _resolve(config)
    _build(run)
    _run_epochs(run)
    return _report(run)


# --- step 1: resolve the configuration, the run folder, the data sizes and the resume point
def _resolve(config: TrainConfig | dict[str, Any]) -> _Run:
    if isinstance(config, dict):
        config = TrainConfig(**config)
    cfg = resolve_config(config)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tsm_tf.train.distribute import is_chief, make_strategy, num_replicas, num_workers

    t_start = time.perf_counter()
    strategy = make_strategy(cfg.distribute)
    chief = is_chief(strategy)
    run = _Run(cfg=cfg, strategy=strategy, chief=chief, verbose=cfg.verbose if chief else 0,
               out=Path(cfg.output_dir), t_start=t_start)
    if chief:
        check_output_dir(run.out, resume=cfg.resume, overwrite=cfg.overwrite)
    run.cfg = cfg = prepare_synthetic(cfg, chief)
    run.spec = _spec(cfg)
    if cfg.flip_label_map and not cfg.flip:
        _say(f"--flip-label-map {cfg.flip_label_map} is unused: flipping is off (--flip turns "
             "it on)", run.verbose)

    # resume: find the checkpoint and check it matches before building anything
    run.ckpt_path = latest_checkpoint(run.out) if cfg.resume else None
    if run.ckpt_path is not None:
        run.state = read_checkpoint_state(run.ckpt_path)
        _check_resume(run.state, cfg, run.ckpt_path)
    elif cfg.resume:
        _say(f"--resume: no checkpoint in {run.out}, starting from scratch", run.verbose)
    if chief and cfg.overwrite and run.ckpt_path is None:
        clear_run(run.out)
    run.out.mkdir(parents=True, exist_ok=True)
    if chief:
        remove_stale_temp_files(run.out)
        write_yaml_config(cfg, run.out / "config.yaml")

    # data sizes: each step takes one per-replica batch per local replica on every worker
    run.replicas = num_replicas(strategy)
    workers = num_workers(strategy)
    run.local_replicas = max(1, run.replicas // workers)
    run.micro_batch = int(cfg.batch_size) // int(cfg.accum_steps)
    if run.micro_batch % run.replicas:
        raise ValueError(f"--batch-size {cfg.batch_size} / --accum-steps {cfg.accum_steps} = "
                         f"{run.micro_batch} clips per step must be divisible by the "
                         f"{run.replicas} replicas.")
    per_step = run.micro_batch // run.replicas * run.local_replicas  # clips per worker step
    counts = worker_clip_counts(run.spec, cfg.root, cfg.train_list, workers, training=True)
    run.num_train = sum(counts)
    run.steps = steps_per_epoch(counts, per_step)
    if cfg.steps_per_epoch:  # a cap on optimizer steps
        run.steps = min(run.steps, int(cfg.steps_per_epoch) * cfg.accum_steps)
    run.steps -= run.steps % cfg.accum_steps  # whole optimizer steps per epoch
    if run.steps < 1:
        raise ValueError(f"{run.num_train} training clips are fewer than one global batch "
                         f"({cfg.batch_size}); lower --batch-size.")
    if cfg.val_list:
        if run.replicas > 1:
            run.val_steps = steps_per_epoch(worker_clip_counts(
                run.spec, cfg.root, cfg.val_list, workers, training=False), per_step)
        else:
            num_val = sum(worker_clip_counts(run.spec, cfg.root, cfg.val_list, 1, False))
            run.val_steps = -(-num_val // run.micro_batch)
    _resume_point(run)
    return run


def _resume_point(run: _Run) -> None:
    """Epoch, batch, history and best accuracy to continue from; warn where a resumed run
    cannot equal an uninterrupted one."""
    state = run.state
    run.history = list(state.get("history", []))
    run.best = state.get("best", run.best)
    run.start_epoch = int(state.get("epoch", 0))
    run.skip = int(state.get("epoch_step", 0))
    saved_steps = state.get("steps_per_epoch")
    if saved_steps is not None and int(saved_steps) != run.steps:
        _warn(f"{run.ckpt_path} was written with {saved_steps} steps per epoch, the data and "
              f"flags now give {run.steps}: the data order and the lr schedule's epoch "
              "boundaries differ from the original run.")
        if run.skip >= run.steps:
            run.start_epoch, run.skip = run.start_epoch + 1, 0
    if run.skip:
        _warn(f"resuming inside epoch {run.start_epoch + 1} after batch {run.skip} of "
              f"{run.steps}: weights, optimizer, lr schedule and data order continue exactly, "
              "but that epoch's training loss/accuracy in metrics.csv average only its "
              f"remaining {run.steps - run.skip} batches.")


# --- step 2: build the model, load initial weights or the checkpoint, the optimizer
def _build(run: _Run) -> None:
    import keras

    from tsm_tf.models.tsm import TSM
    from tsm_tf.train.init_weights import describe_load, load_initial_weights
    from tsm_tf.train.optimizer import make_optimizer, parameter_policy
    from tsm_tf.train.schedule import WarmupSchedule

    cfg, strategy = run.cfg, run.strategy
    if cfg.memory_check:
        from tsm_tf.train.memory import check_memory

        run.memory = check_memory(
            model_kwargs(cfg), global_batch=int(cfg.batch_size), replicas=run.replicas,
            accum_steps=int(cfg.accum_steps), optimizer=cfg.optimizer,
            mixed_precision=cfg.mixed_precision)
    keras.utils.set_random_seed(cfg.seed)
    policy_before = keras.config.dtype_policy()
    if cfg.mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")
    try:
        with strategy.scope():
            model = TSM(**model_kwargs(cfg))
            if cfg.weights and run.ckpt_path is None:
                report = load_initial_weights(model, cfg.weights, dataset=cfg.dataset,
                                              reset_classifier=cfg.reset_classifier,
                                              allow_partial=cfg.allow_partial or ())
                _say(describe_load(cfg.weights, report), run.verbose)
            if cfg.partial_bn:
                frozen = _apply_partial_bn(model)
                _say(f"partial BN: {len(frozen)} BatchNorm layers frozen", run.verbose)
            sync_bn = cfg.sync_bn if cfg.sync_bn is not None else run.replicas > 1
            _set_sync_bn(model, bool(sync_bn))
            # The schedule counts micro-steps (Keras' accumulation), so an epoch is run.steps.
            schedule = WarmupSchedule(cfg.lr, run.steps, cfg.epochs, cfg.lr_schedule,
                                      cfg.lr_steps, warmup_epochs=cfg.warmup_epochs)
            optimizer = make_optimizer(
                cfg.optimizer, schedule, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                policy=parameter_policy(model, fc_lr5=bool(cfg.fc_lr5)),
                clip_grad_norm=cfg.clip_grad_norm, accum_steps=int(cfg.accum_steps))
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
            if cfg.num_classes > 5:
                metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5"))
            model.compile(optimizer=optimizer,
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          metrics=metrics)
            model.optimizer.build(model.trainable_variables)
            if run.ckpt_path is not None:
                load_checkpoint(run.ckpt_path, model, model.optimizer)
    finally:
        keras.config.set_dtype_policy(policy_before)
    run.model = model
    run.export_model = TSM(**model_kwargs(cfg))  # float32, unfrozen: what best/last.keras hold
    if run.ckpt_path is not None:
        _say(f"resuming from {run.ckpt_path} (epoch {run.start_epoch}, batch {run.skip}, step "
             f"{_updates(model)})", run.verbose)
    mem = (f", memory estimate {run.memory.describe()}" if run.memory is not None else "")
    accum = f" in {cfg.accum_steps} steps of {run.micro_batch}" if cfg.accum_steps > 1 else ""
    _say(f"{cfg.model_name} on {cfg.dataset}: {run.num_train} clips, {run.steps} steps/epoch, "
         f"global batch {cfg.batch_size}{accum} on {run.replicas} replica(s), lr {cfg.lr:g} "
         f"({cfg.optimizer}, {cfg.lr_schedule}), flip {'on' if cfg.flip else 'off'}, epochs "
         f"{run.start_epoch + 1}..{cfg.epochs}{mem} -> {run.out}", run.verbose)


# --- step 3: one fit() per epoch, checkpoints after epochs and every N steps
def _run_epochs(run: _Run) -> None:
    import keras
    import tensorflow as tf

    from tsm_tf.train.callbacks import (
        EveryNSteps,
        NanGuard,
        ProgressExtras,
        StopAfterOneEpoch,
        current_lr,
    )
    from tsm_tf.train.distribute import distribute_dataset, worker_index

    cfg, strategy, model = run.cfg, run.strategy, run.model
    val_data = (distribute_dataset(strategy, lambda ctx: _dataset(run, ctx, cfg.val_list),
                                   run.micro_batch) if cfg.val_list else None)
    progress = ProgressExtras(run.micro_batch)
    guard = NanGuard()
    callbacks: list = [progress, guard, StopAfterOneEpoch()]
    saver = None
    if cfg.save_every_steps:
        saver = EveryNSteps(int(cfg.save_every_steps), int(cfg.accum_steps), run.steps,
                            lambda epoch, done: _save_state(run, epoch, done))
        callbacks.append(saver)
    if run.chief:
        callbacks.append(keras.callbacks.TensorBoard(
            str(run.out / "tensorboard"), update_freq="epoch", write_graph=False,
            profile_batch=0))
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        compat.detach_model_strategy(model)
        compat.rank1_step_logs(model)

    for epoch in range(run.start_epoch, cfg.epochs):
        skip = run.skip if epoch == run.start_epoch else 0
        if saver is not None:
            saver.offset = skip
        train_data = distribute_dataset(
            strategy, lambda ctx, e=epoch, k=skip: _dataset(run, ctx, cfg.train_list, e, k),
            run.micro_batch)
        try:
            with strategy.scope():
                fit = model.fit(
                    train_data, epochs=cfg.epochs, initial_epoch=epoch,
                    steps_per_epoch=run.steps - skip, validation_data=val_data,
                    validation_steps=run.val_steps, callbacks=callbacks,
                    verbose=_fit_verbosity(run.verbose), shuffle=False)
        except tf.errors.DataLossError as e:
            raise explain_data_loss(e, cfg.train_list, cfg.val_list) from e
        if guard.bad_step is not None:
            last = latest_checkpoint(run.out)
            step = skip + guard.bad_step
            raise TrainingDivergedError(
                f"Loss became NaN/inf at epoch {epoch + 1}, step {step + 1} "
                f"(global step {epoch * run.steps + step + 1}); training stopped. "
                f"Last good checkpoint: {last or 'none (diverged in the first epoch)'}. "
                "Lower --lr, keep --clip-grad-norm (e.g. 20), or check the input data.",
                epoch + 1, step + 1, str(last) if last else None)
        row: dict[str, Any] = {"epoch": epoch + 1}
        row.update({k: float(v[-1]) for k, v in fit.history.items()})
        row["lr"] = current_lr(model.optimizer)
        row["clips_per_s"] = round(progress.clips_per_s, 2)
        row["epoch_seconds"] = round(progress.seconds, 2)
        run.history.append(row)
        val_acc = row.get("val_accuracy", row.get("accuracy", 0.0))
        improved = val_acc > run.best["val_accuracy"]
        if improved:
            run.best = {"val_accuracy": val_acc, "epoch": epoch + 1}
        # Every worker computes the same values; only the chief writes.
        if run.chief:
            run.export_model.set_weights(model.get_weights())
            if improved:
                save_model_atomic(run.export_model, run.out / "best.keras")
            save_model_atomic(run.export_model, run.out / "last.keras")
            _save_state(run, epoch + 1, 0)
            write_metrics_csv(run.out / "metrics.csv", run.history)
            plot_curves(run.out / "curves.png", run.history)
        else:
            (run.out / f".worker{worker_index(strategy)}").mkdir(parents=True, exist_ok=True)


def _dataset(run: _Run, ctx, list_file: str, epoch: int | None = None, skip: int = 0):
    """Training data of ``epoch`` (seed ``(seed, epoch)``, the first ``skip`` steps left out,
    repeated so that fit never sees its end), or the validation data (``epoch=None``)."""
    from tsm_tf.data.pipeline import build_dataset

    cfg = run.cfg
    common = dict(num_segments=cfg.num_segments, input_size=cfg.input_size,
                  batch_size=run.micro_batch, deterministic=True, input_context=ctx)
    if epoch is None:
        return build_dataset(run.spec, cfg.root, list_file, training=False, shuffle=False,
                             drop_remainder=run.replicas > 1, seed=cfg.seed, **common)
    ds = build_dataset(run.spec, cfg.root, list_file, training=cfg.augment,
                       shuffle=cfg.shuffle, drop_remainder=True,
                       seed=cfg.seed * 100003 + epoch, **common)
    # A worker's step takes one per-replica batch per local replica.
    return ds.skip(skip * run.local_replicas).repeat()


def _save_state(run: _Run, epoch: int, epoch_step: int) -> None:
    """Training-state checkpoint after ``epoch`` finished epochs and ``epoch_step``
    micro-batches of the next one (chief only)."""
    if not run.chief:
        return
    model = run.model
    step = _updates(model)
    state = {"epoch": epoch, "epoch_step": epoch_step, "step": step,
             "steps_per_epoch": run.steps, "best": run.best, "history": run.history,
             "config": run.cfg.to_dict()}
    path = (run.out / "checkpoints" / f"epoch_{epoch:03d}.npz" if epoch_step == 0
            else step_checkpoint_path(run.out, step))
    save_checkpoint(path, model, model.optimizer, state)
    prune_checkpoints(run.out, KEEP_CHECKPOINTS)


# --- step 4: the summary
def _report(run: _Run) -> dict[str, Any]:
    final = run.history[-1] if run.history else {}
    result = {
        "output_dir": str(run.out),
        "best_val_accuracy": run.best["val_accuracy"],
        "best_epoch": run.best["epoch"],
        "final_val_accuracy": final.get("val_accuracy"),
        "final_train_accuracy": final.get("accuracy"),
        "start_epoch": run.start_epoch,
        "epochs_run": run.cfg.epochs - run.start_epoch,
        "history": run.history,
        "seconds": time.perf_counter() - run.t_start,
        "best_model": str(run.out / "best.keras"),
        "last_model": str(run.out / "last.keras"),
        "config": run.cfg.to_dict(),
        "memory_estimate": run.memory.total if run.memory is not None else None,
        "model": run.model,
    }
    _say(f"done: best val top-1 {100 * run.best['val_accuracy']:.1f}% (epoch "
         f"{run.best['epoch']}), {result['seconds']:.0f}s", run.verbose)
    return result


def _updates(model) -> int:
    """Optimizer steps taken (micro-batches / accum-steps)."""
    import keras

    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def _warn(message: str) -> None:
    warnings.warn(message, ResumeWarning, stacklevel=3)


def _spec(cfg: TrainConfig):
    """The dataset spec with this run's class count, frame template and flip policy."""
    from tsm_tf.data.registry import get_dataset_spec
    from tsm_tf.train.flip import class_names_for, read_flip_label_map

    overrides: dict[str, Any] = {"allow_flip": bool(cfg.flip)}
    if cfg.dataset == "custom":
        overrides.update(num_classes=cfg.num_classes,
                         frame_template=cfg.frame_template or "img_{:05d}.jpg")
    if cfg.flip_label_map:
        overrides["flip_label_map"] = read_flip_label_map(
            cfg.flip_label_map, cfg.num_classes, class_names_for(cfg.dataset, cfg.root))
    return get_dataset_spec(cfg.dataset, **overrides)

"""Training configuration: the fields, their defaults, YAML files, and resolution against the
dataset's recipe.

A field left at ``None`` takes the value of the dataset's recipe (``tsm_tf.data.registry``,
the reference scripts' settings), refined by :data:`TRAINER_RECIPES` (the tiny from-scratch setup
of the embedded synthetic set). Precedence: command-line flag > ``--config`` YAML > recipe.

Example:
    >>> cfg = resolve_config(TrainConfig(dataset="ucf101", root="/data/ucf", train_list="a.txt",
    ...                                  val_list="b.txt", batch_size=32))
    >>> cfg.lr, cfg.partial_bn          # recipe lr 0.001 for batch 64, scaled to 32
    (0.0005, True)
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tsm_tf.common.paths import default_cache_dir, synthetic_root  # noqa: F401 (re-export)
from tsm_tf.common.validation import check_choice

_check_choice = functools.partial(check_choice, flag=True)  # messages name the --flag

OPTIMIZERS = ("sgd", "adam")
LR_SCHEDULES = ("step", "cosine")
SHIFT_CHOICES = ("bidirectional", "unidirectional", "none")
DISTRIBUTE_CHOICES = ("auto", "none", "mirrored", "multiworker")
PARTIAL_KINDS = ("missing", "unexpected", "shape")

# The embedded synthetic set is learnt from scratch by a tiny network: Adam, no pretraining.
# Tuned on a 2-core CPU so that the default run takes a few minutes (see the package docs).
# The schedule, batch and regularisation live in the dataset registry's recipe.
TRAINER_RECIPES: dict[str, dict[str, Any]] = {
    "synthetic": {
        "arch": "resnet_tiny", "input_size": 64, "num_segments": 8, "optimizer": "adam",
        "fc_lr5": False, "warmup_epochs": 0.0,
    },
}
GENERIC_RECIPE = {
    "arch": "resnet50", "input_size": 224, "num_segments": 8, "optimizer": "sgd",
    "fc_lr5": True, "warmup_epochs": None,
}


@dataclass
class TrainConfig:
    """Everything a training run depends on. ``None`` = take it from the dataset recipe."""

    # data
    dataset: str = "synthetic"
    root: str | None = None
    train_list: str | None = None
    val_list: str | None = None
    num_classes: int | None = None
    frame_template: str | None = None
    augment: bool = True
    shuffle: bool = True
    flip: bool | None = None  # random horizontal flip in training (None: the dataset's policy)
    flip_label_map: str | None = None  # file of class pairs swapped when a clip is flipped
    # model
    arch: str | None = None
    num_segments: int | None = None
    shift: str = "bidirectional"
    shift_div: int = 8
    shift_place: str = "blockres"
    temporal_pool: bool = False
    non_local: bool = False
    input_size: int | None = None
    dropout: float | None = None
    weights: str | None = None
    reset_classifier: bool = False
    allow_partial: list[str] | None = None  # --weights mismatches accepted (PARTIAL_KINDS)
    # optimisation
    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    lr_schedule: str | None = None
    lr_steps: list[float] | None = None
    warmup_epochs: float | None = None
    momentum: float = 0.9
    weight_decay: float | None = None
    clip_grad_norm: float | None = None
    partial_bn: bool | None = None
    fc_lr5: bool | None = None
    mixed_precision: bool = False
    steps_per_epoch: int | None = None
    accum_steps: int = 1
    # run
    output_dir: str | None = None
    resume: bool = False
    overwrite: bool = False
    save_every_steps: int | None = None
    memory_check: bool = True
    seed: int = 0
    distribute: str = "auto"
    sync_bn: bool | None = None
    verbose: int = 1
    # Filled in by resolve_config: the recipe's lr and batch before scaling.
    base_lr: float | None = None
    base_batch_size: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["lr_steps"] is not None:
            d["lr_steps"] = [float(s) for s in d["lr_steps"]]
        return d

    @property
    def model_name(self) -> str:
        family = {"bidirectional": "tsm", "unidirectional": "tsm_online", "none": "tsn"}
        return f"{family.get(self.shift, 'tsm')}_{self.arch}"


FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}
MODEL_FIELDS = ("arch", "num_classes", "num_segments", "shift", "shift_div", "shift_place",
                "temporal_pool", "non_local", "dropout", "input_size")


def model_kwargs(config: TrainConfig | dict[str, Any]) -> dict[str, Any]:
    """The ``TSM(...)`` arguments of a (resolved) config or of a checkpoint's config dict."""
    get = config.get if isinstance(config, dict) else lambda k: getattr(config, k)
    return {k: get(k) for k in MODEL_FIELDS}


def load_yaml_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML mapping of config fields (dashes or underscores in keys)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Config file not found: {path}")
    with open(path, encoding="utf-8") as f:
        try:
            data = yaml.safe_load(f) or {}
        except yaml.YAMLError as error:
            where = getattr(error, "problem_mark", None)
            line = f" line {where.line + 1}" if where is not None else ""
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise ValueError(f"{path}:{line} is not valid YAML ({problem}); fix or delete "
                             "the file.") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of option: value, got {type(data).__name__}")
    data = {str(k).replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise ValueError(f"{path}: unknown option(s) {unknown}. Known: {sorted(FIELDS)}")
    return data


def write_yaml_config(config: TrainConfig, path: str | os.PathLike) -> None:
    """Write the resolved config atomically (it can be passed back with ``--config``)."""
    from tsm_tf.io_utils import atomic_write_text

    data = config.to_dict()
    for key in ("resume", "overwrite", "base_lr", "base_batch_size", "extra"):
        data.pop(key, None)
    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))


def resolve_config(config: TrainConfig) -> TrainConfig:
    """Fill every ``None`` from the recipes, apply the linear lr scaling, validate.

    Returns a new ``TrainConfig``; raises ``ValueError`` with the flag to fix.
    """
    from tsm_tf.data.registry import get_dataset_spec
    from tsm_tf.models.tsm import ARCHITECTURES

    cfg = dataclasses.replace(config)
    overrides = {}
    if cfg.dataset == "custom":
        if cfg.num_classes is None:
            raise ValueError("--dataset custom needs --num-classes (and --frame-template, e.g. "
                             "'img_{:05d}.jpg', if the clips are frame folders).")
        overrides = {"num_classes": int(cfg.num_classes),
                     "frame_template": cfg.frame_template or "img_{:05d}.jpg"}
    spec = get_dataset_spec(cfg.dataset, **overrides)  # ValueError lists known datasets
    cfg.dataset = spec.name
    if cfg.num_classes is not None and cfg.num_classes != spec.num_classes:
        raise ValueError(f"--num-classes {cfg.num_classes} contradicts dataset {spec.name!r} "
                         f"({spec.num_classes} classes); use --dataset custom for other labels.")
    cfg.num_classes = spec.num_classes
    recipe = {**GENERIC_RECIPE, **spec.recipe, **TRAINER_RECIPES.get(spec.name, {})}
    for key, value in recipe.items():
        if key in FIELDS and getattr(cfg, key) is None:
            setattr(cfg, key, value)
    cfg.lr_steps = [float(s) for s in (cfg.lr_steps or ())]

    _check_choice("arch", cfg.arch, ARCHITECTURES)
    _check_choice("shift", cfg.shift, SHIFT_CHOICES)
    _check_choice("optimizer", cfg.optimizer, OPTIMIZERS)
    _check_choice("lr_schedule", cfg.lr_schedule, LR_SCHEDULES)
    _check_choice("distribute", cfg.distribute, DISTRIBUTE_CHOICES)
    if cfg.flip is None:
        cfg.flip = bool(spec.allow_flip)
    if cfg.allow_partial is not None:
        kinds = [k for item in cfg.allow_partial for k in str(item).split(",") if k]
        for kind in kinds:
            _check_choice("allow_partial", kind, PARTIAL_KINDS)
        cfg.allow_partial = kinds or list(PARTIAL_KINDS)
    for name in ("accum_steps", "save_every_steps"):
        value = getattr(cfg, name)
        if value is not None and int(value) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1. Received: {value}")
    if cfg.batch_size % cfg.accum_steps:
        raise ValueError(f"--batch-size {cfg.batch_size} must be divisible by --accum-steps "
                         f"{cfg.accum_steps} (each step takes batch-size / accum-steps clips).")
    for name in ("epochs", "batch_size", "num_segments", "input_size"):
        if int(getattr(cfg, name)) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1. "
                             f"Received: {getattr(cfg, name)}")

    # Linear scaling rule: the recipe's lr is for the recipe's batch size.
    cfg.base_batch_size = int(recipe["batch_size"])
    if config.lr is None:
        cfg.base_lr = float(recipe["lr"])
        cfg.lr = cfg.base_lr * cfg.batch_size / cfg.base_batch_size
    else:
        cfg.base_lr = float(cfg.lr)
    if cfg.warmup_epochs is None:
        # Goyal et al.: warm up when the lr was scaled up for a larger batch.
        cfg.warmup_epochs = float(min(5, cfg.epochs // 5)) if cfg.lr > cfg.base_lr else 0.0
    if cfg.lr <= 0:
        raise ValueError(f"--lr must be > 0. Received: {cfg.lr}")
    if cfg.output_dir is None:
        cfg.output_dir = os.path.join("runs", f"{cfg.dataset}-{cfg.model_name}")
    if cfg.dataset != "synthetic" and (cfg.train_list is None or cfg.val_list is None):
        raise ValueError(f"--dataset {cfg.dataset} needs --train-list and --val-list "
                         "(list files 'path num_frames label', see tsm_tf.data).")
    return cfg

"""Command line of ``python -m tsm_tf.train``: argparse groups -> :class:`TrainConfig`.

A ``--config FILE.yaml`` supplies defaults (any TrainConfig field, dashes or underscores);
flags given on the command line override it; fields left unset come from the dataset recipe.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from tsm_tf.train.config import (
    DISTRIBUTE_CHOICES,
    FIELDS,
    LR_SCHEDULES,
    OPTIMIZERS,
    SHIFT_CHOICES,
    TrainConfig,
    load_yaml_config,
)

EPILOG = """\
examples:
  python -m tsm_tf.train                          # synthetic demo: tiny TSM, a few minutes on CPU
  python -m tsm_tf.train --shift none             # the TSN baseline on the same data
  python -m tsm_tf.train --shift unidirectional   # online TSM (converts to StreamingTSM)
  python -m tsm_tf.train --dataset something_v2 --root /data/sth2 \\
      --train-list train.txt --val-list val.txt --arch resnet50 --weights resnet50_imagenet.keras
  python -m tsm_tf.train --dataset ucf101 ... --weights tsm_kinetics.keras --reset-classifier
  python -m tsm_tf.train --output-dir runs/x --resume   # continue an interrupted run

recipes: flags left unset take the dataset's recipe (the paper / reference scripts: SGD momentum
0.9, lr for the recipe batch size scaled linearly to --batch-size, step decay, classifier lr x5
(weights) / x10 (bias), no weight decay on biases and BatchNorm, gradient clipping at 20,
partial BN for UCF101/HMDB51). The synthetic set uses a tiny from-scratch recipe (Adam).

multi-worker: set TF_CONFIG on every machine and run the same command (see tsm_tf.train.distribute);
--batch-size is the global batch.
"""


def _bool_flag(group, name: str, help_text: str) -> None:
    group.add_argument(f"--{name}", action=argparse.BooleanOptionalAction, default=None,
                       help=help_text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tsm_tf.train",
        description="Train a TSM (or TSN) video classifier with Keras. Writes checkpoints every "
                    "epoch, best.keras / last.keras, metrics.csv, TensorBoard logs, the "
                    "resolved config and a training-curve PNG to --output-dir.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=None,
    )
    p.add_argument("--config", metavar="FILE.yaml",
                   help="YAML file of options (e.g. a run's config.yaml); flags override it")

    g = p.add_argument_group("data")
    g.add_argument("--dataset", help="registry name: synthetic (default), kinetics400, ucf101, "
                   "hmdb51, something_v1, something_v2, jester, or custom")
    g.add_argument("--root", help="folder the list files' paths are relative to (synthetic: "
                   "where the set is generated; default $TSM_TF_CACHE or ~/.cache/tsm_tf)")
    g.add_argument("--train-list", help="training list file ('path num_frames label' per line) "
                   "or TFRecord source")
    g.add_argument("--val-list", help="validation list file, evaluated after every epoch")
    g.add_argument("--num-classes", type=int, help="number of classes (--dataset custom)")
    g.add_argument("--frame-template", help="frame file name template, e.g. 'img_{:05d}.jpg' "
                   "(--dataset custom)")
    _bool_flag(g, "augment", "training augmentation and random frame sampling (default on)")
    _bool_flag(g, "shuffle", "shuffle the training clips every epoch (default on)")
    _bool_flag(g, "flip", "random horizontal flip in training (default: the dataset's policy: "
               "off for Something-Something, Jester and synthetic, on otherwise). Turn it off "
               "for left/right or clockwise/anticlockwise classes; augmentation stays on")
    g.add_argument("--flip-label-map", metavar="FILE",
                   help="class pairs swapped when a clip is flipped, one pair per line "
                        "('3 4' or 'Swiping Left' 'Swiping Right'; names from the dataset's "
                        "labels or <root>/classes.txt)")

    g = p.add_argument_group("model")
    g.add_argument("--arch", help="backbone: resnet18/34/50/101, mobilenetv2, resnet_tiny "
                   "(default: resnet50; synthetic: resnet_tiny)")
    g.add_argument("--num-segments", type=int, help="frames per clip T (default 8)")
    g.add_argument("--shift", choices=SHIFT_CHOICES,
                   help="bidirectional: offline TSM (default); unidirectional: online TSM, "
                        "streamable frame by frame; none: TSN baseline")
    g.add_argument("--shift-div", type=int, help="1/shift_div of the channels move each way "
                   "(default 8)")
    g.add_argument("--shift-place", choices=("blockres", "block"),
                   help="residual shift (blockres, default) or in-place (block)")
    _bool_flag(g, "temporal-pool", "ResNet: max-pool over time after layer1 (halves T)")
    _bool_flag(g, "non-local", "ResNet-50/101: add non-local blocks")
    g.add_argument("--input-size", type=int, help="crop side in pixels (default 224; "
                   "synthetic 64)")
    g.add_argument("--dropout", type=float, help="dropout before the classifier (recipe)")
    g.add_argument("--weights", help="initial weights: .keras (ImageNet backbone or a TSM "
                   "model), .weights.h5, or a PyTorch .pth(.tar) (converted on the fly)")
    _bool_flag(g, "reset-classifier", "with --weights: do not load the classifier (fine-tune "
               "to another label set)")
    g.add_argument("--allow-partial", nargs="?", const="missing,unexpected,shape",
                   metavar="KINDS", type=lambda v: [k for k in v.split(",") if k],
                   help="with --weights: accept these differences between the file and the "
                        "model (comma list of missing, unexpected, shape; default all); those "
                        "layers keep their initialisation. Without it loading is strict")

    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, help="number of epochs (recipe)")
    g.add_argument("--batch-size", type=int, help="GLOBAL batch size, over all replicas (recipe)")
    g.add_argument("--optimizer", choices=OPTIMIZERS,
                   help="sgd (paper recipe, momentum 0.9) or adam (synthetic from-scratch)")
    g.add_argument("--lr", type=float, help="learning rate for this batch size (default: the "
                   "recipe's lr scaled linearly from the recipe batch size)")
    g.add_argument("--lr-schedule", choices=LR_SCHEDULES, help="step decay or cosine (recipe)")
    g.add_argument("--lr-steps", type=float, nargs="*",
                   help="epochs at which a step schedule multiplies the lr by 0.1 (recipe)")
    g.add_argument("--warmup-epochs", type=float, help="linear lr warm-up (default: 0, or up "
                   "to 5 epochs when the lr was scaled up for a larger batch)")
    g.add_argument("--momentum", type=float, help="SGD momentum (0.9)")
    g.add_argument("--weight-decay", type=float, help="L2 weight decay, not on biases or BN "
                   "(recipe)")
    g.add_argument("--clip-grad-norm", type=float, help="clip the global gradient norm "
                   "(recipe: 20; 0 disables)")
    _bool_flag(g, "partial-bn", "freeze all BatchNorm layers but the first (recipe: on for "
               "UCF101/HMDB51 fine-tuning)")
    _bool_flag(g, "fc-lr5", "classifier lr x5 (weights) / x10 (bias) (recipe; on for SGD "
               "recipes)")
    _bool_flag(g, "mixed-precision", "float16 compute with loss scaling (GPUs)")
    g.add_argument("--steps-per-epoch", type=int, help="cap the steps per epoch (quick runs)")
    g.add_argument("--accum-steps", type=int, help="gradient accumulation: each optimizer step "
                   "averages N micro-batches of batch-size / N clips (same global batch, less "
                   "memory; default 1)")
    _bool_flag(g, "memory-check", "estimate the training memory before the first step and "
               "refuse a run that would not fit (default on)")

    g = p.add_argument_group("run")
    g.add_argument("--output-dir", help="run folder (default runs/<dataset>-<model>)")
    g.add_argument("--resume", action="store_true", default=None,
                   help="continue from the newest checkpoint in --output-dir (weights, "
                        "optimizer state, schedule position)")
    g.add_argument("--save-every-steps", type=int, metavar="N",
                   help="also write a resumable checkpoint every N optimizer steps inside an "
                        "epoch (--resume then continues from that step)")
    g.add_argument("--overwrite", action="store_true", default=None,
                   help="replace another run's checkpoints in --output-dir")
    g.add_argument("--seed", type=int, help="seed of weights init, data order and "
                   "augmentation (default 0)")
    g.add_argument("--distribute", choices=DISTRIBUTE_CHOICES,
                   help="auto (default): multiworker if TF_CONFIG is set, mirrored with >1 GPU")
    _bool_flag(g, "sync-bn", "synchronise BatchNorm statistics across replicas (default: on "
               "with several replicas)")
    g.add_argument("--verbose", type=int, choices=(0, 1, 2),
                   help="0 silent, 1 progress bar (default; one line per epoch when the output "
                        "is not a terminal), 2 one line per epoch")
    return p


def config_from_args(argv: Sequence[str] | None = None) -> TrainConfig:
    """Parse flags (over ``--config`` defaults) into an unresolved :class:`TrainConfig`."""
    args = build_parser().parse_args(argv)
    values = load_yaml_config(args.config) if args.config else {}
    run_config = os.path.join(args.output_dir, "config.yaml") if args.output_dir else None
    if args.resume and not args.config and run_config and os.path.exists(run_config):
        # --resume continues the run as it was configured; flags given now still override.
        values = load_yaml_config(run_config)
    for key, value in vars(args).items():
        if key != "config" and value is not None:
            values[key] = value
    if values.get("clip_grad_norm") == 0:
        values["clip_grad_norm"] = None
    unknown = set(values) - FIELDS
    if unknown:  # pragma: no cover - parser and dataclass out of sync
        raise SystemExit(f"internal error: unknown options {sorted(unknown)}")
    return TrainConfig(**values)


def main(argv: Sequence[str] | None = None) -> int:
    from tsm_tf.train.checkpoint import RunDirError
    from tsm_tf.train.trainer import TrainingDivergedError, train

    try:
        train(config_from_args(argv))
    except (ValueError, FileNotFoundError, RunDirError, MemoryError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except TrainingDivergedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("interrupted: resume with --resume (the last finished epoch, or the last "
              "--save-every-steps checkpoint, is saved)", file=sys.stderr)
        return 130
    return 0

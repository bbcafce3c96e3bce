"""Command line of ``python -m tsm_tf.test``: evaluate a model on a dataset's test list.

Examples::

    # the dataset's own protocol (Kinetics: 10 dense clips x 3 crops, full resolution)
    python -m tsm_tf.test --model tsm_k400.keras --dataset kinetics400 \\
        --root /data/k400/frames --val-list /data/k400/val.txt --json runs/k400.json

    # an ensemble of two models, 1 clip x 10 crops, the reference's --softmax
    python -m tsm_tf.test --weights tsm_8f.keras tsm_16f.keras --dataset something_v1 \\
        --root /data/sth1 --val-list val.txt --protocol 1clip-10crops --average logits-softmax

    # 1 clip x centre crop, early recognition of an online model, CAMs of TSM next to TSN
    python -m tsm_tf.test --model online.keras --dataset synthetic \\
        --val-list runs/synthetic/val.txt --protocol center --early 0.1,0.2,0.5,1.0 \\
        --cam runs/cam --compare-model tsn.keras
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from tsm_tf.common.constants import strip_checkpoint_suffix
from tsm_tf.data.transforms import CROP_CHOICES
from tsm_tf.evaluate.protocols import AVERAGE_CHOICES, PROTOCOL_NAMES


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tsm_tf.test",
        description="Evaluate a TSM/TSN model: top-1/top-5, mean class accuracy, per-class "
                    "accuracy, confusion matrix; optionally early recognition and CAMs.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    m = p.add_argument_group("model")
    m.add_argument("--model", "--weights", dest="model", nargs="+", required=True,
                   metavar="MODEL",
                   help="a .keras model saved by tsm_tf, or a reference checkpoint (.pth.tar); "
                        "several: an ensemble, their video scores averaged (each model at its "
                        "own frames and size, as the reference's --weights A,B)")
    m.add_argument("--compare-model", default=None,
                   help="second model for --cam (e.g. the TSN baseline beside TSM)")
    d = p.add_argument_group("dataset")
    d.add_argument("--dataset", default="custom",
                   help="registry name (kinetics400, something_v1, something_v2, jester, "
                        "ucf101, hmdb51, synthetic) or custom")
    d.add_argument("--root", default=None,
                   help="folder the list's paths start from (default: the list's folder)")
    d.add_argument("--val-list", "--list", dest="list_file", default=None,
                   help="test list file (reference format) or TFRecord source, looked up "
                        "from the working directory, then under --root (required, "
                        "except for --dataset synthetic: ROOT/val.txt, ROOT defaulting to "
                        "the generated set, $TSM_TF_CACHE/synthetic or "
                        "~/.cache/tsm_tf/synthetic)")
    d.add_argument("--num-classes", type=int, default=None,
                   help="custom dataset: number of classes (default: the model's)")
    d.add_argument("--frame-template", default=None,
                   help="custom dataset: frame file name template, e.g. 'img_{:05d}.jpg'")
    d.add_argument("--class-names", default=None,
                   help="text file with one class name per line (default: found automatically)")
    d.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                   help="unreadable clips (missing or undecodable): stop with an error naming "
                        "them, or skip them and report 'N of M clips unreadable' with top-1 over "
                        "the readable clips and over all (unreadable counted wrong)")
    d.add_argument("--max-videos", type=int, default=None,
                   help="evaluate only the first N videos (quick check)")
    t = p.add_argument_group("protocol")
    t.add_argument("--protocol", default="dataset",
                   help=f"one of {', '.join(PROTOCOL_NAMES)}, or "
                        "'{clips}clips-{crops}crops[-fullres]'")
    t.add_argument("--num-clips", type=int, default=None, help="override: clips per video")
    t.add_argument("--num-crops", type=int, default=None, choices=CROP_CHOICES,
                   help="override: crops per clip (1 centre; 3 left/right/centre; 5 corners "
                        "and centre; 10 those and their mirror images)")
    t.add_argument("--full-res", action="store_true", default=None,
                   help="override: evaluate full-resolution crops (short side --scale-size)")
    t.add_argument("--scale-size", type=int, default=None,
                   help="short side before cropping (default: input size * 256 / 224)")
    t.add_argument("--sampling", choices=("uniform", "dense"), default=None,
                   help="override the frame sampling")
    t.add_argument("--average", choices=AVERAGE_CHOICES, default="logits",
                   help="how a model's views are combined: mean of the logits (the reference's "
                        "default); logits-softmax: softmax of that mean (the reference's "
                        "--softmax, matters for ensembles); probabilities: mean of the views' "
                        "softmax")
    t.add_argument("--batch-size", type=int, default=8, help="clips (views) per forward pass")
    o = p.add_argument_group("outputs")
    o.add_argument("--json", default=None, help="write the report as JSON here")
    o.add_argument("--out-dir", default=None,
                   help="folder for the confusion matrix and early-recognition files "
                        "(default: the --json folder, else runs/test/<model name>)")
    o.add_argument("--early", nargs="?", const="", default=None, metavar="FRACTIONS",
                   help="early recognition after observing these fractions of each video "
                        "(default 0.1,...,1.0; percentages accepted); online/TSN models only")
    o.add_argument("--early-method", choices=("frame_logits", "streaming"),
                   default="frame_logits",
                   help="per-frame logits of the offline model, or the streaming model frame "
                        "by frame (same numbers, slower)")
    o.add_argument("--cam", default=None, metavar="DIR",
                   help="write class-activation-map strips of a few clips to DIR")
    o.add_argument("--cam-clips", type=int, default=4, help="clips for --cam")
    o.add_argument("--cam-target", choices=("label", "prediction"), default="label",
                   help="class whose map is drawn")
    o.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def default_out_dir(args: argparse.Namespace) -> str:
    if args.out_dir:
        return args.out_dir
    if args.json:
        return os.path.dirname(os.path.abspath(args.json))
    stem = "+".join(strip_checkpoint_suffix(os.path.basename(m.rstrip("/")))
                    for m in args.model)
    return os.path.join("runs", "test", stem)


def run(args: argparse.Namespace) -> dict:
    from tsm_tf.evaluate.labels import read_names
    from tsm_tf.evaluate.report import format_summary
    from tsm_tf.evaluate.runner import evaluate, write_cams

    class_names = read_names(args.class_names) if args.class_names else None
    if args.class_names and not class_names:
        raise ValueError(f"--class-names file {args.class_names} is empty")
    if args.compare_model and not args.cam:
        raise ValueError("--compare-model is used by --cam: pass --cam DIR too")
    if args.cam and len(args.model) > 1:
        raise ValueError("--cam draws one model's maps: pass a single --model (and "
                         "--compare-model for a second one)")
    if args.compare_model and not os.path.exists(args.compare_model):
        raise FileNotFoundError(f"Model file not found: {args.compare_model} (--compare-model)")
    models = args.model[0] if len(args.model) == 1 else list(args.model)
    result = evaluate(
        models, dataset=args.dataset, root=args.root, list_file=args.list_file,
        protocol=args.protocol, num_clips=args.num_clips, num_crops=args.num_crops,
        full_res=args.full_res, scale_size=args.scale_size, sampling=args.sampling,
        average=args.average, batch_size=args.batch_size, num_classes=args.num_classes,
        frame_template=args.frame_template, class_names=class_names, early=args.early,
        early_method=args.early_method, out_dir=default_out_dir(args), json_path=None,
        max_videos=args.max_videos, on_error=args.on_error, verbose=not args.quiet,
    )
    if args.cam:
        result["files"]["cam"] = write_cams(
            args.model[0], args.cam, dataset=args.dataset, root=args.root,
            list_file=args.list_file, compare_model=args.compare_model,
            num_clips=args.cam_clips, num_classes=args.num_classes,
            frame_template=args.frame_template, class_names=class_names,
            target=args.cam_target)
    if args.json:
        from tsm_tf.evaluate.report import write_report

        write_report(result, json_path=args.json)
    print(format_summary(result))
    return result


def default_synthetic_list(args: argparse.Namespace) -> None:
    """``--dataset synthetic`` without ``--val-list``: the set ``python -m tsm_tf.train``
    generates (``--root`` or the cache folder), so a demo run evaluates with no flags."""
    from tsm_tf.common.paths import synthetic_root

    root = synthetic_root(args.root)
    list_file = root / "val.txt"
    if not list_file.is_file():
        raise FileNotFoundError(
            f"No synthetic validation list at {list_file}: generate the set first "
            f"(python -m tsm_tf.data.synthetic --out {root}, or python -m tsm_tf.train), or "
            "pass --root/--val-list")
    args.root, args.list_file = str(root), str(list_file)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_file is None and args.dataset.lower() != "synthetic":
        parser.error("--val-list is required (only --dataset synthetic has a default)")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        if args.list_file is None:
            default_synthetic_list(args)
        run(args)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0

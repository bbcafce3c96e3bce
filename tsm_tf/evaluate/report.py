"""Report files and console summary of an ``evaluate()`` result."""

from __future__ import annotations

import csv
import io
import os

from tsm_tf.evaluate import early as early_mod
from tsm_tf.evaluate.plots import save_confusion_matrix, save_early_curve
from tsm_tf.io_utils import atomic_write_json, atomic_write_text

ARRAY_KEYS = ("scores", "labels", "predictions", "readable", "videos")
VIDEO_COLUMNS = ("index", "path", "label", "prediction", "correct", "status")


def per_video_csv(result: dict) -> str:
    """One row per list entry (readable or not), in list order, with a ``status`` column."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(VIDEO_COLUMNS)
    for row in result["videos"]:
        writer.writerow(["" if row[c] is None else row[c] for c in VIDEO_COLUMNS])
    return buffer.getvalue()


def json_report(result: dict) -> dict:
    """The result without per-video arrays (what goes into the JSON file)."""
    return {k: v for k, v in result.items() if k not in ARRAY_KEYS}


def write_report(result: dict, *, out_dir=None, json_path=None) -> dict:
    """Write ``confusion_matrix.png`` (+ ``early.md``, ``early.png``) to ``out_dir`` and the
    JSON report to ``json_path``; record the paths in ``result["files"]`` and return them."""
    files = result.setdefault("files", {})
    if out_dir is not None:
        out_dir = os.fspath(out_dir)
        os.makedirs(out_dir, exist_ok=True)
        top1 = result["top1"] * 100
        files["confusion_matrix"] = save_confusion_matrix(
            result["confusion_matrix"], result["class_names"],
            os.path.join(out_dir, "confusion_matrix.png"),
            title=f"{os.path.basename(str(result['model']))} on {result['dataset']}: "
                  f"top-1 {top1:.1f}%",
        )
        if result.get("videos") is not None:
            files["per_video"] = atomic_write_text(os.path.join(out_dir, "per_video.csv"),
                                                   per_video_csv(result))
        if result.get("early"):
            rows = result["early"]["rows"]
            files["early_table"] = atomic_write_text(
                os.path.join(out_dir, "early.md"), early_mod.format_table(rows) + "\n")
            files["early_curve"] = save_early_curve(
                rows, os.path.join(out_dir, "early.png"),
                labels=(os.path.basename(str(result["model"])),),
                title=f"Early recognition on {result['dataset']}")
    if json_path is not None:
        files["json"] = os.fspath(json_path)
        atomic_write_json(json_path, json_report(result))
    return files


def format_summary(result: dict, max_classes: int = 30) -> str:
    """Human-readable summary: headline metrics, per-class accuracy, early table, files."""
    pct = lambda v: "n/a" if v is None or v != v else f"{100 * v:.2f}%"  # noqa: E731
    proto = result["protocol"]
    n, bad = result["num_videos"], result.get("num_unreadable", result.get("skipped", 0))
    unreadable = f", {bad} of {n} clips unreadable" if bad else ""
    lines = [
        f"model:    {result['model']}",
        f"dataset:  {result['dataset']} ({n} videos{unreadable})",
        f"protocol: {proto['name']}: {proto['num_clips']} clip(s) x {proto['num_crops']} "
        f"crop(s), {proto['size']}px, {proto['sampling']} sampling, "
        f"views averaged by {proto['average']}",
        f"top-1:    {pct(result['top1'])}" + (
            f" over the {n - bad} readable clips; {pct(result.get('top1_all'))} over all {n} "
            f"({bad} of {n} clips unreadable, counted wrong)" if bad else ""),
        f"top-5:    {pct(result['top5'])}" + (
            f" over the readable clips; {pct(result.get('top5_all'))} over all {n}"
            if bad else ""),
        f"mean class accuracy: {pct(result['mean_class_accuracy'])}",
        "per-class accuracy:",
    ]
    per_class = result["per_class"]
    # Classes that have videos first (in class order), so a large label set with a small
    # evaluation list still shows what was evaluated.
    ordered = ([c for c in per_class if c["count"]] + [c for c in per_class if not c["count"]])
    shown = ordered[:max_classes]
    width = max(len(c["name"]) for c in shown)
    lines += [f"  {c['class']:>4} {c['name']:<{width}}  {pct(c['accuracy']):>8}  "
              f"({c['count']} videos)" for c in shown]
    if len(shown) < len(per_class):
        lines.append(f"  ... {len(per_class) - len(shown)} more classes in the JSON report")
    if result.get("early"):
        lines += [f"early recognition ({result['early']['method']}):",
                  early_mod.format_table(result["early"]["rows"])]
    for kind, path in result.get("files", {}).items():
        lines.append(f"wrote {kind}: {path}")
    return "\n".join(lines)

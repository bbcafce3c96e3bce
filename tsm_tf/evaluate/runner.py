"""``evaluate()``: run a model over a dataset's test list under a test protocol and compute the
metrics (optionally early recognition), writing the report files when asked.

Used by ``python -m tsm_tf.test``, the demo and the trainer.

Example:
    >>> result = evaluate("runs/demo/model.keras", dataset="synthetic",
    ...                   list_file="runs/synthetic/val.txt", protocol="center")
    >>> result["top1"], result["mean_class_accuracy"]
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from tsm_tf.evaluate import early as early_mod
from tsm_tf.evaluate.labels import resolve_class_names
from tsm_tf.evaluate.loading import check_input, check_num_classes, load_model
from tsm_tf.evaluate.metrics import classification_summary
from tsm_tf.evaluate.protocols import (
    Protocol,
    average_views,
    eval_size,
    model_at_size,
    resolve_protocol,
)


class Progress:
    """Prints ``label: done/total videos, rate, ETA`` to stderr every ``every`` seconds."""

    def __init__(self, total: int, label: str = "test", every: float = 10.0,
                 enabled: bool = True):
        self.total, self.label, self.every, self.enabled = total, label, every, enabled
        self.start = self.last = time.perf_counter()

    def update(self, done: int, force: bool = False) -> None:
        now = time.perf_counter()
        if not self.enabled or (not force and now - self.last < self.every):
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        print(f"{self.label}: {done}/{self.total} videos, {rate:.1f} videos/s, "
              f"ETA {eta:.0f}s", file=sys.stderr, flush=True)


def _resolve_spec(dataset, num_classes, frame_template, model_classes):
    from tsm_tf.data.registry import DatasetSpec, get_dataset_spec

    if isinstance(dataset, DatasetSpec):
        return dataset
    overrides = {}
    if frame_template:
        overrides["frame_template"] = frame_template
    if num_classes:
        overrides["num_classes"] = int(num_classes)
    if (dataset or "custom") == "custom":
        overrides.setdefault("num_classes", model_classes)
        overrides.setdefault("frame_template", "img_{:05d}.jpg")
        return get_dataset_spec("custom", **overrides)
    return get_dataset_spec(dataset, **overrides)


def _square_size(model) -> int:
    h, w = model.tsm_config["input_size"]
    if h != w:
        raise ValueError(
            f"Evaluation crops are square, but the model input is {h}x{w}; rebuild it with a "
            "square input_size (the weights do not depend on it): "
            "tsm_tf.evaluate.model_at_size(model, size)."
        )
    return int(h)


def make_forward(model, frames: bool = False, method: str = "frame_logits",
                 chunk: int = 8) -> Callable[[np.ndarray], np.ndarray]:
    """``clips [M, T, H, W, 3] -> logits [M, K]`` (or per-frame ``[M, T', K]`` with
    ``frames``), ``chunk`` clips per forward pass."""
    import tensorflow as tf

    if frames and method == "streaming":
        return early_mod.StreamingRunner(model, chunk)
    net = model.frame_logits_model() if frames else model
    # One trace for every batch size; no autograph (a plain forward pass needs none).
    spec = tf.TensorSpec([None, *model.inputs[0].shape[1:]], tf.float32)
    call = tf.function(lambda x: net(x, training=False), input_signature=[spec],
                       autograph=False)

    def forward(clips: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(call(clips[i:i + chunk]), np.float32)
                               for i in range(0, len(clips), chunk)])

    return forward


def predict_views(
    forward: Callable[[np.ndarray], np.ndarray],
    ds,
    views: int,
    *,
    max_videos: int | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``forward`` over a dataset of ``(clips, labels)``: per-view outputs
    ``[N, V, ...]`` and labels ``[N]``."""
    outputs, labels, done = [], [], 0
    for clips, batch_labels in ds:
        clips = np.asarray(clips)
        if views == 1:
            clips = clips[:, None]  # [B, 1, T, H, W, 3]
        b = clips.shape[0]
        flat = clips.reshape(b * views, *clips.shape[2:])  # [B*V, T, H, W, 3]
        out = forward(flat)
        outputs.append(out.reshape(b, views, *out.shape[1:]))
        labels.append(np.asarray(batch_labels))
        done += b
        if progress:
            progress.update(done)
        if max_videos is not None and done >= max_videos:
            break
    if not outputs:
        raise ValueError("the test list produced no clip (all skipped?)")
    out = np.concatenate(outputs)
    lab = np.concatenate(labels).astype(np.int64)
    if max_videos is not None:
        out, lab = out[:max_videos], lab[:max_videos]
    if progress:
        progress.update(len(lab), force=True)
    return out, lab


def _build(spec, root, list_file, model_t, size, proto: Protocol, batch_size, on_error,
           scale_size):
    from tsm_tf.data.pipeline import build_dataset

    return build_dataset(
        spec, root=root, list_file=list_file, num_segments=model_t, input_size=size,
        batch_size=batch_size, training=False, sampling=proto.sampling,
        num_clips=proto.num_clips, num_crops=proto.num_crops, full_res=proto.full_res,
        scale_size=scale_size, deterministic=True, shuffle=False, on_error=on_error,
    )


def _model_and_path(model_or_path):
    """``(model, path or None)``: load a ``.keras`` / reference checkpoint path, or pass a
    model through."""
    if isinstance(model_or_path, str | os.PathLike):
        path = os.fspath(model_or_path)
        return load_model(path), path
    return model_or_path, None


def evaluate(
    model_or_path,
    dataset="custom",
    root: str | None = None,
    list_file: str | None = None,
    protocol: str = "dataset",
    *,
    num_clips: int | None = None,
    num_crops: int | None = None,
    full_res: bool | None = None,
    scale_size: int | None = None,
    sampling: str | None = None,
    average: str = "logits",
    batch_size: int = 8,
    num_classes: int | None = None,
    frame_template: str | None = None,
    class_names: Sequence[str] | None = None,
    early: Sequence[float] | str | None = None,
    early_method: str = "frame_logits",
    out_dir: str | os.PathLike | None = None,
    json_path: str | os.PathLike | None = None,
    max_videos: int | None = None,
    on_error: str = "skip",
    verbose: bool = True,
) -> dict:
    """Evaluate ``model_or_path`` (a ``TSM`` or a ``.keras`` / reference checkpoint path).

    Args:
        dataset: registry name or ``DatasetSpec``; ``"custom"`` takes ``num_classes`` (default:
            the model's) and ``frame_template`` (default ``img_{:05d}.jpg``).
        root: folder the list's paths start from (default: the list file's folder).
        list_file: the test list (reference format) or a TFRecord source.
        protocol: ``center``, ``dense``, ``twice``, ``dataset`` (the dataset's own) or
            ``"{clips}clips-{crops}crops[-fullres]"``; ``num_clips``, ``num_crops``,
            ``full_res``, ``scale_size`` and ``sampling`` override it.
        average: views are combined by the mean of their raw logits (``"logits"``, the
            reference's default) or of their softmax (``"softmax"``).
        batch_size: clips (views) per forward pass.
        early: fractions of each video to observe for early recognition (needs a causal model);
            ``early_method`` ``"frame_logits"`` or ``"streaming"`` (see ``tsm_tf.evaluate.early``).
        out_dir: when given, write ``confusion_matrix.png`` (and ``early.md``, ``early.png``).
        json_path: when given, write the report (without per-video arrays) as JSON.
        max_videos: evaluate only the first videos of the list (quick checks).

    Returns:
        A dict: ``top1``, ``top5``, ``mean_class_accuracy``, ``per_class`` (name, accuracy,
        count), ``confusion_matrix``, ``class_names``, ``protocol``, ``num_videos``,
        ``skipped``, ``early`` (or None), ``files``, and per-video arrays ``scores [N, K]``,
        ``labels``, ``predictions``.

    Raises:
        FileNotFoundError / ValueError: missing model, list or folders; class-count mismatch
            (``ModelMismatchError``); unknown protocol; early recognition on an offline model.
    """
    start = time.perf_counter()
    model, model_path = _model_and_path(model_or_path)
    model_name = model_path or model.name
    cfg = model.tsm_config
    spec = _resolve_spec(dataset, num_classes, frame_template, cfg["num_classes"])
    check_num_classes(model, spec.num_classes, model_name=model_name, dataset_name=spec.name)
    fractions = early_mod.parse_fractions(early) if early is not None else None
    check_input(model, early=fractions is not None)
    if early_method not in early_mod.EARLY_METHODS:
        raise ValueError(f"early_method must be one of {early_mod.EARLY_METHODS}. "
                         f"Received: {early_method!r}")
    if list_file is None:
        raise ValueError("evaluate() needs list_file: the test list of the dataset.")
    list_file = os.fspath(list_file)
    if not os.path.exists(list_file) and not any(c in list_file for c in "*?["):
        raise FileNotFoundError(f"Test list not found: {list_file} (pass --val-list/--list)")
    if root is None:
        root = os.path.dirname(os.path.abspath(list_file))
    elif not os.path.isdir(root):
        raise FileNotFoundError(f"Dataset root folder not found: {root} (pass --root)")
    proto = resolve_protocol(protocol, spec.test_protocol, num_clips=num_clips,
                             num_crops=num_crops, full_res=full_res, sampling=sampling)
    input_size = _square_size(model)
    size = eval_size(input_size, proto, scale_size)
    t = int(cfg["num_segments"])
    sampling_used = proto.sampling or spec.sampling
    # Early recognition reuses the main pass when it is one uniformly sampled clip per video.
    early_in_main = fractions is not None and proto.num_clips == 1 and sampling_used == "uniform"
    if verbose:
        print(f"test: {model_name} on {spec.name} ({list_file}), protocol {proto.describe()}, "
              f"{size}x{size} px, {t} frames, views averaged by {average}",
              file=sys.stderr, flush=True)

    eval_model = model_at_size(model, size)
    videos_per_batch = max(1, -(-batch_size // proto.views))
    ds = _build(spec, root, list_file, t, size, proto, videos_per_batch, on_error, scale_size)
    total = min(ds.num_samples, max_videos) if max_videos else ds.num_samples
    forward = make_forward(eval_model, frames=early_in_main, method=early_method,
                           chunk=batch_size)
    outputs, labels = predict_views(forward, ds, proto.views, max_videos=max_videos,
                                    progress=Progress(total, enabled=verbose))
    # outputs: [N, V, K], or [N, V, T', K] per-frame logits (the clip logit is their mean)
    view_scores = outputs.mean(axis=2) if early_in_main else outputs
    scores = average_views(view_scores, average)  # [N, K]
    summary = classification_summary(scores, labels)

    names, names_source = resolve_class_names(
        spec.num_classes, names=class_names, model=model, model_path=model_path, root=root,
        list_file=list_file, dataset=spec.name)
    result = {
        "model": model_name,
        "model_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
        "dataset": spec.name,
        "list_file": list_file,
        "root": root,
        "protocol": proto.as_dict() | {"sampling": sampling_used, "size": size,
                                       "average": average},
        "num_videos": summary["num_samples"],
        "skipped": int(ds.errors.total),
        "skipped_report": ds.errors.report(),
        "top1": summary["top1"],
        "top5": summary["top5"],
        "mean_class_accuracy": summary["mean_class_accuracy"],
        "per_class": [
            {"class": i, "name": names[i], "accuracy": acc, "count": int(cnt)}
            for i, (acc, cnt) in enumerate(zip(summary["per_class_accuracy"],
                                               summary["class_counts"], strict=True))
        ],
        "class_names": names,
        "class_names_source": names_source,
        "confusion_matrix": summary["confusion_matrix"],
        "early": None,
        "files": {},
        "scores": scores,
        "labels": labels,
        "predictions": summary["predictions"],
    }

    if fractions is not None:
        if early_in_main:
            frame_out, early_labels = outputs, labels  # [N, V, T', K]
        else:  # one uniformly sampled clip, centre crop, at the model's own size
            early_proto = resolve_protocol("center", sampling="uniform")
            eds = _build(spec, root, list_file, t, input_size, early_proto, batch_size,
                         on_error, None)
            frame_out, early_labels = predict_views(
                make_forward(model, frames=True, method=early_method, chunk=batch_size), eds, 1,
                max_videos=max_videos,
                progress=Progress(total, "early", enabled=verbose))
        per_view = np.stack([early_mod.early_scores(frame_out[:, v], fractions)
                             for v in range(frame_out.shape[1])], axis=2)  # [F, N, V, K]
        early_scores = np.stack([average_views(s, average) for s in per_view])  # [F, N, K]
        result["early"] = {
            "method": early_method,
            "num_segments": int(frame_out.shape[2]),
            "fractions": list(fractions),
            "rows": early_mod.early_table(early_scores, early_labels, fractions,
                                          frame_out.shape[2]),
        }

    result["seconds"] = time.perf_counter() - start
    if out_dir is not None or json_path is not None:
        from tsm_tf.evaluate.report import write_report

        write_report(result, out_dir=out_dir, json_path=json_path)
    return result


def load_clips(spec, root: str, list_file: str, num_segments: int, size: int, count: int,
               on_error: str = "skip") -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` clips of a list (1 clip x centre crop): ``[n, T, S, S, 3]``
    normalised, and their labels."""
    ds = _build(spec, root, list_file, num_segments, size, resolve_protocol("center"),
                count, on_error, None)
    for clips, labels in ds.take(1):
        return np.asarray(clips), np.asarray(labels).astype(np.int64)
    raise ValueError(f"{list_file}: no clip could be loaded")


def write_cams(
    model_or_path,
    out_dir: str | os.PathLike,
    dataset="custom",
    root: str | None = None,
    list_file: str | None = None,
    *,
    compare_model=None,
    num_clips: int = 4,
    num_classes: int | None = None,
    frame_template: str | None = None,
    class_names: Sequence[str] | None = None,
    target: str = "label",
) -> list[str]:
    """CAM strips (PNG) of the first ``num_clips`` clips of the list; with ``compare_model``
    (e.g. the TSN baseline next to TSM) both models' maps side by side. Returns the paths."""
    from tsm_tf.evaluate.cam import write_cam_strips

    model, model_path = _model_and_path(model_or_path)
    if isinstance(compare_model, str | os.PathLike):
        compare_model = load_model(os.fspath(compare_model))
    spec = _resolve_spec(dataset, num_classes, frame_template, model.tsm_config["num_classes"])
    name = model_path or model.name
    check_num_classes(model, spec.num_classes, model_name=name, dataset_name=spec.name)
    if compare_model is not None:
        check_num_classes(compare_model, spec.num_classes, model_name=compare_model.name,
                          dataset_name=spec.name)
    if list_file is None or not os.path.exists(list_file):
        raise FileNotFoundError(f"Test list not found: {list_file} (pass --val-list/--list)")
    root = root or os.path.dirname(os.path.abspath(list_file))
    clips, labels = load_clips(spec, root, list_file, int(model.tsm_config["num_segments"]),
                               _square_size(model), num_clips)
    names, _ = resolve_class_names(spec.num_classes, names=class_names, model=model,
                                   model_path=model_path, root=root, list_file=list_file,
                                   dataset=spec.name)
    return write_cam_strips(model, clips, labels, os.fspath(out_dir),
                            compare_model=compare_model, class_names=names, target=target)

"""``evaluate()``: run a model over a dataset's test list under a test protocol and compute the
metrics (optionally early recognition), writing the report files when asked.

Used by ``python -m tsm_tf.test``, the demo and the trainer.

Steps: resolve the arguments (:func:`_resolve`), run each model over the list
(:func:`run_model`: every record in list order, unreadable ones flagged), combine the views
and models, check unreadable clips, summarise the metrics, early recognition, report files.

Example (needs a trained model and its data, hence skipped in the doctest run)::

    >>> result = evaluate("runs/demo/model.keras", dataset="synthetic",  # doctest: +SKIP
    ...                   list_file="runs/synthetic/val.txt", protocol="center")
    >>> result["top1"], result["mean_class_accuracy"]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tsm_tf.common.progress import Progress
from tsm_tf.data.errors import DataError, check_on_error
from tsm_tf.data.listfile import resolve_list_path
from tsm_tf.data.registry import resolve_spec
from tsm_tf.evaluate import early as early_mod
from tsm_tf.evaluate.labels import resolve_class_names
from tsm_tf.evaluate.loading import check_input, check_num_classes, load_model
from tsm_tf.evaluate.metrics import classification_summary, top_k_hits
from tsm_tf.evaluate.protocols import (
    Protocol,
    average_views,
    check_average,
    ensemble,
    eval_size,
    model_at_size,
    resolve_protocol,
)

MAX_LISTED = 5  # unreadable clips named in an error message


def _progress(total: int, label: str, enabled: bool) -> Progress:
    return Progress(total, unit="videos", label=label, enabled=enabled)


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


@dataclass
class ViewOutputs:
    """One pass over the list: per-view outputs ``[N, V, ...]`` (NaN for unreadable clips),
    labels ``[N]`` (-1 where a TFRecord clip could not be read) and ``ok [N]``."""

    outputs: np.ndarray
    labels: np.ndarray
    ok: np.ndarray
    stopped_early: bool = False


def predict_views(
    forward: Callable[[np.ndarray], np.ndarray],
    ds,
    views: int,
    *,
    max_videos: int | None = None,
    progress: Progress | None = None,
    stop_on_failure: bool = False,
) -> ViewOutputs:
    """Run ``forward`` over a dataset of ``(clips, labels, ok)`` (``keep_failed=True``): the
    model sees the readable clips only; with ``stop_on_failure`` the pass ends after the
    first batch holding an unreadable clip."""
    outputs, labels, oks, done, stopped = [], [], [], 0, False
    shape = None
    for clips, batch_labels, batch_ok in ds:
        clips, ok = np.asarray(clips), np.asarray(batch_ok, bool)
        if views == 1:
            clips = clips[:, None]  # [B, 1, T, H, W, 3]
        b = clips.shape[0]
        flat = clips[ok].reshape(int(ok.sum()) * views, *clips.shape[2:])  # [B'*V, T, H, W, 3]
        out = forward(flat) if len(flat) else None
        if out is not None:
            shape = out.shape[1:]
        outputs.append((b, ok, out))
        labels.append(np.asarray(batch_labels))
        oks.append(ok)
        done += b
        if progress:
            progress.update(done)
        if (max_videos is not None and done >= max_videos) or (stop_on_failure and not ok.all()):
            stopped = not ok.all()
            break
    if not outputs:
        raise ValueError("the test list produced no clip")
    shape = shape if shape is not None else (0,)
    full = []
    for b, ok, out in outputs:
        block = np.full((b, views, *shape), np.nan, np.float32)  # [B, V, ...]
        if out is not None:
            block[ok] = out.reshape(int(ok.sum()), views, *shape)
        full.append(block)
    result = ViewOutputs(np.concatenate(full), np.concatenate(labels).astype(np.int64),
                         np.concatenate(oks), stopped)
    if max_videos is not None:
        result.outputs, result.labels, result.ok = (result.outputs[:max_videos],
                                                    result.labels[:max_videos],
                                                    result.ok[:max_videos])
    if progress:
        progress.update(len(result.labels), force=True)
    return result


def _build(spec, root, list_file, model_t, size, proto: Protocol, batch_size, on_error,
           scale_size):
    from tsm_tf.data.pipeline import build_dataset

    # Every record in list order (failures flagged, not dropped), so that each prediction
    # pairs with its list entry; files are checked by run_model, list lines by on_error.
    return build_dataset(
        spec, root=root, list_file=list_file, num_segments=model_t, input_size=size,
        batch_size=batch_size, training=False, sampling=proto.sampling,
        num_clips=proto.num_clips, num_crops=proto.num_crops, full_res=proto.full_res,
        scale_size=scale_size, deterministic=True, shuffle=False, on_error=on_error,
        check_files=False, keep_failed=True,
    )


def _model_and_path(model_or_path):
    """``(model, path or None)``: load a ``.keras`` / reference checkpoint path, or pass a
    model through."""
    if isinstance(model_or_path, str | os.PathLike):
        path = os.fspath(model_or_path)
        return load_model(path), path
    return model_or_path, None


@dataclass
class EvalSetup:
    """Everything the passes share, resolved and checked once."""

    spec: object
    root: str
    list_file: str
    proto: Protocol
    average: str
    on_error: str
    batch_size: int
    scale_size: int | None
    max_videos: int | None
    fractions: list[float] | None
    early_method: str
    verbose: bool
    model_names: list[str] = field(default_factory=list)
    class_names: Sequence[str] | None = None


def _resolve(models, dataset, root, list_file, protocol, *, num_clips, num_crops, full_res,
             sampling, average, on_error, batch_size, scale_size, max_videos, num_classes,
             frame_template, early, early_method, verbose) -> EvalSetup:
    """Check the arguments against the models and the files; raise before any work."""
    check_on_error(on_error)
    check_average(average)
    first = models[0][0]
    spec = resolve_spec(dataset, num_classes=num_classes, frame_template=frame_template,
                        default_num_classes=first.tsm_config["num_classes"])
    names = [path or model.name for model, path in models]
    for (model, _), name in zip(models, names, strict=True):
        check_num_classes(model, spec.num_classes, model_name=name, dataset_name=spec.name)
    fractions = early_mod.parse_fractions(early) if early is not None else None
    if fractions is not None and len(models) > 1:
        raise ValueError("early recognition scores one model: pass a single --model")
    check_input(first, early=fractions is not None)
    if early_method not in early_mod.EARLY_METHODS:
        raise ValueError(f"early_method must be one of {early_mod.EARLY_METHODS}. "
                         f"Received: {early_method!r}")
    if list_file is None:
        raise ValueError("evaluate() needs list_file: the test list of the dataset.")
    list_file = os.fspath(list_file)
    if not any(c in list_file for c in "*?["):
        list_file = str(resolve_list_path(list_file, root, flag="--val-list"))
    if root is None:
        root = os.path.dirname(os.path.abspath(list_file))
    elif not os.path.isdir(root):
        raise FileNotFoundError(f"Dataset root folder not found: {root} (pass --root)")
    proto = resolve_protocol(protocol, spec.test_protocol, num_clips=num_clips,
                             num_crops=num_crops, full_res=full_res, sampling=sampling)
    for model, _ in models:
        _square_size(model)
    return EvalSetup(spec, root, list_file, proto, average, on_error, batch_size, scale_size,
                     max_videos, fractions, early_method, verbose, names)


def _unreadable_message(failures: dict[int, str], total: int, read: int | None = None) -> str:
    first = "; ".join(failures[i] for i in sorted(failures)[:MAX_LISTED])
    more = f" (and {len(failures) - MAX_LISTED} more)" if len(failures) > MAX_LISTED else ""
    where = f"of {total}" if read is None else f"among the first {read} of {total} (stopped)"
    return (f"{len(failures)} {where} clips unreadable: {first}{more}. Fix the files, --root "
            "or the list, or pass --on-error skip to score the readable clips (unreadable "
            "ones are then counted wrong in the top-1 over all clips).")


@dataclass
class ModelRun:
    """One model's pass: view outputs, and the error of every unreadable record."""

    views: ViewOutputs
    failures: dict[int, str]
    records: list | None
    size: int
    early_in_main: bool


def run_model(model, setup: EvalSetup, *, early_pass: bool = False) -> ModelRun:
    """Run ``model`` over every record of the list (at its own frames and resolution).

    With ``on_error="raise"`` a missing file stops before the pass and an unreadable clip stops
    it, with a ``DataError`` naming the first bad files and their count.
    """
    from tsm_tf.data.pipeline import missing_file_error

    proto, spec = setup.proto, setup.spec
    cfg = model.tsm_config
    t = int(cfg["num_segments"])
    if early_pass:  # one uniformly sampled clip, centre crop, at the model's own size
        proto, scale = resolve_protocol("center", sampling="uniform"), None
        size = _square_size(model)
    else:
        size, scale = eval_size(_square_size(model), proto, setup.scale_size), setup.scale_size
    sampling = proto.sampling or spec.sampling
    # Early recognition reuses the main pass when it is one uniformly sampled clip per video.
    frames = early_pass or (setup.fractions is not None and proto.num_clips == 1
                            and sampling == "uniform")
    per_batch = setup.batch_size if early_pass else max(1, -(-setup.batch_size // proto.views))
    ds = _build(spec, setup.root, setup.list_file, t, size, proto, per_batch, setup.on_error,
                scale)
    total = min(ds.num_samples, setup.max_videos) if setup.max_videos else ds.num_samples
    records = ds.records[:total] if ds.records is not None else None
    failures: dict[int, str] = {}
    for i, rec in enumerate(records or []):
        error = missing_file_error(rec, spec.frame_template)
        if error is not None:
            failures[i] = str(error)
    if failures and setup.on_error == "raise":
        raise DataError(_unreadable_message(failures, total), "unreadable_clips")
    eval_model = model if early_pass else model_at_size(model, size)
    forward = make_forward(eval_model, frames=frames, method=setup.early_method,
                           chunk=setup.batch_size)
    views = predict_views(forward, ds, 1 if early_pass else proto.views,
                          max_videos=setup.max_videos,
                          progress=_progress(total, "early" if early_pass else "test",
                                             setup.verbose),
                          stop_on_failure=setup.on_error == "raise")
    for i in np.flatnonzero(~views.ok):
        error = ds.loader.failures.get(int(i))
        failures.setdefault(int(i), str(error) if error else f"clip {i} of the list unreadable")
    if failures and setup.on_error == "raise":
        read = len(views.ok) if views.stopped_early else None
        raise DataError(_unreadable_message(failures, total, read), "unreadable_clips")
    return ModelRun(views, failures, records, size, frames and not early_pass)


def _combine(runs: list[ModelRun], setup: EvalSetup) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(scores [N, K], labels [N], ok [N])`` over every record: views averaged per model,
    then models averaged; a record is readable when every model could read it."""
    ok = np.logical_and.reduce([r.views.ok for r in runs])
    per_model = []
    for r in runs:
        out = r.views.outputs
        view_scores = np.nan_to_num(out.mean(axis=2) if r.early_in_main else out)  # [N, V, K]
        per_model.append(average_views(view_scores, setup.average))
    scores = ensemble(np.stack(per_model))  # [N, K]
    scores[~ok] = np.nan
    labels = runs[0].views.labels.copy()
    if runs[0].records is not None:  # the list knows every label, even of unreadable clips
        labels = np.array([rec.label for rec in runs[0].records], np.int64)
    return scores, labels, ok


def _status(runs: list[ModelRun], n: int) -> list[str]:
    """Per record: ``"ok"`` or the first model's error kind / message."""
    status = ["ok"] * n
    for r in runs:
        for i, message in r.failures.items():
            if status[i] == "ok":
                status[i] = "unreadable: " + message
    return status


def _summarise(runs, setup: EvalSetup, models, scores, labels, ok) -> dict:
    """Metrics over the readable clips, top-1 / top-5 over all clips (unreadable counted
    wrong), per-class rows, per-video rows."""
    model, model_path = models[0]
    cfg = model.tsm_config
    spec = setup.spec
    n = len(labels)
    readable = classification_summary(scores[ok], labels[ok])
    hits = {k: np.zeros(n, bool) for k in (1, 5)}
    for k in hits:
        if ok.any():
            hits[k][ok] = top_k_hits(scores[ok], labels[ok], k)
    predictions = np.full(n, -1, np.int64)
    predictions[ok] = readable["predictions"]
    names, names_source = resolve_class_names(
        spec.num_classes, names=setup.class_names, model=model, model_path=model_path,
        root=setup.root, list_file=setup.list_file, dataset=spec.name)
    status = _status(runs, n)
    records = runs[0].records
    unreadable = int((~ok).sum())
    return {
        "model": setup.model_names[0] if len(models) == 1 else " + ".join(setup.model_names),
        "models": setup.model_names,
        "model_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
        "dataset": spec.name,
        "list_file": setup.list_file,
        "root": setup.root,
        "protocol": setup.proto.as_dict() | {
            "sampling": setup.proto.sampling or spec.sampling, "size": runs[0].size,
            "average": setup.average, "models": len(models)},
        "on_error": setup.on_error,
        "num_videos": n,
        "num_readable": n - unreadable,
        "num_unreadable": unreadable,
        "skipped": unreadable,
        "skipped_report": "no clip unreadable" if not unreadable else _unreadable_message(
            {i: s for i, s in enumerate(status) if s != "ok"}, n),
        "top1": readable["top1"],
        "top5": readable["top5"],
        "top1_all": float(hits[1].sum() / n),
        "top5_all": float(hits[5].sum() / n),
        "mean_class_accuracy": readable["mean_class_accuracy"],
        "per_class": [
            {"class": i, "name": names[i], "accuracy": acc, "count": int(cnt)}
            for i, (acc, cnt) in enumerate(zip(readable["per_class_accuracy"],
                                               readable["class_counts"], strict=True))
        ],
        "class_names": names,
        "class_names_source": names_source,
        "confusion_matrix": readable["confusion_matrix"],
        "early": None,
        "files": {},
        "videos": [
            {"index": i, "path": records[i].path if records else "", "label": int(labels[i]),
             "prediction": int(predictions[i]) if ok[i] else None,
             "correct": bool(hits[1][i]) if ok[i] else False, "status": status[i]}
            for i in range(n)
        ],
        "scores": scores,
        "labels": labels,
        "predictions": predictions,
        "readable": ok,
    }


def _early(run: ModelRun, model, setup: EvalSetup) -> dict:
    """Early-recognition rows of the readable clips (from the main pass when it had per-frame
    logits, else from a pass of one uniformly sampled clip at the model's size)."""
    if not run.early_in_main:
        run = run_model(model, setup, early_pass=True)
    ok = run.views.ok
    frame_out, labels = run.views.outputs[ok], run.views.labels[ok]  # [N, V, T', K]
    fractions = setup.fractions
    per_view = np.stack([early_mod.early_scores(frame_out[:, v], fractions)
                         for v in range(frame_out.shape[1])], axis=2)  # [F, N, V, K]
    scores = np.stack([average_views(s, setup.average) for s in per_view])  # [F, N, K]
    return {
        "method": setup.early_method,
        "num_segments": int(frame_out.shape[2]),
        "fractions": list(fractions),
        "rows": early_mod.early_table(scores, labels, fractions, frame_out.shape[2]),
    }


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
    on_error: str = "raise",
    verbose: bool = True,
) -> dict:
    """Evaluate ``model_or_path`` (a ``TSM`` or a ``.keras`` / reference checkpoint path, or a
    list of them: an ensemble whose video scores are averaged, as the reference's
    ``--weights A,B``).

    Args:
        dataset: registry name or ``DatasetSpec``; ``"custom"`` takes ``num_classes`` (default:
            the model's) and ``frame_template`` (default ``img_{:05d}.jpg``).
        root: folder the list's paths start from (default: the list file's folder).
        list_file: the test list (reference format) or a TFRecord source; a relative path is
            looked up from the working directory, then under ``root``.
        protocol: ``center``, ``dense``, ``twice``, ``dataset`` (the dataset's own) or
            ``"{clips}clips-{crops}crops[-fullres]"`` (crops 1, 3, 5 or 10); ``num_clips``,
            ``num_crops``, ``full_res``, ``scale_size`` and ``sampling`` override it.
        average: how a model's views are combined: ``"logits"`` (mean of the logits, the
            reference's default), ``"logits-softmax"`` (softmax of that mean, the reference's
            ``--softmax``) or ``"probabilities"`` (mean of the views' softmax). Models are
            then averaged.
        batch_size: clips (views) per forward pass.
        early: fractions of each video to observe for early recognition (needs a causal model);
            ``early_method`` ``"frame_logits"`` or ``"streaming"`` (see ``tsm_tf.evaluate.early``).
        out_dir: when given, write ``confusion_matrix.png``, ``per_video.csv`` (and
            ``early.md``, ``early.png``).
        json_path: when given, write the report (without per-video arrays) as JSON.
        max_videos: evaluate only the first videos of the list (quick checks).
        on_error: ``"raise"`` (default): a missing or undecodable clip stops the run with an
            error naming the first bad files and their count. ``"skip"``: the metrics cover the
            readable clips, ``top1_all`` / ``top5_all`` all clips (unreadable ones wrong).

    Returns:
        A dict: ``top1``, ``top5``, ``mean_class_accuracy`` (readable clips), ``top1_all``,
        ``top5_all``, ``num_videos`` (list entries), ``num_readable``, ``num_unreadable``,
        ``per_class`` (name, accuracy, count), ``confusion_matrix``, ``class_names``,
        ``protocol``, ``early`` (or None), ``files``, ``videos`` (one row per list entry:
        path, label, prediction, correct, status), and per-video arrays ``scores [N, K]`` (NaN
        rows for unreadable clips), ``labels``, ``predictions`` (-1 when unreadable),
        ``readable``.

    Raises:
        FileNotFoundError / ValueError: missing model, list or folders; class-count mismatch
            (``ModelMismatchError``); unknown protocol; early recognition on an offline model;
            unreadable clips with ``on_error="raise"`` (``DataError``).
    """
    start = time.perf_counter()
    items = (list(model_or_path) if isinstance(model_or_path, list | tuple)
             else [model_or_path])
    if not items:
        raise ValueError("evaluate() needs at least one model")
    models = [_model_and_path(m) for m in items]
    setup = _resolve(models, dataset, root, list_file, protocol, num_clips=num_clips,
                     num_crops=num_crops, full_res=full_res, sampling=sampling,
                     average=average, on_error=on_error, batch_size=batch_size,
                     scale_size=scale_size, max_videos=max_videos, num_classes=num_classes,
                     frame_template=frame_template, early=early, early_method=early_method,
                     verbose=verbose)
    setup.class_names = class_names
    if verbose:
        print(f"test: {' + '.join(setup.model_names)} on {setup.spec.name} ({setup.list_file}), "
              f"protocol {setup.proto.describe()}, views averaged by {average}",
              file=sys.stderr, flush=True)
    runs = [run_model(model, setup) for model, _ in models]
    scores, labels, ok = _combine(runs, setup)
    result = _summarise(runs, setup, models, scores, labels, ok)
    if setup.fractions is not None:
        result["early"] = _early(runs[0], models[0][0], setup)
    result["seconds"] = time.perf_counter() - start
    if out_dir is not None or json_path is not None:
        from tsm_tf.evaluate.report import write_report

        write_report(result, out_dir=out_dir, json_path=json_path)
    return result


def load_clips(spec, root: str, list_file: str, num_segments: int, size: int, count: int,
               on_error: str = "skip") -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` readable clips of a list (1 clip x centre crop):
    ``[n, T, S, S, 3]`` normalised, and their labels."""
    ds = _build(spec, root, list_file, num_segments, size, resolve_protocol("center"),
                count, on_error, None)
    for clips, labels, ok in ds.take(1):
        ok = np.asarray(ok, bool)
        if ok.any():
            return np.asarray(clips)[ok], np.asarray(labels)[ok].astype(np.int64)
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
    spec = resolve_spec(dataset, num_classes=num_classes, frame_template=frame_template,
                        default_num_classes=model.tsm_config["num_classes"])
    name = model_path or model.name
    check_num_classes(model, spec.num_classes, model_name=name, dataset_name=spec.name)
    if compare_model is not None:
        check_num_classes(compare_model, spec.num_classes, model_name=compare_model.name,
                          dataset_name=spec.name)
    if list_file is None:
        raise ValueError("write_cams() needs list_file: the test list of the dataset.")
    list_file = str(resolve_list_path(list_file, root, flag="--val-list"))
    root = root or os.path.dirname(os.path.abspath(list_file))
    clips, labels = load_clips(spec, root, list_file, int(model.tsm_config["num_segments"]),
                               _square_size(model), num_clips)
    names, _ = resolve_class_names(spec.num_classes, names=class_names, model=model,
                                   model_path=model_path, root=root, list_file=list_file,
                                   dataset=spec.name)
    return write_cam_strips(model, clips, labels, os.fspath(out_dir),
                            compare_model=compare_model, class_names=names, target=target)

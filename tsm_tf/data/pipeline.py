"""The input pipeline: list file (or TFRecord shards) -> batches of normalised clips.

Each clip is loaded by :class:`ClipLoader` (sampling, decoding, augmentation in numpy/OpenCV,
which release the GIL) inside ``tf.numpy_function``, mapped in parallel. Randomness comes from
a per-element key drawn by ``tf.data.Dataset.random``: with a seed the whole stream is
reproducible (``deterministic=True`` also fixes the order).

Output of :func:`build_dataset`:

- training or one view: ``(clips [N, T, S, S, 3] float32, labels [N] int32)``;
- ``num_clips * num_crops = V > 1`` views: ``(clips [N, V, T, S, S, 3], labels [N])``,
  views ordered clip-major (clip 0 crops 0..C-1, clip 1 ...).

Example (``/data/sth1`` stands for the user's copy of Something-Something V1, hence
skipped)::

    >>> ds = build_dataset("something_v1", root="/data/sth1",  # doctest: +SKIP
    ...                    list_file="train.txt", num_segments=8, batch_size=8,
    ...                    training=True, seed=0)
    >>> ds.steps_per_epoch, ds.records[0].path  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import zlib
from dataclasses import dataclass, field

import numpy as np

from tsm_tf.common.constants import IMAGENET_MEAN, IMAGENET_STD, eval_scale_size
from tsm_tf.common.validation import check_choice
from tsm_tf.data.decode import (
    FRAME_COUNTS,
    FrameCountCache,
    ShortVideoError,
    decode_jpegs,
    read_frame_files,
    read_video_frames,
)
from tsm_tf.data.errors import DataError, ErrorLog, check_on_error
from tsm_tf.data.listfile import VideoRecord, read_list_file
from tsm_tf.data.registry import DatasetSpec, resolve_spec
from tsm_tf.data.sampling import sample_indices
from tsm_tf.data.tfrecord import count_records, is_tfrecord_source, resolve_shards
from tsm_tf.data.transforms import CROP_CHOICES, eval_transform, train_transform

log = logging.getLogger(__name__)

TRAIN_MIN_FRAMES = 3  # the reference drops training clips with fewer frames
MAX_REPLACEMENTS = 8  # training: tries to replace a bad clip by another one


@dataclass
class ClipConfig:
    """What one clip becomes: sampling and spatial transform settings."""

    num_segments: int = 8
    input_size: int = 224
    training: bool = True
    sampling: str = "uniform"
    num_clips: int = 1
    num_crops: int = 1
    full_res: bool = False
    scale_size: int | None = None
    allow_flip: bool = True
    flip_label_map: dict[int, int] | None = None

    @property
    def views(self) -> int:
        return 1 if self.training else self.num_clips * self.num_crops

    @property
    def out_size(self) -> int:
        if self.training or not self.full_res:
            return self.input_size
        return eval_scale_size(self.input_size, self.scale_size)


@dataclass
class ClipLoader:
    """Loads clip ``i`` of ``records`` -> ``(uint8 [V, T, S, S, 3] RGB, label, ok)``.

    Errors become :class:`DataError`; with ``on_error="skip"`` they are counted in ``errors``
    and, in training, the clip is replaced by another random clip (as the reference does),
    so an epoch keeps its length; in evaluation the clip is dropped.
    """

    spec: DatasetSpec
    records: list[VideoRecord]
    cfg: ClipConfig
    on_error: str = "skip"
    errors: ErrorLog = field(default_factory=ErrorLog)
    frame_counts: FrameCountCache = field(default_factory=lambda: FRAME_COUNTS)
    # evaluation: the error of each record index that could not be loaded
    failures: dict[int, DataError] = field(default_factory=dict)

    # -- pieces -------------------------------------------------------------------------
    def sample(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        """``[num_clips, T]`` 1-based indices."""
        clips = 1 if self.cfg.training else self.cfg.num_clips
        return sample_indices(num_frames, self.cfg.num_segments, training=self.cfg.training,
                              sampling=self.cfg.sampling, num_clips=clips, rng=rng)

    def read(self, rec: VideoRecord, rng: np.random.Generator) -> np.ndarray:
        """Decoded BGR frames ``[num_clips * T, H, W, 3]`` of one record."""
        if rec.is_video:
            # A count corrected by an earlier short read wins over the list file's.
            n = (self.frame_counts.known(rec.path) or rec.num_frames
                 or self.frame_counts.get(rec.path))
            before = rng.bit_generator.state
            idx = self.sample(n, rng)
            try:
                return read_video_frames(rec.path, idx.ravel())
            except ShortVideoError as e:  # header over-counted: resample with the true length
                self.frame_counts.set(rec.path, e.actual)
                # the same draws as a read that knew the true length (no history dependence)
                rng.bit_generator.state = before
                return read_video_frames(rec.path, self.sample(e.actual, rng).ravel())
        idx = self.sample(int(rec.num_frames), rng)
        return read_frame_files(rec.path, idx.ravel(), self.spec.frame_template)

    def transform(self, frames: np.ndarray, label: int, rng: np.random.Generator
                  ) -> tuple[np.ndarray, int]:
        """BGR ``[clips*T, H, W, 3]`` -> RGB ``[V, T, S, S, 3]`` and the (maybe swapped) label."""
        cfg = self.cfg
        t = cfg.num_segments
        if cfg.training:
            out, flipped = train_transform(frames, cfg.input_size, rng, cfg.allow_flip)
            if flipped and cfg.flip_label_map:
                label = int(cfg.flip_label_map.get(label, label))
            views = out[None]  # [1, T, S, S, 3]
        else:
            per_clip = frames.reshape(cfg.num_clips, t, *frames.shape[1:])
            views = np.concatenate([
                eval_transform(c, cfg.input_size, cfg.scale_size, cfg.num_crops, cfg.full_res)
                for c in per_clip
            ])  # [clips * crops, T, S, S, 3], clip-major
        return np.ascontiguousarray(views[..., ::-1]), label  # BGR -> RGB

    def empty(self) -> np.ndarray:
        s = self.cfg.out_size
        return np.zeros((self.cfg.views, self.cfg.num_segments, s, s, 3), np.uint8)

    def _error(self, e: Exception, rec: VideoRecord) -> DataError:
        if isinstance(e, DataError):
            return DataError(f"{e} [list entry {rec.where()}]", e.kind)
        return DataError(f"cannot load clip {rec.path} [list entry {rec.where()}]: "
                         f"{type(e).__name__}: {e}", "load_failed")

    # -- entry points -------------------------------------------------------------------
    def load(self, index: int, key: int) -> tuple[np.ndarray, np.int32, bool]:
        rng = np.random.default_rng([int(index), int(key) & 0x7FFFFFFFFFFFFFFF])
        tries = MAX_REPLACEMENTS if self.cfg.training else 1
        i = int(index)
        for _ in range(tries):
            rec = self.records[i]
            try:
                frames = self.read(rec, rng)
                clip, label = self.transform(frames, rec.label, rng)
                return clip, np.int32(label), True
            except Exception as e:  # noqa: BLE001 - every failure is reported the same way
                err = self._error(e, rec)
                if not self.cfg.training:
                    self.failures[i] = err
                self.errors.handle(err, self.on_error)
                log.warning("skipping clip: %s", err)
                i = int(rng.integers(len(self.records)))
        return self.empty(), np.int32(-1), False

    def load_from_jpegs(self, blobs: np.ndarray, label: int, clip_id: bytes, key: int
                        ) -> tuple[np.ndarray, np.int32, bool]:
        """Same as :meth:`load` for one TFRecord example (all its JPEG frames)."""
        where = clip_id.decode("utf-8", "replace")
        rng = np.random.default_rng([zlib.crc32(clip_id), int(key) & 0x7FFFFFFFFFFFFFFF])
        try:
            if len(blobs) == 0:
                raise DataError(f"TFRecord clip {where} has no frames", "short_clip")
            idx = self.sample(len(blobs), rng).ravel() - 1
            frames = decode_jpegs([blobs[k] for k in idx], where=f"TFRecord clip {where}")
            clip, label = self.transform(frames, int(label), rng)
            if self.spec.num_classes and not 0 <= label < self.spec.num_classes:
                raise DataError(f"TFRecord clip {where}: label {label} outside "
                                f"[0, {self.spec.num_classes})", "bad_label")
            return clip, np.int32(label), True
        except Exception as e:  # noqa: BLE001
            err = e if isinstance(e, DataError) else DataError(
                f"cannot load TFRecord clip {where}: {type(e).__name__}: {e}", "load_failed")
            self.errors.handle(err, self.on_error)
            log.warning("skipping clip: %s", err)
            return self.empty(), np.int32(-1), False


def missing_file_error(record: VideoRecord, template: str) -> DataError | None:
    """The error of a record whose folder / video file, or last frame, does not exist."""
    if not os.path.exists(record.path):
        what = "video file" if record.is_video else "frame folder"
        return DataError(f"{record.where()}: {what} {record.path} not found (check root= and "
                         "the list file)", "missing_clip")
    if not record.is_video:
        last = os.path.join(record.path, template.format(record.num_frames))
        if not os.path.isfile(last):
            return DataError(
                f"{record.where()}: missing frame file {last} (the list says "
                f"{record.num_frames} frames; re-extract the clip or fix its frame count)",
                "missing_frame")
    return None


def _check_files(records: list[VideoRecord], template: str, on_error: str, errors: ErrorLog
                 ) -> list[VideoRecord]:
    """Drop (or raise on) records whose folder / video file, or last frame, does not exist."""
    kept = []
    for r in records:
        error = missing_file_error(r, template)
        if error is not None:
            errors.handle(error, on_error)
            continue
        kept.append(r)
    if not kept:
        raise DataError(f"no clip of the list exists on disk ({errors.report()})", "empty_list")
    return kept


def load_records(
    spec: DatasetSpec,
    root: str | None,
    list_file: str,
    training: bool = True,
    on_error: str = "skip",
    check_files: bool = True,
    fmt: str = "auto",
    errors: ErrorLog | None = None,
) -> list[VideoRecord]:
    """The list's records after validation (labels, frame counts, files on disk)."""
    errors = errors if errors is not None else ErrorLog()
    recs = read_list_file(list_file, root=root, fmt=fmt, num_classes=spec.num_classes,
                          on_error=on_error, min_frames=TRAIN_MIN_FRAMES if training else 1,
                          error_log=errors)
    if check_files:
        recs = _check_files(recs, spec.frame_template, on_error, errors)
    return recs


def dataset_size(
    dataset: str | DatasetSpec = "synthetic",
    root: str | None = None,
    list_file: str | None = None,
    training: bool = True,
    batch_size: int | None = None,
    drop_remainder: bool | None = None,
    input_context=None,
) -> int:
    """Number of clips (or of batches, when ``batch_size`` is given) the pipeline yields.

    With an ``input_context``, counts this worker's shard and per-replica batches.
    """
    spec = resolve_spec(dataset)
    if list_file is None:
        raise ValueError("dataset_size needs list_file")
    if is_tfrecord_source(list_file):
        files, n = resolve_shards(list_file)
        n = n if n is not None else count_records(files)
    else:
        n = len(load_records(spec, root, list_file, training, on_error="skip",
                             check_files=False))
    if input_context is not None:
        k, i = input_context.num_input_pipelines, input_context.input_pipeline_id
        n = len(range(i, n, k))
    if batch_size is None:
        return n
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
    drop = training if drop_remainder is None else drop_remainder
    return n // batch_size if drop else -(-n // batch_size)


def _normalize(clips, labels):
    import tensorflow as tf

    x = tf.cast(clips, tf.float32) * (1.0 / 255.0)
    x = (x - tf.constant(IMAGENET_MEAN, tf.float32)) / tf.constant(IMAGENET_STD, tf.float32)
    return x, labels


def build_dataset(
    dataset: str | DatasetSpec = "synthetic",
    root: str | None = None,
    list_file: str | None = None,
    num_segments: int = 8,
    input_size: int = 224,
    batch_size: int = 8,
    training: bool = True,
    sampling: str | None = None,
    num_clips: int = 1,
    num_crops: int = 1,
    full_res: bool = False,
    scale_size: int | None = None,
    seed: int | None = None,
    deterministic: bool = False,
    on_error: str = "skip",
    shuffle: bool | None = None,
    drop_remainder: bool | None = None,
    input_context=None,
    *,
    fmt: str = "auto",
    check_files: bool = True,
    num_parallel_calls: int | None = None,
    prefetch: int | None = None,
    shuffle_buffer: int = 512,
    allow_flip: bool | None = None,
    keep_failed: bool = False,
):
    """Build a ``tf.data.Dataset`` of ``(clips, labels)`` batches.

    Args:
        dataset: registry name or a :class:`DatasetSpec`.
        root: folder the list's relative paths start from.
        list_file: list file (frame folders or videos), or a TFRecord source (index JSON
            written by ``prepare``, a ``.tfrecord`` file, a glob, or a folder of shards).
        num_segments: frames per clip ``T``.
        input_size: crop side ``S``.
        batch_size: global batch; with ``input_context`` each replica gets its share.
        training: training sampling + augmentation, else evaluation transforms.
        sampling: ``"uniform"`` or ``"dense"`` (default: the dataset's).
        num_clips, num_crops, full_res, scale_size: evaluation views (ignored in training).
        seed: makes sampling, augmentation and shuffling reproducible.
        deterministic: keep element order fixed despite parallel loading (seed 0 if None).
            Evaluation always keeps the list order (predictions pair with ``ds.records``).
        on_error: ``"raise"`` stops at the first bad sample; ``"skip"`` counts and drops it
            (training replaces it by another clip). See ``ds.errors.report()``.
        shuffle: default: ``training``. drop_remainder: default: ``training``.
        input_context: ``tf.distribute.InputContext``: shard clips across input pipelines
            and batch per replica (for ``distribute_datasets_from_function``).
        fmt: list format (``"auto"``, ``"frames"``, ``"video"``).
        check_files: check every listed folder / video (and the last frame of each folder)
            exists before starting, so those errors come before any tf.data work. Decoding
            errors in ``"raise"`` mode stop iteration with a ``tf.errors.OpError`` whose
            message holds the DataError text (file and list line).
        allow_flip: override the dataset's flip policy (flips then use its label-swap map).
        keep_failed: evaluation: yield ``(clips, labels, ok)`` with every clip of the list in
            order, an unreadable one as zeros with ``ok`` False (its error in
            ``ds.loader.failures``), instead of dropping it or stopping: the caller decides.

    Returns:
        The dataset, with extra attributes ``records`` (list of VideoRecord, None for
        TFRecords), ``num_samples``, ``steps_per_epoch``, ``errors`` (ErrorLog) and ``spec``.
    """
    check_on_error(on_error)
    spec = resolve_spec(dataset)
    cfg = _clip_config(spec, list_file, num_segments, input_size, batch_size, training, sampling,
                       num_clips, num_crops, full_res, scale_size, allow_flip)
    shuffle = training if shuffle is None else shuffle
    drop_remainder = training if drop_remainder is None else drop_remainder
    if deterministic and seed is None:
        seed = 0
    read = _ReadOptions(
        seed=seed, shuffle=shuffle, ordered=bool(deterministic or not training),
        shuffle_buffer=shuffle_buffer, num_parallel_calls=num_parallel_calls,
        shard=_shard(input_context))
    errors = ErrorLog()
    # With keep_failed the loader never raises: unreadable clips come out flagged.
    loader_on_error = "skip" if keep_failed else on_error
    if is_tfrecord_source(list_file):
        loader = ClipLoader(spec, [], cfg, loader_on_error, errors)
        ds, num_samples = _tfrecord_clips(list_file, loader, read)
        records = None
    else:
        records = load_records(spec, root, list_file, training, on_error, check_files, fmt,
                               errors)
        loader = ClipLoader(spec, records, cfg, loader_on_error, errors)
        ds, num_samples = _list_clips(records, loader, read)
    per_replica = (batch_size if input_context is None
                   else input_context.get_per_replica_batch_size(batch_size))
    ds = _batches(ds, cfg, per_replica, drop_remainder, keep_failed, prefetch, read.ordered,
                  input_context is not None)
    ds.records = records
    ds.num_samples = num_samples
    ds.steps_per_epoch = (num_samples // per_replica if drop_remainder
                          else -(-num_samples // per_replica))
    ds.errors = errors
    ds.spec = spec
    ds.loader = loader
    return ds


@dataclass(frozen=True)
class _ReadOptions:
    """How clips are read: order, shuffling, parallelism and this worker's shard."""

    seed: int | None
    shuffle: bool
    ordered: bool  # evaluation and deterministic runs keep the element order
    shuffle_buffer: int
    num_parallel_calls: int | None
    shard: tuple[int, int] | None  # (number of input pipelines, this pipeline's index)


def _shard(input_context) -> tuple[int, int] | None:
    if input_context is None:
        return None
    return input_context.num_input_pipelines, input_context.input_pipeline_id


def _clip_config(spec: DatasetSpec, list_file, num_segments: int, input_size: int,
                 batch_size: int, training: bool, sampling: str | None, num_clips: int,
                 num_crops: int, full_res: bool, scale_size: int | None,
                 allow_flip: bool | None) -> ClipConfig:
    """Check the arguments and resolve what one clip becomes."""
    if list_file is None:
        raise ValueError("build_dataset needs list_file (a list file or TFRecord source). "
                         "For the synthetic set, generate it first (tsm_tf.data.synthetic).")
    if num_segments < 1 or input_size < 8 or batch_size < 1:
        raise ValueError(f"bad sizes: num_segments={num_segments}, input_size={input_size}, "
                         f"batch_size={batch_size}")
    cfg = ClipConfig(
        num_segments=num_segments, input_size=input_size, training=training,
        sampling=sampling or spec.sampling, num_clips=num_clips, num_crops=num_crops,
        full_res=full_res, scale_size=scale_size,
        allow_flip=spec.allow_flip if allow_flip is None else allow_flip,
        flip_label_map=spec.flip_label_map,
    )
    if cfg.sampling not in ("uniform", "dense"):
        raise ValueError(f"sampling must be 'uniform' or 'dense'. Received: {cfg.sampling!r}")
    if not training:
        check_choice("num_crops", num_crops, CROP_CHOICES)
    return cfg


def _load_fn(load, *args):
    """``tf.numpy_function`` wrapper of a loader entry point -> ``(clip, label, ok)``."""
    import tensorflow as tf

    return tuple(tf.numpy_function(load, list(args), [tf.uint8, tf.int32, tf.bool],
                                   stateful=True))


def _tfrecord_clips(list_file: str, loader: ClipLoader, read: _ReadOptions):
    """``(clip, label, ok)`` elements from TFRecord shards, and the number of clips."""
    import tensorflow as tf

    from tsm_tf.data.tfrecord import parse_example

    auto = tf.data.AUTOTUNE
    files, n = resolve_shards(list_file)
    shard = read.shard
    fds = tf.data.Dataset.from_tensor_slices(files)
    shard_records = bool(shard)
    if shard and len(files) >= shard[0]:
        fds = fds.shard(*shard)
        shard_records = False
    if read.shuffle:
        fds = fds.shuffle(len(files), seed=read.seed, reshuffle_each_iteration=True)
    # Shuffled: read up to 4 shards at once. Else one after the other (list order).
    ds = fds.interleave(tf.data.TFRecordDataset,
                        cycle_length=min(4, len(files)) if read.shuffle else 1,
                        num_parallel_calls=auto, deterministic=read.ordered or None)
    if shard_records:
        ds = ds.shard(*shard)
    if read.shuffle:
        ds = ds.shuffle(read.shuffle_buffer, seed=read.seed, reshuffle_each_iteration=True)
    ds = ds.map(parse_example, num_parallel_calls=auto, deterministic=read.ordered or None)
    keys = tf.data.Dataset.random(seed=read.seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((ds, keys)).map(
        lambda ex, key: _load_fn(loader.load_from_jpegs, ex["frames"], ex["label"],
                                 ex["path"], key),
        num_parallel_calls=read.num_parallel_calls or auto,
        deterministic=read.ordered or None)
    num_samples = n if n is not None else count_records(files)
    if shard:
        num_samples = len(range(shard[1], num_samples, shard[0]))
    return ds, num_samples


def _list_clips(records: list[VideoRecord], loader: ClipLoader, read: _ReadOptions):
    """``(clip, label, ok)`` elements of a list file's records, and their number."""
    import tensorflow as tf

    shard = read.shard
    ids = tf.data.Dataset.range(len(records))
    if shard:
        ids = ids.shard(*shard)
    num_samples = len(range(shard[1], len(records), shard[0])) if shard else len(records)
    if read.shuffle:
        ids = ids.shuffle(max(num_samples, 1), seed=read.seed, reshuffle_each_iteration=True)
    keys = tf.data.Dataset.random(seed=read.seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((ids, keys)).map(
        lambda i, key: _load_fn(loader.load, i, key),
        num_parallel_calls=read.num_parallel_calls or tf.data.AUTOTUNE,
        deterministic=read.ordered or None)
    return ds, num_samples


def _batches(ds, cfg: ClipConfig, per_replica: int, drop_remainder: bool, keep_failed: bool,
             prefetch: int | None, ordered: bool, distributed: bool):
    """Shapes, (drop failed clips,) batch, normalise, prefetch, options."""
    import tensorflow as tf

    s, t, v = cfg.out_size, cfg.num_segments, cfg.views
    out_shape = (v, t, s, s, 3)

    def finish(clip, label, ok):
        clip = tf.ensure_shape(clip, out_shape)
        if v == 1:
            clip = clip[0]  # [T, S, S, 3]
        return clip, tf.ensure_shape(label, ()), tf.ensure_shape(ok, ())

    if not keep_failed:
        ds = ds.filter(lambda clip, label, ok: ok)
    ds = ds.map(finish).batch(per_replica, drop_remainder=drop_remainder)
    if keep_failed:
        ds = ds.map(lambda clips, labels, ok: (*_normalize(clips, labels), ok),
                    num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda clips, labels, ok: _normalize(clips, labels),
                    num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.prefetch(prefetch or tf.data.AUTOTUNE)
    opts = tf.data.Options()
    opts.deterministic = ordered
    if distributed:
        opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return ds.with_options(opts)

"""TFRecord shards: one ``tf.train.Example`` per clip, every frame JPEG-encoded.

Features: ``path`` (bytes, the clip id used in error messages), ``label`` (int64),
``num_frames`` (int64), ``frames`` (bytes list, frame 1 first).

A shard set is described by an index JSON written next to the shards::

    {"format": "tsm_tf.tfrecord.v1", "num_clips": 120,
     "shards": [{"file": "train-00000-of-00004.tfrecord", "num_clips": 30}, ...]}

Example (``jpeg1``, ``jpeg2``: encoded frames, e.g. from ``cv2.imencode``; skipped)::

    >>> write_shard("train-00000-of-00001.tfrecord",  # doctest: +SKIP
    ...             [("clip0", 3, [jpeg1, jpeg2])])
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterable, Sequence

from tsm_tf.data.errors import DataError
from tsm_tf.io_utils import atomic_write_text

INDEX_FORMAT = "tsm_tf.tfrecord.v1"
TFRECORD_EXTENSIONS = (".tfrecord", ".tfrecords")


def shard_name(prefix: str, i: int, n: int) -> str:
    return f"{prefix}-{i:05d}-of-{n:05d}.tfrecord"


def make_example(path: str, label: int, frames: Sequence[bytes]):
    import tensorflow as tf

    feat = {
        "path": tf.train.Feature(bytes_list=tf.train.BytesList(value=[path.encode("utf-8")])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
        "num_frames": tf.train.Feature(int64_list=tf.train.Int64List(value=[len(frames)])),
        "frames": tf.train.Feature(bytes_list=tf.train.BytesList(value=list(frames))),
    }
    return tf.train.Example(features=tf.train.Features(feature=feat))


def write_shard(path: str, clips: Iterable[tuple[str, int, Sequence[bytes]]]) -> int:
    """Write ``(clip_id, label, jpeg_frames)`` tuples to one shard, atomically. Returns count."""
    import tensorflow as tf

    tmp = f"{path}.tmp-{os.getpid()}"
    n = 0
    try:
        with tf.io.TFRecordWriter(tmp) as w:
            for clip_id, label, frames in clips:
                w.write(make_example(clip_id, label, frames).SerializeToString())
                n += 1
        os.replace(tmp, path)
    finally:  # a failed shard leaves no temp file behind
        if os.path.exists(tmp):
            os.unlink(tmp)
    return n


def write_index(path: str, shards: list[dict], **extra) -> None:
    total = sum(int(s["num_clips"]) for s in shards)
    doc = {"format": INDEX_FORMAT, "num_clips": total, "shards": shards, **extra}
    atomic_write_text(path, json.dumps(doc, indent=1) + "\n")


def parse_example(serialized):
    """Graph-side parser: ``-> dict(path, label, num_frames, frames[string, n])``."""
    import tensorflow as tf

    spec = {
        "path": tf.io.FixedLenFeature([], tf.string),
        "label": tf.io.FixedLenFeature([], tf.int64),
        "num_frames": tf.io.FixedLenFeature([], tf.int64),
        "frames": tf.io.VarLenFeature(tf.string),
    }
    ex = tf.io.parse_single_example(serialized, spec)
    ex["frames"] = tf.sparse.to_dense(ex["frames"], default_value=b"")
    return ex


def is_tfrecord_source(source: str) -> bool:
    """True for an index JSON, a ``.tfrecord`` file, a glob of them, or a folder holding them."""
    if source.endswith(".json") or source.endswith(TFRECORD_EXTENSIONS):
        return True
    if any(c in source for c in "*?["):
        return True
    return os.path.isdir(source) and bool(_shards_in_dir(source))


def _shards_in_dir(folder: str) -> list[str]:
    return sorted(p for ext in TFRECORD_EXTENSIONS for p in glob.glob(os.path.join(folder,
                                                                                   "*" + ext)))


def resolve_shards(source: str) -> tuple[list[str], int | None]:
    """Shard files and clip count (None if unknown: no index) of a TFRecord source."""
    if source.endswith(".json"):
        try:
            with open(source, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise DataError(f"cannot read TFRecord index {source}: {e}", "missing_list") from e
        if doc.get("format") != INDEX_FORMAT:
            raise DataError(f"{source}: not a tsm_tf TFRecord index (format "
                            f"{doc.get('format')!r}, expected {INDEX_FORMAT!r})", "bad_line")
        base = os.path.dirname(source)
        files = [os.path.join(base, s["file"]) for s in doc["shards"]]
        missing = [p for p in files if not os.path.isfile(p)]
        if missing:
            raise DataError(f"{source}: shard(s) missing: {missing[:3]} (re-run prepare with "
                            "--tfrecords; finished shards are kept)", "missing_list")
        return files, int(doc["num_clips"])
    if os.path.isdir(source):
        files = _shards_in_dir(source)
    elif any(c in source for c in "*?["):
        files = sorted(glob.glob(source))
    else:
        files = [source] if os.path.isfile(source) else []
    if not files:
        raise DataError(f"no TFRecord shards found at {source}", "missing_list")
    return files, None


def count_records(files: Sequence[str]) -> int:
    """Count examples by reading the shards (used when there is no index)."""
    import tensorflow as tf

    return int(sum(1 for _ in tf.data.TFRecordDataset(list(files))))

"""The trainer's view of its data: clips per worker, steps per epoch, and the datasets.

Multi-worker sharding follows ``tsm_tf.data.pipeline.build_dataset``: TFRecord sources with at
least as many files as workers are split by file (worker i reads files i, i+W, ...), anything
else by clip (clips i, i+W, ...). An epoch is as many steps as the worker with the fewest clips
can take, so no worker wraps around its shard inside an epoch.
"""

from __future__ import annotations

from tsm_tf.data.registry import DatasetSpec


def worker_clip_counts(spec: DatasetSpec, root: str | None, list_file: str, workers: int,
                       training: bool = True) -> list[int]:
    """Clips each of ``workers`` input pipelines reads from ``list_file``."""
    from tsm_tf.data.pipeline import dataset_size
    from tsm_tf.data.tfrecord import is_tfrecord_source, shard_counts

    if is_tfrecord_source(list_file):
        counts = shard_counts(list_file)
        if workers > 1 and len(counts) >= workers:
            return [sum(n for _, n in counts[i::workers]) for i in range(workers)]
        total = sum(n for _, n in counts)
    else:
        total = dataset_size(spec, root, list_file, training=training)
    return [len(range(i, total, workers)) for i in range(workers)]


def steps_per_epoch(counts: list[int], clips_per_step: int) -> int:
    """Steps every worker can take; ``clips_per_step`` = per-replica batch x local replicas."""
    steps = min(c // clips_per_step for c in counts)
    if steps < 1:
        raise ValueError(f"a worker's share holds {min(counts)} clips, fewer than one step "
                         f"({clips_per_step} clips); lower --batch-size or add clips.")
    return steps


def tfrecord_files(list_file: str | None) -> list[str]:
    """The shard files of a TFRecord source ([] for a list file)."""
    from tsm_tf.data.tfrecord import is_tfrecord_source, resolve_shards

    if not list_file or not is_tfrecord_source(list_file):
        return []
    return resolve_shards(list_file)[0]


def explain_data_loss(error: Exception, *list_files: str | None) -> Exception:
    """A ``DataLossError`` from the input pipeline -> a ``DataError`` naming the damaged file
    (found by reading each shard), or the original error if none is found."""
    from tsm_tf.data.tfrecord import find_corrupt_file

    files = [f for source in list_files for f in tfrecord_files(source)]
    return find_corrupt_file(files) or error

"""Data-parallel training with ``tf.distribute``.

- one machine, several GPUs: ``MirroredStrategy`` (``--distribute mirrored``, or ``auto`` when
  more than one GPU is visible);
- several machines: ``MultiWorkerMirroredStrategy`` (``--distribute multiworker``, or ``auto``
  when ``TF_CONFIG`` is set). Start the same command on every machine, each with its own
  ``TF_CONFIG``::

      # machine 0 (the chief: writes checkpoints and logs)
      TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]},
                  "task": {"type": "worker", "index": 0}}' python -m tsm_tf.train ...
      # machine 1: same cluster, "index": 1

  Every worker reads the same list file; the trainer shards the clips (worker i takes clips
  i, i + W, ...), splits the global ``--batch-size`` evenly across all replicas, all-reduces
  gradients every step (ring/NCCL collectives on GPUs) and keeps BatchNorm statistics
  synchronised across replicas (``sync_bn``), so the run is the same optimisation as one
  process on the global batch. ``--output-dir`` should be on shared storage; only the chief
  writes it (the others write to ``<output-dir>/.worker<i>`` scratch dirs).
"""

from __future__ import annotations

import json
import os

import tensorflow as tf


def _tf_config() -> dict:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e}): {raw[:200]}") from e


def make_strategy(mode: str = "auto") -> tf.distribute.Strategy:
    """``"auto" | "none" | "mirrored" | "multiworker"`` -> a ``tf.distribute.Strategy``."""
    if mode == "auto":
        if len(_tf_config().get("cluster", {}).get("worker", [])) > 1:
            mode = "multiworker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            mode = "mirrored"
        else:
            mode = "none"
    if mode == "none":
        return tf.distribute.get_strategy()
    if mode == "mirrored":
        return tf.distribute.MirroredStrategy()
    if mode == "multiworker":
        if not _tf_config():
            raise ValueError("--distribute multiworker needs TF_CONFIG (the cluster and this "
                             "worker's index); see `python -m tsm_tf.train --help`.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"distribute must be auto, none, mirrored or multiworker. Received: {mode!r}")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes checkpoints and logs (worker 0, or a single process)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type in ("chief", None) or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def worker_index(strategy: tf.distribute.Strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(getattr(resolver, "task_id", 0) or 0) if resolver is not None else 0


def num_replicas(strategy: tf.distribute.Strategy) -> int:
    return int(strategy.num_replicas_in_sync)


def distribute_dataset(strategy: tf.distribute.Strategy, make_dataset, global_batch: int):
    """A dataset (or distributed dataset) the model's ``fit`` consumes.

    ``make_dataset(input_context)`` builds one input pipeline; with several replicas it is
    called once per pipeline with a ``tf.distribute.InputContext`` (shards clips across workers,
    per-replica batch = global batch / replicas).
    """
    if num_replicas(strategy) == 1 and not _is_multiworker(strategy):
        return make_dataset(None)
    if global_batch % num_replicas(strategy):
        raise ValueError(f"--batch-size {global_batch} must be divisible by the number of "
                         f"replicas ({num_replicas(strategy)}).")
    return strategy.distribute_datasets_from_function(make_dataset)


def _is_multiworker(strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def num_workers(strategy: tf.distribute.Strategy) -> int:
    """Machines (input pipelines) in the cluster: workers plus a chief; 1 without a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not _is_multiworker(strategy):
        return 1
    spec = resolver.cluster_spec().as_dict()
    return max(1, len(spec.get("worker", [])) + len(spec.get("chief", [])))

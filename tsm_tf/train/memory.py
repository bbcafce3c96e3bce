"""Training memory: an estimate made before the first step, checked against what is free.

estimate = activations kept for the backward pass (every layer's output for the clips of one
step, ``ACTIVATION_FACTOR`` x their sum) + weights and gradients + optimizer slots + input
pipeline buffers + the TensorFlow runtime itself. Calibrated on this package's models against
the measured peak RSS of real runs (see ``docs/training.md``).

Example (needs a dataset or a model, so not run as a doctest)::
    est = estimate_memory(model_kwargs, clips_per_step=8, optimizer="sgd")
    est.total / 2**30
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

GIB = 2**30
# Fitted to the peak RSS of two measured runs (resnet18 112 px batch 8, resnet_tiny 64 px batch
# 16; 8 frames, 2-core CPU, docs/training.md): training holds ~1.5x the sum of the layer outputs
# (the backward pass's saved inputs plus transient gradients), over ~0.75 GiB of TensorFlow,
# Keras and the compiled step.
ACTIVATION_FACTOR = 1.5
RUNTIME_BYTES = int(0.75 * GIB)
PIPELINE_BATCHES = 4  # batches alive in the input pipeline (parallel loads, batching, prefetch)
OPTIMIZER_SLOTS = {"sgd": 1, "adam": 2}


@dataclass
class MemoryEstimate:
    activations: int
    weights: int  # weights + gradients (+ accumulators)
    optimizer: int
    pipeline: int
    runtime: int = RUNTIME_BYTES

    @property
    def total(self) -> int:
        return self.activations + self.weights + self.optimizer + self.pipeline + self.runtime

    def describe(self) -> str:
        parts = ", ".join(f"{k} {getattr(self, k) / GIB:.1f}" for k in
                          ("activations", "weights", "optimizer", "pipeline", "runtime"))
        return f"{self.total / GIB:.1f} GiB ({parts} GiB)"


def _layer_output_elements(model_kwargs: dict[str, Any]) -> tuple[int, int]:
    """(sum of every layer's output elements for ONE clip, parameter count)."""
    import keras

    from tsm_tf.models import TSM

    model = TSM(**model_kwargs, batch_size=1)
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        for out in keras.tree.flatten(layer.output):
            total += math.prod(int(d) for d in out.shape)
    return total, model.count_params()


def estimate_memory(model_kwargs: dict[str, Any], clips_per_step: int, optimizer: str,
                    accum_steps: int = 1, mixed_precision: bool = False,
                    _elements: tuple[int, int] | None = None) -> MemoryEstimate:
    """Bytes one process needs to train ``TSM(**model_kwargs)`` on ``clips_per_step`` clips
    per step (its replicas' share of the micro-batch)."""
    elements, params = _elements or _layer_output_elements(model_kwargs)
    act_bytes = 2 if mixed_precision else 4
    t = int(model_kwargs["num_segments"])
    size = model_kwargs["input_size"]
    h, w = (size, size) if isinstance(size, int) else size
    clip_bytes = t * h * w * 3 * 4
    return MemoryEstimate(
        activations=int(ACTIVATION_FACTOR * elements * act_bytes * clips_per_step),
        weights=params * 4 * (2 + (1 if accum_steps > 1 else 0)),
        optimizer=params * 4 * OPTIMIZER_SLOTS.get(optimizer, 2),
        pipeline=PIPELINE_BATCHES * clips_per_step * clip_bytes,
    )


def available_memory() -> int | None:
    """Bytes this process can still use: ``MemAvailable``, capped by a cgroup limit."""
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
    except OSError:
        pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as f:
                raw = f.read().strip()
            with open(usage_file) as f:
                used = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if raw.isdigit() and int(raw) < 2**60:
            free = int(raw) - used
            avail = free if avail is None else min(avail, free)
    if avail is None and hasattr(os, "sysconf"):
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            pass
    return avail


def what_fits(model_kwargs: dict[str, Any], global_batch: int, replicas: int, optimizer: str,
              available: int, elements: tuple[int, int]) -> list[str]:
    """Flag sets that fit in ``available`` bytes: fewer clips per step (same global batch
    through --accum-steps), else a smaller input size, else a smaller architecture."""
    per_replica = global_batch // replicas
    for clips in [d for d in range(per_replica, 0, -1) if per_replica % d == 0]:
        accum = per_replica // clips
        est = estimate_memory(model_kwargs, clips, optimizer, accum, _elements=elements)
        if est.total <= available:
            return [f"--batch-size {global_batch} --accum-steps {accum} ({clips} clips per step "
                    f"and replica, same global batch; about {est.total / GIB:.1f} GiB)"]
    hints = []
    size = model_kwargs["input_size"]
    side = size if isinstance(size, int) else size[0]
    for smaller in (side * 3 // 4, side // 2, 112, 64):
        if smaller >= side or smaller < 32:
            continue
        scale = (smaller / side) ** 2
        scaled = (int(elements[0] * scale), elements[1])
        est = estimate_memory({**model_kwargs, "input_size": smaller}, 1, optimizer,
                              per_replica, _elements=scaled)
        if est.total <= available:
            hints.append(f"--input-size {smaller} --accum-steps {per_replica} (about "
                         f"{est.total / GIB:.1f} GiB)")
            break
    for arch in ("resnet18", "mobilenetv2", "resnet_tiny"):
        if arch == model_kwargs["arch"]:
            continue
        kw = {**model_kwargs, "arch": arch, "non_local": False, "temporal_pool": False}
        est = estimate_memory(kw, 1, optimizer, per_replica)
        if est.total <= available:
            hints.append(f"--arch {arch} --accum-steps {per_replica} (about "
                         f"{est.total / GIB:.1f} GiB)")
            break
    return hints


def check_memory(model_kwargs: dict[str, Any], *, global_batch: int, replicas: int,
                 accum_steps: int, optimizer: str, mixed_precision: bool = False,
                 available: int | None = None) -> MemoryEstimate:
    """Estimate, compare with the free memory, and raise ``MemoryError`` naming the estimate,
    the memory there is and what would fit; return the estimate when it fits."""
    elements = _layer_output_elements(model_kwargs)
    clips = global_batch // replicas // accum_steps
    est = estimate_memory(model_kwargs, clips, optimizer, accum_steps, mixed_precision,
                          _elements=elements)
    available = available_memory() if available is None else available
    if available is None or est.total <= available:
        return est
    size = model_kwargs["input_size"]
    fits = what_fits(model_kwargs, global_batch, replicas, optimizer, available, elements)
    raise MemoryError(
        f"training {model_kwargs['arch']} on {clips} clips per step ({model_kwargs['num_segments']}"
        f" frames at {size} px) needs about {est.describe()}, but only "
        f"{available / GIB:.1f} GiB is available; the kernel would kill the run. "
        + (f"What fits: {'; or '.join(fits)}. " if fits else "Nothing smaller fits either. ")
        + "(--no-memory-check skips this check.)")

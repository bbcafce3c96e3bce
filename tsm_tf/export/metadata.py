"""Build the sidecar dict of a converted model (``docs/sidecar.md``, format ``tsm_tf.sidecar``).

Everything about tensors (names, shapes, dtypes, quantization) is read from the converted
flatbuffer itself, so the sidecar describes the file it ships with.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np

from tsm_tf.export.flatbuffer import FlatbufferModel, TensorInfo
from tsm_tf.runtime.preprocess import preprocess_spec_for
from tsm_tf.sidecar import FORMAT, VERSION

__all__ = ["build_sidecar", "state_entries", "temporal_spec", "tensor_spec"]

DENSE_WINDOW = 64  # dense sampling: T frames at stride 64 // T (tsm_tf.data.sampling)


def _quantization(tensor: TensorInfo) -> dict | None:
    pair = tensor.scale_zero_point
    if pair is None or tensor.dtype == "float32":
        return None
    return {"scale": pair[0], "zero_point": pair[1]}


def tensor_spec(tensor: TensorInfo, name: str) -> dict:
    """``{"name", "shape", "dtype", "quantization"}`` of a signature tensor."""
    return {"name": name, "shape": list(tensor.shape), "dtype": tensor.dtype,
            "quantization": _quantization(tensor)}


def temporal_spec(num_segments: int, sampling: str = "uniform",
                  frame_counts: list[int] | None = None, fps: float | None = None) -> dict:
    """How far apart the training frames were, in source frames (and seconds if ``fps``).

    Uniform (TSN) sampling takes one frame per segment: the stride is the mean clip length over
    ``num_segments`` (``frame_counts`` of the training clips; unknown without them). Dense
    sampling uses a fixed stride of ``64 // num_segments``.
    """
    if sampling == "dense":
        stride = float(max(1, DENSE_WINDOW // num_segments))
    elif frame_counts:
        stride = float(np.mean(frame_counts)) / num_segments
    else:
        stride = None
    return {
        "sampling": "dense" if sampling == "dense" else "tsn",
        "train_frame_stride": None if stride is None else round(stride, 4),
        "dataset_fps": fps,
        "train_stride_seconds": None if stride is None or not fps else round(stride / fps, 4),
    }


def state_entries(parsed: FlatbufferModel, state_names: list[str]) -> list[dict]:
    """One entry per cache, in network order, with the quantization of both ends."""
    entries = []
    for name in state_names:
        inp = parsed.signature_tensor(name)
        out = parsed.signature_tensor(name, output=True)
        q_in, q_out = _quantization(inp), _quantization(out)
        entries.append({
            "input": name, "output": name, "shape": list(inp.shape), "dtype": inp.dtype,
            "input_quantization": q_in, "output_quantization": q_out,
            "requantize": q_in != q_out,
        })
    return entries


def build_sidecar(
    *,
    name: str,
    parsed: FlatbufferModel,
    tsm_config: dict,
    mode: str,
    frames_per_step: int,
    input_name: str,
    state_names: list[str],
    labels: list[str],
    temporal: dict,
    source: dict,
    conversion: dict,
    mean: list[float],
    std: list[float],
    scale_size: int | None = None,
    report: dict | None = None,
) -> dict:
    """The sidecar of one converted model (see ``docs/sidecar.md`` for every field)."""
    from tsm_tf import __version__

    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in tsm_config.items()}
    height, width = tsm_config["input_size"]
    image = tensor_spec(parsed.signature_tensor(input_name), input_name)
    logits = tensor_spec(parsed.signature_tensor("logits", output=True), "logits")
    created = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": {
            "name": name,
            "mode": mode,
            "arch": tsm_config["arch"],
            "shift": tsm_config["shift"],
            "num_classes": int(tsm_config["num_classes"]),
            "num_segments": int(tsm_config["num_segments"]),
            "frames_per_step": int(frames_per_step),
            "tsm_config": config,
        },
        "labels": list(labels),
        "input": {**image, "color": "RGB", "mean": list(mean), "std": list(std)},
        "preprocess": preprocess_spec_for((height, width), scale_size),
        "output": logits,
        "states": state_entries(parsed, state_names),
        "temporal": temporal,
        "source": source,
        "conversion": {**conversion, "tsm_tf_version": __version__, "created": created},
        "report": report or {},
    }

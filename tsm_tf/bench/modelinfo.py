"""What a results row says about a model: size and precision, read from the flatbuffer."""

from __future__ import annotations

import os

import numpy as np


def model_size_mb(path: str | os.PathLike) -> float:
    return os.path.getsize(path) / 1e6


def quantization_of(path: str | os.PathLike) -> str:
    """``int8`` / ``uint8`` (integer frame input), ``float16`` or ``dynamic`` (reduced-precision
    weights, float activations) or ``float32``, from the tensors of the model."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=os.fspath(path))
    inputs = interpreter.get_input_details()
    frame_dtypes = {np.dtype(d["dtype"]) for d in inputs}
    if np.dtype(np.int8) in frame_dtypes:
        return "int8"
    if np.dtype(np.uint8) in frame_dtypes:
        return "uint8"
    tensor_dtypes = {np.dtype(t["dtype"]) for t in interpreter.get_tensor_details()}
    if np.dtype(np.float16) in tensor_dtypes:
        return "float16"
    if np.dtype(np.int8) in tensor_dtypes:
        return "dynamic"
    return "float32"

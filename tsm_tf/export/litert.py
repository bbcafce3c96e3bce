"""Run TFLite models on LiteRT (``ai-edge-litert``) through their named signature."""

from __future__ import annotations

import os

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from tsm_tf.export.flatbuffer import read_flatbuffer


def _interpreter(model: bytes | str | os.PathLike, num_threads: int | None = None) -> Interpreter:
    if isinstance(model, bytes | bytearray):
        return Interpreter(model_content=bytes(model), num_threads=num_threads)
    return Interpreter(model_path=os.fspath(model), num_threads=num_threads)


class LiteRTModel:
    """A TFLite model called with a dict of float arrays, returning a dict of float arrays.

    Int8 inputs are quantized and int8 outputs dequantized with each tensor's own scale and
    zero point, so float and int8 models are called the same way.

    Example:
        >>> runner = LiteRTModel(flatbuffer)
        >>> outputs = runner({"image": frame, **states})
    """

    def __init__(self, model: bytes | str | os.PathLike, num_threads: int | None = None,
                 signature: str = "serving_default"):
        self.interpreter = _interpreter(model, num_threads)
        self.runner = self.interpreter.get_signature_runner(signature)
        self.input_details = self.runner.get_input_details()
        self.output_details = self.runner.get_output_details()

    @property
    def input_names(self) -> list[str]:
        return list(self.input_details)

    @property
    def output_names(self) -> list[str]:
        return list(self.output_details)

    def quantization(self, name: str, *, output: bool = False) -> tuple[float, int]:
        """(scale, zero point) of a signature input (or output); (0.0, 0) when float."""
        details = (self.output_details if output else self.input_details)[name]
        scale, zero_point = details["quantization"]
        return float(scale), int(zero_point)

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = set(self.input_details) - set(inputs)
        if missing:
            raise ValueError(
                f"Missing inputs {sorted(missing)}; the model takes {self.input_names}."
            )
        feed = {}
        for name, details in self.input_details.items():
            value = np.asarray(inputs[name], np.float32)
            if tuple(value.shape) != tuple(details["shape"]):
                raise ValueError(
                    f"Input {name!r} has shape {value.shape}, the model expects "
                    f"{tuple(details['shape'])}."
                )
            feed[name] = _to_dtype(value, details)
        raw = self.runner(**feed)
        return {name: _to_float(raw[name], self.output_details[name]) for name in raw}


def _to_dtype(value: np.ndarray, details: dict) -> np.ndarray:
    dtype = details["dtype"]
    if dtype == np.float32:
        return value
    scale, zero_point = details["quantization"]
    info = np.iinfo(dtype)
    quantized = np.round(value / scale) + zero_point
    return np.clip(quantized, info.min, info.max).astype(dtype)


def _to_float(value: np.ndarray, details: dict) -> np.ndarray:
    if details["dtype"] == np.float32:
        return value
    scale, zero_point = details["quantization"]
    return ((value.astype(np.float32) - zero_point) * scale).astype(np.float32)


def op_names(model: bytes | str | os.PathLike) -> list[str]:
    """The op type of every operator in the flatbuffer, in execution order."""
    return read_flatbuffer(model).op_names()


def float32_tensor_ops(model: bytes | str | os.PathLike) -> list[str]:
    """Ops that read or write a float32 tensor (empty for an all-integer model)."""
    return read_flatbuffer(model).float32_tensor_ops()

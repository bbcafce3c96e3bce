"""Run TFLite models through their named signature with float inputs and outputs.

``LiteRTModel`` is the dict-in, dict-out convenience form over the streaming runtime
(``tsm_tf.runtime``: backend choice, threads, delegates, signature names resolved once). To
stream frames with the caches carried in place, use ``tsm_tf.runtime.StreamingSession`` or
``tsm_tf.runtime.Recognizer``.
"""

from __future__ import annotations

import os

import numpy as np

from tsm_tf.export.flatbuffer import read_flatbuffer
from tsm_tf.runtime.backend import load_interpreter
from tsm_tf.runtime.session import StreamingSession


class LiteRTModel:
    """A TFLite model called with a dict of float arrays, returning a dict of float arrays.

    Int8 inputs are quantized and int8 outputs dequantized with each tensor's own scale and
    zero point, so float and int8 models are called the same way. States are whatever the
    caller passes (nothing is carried between calls).

    Example (``flatbuffer``, ``frame`` and ``states`` as in ``tsm_tf.demo``, hence skipped)::

        >>> runner = LiteRTModel(flatbuffer)  # doctest: +SKIP
        >>> outputs = runner({"image": frame, **states})  # doctest: +SKIP
    """

    def __init__(self, model: bytes | str | os.PathLike, num_threads: int | None = None,
                 signature: str = "serving_default", delegate=None, backend: str | None = None):
        self.interpreter, self.backend = load_interpreter(
            model, num_threads=num_threads, delegate=delegate, backend=backend)
        self.session = StreamingSession(self.interpreter, signature, states=[])
        self.input_details = self.session.input_details
        self.output_details = self.session.output_details

    @property
    def input_names(self) -> list[str]:
        return list(self.input_details)

    @property
    def output_names(self) -> list[str]:
        return list(self.output_details)

    def quantization(self, name: str, *, output: bool = False) -> tuple[float, int]:
        """(scale, zero point) of a signature input (or output); (0.0, 0) when float."""
        info = (self.session.outputs if output else self.session.inputs)[name]
        return info.scale, info.zero_point

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = set(self.session.inputs) - set(inputs)
        if missing:
            raise ValueError(
                f"Missing inputs {sorted(missing)}; the model takes {self.input_names}."
            )
        for name, info in self.session.inputs.items():
            value = np.asarray(inputs[name], np.float32)
            if tuple(value.shape) != info.shape:
                raise ValueError(
                    f"Input {name!r} has shape {value.shape}, the model expects {info.shape}."
                )
            self.session.set_input(name, info.to_model(value))
        self.session.invoke()
        return {name: info.to_float(self.session.get_output(name))
                for name, info in self.session.outputs.items()}


def op_names(model: bytes | str | os.PathLike) -> list[str]:
    """The op type of every operator in the flatbuffer, in execution order."""
    return read_flatbuffer(model).op_names()


def float32_tensor_ops(model: bytes | str | os.PathLike) -> list[str]:
    """Ops that read or write a float32 tensor (empty for an all-integer model)."""
    return read_flatbuffer(model).float32_tensor_ops()

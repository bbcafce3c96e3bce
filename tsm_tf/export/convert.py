"""Keras model -> TFLite flatbuffer with a fixed batch and a named signature.

Inputs and outputs keep the model's names (``video`` / ``image``, ``state_*``, ``logits``), so
callers use the signature runner and never rely on tensor order.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable, Iterable

import keras
import numpy as np
import tensorflow as tf

QUANTIZATIONS = ("float32", "float16", "dynamic", "int8")
IO_TYPES = ("float32", "int8", "uint8")


def fixed_input_specs(model: keras.Model, batch_size: int = 1) -> dict[str, tf.TensorSpec]:
    """One ``TensorSpec`` per model input, named after it, with the batch fixed.

    A dynamic batch breaks reshapes of ``[-1, T, ...]`` in the TFLite runtime and leaves float
    ops in int8 models (see the toolchain facts), so exports always fix it.
    """
    specs = {}
    for tensor in model.inputs:
        batch = tensor.shape[0] if tensor.shape[0] is not None else batch_size
        shape = (batch, *tensor.shape[1:])
        if any(dim is None for dim in shape):
            raise ValueError(
                f"Input {tensor.name!r} has an unknown dimension {shape}: TFLite export needs "
                "static shapes. Build the model with a fixed `input_size`."
            )
        specs[tensor.name] = tf.TensorSpec(shape, tf.float32, name=tensor.name)
    return specs


def convert_to_tflite(
    model: keras.Model,
    *,
    quantization: str = "float32",
    representative_data: Callable[[], Iterable[dict[str, np.ndarray]]] | None = None,
    batch_size: int = 1,
    io: str = "int8",
) -> bytes:
    """Convert ``model`` to a TFLite flatbuffer (``serving_default`` signature).

    Args:
        model: a Keras model (e.g. ``TSM`` or ``StreamingTSM``).
        quantization: ``"float32"``, ``"float16"`` (weights), ``"dynamic"`` (int8 weights,
            float activations) or ``"int8"`` (full integer: int8 weights, activations, inputs
            and outputs; needs ``representative_data``).
        representative_data: for int8, a callable returning an iterable of dicts keyed by
            input name (a list in Keras order fails for multi-input models).
        batch_size: the batch size fixed in the export when the model's batch is dynamic.
        io: for int8, the type of every input and output at the model boundary (image,
            states, logits): ``"int8"``, ``"uint8"`` (what cameras feed) or ``"float32"``
            (quantize / dequantize inside the model). Ignored for the other quantizations.

    Example (needs a model file, so not run as a doctest)::
        flatbuffer = convert_to_tflite(model, quantization="float32")
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"`quantization` must be one of {QUANTIZATIONS}. Received: {quantization!r}"
        )
    if quantization == "int8" and representative_data is None:
        raise ValueError(
            "Full-integer (int8) conversion needs `representative_data`: a callable yielding "
            "dicts of realistic inputs keyed by input name, used to calibrate the ranges."
        )
    if io not in IO_TYPES:
        raise ValueError(f"`io` must be one of {IO_TYPES}. Received: {io!r}")
    specs = fixed_input_specs(model, batch_size)

    with tempfile.TemporaryDirectory(prefix="tsm_tf_export_") as saved_model_dir:
        export_saved_model(model, saved_model_dir, specs)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
        _configure(converter, quantization, representative_data, specs, io)
        with warnings.catch_warnings():
            # int8 calibration runs TF's own deprecated tf.lite.Interpreter internally; the
            # warning is about TF's code, not the caller's, who can do nothing about it.
            warnings.filterwarnings("ignore", message=r".*tf\.lite\.Interpreter is deprecated",
                                    category=UserWarning)
            return converter.convert()


def export_saved_model(model: keras.Model, path: str, specs: dict[str, tf.TensorSpec]) -> None:
    """Write a SavedModel whose ``serving_default`` takes and returns dicts keyed by name."""
    multi_input = isinstance(model.input, dict) or len(model.inputs) > 1

    def serve(inputs):
        outputs = model(inputs if multi_input else inputs[model.inputs[0].name], training=False)
        return outputs if isinstance(outputs, dict) else {"logits": outputs}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve, input_signature=[specs])
    archive.write_out(path, verbose=False)


def _configure(converter, quantization, representative_data, specs, io) -> None:
    if quantization != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantization == "int8":

        def calibration():
            for sample in representative_data():
                yield {name: np.asarray(sample[name], np.float32) for name in specs}

        converter.representative_dataset = calibration
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        boundary = {"float32": tf.float32, "int8": tf.int8, "uint8": tf.uint8}[io]
        converter.inference_input_type = boundary
        converter.inference_output_type = boundary

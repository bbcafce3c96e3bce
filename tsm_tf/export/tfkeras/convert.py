"""Quantization-aware tf_keras model -> full-integer TFLite flatbuffer.

Same conventions as ``tsm_tf.export.tflite``: a fixed batch of 1 and a ``serving_default``
signature taking and returning dicts keyed by the model's names (``video`` / ``image``,
``state_*``, ``logits``).
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator

import numpy as np
import tensorflow as tf
import tf_keras

from tsm_tf.export.tflite import fixed_input_specs

IO_DTYPES = {"int8": tf.int8, "uint8": tf.uint8, "float32": tf.float32}


def _offline_samples(clips: np.ndarray) -> Iterator[dict]:
    for clip in clips:  # [T, H, W, 3]
        yield {"video": clip[None]}


def streaming_samples(model: tf_keras.Model, clips: np.ndarray,
                      frames_per_step: int = 1) -> Iterator[dict]:
    """Calibration inputs as at run time: each clip's frames in order, caches carried from
    step to step (zeros at the start of each clip), so cache ranges are realistic."""
    names = [tensor.name for tensor in model.inputs]
    states = {t.name: t for t in model.inputs if t.name.startswith("state_")}
    frame_name = "image" if frames_per_step == 1 else "video"
    for clip in clips:  # [T, H, W, 3]
        carried = {name: np.zeros((1, *t.shape[1:]), np.float32) for name, t in states.items()}
        for start in range(0, len(clip) - frames_per_step + 1, frames_per_step):
            frames = clip[start:start + frames_per_step]
            frames = frames[:1] if frames_per_step == 1 else frames[None]  # [1, (F,) H, W, 3]
            feed = {frame_name: frames, **carried}
            yield {name: feed[name] for name in names}
            outputs = model(feed, training=False)
            carried = {name: np.asarray(outputs[name]) for name in states}


def convert_quantized(model: tf_keras.Model, clips: np.ndarray, *, io_type: str = "int8",
                      frames_per_step: int = 1, streaming: bool = False) -> bytes:
    """Convert a quantize-applied model to a full-integer flatbuffer.

    ``clips`` ``[N, T, H, W, 3]`` (training clips) serve as representative data for any
    tensor the fake-quantization ops leave without a range.
    """
    if io_type not in IO_DTYPES:
        raise ValueError(f"`io_type` must be one of {tuple(IO_DTYPES)}. Received: {io_type!r}")
    specs = fixed_input_specs(model, batch_size=1)
    multi_input = len(model.inputs) > 1

    @tf.function(input_signature=[specs])
    def serve(inputs):
        outputs = model(inputs if multi_input else inputs[model.inputs[0].name], training=False)
        return outputs if isinstance(outputs, dict) else {"logits": outputs}

    if streaming:
        samples = list(streaming_samples(model, clips, frames_per_step))
    else:
        samples = list(_offline_samples(clips))

    with tempfile.TemporaryDirectory(prefix="tsm_tf_qat_") as saved_model_dir:
        tf.saved_model.save(model, saved_model_dir, signatures={"serving_default": serve})
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: iter(samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = IO_DTYPES[io_type]
        converter.inference_output_type = IO_DTYPES[io_type]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*tf\.lite\.Interpreter is deprecated",
                                    category=UserWarning)
            return converter.convert()

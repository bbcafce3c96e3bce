"""Tiny streaming TSM / 2D models converted to TFLite, built once per test session."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np

FRAMES = 6
SIZE = 32


def _randomize_batchnorm(model, seed):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 2.0, var.shape)])


def offline_model(shift: str = "unidirectional", seed: int = 0):
    import tsm_tf

    keras.utils.set_random_seed(seed)
    name = "tsn_resnet_tiny" if shift == "none" else "tsm_resnet_tiny"
    kwargs = {} if shift == "none" else {"shift": shift}
    model = tsm_tf.create_model(name, num_classes=4, num_segments=FRAMES, input_size=SIZE,
                                **kwargs)
    _randomize_batchnorm(model, seed)
    return model


def clip(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(1, FRAMES, SIZE, SIZE, 3)).astype("float32")


_FOLDER = None


@functools.cache
def tiny_model(name: str) -> Path:
    """A tiny .tflite: ``tsm_float32``, ``tsm_int8``, ``tsn_float32`` (2D, no caches) or
    ``tsm_stateful_float32`` (caches in resource variables), from ``offline_model()``."""
    from tsm_tf.export import convert_to_tflite
    from tsm_tf.models import StreamingTSM

    global _FOLDER
    if _FOLDER is None:
        _FOLDER = Path(tempfile.mkdtemp(prefix="tsm_bench_models_"))
        atexit.register(shutil.rmtree, _FOLDER, ignore_errors=True)
    shift = "none" if name.startswith("tsn") else "unidirectional"
    streaming = StreamingTSM.from_model(offline_model(shift), stateful="stateful" in name)
    quantization = name.rsplit("_", 1)[1]
    flatbuffer = convert_to_tflite(streaming, quantization=quantization,
                                   representative_data=_calibration(streaming))
    path = _FOLDER / f"{name}.tflite"
    path.write_bytes(flatbuffer)
    return path


def _calibration(streaming):
    frames = clip(7)[0]

    def data():  # frames with the caches they meet when streamed
        states = streaming.init_states()
        for frame in frames:
            yield {"image": frame[None], **states}
            if states:
                _, states = streaming.step(frame[None], states)

    return data


@functools.cache
def reference_frame_logits() -> np.ndarray:
    """The offline Keras model's per-frame logits of ``clip()``, ``[T, K]``."""
    model = offline_model()
    return np.asarray(model.frame_logits_model()(clip(), training=False))[0]

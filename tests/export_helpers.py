"""Tiny models and data for the converter tests (helpers only, no tests here)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

import tsm_tf

FRAMES = 8
SIZE = 32
CLASSES = 8  # the synthetic set's


def tiny_model(shift: str = "unidirectional", seed: int = 0, arch: str = "resnet_tiny"):
    """A small TSM with random, non-trivial BatchNorm statistics (as after training)."""
    keras.utils.set_random_seed(seed)
    family = {"bidirectional": "tsm", "unidirectional": "tsm_online", "none": "tsn"}[shift]
    model = tsm_tf.create_model(f"{family}_{arch}", num_classes=CLASSES, num_segments=FRAMES,
                                input_size=SIZE)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 2.0, var.shape),
            ])
        elif isinstance(layer, keras.layers.Dense):
            kernel, bias = layer.get_weights()
            layer.set_weights([rng.normal(0, kernel.shape[0] ** -0.5, kernel.shape), bias])
    return model


def synthetic_set(folder: Path, num_train: int = 10, num_val: int = 6) -> Path:
    """A tiny synthetic set (8 frames of 32x32 per clip) in ``folder``."""
    from tsm_tf.data.synthetic import generate_synthetic_dataset

    generate_synthetic_dataset(folder, num_train=num_train, num_val=num_val,
                               num_frames=FRAMES, size=SIZE, workers=1, verbose=False)
    return folder

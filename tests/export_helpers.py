"""Tiny models and data for the converter tests (helpers only, no tests here)."""

from __future__ import annotations

from pathlib import Path

import keras
from shared_helpers import randomize_statistics

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
    return randomize_statistics(model, seed)


def synthetic_set(folder: Path, num_train: int = 10, num_val: int = 6) -> Path:
    """A tiny synthetic set (8 frames of 32x32 per clip) in ``folder``."""
    from tsm_tf.data.synthetic import generate_synthetic_dataset

    generate_synthetic_dataset(folder, num_train=num_train, num_val=num_val,
                               num_frames=FRAMES, size=SIZE, workers=1, verbose=False)
    return folder

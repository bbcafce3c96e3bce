"""Pretrained weights: convert the published PyTorch TSM checkpoints and ImageNet backbones to
Keras, with the class names of their datasets.

* ``convert_checkpoint(path, out=...)`` / ``python -m tsm_tf.weights.convert``: PyTorch
  checkpoint -> ``.keras`` + ``.labels.json`` sidecar.
* ``PRESETS`` / ``find_preset``: the reference model zoo (file, architecture, frames, dataset,
  preprocessing, published top-1).
* ``load_labels(dataset)``, ``class_names_for(model_path)``: class names.

PyTorch is needed only to read ``.pth`` files (``pip install "tsm-tf[torch]"``).
"""

from tsm_tf.weights.assign import WeightMismatchError, assign_weights
from tsm_tf.weights.convert import ConversionResult, convert_checkpoint, model_from_checkpoint
from tsm_tf.weights.labels import (
    DATASETS,
    class_names_for,
    load_labels,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)
from tsm_tf.weights.presets import PRESETS, Preset, find_preset, parse_checkpoint_name
from tsm_tf.weights.torch_io import UnsafeCheckpointError, load_checkpoint

__all__ = [
    "DATASETS",
    "PRESETS",
    "ConversionResult",
    "Preset",
    "UnsafeCheckpointError",
    "WeightMismatchError",
    "assign_weights",
    "class_names_for",
    "convert_checkpoint",
    "find_preset",
    "load_checkpoint",
    "load_labels",
    "model_from_checkpoint",
    "parse_checkpoint_name",
    "read_sidecar",
    "sidecar_path",
    "write_sidecar",
]

"""``tsm_tf.load_model(path)``: load any model file the package writes.

- ``.keras`` (a ``TSM``, a ``StreamingTSM``, a run's ``best.keras`` / ``last.keras``, a
  converted checkpoint): ``keras.saving.load_model`` with the package's classes registered;
- a training-state checkpoint ``checkpoints/*.npz``: the ``TSM`` its run config describes,
  with the checkpoint's weights.

Example (needs a model file, so not run as a doctest)::
    model = load_model("runs/synthetic-tsm_resnet_tiny/checkpoints/epoch_003.npz")
"""

from __future__ import annotations

import os


def load_model(path: str | os.PathLike, *, compile: bool = False):
    """Load a ``.keras`` model file or a training checkpoint ``.npz`` -> ``keras.Model``."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"model file not found: {path}")
    if path.endswith(".npz"):
        return _from_training_checkpoint(path)
    if not path.endswith(".keras"):
        raise ValueError(f"{path}: expected a .keras model file or a training checkpoint "
                         "(checkpoints/*.npz). For .tflite files use tsm_tf.export.")
    import keras

    import tsm_tf.models  # noqa: F401  (registers the package's classes)

    return keras.saving.load_model(path, compile=compile)


def _from_training_checkpoint(path: str):
    import numpy as np

    from tsm_tf.models import TSM
    from tsm_tf.train.checkpoint import read_checkpoint_state
    from tsm_tf.train.config import model_kwargs

    try:
        config = read_checkpoint_state(path)["config"]
    except (KeyError, ValueError, OSError) as e:
        raise ValueError(f"{path}: not a tsm_tf training checkpoint ({e})") from e
    model = TSM(**model_kwargs(config))
    with np.load(path) as data:
        count = sum(k.startswith("w/") for k in data.files)
        weights = [data[f"w/{i}"] for i in range(count)]
    if len(weights) != len(model.weights):
        raise ValueError(f"{path}: holds {len(weights)} weight arrays, the model of its config "
                         f"has {len(model.weights)}")
    model.set_weights(weights)
    return model

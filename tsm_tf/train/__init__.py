"""Training: ``python -m tsm_tf.train`` and the function API ``train(config)``.

Example (needs a dataset or a model, so not run as a doctest)::
    from tsm_tf.train import TrainConfig, train
    result = train(TrainConfig(dataset="synthetic", epochs=3, output_dir="runs/demo"))
    result["best_val_accuracy"]
"""

from tsm_tf.train.config import TrainConfig, resolve_config
from tsm_tf.train.trainer import TrainingDivergedError, train

__all__ = ["TrainConfig", "TrainingDivergedError", "resolve_config", "train"]

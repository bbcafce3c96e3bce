"""Training: ``python -m tsm_tf.train`` and the function API ``train(config)``.

Example:
    >>> from tsm_tf.train import TrainConfig, train
    >>> result = train(TrainConfig(dataset="synthetic", epochs=3, output_dir="runs/demo"))
    >>> result["best_val_accuracy"] > 0.9
    True
"""

from tsm_tf.train.config import TrainConfig, resolve_config
from tsm_tf.train.trainer import TrainingDivergedError, train

__all__ = ["TrainConfig", "TrainingDivergedError", "resolve_config", "train"]

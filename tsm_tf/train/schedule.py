"""Learning-rate schedules: linear warm-up, then step decay or cosine annealing, by epoch.

The schedule is a function of the optimizer's step counter, so a resumed run (which restores the
counter) continues at exactly the same point of the schedule.

Example:
    >>> sched = WarmupSchedule(0.1, steps_per_epoch=10, epochs=50, lr_steps=(20, 40),
    ...                        warmup_epochs=1)
    >>> [round(float(sched(s)), 4) for s in (0, 5, 10, 200, 400)]
    [0.01, 0.06, 0.1, 0.01, 0.001]
"""

from __future__ import annotations

import math

import keras
from keras import ops

from tsm_tf.train.config import LR_SCHEDULES


def scale_lr(base_lr: float, base_batch_size: int, batch_size: int) -> float:
    """Linear scaling rule (Goyal et al.): the lr grows with the global batch size."""
    return base_lr * batch_size / base_batch_size


@keras.saving.register_keras_serializable(package="tsm_tf")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Per-step learning rate.

    - warm-up (``warmup_epochs > 0``): grows linearly from ``lr / warmup_steps`` to ``lr``
      over the first ``warmup_epochs`` epochs (the value at step s is ``lr * (s + 1) / W``);
    - ``"step"``: ``lr * decay ** k`` where k counts the ``lr_steps`` epochs already passed;
    - ``"cosine"``: ``0.5 * lr * (1 + cos(pi * t))``, t the fraction of the post-warm-up steps
      done (epoch-granular as in the reference: the value changes once per epoch).
    """

    def __init__(self, lr: float, steps_per_epoch: int, epochs: int, schedule: str = "step",
                 lr_steps=(), decay: float = 0.1, warmup_epochs: float = 0.0):
        if schedule not in LR_SCHEDULES:
            raise ValueError(f"lr schedule must be one of {LR_SCHEDULES}. Received: {schedule!r}")
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1. Received: {steps_per_epoch}")
        self.lr = float(lr)
        self.steps_per_epoch = int(steps_per_epoch)
        self.epochs = int(epochs)
        self.schedule = schedule
        self.lr_steps = tuple(float(s) for s in lr_steps)
        self.decay = float(decay)
        self.warmup_epochs = float(warmup_epochs)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup_steps = self.warmup_epochs * self.steps_per_epoch
        epoch = ops.floor(step / self.steps_per_epoch)
        if self.schedule == "step":
            passed = sum(ops.cast(epoch >= s, "float32") for s in self.lr_steps) if \
                self.lr_steps else ops.zeros(())
            lr = self.lr * ops.power(self.decay, passed)
        else:
            warm = math.floor(self.warmup_epochs)
            span = max(self.epochs - warm, 1)
            frac = ops.clip((epoch - warm) / span, 0.0, 1.0)
            lr = 0.5 * self.lr * (1.0 + ops.cos(math.pi * frac))
        if warmup_steps > 0:
            ramp = ops.minimum((step + 1.0) / warmup_steps, 1.0)
            lr = ops.where(step < warmup_steps, self.lr * ramp, lr)
        return lr

    def get_config(self):
        return {
            "lr": self.lr, "steps_per_epoch": self.steps_per_epoch, "epochs": self.epochs,
            "schedule": self.schedule, "lr_steps": list(self.lr_steps), "decay": self.decay,
            "warmup_epochs": self.warmup_epochs,
        }

"""Keras callbacks of the trainer: progress extras (lr, clips/s) and the NaN guard."""

from __future__ import annotations

import math
import time

import keras


def current_lr(optimizer) -> float:
    """The optimizer's learning rate at its current step (schedules evaluated)."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    lr = inner.learning_rate
    return float(lr.numpy() if hasattr(lr, "numpy") else lr)


class ProgressExtras(keras.callbacks.Callback):
    """Adds ``lr`` and ``clips/s`` to the batch logs, so the progress bar (which runs after this
    callback) shows them; keeps the epoch's throughput in ``self.clips_per_s``."""

    def __init__(self, global_batch_size: int):
        super().__init__()
        self.global_batch_size = int(global_batch_size)
        self.clips_per_s = 0.0
        self.seconds = 0.0
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.seconds = time.perf_counter() - self._start
        self.clips_per_s = (batch + 1) * self.global_batch_size / max(self.seconds, 1e-9)
        if logs is not None:
            logs["lr"] = current_lr(self.model.optimizer)
            logs["clips/s"] = self.clips_per_s


class NanGuard(keras.callbacks.Callback):
    """Stops training at the first batch whose loss is not finite and records where.

    The running epoch loss turns NaN at the first bad batch, so ``bad_step`` (0-based batch of
    the epoch) is that batch; the trainer then keeps the previous epoch's checkpoint.
    """

    def __init__(self):
        super().__init__()
        self.bad_step: int | None = None
        self.bad_epoch: int | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.bad_step, self.bad_epoch = batch, self._epoch
            self.model.stop_training = True


class StopAfterOneEpoch(keras.callbacks.Callback):
    """The trainer calls ``fit(epochs=total, initial_epoch=e)`` once per epoch (so the progress
    bar reads "Epoch e+1/total") and stops it after that epoch with this callback."""

    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


class EveryNSteps(keras.callbacks.Callback):
    """Calls ``save(epoch, batches_done)`` after every ``every``-th optimizer step inside an
    epoch (``--save-every-steps``; the epoch's last step has its own checkpoint).

    ``offset``: batches of the epoch done before this ``fit`` (a run resumed mid-epoch).
    With gradient accumulation only whole optimizer steps are saved.
    """

    def __init__(self, every: int, accum_steps: int, steps_per_epoch: int, save):
        super().__init__()
        self.every, self.accum, self.steps = int(every), int(accum_steps), int(steps_per_epoch)
        self.save = save
        self.offset = 0
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        done = self.offset + batch + 1
        if done % self.accum or done >= self.steps or self.model.stop_training:
            return  # mid-update, the epoch's end, or a NaN loss (NanGuard runs first)
        updates = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        if updates % self.every == 0:
            self.save(self._epoch, done)

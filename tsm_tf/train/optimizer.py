"""Optimizers with the reference's parameter groups, and gradient clipping that is correct under
data parallelism.

Parameter groups (the reference's ``get_optim_policies``), as ``(lr multiplier, weight-decay
multiplier)`` per trainable variable:

============================  =====  =====
variable                       lr     decay
============================  =====  =====
conv / dense kernels           1      1
conv / dense biases            2      0
BatchNorm gamma, beta          1      0
classifier ``fc`` kernel       5      1   (``fc_lr5``; else 1)
classifier ``fc`` bias         10     0   (``fc_lr5``; else 2)
============================  =====  =====

Weight decay is an L2 term added to the gradient (PyTorch ``SGD(weight_decay=...)``), after
clipping, as ``torch.nn.utils.clip_grad_norm_`` followed by ``optimizer.step()`` does.
Gradient clipping uses the global norm of the *all-reduced* gradient, so a run on several
replicas clips exactly like one process on the same global batch (Keras' own ``global_clipnorm``
clips each replica's local gradient before the all-reduce).

SGD follows PyTorch's momentum form: ``buf = momentum * buf + g``; ``w -= lr * buf``.

Example:
    >>> policy = parameter_policy(model, fc_lr5=True)
    >>> opt = make_optimizer("sgd", learning_rate=0.01, weight_decay=1e-4, policy=policy,
    ...                      clip_grad_norm=20.0)
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from tsm_tf.models.blocks import CLASSIFIER_LAYER
from tsm_tf.train.config import OPTIMIZERS


def parameter_policy(model: keras.Model, *, fc_lr5: bool = True,
                     classifier: str = CLASSIFIER_LAYER) -> dict[str, tuple[float, float]]:
    """``{variable.path: (lr_mult, decay_mult)}`` for every trainable variable of ``model``."""
    policy: dict[str, tuple[float, float]] = {}
    for layer in _weighted_layers(model):
        is_bn = isinstance(layer, keras.layers.BatchNormalization)
        is_fc = layer.name == classifier
        for var in layer.trainable_weights:
            is_bias = var.name == "bias" or var.path.endswith("/bias")
            if is_bn:
                mult = (1.0, 0.0)
            elif is_fc and fc_lr5:
                mult = (10.0, 0.0) if is_bias else (5.0, 1.0)
            else:
                mult = (2.0, 0.0) if is_bias else (1.0, 1.0)
            policy[var.path] = mult
    return policy


def _weighted_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _weighted_layers(layer)
        elif layer.trainable_weights:
            yield layer


class _ParamGroupMixin:
    """Per-variable lr and weight-decay multipliers, and post-all-reduce global-norm clipping."""

    def _init_groups(self, weight_decay: float, policy: dict | None, clip_grad_norm: float | None):
        self.l2 = float(weight_decay or 0.0)
        self._policy_items = tuple((policy or {}).items())
        self.clip_grad_norm = float(clip_grad_norm) if clip_grad_norm else None
        self._multipliers: list[tuple[float, float]] = []

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        policy = dict(self._policy_items)
        self._multipliers = [policy.get(v.path, (1.0, 1.0)) for v in variables]

    def _all_reduce_sum_gradients(self, grads_and_vars):
        grads_and_vars = super()._all_reduce_sum_gradients(grads_and_vars)
        if not self.clip_grad_norm:
            return grads_and_vars
        grads = [g for g, _ in grads_and_vars]
        present = [g for g in grads if g is not None]
        clipped, _ = tf.clip_by_global_norm(present, self.clip_grad_norm)
        it = iter(clipped)
        return [(None if g is None else next(it), v) for g, v in grads_and_vars]

    def _regularized(self, gradient, variable):
        """``(lr multiplier, gradient + decay * w)`` for this variable."""
        lr_mult, decay_mult = self._multipliers[self._get_variable_index(variable)]
        gradient = ops.cast(gradient, variable.dtype)
        decay = self.l2 * decay_mult
        if decay:
            gradient = gradient + ops.cast(decay, variable.dtype) * variable
        return lr_mult, gradient


class ParamGroupSGD(_ParamGroupMixin, keras.optimizers.SGD):
    """SGD with momentum (PyTorch form), parameter groups, L2 decay and global-norm clipping."""

    def __init__(self, learning_rate=0.01, momentum: float = 0.9, weight_decay: float = 0.0,
                 policy: dict | None = None, clip_grad_norm: float | None = None, **kwargs):
        super().__init__(learning_rate=learning_rate, momentum=momentum, **kwargs)
        self._init_groups(weight_decay, policy, clip_grad_norm)

    def update_step(self, gradient, variable, learning_rate):
        lr_mult, gradient = self._regularized(gradient, variable)
        lr = ops.cast(learning_rate, variable.dtype) * lr_mult
        if self.momentum:
            buf = self.momentums[self._get_variable_index(variable)]
            self.assign(buf, ops.cast(self.momentum, variable.dtype) * buf + gradient)
            self.assign_sub(variable, lr * buf)
        else:
            self.assign_sub(variable, lr * gradient)


class ParamGroupAdam(_ParamGroupMixin, keras.optimizers.Adam):
    """Adam with parameter groups (lr multipliers), L2 decay in the gradient and clipping."""

    def __init__(self, learning_rate=0.001, weight_decay: float = 0.0, policy: dict | None = None,
                 clip_grad_norm: float | None = None, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self._init_groups(weight_decay, policy, clip_grad_norm)

    def update_step(self, gradient, variable, learning_rate):
        lr_mult, gradient = self._regularized(gradient, variable)
        super().update_step(gradient, variable, learning_rate * lr_mult)


def make_optimizer(name: str, learning_rate, *, momentum: float = 0.9, weight_decay: float = 0.0,
                   policy: dict | None = None, clip_grad_norm: float | None = None):
    """``"sgd"`` (the paper's recipe) or ``"adam"`` (used for training tiny models from scratch)."""
    if name == "sgd":
        return ParamGroupSGD(learning_rate, momentum=momentum, weight_decay=weight_decay,
                             policy=policy, clip_grad_norm=clip_grad_norm)
    if name == "adam":
        return ParamGroupAdam(learning_rate, weight_decay=weight_decay, policy=policy,
                              clip_grad_norm=clip_grad_norm)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}. Received: {name!r}")

"""Optimizer parameter groups, L2 decay, clipping and lr schedules against numpy references."""

import math

import keras
import numpy as np
import pytest

from tsm_tf.train.optimizer import make_optimizer, parameter_policy
from tsm_tf.train.schedule import WarmupSchedule, scale_lr

# The reference's groups, written out independently: (lr multiplier, decay multiplier).
EXPECTED_POLICY = {
    "hidden/kernel": (1.0, 1.0),
    "hidden/bias": (2.0, 0.0),
    "bn/gamma": (1.0, 0.0),
    "bn/beta": (1.0, 0.0),
    "fc/kernel": (5.0, 1.0),
    "fc/bias": (10.0, 0.0),
}


def _tiny_model():
    inp = keras.Input((3,))
    x = keras.layers.Dense(4, name="hidden")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    out = keras.layers.Dense(2, name="fc")(x)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.weights])
    return model


def test_policy_matches_reference_groups():
    model = _tiny_model()
    assert parameter_policy(model, fc_lr5=True) == EXPECTED_POLICY
    plain = parameter_policy(model, fc_lr5=False)
    assert plain["fc/kernel"] == (1.0, 1.0) and plain["fc/bias"] == (2.0, 0.0)


def test_policy_on_tsm_model():
    from tsm_tf.models import TSM

    model = TSM("resnet_tiny", num_classes=3, num_segments=2, input_size=32)
    policy = parameter_policy(model)
    assert len(policy) == len(model.trainable_variables)
    assert policy["fc/kernel"] == (5.0, 1.0) and policy["fc/bias"] == (10.0, 0.0)
    assert policy["conv1/kernel"] == (1.0, 1.0)
    assert policy["layer1_0_bn1/gamma"] == (1.0, 0.0)


@pytest.mark.parametrize("clip", [None, 0.7])
def test_sgd_steps_match_numpy(clip):
    model = _tiny_model()
    lr, momentum, wd = 0.05, 0.9, 0.01
    opt = make_optimizer("sgd", lr, momentum=momentum, weight_decay=wd,
                         policy=parameter_policy(model), clip_grad_norm=clip)
    variables = model.trainable_variables
    names = [v.path for v in variables]
    w = {n: v.numpy().astype("float64") for n, v in zip(names, variables, strict=True)}
    buf = {n: np.zeros_like(a) for n, a in w.items()}
    rng = np.random.default_rng(1)
    for _ in range(3):
        grads = [rng.normal(size=v.shape).astype("float32") for v in variables]
        opt.apply([keras.ops.convert_to_tensor(g) for g in grads], variables)
        # numpy reference: torch clip_grad_norm_ then SGD(momentum, weight_decay) per group
        total = math.sqrt(sum(float(np.sum(g.astype("float64") ** 2)) for g in grads))
        scale = min(1.0, clip / (total + 1e-6)) if clip else 1.0
        for n, g in zip(names, grads, strict=True):
            lr_mult, decay_mult = EXPECTED_POLICY[n]
            d = g * scale + wd * decay_mult * w[n]
            buf[n] = momentum * buf[n] + d
            w[n] = w[n] - lr * lr_mult * buf[n]
    for n, v in zip(names, variables, strict=True):
        np.testing.assert_allclose(v.numpy(), w[n], rtol=1e-5, atol=1e-6, err_msg=n)


def test_adam_lr_multiplier_acts():
    """Adam's first step moves each weight by lr * mult (sign of the gradient)."""
    model = _tiny_model()
    opt = make_optimizer("adam", 1e-3, policy=parameter_policy(model))
    variables = model.trainable_variables
    before = [v.numpy().copy() for v in variables]
    grads = [np.full(v.shape, 0.3, "float32") for v in variables]
    opt.apply([keras.ops.convert_to_tensor(g) for g in grads], variables)
    for v, b in zip(variables, before, strict=True):
        step = b - v.numpy()
        np.testing.assert_allclose(step, 1e-3 * EXPECTED_POLICY[v.path][0], rtol=1e-3)


def test_step_schedule_with_warmup():
    sched = WarmupSchedule(0.1, steps_per_epoch=10, epochs=50, schedule="step",
                           lr_steps=(20, 40), warmup_epochs=2)
    for step in (0, 7, 19, 20, 199, 200, 399, 400, 499):
        epoch = step // 10
        expected = 0.1 * 0.1 ** sum(epoch >= s for s in (20, 40))
        if step < 20:
            expected = 0.1 * (step + 1) / 20
        assert float(sched(step)) == pytest.approx(expected, rel=1e-6), step


def test_cosine_schedule():
    sched = WarmupSchedule(1.0, steps_per_epoch=4, epochs=10, schedule="cosine")
    for step in (0, 3, 4, 21, 39):
        epoch = step // 4
        assert float(sched(step)) == pytest.approx(0.5 * (1 + math.cos(math.pi * epoch / 10)),
                                                   abs=1e-6)


def test_linear_scaling_rule():
    assert scale_lr(0.02, 128, 256) == pytest.approx(0.04)
    assert scale_lr(0.01, 64, 16) == pytest.approx(0.0025)

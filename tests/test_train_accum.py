"""Gradient accumulation (``--accum-steps``): k micro-batches make one update equal to one
step on the k-times larger batch (tiny model without batch statistics)."""

import keras
import numpy as np
import pytest

from tsm_tf.train.optimizer import make_optimizer, parameter_policy
from tsm_tf.train.schedule import WarmupSchedule


def _model(seed):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6,))
    x = keras.layers.Dense(5, activation="tanh", name="hidden")(inp)
    out = keras.layers.Dense(3, name="fc")(x)
    return keras.Model(inp, out)


def _fit(name, batch, accum, x, y, epochs=2):
    model = _model(seed=4)
    micro_steps = len(x) // batch  # per epoch, what the schedule counts
    schedule = WarmupSchedule(0.2 if name == "sgd" else 0.01, micro_steps, epochs, "step",
                              lr_steps=(1,), warmup_epochs=1)
    opt = make_optimizer(name, schedule, momentum=0.9, weight_decay=1e-2,
                         policy=parameter_policy(model, fc_lr5=True), clip_grad_norm=0.5,
                         accum_steps=accum)
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    model.fit(x, y, batch_size=batch, epochs=epochs, shuffle=False, verbose=0)
    return model


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_accumulated_micro_batches_equal_the_large_batch(name):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6)).astype("float32")
    y = rng.integers(0, 3, size=32)
    big = _fit(name, batch=8, accum=1, x=x, y=y)
    acc = _fit(name, batch=2, accum=4, x=x, y=y)
    start = _model(seed=4).get_weights()
    # 8 updates in both runs (2 epochs x 4), counted as such by the optimizer
    assert int(big.optimizer.iterations.numpy()) == 8
    assert int(acc.optimizer.iterations.numpy()) == 8
    assert float(acc.optimizer.learning_rate) == pytest.approx(float(big.optimizer.learning_rate))
    for a, b, s in zip(acc.get_weights(), big.get_weights(), start, strict=True):
        assert np.abs(b - s).max() > 1e-3  # training moved every tensor
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_accumulation_differs_from_small_batch_steps():
    """The check above can fail: plain batch-2 steps end elsewhere."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6)).astype("float32")
    y = rng.integers(0, 3, size=32)
    big = _fit("sgd", batch=8, accum=1, x=x, y=y)
    small = _fit("sgd", batch=2, accum=1, x=x, y=y)
    diff = max(np.abs(a - b).max() for a, b in zip(small.get_weights(), big.get_weights(),
                                                  strict=True))
    assert diff > 1e-3


def test_accum_steps_must_be_positive():
    with pytest.raises(ValueError, match="--accum-steps"):
        make_optimizer("sgd", 0.1, accum_steps=0)


@pytest.mark.slow
def test_trainer_counts_optimizer_steps_with_accumulation(tmp_path):
    """--batch-size 8 --accum-steps 2 over 32 clips: 8 steps of 4 clips, 4 optimizer steps."""
    from tsm_tf.data.synthetic import generate_synthetic_dataset
    from tsm_tf.train import TrainConfig, train
    from tsm_tf.train.checkpoint import list_checkpoints, read_checkpoint_state

    root = tmp_path / "data"
    generate_synthetic_dataset(root, num_train=32, num_val=8, num_frames=8, size=32, workers=1,
                               verbose=False)
    result = train(TrainConfig(root=str(root), num_segments=4, input_size=32, batch_size=8,
                               accum_steps=2, epochs=1, dropout=0.0, verbose=0,
                               output_dir=str(tmp_path / "run")))
    state = read_checkpoint_state(list_checkpoints(tmp_path / "run")[-1][1])
    assert (state["step"], state["steps_per_epoch"]) == (4, 8)
    assert int(result["model"].optimizer.iterations.numpy()) == 4
    assert result["config"]["accum_steps"] == 2

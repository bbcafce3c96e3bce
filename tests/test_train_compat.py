"""The private Keras / TensorFlow internals kept in ``tsm_tf.compat`` are still there and do
what the package assumes. A failure names the internal and the versions it was checked against:
update ``tsm_tf/compat.py`` (and its table) for the new version."""

import inspect

import keras
import numpy as np
import tensorflow as tf

from tsm_tf import compat


def _explain(what: str) -> str:
    return (f"{what} (keras {keras.__version__}, tensorflow {tf.__version__}; tsm_tf.compat was "
            f"checked against {compat.versions_checked()}): update tsm_tf/compat.py")


def test_all_reduce_hook_is_called_between_reduce_and_update():
    from keras.src.backend.tensorflow.optimizer import TFOptimizer

    hook = getattr(TFOptimizer, compat.ALL_REDUCE_HOOK, None)
    assert callable(hook), _explain(f"TFOptimizer.{compat.ALL_REDUCE_HOOK} is gone")
    source = inspect.getsource(TFOptimizer._backend_update_step)
    assert compat.ALL_REDUCE_HOOK in source, _explain(
        f"TFOptimizer._backend_update_step no longer calls {compat.ALL_REDUCE_HOOK}")



def test_variable_index_maps_variables_to_slots():
    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Dense(4)(inp)))
    opt = keras.optimizers.SGD(0.1, momentum=0.9)
    opt.build(model.trainable_variables)
    seen = []

    class Probe(keras.optimizers.SGD):
        def update_step(self, gradient, variable, learning_rate):
            seen.append(compat.variable_index(self, variable))

    probe = Probe(0.1)
    probe.apply([np.ones(v.shape, "float32") for v in model.trainable_variables],
                model.trainable_variables)
    assert seen == list(range(len(model.trainable_variables))), _explain(
        f"optimizer.{compat.VARIABLE_INDEX} no longer maps update_step's variable to its index")


def test_model_stores_its_strategy_where_compat_clears_it():
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        inp = keras.Input((3,))
        model = keras.Model(inp, keras.layers.Dense(2)(inp))
    assert hasattr(model, compat.MODEL_STRATEGY_ATTR), _explain(
        f"keras.Model has no {compat.MODEL_STRATEGY_ATTR}")
    compat.detach_model_strategy(model)
    assert getattr(model, compat.MODEL_STRATEGY_ATTR) is None


def test_rank1_step_logs_keep_the_values():
    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Dense(2)(inp))
    model.compile(optimizer="sgd", loss="mse")
    compat.rank1_step_logs(model)
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    logs = model.train_step((x, y))
    assert all(tuple(v.shape) == (1,) for v in logs.values()), _explain(
        "Model.train_step logs are not scalars any more")

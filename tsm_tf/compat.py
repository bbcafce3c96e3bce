"""The package's only uses of private Keras / TensorFlow internals, each with the reason no
public API does the job, and the versions it was checked against.

``tests/test_train_compat.py`` checks every internal named here is still there and behaves as
assumed, and fails with a message naming it when a Keras or TensorFlow upgrade changes it.

==================================  =========================================================
internal                            why there is no public way
==================================  =========================================================
``Optimizer._all_reduce_sum_        the one place between the cross-replica all-reduce and
gradients`` (TF backend)            the update: clipping the *global* gradient norm must
                                    happen there (``global_clipnorm`` clips each replica's
                                    local gradient before the all-reduce)
``Optimizer._get_variable_index``   maps the variable ``update_step`` receives (a replica's
                                    ``tf.Variable`` under ``tf.distribute``) to its slot
                                    index; needed for per-variable lr / decay multipliers
``Model._distribute_strategy``      Keras 3 runs an eager "symbolic build" at the start of
                                    ``fit`` that fails on multi-worker ``PerReplica`` batches
                                    unless no strategy is stored on the model
rank-1 step logs (no internal,      Keras 3 reduces a multi-worker step's logs with
a workaround of one)                ``strategy.reduce("MEAN", v, axis=0)``, which fails on
                                    scalars; the step's logs are returned as 1-element vectors
==================================  =========================================================
"""

from __future__ import annotations

# (package, version prefix) pairs the internals below were checked against.
CHECKED_VERSIONS = {"keras": "3.15", "tensorflow": "2.21"}

ALL_REDUCE_HOOK = "_all_reduce_sum_gradients"
VARIABLE_INDEX = "_get_variable_index"
MODEL_STRATEGY_ATTR = "_distribute_strategy"


def variable_index(optimizer, variable) -> int:
    """Index of ``variable`` in the optimizer's variable list (slot variables share it)."""
    return getattr(optimizer, VARIABLE_INDEX)(variable)


def run_after_all_reduce(cls: type, post) -> None:
    """Make optimizers of class ``cls`` call ``post(self, grads_and_vars)`` on the gradients
    summed across replicas, just before the update (the backend's hook, overridden once)."""

    def hook(self, grads_and_vars):
        reduced = getattr(super(cls, self), ALL_REDUCE_HOOK)(grads_and_vars)
        return post(self, reduced)

    hook.__name__ = ALL_REDUCE_HOOK
    setattr(cls, ALL_REDUCE_HOOK, hook)


def detach_model_strategy(model) -> None:
    """Let ``fit`` look the strategy up from the scope it runs in (multi-worker Keras 3)."""
    setattr(model, MODEL_STRATEGY_ATTR, None)


def rank1_step_logs(model) -> None:
    """Return each train/test step log as a 1-element vector, so Keras' multi-worker
    ``strategy.reduce(..., axis=0)`` averages the replicas' values instead of failing."""
    import tensorflow as tf

    def wrap(step):
        def rank1_step(data):
            return {k: tf.reshape(v, [1]) for k, v in step(data).items()}
        return rank1_step

    model.train_step = wrap(model.train_step)
    model.test_step = wrap(model.test_step)


def versions_checked() -> str:
    return ", ".join(f"{k} {v}" for k, v in CHECKED_VERSIONS.items())

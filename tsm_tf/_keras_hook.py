"""Run a callback right after ``keras`` is first imported (``import tsm_tf`` then ``import
keras``), without importing Keras ourselves: a one-shot ``sys.meta_path`` finder wraps the
loader of the top-level ``keras`` package. Costs nothing until Keras is imported."""

from __future__ import annotations

import sys
from collections.abc import Callable  # already imported by the interpreter's start-up


class _AfterExec:  # a loader (duck-typed: importing importlib.abc costs start-up time)
    def __init__(self, loader, callback: Callable[[], None]):
        self._loader, self._callback = loader, callback

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        try:
            self._callback()
        except Exception as e:  # noqa: BLE001 - never break `import keras` itself
            import warnings

            warnings.warn(f"tsm_tf could not register its Keras classes ({e}); use "
                          "tsm_tf.load_model() to load its models.", stacklevel=2)

    def __getattr__(self, name):  # get_resource_reader, is_package, ... of the real loader
        return getattr(self._loader, name)


class _KerasFinder:  # a sys.meta_path finder
    def __init__(self, callback: Callable[[], None]):
        self._callback = callback

    def find_spec(self, fullname, path, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)  # one shot; also keeps the lookup below from recursing
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None:
            return spec
        spec.loader = _AfterExec(spec.loader, self._callback)
        return spec


def install(callback: Callable[[], None]) -> None:
    """Call ``callback()`` once, after ``import keras`` completes (first import only)."""
    if not any(isinstance(f, _KerasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _KerasFinder(callback))

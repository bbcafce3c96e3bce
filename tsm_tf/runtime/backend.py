"""Which TFLite interpreter runs the model, with how many threads and which delegate.

Backends, tried in this order unless one is named: ``ai_edge_litert`` (LiteRT, the dependency),
``tflite_runtime`` (the old runtime-only wheel, for devices without LiteRT), ``tf.lite`` (inside
TensorFlow; deprecated there). All three expose the same ``Interpreter`` API.

Delegates: ``None`` or ``"xnnpack"`` is the CPU default (XNNPACK is applied by the interpreter
itself); ``"edgetpu"`` loads the Edge TPU delegate (``libedgetpu``) through ``load_delegate``;
any other string is a delegate library path; a loaded delegate object is passed through.

Example (needs a model file, so not run as a doctest)::
    interpreter, backend = load_interpreter("model.tflite", num_threads=2)
    interpreter, backend = load_interpreter("model_edgetpu.tflite", delegate="edgetpu")
"""

from __future__ import annotations

import importlib
import os
import platform
import warnings
from collections.abc import Mapping
from typing import Any

BACKENDS = ("ai_edge_litert", "tflite_runtime", "tf.lite")
_MODULES = {"ai_edge_litert": "ai_edge_litert.interpreter",
            "tflite_runtime": "tflite_runtime.interpreter",
            "tf.lite": "tensorflow"}
_EDGETPU_LIBRARY = {"Linux": "libedgetpu.so.1", "Darwin": "libedgetpu.1.dylib",
                    "Windows": "edgetpu.dll"}


class RuntimeBackendError(RuntimeError):
    """No usable interpreter backend, or a delegate that cannot be loaded."""


def _module(backend: str):
    """The module holding ``Interpreter`` and ``load_delegate`` for ``backend``, or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = importlib.import_module(_MODULES[backend])
    except ImportError:
        return None
    return module.lite if backend == "tf.lite" else module


def available_backends() -> list[str]:
    """The backends importable here, in preference order."""
    return [name for name in BACKENDS if _module(name) is not None]


def resolve_backend(backend: str | None = None) -> tuple[str, Any]:
    """``(name, module)`` of the requested backend, or of the first importable one."""
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"Unknown backend {backend!r}; choose one of {BACKENDS}.")
    for name in [backend] if backend else BACKENDS:
        module = _module(name)
        if module is not None:
            return name, module
    if backend:
        raise RuntimeBackendError(
            f"The {backend!r} backend is not installed here; "
            f"available: {available_backends() or 'none'}.")
    raise RuntimeBackendError(
        "No TFLite interpreter is installed: install LiteRT with `pip install ai-edge-litert` "
        "(or `tflite-runtime` on devices without a LiteRT wheel, or TensorFlow).")


def edgetpu_library() -> str:
    """The Edge TPU runtime library name on this operating system."""
    return _EDGETPU_LIBRARY.get(platform.system(), "libedgetpu.so.1")


def load_delegate(module, delegate, options: Mapping[str, str] | None = None):
    """A delegate object from ``delegate`` (see the module docstring), or None for the CPU."""
    if delegate is None or (isinstance(delegate, str) and delegate.lower() in ("xnnpack", "cpu")):
        return None
    if not isinstance(delegate, str):
        return delegate  # already loaded
    is_edgetpu = "edgetpu" in os.path.basename(delegate).lower()  # the name or its library
    library = edgetpu_library() if delegate.lower() == "edgetpu" else delegate
    # LiteRT and tflite-runtime export load_delegate; TensorFlow keeps it under experimental
    loader = getattr(module, "load_delegate", None) or module.experimental.load_delegate
    try:
        return loader(library, dict(options or {}))
    except (ValueError, OSError, RuntimeError) as error:
        fix = ("install the Edge TPU runtime (libedgetpu, from Coral's apt repository) and plug "
               "in the accelerator, or run without the delegate" if is_edgetpu
               else "check the path and that the library matches this runtime")
        raise RuntimeBackendError(
            f"Cannot load the {'Edge TPU ' if is_edgetpu else ''}delegate {library!r} "
            f"({str(error).strip() or type(error).__name__}): {fix}.") from None


def load_interpreter(model: bytes | str | os.PathLike, *, num_threads: int | None = None,
                     delegate=None, delegate_options: Mapping[str, str] | None = None,
                     backend: str | None = None):
    """``(interpreter, backend_name)`` for a ``.tflite`` path or flatbuffer bytes.

    Tensors are allocated. ``num_threads=None`` is the runtime's default: one thread in LiteRT
    (pass ``os.cpu_count()`` or the device's big-core count for more).
    """
    name, module = resolve_backend(backend)
    if not isinstance(model, bytes | bytearray):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Model file {path!r} not found: give the path of a "
                                    ".tflite file written by converters/to_tflite.py.")
    loaded = load_delegate(module, delegate, delegate_options)
    kwargs: dict[str, Any] = {"num_threads": num_threads}
    if loaded is not None:
        kwargs["experimental_delegates"] = [loaded]
    if isinstance(model, bytes | bytearray):
        kwargs["model_content"] = bytes(model)
    else:
        kwargs["model_path"] = os.fspath(model)
    with warnings.catch_warnings():
        # tf.lite.Interpreter warns that it is deprecated: the fallback is chosen knowingly.
        warnings.filterwarnings("ignore", message=r".*tf\.lite\.Interpreter is deprecated")
        try:
            interpreter = module.Interpreter(**kwargs)
        except ValueError as error:
            where = "the model bytes" if "model_content" in kwargs else repr(kwargs["model_path"])
            raise ValueError(f"Cannot load {where} as a TFLite model ({error}).") from None
    try:
        interpreter.allocate_tensors()
    except RuntimeError as error:
        text = " ".join(str(error).split())
        fix = ("it was compiled for the Edge TPU: run it with the edgetpu delegate "
               "(--delegate edgetpu, or --device edgetpu in the benchmark)"
               if "edgetpu-custom-op" in text else
               "convert it again with converters/to_tflite.py, or check that this runtime "
               "supports its ops")
        raise RuntimeBackendError(f"Cannot prepare the model ({text[:300]}): {fix}.") from None
    return interpreter, name

"""Worker processes for the data tools (synthetic set, dataset preparation)."""

from __future__ import annotations

import multiprocessing
import sys


def worker_context() -> multiprocessing.context.BaseContext:
    """``fork`` where it is safe (Linux, TensorFlow not loaded: the workers then start at once and
    re-import nothing), else ``spawn``.

    Forking a process that has loaded TensorFlow copies its thread pools' locks in whatever state
    they were in, and a child can wait on them forever (seen when the synthetic set was generated
    inside a test session that had trained a model before).
    """
    if sys.platform.startswith("linux") and "tensorflow" not in sys.modules:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")

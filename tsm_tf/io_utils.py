"""Atomic file writes shared by the package: write a temporary file in the target folder, then
``os.replace``, so a crash never leaves a half-written file under the final name."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _replace_from_temp(path: str | os.PathLike, write, suffix: str = ".tmp") -> str:
    """Create a temp file beside ``path``, let ``write(temp_path)`` fill it, then rename."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _umask_mode())  # mkstemp creates 0600 files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically (flushed to disk before the rename)."""

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    return _replace_from_temp(path, write)


def atomic_write_text(path: str | os.PathLike, text: str) -> str:
    return atomic_write_bytes(path, text.encode("utf-8"))


def to_jsonable(value):
    """numpy arrays/scalars -> lists/numbers; NaN and inf -> None (valid JSON)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def atomic_write_json(path: str | os.PathLike, data: dict, indent: int = 2) -> str:
    return atomic_write_text(
        path, json.dumps(to_jsonable(data), indent=indent, ensure_ascii=False) + "\n"
    )


def save_model_atomic(model, path: str | os.PathLike) -> str:
    """``model.save(path)`` (a ``.keras`` file) through a temp file in the same folder."""
    return _replace_from_temp(path, model.save, suffix=".keras")

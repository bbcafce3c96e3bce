"""Atomic file writes shared by the package: write a temporary file in the target folder, then
``os.replace``, so a crash never leaves a half-written file under the final name."""

from __future__ import annotations

import json
import math
import os
import tempfile

import numpy as np


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> str:
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


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
    return value


def atomic_write_json(path: str | os.PathLike, data: dict) -> str:
    return atomic_write_text(path, json.dumps(to_jsonable(data), indent=2) + "\n")

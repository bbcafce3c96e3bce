"""Atomic file writes shared by the package: write a temporary file in the target folder, then
``os.replace``, so a crash never leaves a half-written file under the final name."""

from __future__ import annotations

import json
import math
import os
import re
import secrets
from pathlib import Path

import numpy as np

TEMP_MARK = ".tsmtf-"  # in every temporary file name this module creates


def temp_path_for(path: str | os.PathLike, suffix: str = ".tmp") -> str:
    """A fresh temporary name beside ``path``:
    ``.<name>.tsmtf-<pid>-<token><suffix>`` (hidden, recognisable by :func:`is_temp_file`)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    name = f".{os.path.basename(path)}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}{suffix}"
    return os.path.join(folder, name)


_TEMP_RE = re.compile(r"^\..+" + re.escape(TEMP_MARK) + r"(\d+)-[0-9a-f]{8}\.[A-Za-z0-9]+$")


def is_temp_file(path: str | os.PathLike) -> bool:
    """True for a temporary file written by this module (and left behind by a killed run)."""
    return _TEMP_RE.match(os.path.basename(os.fspath(path))) is not None


def _create_exclusive(tmp: str) -> None:
    # Mode 0o666 through os.open: the kernel applies the process umask itself, so the file gets
    # the same permissions as a plain open() would, without reading (or changing) the umask.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    os.close(fd)


def _new_temp(path: str, suffix: str = ".tmp") -> str:
    """Create (empty, exclusively) and return a fresh temp file beside ``path``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    for _ in range(100):
        tmp = temp_path_for(path, suffix)
        try:
            _create_exclusive(tmp)
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file beside {path}")  # pragma: no cover


def _write_synced(tmp: str, data: bytes) -> None:
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_temp_beside(path: str | os.PathLike, data: bytes) -> str:
    """Write ``data`` to a new temp file beside ``path`` (flushed to disk) and return its name;
    the caller renames it over ``path`` (``os.replace``) when ready, or removes it. For writing
    several files all-or-nothing; one file: :func:`atomic_write_bytes`."""
    tmp = _new_temp(os.fspath(path))
    try:
        _write_synced(tmp, data)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def _replace_from_temp(path: str | os.PathLike, write, suffix: str = ".tmp") -> str:
    """Create a temp file beside ``path``, let ``write(temp_path)`` fill it, then rename."""
    path = os.fspath(path)
    tmp = _new_temp(path, suffix)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically (flushed to disk before the rename)."""

    return _replace_from_temp(path, lambda tmp: _write_synced(tmp, data))


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
    if not os.fspath(path).endswith(".keras"):
        raise ValueError(f"A Keras model file must end with .keras. Received: {os.fspath(path)}")
    return _replace_from_temp(path, model.save, suffix=".keras")

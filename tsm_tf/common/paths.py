"""Default folders: the package cache and the generated synthetic set."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """Where the synthetic set is generated when ``--root`` is not given:
    ``$TSM_TF_CACHE`` or ``~/.cache/tsm_tf``."""
    return Path(os.environ.get("TSM_TF_CACHE") or Path.home() / ".cache" / "tsm_tf")


def synthetic_root(root: str | os.PathLike | None = None) -> Path:
    """The synthetic set's folder: ``root`` if given, else ``<cache dir>/synthetic``."""
    return Path(root) if root else default_cache_dir() / "synthetic"

"""Read PyTorch checkpoints safely into plain numpy arrays.

PyTorch is an optional dependency (``pip install "tsm-tf[torch]"``) imported only here.
Checkpoints are pickles: they are loaded with ``torch.load(..., weights_only=True)``, which
refuses any file that would need to run code (custom classes, functions) to load.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field

import numpy as np


class UnsafeCheckpointError(ValueError):
    """The checkpoint needs arbitrary code to load, so it was refused."""


@dataclass
class RawCheckpoint:
    """A checkpoint's parameters (name -> array) and its metadata (epoch, arch, best_prec1)."""

    path: str
    state: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)


def import_torch():
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            "Reading PyTorch checkpoints needs PyTorch, an optional dependency of tsm-tf. "
            'Install it with: pip install "tsm-tf[torch]"'
        ) from error
    return torch


def load_checkpoint(path: str | os.PathLike) -> RawCheckpoint:
    """Load a ``.pth`` / ``.pth.tar`` file: a reference checkpoint (a dict with ``state_dict``)
    or a bare state dict. Tensors become float32 numpy arrays (integer buffers stay integer).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint not found: {path}")
    torch = import_torch()
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UnsafeCheckpointError(
            f"Refused to load {path}: it is not a plain weights file and would need to run "
            "arbitrary code to unpickle (torch.load(..., weights_only=True) rejected it). "
            "Only load it if you trust its source: re-save its state_dict with "
            "torch.save({'state_dict': model.state_dict()}, 'clean.pth') in a trusted "
            f"environment and convert that. Details: {str(error).splitlines()[0]}"
        ) from error
    except (RuntimeError, EOFError, OSError) as error:
        raise ValueError(
            f"Cannot read {path} as a PyTorch checkpoint ({type(error).__name__}: {error}). "
            "Is the download complete?"
        ) from error

    meta: dict = {}
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        meta = {k: v for k, v in obj.items() if k in ("epoch", "arch", "best_prec1")}
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj:
        raise ValueError(
            f"{path}: expected a state dict (parameter name -> tensor) or a dict with a "
            f"'state_dict' entry, got {type(obj).__name__}."
        )
    state: dict[str, np.ndarray] = {}
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(
                f"{path}: entry {key!r} of the state dict is a {type(value).__name__}, "
                "not a tensor; this is not a model state dict."
            )
        array = value.detach().cpu()
        if array.is_floating_point():
            array = array.float()
        state[str(key)] = array.numpy()
    return RawCheckpoint(path=path, state=state, meta=meta)

"""Constants shared across the package.

Example:
    >>> strip_checkpoint_suffix("TSM_kinetics_RGB_resnet50_avg_segment5_e50.pth.tar")
    'TSM_kinetics_RGB_resnet50_avg_segment5_e50'
    >>> is_torch_checkpoint_path("runs/x/best.keras")
    False
"""

from __future__ import annotations

import os

# ImageNet statistics of RGB pixels in [0, 1]: every model of the package takes clips
# normalised with them (the reference and torchvision use the same).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def eval_scale_size(input_size: int, scale_size: int | None = None) -> int:
    """The evaluation short side: ``scale_size`` if given, else the reference's
    ``input_size * 256 // 224`` (256 for 224).

    >>> eval_scale_size(224), eval_scale_size(64), eval_scale_size(64, 80)
    (256, 73, 80)
    """
    return int(scale_size or input_size * 256 // 224)

# File endings of PyTorch checkpoints (the reference's ``.pth.tar``, torchvision's ``.pth``),
# longest first so that stripping removes ``.pth.tar`` rather than ``.tar``.
TORCH_CHECKPOINT_SUFFIXES = (".pth.tar", ".pth", ".tar", ".pt")


def is_torch_checkpoint_path(path: str | os.PathLike) -> bool:
    """True when ``path`` ends like a PyTorch checkpoint (case-insensitive)."""
    return os.fspath(path).lower().endswith(TORCH_CHECKPOINT_SUFFIXES)


def strip_checkpoint_suffix(name: str) -> str:
    """``name`` without its ``.keras`` or PyTorch checkpoint ending."""
    for suffix in (".keras", *TORCH_CHECKPOINT_SUFFIXES):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name

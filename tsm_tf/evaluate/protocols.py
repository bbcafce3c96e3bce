"""Test protocols (how many clips and crops per video, at what resolution) and multi-view
helpers: averaging the views' scores, rebuilding a model at the evaluation resolution.

Named protocols (the paper's):

====================  ==========================================================================
``center``            1 clip x 1 centre crop at the model's input size (efficiency tables,
                      Something V1, Jester).
``dense``             10 dense-sampled clips x 3 crops, full resolution (short side 256 for a
                      224 model): the Kinetics protocol.
``twice``             "twice sample" (segment centres + segment starts) x 3 crops, full
                      resolution: the Something-Something V2 protocol.
``dataset``           the dataset's own protocol from the registry (the default).
====================  ==========================================================================

A registry-style string ``"{clips}clips-{crops}crops[-fullres]"`` is accepted too, and
``num_clips`` / ``num_crops`` / ``full_res`` override any protocol.

Example:
    >>> resolve_protocol("dense").views
    30
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np

PROTOCOL_NAMES = ("center", "dense", "twice", "dataset")
_SPEC_RE = re.compile(r"^(\d+)clips?-(\d+)crops?(-fullres)?$")
AVERAGE_CHOICES = ("logits", "softmax")


@dataclass(frozen=True)
class Protocol:
    """Views per video. ``sampling=None`` keeps the dataset's sampling."""

    name: str
    num_clips: int = 1
    num_crops: int = 1
    full_res: bool = False
    sampling: str | None = None

    @property
    def views(self) -> int:
        return self.num_clips * self.num_crops

    def describe(self) -> str:
        res = "full resolution" if self.full_res else "centre-crop size"
        crops = "centre crop" if self.num_crops == 1 else f"{self.num_crops} crops"
        sampling = f", {self.sampling} sampling" if self.sampling else ""
        return f"{self.name}: {self.num_clips} clip(s) x {crops}, {res}{sampling}"

    def as_dict(self) -> dict:
        return dataclasses.asdict(self) | {"views": self.views}


_NAMED = {
    "center": Protocol("center", 1, 1, False),
    "dense": Protocol("dense", 10, 3, True, "dense"),
    "twice": Protocol("twice", 2, 3, True, "uniform"),
}


def resolve_protocol(
    name: str = "dataset",
    dataset_protocol: str = "1clip-1crop",
    *,
    num_clips: int | None = None,
    num_crops: int | None = None,
    full_res: bool | None = None,
    sampling: str | None = None,
) -> Protocol:
    """The :class:`Protocol` for ``name``, with explicit overrides applied.

    ``dataset_protocol`` is the registry string used when ``name == "dataset"``.

    Raises:
        ValueError: unknown protocol name (the message lists the accepted ones), or bad counts.
    """
    key = (name or "dataset").lower().replace("_", "-")
    if key in _NAMED:
        proto = _NAMED[key]
    else:
        text = dataset_protocol if key == "dataset" else key
        m = _SPEC_RE.match(text)
        if not m:
            raise ValueError(
                f"Unknown test protocol {name!r}. Accepted: {', '.join(PROTOCOL_NAMES)}, or "
                "'{clips}clips-{crops}crops[-fullres]' such as '2clips-3crops-fullres'; "
                "--num-clips / --num-crops / --full-res adjust any of them."
            )
        proto = Protocol(key, int(m.group(1)), int(m.group(2)), bool(m.group(3)))
    changes = {
        k: v
        for k, v in dict(num_clips=num_clips, num_crops=num_crops, full_res=full_res,
                         sampling=sampling).items()
        if v is not None
    }
    proto = dataclasses.replace(proto, **changes)
    if proto.num_clips < 1:
        raise ValueError(f"num_clips must be >= 1. Received: {proto.num_clips}")
    if proto.num_crops not in (1, 3):
        raise ValueError(f"num_crops must be 1 or 3. Received: {proto.num_crops}")
    if proto.sampling not in (None, "uniform", "dense"):
        raise ValueError(f"sampling must be 'uniform' or 'dense'. Received: {proto.sampling!r}")
    return proto


def eval_size(input_size: int, protocol: Protocol, scale_size: int | None = None) -> int:
    """Side of the square views the model sees: the input size, or at full resolution the
    short-side scale (``scale_size``, default ``input_size * 256 // 224`` as the reference)."""
    if not protocol.full_res:
        return input_size
    return scale_size or input_size * 256 // 224


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def average_views(scores: np.ndarray, average: str = "logits") -> np.ndarray:
    """``[N, V, K] -> [N, K]``: mean over views of the raw logits (the reference's default)
    or of the softmax probabilities (``average="softmax"``, the reference's ``--softmax``)."""
    if average not in AVERAGE_CHOICES:
        raise ValueError(f"average must be one of {AVERAGE_CHOICES}. Received: {average!r}")
    scores = np.asarray(scores, np.float64)
    if scores.ndim != 3:
        raise ValueError(f"expected view scores [N, V, K]. Received shape {scores.shape}")
    if average == "softmax":
        scores = softmax(scores, axis=-1)
    return scores.mean(axis=1)


def model_at_size(model, size: int | tuple[int, int]):
    """The same architecture and weights built for another input size.

    Convolutions and the pooled head do not depend on the frame size, so the weights carry over
    unchanged (``copy_weights_by_name``). Returns ``model`` itself when the size already matches.
    """
    from tsm_tf.models import TSM, copy_weights_by_name

    hw = (size, size) if isinstance(size, int) else tuple(size)
    config = model.tsm_config
    if tuple(config["input_size"]) == hw:
        return model
    config["input_size"] = hw
    resized = TSM(**config, name=model.name)
    copy_weights_by_name(model, resized)
    return resized

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
``num_clips`` / ``num_crops`` / ``full_res`` override any protocol. Crops per clip are the
reference test script's: 1 (centre), 3 (left, right, centre along the long side), 5 (four
corners and centre) or 10 (those five and their mirror images).

Views (and models) are combined by :func:`average_views` / :func:`ensemble`:

====================  ==========================================================================
``logits``            mean of the views' logits (the reference's default).
``logits-softmax``    mean of the views' logits, then softmax: the reference's ``--softmax``
                      (the same ranking for one model; several models are then averaged as
                      probabilities).
``probabilities``     mean of the views' softmax probabilities.
====================  ==========================================================================

Example:
    >>> resolve_protocol("dense").views
    30
    >>> resolve_protocol("1clip-10crops").views
    10
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from tsm_tf.common.constants import eval_scale_size
from tsm_tf.common.validation import check_choice
from tsm_tf.data.registry import parse_test_protocol
from tsm_tf.data.transforms import CROP_CHOICES

PROTOCOL_NAMES = ("center", "dense", "twice", "dataset")
AVERAGE_CHOICES = ("logits", "logits-softmax", "probabilities")
# Renamed values: what each was, and what to pass now.
_RENAMED_AVERAGES = {
    "softmax": "average='softmax' averaged the views' probabilities; it is now "
               "'probabilities'. The reference's --softmax (mean of the views' logits, then "
               "softmax) is 'logits-softmax'.",
}


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
        crops = {1: "centre crop", 10: "10 crops (5 and their mirrors)"}.get(
            self.num_crops, f"{self.num_crops} crops")
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
        views = parse_test_protocol(text)
        if views is None:
            raise ValueError(
                f"Unknown test protocol {name!r}. Accepted: {', '.join(PROTOCOL_NAMES)}, or "
                "'{clips}clips-{crops}crops[-fullres]' such as '2clips-3crops-fullres'; "
                "--num-clips / --num-crops / --full-res adjust any of them."
            )
        proto = Protocol(key, *views)
    changes = {
        k: v
        for k, v in dict(num_clips=num_clips, num_crops=num_crops, full_res=full_res,
                         sampling=sampling).items()
        if v is not None
    }
    proto = dataclasses.replace(proto, **changes)
    if proto.num_clips < 1:
        raise ValueError(f"num_clips must be >= 1. Received: {proto.num_clips}")
    check_choice("num_crops", proto.num_crops, CROP_CHOICES)
    if proto.sampling not in (None, "uniform", "dense"):
        raise ValueError(f"sampling must be 'uniform' or 'dense'. Received: {proto.sampling!r}")
    return proto


def eval_size(input_size: int, protocol: Protocol, scale_size: int | None = None) -> int:
    """Side of the square views the model sees: the input size, or at full resolution the
    short-side scale (``scale_size``, default ``input_size * 256 // 224`` as the reference)."""
    if not protocol.full_res:
        return input_size
    return eval_scale_size(input_size, scale_size)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def check_average(average: str) -> str:
    """``average`` if it is one of ``AVERAGE_CHOICES``; a renamed value says what to pass."""
    if average in _RENAMED_AVERAGES:
        raise ValueError(_RENAMED_AVERAGES[average])
    check_choice("average", average, AVERAGE_CHOICES)
    return average


def average_views(scores: np.ndarray, average: str = "logits") -> np.ndarray:
    """``[N, V, K] -> [N, K]``: one model's score of each video from its views' logits.

    ``"logits"``: mean of the logits; ``"logits-softmax"``: softmax of that mean (the
    reference's ``--softmax``); ``"probabilities"``: mean of the views' softmax.
    """
    check_average(average)
    scores = np.asarray(scores, np.float64)
    if scores.ndim != 3:
        raise ValueError(f"expected view scores [N, V, K]. Received shape {scores.shape}")
    if average == "probabilities":
        return softmax(scores, axis=-1).mean(axis=1)
    mean = scores.mean(axis=1)
    return softmax(mean, axis=-1) if average == "logits-softmax" else mean


def ensemble(model_scores: np.ndarray) -> np.ndarray:
    """``[M, N, K] -> [N, K]``: the mean of several models' video scores (each from
    :func:`average_views`), as the reference test script combines its ``--weights``."""
    model_scores = np.asarray(model_scores, np.float64)
    if model_scores.ndim != 3:
        raise ValueError(f"expected model scores [M, N, K]. Received shape {model_scores.shape}")
    return model_scores.mean(axis=0)


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

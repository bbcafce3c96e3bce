"""Temporal smoothing of per-frame logits into a stable prediction (pure numpy).

Three rules, chosen by name (``make_smoother``):

- ``"none"``: the frame's own argmax.
- ``"mean"`` / ``"mean:K"``: argmax of the mean of the last K logit vectors (K = 8 by default).
- ``"reference"`` / ``"reference:K"``: the reference online demo's rule. The window prediction
  is the argmax of the sum of the last K = 12 logit vectors. It becomes the output unless the
  output changed on the previous frame: then the output is held for this frame (the demo's
  ``history[-1] != history[-2]`` test), so the output never flips on two frames in a row. The
  first window prediction is taken as it is. (The demo's Jester-only steps, masking five
  classes and folding "Doing other things" into "No gesture", are not part of the rule.)

Each ``update(logits) -> (label, score)`` takes one frame's logits ``[C]``; the score is the
softmax probability of the label under the mean of the window's logits (the frame's own
logits for ``"none"``). ``reset()`` forgets the history (new video, scene cut).

Example:
    >>> smoother = make_smoother("reference")
    >>> label, score = smoother.update(np.array([0.1, 2.0, -1.0]))
"""

from __future__ import annotations

import numpy as np

DEFAULT_MEAN_WINDOW = 8
REFERENCE_WINDOW = 12
SMOOTHING_RULES = ("none", "mean", "reference")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, float32, shifted by the max for stability."""
    x = np.asarray(logits, np.float32)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Smoother:
    """Base class: ``update(logits) -> (label, score)``, ``reset()``."""

    name = "none"
    window = 1

    def reset(self) -> None:
        """Forget the history."""

    def update(self, logits: np.ndarray) -> tuple[int, float]:
        """The smoothed ``(label, score)`` after this frame's logits ``[C]``."""
        logits = np.asarray(logits, np.float32).reshape(-1)
        label = int(np.argmax(logits))
        return label, float(softmax(logits)[label])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(window={self.window})"


class _Window(Smoother):
    """The last ``window`` logit vectors in a ring buffer (no per-frame allocation)."""

    def __init__(self, window: int):
        if int(window) < 1:
            raise ValueError(f"The smoothing window must be >= 1. Received: window={window}")
        self.window = int(window)
        self._buffer: np.ndarray | None = None  # [window, C]
        self._count = 0

    def reset(self) -> None:
        self._count = 0

    def _push(self, logits: np.ndarray) -> np.ndarray:
        """Add a frame; return the mean of the window's logits ``[C]``."""
        logits = np.asarray(logits, np.float32).reshape(-1)
        if self._buffer is None or self._buffer.shape[1] != logits.shape[0]:
            self._buffer = np.zeros((self.window, logits.shape[0]), np.float32)
            self._count = 0
        self._buffer[self._count % self.window] = logits
        self._count += 1
        filled = min(self._count, self.window)
        return self._buffer[:filled].sum(axis=0) / np.float32(filled)


class MeanSmoother(_Window):
    """Argmax of the mean of the last ``window`` logit vectors."""

    name = "mean"

    def __init__(self, window: int = DEFAULT_MEAN_WINDOW):
        super().__init__(window)

    def update(self, logits: np.ndarray) -> tuple[int, float]:
        mean = self._push(logits)
        label = int(np.argmax(mean))
        return label, float(softmax(mean)[label])


class ReferenceSmoother(_Window):
    """The reference online demo: windowed sum; the output holds for a frame after a change."""

    name = "reference"

    def __init__(self, window: int = REFERENCE_WINDOW):
        super().__init__(window)
        self._last: int | None = None    # the latest output (the demo's history[-1])
        self._before: int | None = None  # the one before it (history[-2])

    def reset(self) -> None:
        super().reset()
        self._last = self._before = None

    def update(self, logits: np.ndarray) -> tuple[int, float]:
        mean = self._push(logits)  # argmax of the mean = argmax of the sum
        output = int(np.argmax(mean))
        if self._last is None:  # the first prediction is taken: history [p, p]
            self._last = output
        elif output != self._last and self._last != self._before:
            output = self._last  # the output just changed: hold it for this frame
        self._before, self._last = self._last, output
        return output, float(softmax(mean)[output])


def make_smoother(rule: str | Smoother | None = "reference") -> Smoother:
    """A smoother from ``"none"``, ``"mean"``, ``"mean:K"``, ``"reference"``,
    ``"reference:K"`` (or an instance, returned as is)."""
    if isinstance(rule, Smoother):
        return rule
    text = "none" if rule is None else str(rule).strip().lower()
    name, sep, window = text.partition(":")
    if name not in SMOOTHING_RULES or (sep and (not window.isdigit() or name == "none")):
        raise ValueError(
            f"Unknown smoothing {rule!r}: use 'none', 'mean', 'mean:K', 'reference' or "
            "'reference:K' (K frames in the window).")
    if name == "none":
        return Smoother()
    cls = MeanSmoother if name == "mean" else ReferenceSmoother
    return cls(int(window)) if window else cls()

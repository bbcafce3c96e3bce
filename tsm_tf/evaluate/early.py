"""Early recognition: accuracy after observing only the first part of each video (the paper's
online-TSM early-recognition figures).

What "observing the first fraction f" means here. A video is sampled as in testing: ``T``
segments, the centre frame of each (segment ``t`` covers ``[t/T, (t+1)/T)`` of the video, its
frame sits at position ``(t + 0.5) / T``). After a fraction ``f`` of the video has played, the
frames at positions ``<= f`` have been seen, and the online model's prediction is the average of
the per-frame logits of those frames: exactly the average consensus restricted to the frames
seen so far. Before the first segment centre (``f < 0.5 / T``) the first frame is used, so every
fraction has a prediction. At ``f = 1`` the prediction is the offline clip prediction.

This needs per-frame logits that depend on past frames only: a uni-directional (online) TSM, or
TSN. Two equivalent ways compute them (the tests check they agree):

- ``method="frame_logits"`` (default, batched, fast): the offline uni-directional model's
  per-frame logits ``model.frame_logits_model()``; frame ``t`` only sees frames ``<= t``
  because the shift only moves features forward in time.
- ``method="streaming"``: the streaming model ``StreamingTSM.from_model`` fed one frame at a time
  with its shift caches, as on a device.

Example:
    >>> observed_frames([0.1, 0.5, 1.0], num_segments=8).tolist()
    [1, 4, 8]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tsm_tf.evaluate.metrics import top_k_accuracy

DEFAULT_FRACTIONS = tuple(round(0.1 * i, 1) for i in range(1, 11))
EARLY_METHODS = ("frame_logits", "streaming")


def parse_fractions(text: str | Sequence[float] | None) -> tuple[float, ...]:
    """``"0.1,0.2,0.5"`` or ``"10,20,50"`` (percent) -> sorted fractions in ``(0, 1]``.

    Example:
        >>> parse_fractions("10,50,100")
        (0.1, 0.5, 1.0)
    """
    if text is None or (isinstance(text, str) and not text.strip()):
        return DEFAULT_FRACTIONS
    if isinstance(text, str):
        try:
            values = [float(v) for v in text.replace(" ", ",").split(",") if v]
        except ValueError as e:
            raise ValueError(
                f"--early takes comma-separated fractions like 0.1,0.2,...,1.0 or percentages "
                f"like 10,20,...,100. Received: {text!r}"
            ) from e
        if values and max(values) > 1.0:
            values = [v / 100.0 for v in values]
    else:
        values = [float(v) for v in text]
    if not values or any(not 0.0 < v <= 1.0 for v in values):
        raise ValueError(f"early fractions must be in (0, 1] (or (0, 100] %). Received: {text!r}")
    return tuple(sorted(set(round(v, 6) for v in values)))


def observed_frames(fractions: Sequence[float], num_segments: int) -> np.ndarray:
    """Number of sampled frames seen after each fraction: ``#{t : (t + 0.5) / T <= f}``, at
    least 1. Shape ``[F]`` int."""
    f = np.asarray(fractions, np.float64)
    # (t + 0.5) / T <= f  <=>  t <= f * T - 0.5; small tolerance for decimal fractions.
    seen = np.floor(f * num_segments - 0.5 + 1e-9).astype(np.int64) + 1
    return np.clip(seen, 1, num_segments)


def early_scores(frame_logits: np.ndarray, fractions: Sequence[float]) -> np.ndarray:
    """Per-frame logits ``[N, T, K]`` -> early predictions ``[F, N, K]`` (mean over the frames
    observed after each fraction)."""
    frame_logits = np.asarray(frame_logits, np.float64)
    if frame_logits.ndim != 3:
        raise ValueError(f"frame logits must be [N, T, K]. Received {frame_logits.shape}")
    counts = observed_frames(fractions, frame_logits.shape[1])
    running = np.cumsum(frame_logits, axis=1)  # [N, T, K]
    return np.stack([running[:, n - 1] / n for n in counts])


def offline_frame_logits(model, clips: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """Per-frame logits ``[N, T, K]`` of a (causal) ``TSM`` on clips ``[N, T, H, W, 3]``."""
    frame_model = model.frame_logits_model()
    out = [
        np.asarray(frame_model(clips[i:i + batch_size], training=False))
        for i in range(0, len(clips), batch_size)
    ]
    return np.concatenate(out).astype(np.float32)


class StreamingRunner:
    """Per-frame logits ``[N, T, K]`` from the streaming form of ``model``, fed one frame at a
    time with its shift caches. Built once for ``batch_size`` videos in parallel; a partial
    last batch is padded with zero clips and the padding dropped.
    """

    def __init__(self, model, batch_size: int = 8):
        import tensorflow as tf

        from tsm_tf.models import StreamingTSM

        self.batch_size = max(1, int(batch_size))
        self.online = StreamingTSM.from_model(model, batch_size=self.batch_size)
        self._input = getattr(self.online, "frame_input_name", "image")
        self._step = tf.function(lambda inputs: self.online(inputs, training=False),
                                 autograph=False)

    def __call__(self, clips: np.ndarray) -> np.ndarray:
        clips = np.asarray(clips, np.float32)
        b, t = self.batch_size, clips.shape[1]
        out = []
        for i in range(0, len(clips), b):
            chunk = clips[i:i + b]
            real = len(chunk)
            if real < b:  # pad to [b, T, H, W, 3]
                pad = np.zeros((b - real, *chunk.shape[1:]), np.float32)
                chunk = np.concatenate([chunk, pad])
            states = self.online.init_states()
            per_frame = []
            for frame in range(t):
                result = self._step({self._input: chunk[:, frame], **states})
                per_frame.append(np.asarray(result["logits"]))
                states = {k: v for k, v in result.items() if k != "logits"}
            out.append(np.stack(per_frame, axis=1)[:real])  # [real, T, K]
        return np.concatenate(out)


def streaming_frame_logits(model, clips: np.ndarray, batch_size: int = 8) -> np.ndarray:
    """Per-frame logits ``[N, T, K]`` of ``model`` run frame by frame as a streaming model."""
    return StreamingRunner(model, min(batch_size, len(clips)))(clips)


def frame_logits(model, clips: np.ndarray, method: str = "frame_logits",
                 batch_size: int = 8) -> np.ndarray:
    """Per-frame logits by either method (see the module docstring)."""
    if method == "frame_logits":
        return offline_frame_logits(model, clips, batch_size)
    if method == "streaming":
        return streaming_frame_logits(model, clips, batch_size)
    raise ValueError(f"method must be one of {EARLY_METHODS}. Received: {method!r}")


def early_table(
    scores: np.ndarray, labels: np.ndarray, fractions: Sequence[float], num_segments: int
) -> list[dict]:
    """One row per fraction: ``fraction``, ``frames`` seen, ``top1``, ``top5``.

    ``scores`` is ``[F, N, K]`` from :func:`early_scores`.
    """
    counts = observed_frames(fractions, num_segments)
    return [
        {
            "fraction": float(f),
            "frames": int(c),
            "top1": top_k_accuracy(s, labels, 1),
            "top5": top_k_accuracy(s, labels, 5),
        }
        for f, c, s in zip(fractions, counts, scores, strict=True)
    ]


def format_table(rows: list[dict]) -> str:
    """A plain-text (Markdown) table of :func:`early_table` rows."""
    lines = ["| observed | frames | top-1 (%) | top-5 (%) |", "|---:|---:|---:|---:|"]
    lines += [
        f"| {r['fraction'] * 100:.0f}% | {r['frames']} | {r['top1'] * 100:.2f} | "
        f"{r['top5'] * 100:.2f} |"
        for r in rows
    ]
    return "\n".join(lines)

"""Figures of an evaluation, as PNG files written atomically (matplotlib, Agg backend).

Each function draws on a figure of exactly ``figsize`` inches at ``dpi`` (the PNG is
``figsize * dpi`` pixels; layout is fitted inside the figure, never by cropping it) and returns
the path written.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence

import numpy as np

from tsm_tf.io_utils import atomic_write_bytes

MAX_TICK_LABELS = 100  # above this many classes the confusion matrix shows no class names


def _figure(figsize: tuple[float, float]):
    """A pyplot-free figure (Agg canvas): no GUI backend, no global state, thread-safe."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike, dpi: int) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return atomic_write_bytes(path, buf.getvalue())


def confusion_figsize(num_classes: int) -> tuple[float, float]:
    """Default size in inches: 8 x 7 up to 25 classes, then growing with the class count
    (capped at 40 inches)."""
    side = float(min(40.0, max(7.0, 0.22 * num_classes + 3.0)))
    return side + 1.0, side


def save_confusion_matrix(
    cm: np.ndarray,
    class_names: Sequence[str],
    path: str | os.PathLike,
    *,
    title: str = "Confusion matrix",
    normalize: bool = True,
    figsize: tuple[float, float] | None = None,
    dpi: int = 100,
) -> str:
    """Heat map of ``cm[true, predicted]``, rows normalised to recall when ``normalize``.

    Class names label the axes for up to ``MAX_TICK_LABELS`` classes.
    """
    cm = np.asarray(cm, np.float64)
    k = cm.shape[0]
    if len(class_names) != k:
        raise ValueError(f"{len(class_names)} class names for a {k}x{k} confusion matrix")
    values = cm
    if normalize:
        rows = cm.sum(axis=1, keepdims=True)
        values = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    fig = _figure(figsize or confusion_figsize(k))
    ax = fig.subplots()
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else None,
                      interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02,
                 label="fraction of the true class" if normalize else "clips")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    if k <= MAX_TICK_LABELS:
        font = max(4, min(10, int(400 / max(k, 1))))
        ax.set_xticks(range(k), labels=list(class_names), rotation=90, fontsize=font)
        ax.set_yticks(range(k), labels=list(class_names), fontsize=font)
        if k <= 15:
            for i in range(k):
                for j in range(k):
                    if cm[i, j]:
                        ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=8,
                                color="white" if values[i, j] > 0.5 else "black")
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    return _save(fig, path, dpi)


def save_early_curve(
    rows: Sequence[dict],
    path: str | os.PathLike,
    *,
    title: str = "Early recognition",
    labels: Sequence[str] = ("model",),
    extra: Sequence[Sequence[dict]] = (),
    figsize: tuple[float, float] = (6.0, 4.5),
    dpi: int = 100,
) -> str:
    """Top-1 (solid) and top-5 (dashed) accuracy against the fraction of the video observed.

    ``rows`` come from :func:`tsm_tf.evaluate.early.early_table`; ``extra`` adds curves of
    other models (named by ``labels[1:]``).
    """
    fig = _figure(figsize)
    ax = fig.subplots()
    for i, curve in enumerate([rows, *extra]):
        x = [100.0 * r["fraction"] for r in curve]
        name = labels[i] if i < len(labels) else f"model {i}"
        line = ax.plot(x, [100.0 * r["top1"] for r in curve], marker="o", label=f"{name} top-1")
        ax.plot(x, [100.0 * r["top5"] for r in curve], linestyle="--", marker=".",
                color=line[0].get_color(), label=f"{name} top-5")
    ax.set_xlabel("fraction of the video observed (%)")
    ax.set_ylabel("accuracy (%)")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title)
    return _save(fig, path, dpi)


def cam_strip_figsize(num_frames: int, num_rows: int) -> tuple[float, float]:
    """Default size in inches: 1.6 per frame column, 1.9 per row."""
    return 1.6 * num_frames, 1.9 * num_rows


def save_cam_strip(
    frames: np.ndarray,
    rows: Sequence[tuple[str, np.ndarray]],
    path: str | os.PathLike,
    *,
    title: str = "",
    figsize: tuple[float, float] | None = None,
    dpi: int = 100,
) -> str:
    """A grid: the input frames ``[T, H, W, 3]`` (uint8 RGB) on top, then one row of CAM
    overlays per model (``rows = [(row title, overlays [T, H, W, 3]), ...]``), frames as
    columns."""
    t = len(frames)
    grid = [("input", frames), *rows]
    fig = _figure(figsize or cam_strip_figsize(t, len(grid)))
    axes = fig.subplots(len(grid), t, squeeze=False)
    for r, (name, images) in enumerate(grid):
        for c in range(t):
            ax = axes[r, c]
            ax.imshow(images[c])
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"frame {c + 1}", fontsize=8)
        axes[r, 0].set_ylabel(name, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path, dpi)

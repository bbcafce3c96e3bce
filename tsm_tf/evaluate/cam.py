"""Class activation maps (CAM, Zhou et al. 2016) for the GAP + linear head of TSM/TSN: where in
each frame the evidence for a class lies (the paper's "network dissection" figures).

For frame features ``F[h, w, c]`` (the input of the global pooling, ``TSM.feature_maps_model``)
and the classifier (``TSM.classifier``: kernel ``W[c, k]``, bias ``b[k]``)::

    CAM_k[h, w] = sum_c W[c, k] * F[h, w, c]
    frame logit_k = mean_hw(CAM_k) + b_k       (global average pooling is linear)

and the clip logit is the mean of the frame logits over time.

Example:
    >>> from tsm_tf.models import TSM
    >>> model = TSM("resnet_tiny", num_classes=4, num_segments=2, input_size=64)
    >>> clips = np.zeros((2, 2, 64, 64, 3), "float32")
    >>> cams, logits = class_activation_maps(model, clips, class_ids=[3, 1])
    >>> cams.shape, logits.shape  # [N, T', h, w], [N, T', K]
    ((2, 2, 2, 2), (2, 2, 4))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tsm_tf.common.constants import IMAGENET_MEAN, IMAGENET_STD


def class_activation_maps(
    model, clips: np.ndarray, class_ids: Sequence[int] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """CAMs of ``class_ids[n]`` for clip ``n``: ``cams [N, T', h, w]`` (raw, same units as the
    logits) and the per-frame logits ``[N, T', K]``."""
    clips = np.asarray(clips, np.float32)
    class_ids = np.asarray(class_ids, np.int64).reshape(-1)
    if len(class_ids) != len(clips):
        raise ValueError(f"{len(clips)} clips but {len(class_ids)} class ids")
    features, frame_logits = model.feature_maps_model()(clips, training=False)
    frame_logits = np.asarray(frame_logits, np.float32)
    n, t = frame_logits.shape[:2]
    features = np.asarray(features, np.float32)
    features = features.reshape(n, t, *features.shape[1:])  # [N, T', h, w, C]
    kernel = np.asarray(model.classifier.kernel, np.float32)  # [C, K]
    weights = kernel[:, class_ids].T  # [N, C]
    cams = np.einsum("nthwc,nc->nthw", features, weights)
    return cams, frame_logits


def denormalize(clips: np.ndarray) -> np.ndarray:
    """ImageNet-normalised float RGB -> uint8 RGB (any leading shape, channels last)."""
    x = np.asarray(clips, np.float32) * np.asarray(IMAGENET_STD, np.float32)
    x = x + np.asarray(IMAGENET_MEAN, np.float32)
    return np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)


def normalize_cams(cams: np.ndarray) -> np.ndarray:
    """Min-max scale one clip's CAMs ``[T, h, w]`` to ``[0, 1]`` jointly over its frames, so
    differences between frames stay visible."""
    cams = np.asarray(cams, np.float32)
    lo, hi = float(cams.min()), float(cams.max())
    if hi - lo < 1e-12:
        return np.zeros_like(cams)
    return (cams - lo) / (hi - lo)


def overlay(frame: np.ndarray, cam: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """uint8 RGB frame ``[H, W, 3]`` + CAM ``[h, w]`` in ``[0, 1]`` -> uint8 RGB heat-map
    overlay (the CAM bilinearly upsampled to the frame size, JET colours)."""
    import cv2

    h, w = frame.shape[:2]
    heat = cv2.resize(np.asarray(cam, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    heat = np.clip(heat * 255.0, 0, 255).astype(np.uint8)
    colour = cv2.cvtColor(cv2.applyColorMap(heat, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    mixed = (1.0 - alpha) * frame.astype(np.float32) + alpha * colour.astype(np.float32)
    return np.clip(np.round(mixed), 0, 255).astype(np.uint8)


def clip_overlays(frames: np.ndarray, cams: np.ndarray) -> np.ndarray:
    """uint8 frames ``[T, H, W, 3]`` + raw CAMs ``[T', h, w]`` -> overlays ``[T, H, W, 3]``.

    With temporal pooling (``T' < T``) CAM ``i`` covers frames ``i * T/T'`` ...
    """
    cams = normalize_cams(cams)
    t, tp = len(frames), len(cams)
    return np.stack([overlay(frames[i], cams[min(i * tp // t, tp - 1)]) for i in range(t)])


def model_label(model) -> str:
    """``TSM``, ``online TSM`` or ``TSN`` from the model's shift setting."""
    shift = model.tsm_config["shift"]
    return {"bidirectional": "TSM", "unidirectional": "online TSM"}.get(shift, "TSN")


def write_cam_strips(
    model,
    clips: np.ndarray,
    labels: np.ndarray,
    out_dir: str,
    *,
    compare_model=None,
    class_names: Sequence[str] | None = None,
    target: str = "label",
    prefix: str = "cam",
) -> list[str]:
    """One PNG per clip: input frames, then the CAM overlays of ``model`` (and of
    ``compare_model``, e.g. TSN next to TSM) for the class ``target`` names: the true
    ``"label"`` (the same class for both models) or each model's own ``"prediction"``.

    ``clips`` are normalised ``[N, T, H, W, 3]`` at ``model``'s input size; ``compare_model``
    is rebuilt at that size if needed (the weights do not depend on it).
    """
    import os

    from tsm_tf.evaluate.plots import save_cam_strip
    from tsm_tf.evaluate.protocols import model_at_size, softmax

    if target not in ("label", "prediction"):
        raise ValueError(f"target must be 'label' or 'prediction'. Received: {target!r}")
    models = [model]
    if compare_model is not None:
        if compare_model.tsm_config["num_segments"] != model.tsm_config["num_segments"]:
            raise ValueError(
                "--compare-model must use as many frames as --model: "
                f"{compare_model.tsm_config['num_segments']} vs "
                f"{model.tsm_config['num_segments']}"
            )
        models.append(model_at_size(compare_model, clips.shape[2:4]))
    labels = np.asarray(labels, np.int64)
    names = list(class_names) if class_names is not None else None
    name_of = (lambda k: names[k]) if names else str  # noqa: E731
    frames = denormalize(clips)  # [N, T, H, W, 3] uint8
    rows_per_model = []
    for m in models:
        _, frame_logits = m.feature_maps_model()(clips, training=False)
        clip_logits = np.asarray(frame_logits, np.float32).mean(axis=1)  # [N, K]
        preds = clip_logits.argmax(axis=1)
        targets = labels if target == "label" else preds
        cams, _ = class_activation_maps(m, clips, targets)
        probs = softmax(clip_logits.astype(np.float64))
        rows_per_model.append((m, cams, preds, probs, targets))
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    labels_used = [model_label(m) for m in models]
    if len(set(labels_used)) < len(labels_used):
        labels_used = [f"{lab} ({m.name})" for lab, m in zip(labels_used, models, strict=True)]
    for n in range(len(clips)):
        rows = []
        for label, (_, cams, preds, probs, targets) in zip(labels_used, rows_per_model,
                                                          strict=True):
            p = int(preds[n])
            rows.append((f"{label}\nCAM of {name_of(int(targets[n]))}\n"
                         f"pred {name_of(p)} ({probs[n, p]:.0%})",
                         clip_overlays(frames[n], cams[n])))
        title = f"clip {n}: true class {name_of(int(labels[n]))}"
        paths.append(save_cam_strip(frames[n], rows, os.path.join(out_dir, f"{prefix}_{n:03d}.png"),
                                    title=title))
    return paths

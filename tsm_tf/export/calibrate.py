"""Calibration (and held-out) clips for quantization, and the representative data fed to the
int8 converter.

Clips come from any dataset of the registry (the synthetic set by default) or a list file in
the reference format, sampled and centre-cropped as the test protocol does. Streaming models
are calibrated as they run: each clip's frames in order, the caches carried from frame to
frame, so the caches' ranges are those they reach at run time.

Example (needs a model file, so not run as a doctest)::
    data = calibration_source(dataset="synthetic", root="/data/synthetic")
    clips = load_clips(data, num_clips=32, num_segments=8, input_size=64)
    convert_to_tflite(streaming, quantization="int8",
                      representative_data=calibration_frames(streaming, clips))
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import numpy as np

from tsm_tf.data.errors import DataError
from tsm_tf.data.listfile import resolve_list_path

__all__ = [
    "CalibrationError",
    "calibration_clips",
    "calibration_frames",
    "clip_steps",
    "dataset_args",
    "calibration_source",
    "load_clips",
    "representative_data",
    "training_list",
]


class CalibrationError(ValueError):
    """Calibration data missing, unreadable, or fewer clips than asked."""


def calibration_source(
    *,
    dataset: str = "synthetic",
    root: str | os.PathLike | None = None,
    list_file: str | os.PathLike | None = None,
    frame_template: str | None = None,
    num_classes: int | None = None,
    split: str = "train",
) -> dict:
    """A JSON-able description of a set of clips: ``dataset``, ``root``, ``list_file`` (and
    ``frame_template`` / ``num_classes`` when given), as ``tsm_tf.export.qat`` takes it;
    ``dataset_args`` turns it into ``tsm_tf.data.build_dataset`` arguments.

    ``dataset`` is a registry name; with ``list_file`` the clips are that list's (relative to
    ``root``), else the synthetic set's ``{split}.txt`` under ``root`` (its default folder when
    ``root`` is None). A ``frame_template`` (e.g. ``"{:05d}.jpg"``) overrides the dataset's.
    """
    if list_file is None:
        if dataset != "synthetic":
            raise CalibrationError(
                f"Dataset {dataset!r} needs a list of clips: pass --calib-list FILE --root DIR "
                "(training clips, in the reference 'path num_frames label' format)."
            )
        from tsm_tf.common.paths import synthetic_root

        folder = synthetic_root(root)
        list_file = folder / f"{split}.txt"
        if not list_file.is_file():
            raise CalibrationError(
                f"The synthetic set is missing ({list_file} not found): generate it with "
                f"`python -m tsm_tf.data.synthetic --out {folder}`, or pass --calib-list."
            )
        root = folder
    try:  # as written, else under the root: as training found it (tsm_tf.data.listfile)
        list_file = resolve_list_path(list_file, root, flag="--calib-list")
    except DataError as error:
        raise CalibrationError(str(error)) from None
    data = {"dataset": dataset, "root": None if root is None else str(root),
            "list_file": str(list_file)}
    if frame_template is not None:
        data["frame_template"] = frame_template
    if dataset == "custom":
        if num_classes is None:
            raise CalibrationError("Dataset 'custom' needs the number of classes.")
        data["num_classes"] = int(num_classes)
        data.setdefault("frame_template", "img_{:05d}.jpg")
    dataset_args(data)  # validates the dataset name and template now, with a clear message
    return data


def dataset_args(data: dict) -> dict:
    """``build_dataset`` keyword arguments of a calibration source: ``frame_template`` and
    ``num_classes`` become a ``DatasetSpec``."""
    from tsm_tf.data.registry import get_dataset_spec

    args = dict(data)
    overrides = {k: args.pop(k) for k in ("frame_template", "num_classes") if k in args}
    try:
        spec = get_dataset_spec(args["dataset"], **overrides)
    except ValueError as error:
        raise CalibrationError(str(error)) from None
    args["dataset"] = spec if overrides else args["dataset"]
    return args


def training_list(data: dict) -> list:
    """The ``VideoRecord`` list of a calibration source (for its clips' frame counts)."""
    from tsm_tf.data.listfile import read_list_file

    return read_list_file(data["list_file"], root=data.get("root"))


def load_clips(data: dict, *, num_clips: int, num_segments: int, input_size: int | tuple,
               skip: int = 0, allow_fewer: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``num_clips`` clips ``[N, T, H, W, 3]`` (normalised) and their labels ``[N]``.

    Clips are taken in list order after the first ``skip`` (test-protocol sampling: centre
    frames of each segment, resize and centre crop). Raises ``CalibrationError`` when the
    source has fewer clips (with ``allow_fewer``, only when it has none).
    """
    import tensorflow as tf

    from tsm_tf.data.pipeline import build_dataset

    height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
    if height != width:
        raise CalibrationError(f"Non-square inputs {height}x{width} are not supported by the "
                               "data pipeline; export a model with a square input_size.")
    size = int(height)
    try:
        dataset = build_dataset(**dataset_args(data), num_segments=num_segments, input_size=size,
                                batch_size=1, training=False, on_error="raise")
    except (ValueError, FileNotFoundError, OSError) as error:
        raise CalibrationError(f"Cannot read clips from {data['list_file']}: {error}") from None
    available = dataset.num_samples - skip
    if allow_fewer and available > 0:
        num_clips = min(num_clips, available)
    if available < num_clips:
        raise CalibrationError(
            f"{data['list_file']} has {max(available, 0)} clips"
            f"{f' after the first {skip}' if skip else ''}, fewer than the {num_clips} asked; "
            "lower --num-calib or pass a longer list."
        )
    clips, labels = [], []
    try:
        for clip, label in dataset.skip(skip).take(num_clips):
            clips.append(np.asarray(clip)[0])
            labels.append(int(np.asarray(label)[0]))
    except tf.errors.OpError as error:
        raise CalibrationError(f"Cannot decode a clip of {data['list_file']}: "
                               f"{error.message.splitlines()[0]}") from None
    return np.stack(clips).astype(np.float32), np.asarray(labels, np.int64)


def clip_steps(clip: np.ndarray, frames_per_step: int = 1) -> Iterator[np.ndarray]:
    """The inputs of a streaming model for ``clip`` ``[T, H, W, 3]``, in order: one frame
    ``[1, H, W, 3]`` per call, or ``[1, K, H, W, 3]`` with ``frames_per_step=K``."""
    k = frames_per_step
    for start in range(0, len(clip) - k + 1, k):
        yield clip[start][None] if k == 1 else clip[None, start:start + k]


def calibration_clips(model, clips: np.ndarray) -> Callable[[], Iterator[dict]]:
    """Representative data of an offline model: one clip ``[1, T, H, W, 3]`` per sample."""
    name = model.inputs[0].name

    def generate():
        for clip in clips:
            yield {name: clip[None]}

    return generate


def calibration_frames(streaming, clips: np.ndarray) -> Callable[[], Iterator[dict]]:
    """Int8 calibration as at run time: frames in order, states carried from frame to frame.

    ``clips`` is ``[N, T, H, W, 3]``; a model taking K frames per step gets them K at a time
    (T must be a multiple of K). Every clip starts from zero states.
    """

    def generate():
        for clip in clips:
            states = streaming.init_states()
            for frames in clip_steps(clip, streaming.frames_per_step):
                yield {streaming.frame_input_name: frames, **states}
                _, states = streaming.step(frames, states)

    return generate


def representative_data(model, clips: np.ndarray) -> Callable[[], Iterator[dict]]:
    """``calibration_frames`` for a ``StreamingTSM``, ``calibration_clips`` otherwise."""
    from tsm_tf.models import StreamingTSM

    if isinstance(model, StreamingTSM):
        return calibration_frames(model, clips)
    return calibration_clips(model, clips)

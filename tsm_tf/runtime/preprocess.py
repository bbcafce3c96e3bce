"""Frame preprocessing of the evaluation protocol, in numpy + OpenCV (no TensorFlow).

The one implementation shared by the data pipeline (``tsm_tf.data.transforms``), the streaming
recognizer and, number for number through golden files, the Android app:

1. resize so the short side is ``resize_short_side`` (``input_size * 256 // 224``), long side
   truncated; bilinear (OpenCV ``INTER_LINEAR``), or ``INTER_AREA`` when both sides shrink 2x
   or more;
2. centre crop ``crop = (height, width)``, offsets rounded as torchvision's ``CenterCrop``;
3. RGB channel order;
4. ``x = (pixel * float32(1/255) - mean) / std`` in float32 (ImageNet mean and std);
5. for int8 / uint8 inputs ``q = clip(round_half_away(x / scale) + zero_point)``, in float32.

Steps 3-5 depend on the pixel value and channel only, so they run as one 256-entry lookup
table per channel (built with the same float32 arithmetic, hence identical results).

Example:
    >>> import numpy as np
    >>> frame_bgr = np.zeros((480, 640, 3), np.uint8)  # an OpenCV camera frame
    >>> spec = {"shape": [1, 224, 224, 3], "dtype": "int8",
    ...         "quantization": {"scale": 0.0187, "zero_point": -14},
    ...         "mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    >>> x = preprocess_frame(frame_bgr, spec, {"resize_short_side": 256, "crop": [224, 224]})
    >>> x.shape, x.dtype
    ((224, 224, 3), dtype('int8'))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from tsm_tf.common.constants import IMAGENET_MEAN, IMAGENET_STD, eval_scale_size

INV_255 = np.float32(1.0 / 255.0)
COLORS = ("bgr", "rgb")
INTERPOLATIONS = ("bilinear",)
_DTYPES = {"float32": np.float32, "int8": np.int8, "uint8": np.uint8}


# -- geometry (shared with tsm_tf.data.transforms) ---------------------------------------------
def short_side_size(image_w: int, image_h: int, size: int) -> tuple[int, int]:
    """``(w, h)`` with the short side ``size`` (long side truncated, as torchvision does)."""
    if image_w <= image_h:
        return size, int(size * image_h / image_w)
    return int(size * image_w / image_h), size


def resize_image(img: np.ndarray, w: int, h: int, out: np.ndarray | None = None) -> np.ndarray:
    """Resize ``[H, W, C]`` to ``[h, w, C]``: bilinear, area averaging for 2x shrinks.

    ``out``: an ``[h, w, C]`` array of ``img``'s dtype to write into (a stream reuses one).
    An image already ``w x h`` is returned as it is.
    """
    if img.shape[1] == w and img.shape[0] == h:
        return img
    # Bilinear (as the reference); area averaging only for strong shrinks, to avoid aliasing.
    big_shrink = w * 2 <= img.shape[1] and h * 2 <= img.shape[0]
    interpolation = cv2.INTER_AREA if big_shrink else cv2.INTER_LINEAR
    if out is None:
        return cv2.resize(img, (w, h), interpolation=interpolation)
    written = cv2.resize(img, (w, h), dst=out, interpolation=interpolation)
    if written is not out:  # OpenCV could not write in place
        np.copyto(out, written)
    return out


def center_crop_box(image_w: int, image_h: int, crop: int, crop_h: int | None = None
                    ) -> tuple[int, int, int, int]:
    """Centre box ``(x, y, w, h)`` of ``crop x crop_h`` (default square), rounded as
    torchvision's ``CenterCrop``."""
    crop_h = crop if crop_h is None else crop_h
    x = int(round((image_w - crop) / 2.0))
    y = int(round((image_h - crop_h) / 2.0))
    return max(x, 0), max(y, 0), crop, crop_h


# -- values ---------------------------------------------------------------------------------
def normalize(pixels: np.ndarray, mean: Sequence[float] = IMAGENET_MEAN,
              std: Sequence[float] = IMAGENET_STD) -> np.ndarray:
    """uint8 RGB ``[..., 3]`` -> float32 ``(pixel * float32(1/255) - mean) / std``.

    The same float32 operations, in the same order, as the tf.data pipeline's last step.
    """
    x = np.asarray(pixels).astype(np.float32) * INV_255
    return (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)


def round_half_away(x: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, ties away from zero (C ``roundf``, TFLite's QUANTIZE)."""
    x = np.asarray(x)
    return np.copysign(np.floor(np.abs(x) + x.dtype.type(0.5)), x)


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype) -> np.ndarray:
    """float -> ``dtype`` (int8 / uint8): ``clip(round_half_away(x / scale) + zero_point)``.

    Computed in float32, as a float32 runtime on a phone does.
    """
    dtype = np.dtype(dtype)
    info = np.iinfo(dtype)
    q = round_half_away(np.asarray(x, np.float32) / np.float32(scale)) + np.float32(zero_point)
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """int -> float32 ``(q - zero_point) * scale``."""
    return (np.asarray(q, np.float32) - np.float32(zero_point)) * np.float32(scale)


def input_dtype(input_spec: Mapping) -> np.dtype:
    """The numpy dtype of a sidecar ``input`` section's ``dtype``."""
    name = str(input_spec.get("dtype", "float32"))
    if name not in _DTYPES:
        raise ValueError(f"Unsupported model input dtype {name!r}: the runtime feeds "
                         f"{sorted(_DTYPES)} images.")
    return np.dtype(_DTYPES[name])


def value_table(input_spec: Mapping) -> np.ndarray:
    """Steps 4-5 as a lookup table ``[256, 3]`` (pixel value, RGB channel) in the input dtype."""
    mean = input_spec.get("mean") or IMAGENET_MEAN
    std = input_spec.get("std") or IMAGENET_STD
    table = normalize(np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1), mean, std)
    dtype = input_dtype(input_spec)
    if dtype == np.float32:
        return table
    quant = input_spec.get("quantization")
    if not quant:
        raise ValueError(f"The model input is {dtype.name} but the sidecar gives no "
                         "`input.quantization` (scale, zero_point): re-export the model.")
    return quantize(table, quant["scale"], quant["zero_point"], dtype)


# -- one frame ------------------------------------------------------------------------------
def check_frame(frame: np.ndarray, name: str = "frame") -> np.ndarray:
    """A uint8 ``[H, W, 3]`` colour frame, or a ``ValueError`` saying how to make one."""
    frame = np.asarray(frame)
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        raise ValueError(f"{name} is grayscale {frame.shape}: the model takes colour frames. "
                         "Convert it first, e.g. cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR).")
    if frame.ndim == 3 and frame.shape[2] == 4:
        raise ValueError(f"{name} has 4 channels {frame.shape} (BGRA/RGBA): drop the alpha "
                         "channel first, e.g. cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR).")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"{name} must be an image [H, W, 3]. Received shape {frame.shape}.")
    if frame.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 (0-255), as OpenCV decodes it. Received "
                         f"dtype {frame.dtype}; convert with np.clip(x, 0, 255).astype(np.uint8).")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise ValueError(f"{name} is empty {frame.shape}.")
    return frame


def crop_frame(frame: np.ndarray, preprocess_spec: Mapping,
               buffers: dict | None = None) -> np.ndarray:
    """Steps 1-2: uint8 ``[H, W, 3]`` -> uint8 ``[crop_h, crop_w, 3]`` (channel order kept).

    ``buffers``: a dict the resized frame's memory is kept in between calls (a stream of
    frames of one size then resizes into the same, cache-warm memory every frame).
    """
    interpolation = preprocess_spec.get("interpolation", "bilinear")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"Unsupported preprocess.interpolation {interpolation!r}; the runtime "
                         f"implements {INTERPOLATIONS}.")
    crop_h, crop_w = (int(v) for v in preprocess_spec["crop"])
    h, w = frame.shape[:2]
    new_w, new_h = short_side_size(w, h, int(preprocess_spec["resize_short_side"]))
    out = None
    if buffers is not None and (new_w, new_h) != (w, h):
        shape = (new_h, new_w, frame.shape[2])
        out = buffers.get("resized")
        if out is None or out.shape != shape or out.dtype != frame.dtype:
            out = buffers["resized"] = np.empty(shape, frame.dtype)
    resized = resize_image(frame, new_w, new_h, out=out)
    x, y, _, _ = center_crop_box(new_w, new_h, crop_w, crop_h)
    out = resized[y:y + crop_h, x:x + crop_w]
    if out.shape[:2] != (crop_h, crop_w):
        raise ValueError(f"resize_short_side {preprocess_spec['resize_short_side']} is smaller "
                         f"than the crop {crop_h}x{crop_w}: fix the sidecar's `preprocess`.")
    return out


class FramePreprocessor:
    """Preprocess frames for one model, reusing its lookup table and (optionally) writing
    straight into a caller's buffer, e.g. the interpreter's input tensor.

    Frames of one stream must keep one size: a change raises (``reset()`` accepts a new size).
    """

    def __init__(self, input_spec: Mapping, preprocess_spec: Mapping, color: str = "bgr"):
        if color not in COLORS:
            raise ValueError(f"color must be one of {COLORS}. Received: color={color!r}")
        self.color = color
        self.preprocess_spec = dict(preprocess_spec)
        self.dtype = input_dtype(input_spec)
        self.crop_hw = tuple(int(v) for v in preprocess_spec["crop"])
        self._table = value_table(input_spec).reshape(256, 1, 3)  # [value, 1, RGB channel]
        self.frame_size: tuple[int, int] | None = None
        # reused every frame: the resized frame and the RGB crop (cache-warm, nothing allocated)
        self._buffers: dict[str, np.ndarray] = {}
        self._rgb = np.empty((*self.crop_hw, 3), np.uint8)

    def reset(self) -> None:
        """Forget the stream's frame size (a new video may have another)."""
        self.frame_size = None

    def crop_rgb(self, frame: np.ndarray) -> np.ndarray:
        """Checks, steps 1-3: uint8 ``[H, W, 3]`` -> contiguous uint8 RGB ``[crop_h, crop_w, 3]``.

        The result is this preprocessor's own buffer, overwritten by the next call: use it (or
        copy it) before giving the next frame.
        """
        frame = check_frame(frame)
        size = frame.shape[:2]
        if self.frame_size is None:
            self.frame_size = size
        elif size != self.frame_size:
            raise ValueError(
                f"Frame size changed from {self.frame_size[1]}x{self.frame_size[0]} to "
                f"{size[1]}x{size[0]} within one stream: call reset() for a new video, or "
                "resize frames to one size first.")
        crop = crop_frame(frame, self.preprocess_spec, self._buffers)  # a view, [h, w, 3]
        if self.color == "bgr":
            written = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB, dst=self._rgb)
            if written is not self._rgb:  # OpenCV could not write in place
                np.copyto(self._rgb, written)
        else:
            np.copyto(self._rgb, crop)
        return self._rgb

    def values(self, rgb: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Steps 4-5 on ``crop_rgb``'s output, by lookup table, into ``out`` when given."""
        if out is None:
            return cv2.LUT(rgb, self._table)
        written = cv2.LUT(rgb, self._table, dst=out)
        if written is not out:  # OpenCV could not write in place (layout or dtype differ)
            np.copyto(out, written)
        return out

    def __call__(self, frame: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """uint8 ``[H, W, 3]`` -> ``[crop_h, crop_w, 3]`` in the input dtype (into ``out``)."""
        return self.values(self.crop_rgb(frame), out)


def preprocess_frame(frame: np.ndarray, input_spec: Mapping, preprocess_spec: Mapping,
                     color: str = "bgr") -> np.ndarray:
    """One frame -> model-ready ``[crop_h, crop_w, 3]`` in the input dtype.

    Args:
        frame: uint8 ``[H, W, 3]``, any size, BGR (OpenCV) or RGB (``color="rgb"``).
        input_spec: the sidecar's ``input`` section (``dtype``, ``quantization``, ``mean``,
            ``std``).
        preprocess_spec: the sidecar's ``preprocess`` section (``resize_short_side``, ``crop``,
            ``interpolation``).
        color: ``"bgr"`` or ``"rgb"``, the channel order of ``frame``.
    """
    return FramePreprocessor(input_spec, preprocess_spec, color)(frame)


def preprocess_spec_for(input_size: int | tuple[int, int], scale_size: int | None = None) -> dict:
    """The evaluation protocol's ``preprocess`` section (the sidecar's) for ``input_size``
    (square, or ``(height, width)``): resize the short side, centre crop."""
    height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
    return {"resize_short_side": eval_scale_size(int(height), scale_size),
            "crop": [int(height), int(width)], "interpolation": "bilinear"}

"""Dataset registry: one :class:`DatasetSpec` per supported dataset.

A spec carries everything downstream code must not guess: number of classes, label file,
frame-file template, flip policy, default sampling and test protocol, and the training recipe
of the reference implementation (lr for the given batch size, step epochs, clipping, ...).

Example:
    >>> spec = get_dataset_spec("something_v2")
    >>> spec.num_classes, spec.frame_template.format(7), spec.allow_flip
    (174, '000007.jpg', False)
    >>> get_dataset_spec("custom", num_classes=5, frame_template="{:04d}.png").num_classes
    5
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

SAMPLING_CHOICES = ("uniform", "dense")

# Something-Something V2 classes whose names differ only by left/right (MMAction2 swaps them
# when it flips): 86 <-> 87, 93 <-> 94, 166 <-> 167.
SSV2_FLIP_LABEL_MAP = {86: 87, 87: 86, 93: 94, 94: 93, 166: 167, 167: 166}

_TEST_PROTOCOL_RE = re.compile(r"^(\d+)clips?-(\d+)crops?(-fullres)?$")


def parse_test_protocol(text: str) -> tuple[int, int, bool] | None:
    """``"{clips}clips-{crops}crops[-fullres]"`` -> ``(num_clips, num_crops, full_res)``, or
    None when ``text`` does not have that form.

    Example:
        >>> parse_test_protocol("10clips-3crops-fullres"), parse_test_protocol("center")
        ((10, 3, True), None)
    """
    m = _TEST_PROTOCOL_RE.match(text)
    return (int(m.group(1)), int(m.group(2)), bool(m.group(3))) if m else None


def _recipe(**kw: Any) -> dict[str, Any]:
    base = {
        "epochs": 50,
        "lr": 0.01,
        "lr_steps": (20, 40),
        "batch_size": 64,
        "dropout": 0.5,
        "weight_decay": 5e-4,
        "partial_bn": False,
        "clip_grad_norm": 20.0,
        "lr_schedule": "step",
    }
    base.update(kw)
    return base


@dataclass(frozen=True)
class DatasetSpec:
    """Static description of a dataset. Build with :func:`get_dataset_spec`.

    Attributes:
        name: registry name.
        num_classes: number of labels (labels are ``0 .. num_classes - 1``).
        frame_template: ``str.format`` template of a frame file name, frames numbered from 1.
        allow_flip: random horizontal flip during training.
        flip_label_map: labels to swap when a clip is flipped (only used if ``allow_flip``).
        sampling: default frame sampling, ``"uniform"`` (TSN segments) or ``"dense"``.
        test_protocol: ``"{clips}clips-{crops}crops[-fullres]"``, see :meth:`test_views`.
        label_file: name of the class-name file under ``tsm_tf/labels/`` (or None).
        recipe: default training recipe (epochs, lr, lr_steps, batch_size, dropout,
            weight_decay, partial_bn, clip_grad_norm, lr_schedule).
        video_ext: typical raw-video extension of the official release (or None for frames).
    """

    name: str
    num_classes: int
    frame_template: str = "img_{:05d}.jpg"
    allow_flip: bool = True
    flip_label_map: dict[int, int] | None = None
    sampling: str = "uniform"
    test_protocol: str = "1clip-1crop"
    label_file: str | None = None
    recipe: dict[str, Any] = field(default_factory=_recipe)
    video_ext: str | None = None

    def __post_init__(self) -> None:
        if int(self.num_classes) < 1:
            raise ValueError(f"num_classes must be >= 1. Received: num_classes={self.num_classes}")
        if self.sampling not in SAMPLING_CHOICES:
            raise ValueError(
                f"sampling must be one of {SAMPLING_CHOICES}. Received: sampling={self.sampling!r}"
            )
        try:
            self.frame_template.format(1)
        except (IndexError, KeyError, ValueError) as e:
            raise ValueError(
                "frame_template must format one integer, e.g. 'img_{:05d}.jpg'. "
                f"Received: frame_template={self.frame_template!r}"
            ) from e
        self.test_views()  # validates test_protocol
        if self.flip_label_map is not None:
            for a, b in self.flip_label_map.items():
                if self.flip_label_map.get(b) != a:
                    raise ValueError(f"flip_label_map must be symmetric: {a}->{b} but not {b}->{a}")
        # Private copies, so specs never share (and leak changes through) their dicts.
        recipe = dict(self.recipe)
        if "lr_steps" in recipe:
            recipe["lr_steps"] = tuple(recipe["lr_steps"])
        object.__setattr__(self, "recipe", recipe)
        if self.flip_label_map is not None:
            flip = {int(a): int(b) for a, b in self.flip_label_map.items()}
            object.__setattr__(self, "flip_label_map", flip)

    def __hash__(self) -> int:
        return hash((self.name, self.num_classes, self.frame_template, self.sampling))

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON/YAML friendly)."""
        d = dataclasses.asdict(self)
        d["recipe"]["lr_steps"] = list(d["recipe"].get("lr_steps", ()))
        return d

    def test_views(self) -> tuple[int, int, bool]:
        """``(num_clips, num_crops, full_res)`` of the test protocol."""
        views = parse_test_protocol(self.test_protocol)
        if views is None:
            raise ValueError(
                "test_protocol must look like '10clips-3crops-fullres' or '1clip-1crop'. "
                f"Received: test_protocol={self.test_protocol!r}"
            )
        return views

    def frame_name(self, index: int) -> str:
        """File name of frame ``index`` (1-based)."""
        return self.frame_template.format(index)


_SPECS: dict[str, DatasetSpec] = {
    # Kinetics: reference script (lr 0.02 for batch 128, steps 20/40, 50 epochs, wd 1e-4,
    # gradient clipping 20, no partial BN); test 10 dense clips x 3 crops at full resolution.
    "kinetics400": DatasetSpec(
        name="kinetics400",
        num_classes=400,
        frame_template="img_{:05d}.jpg",
        allow_flip=True,
        sampling="dense",
        test_protocol="10clips-3crops-fullres",
        label_file="kinetics400.txt",
        recipe=_recipe(lr=0.02, batch_size=128, weight_decay=1e-4),
        video_ext=".mp4",
    ),
    # UCF101 / HMDB51: fine-tuned from Kinetics with partial BN, lr 0.001 steps 10/20,
    # 25 epochs, dropout 0.8.
    "ucf101": DatasetSpec(
        name="ucf101",
        num_classes=101,
        frame_template="img_{:05d}.jpg",
        test_protocol="2clips-1crop",
        label_file="ucf101.txt",
        recipe=_recipe(epochs=25, lr=0.001, lr_steps=(10, 20), dropout=0.8, partial_bn=True),
        video_ext=".avi",
    ),
    "hmdb51": DatasetSpec(
        name="hmdb51",
        num_classes=51,
        frame_template="img_{:05d}.jpg",
        test_protocol="2clips-1crop",
        label_file="hmdb51.txt",
        recipe=_recipe(epochs=25, lr=0.001, lr_steps=(10, 20), dropout=0.8, partial_bn=True),
        video_ext=".avi",
    ),
    # Something-Something and Jester: left/right is part of the label, so no flip.
    "something_v1": DatasetSpec(
        name="something_v1",
        num_classes=174,
        frame_template="{:05d}.jpg",
        allow_flip=False,
        test_protocol="1clip-1crop",
        label_file="something_v1.txt",
    ),
    "something_v2": DatasetSpec(
        name="something_v2",
        num_classes=174,
        frame_template="{:06d}.jpg",
        allow_flip=False,
        flip_label_map=SSV2_FLIP_LABEL_MAP,
        test_protocol="2clips-3crops-fullres",
        label_file="something_v2.txt",
        video_ext=".webm",
    ),
    "jester": DatasetSpec(
        name="jester",
        num_classes=27,
        frame_template="{:05d}.jpg",
        allow_flip=False,
        test_protocol="2clips-1crop",
        label_file="jester.txt",
    ),
    # Embedded synthetic set: the motion direction is the label, so no flip. Recipe for the
    # tiny model; the trainer may tune it.
    "synthetic": DatasetSpec(
        name="synthetic",
        num_classes=8,
        frame_template="img_{:05d}.jpg",
        allow_flip=False,
        test_protocol="1clip-1crop",
        label_file=None,
        # Learnt from scratch by a tiny network (the trainer adds arch, size and Adam).
        recipe=_recipe(epochs=10, lr=3e-3, lr_steps=(), batch_size=16, dropout=0.2,
                       weight_decay=0.0, clip_grad_norm=20.0, lr_schedule="cosine"),
    ),
}

_CUSTOM_DEFAULTS = {"name": "custom", "recipe": _recipe(weight_decay=1e-4)}


DEFAULT_FRAME_TEMPLATE = "img_{:05d}.jpg"  # a custom dataset's frame names unless told


def resolve_spec(
    dataset: str | DatasetSpec | None = "custom",
    *,
    num_classes: int | None = None,
    frame_template: str | None = None,
    default_num_classes: int | None = None,
) -> DatasetSpec:
    """The spec that user arguments name: a ``DatasetSpec`` passes through; ``"custom"`` (or
    None) takes ``num_classes`` (else ``default_num_classes``, e.g. the model's) and
    ``frame_template`` (else ``img_{:05d}.jpg``); a registry name takes them as overrides.

    Example:
        >>> resolve_spec("custom", default_num_classes=8).frame_template
        'img_{:05d}.jpg'
        >>> resolve_spec("jester").num_classes
        27
    """
    if isinstance(dataset, DatasetSpec):
        return dataset
    overrides: dict[str, Any] = {}
    if frame_template:
        overrides["frame_template"] = frame_template
    if num_classes:
        overrides["num_classes"] = int(num_classes)
    if (dataset or "custom") == "custom":
        if "num_classes" not in overrides and default_num_classes is not None:
            overrides["num_classes"] = int(default_num_classes)
        overrides.setdefault("frame_template", DEFAULT_FRAME_TEMPLATE)
        return get_dataset_spec("custom", **overrides)
    return get_dataset_spec(dataset, **overrides)


def list_datasets() -> list[str]:
    """Names accepted by :func:`get_dataset_spec` (``custom`` included)."""
    return sorted([*_SPECS, "custom"])


def get_dataset_spec(name: str | DatasetSpec, **overrides: Any) -> DatasetSpec:
    """Return the spec of dataset ``name``, with any field replaced by ``overrides``.

    ``recipe`` overrides are merged into the default recipe. ``custom`` requires
    ``num_classes`` and ``frame_template``.

    Raises:
        ValueError: unknown name (the message lists the accepted names) or bad override.
    """
    if isinstance(name, DatasetSpec):
        base = name
    elif name == "custom":
        missing = [k for k in ("num_classes", "frame_template") if k not in overrides]
        if missing:
            raise ValueError(
                f"dataset 'custom' needs {', '.join(missing)}, e.g. "
                "get_dataset_spec('custom', num_classes=10, frame_template='img_{:05d}.jpg')"
            )
        ov = dict(overrides)
        recipe = {**_CUSTOM_DEFAULTS["recipe"], **dict(ov.pop("recipe", {}) or {})}
        return DatasetSpec(name="custom", recipe=recipe, **ov)
    else:
        key = str(name).lower().replace("-", "_")
        key = {"kinetics": "kinetics400", "something": "something_v1", "somethingv2":
               "something_v2", "sthv2": "something_v2", "sthv1": "something_v1"}.get(key, key)
        if key not in _SPECS:
            raise ValueError(
                f"Unknown dataset {name!r}. Accepted names: {', '.join(list_datasets())}."
            )
        base = _SPECS[key]
    if not overrides:
        return base
    fields = {f.name for f in dataclasses.fields(DatasetSpec)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"Unknown DatasetSpec field(s) {unknown}. Fields: {sorted(fields)}")
    ov = dict(overrides)
    if "recipe" in ov:
        ov["recipe"] = {**base.recipe, **dict(ov["recipe"] or {})}
    return dataclasses.replace(base, **ov)

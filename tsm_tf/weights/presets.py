"""The published TSM checkpoints (reference model zoo) and the reference file-name grammar.

A preset records what a checkpoint file does not say about itself: the frames per clip it
was tested with, the dataset (hence the class names), the test protocol and the published
top-1. ``find_preset(path)`` matches a checkpoint by file name; ``parse_checkpoint_name``
reads the reference naming scheme
``TSM_{dataset}_{modality}_{arch}_shift{div}_{place}_avg_segment{T}_e{E}[_dense][_nl]``
for files that are not presets (e.g. your own reference-trained checkpoints).

Example:
    >>> name = "TSM_something_RGB_resnet50_shift8_blockres_avg_segment16_e45.pth"
    >>> parse_checkpoint_name(name)["num_segments"]
    16
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tsm_tf.common.constants import IMAGENET_MEAN, IMAGENET_STD, strip_checkpoint_suffix

ZOO_URL = "https://file.lzhu.me/projects/tsm/models/"
ONLINE_URL = "https://hanlab.mit.edu/projects/tsm/models/"

# Dataset word in reference file names -> our dataset name.
_DATASET_WORDS = {
    "kinetics": "kinetics400",
    "something": "something_v1",
    "somethingv1": "something_v1",
    "somethingv2": "something_v2",
    "jester": "jester",
    "ucf101": "ucf101",
    "hmdb51": "hmdb51",
}
_ARCH_WORDS = {
    "resnet18": "resnet18",
    "resnet34": "resnet34",
    "resnet50": "resnet50",
    "resnet101": "resnet101",
    "mobilenetv2": "mobilenetv2",
}
_NAME_RE = re.compile(
    r"^TSM_(?P<dataset>[A-Za-z0-9]+)_(?P<modality>RGB|Flow|RGBDiff)_(?P<arch>[A-Za-z0-9_]+?)"
    r"(?:_shift(?P<div>\d+)_(?P<place>blockres|block))?"
    r"_(?P<consensus>avg)_segment(?P<segments>\d+)_e(?P<epochs>\d+)(?P<flags>(?:_[a-z]+)*)$"
)


@dataclass(frozen=True)
class Preset:
    """One published checkpoint: how to rebuild its network and how it was evaluated."""

    name: str
    file_name: str
    url: str
    arch: str
    dataset: str
    num_classes: int
    num_segments: int
    shift: str = "bidirectional"
    shift_div: int = 8
    shift_place: str = "blockres"
    non_local: bool = False
    temporal_pool: bool = False
    layout: str = "reference"  # "reference" (module.base_model.*) or "online" (features.*)
    sampling: str = "uniform"  # training/test frame sampling: "uniform" (TSN) or "dense"
    test_protocol: str = ""
    published_top1: dict = field(default_factory=dict)  # protocol -> top-1 (%)
    input_size: int = 224
    scale_size: int = 256
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    note: str = ""

    @property
    def model_name(self) -> str:
        """The ``create_model`` name this checkpoint loads into."""
        family = {"bidirectional": "tsm", "unidirectional": "tsm_online", "none": "tsn"}
        return f"{family[self.shift]}_{self.arch}"

    def model_kwargs(self) -> dict:
        """``TSM`` constructor arguments of this checkpoint's network."""
        return dict(
            arch=self.arch, num_classes=self.num_classes, num_segments=self.num_segments,
            shift=self.shift, shift_div=self.shift_div, shift_place=self.shift_place,
            non_local=self.non_local, temporal_pool=self.temporal_pool,
        )

    def preprocessing(self) -> dict:
        return dict(input_size=self.input_size, scale_size=self.scale_size,
                    mean=list(self.mean), std=list(self.std), sampling=self.sampling,
                    test_protocol=self.test_protocol)

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(mean=list(self.mean), std=list(self.std), model_name=self.model_name)
        return out


_K400_DENSE = "dense sampling, 8 frames x 10 clips x 3 crops, full resolution (short side 256)"
_UNIFORM_1 = "uniform sampling, 1 clip, centre crop 224"
_SOMETHING = "1 clip centre crop 224 / full resolution x 2 clips (twice sample)"


def _zoo(name, file_stem, arch, dataset, segments, top1, *, sampling="uniform", protocol="",
         shift="bidirectional", non_local=False, note="") -> Preset:
    from tsm_tf.weights.labels import DATASETS

    return Preset(
        name=name, file_name=f"{file_stem}.pth", url=f"{ZOO_URL}{file_stem}.pth", arch=arch,
        dataset=dataset, num_classes=DATASETS[dataset], num_segments=segments, shift=shift,
        non_local=non_local, sampling=sampling, test_protocol=protocol, published_top1=top1,
        note=note,
    )


_DENSE_TOP1 = "dense 8x10 clips x 3 crops"
_SOMETHING_TOP1 = ("1 clip centre crop", "full res x 2 clips")
_SSV2_PROTOCOL = "full resolution x 2 clips (twice sample)"


def _ssv1(name, stem, arch, segments, crop, full) -> Preset:
    top1 = dict(zip(_SOMETHING_TOP1, (crop, full), strict=True))
    return _zoo(name, stem, arch, "something_v1", segments, top1, protocol=_SOMETHING)


def _ssv2(name, stem, arch, segments, full) -> Preset:
    top1 = {_SOMETHING_TOP1[1]: full}
    return _zoo(name, stem, arch, "something_v2", segments, top1, protocol=_SSV2_PROTOCOL)


_STEM = "TSM_{}_RGB_{}_shift8_blockres_avg_segment{}_e{}"

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        _zoo("tsn_resnet50_kinetics400", "TSM_kinetics_RGB_resnet50_avg_segment5_e50",
             "resnet50", "kinetics400", 8,
             {_DENSE_TOP1: 70.6, "uniform 8x1 clip": 68.8, "uniform 8 frames, 10 crops": 69.9},
             shift="none", protocol=_UNIFORM_1,
             note="TSN baseline, trained with 5 segments, tested with 8."),
        _zoo("tsm_resnet50_kinetics400_dense", _STEM.format("kinetics", "resnet50", 8, 100)
             + "_dense", "resnet50", "kinetics400", 8, {_DENSE_TOP1: 74.1},
             sampling="dense", protocol=_K400_DENSE),
        _zoo("tsm_resnet50_nl_kinetics400_dense", _STEM.format("kinetics", "resnet50", 8, 100)
             + "_dense_nl", "resnet50", "kinetics400", 8, {_DENSE_TOP1: 75.6},
             sampling="dense", protocol=_K400_DENSE, non_local=True),
        _zoo("tsm_mobilenetv2_kinetics400_dense",
             _STEM.format("kinetics", "mobilenetv2", 8, 100) + "_dense",
             "mobilenetv2", "kinetics400", 8, {_DENSE_TOP1: 69.5},
             sampling="dense", protocol=_K400_DENSE),
        _zoo("tsm_resnet50_kinetics400", _STEM.format("kinetics", "resnet50", 8, 50),
             "resnet50", "kinetics400", 8,
             {"uniform 8x1 clip": 71.2, "uniform 8 frames, 10 crops": 72.8}, protocol=_UNIFORM_1),
        _zoo("tsm_resnet50_kinetics400_16f", _STEM.format("kinetics", "resnet50", 16, 50),
             "resnet50", "kinetics400", 16,
             {"uniform 16x1 clip": 72.6, "uniform 16 frames, 10 crops": 73.7},
             protocol=_UNIFORM_1),
        _ssv1("tsm_resnet50_something_v1", _STEM.format("something", "resnet50", 8, 45),
              "resnet50", 8, 45.6, 47.2),
        _ssv1("tsm_resnet50_something_v1_16f", _STEM.format("something", "resnet50", 16, 45),
              "resnet50", 16, 47.2, 48.4),
        _ssv1("tsm_resnet101_something_v1", _STEM.format("something", "resnet101", 8, 45),
              "resnet101", 8, 46.9, 48.7),
        _ssv2("tsm_resnet50_something_v2", _STEM.format("somethingv2", "resnet50", 8, 45),
              "resnet50", 8, 61.2),
        _ssv2("tsm_resnet50_something_v2_16f", _STEM.format("somethingv2", "resnet50", 16, 45),
              "resnet50", 16, 63.1),
        _ssv2("tsm_resnet101_something_v2", _STEM.format("somethingv2", "resnet101", 8, 45),
              "resnet101", 8, 63.3),
        Preset(
            name="tsm_online_mobilenetv2_jester",
            file_name="mobilenetv2_jester_online.pth.tar",
            url=f"{ONLINE_URL}mobilenetv2_jester_online.pth.tar",
            arch="mobilenetv2", dataset="jester", num_classes=27, num_segments=8,
            shift="unidirectional", layout="online", sampling="online (one frame at a time)",
            test_protocol="streaming: resize short side 256, centre crop 224, one frame per step",
            published_top1={},
            note="The reference online gesture demo's model; no accuracy is published for it "
                 "(the paper's offline Jester TSM is 97.0%). num_segments only sizes the "
                 "offline form; the streaming form runs frame by frame.",
        ),
    )
}


def checkpoint_stem(path) -> str:
    """File name without directories and ``.pth`` / ``.pth.tar`` / ``.tar`` / ``.pt``."""
    return strip_checkpoint_suffix(Path(path).name)


def find_preset(path_or_name) -> Preset | None:
    """The preset whose name or checkpoint file name matches, else ``None``."""
    key = str(path_or_name)
    if key in PRESETS:
        return PRESETS[key]
    stem = checkpoint_stem(key)
    for preset in PRESETS.values():
        if checkpoint_stem(preset.file_name) == stem:
            return preset
    return None


def parse_checkpoint_name(path) -> dict | None:
    """Read the reference file-name grammar; ``None`` if the name does not follow it.

    Returns a dict with the keys it could read: ``dataset`` (our name, or the raw word if
    unknown), ``modality``, ``arch``, ``shift`` (``"bidirectional"`` / ``"none"``),
    ``shift_div``, ``shift_place``, ``num_segments`` (the training segments), ``epochs``,
    ``dense``, ``non_local``, ``temporal_pool``.
    """
    match = _NAME_RE.match(checkpoint_stem(path))
    if match is None:
        return None
    flags = set(filter(None, match["flags"].split("_")))
    shifted = match["div"] is not None
    return {
        "dataset": _DATASET_WORDS.get(match["dataset"].lower(), match["dataset"]),
        "modality": match["modality"],
        "arch": _ARCH_WORDS.get(match["arch"].lower(), match["arch"]),
        "shift": "bidirectional" if shifted else "none",
        "shift_div": int(match["div"]) if shifted else 8,
        "shift_place": match["place"] if shifted else "blockres",
        "num_segments": int(match["segments"]),
        "epochs": int(match["epochs"]),
        "dense": "dense" in flags,
        "non_local": "nl" in flags,
        "temporal_pool": "tpool" in flags,
    }

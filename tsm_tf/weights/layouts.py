"""State-dict layouts: bring the key names of the known checkpoint layouts to one canonical
form (the torchvision / reference module path of each parameter, no wrappers) and read the
architecture off the keys.

Layouts handled (all verified against the reference repository's code):

* reference TSM (``main.py`` checkpoints): ``module.base_model.*`` backbone, ``module.new_fc.*``
  classifier. Wrappers add path components that hold no parameters:
  residual shift wraps ``conv1`` -> ``layer1.0.conv1.net.weight``; in-place shift wraps the
  block -> ``layer1.0.net.conv1.weight``; MobileNetV2 shift wraps ``conv.0`` ->
  ``features.3.conv.0.net.weight``; temporal pool wraps ``layer2`` -> ``layer2.net.0.*``;
  non-local wraps blocks -> ``layer2.0.block.*`` plus ``layer2.0.nl.{g.0,theta,phi.0,W.0,W.1}.*``
  (Conv3d/BatchNorm3d parameters).
* online demo (``mobilenetv2_jester_online.pth.tar``): raw ``features.*`` / ``classifier.*``.
* ImageNet: torchvision ResNet (``conv1``, ``layerX.Y.*``, ``fc``) and MobileNetV2 in either
  the reference layout (``features.N.conv.K``, ``classifier``) or torchvision's
  (``features.N.conv.0.0``, ..., ``classifier.1``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from tsm_tf.models.resnet import RESNET_LAYOUTS

_BLOCK_RE = re.compile(r"^layer(\d)\.(\d+)\.")
_FEATURE_RE = re.compile(r"^features\.(\d+)\.")


@dataclass
class CanonicalState:
    """Parameters under canonical names plus what the wrappers revealed."""

    params: dict[str, np.ndarray]
    layout: str  # "reference" | "raw"  (raw: online demo or ImageNet; decided by the caller)
    shifted_blocks: set[str] = field(default_factory=set)  # e.g. {"layer1.0", "features.3"}
    shift_place: str | None = None  # "blockres" | "block" (reference layout only)
    non_local: bool = False
    temporal_pool: bool = False
    torchvision_mobilenet: bool = False
    dropped: list[str] = field(default_factory=list)  # keys with no parameters to carry

    @property
    def num_classes(self) -> int | None:
        weight = self.params.get("fc.weight")
        return None if weight is None else int(weight.shape[0])


def _strip_prefix(state: dict, prefix: str) -> dict:
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return state


# torchvision MobileNetV2 inverted-residual sub-module paths -> reference layout indices.
_TV_MBV2_EXPANDED = {"conv.0.0": "conv.0", "conv.0.1": "conv.1", "conv.1.0": "conv.3",
                     "conv.1.1": "conv.4", "conv.2": "conv.6", "conv.3": "conv.7"}
_TV_MBV2_PLAIN = {"conv.0.0": "conv.0", "conv.0.1": "conv.1", "conv.1": "conv.3",
                  "conv.2": "conv.4"}


def _torchvision_mobilenet_to_reference(params: dict) -> dict:
    expanded = {m.group(1) for k in params if (m := re.match(r"features\.(\d+)\.conv\.3\.", k))}
    out = {}
    for key, value in params.items():
        match = re.match(r"^(features\.(\d+)\.)(conv\.\d+(?:\.\d+)?)\.(\w+)$", key)
        if match:
            table = _TV_MBV2_EXPANDED if match.group(2) in expanded else _TV_MBV2_PLAIN
            sub = match.group(3)
            if sub in table:
                key = f"{match.group(1)}{table[sub]}.{match.group(4)}"
        out[key] = value
    return out


def canonicalize(state: dict[str, np.ndarray]) -> CanonicalState:
    """Canonical names for a state dict of any supported layout (see module doc)."""
    state = _strip_prefix(dict(state), "module.")
    reference = any(k.startswith("base_model.") for k in state)
    result = CanonicalState(params={}, layout="reference" if reference else "raw")
    places = set()
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            result.dropped.append(key)
            continue
        if reference:
            if key.startswith("new_fc."):
                key = "fc." + key[len("new_fc."):]
            elif key.startswith("base_model."):
                key = key[len("base_model."):]
            else:
                result.dropped.append(key)
                continue
        parts = key.split(".")
        if len(parts) > 2 and parts[0] == "layer2" and parts[1] == "net":  # TemporalPool wrapper
            result.temporal_pool = True
            del parts[1]
        if len(parts) > 3 and parts[0].startswith("layer") and parts[2] == "block":  # NL wrapper
            del parts[2]
        if len(parts) > 3 and parts[2] == "nl":
            result.non_local = True
        while "net" in parts:  # TemporalShift wrapper around a block or a conv
            index = parts.index("net")
            wrapped = ".".join(parts[:index])
            if parts[0] == "features":
                result.shifted_blocks.add(".".join(parts[:2]))
                places.add("blockres")
            elif index == 2:  # layerX.Y.net.*: the whole block is wrapped (in-place shift)
                result.shifted_blocks.add(wrapped)
                places.add("block")
            else:  # layerX.Y.conv1.net.*: residual shift
                result.shifted_blocks.add(".".join(parts[:2]))
                places.add("blockres")
            del parts[index]
        key = ".".join(parts)
        if key.startswith("classifier.1."):  # torchvision MobileNetV2 (Dropout, Linear)
            key = "fc." + key[len("classifier.1."):]
        elif key.startswith("classifier."):
            key = "fc." + key[len("classifier."):]
        result.params[key] = value
    if len(places) > 1:
        raise ValueError(
            "The checkpoint mixes residual (`conv1.net`) and in-place (`layerX.Y.net`) shift "
            "wrappers; no TSM configuration produces that."
        )
    result.shift_place = places.pop() if places else None
    if any(re.match(r"features\.\d+\.conv\.0\.0\.weight$", k) for k in result.params):
        result.torchvision_mobilenet = True
        result.params = _torchvision_mobilenet_to_reference(result.params)
    return result


def infer_arch(state: CanonicalState) -> str:
    """The backbone name whose parameter layout the checkpoint has."""
    params = state.params
    if any(k.startswith("features.") for k in params):
        return "mobilenetv2"
    blocks: dict[int, set[int]] = {}
    for key in params:
        match = _BLOCK_RE.match(key)
        if match:
            blocks.setdefault(int(match.group(1)), set()).add(int(match.group(2)))
    if "conv1.weight" not in params or sorted(blocks) != [1, 2, 3, 4]:
        raise ValueError(
            "Cannot tell the architecture from the checkpoint keys: expected a ResNet "
            "(conv1, layer1..layer4) or a MobileNetV2 (features.*). First keys: "
            + ", ".join(list(params)[:5])
        )
    bottleneck = any(k.startswith("layer1.0.conv3.") for k in params)
    counts = tuple(len(blocks[i]) for i in (1, 2, 3, 4))
    stem = int(params["conv1.weight"].shape[0])
    for name, (block_type, stage_blocks, widths) in RESNET_LAYOUTS.items():
        if ((block_type == "bottleneck") == bottleneck and stage_blocks == counts
                and widths[0] == stem):
            return name
    kind = "bottleneck" if bottleneck else "basic"
    raise ValueError(
        f"The checkpoint is a ResNet with {kind} blocks {counts} and a {stem}-channel stem, "
        f"which matches none of {', '.join(RESNET_LAYOUTS)}."
    )


def infer_shift_every(state: CanonicalState, arch: str) -> int | None:
    """1 if every ResNet block is shifted, 2 if every other one (ResNet-101), None if the
    checkpoint shows no shift wrappers."""
    if not state.shifted_blocks or arch == "mobilenetv2":
        return None
    blocks: dict[str, set[int]] = {}
    for key in state.params:
        match = _BLOCK_RE.match(key)
        if match:
            blocks.setdefault(match.group(1), set()).add(int(match.group(2)))
    for every in (1, 2):
        expected = {f"layer{stage}.{i}" for stage, ids in blocks.items() for i in ids
                    if i % every == 0}
        if expected == state.shifted_blocks:
            return every
    raise ValueError(
        "The checkpoint shifts an irregular set of blocks ("
        + ", ".join(sorted(state.shifted_blocks)[:6])
        + ", ...); TSM shifts every block or every other block."
    )

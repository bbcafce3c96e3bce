"""Initial weights for a training run (``--weights``): ImageNet backbones or trained TSM models.

- ``.keras`` file of a ``TSM`` (e.g. a Kinetics model to fine-tune): every layer is copied by
  name. A different class count is an error unless ``reset_classifier`` (``--reset-classifier``)
  asks to start the classifier afresh (fine-tuning to a new label set).
- ``.keras`` file of any other Keras model with the reference layer names (an ImageNet
  backbone): the classifier ``fc`` (and any non-local block) is always re-initialised.

Loading is strict: a model layer missing from the file, a file layer the model does not have,
or a shape mismatch is an error listing them, unless ``allow_partial`` (``--allow-partial``)
names that kind of difference.
- PyTorch checkpoints (``.pth``, ``.pth.tar``, ``.pt``, reference or torchvision layout): run
  through the weights converter (``tsm_tf.weights.convert``) in memory, then copied as above.
- ``.weights.h5``: Keras weights of the same architecture.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from tsm_tf.common.constants import TORCH_CHECKPOINT_SUFFIXES as TORCH_SUFFIXES
from tsm_tf.models.blocks import CLASSIFIER_LAYER as CLASSIFIER

NON_LOCAL_TAG = "_nl_"  # in the names of the non-local blocks' layers


class ClassMismatchError(ValueError):
    """A checkpoint trained for another number of classes than the dataset's."""


class WeightsMismatchError(ValueError):
    """``--weights`` does not cover the model (missing / unexpected / other-shape layers)."""


def class_mismatch_message(path, ckpt_classes: int, num_classes: int, dataset: str,
                           resuming: bool) -> str:
    what = "--resume continues the same run, so" if resuming else "Loading it"
    return (
        f"{path} was trained for {ckpt_classes} classes but dataset {dataset!r} has "
        f"{num_classes}. {what} needs the same classes. To fine-tune from it instead, start a "
        f"new run with `--weights {path} --reset-classifier` (everything but the classifier is "
        "loaded; add --partial-bn for small datasets)."
    )


def load_initial_weights(model, path: str | os.PathLike, *, dataset: str,
                         reset_classifier: bool = False,
                         allow_partial: Sequence[str] = ()) -> dict[str, list[str]]:
    """Copy weights from ``path`` into ``model`` strictly; return the layer names by outcome:
    ``{"loaded", "new", "missing", "unexpected", "mismatched"}``.

    ``new``: layers started afresh by design (the classifier with ``reset_classifier`` or an
    ImageNet backbone; non-local blocks over a backbone). ``missing`` (in the model, not in the
    file), ``unexpected`` (in the file, not in the model) and ``mismatched`` (other shapes) are
    errors unless their kind is in ``allow_partial`` (``"missing"``, ``"unexpected"``,
    ``"shape"``); accepted mismatches stay as initialised.
    """

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"--weights file not found: {path}")
    if path.endswith(".weights.h5"):
        model.load_weights(path)  # Keras checks every variable's shape
        return {"loaded": [layer.name for layer in model.layers if layer.weights], "new": [],
                "missing": [], "unexpected": [], "mismatched": []}
    config = model.tsm_config
    if path.endswith(TORCH_SUFFIXES):
        from tsm_tf.weights.convert import convert_checkpoint

        # num_classes only sizes the new classifier of an ImageNet backbone (layout
        # "imagenet"); a TSM checkpoint keeps its own and is checked below.
        converted = convert_checkpoint(
            path, None, arch=config["arch"], num_segments=config["num_segments"],
            shift=config["shift"], input_size=config["input_size"][0],
            num_classes_fallback=config["num_classes"])
        source, backbone_only = converted.model, converted.layout == "imagenet"
    elif path.endswith(".keras"):
        from tsm_tf import load_model

        source, backbone_only = load_model(path, compile=False), False
    else:
        raise ValueError(f"--weights {path}: expected a .keras, .weights.h5 or PyTorch "
                         "(.pth, .pth.tar, .pt) file.")
    source_config = getattr(source, "tsm_config", None)
    num_classes = config["num_classes"]
    is_tsm = source_config is not None
    if is_tsm and source_config["arch"] != config["arch"]:
        raise ValueError(f"--weights {path} holds a {source_config['arch']} model but --arch is "
                         f"{config['arch']!r}; pass --arch {source_config['arch']}.")
    if is_tsm and source_config["num_classes"] != num_classes and not reset_classifier:
        raise ClassMismatchError(class_mismatch_message(
            path, source_config["num_classes"], num_classes, dataset, resuming=False))
    backbone = not is_tsm or backbone_only
    fresh_fc = reset_classifier or backbone
    report = _match_layers(model, source, fresh_fc=fresh_fc, backbone=backbone)
    _refuse_unless_allowed(path, report, allow_partial)
    by_name = {layer.name: layer for layer in source.layers}
    for name in report["loaded"]:
        model.get_layer(name).set_weights(by_name[name].get_weights())
    if not report["loaded"]:
        raise ValueError(f"--weights {path}: no layer name matches the model "
                         f"({model.name}); is it the right architecture?")
    return report


def _is_new_by_design(name: str, fresh_fc: bool, backbone: bool) -> bool:
    # The reference starts the classifier (fine-tuning, ImageNet init) and the non-local
    # blocks (absent from an ImageNet backbone) afresh.
    return (name == CLASSIFIER and fresh_fc) or (backbone and NON_LOCAL_TAG in name)


def _match_layers(model, source, *, fresh_fc: bool, backbone: bool) -> dict[str, list[str]]:
    src = {layer.name: layer for layer in source.layers if layer.weights}
    report: dict[str, list[str]] = {k: [] for k in ("loaded", "new", "missing", "unexpected",
                                                    "mismatched")}
    wanted = set()
    for layer in model.layers:
        if not layer.weights:
            continue
        wanted.add(layer.name)
        if _is_new_by_design(layer.name, fresh_fc, backbone):
            report["new"].append(layer.name)
        elif layer.name not in src:
            report["missing"].append(layer.name)
        elif _shapes(src[layer.name]) != _shapes(layer):
            report["mismatched"].append(
                f"{layer.name} (file {_shapes(src[layer.name])}, model {_shapes(layer)})")
        else:
            report["loaded"].append(layer.name)
    report["unexpected"] = [name for name in src if name not in wanted
                            and not _is_new_by_design(name, fresh_fc, backbone)]
    return report


def _shapes(layer) -> list[tuple[int, ...]]:
    return [tuple(w.shape) for w in layer.weights]


def _refuse_unless_allowed(path: str, report: dict[str, list[str]],
                           allow_partial: Sequence[str]) -> None:
    kinds = {"missing": "missing from the file", "unexpected": "in the file, not in the model",
             "mismatched": "with other shapes"}
    flag = {"missing": "missing", "unexpected": "unexpected", "mismatched": "shape"}
    refused = [k for k in kinds if report[k] and flag[k] not in allow_partial]
    if not refused:
        return
    parts = [f"{len(report[k])} layer(s) {kinds[k]}: {_listing(report[k])}" for k in refused]
    accept = ",".join(flag[k] for k in refused)
    raise WeightsMismatchError(
        f"--weights {path} does not fit the model: {'; '.join(parts)}. Pick the matching "
        f"--arch / --shift / --non-local flags; to fine-tune to other classes add "
        f"--reset-classifier; to accept exactly these differences (those layers keep their "
        f"random initialisation) add --allow-partial {accept}.")


def _listing(names: list[str], limit: int = 8) -> str:
    more = f" ... (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def describe_load(path: str, report: dict[str, list[str]]) -> str:
    """One line for the training log: what was loaded, what starts afresh."""
    total = sum(len(report[k]) for k in ("loaded", "new", "missing", "mismatched"))
    line = f"--weights {path}: loaded {len(report['loaded'])} of {total} layers"
    for key in ("new", "missing", "mismatched", "unexpected"):
        if report[key]:
            label = {"new": "started afresh", "missing": "missing, kept random (allowed)",
                     "mismatched": "other shape, kept random (allowed)",
                     "unexpected": "in the file only, ignored (allowed)"}[key]
            line += f"; {label}: {_listing(report[key])}"
    return line

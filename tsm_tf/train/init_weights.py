"""Initial weights for a training run (``--weights``): ImageNet backbones or trained TSM models.

- ``.keras`` file of a ``TSM`` (e.g. a Kinetics model to fine-tune): every layer is copied by
  name. A different class count is an error unless ``reset_classifier`` (``--reset-classifier``)
  asks to start the classifier afresh (fine-tuning to a new label set).
- ``.keras`` file of any other Keras model with the reference layer names (an ImageNet
  backbone): the layers it has are copied, the classifier ``fc`` is always re-initialised.
- PyTorch checkpoints (``.pth``, ``.pth.tar``, ``.pt``, reference or torchvision layout): run
  through the weights converter (``tsm_tf.weights.convert``) in memory, then copied as above.
- ``.weights.h5``: Keras weights of the same architecture.
"""

from __future__ import annotations

import os

from tsm_tf.common.constants import TORCH_CHECKPOINT_SUFFIXES as TORCH_SUFFIXES
from tsm_tf.models.blocks import CLASSIFIER_LAYER as CLASSIFIER


class ClassMismatchError(ValueError):
    """A checkpoint trained for another number of classes than the dataset's."""


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
                         reset_classifier: bool = False) -> dict[str, list[str]]:
    """Copy weights from ``path`` into ``model``; return ``{"loaded": [...], "skipped": [...]}``
    (layer names)."""
    import keras

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"--weights file not found: {path}")
    if path.endswith(".weights.h5"):
        model.load_weights(path)
        return {"loaded": [layer.name for layer in model.layers if layer.weights], "skipped": []}
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
        source, backbone_only = keras.saving.load_model(path, compile=False), False
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
    skip_fc = reset_classifier or not is_tsm or backbone_only
    loaded, skipped = [], []
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name == CLASSIFIER and skip_fc:
            skipped.append(layer.name)
            continue
        try:
            src = source.get_layer(layer.name)
        except ValueError:
            skipped.append(layer.name)
            continue
        values = src.get_weights()
        if [tuple(v.shape) for v in values] != [tuple(w.shape) for w in layer.weights]:
            raise ValueError(
                f"--weights {path}: layer {layer.name!r} has shapes "
                f"{[tuple(v.shape) for v in values]}, the model expects "
                f"{[tuple(w.shape) for w in layer.weights]} (another architecture?)."
            )
        layer.set_weights(values)
        loaded.append(layer.name)
    if not loaded:
        raise ValueError(f"--weights {path}: no layer name matches the model "
                         f"({model.name}); is it the right architecture?")
    return {"loaded": loaded, "skipped": skipped}

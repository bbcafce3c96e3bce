"""Convert PyTorch TSM checkpoints (reference model zoo, online demo, ImageNet backbones) into
Keras TSM models, with class names attached.

Command line::

    python -m tsm_tf.weights.convert \\
        --checkpoint TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e100_dense.pth \\
        --out tsm_r50_k400.keras

writes ``tsm_r50_k400.keras`` and ``tsm_r50_k400.labels.json``. Options not given are taken
from the preset of a published checkpoint, from the reference file-name grammar and from the
checkpoint's keys; the tool prints what it inferred.

Python::

    >>> from tsm_tf.weights import convert_checkpoint
    >>> result = convert_checkpoint("TSM_kinetics_RGB_resnet50_avg_segment5_e50.pth",
    ...                             out="tsn_r50.keras")  # doctest: +SKIP
    >>> result.class_names[:2]  # doctest: +SKIP
    ['abseiling', 'air drumming']
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import keras

from tsm_tf import io_utils
from tsm_tf.common.constants import is_torch_checkpoint_path
from tsm_tf.models.blocks import CLASSIFIER_LAYER
from tsm_tf.models.resnet import default_shift_every
from tsm_tf.models.tsm import ARCHITECTURES, TSM, StreamingTSM
from tsm_tf.weights.assign import assign_weights
from tsm_tf.weights.labels import DATASETS, load_labels, write_sidecar
from tsm_tf.weights.layouts import (
    CanonicalState,
    canonicalize,
    infer_arch,
    infer_shift_every,
)
from tsm_tf.weights.presets import PRESETS, Preset, find_preset, parse_checkpoint_name
from tsm_tf.weights.torch_io import load_checkpoint

LAYOUTS = ("reference", "online", "imagenet", "plain")
IMAGENET_CLASSES = 1000
# Options that describe the network; everything else passed through goes to TSM as is.
_ARCH_OPTIONS = ("arch", "num_classes", "num_segments", "shift", "shift_div", "shift_place",
                 "shift_every", "non_local", "temporal_pool")


@dataclass
class ConversionResult:
    """What ``convert_checkpoint`` built, and where each setting came from."""

    model: keras.Model
    config: dict
    layout: str
    dataset: str | None
    class_names: list[str] | None
    preset: Preset | None
    notes: list[str] = field(default_factory=list)
    out: Path | None = None


def _pick(name, sources, notes, default=None, default_note=None):
    """First source that has a value for ``name``; records where it came from."""
    for label, values in sources:
        if values is not None and values.get(name) is not None:
            if label != "option":
                notes.append(f"{name}={values[name]!r} (from {label})")
            return values[name]
    if default_note:
        notes.append(f"{name}={default!r} ({default_note})")
    return default


def _decide_layout(state: CanonicalState, arch: str, preset: Preset | None, layout: str | None,
                   notes: list[str]) -> str:
    if layout is not None:
        if layout not in LAYOUTS:
            raise ValueError(f"`layout` must be one of {LAYOUTS}. Received: {layout!r}")
        return layout
    if state.layout == "reference":
        return "reference"
    if preset is not None:
        notes.append(f"layout={preset.layout!r} (from preset {preset.name!r})")
        return preset.layout
    if state.num_classes in (None, IMAGENET_CLASSES):
        notes.append("layout='imagenet' (bare state dict with a 1000-class or no classifier: "
                     "an ImageNet backbone; its classifier is dropped)")
        return "imagenet"
    if arch == "mobilenetv2":
        notes.append("layout='online' (bare MobileNetV2 state dict with a "
                     f"{state.num_classes}-class classifier: the online demo layout)")
        return "online"
    notes.append("layout='plain' (bare state dict with a classifier: loaded as is)")
    return "plain"


def _dataset_for(num_classes: int | None, notes: list[str]) -> str | None:
    matches = [name for name, count in DATASETS.items() if count == num_classes]
    if len(matches) == 1:
        notes.append(f"dataset={matches[0]!r} (the only dataset with {num_classes} classes)")
        return matches[0]
    if matches:
        notes.append(f"dataset unknown ({num_classes} classes fits {', '.join(matches)}; "
                     "pass --dataset to attach class names)")
    return None


def resolve_config(
    checkpoint: str | os.PathLike,
    state: CanonicalState,
    options: dict,
    *,
    layout: str | None = None,
    dataset: str | None = None,
    family_shift: str | None = None,
) -> tuple[dict, str, str | None, Preset | None, list[str]]:
    """Work out the TSM arguments of a checkpoint.

    Priority: explicit ``options`` > preset (published checkpoint) > checkpoint keys >
    reference file name > defaults. ``family_shift`` is the shift implied by a
    ``create_model`` name (``tsm_`` / ``tsm_online_`` / ``tsn_``), used when nothing else says.
    Returns ``(config, layout, dataset, preset, notes)``.
    """
    notes: list[str] = []
    preset = find_preset(checkpoint)
    if preset is not None:
        notes.append(f"preset {preset.name!r} (published checkpoint {preset.file_name})")
    parsed = parse_checkpoint_name(checkpoint)
    if parsed is not None and parsed["modality"] != "RGB":
        raise ValueError(
            f"{Path(checkpoint).name} is a {parsed['modality']} model; tsm-tf models take RGB "
            "frames only (3 input channels)."
        )
    key_arch = infer_arch(state)
    layout = _decide_layout(state, key_arch, preset, layout, notes)

    from_keys: dict = {"arch": key_arch, "non_local": state.non_local,
                       "temporal_pool": state.temporal_pool}
    if layout != "imagenet":
        from_keys["num_classes"] = state.num_classes
    if layout == "reference":
        from_keys["shift"] = "bidirectional" if state.shifted_blocks else "none"
        from_keys["shift_place"] = state.shift_place
        every = infer_shift_every(state, key_arch)
        if every is not None and every != default_shift_every(key_arch, state.shift_place):
            from_keys["shift_every"] = every
    elif layout == "online":
        from_keys["shift"] = "unidirectional"
    preset_values = preset.model_kwargs() if preset is not None else None
    if preset_values is not None and preset.arch != key_arch:
        raise ValueError(
            f"{Path(checkpoint).name} is named like preset {preset.name!r} ({preset.arch}) but "
            f"its keys are those of a {key_arch}: the file is not what its name says."
        )
    sources = [("option", options), ("preset", preset_values), ("checkpoint keys", from_keys),
               ("file name", parsed)]
    family = {"shift": family_shift} if family_shift else None
    config = {}
    config["arch"] = _pick("arch", sources, notes)
    if config["arch"] not in ARCHITECTURES:
        raise ValueError(f"Unknown arch {config['arch']!r}; expected one of {ARCHITECTURES}.")
    config["num_classes"] = _pick("num_classes", sources, notes)
    if config["num_classes"] is None and options.get("num_classes_fallback") is not None:
        config["num_classes"] = options["num_classes_fallback"]
        notes.append(f"num_classes={config['num_classes']} (new classifier of a backbone)")
    if config["num_classes"] is None:
        raise ValueError(
            "This is an ImageNet backbone: its 1000-class classifier is dropped, so the number "
            "of classes of the new classifier is needed (--num-classes N / num_classes=N)."
        )
    shift_sources = sources if layout != "imagenet" else [("option", options)]
    config["shift"] = _pick("shift", shift_sources + [("model name", family)], notes,
                            default="bidirectional", default_note="default")
    config["num_segments"] = _pick("num_segments", sources, notes, default=8,
                                   default_note="default; not recorded in the checkpoint")
    config["shift_div"] = _pick("shift_div", sources, notes, default=8)
    config["shift_place"] = _pick("shift_place", sources, notes, default="blockres")
    for name in ("non_local", "temporal_pool"):
        config[name] = bool(_pick(name, sources, notes, default=False))
    if options.get("shift_every") is not None or "shift_every" in from_keys:
        config["shift_every"] = _pick("shift_every", sources, notes)
    for name, value in options.items():  # remaining TSM options (input_size, dropout, ...)
        if name not in config and name != "num_classes_fallback" and value is not None:
            config[name] = value

    if dataset is None:
        dataset = _pick("dataset", [("preset", preset and {"dataset": preset.dataset}),
                                    ("file name", parsed)], notes)
        if dataset is None and layout != "imagenet":
            dataset = _dataset_for(config["num_classes"], notes)
    if dataset is not None and dataset not in DATASETS:
        notes.append(f"dataset {dataset!r} has no label file; no class names attached")
        dataset = None
    return config, layout, dataset, preset, notes


def _check_family(config: dict, options: dict, family_shift: str | None, model_name: str | None,
                  layout: str) -> None:
    if family_shift is None or "shift" in options or layout == "imagenet":
        return
    if config["shift"] != family_shift:
        family = {"bidirectional": "tsm", "unidirectional": "tsm_online", "none": "tsn"}
        suggestion = f"{family[config['shift']]}_{config['arch']}"
        raise ValueError(
            f"create_model({model_name!r}) implies shift={family_shift!r}, but the checkpoint "
            f"is a shift={config['shift']!r} model. Use create_model({suggestion!r}, ...) or "
            "pass shift=... explicitly."
        )


def build_from_state(
    checkpoint: str | os.PathLike,
    state: CanonicalState,
    options: dict | None = None,
    *,
    layout: str | None = None,
    dataset: str | None = None,
    model_name: str | None = None,
    family_shift: str | None = None,
) -> ConversionResult:
    """Resolve the configuration, build the ``TSM`` and load the weights (all or nothing)."""
    options = {k: v for k, v in (options or {}).items() if v is not None}
    config, layout, dataset, preset, notes = resolve_config(
        checkpoint, state, options, layout=layout, dataset=dataset, family_shift=family_shift)
    _check_family(config, options, family_shift, model_name, layout)
    model = TSM(**config)
    params = dict(state.params)
    skip: tuple[str, ...] = ()
    if layout == "imagenet":
        params = {k: v for k, v in params.items() if not k.startswith("fc.")}
        skip = (CLASSIFIER_LAYER,)
        notes.append("classifier not loaded (ImageNet backbone: the new classifier keeps its "
                     "initialisation)")
    assign_weights(model, params, skip_layers=skip, source=f"checkpoint {Path(checkpoint).name}")
    class_names = None
    if dataset is not None:
        if DATASETS[dataset] == config["num_classes"]:
            class_names = load_labels(dataset)
        else:
            notes.append(f"dataset {dataset!r} has {DATASETS[dataset]} classes but the model "
                         f"{config['num_classes']}: no class names attached")
    return ConversionResult(model=model, config=config, layout=layout, dataset=dataset,
                            class_names=class_names, preset=preset, notes=notes)


def convert_checkpoint(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    arch: str | None = None,
    num_segments: int | None = None,
    num_classes: int | None = None,
    shift: str | None = None,
    dataset: str | None = None,
    layout: str | None = None,
    streaming: bool = False,
    verbose: bool = False,
    **model_options,
) -> ConversionResult:
    """Convert a PyTorch checkpoint to a Keras ``TSM`` (or, ``streaming=True``, its
    ``StreamingTSM``); save it to ``out`` (``.keras``) with a ``.labels.json`` sidecar.

    ``model_options`` are further ``TSM`` arguments (``input_size``, ``shift_div``, ...), plus
    ``num_classes_fallback``: the classifier size used only when the checkpoint has none of
    its own (an ImageNet backbone). Unset options are inferred (see ``resolve_config``);
    ``result.notes`` says how.
    """
    raw = load_checkpoint(checkpoint)
    state = canonicalize(raw.state)
    options = dict(model_options, arch=arch, num_segments=num_segments,
                   num_classes=num_classes, shift=shift)
    result = build_from_state(checkpoint, state, options, layout=layout, dataset=dataset)
    if streaming:
        if result.config["shift"] == "bidirectional":
            raise ValueError(
                "--streaming needs a uni-directional (online) model; this checkpoint is "
                "bi-directional (offline). Convert without --streaming."
            )
        result.model = StreamingTSM.from_model(result.model)
        result.notes.append("streaming form (one frame per call, shift caches in/out)")
    if verbose:
        for note in result.notes:
            print(f"  inferred: {note}")
    if out is not None:
        result.out = Path(io_utils.save_model_atomic(result.model, out))
        if result.class_names is not None:
            extra = {"source_checkpoint": Path(checkpoint).name,
                     "model_config": {k: (list(v) if isinstance(v, tuple) else v)
                                      for k, v in result.config.items()}}
            if result.preset is not None:
                extra.update(preset=result.preset.name,
                             preprocessing=result.preset.preprocessing(),
                             published_top1=result.preset.published_top1)
            write_sidecar(result.out, result.class_names, dataset=result.dataset, extra=extra)
    return result


def model_from_checkpoint(
    weights: str | os.PathLike,
    *,
    model_name: str | None = None,
    arch: str | None = None,
    family_shift: str | None = None,
    **options,
) -> TSM:
    """The ``create_model(name, weights=...pth)`` hook: build ``name``'s model with the
    checkpoint's configuration and weights. Class names go to ``model.class_names``.
    """
    path = resolve_weights_path(weights)
    raw = load_checkpoint(path)
    state = canonicalize(raw.state)
    key_arch = infer_arch(state)
    if arch is not None and arch != key_arch and "arch" not in options:
        raise ValueError(
            f"create_model({model_name!r}) builds a {arch}, but {Path(path).name} holds "
            f"{key_arch} weights. Use the model name for {key_arch}."
        )
    options.setdefault("arch", arch)
    dataset = options.pop("dataset", None)
    layout = options.pop("layout", None)
    result = build_from_state(path, state, options, layout=layout, dataset=dataset,
                              model_name=model_name, family_shift=family_shift)
    model = result.model
    model.class_names = None if result.class_names is None else tuple(result.class_names)
    return model


def weights_dir() -> Path:
    """Where preset names look for downloaded checkpoints: ``$TSM_TF_WEIGHTS`` or
    ``~/.cache/tsm_tf/weights``."""
    return Path(os.environ.get("TSM_TF_WEIGHTS", Path.home() / ".cache" / "tsm_tf" / "weights"))


def resolve_weights_path(weights: str | os.PathLike) -> Path:
    """A checkpoint path, or a preset name looked up in ``weights_dir()``."""
    path = Path(weights)
    if path.is_file():
        return path
    preset = PRESETS.get(str(weights))
    if preset is not None:
        candidate = weights_dir() / preset.file_name
        if candidate.is_file():
            return candidate
        raise FileNotFoundError(
            f"Preset {preset.name!r} needs its checkpoint {preset.file_name}; nothing downloads "
            f"at run time. Download it from {preset.url} into {weights_dir()} (or set "
            "TSM_TF_WEIGHTS), or pass the file's path as weights=."
        )
    raise FileNotFoundError(f"Checkpoint not found: {weights}")


def is_torch_weights(weights) -> bool:
    """True for ``.pth`` / ``.pth.tar`` / ``.pt`` paths and preset names."""
    name = str(weights)
    return is_torch_checkpoint_path(name) or name in PRESETS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tsm_tf.weights.convert",
        description="Convert a PyTorch TSM checkpoint (reference model zoo, online Jester "
                    "demo, or torchvision ImageNet backbone) to a Keras .keras model.",
    )
    parser.add_argument("--checkpoint", required=True, help="the .pth / .pth.tar file")
    parser.add_argument("--out", required=True, help="output .keras file (a .labels.json "
                        "sidecar with the class names is written next to it)")
    parser.add_argument("--arch", choices=ARCHITECTURES, help="default: from the keys")
    parser.add_argument("--num-segments", type=int, help="frames per clip (default: preset / "
                        "file name / 8)")
    parser.add_argument("--num-classes", type=int, help="default: the classifier's size "
                        "(required for ImageNet backbones)")
    parser.add_argument("--shift", choices=("bidirectional", "unidirectional", "none"))
    parser.add_argument("--dataset", choices=tuple(DATASETS), help="for class names")
    parser.add_argument("--layout", choices=LAYOUTS, help="default: detected")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--streaming", action="store_true",
                        help="save the frame-by-frame StreamingTSM (online models)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    print(f"Converting {args.checkpoint}")
    try:
        result = convert_checkpoint(
            args.checkpoint, args.out, arch=args.arch, num_segments=args.num_segments,
            num_classes=args.num_classes, shift=args.shift, dataset=args.dataset,
            layout=args.layout, streaming=args.streaming, input_size=args.input_size,
            verbose=True,
        )
    except (ValueError, FileNotFoundError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    config = ", ".join(f"{k}={v}" for k, v in result.config.items())
    print(f"Model: {result.model.name} ({result.model.count_params():,} parameters): {config}")
    print(f"Saved {result.out}")
    if result.class_names is not None:
        print(f"Class names: {result.dataset} ({len(result.class_names)}) -> "
              f"{Path(result.out).with_suffix('').name}.labels.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

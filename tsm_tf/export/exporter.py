"""``export_model``: a source model -> ``NAME.tflite`` + ``NAME.json`` per requested precision,
with the sidecar (and its conversion report) embedded in the flatbuffer too.

Everything is converted and checked in memory first; files are written only when every model
passed, each through a temp file and a rename, and removed again if a later write fails, so a
failure leaves nothing partial behind.

Example (needs a model file, so not run as a doctest)::
    results = export_model("runs/online", "out/", precisions=["float32", "int8"],
                           mode="streaming")
    [r["tflite"] for r in results]
    ['out/online_streaming_float32.tflite', 'out/online_streaming_int8.tflite']
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path

from tsm_tf.common.streaming import streaming_problem
from tsm_tf.export.report import FULL_INTEGER

__all__ = ["ExportError", "ExportOptions", "PRECISIONS", "export_model", "prepare_model"]

PRECISIONS = ("float32", "float16", "dynamic", "int8", "qat")
MODES = ("offline", "streaming")


class ExportError(ValueError):
    """A bad combination of options, or a model that cannot be exported as asked."""


@dataclass
class ExportOptions:
    """Every option of an export (the command-line flags, as a value).

    ``calib`` holds ``calibration_source`` arguments (dataset, root, list_file,
    frame_template); ``report_list`` optionally names the held-out clips the report measures
    (default: the run's / synthetic set's validation list, else the calibration list's clips
    after the calibration ones).
    """

    precisions: tuple[str, ...] = ("float32",)
    mode: str | None = None  # None: the target's when one is named, else offline
    frames_per_step: int = 1
    target: str | None = None
    io: str | None = None
    calib: dict = field(default_factory=dict)
    num_calib: int = 32
    num_report: int = 16
    report_list: str | None = None
    qat_epochs: int = 1
    name: str | None = None
    input_size: int | None = None  # checkpoint sources only
    verbose: bool = True


def _say(options: ExportOptions, message: str) -> None:
    if options.verbose:
        print(message, flush=True)


def prepare_model(model, mode: str, frames_per_step: int = 1):
    """The Keras model to convert: the offline ``TSM``, or its ``StreamingTSM`` form."""
    from tsm_tf.models import TSM, StreamingTSM
    from tsm_tf.models.tsm import copy_weights_by_name

    if mode not in MODES:
        raise ExportError(f"--mode must be one of {MODES}, not {mode!r}.")
    config = model.tsm_config
    if mode == "offline":
        if frames_per_step != 1:
            raise ExportError("--frames-per-step applies to --mode streaming only.")
        if isinstance(model, StreamingTSM):
            raise ExportError(
                "This .keras holds a StreamingTSM (frame by frame): export it with --mode "
                "streaming, or pass the offline TSM (e.g. the training run's best.keras)."
            )
        return model
    problem = streaming_problem(config)
    if problem:
        raise ExportError(f"This model cannot stream: {problem}; or export it with --mode "
                          "offline.")
    if isinstance(model, StreamingTSM) and model.frames_per_step == frames_per_step \
            and not model.stateful:
        return model
    streaming_config = {k: v for k, v in config.items() if k not in ("batch_size",)}
    if isinstance(model, TSM):
        return StreamingTSM.from_model(model, frames_per_step=frames_per_step)
    streaming = StreamingTSM(**streaming_config, frames_per_step=frames_per_step)
    copy_weights_by_name(model, streaming)
    return streaming


def _check_writable(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out_dir, prefix=".tsm_tf_probe_")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise ExportError(f"Cannot write to the output folder {str(out_dir)!r}: "
                          f"{error.strerror or error}.") from None


def _jsonable(value):
    from tsm_tf.io_utils import to_jsonable

    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    elif hasattr(value, "to_dict"):
        value = value.to_dict()
    return to_jsonable(value)


def _resolve_target(options: ExportOptions) -> tuple[str, dict | None]:
    """The target name and its recipe (None for the implicit host without recipes)."""
    from tsm_tf.export import targets

    name = options.target or "host"
    try:
        return name, targets.load_target(name)
    except (ValueError, FileNotFoundError) as error:
        raise ExportError(str(error)) from None


def _plan(options: ExportOptions, model) -> tuple[str, list[tuple[str, str]], dict | None, str]:
    """(mode, [(precision, io)], recipe, target) after applying the target's recipe."""
    from tsm_tf.models import StreamingTSM

    target, recipe = _resolve_target(options)
    explicit_target = options.target is not None
    precisions = list(dict.fromkeys(options.precisions or ()))
    for precision in precisions:
        if precision not in PRECISIONS:
            raise ExportError(f"Unknown precision {precision!r}; use {PRECISIONS}.")
    if not precisions:
        precisions = [recipe["quantization"] if recipe and explicit_target else "float32"]
    mode = options.mode
    if mode is None:
        if recipe is not None and explicit_target:
            mode = recipe["mode"]
        else:
            mode = "streaming" if isinstance(model, StreamingTSM) else "offline"
    if "qat" in precisions:
        _qat_converter()  # fail now, before any conversion, when the extra is missing
    if options.io is not None and not any(p in FULL_INTEGER for p in precisions):
        raise ExportError(f"--io {options.io} applies to full-integer models: add --int8 or "
                          "--qat (float16, dynamic and float32 models have float32 I/O).")
    plan = []
    for precision in precisions:
        if precision in FULL_INTEGER:
            io = options.io
            if io is None:
                io = recipe["io"] if recipe and recipe["quantization"] == "int8" else "int8"
        else:
            io = "float32"
        plan.append((precision, io))
    if recipe is not None:
        requires = recipe.get("requires", {}) or {}
        for precision, io in plan:
            wanted = {"quantization": "int8" if precision == "qat" else precision, "io": io,
                      "mode": mode}
            for key, value in wanted.items():
                allowed = requires.get(key)
                if allowed is not None and value not in allowed:
                    reason = f" ({recipe['notes'].strip()})" if key == "mode" else ""
                    raise ExportError(f"Target {target!r} needs {key} in {allowed}, not "
                                      f"{value!r}{reason}")
    return mode, plan, recipe, target


@dataclass
class _Data:
    """The clips of one export: where they come from, and the loaded arrays."""

    calib: dict | None = None          # calibration_source of the training clips (or None)
    calib_clips: object = None         # [N, T, H, W, 3] float32, when calibrating
    held_out: dict | None = None       # the source of the report's clips
    clips: object = None               # [M, T, H, W, 3] held-out clips, or None
    labels: object = None              # [M] their labels, or None when they mean nothing here
    foreign: str | None = None         # the model's dataset when the clips are another's
    notes: list = field(default_factory=list)


def _data_args(options: ExportOptions, source) -> dict:
    """``calibration_source`` arguments: the run's training data with the user's --root /
    --frame-template laid over it, unless the user names other clips (--calib-dataset,
    --calib-list); else the synthetic set."""
    user = {k: v for k, v in options.calib.items() if v is not None}
    run = source.run_config or {}
    if not any(user.get(k) for k in ("dataset", "list_file")) and (
            run.get("train_list") or run.get("dataset")):
        args = {"dataset": run.get("dataset") or "custom", "root": run.get("root"),
                "list_file": run.get("train_list"), "frame_template": run.get("frame_template")}
        return {**args, **user, "from_run": True}
    return {"dataset": "synthetic", **user, "from_run": False}


def _foreign_dataset(args: dict, source) -> str | None:
    """The model's dataset when the clips are known to come from another one (e.g. a Jester
    checkpoint calibrated on the synthetic set), else None."""
    if args.get("list_file"):
        return None  # a list the user or the run names: the model's own data
    model_dataset = source.dataset
    if model_dataset in (None, "custom") or args["dataset"] == model_dataset:
        return None
    return model_dataset


def _held_out_source(options: ExportOptions, args: dict, calib: dict | None, source,
                     calibrated: bool) -> dict | None:
    """The held-out clips' source: --report-list, the run's validation list, the synthetic
    validation split, else None (the calibration list after the calibration clips).
    ``calib`` is the resolved calibration source (None when it could not be); ``calibrated``
    whether its clips were used for calibration."""
    from tsm_tf.export.calibrate import calibration_source

    run = source.run_config or {}
    base = {k: args.get(k) for k in ("dataset", "root", "frame_template", "num_classes")}
    base["root"] = base["root"] or (calib or {}).get("root")  # e.g. the synthetic set's folder
    if options.report_list:
        held_out = calibration_source(**dict(base, list_file=options.report_list))
        if calibrated and calib is not None and Path(held_out["list_file"]).resolve() == \
                Path(calib["list_file"]).resolve():
            raise ExportError(f"--report-list {options.report_list} is the calibration list: the "
                              "report measures clips not used for calibration; pass a "
                              "validation list.")
        return held_out
    if args["from_run"] and run.get("val_list"):
        return calibration_source(**base, list_file=run["val_list"])
    if args["dataset"] == "synthetic" and not args.get("list_file"):
        return calibration_source(**base, split="val")
    return None


def _load_data(options: ExportOptions, source, model, need_calib: bool) -> _Data:
    """The calibration clips (when needed) and the held-out clips the report measures."""
    from tsm_tf.export.calibrate import CalibrationError, calibration_source, load_clips

    config = model.tsm_config
    args = _data_args(options, source)
    args["num_classes"] = int(config["num_classes"])
    out = _Data(foreign=_foreign_dataset(args, source))
    clips_kw = {"num_segments": int(config["num_segments"]), "input_size": config["input_size"]}
    source_args = {k: v for k, v in args.items() if k != "from_run"}  # calibration_source's
    if out.foreign is not None:
        out.notes.append(
            f"clips from the {args['dataset']} set, not the model's {out.foreign} data: the "
            "int8 ranges are approximate and top-1 is not measured; pass --calib-list F "
            f"--root D with {out.foreign} training clips for real ones")
    elif source.dataset is None and not args["from_run"] and not args.get("list_file"):
        out.notes.append(f"clips from the {args['dataset']} set (the model's training data is "
                         "unknown; pass --calib-list F --root D if it was trained on others)")
    try:
        out.calib = calibration_source(**source_args)
    except CalibrationError as error:
        if need_calib:
            raise
        if not options.report_list:  # a list asked for by name is still measured
            out.notes.append(f"no clips for the agreement check ({error})")
            return out
    if need_calib:
        out.calib_clips, _ = load_clips(out.calib, num_clips=options.num_calib, **clips_kw)
    try:
        out.held_out = _held_out_source(options, args,
                                        out.calib, source, calibrated=need_calib)
        if out.held_out is not None:
            out.clips, out.labels = load_clips(out.held_out, num_clips=options.num_report,
                                               allow_fewer=True, **clips_kw)
        else:  # the calibration list, after the calibration clips
            skip = options.num_calib if need_calib else 0
            out.held_out = out.calib
            out.clips, out.labels = load_clips(out.calib, num_clips=options.num_report,
                                               skip=skip, allow_fewer=True, **clips_kw)
            out.notes.append(f"held-out clips: {out.calib['list_file']} after the first {skip} "
                             "(the calibration clips)")
    except CalibrationError as error:
        if options.report_list:
            raise  # asked for by name: its absence is an error, not a note
        out.clips = out.labels = out.held_out = None
        out.notes.append(f"no held-out clips for the agreement check ({error})")
    if out.foreign is not None:
        out.labels = None  # another dataset's labels: top-1 against them means nothing
    return out


def _sampling(source) -> str:
    """The training frame sampling: the preset's, else the dataset's, else uniform (TSN)."""
    if source.preset is not None:
        return "dense" if source.preset.sampling == "dense" else "uniform"
    if source.dataset:
        from tsm_tf.data.registry import get_dataset_spec

        try:
            return get_dataset_spec(source.dataset).sampling
        except ValueError:
            pass
    return "uniform"


def _scale_size(preset, config: dict) -> int | None:
    """The preset's evaluation resize, scaled to this model's input size."""
    if preset is None:
        return None
    return int(round(preset.scale_size * config["input_size"][0] / preset.input_size))


def _trained_on(source, data: dict | None) -> bool:
    """Whether the calibration clips are the model's own training data (so their lengths give
    the training frame stride)."""
    if data is None:
        return False
    train_list = (source.run_config or {}).get("train_list")
    if train_list:
        return Path(train_list).resolve() == Path(data["list_file"]).resolve()
    dataset = getattr(data["dataset"], "name", data["dataset"])
    return source.dataset is not None and source.dataset == dataset


def _frame_counts(data: dict | None) -> list[int] | None:
    if data is None:
        return None
    from tsm_tf.export.calibrate import training_list

    try:
        counts = [r.num_frames for r in training_list(data) if r.num_frames]
    except (ValueError, OSError):
        return None
    return counts or None


def _qat_converter():
    """``tsm_tf.export.qat.convert_qat``, or a clear error saying how to install it."""
    try:
        from tsm_tf.export import qat

        qat.check_qat_installed()
    except ImportError as error:
        raise ExportError(
            "--qat needs the quantization-aware training extra (tf-keras, "
            f"tensorflow-model-optimization): pip install -e \".[qat]\" ({error})."
        ) from None
    return qat.convert_qat


def _options_used(options: ExportOptions, plan: list, mode: str, data: _Data) -> dict:
    """Every option of the export as the sidecar records it, with the clips it resolved to."""

    def clips_source(source: dict | None, count) -> dict | None:
        if source is None or count is None:
            return None
        return {**{k: source.get(k) for k in ("dataset", "root", "list_file", "frame_template")},
                "num_clips": len(count)}

    precisions = [p for p, _ in plan]
    return {"precisions": precisions, "mode": mode, "frames_per_step": options.frames_per_step,
            "target": options.target, "io": options.io, "name": options.name,
            "input_size": options.input_size,
            "calibration": clips_source(data.calib, data.calib_clips),
            "report_clips": clips_source(data.held_out, data.clips),
            "num_calib": options.num_calib, "num_report": options.num_report,
            "report_list": options.report_list,
            "qat_epochs": options.qat_epochs if "qat" in precisions else None}


def _convert_qat(source, model_path: Path, data: _Data, mode: str, options: ExportOptions,
                 io: str) -> bytes:
    convert_qat = _qat_converter()
    if data.calib is None:
        raise ExportError("--qat needs training clips: pass --calib-dataset / --calib-list.")
    if data.foreign is not None:
        raise ExportError(
            f"--qat fine-tunes on labelled training clips, and these are the "
            f"{data.calib['dataset']} set's, not {data.foreign}'s: pass --calib-list F --root D "
            f"with {data.foreign} training clips (or use --int8).")
    try:
        return convert_qat(str(model_path), data=data.calib, mode=mode,
                           frames_per_step=options.frames_per_step, epochs=options.qat_epochs,
                           io_type=io, num_calib=options.num_calib, verbose=options.verbose)
    except ImportError as error:
        raise ExportError(
            f"--qat needs the extra installed: pip install -e \".[qat]\" ({error})."
        ) from None


def _keras_path_for_qat(source, workdir: Path) -> Path:
    """QAT rebuilds the network from a ``.keras`` file: the source's, or one saved now."""
    from tsm_tf.models import TSM

    if source.model_path.suffix == ".keras" and isinstance(source.model, TSM):
        return source.model_path
    from tsm_tf.io_utils import save_model_atomic

    if not isinstance(source.model, TSM):
        raise ExportError("--qat fine-tunes the offline TSM; pass the training run or its "
                          ".keras rather than a StreamingTSM.")
    path = workdir / "source.keras"
    save_model_atomic(source.model, path)
    return path


def _write_all(files: list[tuple[Path, bytes]]) -> None:
    """Write every file to a temp file beside it first, and rename them over their targets
    only when each is complete: a failed write (full disk, ...) keeps any earlier export
    intact. The renames themselves can fail only in rare cases; the error then says how many
    files were replaced. Files get the permissions a plain ``open`` gives (0o666 minus the
    umask), and temp names ``tsm_tf.io_utils.is_temp_file`` recognises."""
    from tsm_tf.io_utils import write_temp_beside

    temps: list[tuple[Path, Path]] = []
    path = files[0][0] if files else None
    renamed = 0
    try:
        for path, data in files:
            temps.append((Path(write_temp_beside(path, data)), path))
        for temp, path in temps:
            os.replace(temp, path)
            renamed += 1
    except BaseException as error:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)
        if isinstance(error, OSError):
            done = (f"{renamed} of {len(files)} files were replaced" if renamed
                    else "nothing was written")
            raise ExportError(f"Cannot write {path}: {error.strerror or error}; {done}.") \
                from None
        raise


def export_model(
    source,
    out_dir: str | os.PathLike,
    options: ExportOptions | None = None,
    *,
    after_write: Callable[[dict, bytes], None] | None = None,
    **overrides,
) -> list[dict]:
    """Convert ``source`` (path, run folder, preset name or ``ModelSource``) and write
    ``NAME.tflite`` + ``NAME.json`` per precision into ``out_dir``. Returns the sidecars, each
    with the written paths under ``"files"`` (not part of the JSON).

    Options come as an ``ExportOptions`` or keyword arguments of the same names.
    """
    from tsm_tf.export.calibrate import representative_data
    from tsm_tf.export.convert import convert_to_tflite, fixed_input_specs
    from tsm_tf.export.flatbuffer import read_flatbuffer
    from tsm_tf.export.metadata import build_sidecar, temporal_spec
    from tsm_tf.export.report import (
        agreement,
        format_report,
        integer_checks,
        keras_logits,
        litert_logits,
        state_checks,
    )
    from tsm_tf.export.sources import ModelSource, load_source
    from tsm_tf.sidecar import METADATA_NAME, embed_metadata, sidecar_bytes

    options = options or ExportOptions()
    for key, value in overrides.items():
        if not hasattr(options, key):
            raise TypeError(f"export_model got an unknown option {key!r}")
        setattr(options, key, value)
    out_dir = Path(out_dir)
    if not isinstance(source, ModelSource):
        source = load_source(source, input_size=options.input_size)
    if options.input_size is not None and source.kind not in ("pth", "preset"):
        raise ExportError("--input-size applies to .pth checkpoints and presets; a Keras model "
                          "keeps the input size it was built with.")
    mode, plan, recipe, target = _plan(options, source.model)
    if options.frames_per_step < 1:
        raise ExportError("--frames-per-step must be at least 1.")
    _check_writable(out_dir)
    model = prepare_model(source.model, mode, options.frames_per_step)
    try:
        fixed_input_specs(model)
    except ValueError as error:
        raise ExportError(str(error)) from None
    config = model.tsm_config
    if config["num_segments"] % options.frames_per_step:
        raise ExportError(f"--frames-per-step {options.frames_per_step} must divide the "
                          f"clip's {config['num_segments']} frames.")

    from tsm_tf.models import StreamingTSM

    streaming = isinstance(model, StreamingTSM)
    input_name = model.frame_input_name if streaming else model.inputs[0].name
    state_names = list(model.state_shapes) if streaming else []
    need_calib = any(p in FULL_INTEGER for p, _ in plan)
    data = _load_data(options, source, model, need_calib)
    for note in data.notes:
        _say(options, f"note: {note}")
    clips = data.clips
    reference = keras_logits(model, clips) if clips is not None else None

    base = options.name or f"{source.stem}_{mode}"
    several = len(plan) > 1 or not options.name
    preset = source.preset
    temporal = temporal_spec(int(config["num_segments"]), sampling=_sampling(source),
                             frame_counts=_frame_counts(data.calib)
                             if _trained_on(source, data.calib) else None)
    from tsm_tf.data.transforms import IMAGENET_MEAN, IMAGENET_STD

    mean = list(getattr(preset, "mean", None) or IMAGENET_MEAN)
    std = list(getattr(preset, "std", None) or IMAGENET_STD)
    labels_list = source.class_names or [f"class_{i}" for i in range(config["num_classes"])]

    converted: dict[str, bytes] = {}
    results, files = [], []
    with tempfile.TemporaryDirectory(prefix="tsm_tf_export_") as workdir:
        for precision, io in [("float32", "float32"), *plan]:
            if precision in converted:
                continue
            _say(options, f"converting: {mode} {precision}"
                 + (f", {io} I/O" if precision in FULL_INTEGER else ""))
            if precision == "qat":
                converted[precision] = _convert_qat(
                    source, _keras_path_for_qat(source, Path(workdir)), data, mode, options,
                    io)
            else:
                converted[precision] = convert_to_tflite(
                    model, quantization=precision, io=io,
                    representative_data=representative_data(model, data.calib_clips)
                    if precision == "int8" else None)
    float_size = len(converted["float32"])

    for precision, io in plan:
        flatbuffer = converted[precision]
        parsed = read_flatbuffer(flatbuffer)
        name = f"{base}_{precision}" if several else base
        report = {
            "op_histogram": parsed.op_histogram(),
            "op_count": len(parsed.operators),
            "size_bytes": len(flatbuffer),
            "float32_size_bytes": float_size,
            "float32_size_ratio": round(float_size / len(flatbuffer), 3),
            "notes": list(source.notes) + data.notes,
        }
        if precision in FULL_INTEGER:
            report["integer_checks"] = integer_checks(parsed, io)
            if not report["integer_checks"]["passed"]:
                checks = report["integer_checks"]
                raise ExportError(
                    f"The {precision} model is not integer-only as required: "
                    f"{len(checks['float32_ops'])} ops touch float32 tensors "
                    f"({sorted({o['op'] for o in checks['float32_ops']})}), Flex ops "
                    f"{checks['flex_ops']}; nothing written."
                )
        if clips is not None:
            got = litert_logits(flatbuffer, clips, input_name=input_name,
                                state_names=state_names,
                                frames_per_step=options.frames_per_step)
            report["agreement"] = agreement(reference, got, data.labels)
        else:
            report["agreement"] = None
            report["agreement_note"] = "; ".join(data.notes) or "no held-out clips"
        sidecar = build_sidecar(
            name=name, parsed=parsed, tsm_config=config, mode=mode,
            frames_per_step=options.frames_per_step, input_name=input_name,
            state_names=state_names, labels=labels_list, temporal=temporal,
            source={"path": str(source.path), "kind": source.kind, "sha256": source.sha256},
            conversion={
                "precision": precision, "io": io,
                "target": target if options.target else None,
                "target_recipe": recipe if options.target else None,
                "options": _options_used(options, plan, mode, data),
            },
            mean=mean, std=std, scale_size=_scale_size(preset, config), report=report,
        )
        report["states"] = state_checks(sidecar["states"])
        if target == "edgetpu":
            report["edgetpu"] = _edgetpu_check(flatbuffer, options)
        sidecar = _jsonable(sidecar)
        payload = sidecar_bytes(sidecar)
        files += [(out_dir / f"{name}.tflite", embed_metadata(flatbuffer, METADATA_NAME, payload)),
                  (out_dir / f"{name}.json", payload)]
        _say(options, format_report(name, report))
        results.append(sidecar)

    _write_all(files)
    for sidecar, index in zip(results, range(0, len(files), 2), strict=True):
        sidecar["files"] = {"tflite": str(files[index][0]), "json": str(files[index + 1][0])}
        _say(options, f"wrote {files[index][0]} and {files[index + 1][0].name}")
        if after_write is not None:
            after_write(sidecar, files[index][1])
    return results


def _edgetpu_check(flatbuffer: bytes, options: ExportOptions):
    from tsm_tf.export.edgetpu import check_compatibility

    result = check_compatibility(flatbuffer)
    summary = getattr(result, "summary", None)  # an EdgeTpuReport (the tests' stand-in: a dict)
    if callable(summary):
        _say(options, summary())
    return _jsonable(result)

"""The conversion report: ops, size, integer-only and no-Flex proofs, cache quantization, and
agreement of the converted model with the float Keras model on held-out clips (run on LiteRT).
"""

from __future__ import annotations

import numpy as np

from tsm_tf.export.calibrate import clip_steps
from tsm_tf.export.flatbuffer import FlatbufferModel

__all__ = [
    "agreement",
    "format_report",
    "integer_checks",
    "keras_logits",
    "litert_logits",
    "state_checks",
]

FULL_INTEGER = ("int8", "qat")


def integer_checks(parsed: FlatbufferModel, io: str) -> dict:
    """Proof that a full-integer model has no float32 op and no Flex op.

    With ``io="float32"`` the signature's own inputs and outputs are float32 by request: the
    QUANTIZE / DEQUANTIZE ops at the boundary may touch them and nothing else may.
    """
    allowed: set[int] = set()
    if io == "float32":
        for signature in parsed.signatures.values():
            allowed |= set(signature["inputs"].values()) | set(signature["outputs"].values())
    offenders = []
    for op in parsed.operators:
        tensors = [i for i in (*op.inputs, *op.outputs) if i >= 0]
        bad = [parsed.tensors[i].name for i in tensors
               if parsed.tensors[i].dtype == "float32" and i not in allowed]
        if bad:
            offenders.append({"op": op.name, "index": op.index, "float32_tensors": bad})
    flex = parsed.flex_ops()
    return {
        "float32_ops": offenders,
        "flex_ops": flex,
        "custom_ops": parsed.custom_ops(),
        "integer_only": not offenders,
        "no_flex": not flex,
        "passed": not offenders and not flex,
    }


def state_checks(states: list[dict]) -> dict:
    """Whether every cache leaves the model with the (scale, zero point) it came in with."""
    mismatched = [s["input"] for s in states if s["requantize"]]
    return {"count": len(states), "equal_in_out": not mismatched,
            "requantize": mismatched}


def keras_logits(model, clips: np.ndarray) -> np.ndarray:
    """Float Keras logits: ``[N, C]`` per clip (offline), ``[N, T, C]`` per frame (streaming)."""
    from tsm_tf.models import StreamingTSM

    if not isinstance(model, StreamingTSM):
        return np.concatenate([np.asarray(model(clip[None], training=False)) for clip in clips])
    out = []
    for clip in clips:
        states = model.init_states()
        frames_logits = []
        for frames in clip_steps(clip, model.frames_per_step):
            logits, states = model.step(frames, states)
            frames_logits.append(logits.reshape(-1, logits.shape[-1]))
        out.append(np.concatenate(frames_logits))
    return np.stack(out)


def litert_logits(flatbuffer: bytes, clips: np.ndarray, *, input_name: str,
                  state_names: list[str], frames_per_step: int = 1,
                  num_threads: int | None = None) -> np.ndarray:
    """The same as ``keras_logits`` from the TFLite model on LiteRT."""
    if input_name == "video" and frames_per_step == 1 and not state_names:  # offline
        from tsm_tf.export.litert import LiteRTModel

        runner = LiteRTModel(flatbuffer, num_threads=num_threads)
        return np.concatenate([runner({"video": clip[None]})["logits"] for clip in clips])
    # Streaming: the runtime's own session (the Recognizer's cache carrying), zero caches per
    # clip; it pairs the caches by name itself.
    from tsm_tf.runtime.session import StreamingSession

    session = StreamingSession.open(flatbuffer, num_threads=num_threads)
    return np.stack([session.run_clip(clip) for clip in clips])


def agreement(reference: np.ndarray, converted: np.ndarray,
              labels: np.ndarray | None = None) -> dict:
    """Top-1 agreement and logit errors of ``converted`` against the float ``reference``.

    Offline logits are ``[N, C]``; streaming ``[N, T, C]``, compared frame by frame and per
    clip (the clip's prediction is the mean of its frame logits, as the offline model's).
    """
    reference = np.asarray(reference, np.float64)
    converted = np.asarray(converted, np.float64)
    error = np.abs(converted - reference)
    result = {"clips": int(reference.shape[0]),
              "max_logit_error": float(error.max()), "mean_logit_error": float(error.mean())}
    if reference.ndim == 3:
        result["frames"] = int(reference.shape[0] * reference.shape[1])
        result["frame_top1_agreement"] = float(
            np.mean(reference.argmax(-1) == converted.argmax(-1)))
        reference, converted = reference.mean(1), converted.mean(1)  # clip logits [N, C]
    result["top1_agreement"] = float(np.mean(reference.argmax(-1) == converted.argmax(-1)))
    if labels is not None:
        result["float_top1"] = float(np.mean(reference.argmax(-1) == labels))
        result["converted_top1"] = float(np.mean(converted.argmax(-1) == labels))
    return result


def format_report(name: str, report: dict) -> str:
    """A few printable lines summarising one model's report."""
    lines = [f"{name}: {report['size_bytes'] / 1e6:.2f} MB"
             + (f" ({report['float32_size_ratio']:.2f}x smaller than float32)"
                if report.get("float32_size_ratio") not in (None, 1.0) else "")]
    ops = ", ".join(f"{op} {count}" for op, count in report["op_histogram"].items())
    lines.append(f"  ops ({report['op_count']}): {ops}")
    checks = report.get("integer_checks")
    if checks is not None:
        lines.append(
            f"  integer only: {'yes' if checks['integer_only'] else 'NO'} "
            f"({len(checks['float32_ops'])} ops touch float32 tensors beyond the requested I/O); "
            f"Flex ops: {len(checks['flex_ops'])}")
    states = report.get("states")
    if states is not None and states["count"]:
        equal = "yes" if states["equal_in_out"] else f"no, requantize {states['requantize']}"
        lines.append(f"  caches: {states['count']}, (scale, zero point) equal in and out: {equal}")
    agree = report.get("agreement")
    if agree:
        text = f"  vs float Keras on {agree['clips']} held-out clips: top-1 agreement " \
               f"{100 * agree['top1_agreement']:.1f}%"
        if "frame_top1_agreement" in agree:
            text += f" (per frame {100 * agree['frame_top1_agreement']:.1f}% of {agree['frames']})"
        text += f", max |logit error| {agree['max_logit_error']:.3g}, mean " \
                f"{agree['mean_logit_error']:.3g}"
        lines.append(text)
    elif report.get("agreement_note"):
        lines.append(f"  agreement not measured: {report['agreement_note']}")
    return "\n".join(lines)

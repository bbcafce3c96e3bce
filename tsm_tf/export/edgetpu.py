"""The Edge TPU path: a compatibility check of a TFLite model against the Edge TPU rules, and
the ``edgetpu_compiler`` run (with its log parsed) when the compiler is installed.

The check reads the flatbuffer (no TensorFlow, no compiler) and applies Coral's documented
requirements to every operator, in execution order: full-integer tensors, static shapes,
constant parameters, tensors of rank <= 3 (or only the innermost three dimensions > 1), the
per-op limits (CONCATENATION, MEAN, PAD, TRANSPOSE, pooling) and the list of supported ops. The
compiler maps ops up to the first unsupported one; that op and everything after it run on the
CPU, so the report lists each of them with the reason.

Example (needs a model file, so not run as a doctest)::
    report = check_compatibility(flatbuffer)
    print(report.summary())
    compiled = run_compiler("model.tflite", "out/")   # None when the compiler is absent
    if compiled is None:
        print(compiler_missing_message("model.tflite", "out/"))
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tsm_tf.export.flatbuffer import FlatbufferModel, OperatorInfo, TensorInfo, read_flatbuffer

COMPILER = "edgetpu_compiler"
COMPILER_INSTALL_URL = "https://coral.ai/docs/edgetpu/compiler/"

# Coral's table of operations the Edge TPU runs (compiler 16), as TFLite builtin names.
SUPPORTED_OPS = frozenset({
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "EXPAND_DIMS",
    "FULLY_CONNECTED", "L2_NORMALIZATION", "LOGISTIC", "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "MAXIMUM", "MAX_POOL_2D", "MEAN", "MINIMUM", "MUL", "PACK", "PAD", "PRELU", "QUANTIZE",
    "REDUCE_MAX", "REDUCE_MIN", "RELU", "RELU6", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR", "RSQRT", "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT",
    "SQUEEZE", "STRIDED_SLICE", "SUB", "SUM", "SQUARED_DIFFERENCE", "TANH", "TRANSPOSE",
    "TRANSPOSE_CONV",
})

# Inputs (by position) that are parameters and must be compile-time constants.
PARAMETER_INPUTS = {
    "CONV_2D": (1, 2), "DEPTHWISE_CONV_2D": (1, 2), "FULLY_CONNECTED": (1, 2),
    "TRANSPOSE_CONV": (0, 1, 3), "PRELU": (1,), "PAD": (1,), "RESHAPE": (1,),
    "STRIDED_SLICE": (1, 2, 3), "SLICE": (1, 2), "MEAN": (1,), "SUM": (1,),
    "REDUCE_MAX": (1,), "REDUCE_MIN": (1,), "TRANSPOSE": (1,), "RESIZE_BILINEAR": (1,),
    "RESIZE_NEAREST_NEIGHBOR": (1,), "SPLIT": (0,), "EXPAND_DIMS": (1,),
}
_REDUCTIONS = ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN")
_NO_FUSED_ACTIVATION = ("CONCATENATION", "AVERAGE_POOL_2D", "MAX_POOL_2D")
_ACTIVATION_DTYPES = ("int8", "uint8")
_PARAMETER_DTYPES = ("int8", "uint8", "int32", "int64")  # weights, biases, shapes, indices

# Rule identifiers used in the report.
RULE_OP = "supported-op"
RULE_INTEGER = "full-integer"
RULE_STATIC = "static-shape"
RULE_CONSTANT = "constant-parameters"
RULE_RANK = "tensor-rank"
RULE_CONCAT = "concatenation"
RULE_REDUCE_BATCH = "no-batch-reduction"
RULE_PAD_BATCH = "no-batch-padding"
RULE_TRANSPOSE_5D = "transpose-rank"
RULE_ACTIVATION = "no-fused-activation"
RULE_AFTER = "after-unsupported-op"


@dataclass(frozen=True)
class Fallback:
    """One operator the Edge TPU does not run, and why."""

    index: int           # position in execution order
    op: str              # builtin name, e.g. "RESHAPE"
    tensor: str | None   # the tensor that breaks the rule (None when the op itself does)
    rule: str            # one of the RULE_* identifiers
    reason: str          # one sentence, with the fix when there is one

    def line(self) -> str:
        where = f" tensor {self.tensor!r}" if self.tensor else ""
        return f"#{self.index} {self.op}{where} [{self.rule}]: {self.reason}"


@dataclass(frozen=True)
class EdgeTpuReport:
    """The outcome of :func:`check_compatibility` (``dataclasses.asdict`` gives its JSON form).

    ``violations`` are the ops that break a rule themselves (all of them, not only the first);
    ``fallbacks`` are every op the CPU would run: the first violation and everything after it.
    ``compatible``, ``tpu_ops``, ``cpu_ops`` and ``first_unsupported`` follow from those.
    """

    num_ops: int
    violations: list[Fallback] = field(default_factory=list)
    fallbacks: list[Fallback] = field(default_factory=list)
    compatible: bool = field(init=False)
    tpu_ops: int = field(init=False)
    cpu_ops: int = field(init=False)
    first_unsupported: int | None = field(init=False)

    def __post_init__(self) -> None:
        cpu_ops = len({f.index for f in self.fallbacks})
        object.__setattr__(self, "compatible", not self.violations)
        object.__setattr__(self, "cpu_ops", cpu_ops)
        object.__setattr__(self, "tpu_ops", self.num_ops - cpu_ops)
        object.__setattr__(self, "first_unsupported",
                           self.violations[0].index if self.violations else None)

    def summary(self) -> str:
        """Printable text: the verdict, then one line per op that falls back."""
        if self.compatible:
            return (f"Edge TPU check: all {self.num_ops} operations meet the Edge TPU rules "
                    "(the compiler should map them all).")
        lines = [f"Edge TPU check: {self.tpu_ops} of {self.num_ops} operations would run on the "
                 f"Edge TPU, {self.cpu_ops} on the CPU (from op #{self.first_unsupported} on, "
                 "everything runs on the CPU):"]
        lines += [f"  {fallback.line()}" for fallback in self.fallbacks]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready form for the conversion report."""
        return asdict(self)


def check_compatibility(flatbuffer: bytes | str | os.PathLike) -> EdgeTpuReport:
    """Apply the Edge TPU rules to every operator of the main graph of ``flatbuffer``."""
    model = read_flatbuffer(flatbuffer)
    violations = []
    for op in model.operators:
        violations.extend(_op_violations(model, op))
    fallbacks = []
    if violations:
        first = violations[0].index
        by_index: dict[int, list[Fallback]] = {}
        for violation in violations:
            by_index.setdefault(violation.index, []).append(violation)
        for op in model.operators[first:]:
            fallbacks.extend(by_index.get(op.index) or [Fallback(
                op.index, op.name, None, RULE_AFTER,
                f"runs on the CPU because op #{first} ({model.operators[first].name}) "
                "before it cannot run on the Edge TPU")])
    return EdgeTpuReport(num_ops=len(model.operators), violations=violations,
                         fallbacks=fallbacks)


def _op_violations(model: FlatbufferModel, op: OperatorInfo) -> list[Fallback]:
    found = []

    def flag(rule: str, reason: str, tensor: TensorInfo | None = None) -> None:
        found.append(Fallback(op.index, op.name, tensor.name if tensor else None, rule, reason))

    if op.name not in SUPPORTED_OPS:
        kind = "a Flex (TensorFlow) op" if op.is_flex else \
            "a custom op" if op.is_custom else "not in the Edge TPU's supported operations"
        flag(RULE_OP, f"{op.name} is {kind}")
    parameters = PARAMETER_INPUTS.get(op.name, ())
    inputs = [(position, model.tensors[i]) for position, i in enumerate(op.inputs) if i >= 0]
    outputs = [model.tensors[i] for i in op.outputs if i >= 0]
    for tensor in [t for _, t in inputs] + outputs:
        _check_tensor(tensor, flag, boundary=op.name in ("QUANTIZE", "DEQUANTIZE"))
    for position, tensor in inputs:
        if position in parameters and not tensor.constant:
            flag(RULE_CONSTANT, f"input {position} of {op.name} must be a constant, it is computed "
                                "at run time", tensor)
    if op.name in _NO_FUSED_ACTIVATION:
        activation = op.options.get("fused_activation_function", "NONE")
        if activation != "NONE":
            flag(RULE_ACTIVATION, f"{op.name} with a fused {activation} activation")
    if op.name == "CONCATENATION":
        _check_concatenation(model, inputs, flag)
    elif op.name in _REDUCTIONS:
        axes = model.tensor_data(op.inputs[1]) if len(op.inputs) > 1 else None
        rank = len(inputs[0][1].shape)
        if axes is not None and 0 in {int(a) % max(rank, 1) for a in np.ravel(axes)}:
            flag(RULE_REDUCE_BATCH, f"{op.name} reduces over the batch dimension "
                                    f"(axes {np.ravel(axes).tolist()})", inputs[0][1])
    elif op.name == "PAD":
        paddings = model.tensor_data(op.inputs[1])
        if paddings is not None and np.any(paddings[0] != 0):
            flag(RULE_PAD_BATCH, f"PAD pads the batch dimension ({paddings[0].tolist()})",
                 inputs[0][1])
    elif op.name == "TRANSPOSE" and len(inputs[0][1].shape) >= 5:
        flag(RULE_TRANSPOSE_5D, f"{len(inputs[0][1].shape)}-D TRANSPOSE is not supported",
             inputs[0][1])
    return found


def _check_tensor(tensor: TensorInfo, flag, boundary: bool = False) -> None:
    allowed = _PARAMETER_DTYPES if tensor.constant else _ACTIVATION_DTYPES
    if tensor.dtype not in allowed:
        fix = ""
        if tensor.dtype.startswith("float"):
            fix = " (a float model boundary: convert with --io uint8 or int8)" if boundary \
                else " (convert with full-integer int8 quantization)"
        kind = "constant" if tensor.constant else "activation"
        flag(RULE_INTEGER, f"{kind} tensor is {tensor.dtype}, the Edge TPU needs 8-bit integers"
                           f"{fix}", tensor)
    if tensor.shape_signature is not None and any(d < 0 for d in tensor.shape_signature):
        flag(RULE_STATIC, f"dynamic shape {list(tensor.shape_signature)} (-1 = unknown); export "
                          "with a fixed batch and input size", tensor)
    shape = tensor.shape
    if not tensor.constant and len(shape) > 3 and any(d > 1 for d in shape[:-3]):
        flag(RULE_RANK, _rank_reason(shape), tensor)


def _rank_reason(shape: tuple[int, ...]) -> str:
    reason = (f"{len(shape)}-D tensor {list(shape)} has a dimension > 1 outside the innermost "
              "three (the Edge TPU allows rank <= 3, or only the innermost three dimensions > 1)")
    if len(shape) == 5:
        reason += ("; a 5-D [N,T,H,W,C] clip, as the offline model takes: export the streaming "
                   "model (--mode streaming) for the Edge TPU")
    elif shape[0] > 1:
        reason += (f"; a batch of {shape[0]}, as when the offline model folds its frames into "
                   "the batch ([N*T,H,W,C]): export the streaming model (--mode streaming)")
    return reason


def _check_concatenation(model: FlatbufferModel, inputs, flag) -> None:
    constants = [(position, t) for position, t in inputs if t.constant]
    if constants and len(inputs) != 2:
        flag(RULE_CONCAT, f"CONCATENATION of {len(inputs)} inputs with a constant one (a "
                          "constant input is allowed only as the zero padding of 2 inputs)")
    for _, tensor in constants:
        data = model.tensor_data(tensor.index).astype(np.float64)
        zero_point = tensor.scale_zero_point[1] if tensor.scale_zero_point else 0  # real 0
        if np.any(data != zero_point):
            flag(RULE_CONCAT, "constant input of CONCATENATION is not all zeros", tensor)


# ------------------------------------------------------------------------------------------
# The compiler


def compiler_command(tflite_path: str | os.PathLike, out_dir: str | os.PathLike,
                     compiler: str = COMPILER) -> list[str]:
    """The command that compiles ``tflite_path`` into ``out_dir`` with the per-op table (-s)."""
    return [compiler, "-s", "-o", os.fspath(out_dir), os.fspath(tflite_path)]


def compiler_missing_message(tflite_path: str | os.PathLike, out_dir: str | os.PathLike,
                             compiler: str = COMPILER) -> str:
    """What to tell the user when ``edgetpu_compiler`` is not on PATH: the exact command."""
    command = shlex.join(compiler_command(tflite_path, out_dir, compiler))
    return (f"{compiler} is not on PATH, so the model was not compiled for the Edge TPU. It comes "
            f"from Coral's apt repository (x86-64 Debian/Ubuntu, {COMPILER_INSTALL_URL}); there, "
            f"run: {command}")


def run_compiler(tflite_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                 compiler: str = COMPILER, timeout: float = 600) -> dict | None:
    """Compile with ``edgetpu_compiler`` when it is on PATH; ``None`` when it is not.

    Returns the parsed log (:func:`parse_compiler_log`) plus ``command``, ``log`` (the text),
    ``compiled_model`` and ``log_file`` (paths in ``out_dir``). The compiler writes into a
    temporary folder first, so a failed run leaves nothing in ``out_dir``; a failure raises a
    ``RuntimeError`` with the compiler's last message.
    """
    executable = shutil.which(compiler)
    if executable is None:
        return None
    tflite_path, out_dir = Path(tflite_path), Path(out_dir)
    if not tflite_path.is_file():
        raise FileNotFoundError(f"No TFLite model at {tflite_path} to compile for the Edge TPU.")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".edgetpu_") as scratch:
        command = compiler_command(tflite_path, scratch, executable)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{compiler} did not finish on {tflite_path} within "
                               f"{timeout:.0f} s.") from None
        log = done.stdout + done.stderr
        compiled = Path(scratch) / f"{tflite_path.stem}_edgetpu.tflite"
        if done.returncode != 0 or not compiled.is_file():
            last = next((line for line in reversed(log.splitlines()) if line.strip()), "no output")
            raise RuntimeError(f"{compiler} failed on {tflite_path} (exit {done.returncode}): "
                               f"{last.strip()}")
        parsed = parse_compiler_log(log)
        results = {}
        for produced in Path(scratch).iterdir():
            if produced.name.startswith(tflite_path.stem + "_edgetpu"):
                target = out_dir / produced.name
                os.replace(produced, target)
                results[produced.suffix] = target
    return {**parsed, "command": compiler_command(tflite_path, out_dir, compiler), "log": log,
            "compiled_model": str(results[".tflite"]),
            "log_file": str(results[".log"]) if ".log" in results else None}


def compiler_summary(result: dict) -> str:
    """One line for a :func:`run_compiler` result: the op split and the compiled file."""
    reasons = f" ({'; '.join(result['cpu_reasons'])})" if result.get("cpu_reasons") else ""
    return (f"edgetpu_compiler {result['compiler_version']}: {result['tpu_ops']} ops on the Edge "
            f"TPU, {result['cpu_ops']} on the CPU{reasons} -> {result['compiled_model']}")


_TABLE_ROW = re.compile(r"^(?P<op>[A-Z][A-Z0-9_]*)\s+(?P<count>\d+)\s+(?P<status>\S.*?)\s*$")


def parse_compiler_log(text: str) -> dict:
    """Numbers and the per-op table from ``edgetpu_compiler`` output.

    ``tpu_ops`` / ``cpu_ops`` come from the "Number of operations that will run on ..." lines,
    which the compiler prints only when some ops fall back; otherwise from the table. Each table
    row is ``{"op", "count", "status", "mapped"}`` (mapped: "Mapped to Edge TPU").
    """

    def number(pattern: str) -> int | None:
        match = re.search(pattern, text)
        return int(match.group(1)) if match else None

    version = re.search(r"Edge TPU Compiler version (\S+)", text)
    operations = []
    in_table = False
    for line in text.splitlines():
        if re.match(r"^Operator\s+Count\s+Status\s*$", line.strip()):
            in_table = True
            continue
        match = _TABLE_ROW.match(line.strip()) if in_table else None
        if match:
            status = match.group("status")
            operations.append({"op": match.group("op"), "count": int(match.group("count")),
                               "status": status, "mapped": status == "Mapped to Edge TPU"})
    mapped = sum(row["count"] for row in operations if row["mapped"])
    unmapped = sum(row["count"] for row in operations if not row["mapped"])
    tpu_ops = number(r"Number of operations that will run on Edge TPU:\s*(\d+)")
    cpu_ops = number(r"Number of operations that will run on CPU:\s*(\d+)")
    return {
        "compiler_version": version.group(1) if version else None,
        "compiled": "Model compiled successfully" in text,
        "total_ops": number(r"Total number of operations:\s*(\d+)"),
        "edgetpu_subgraphs": number(r"Number of Edge TPU subgraphs:\s*(\d+)"),
        "tpu_ops": tpu_ops if tpu_ops is not None else (mapped if operations else None),
        "cpu_ops": cpu_ops if cpu_ops is not None else (unmapped if operations else None),
        "operations": operations,
        "cpu_reasons": sorted({row["status"] for row in operations if not row["mapped"]}),
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m tsm_tf.export.edgetpu MODEL.tflite [--out DIR] [--json]``.

    Prints the compatibility check, then compiles into ``--out`` when ``edgetpu_compiler`` is
    on PATH or prints the command to run where it is. Exit 0 when every op meets the rules,
    1 when some fall back to the CPU, 2 on bad input or a compiler failure.
    """
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m tsm_tf.export.edgetpu",
        description="Check a TFLite model against the Edge TPU rules and compile it.")
    parser.add_argument("model", help="a .tflite file (full integer, e.g. --target edgetpu)")
    parser.add_argument("--out", help="folder for the compiled model (default: the model's)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        report = check_compatibility(args.model)
        print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary())
        out_dir = args.out or os.path.dirname(os.path.abspath(args.model))
        compiled = run_compiler(args.model, out_dir)
    except (OSError, ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if compiled is None:
        print(compiler_missing_message(args.model, out_dir))
    else:
        print(compiler_summary(compiled))
    return 0 if report.compatible else 1


if __name__ == "__main__":
    raise SystemExit(main())

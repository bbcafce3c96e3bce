"""Read a TFLite flatbuffer without TensorFlow or LiteRT: operators, tensors, signatures.

Built on the generated TFLite schema code of the ``tflite`` package (PyPI) and the
``flatbuffers`` runtime. Operators come in execution order (the order of the subgraph's
operator list, which is what the interpreter runs).

Example (needs a model file, so not run as a doctest)::
    model = read_flatbuffer(open("model.tflite", "rb").read())
    model.op_histogram()
    {'CONV_2D': 52, 'DEPTHWISE_CONV_2D': 17, ...}
    model.float32_tensor_ops()
    []
"""

from __future__ import annotations

import inspect
import os
import re
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import tflite

__all__ = [
    "FlatbufferModel",
    "OperatorInfo",
    "TensorInfo",
    "read_flatbuffer",
]

_TFLITE_IDENTIFIER = b"TFL3"


@cache
def _enum_names(enum_class: type) -> dict[int, str]:
    """Code -> name for a generated schema enum class (e.g. ``tflite.TensorType``)."""
    return {
        value: name for name, value in vars(enum_class).items()
        if not name.startswith("_") and isinstance(value, int)
    }


# Options fields holding a schema enum, decoded to the enum's name.
_ENUM_FIELDS = {
    "fused_activation_function": tflite.ActivationFunctionType,
    "padding": tflite.Padding,
}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _dtype_name(code: int) -> str:
    """TensorType code -> numpy-style dtype name (``"float32"``, ``"int8"``, ...)."""
    return _enum_names(tflite.TensorType).get(code, f"TYPE_{code}").lower()


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of a subgraph.

    ``quantization`` is ``None`` for unquantized tensors, else ``{"scales": [...],
    "zero_points": [...], "axis": d}`` (one entry per channel of ``axis`` when per-channel).
    ``constant`` is true for tensors with data in the flatbuffer (weights, biases, shapes).
    """

    index: int
    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...] | None
    dtype: str
    quantization: dict | None
    buffer: int
    constant: bool
    variable: bool

    @property
    def scale_zero_point(self) -> tuple[float, int] | None:
        """(scale, zero point) of a per-tensor quantized tensor, else ``None``."""
        q = self.quantization
        if q is None or len(q["scales"]) != 1:
            return None
        return float(q["scales"][0]), int(q["zero_points"][0])


@dataclass(frozen=True)
class OperatorInfo:
    """One operator: its type name (builtin name, or the custom code), tensor indices, options.

    ``inputs`` may hold -1 for an omitted optional input. ``options`` holds the builtin
    options as a dict of snake_case fields (e.g. ``{"axis": 3, "fused_activation_function":
    "NONE"}`` for CONCATENATION); empty when the op has none.
    """

    index: int
    name: str
    builtin_code: int
    custom_code: str | None
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict = field(default_factory=dict)

    @property
    def is_flex(self) -> bool:
        """A TensorFlow (Flex) op, which needs the Flex delegate to run."""
        return self.custom_code is not None and self.custom_code.startswith("Flex")

    @property
    def is_custom(self) -> bool:
        return self.custom_code is not None


@dataclass(frozen=True)
class FlatbufferModel:
    """The parsed content of one subgraph of a TFLite model, plus model-level lists."""

    operators: list[OperatorInfo]
    tensors: list[TensorInfo]
    signatures: dict[str, dict[str, dict[str, int]]]  # key -> {"inputs"/"outputs": name -> index}
    metadata_names: list[str]
    subgraph_inputs: tuple[int, ...]
    subgraph_outputs: tuple[int, ...]
    size: int
    _model: tflite.Model = field(repr=False)

    def op_names(self) -> list[str]:
        """The type of every operator, in execution order."""
        return [op.name for op in self.operators]

    def op_histogram(self) -> dict[str, int]:
        """Op type -> count, most frequent first (ties by name)."""
        counts: dict[str, int] = {}
        for name in self.op_names():
            counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def flex_ops(self) -> list[str]:
        """Names of the Flex (TensorFlow) ops; empty for a builtin-only model."""
        return [op.name for op in self.operators if op.is_flex]

    def custom_ops(self) -> list[str]:
        """Names of all custom ops (Flex included)."""
        return [op.name for op in self.operators if op.is_custom]

    def float32_tensor_ops(self) -> list[str]:
        """Ops that read or write a float32 tensor (empty for an all-integer model)."""
        flagged = []
        for op in self.operators:
            indices = [i for i in (*op.inputs, *op.outputs) if i >= 0]
            if any(self.tensors[i].dtype == "float32" for i in indices):
                flagged.append(op.name)
        return flagged

    def tensor(self, name: str) -> TensorInfo:
        """The tensor called ``name`` (KeyError naming the known tensors otherwise)."""
        for tensor in self.tensors:
            if tensor.name == name:
                return tensor
        raise KeyError(f"No tensor named {name!r} in the model.")

    def signature_tensor(self, name: str, *, output: bool = False,
                         signature: str = "serving_default") -> TensorInfo:
        """The tensor behind a signature input (or output) name, e.g. ``"image"``."""
        if signature not in self.signatures:
            raise KeyError(f"No signature {signature!r}; the model has {sorted(self.signatures)}.")
        side = self.signatures[signature]["outputs" if output else "inputs"]
        if name not in side:
            kind = "output" if output else "input"
            raise KeyError(f"Signature {signature!r} has no {kind} {name!r}; it has {list(side)}.")
        return self.tensors[side[name]]

    def tensor_data(self, index: int) -> np.ndarray | None:
        """The constant data of tensor ``index`` as an array of its shape, else ``None``."""
        tensor = self.tensors[index]
        if not tensor.constant:
            return None
        raw = _buffer_bytes(self._model, tensor.buffer)
        dtype = np.dtype(tensor.dtype) if tensor.dtype != "bool" else np.dtype(np.bool_)
        return np.frombuffer(raw, dtype=dtype).reshape(tensor.shape)


def _buffer_bytes(model: tflite.Model, index: int, source: bytes | None = None) -> bytes:
    buffer = model.Buffers(index)
    if buffer is None:
        return b""
    if buffer.DataLength() > 0:
        return buffer.DataAsNumpy().tobytes()
    if buffer.Offset() > 1:  # large models keep data after the flatbuffer, by file offset
        data = source if source is not None else bytes(model._tab.Bytes)
        return bytes(data[buffer.Offset(): buffer.Offset() + buffer.Size()])
    return b""


def _has_data(model: tflite.Model, index: int) -> bool:
    buffer = model.Buffers(index)
    return buffer is not None and (buffer.DataLength() > 0 or buffer.Offset() > 1)


@cache
def _options_classes() -> dict[int, type]:
    """BuiltinOptions union code -> generated options class (e.g. 10 -> ConcatenationOptions)."""
    classes = {}
    for code, name in _enum_names(tflite.BuiltinOptions).items():
        cls = getattr(tflite, name, None)
        if code and isinstance(cls, type):
            classes[code] = cls
    return classes


def _decode_options(op: tflite.Operator) -> dict:
    cls = _options_classes().get(op.BuiltinOptionsType())
    table = op.BuiltinOptions()
    if cls is None or table is None:
        return {}
    options = cls()
    options.Init(table.Bytes, table.Pos)
    decoded = {}
    for name, method in inspect.getmembers(options, inspect.ismethod):
        if name.startswith(("Init", "GetRoot")) or name.endswith(("IsNone", "Length", "AsNumpy")):
            continue
        if len(inspect.signature(method).parameters) == 0:
            value = method()
        elif hasattr(options, f"{name}AsNumpy"):  # vector field: read it whole
            array = getattr(options, f"{name}AsNumpy")()
            value = array.tolist() if isinstance(array, np.ndarray) else []
        else:
            continue
        key = _snake(name)
        if key in _ENUM_FIELDS and isinstance(value, int):
            value = _enum_names(_ENUM_FIELDS[key]).get(value, value)
        decoded[key] = value
    return decoded


def _quantization(tensor: tflite.Tensor) -> dict | None:
    params = tensor.Quantization()
    if params is None or params.ScaleLength() == 0:
        return None
    scales = params.ScaleAsNumpy()
    zero_points = params.ZeroPointAsNumpy() if params.ZeroPointLength() else np.zeros_like(scales)
    return {
        "scales": [float(s) for s in scales],
        "zero_points": [int(z) for z in zero_points],
        "axis": int(params.QuantizedDimension()),
    }


def _vector(getter_length: int, getter) -> tuple[int, ...]:
    return tuple(int(getter(j)) for j in range(getter_length))


def _as_bytes(flatbuffer: bytes | bytearray | str | os.PathLike) -> bytes:
    if isinstance(flatbuffer, bytes | bytearray | memoryview):
        return bytes(flatbuffer)
    path = os.fspath(flatbuffer)
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as error:
        raise FileNotFoundError(f"Cannot read TFLite model {path!r}: {error.strerror}.") from None


def parse_model(data: bytes, what: str = "the buffer") -> tflite.Model:
    """The root ``tflite.Model`` of flatbuffer bytes, or a ``ValueError`` naming ``what``."""
    if len(data) < 8 or bytes(data[4:8]) != _TFLITE_IDENTIFIER:
        raise ValueError(
            f"{what} is not a TFLite flatbuffer (no 'TFL3' identifier); convert the model with "
            "converters/to_tflite.py."
        )
    return tflite.Model.GetRootAs(data, 0)


def metadata_entries(model: tflite.Model) -> list[tuple[str, int]]:
    """``(name, buffer index)`` of each metadata entry, in file order."""
    return [(model.Metadata(j).Name().decode("utf-8"), int(model.Metadata(j).Buffer()))
            for j in range(model.MetadataLength())]


def read_metadata(flatbuffer: bytes, name: str) -> bytes | None:
    """The bytes stored under metadata ``name``, or ``None`` when there is no such entry."""
    data = bytes(flatbuffer)
    model = parse_model(data)
    for entry_name, index in metadata_entries(model):
        if entry_name == name:
            return _buffer_bytes(model, index, data)
    return None


def read_flatbuffer(flatbuffer: bytes | bytearray | str | os.PathLike,
                    subgraph: int = 0) -> FlatbufferModel:
    """Parse ``flatbuffer`` (bytes or a path); ``subgraph`` 0 is the main graph."""
    what = "The buffer" if isinstance(flatbuffer, bytes | bytearray | memoryview) \
        else f"{os.fspath(flatbuffer)!r}"
    data = _as_bytes(flatbuffer)
    model = parse_model(data, what)
    if not 0 <= subgraph < model.SubgraphsLength():
        raise ValueError(f"{what} has {model.SubgraphsLength()} subgraphs, not {subgraph + 1}.")
    graph = model.Subgraphs(subgraph)
    builtin_names = tflite.utils.BUILTIN_OPCODE2NAME

    codes = []
    for j in range(model.OperatorCodesLength()):
        opcode = model.OperatorCodes(j)
        # The int8 field stops at 127; newer ops use builtin_code. Take the larger of both.
        code = max(int(opcode.BuiltinCode()), int(opcode.DeprecatedBuiltinCode()))
        custom = opcode.CustomCode()
        codes.append((code, custom.decode("utf-8") if custom is not None else None))

    tensors = []
    for i in range(graph.TensorsLength()):
        t = graph.Tensors(i)
        signature = tuple(int(d) for d in t.ShapeSignatureAsNumpy()) \
            if t.ShapeSignatureLength() else None
        tensors.append(TensorInfo(
            index=i,
            name=t.Name().decode("utf-8") if t.Name() is not None else "",
            shape=tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else (),
            shape_signature=signature,
            dtype=_dtype_name(t.Type()),
            quantization=_quantization(t),
            buffer=int(t.Buffer()),
            constant=t.Buffer() > 0 and _has_data(model, t.Buffer()),
            variable=bool(t.IsVariable()),
        ))

    operators = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code, custom = codes[op.OpcodeIndex()]
        name = custom if custom is not None and code == tflite.BuiltinOperator.CUSTOM \
            else builtin_names.get(code, f"BUILTIN_{code}")
        operators.append(OperatorInfo(
            index=i,
            name=name,
            builtin_code=code,
            custom_code=custom if code == tflite.BuiltinOperator.CUSTOM else None,
            inputs=_vector(op.InputsLength(), op.Inputs),
            outputs=_vector(op.OutputsLength(), op.Outputs),
            options=_decode_options(op),
        ))

    signatures = {}
    for j in range(model.SignatureDefsLength()):
        sig = model.SignatureDefs(j)
        if sig.SubgraphIndex() != subgraph:
            continue
        signatures[sig.SignatureKey().decode("utf-8")] = {
            "inputs": {sig.Inputs(k).Name().decode("utf-8"): int(sig.Inputs(k).TensorIndex())
                       for k in range(sig.InputsLength())},
            "outputs": {sig.Outputs(k).Name().decode("utf-8"): int(sig.Outputs(k).TensorIndex())
                        for k in range(sig.OutputsLength())},
        }

    metadata_names = [entry_name for entry_name, _ in metadata_entries(model)]
    return FlatbufferModel(
        operators=operators,
        tensors=tensors,
        signatures=signatures,
        metadata_names=metadata_names,
        subgraph_inputs=_vector(graph.InputsLength(), graph.Inputs),
        subgraph_outputs=_vector(graph.OutputsLength(), graph.Outputs),
        size=len(data),
        _model=model,
    )

"""One TFLite model's signature resolved once, run by name, with its caches carried in place.

The signature runner of the Python interpreter builds dicts, checks and copies every input and
allocates every output on each call. A streaming model hands ten caches from one frame to the
next, so ``StreamingSession`` resolves each signature name to its tensor index at load and, per
frame, writes the frame into the input tensor, invokes, and copies each state output into the
matching state input inside the interpreter's own memory (one ``memcpy`` per cache, no Python
objects built, nothing allocated), requantizing when a cache leaves with other quantization
parameters than it comes in with (``docs/sidecar.md``).

Views from ``interpreter.tensor(i)()`` must not be held across ``invoke()`` (the interpreter
refuses to run while one exists), and building twenty views per frame costs more than the
copies themselves. So the session records each cache's buffer address once, checks after the
first call that the interpreter kept every buffer where it was (static tensors in its arena),
and from then on hands the caches over with one ``memmove`` each; if a buffer ever moved (a
dynamic tensor), it keeps taking fresh views instead. Requantized caches always go through
numpy. Do not resize or re-allocate the interpreter while a session uses it.

Example (needs a model file, so not run as a doctest)::
    interpreter, _ = load_interpreter("online_tsm.tflite", num_threads=2)
    session = StreamingSession(interpreter)
    session.set_frame(frame)          # [1, H, W, 3] in the input dtype
    logits = session.run()            # float32 [1, K]; caches carried to the next call
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tsm_tf.runtime.preprocess import dequantize, quantize, round_half_away

STATE_PREFIX = "state_"


@dataclass(frozen=True)
class TensorInfo:
    """A signature tensor: name, interpreter index, shape, dtype and quantization."""

    name: str
    index: int
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float
    zero_point: int

    @classmethod
    def from_details(cls, name: str, details: Mapping) -> TensorInfo:
        scale, zero_point = details.get("quantization", (0.0, 0))
        return cls(name, int(details["index"]), tuple(int(d) for d in details["shape"]),
                   np.dtype(details["dtype"]), float(scale), int(zero_point))

    @property
    def quantized(self) -> bool:
        return self.dtype.kind in "iu" and self.scale != 0.0

    @property
    def quantization(self) -> dict | None:
        """The sidecar form ``{"scale", "zero_point"}``, or None when not quantized."""
        return {"scale": self.scale, "zero_point": self.zero_point} if self.quantized else None

    def to_model(self, value: np.ndarray) -> np.ndarray:
        """float -> this tensor's dtype (quantized with its parameters when integer)."""
        if self.quantized:
            return quantize(value, self.scale, self.zero_point, self.dtype)
        return np.asarray(value, self.dtype)

    def to_float(self, value: np.ndarray) -> np.ndarray:
        """This tensor's dtype -> float32 (dequantized when integer)."""
        if self.quantized:
            return dequantize(value, self.scale, self.zero_point)
        return np.asarray(value, np.float32)

    def zeros(self) -> np.ndarray:
        """The tensor's zero: float 0, or the zero point when quantized."""
        return np.full(self.shape, self.zero_point if self.quantized else 0, self.dtype)


@dataclass(frozen=True)
class StatePair:
    """A cache: the output carried to the input of the same name on the next call."""

    input: TensorInfo
    output: TensorInfo

    @property
    def requantize(self) -> bool:
        return self.input.quantized and (self.input.scale, self.input.zero_point) != (
            self.output.scale, self.output.zero_point)


def requantize(q_out: np.ndarray, source: TensorInfo, target: TensorInfo,
               out: np.ndarray | None = None) -> np.ndarray:
    """``q_in = clip(round((q_out - z_out) * s_out / s_in) + z_in)``, in float32."""
    info = np.iinfo(target.dtype)
    ratio = np.float32(source.scale / target.scale)
    q = round_half_away((np.asarray(q_out, np.float32) - np.float32(source.zero_point)) * ratio)
    q = np.clip(q + np.float32(target.zero_point), info.min, info.max)
    if out is None:
        return q.astype(target.dtype)
    np.copyto(out, q, casting="unsafe")
    return out


class StreamingSession:
    """Run a TFLite signature by name; carry state outputs to state inputs in place.

    Args:
        interpreter: an allocated interpreter (``load_interpreter``).
        signature: the signature key (``serving_default`` from the converter).
        states: state ``(input name, output name)`` pairs, e.g. from the sidecar's ``states``;
            default: every input named ``state_*`` that is also an output.
    """

    def __init__(self, interpreter, signature: str = "serving_default",
                 states: Sequence[tuple[str, str]] | None = None):
        self.interpreter = interpreter
        signatures = interpreter.get_signature_list()
        if signature not in signatures:
            raise ValueError(f"The model has no signature {signature!r}; it has "
                             f"{sorted(signatures)}. Convert it with converters/to_tflite.py.")
        runner = interpreter.get_signature_runner(signature)
        # dicts in the signature's order (kept: callers list names in it)
        self.input_details = dict(runner.get_input_details())
        self.output_details = dict(runner.get_output_details())
        del runner  # a live runner holds the interpreter and would block invoke()'s check
        self.inputs = {n: TensorInfo.from_details(n, d) for n, d in self.input_details.items()}
        self.outputs = {n: TensorInfo.from_details(n, d) for n, d in self.output_details.items()}
        if states is None:
            states = [(n, n) for n in self.inputs if n.startswith(STATE_PREFIX)
                      and n in self.outputs]
        self.states = [self._pair(i, o) for i, o in states]
        state_inputs = {p.input.name for p in self.states}
        state_outputs = {p.output.name for p in self.states}
        frames = [n for n in self.inputs if n not in state_inputs]
        self.frame = self.inputs[frames[0]] if len(frames) == 1 else None
        others = [n for n in self.outputs if n not in state_outputs]
        name = "logits" if "logits" in others else (others[0] if len(others) == 1 else None)
        self.logits = self.outputs[name] if name else None
        # resolved once: (input view getter, output view getter, pair, requantize?) per cache
        self._carry = [(interpreter.tensor(p.input.index), interpreter.tensor(p.output.index), p,
                        p.requantize) for p in self.states]
        self._frame_view = interpreter.tensor(self.frame.index) if self.frame else None
        # (destination, source, bytes) of the caches copied by address; None until the first
        # call has shown the buffers stay put. The other caches go through views (_slow).
        self._copies: list[tuple[int, int, int]] | None = None
        self._slow = self._carry
        self._addresses = self._cache_addresses()
        self.reset_states()

    @classmethod
    def open(cls, model, *, num_threads: int | None = None, delegate=None,
             backend: str | None = None, signature: str = "serving_default",
             states: Sequence[tuple[str, str]] | None = None) -> StreamingSession:
        """Load ``model`` (path or bytes) with ``load_interpreter`` and wrap it."""
        from tsm_tf.runtime.backend import load_interpreter

        interpreter, _ = load_interpreter(model, num_threads=num_threads, delegate=delegate,
                                          backend=backend)
        return cls(interpreter, signature, states)

    @property
    def frames_per_step(self) -> int:
        """Frames per call: 1 for an ``[N, H, W, 3]`` input, F for ``[N, F, H, W, 3]``."""
        return self.frame.shape[1] if self.frame and len(self.frame.shape) == 5 else 1

    def _pair(self, input_name: str, output_name: str) -> StatePair:
        if input_name not in self.inputs or output_name not in self.outputs:
            raise ValueError(
                f"State {input_name!r} -> {output_name!r} is not in the model's signature "
                f"(inputs {sorted(self.inputs)}, outputs {sorted(self.outputs)}): the sidecar "
                "does not belong to this model; convert it again.")
        pair = StatePair(self.inputs[input_name], self.outputs[output_name])
        if pair.input.shape != pair.output.shape or pair.input.dtype != pair.output.dtype:
            raise ValueError(
                f"State {input_name!r} comes in as {pair.input.dtype.name}{list(pair.input.shape)}"
                f" but leaves as {pair.output.dtype.name}{list(pair.output.shape)}: it cannot be "
                "carried to the next call.")
        return pair

    # -- per call ---------------------------------------------------------------------------
    def frame_buffer(self) -> np.ndarray:
        """A view of the frame input tensor to write into (do not keep it across ``run``)."""
        if self._frame_view is None:
            raise ValueError(f"The model has several non-state inputs {sorted(self.inputs)}; "
                             "use set_input(name, value).")
        return self._frame_view()

    def set_frame(self, value: np.ndarray) -> None:
        """Copy a model-ready frame (the input's shape and dtype) into the input tensor."""
        view = self.frame_buffer()
        value = np.asarray(value)
        if value.shape != view.shape or value.dtype != view.dtype:
            raise ValueError(
                f"Input {self.frame.name!r} takes {view.dtype.name}{list(view.shape)}; received "
                f"{value.dtype.name}{list(value.shape)}.")
        np.copyto(view, value)

    def set_input(self, name: str, value: np.ndarray) -> None:
        """Copy ``value`` (the input's dtype and shape) into input ``name``."""
        info = self.inputs[name]
        value = np.asarray(value)
        if tuple(value.shape) != info.shape:
            raise ValueError(f"Input {name!r} has shape {value.shape}, the model expects "
                             f"{info.shape}.")
        self.interpreter.set_tensor(info.index, np.ascontiguousarray(value, info.dtype))

    def get_output(self, name: str) -> np.ndarray:
        """A copy of output ``name`` in its own dtype."""
        return self.interpreter.get_tensor(self.outputs[name].index)

    def invoke(self) -> None:
        """Run the model once on the inputs as they are (no state carrying)."""
        self.interpreter.invoke()

    def _cache_addresses(self) -> list[tuple[int, int, int]]:
        """(input address, output address, bytes) of every cache, from fresh views."""
        addresses = []
        for get_in, get_out, _, _ in self._carry:
            into, out = get_in(), get_out()
            addresses.append((into.ctypes.data, out.ctypes.data, into.nbytes))
            del into, out  # no view may outlive this call
        return addresses

    def carry_states(self) -> None:
        """Copy every state output into its input, in place (requantized where needed)."""
        if self._copies is None:  # first call: did every buffer stay where it was?
            stable = self._cache_addresses() == self._addresses
            self._copies = [a for a, c in zip(self._addresses, self._carry, strict=True)
                            if not c[3]] if stable else []
            self._slow = [c for c in self._carry if c[3] or not stable]
        for destination, source, size in self._copies:
            ctypes.memmove(destination, source, size)
        for get_in, get_out, pair, needs_requantize in self._slow:
            if needs_requantize:
                requantize(get_out(), pair.output, pair.input, out=get_in())
            else:
                np.copyto(get_in(), get_out())

    def run(self) -> np.ndarray:
        """Invoke, carry the caches to the next call, return float32 logits (a copy)."""
        self.interpreter.invoke()
        self.carry_states()
        raw = self.interpreter.get_tensor(self.logits.index)
        return self.logits.to_float(raw)

    def run_clip(self, clip: np.ndarray) -> np.ndarray:
        """Per-frame float32 logits ``[T, K]`` of a whole clip of model-ready float frames
        ``[T, H, W, 3]`` (normalised, quantized here if the input is integer), from zero
        caches, ``frames_per_step`` frames per call."""
        step = self.frames_per_step
        if len(clip) % step:
            raise ValueError(f"The clip has {len(clip)} frames, not a multiple of the "
                             f"model's {step} frames per step.")
        self.reset_states()
        logits = []
        for start in range(0, len(clip), step):
            frames = np.asarray(clip[start:start + step], np.float32)
            self.set_frame(self.frame.to_model(frames.reshape(self.frame.shape)))
            logits.append(self.run().reshape(step, -1))  # [1, K] or [1, F, K] -> [F, K]
        return np.concatenate(logits)

    def reset_states(self) -> None:
        """Zero caches: the state before the first frame of a video."""
        for get_in, _, pair, _ in self._carry:
            get_in()[...] = pair.input.zero_point if pair.input.quantized else 0

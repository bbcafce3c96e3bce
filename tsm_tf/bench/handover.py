"""Ways to run a streaming TFLite model frame after frame on LiteRT, carrying its caches.

``session`` is the runtime's ``tsm_tf.runtime.StreamingSession``, what the ``Recognizer``
runs (in-place copies like ``views``); the others are the alternatives measured beside it.

Each form runs the same model (``image`` plus ``state_*`` caches in, ``logits`` plus new
caches out; a stateful or 2D model simply has no caches) and differs only in how the caches
travel from frame t's outputs to frame t+1's inputs:

* ``signature``: the signature runner, dicts of arrays in and out (copies through Python);
* ``set_tensor``: tensor indices resolved by signature name once, ``get_tensor`` then
  ``set_tensor`` per cache (two copies each, no dicts);
* ``views``: ``interpreter.tensor(i)`` views, one in-place copy per cache from the output
  tensor into the input tensor, no allocation;
* ``compiled``: ``ai_edge_litert.compiled_model`` with ``TensorBuffer``s, where the state
  output buffers of frame t become the state input buffers of frame t+1 (ping-pong, no copy).

``step(frame)`` is what an application pays per frame (write the frame, hand over the caches,
run, read the logits); ``invoke()`` is the model call alone. All forms give the same logits.
"""

from __future__ import annotations

import os

import numpy as np
from ai_edge_litert.interpreter import Interpreter

SIGNATURE = "serving_default"
FORMS = ("session", "signature", "set_tensor", "views", "compiled")


def _model_bytes(model: bytes | str | os.PathLike) -> bytes:
    if isinstance(model, bytes | bytearray):
        return bytes(model)
    with open(model, "rb") as f:
        return f.read()


def _interpreter(model, num_threads: int | None = None, delegates: list | None = None):
    """An allocated ``ai_edge_litert`` Interpreter: the forms measure LiteRT's own API, so
    they take no fallback runtime (``tsm_tf.runtime.backend`` does that for applications)."""
    interpreter = Interpreter(model_content=_model_bytes(model), num_threads=num_threads,
                              experimental_delegates=delegates)
    interpreter.allocate_tensors()
    return interpreter


def _state_names(inputs: dict, outputs: dict) -> list[str]:
    """Inputs that come back as outputs of the same name: the caches, sorted for a fixed order."""
    return sorted(name for name in inputs if name in outputs)


def _frame_name(inputs: dict, states: list[str]) -> str:
    rest = [name for name in inputs if name not in states]
    if len(rest) != 1:
        raise ValueError(
            f"Expected one frame input besides the caches, the model has {sorted(rest)}."
        )
    return rest[0]


def _check_same_quantization(states, input_details, output_details) -> None:
    for name in states:
        if input_details[name]["quantization"] != output_details[name]["quantization"]:
            raise ValueError(
                f"Cache {name!r} leaves the model with quantization "
                f"{output_details[name]['quantization']} and enters with "
                f"{input_details[name]['quantization']}: these forms copy raw values and would "
                "need a requantization (use the tsm_tf runtime)."
            )


class _InterpreterForm:
    """Shared set-up of the three ``Interpreter`` forms."""

    def __init__(self, model, num_threads: int | None = None, delegates: list | None = None):
        self.interpreter = _interpreter(model, num_threads, delegates)
        runner = self.interpreter.get_signature_runner(SIGNATURE)
        self.input_details = runner.get_input_details()
        self.output_details = runner.get_output_details()
        del runner  # a live runner holds the interpreter, which then refuses invoke()
        self.states = _state_names(self.input_details, self.output_details)
        self.frame_name = _frame_name(self.input_details, self.states)
        self.logits_name = next(n for n in self.output_details if n not in self.states)
        _check_same_quantization(self.states, self.input_details, self.output_details)
        frame = self.input_details[self.frame_name]
        self.frame_shape = tuple(int(d) for d in frame["shape"])
        self.frame_dtype = np.dtype(frame["dtype"])
        self._in = {n: d["index"] for n, d in self.input_details.items()}
        self._out = {n: d["index"] for n, d in self.output_details.items()}
        self.reset()

    def zero_state(self, name: str) -> np.ndarray:
        details = self.input_details[name]
        zero_point = details["quantization"][1] if details["dtype"] != np.float32 else 0
        return np.full(details["shape"], zero_point, details["dtype"])

    def reset(self) -> None:
        """Zero caches: the state before the first frame of a video."""
        for name in self.states:
            self.interpreter.set_tensor(self._in[name], self.zero_state(name))
        if hasattr(self.interpreter, "reset_all_variables"):
            self.interpreter.reset_all_variables()  # stateful models: zero the resource variables

    def invoke(self) -> None:
        """The model call alone (inputs as they are)."""
        self.interpreter.invoke()


class SignatureForm(_InterpreterForm):
    """The signature runner with dicts of arrays (the form measured at +13 % / +8.5 %).

    Each call resizes every input, re-plans allocation, copies each array in and each output
    out into a new dict.
    """

    def __init__(self, model, num_threads: int | None = None, delegates: list | None = None):
        super().__init__(model, num_threads, delegates)
        self.runner = self.interpreter.get_signature_runner(SIGNATURE)

    def invoke(self) -> None:
        self.interpreter._interpreter.Invoke()  # the runner holds the interpreter: call below it

    def reset(self) -> None:
        self._carry = {name: self.zero_state(name) for name in self.states}

    def step(self, frame: np.ndarray) -> np.ndarray:
        outputs = self.runner(**{self.frame_name: frame}, **self._carry)
        self._carry = {name: outputs[name] for name in self.states}
        return outputs[self.logits_name]


class SetTensorForm(_InterpreterForm):
    """Indices resolved once; ``get_tensor`` + ``set_tensor`` per cache."""

    def step(self, frame: np.ndarray) -> np.ndarray:
        interpreter, inputs, outputs = self.interpreter, self._in, self._out
        interpreter.set_tensor(inputs[self.frame_name], frame)
        interpreter.invoke()
        for name in self.states:
            interpreter.set_tensor(inputs[name], interpreter.get_tensor(outputs[name]))
        return interpreter.get_tensor(outputs[self.logits_name])


class ViewsForm(_InterpreterForm):
    """``interpreter.tensor(i)`` views: one in-place copy per cache, nothing allocated.

    Views must not outlive a call (LiteRT refuses to invoke while numpy holds its buffers), so
    each is taken and dropped inside ``step``.
    """

    def __init__(self, model, num_threads: int | None = None, delegates: list | None = None):
        super().__init__(model, num_threads, delegates)
        tensor = self.interpreter.tensor
        self._frame_view = tensor(self._in[self.frame_name])
        self._logits_view = tensor(self._out[self.logits_name])
        self._pairs = [(tensor(self._in[n]), tensor(self._out[n])) for n in self.states]

    def step(self, frame: np.ndarray) -> np.ndarray:
        self._frame_view()[...] = frame
        self.interpreter.invoke()
        for destination, source in self._pairs:
            destination()[...] = source()
        return self._logits_view().copy()


class CompiledForm:
    """``CompiledModel`` + ``TensorBuffer``s; state buffers swap roles every frame (no copy)."""

    def __init__(self, model, num_threads: int | None = None, delegates: list | None = None):
        if delegates:
            raise ValueError("The CompiledModel form takes no TFLite delegates (use 'views').")
        from ai_edge_litert.compiled_model import CompiledModel
        from ai_edge_litert.hardware_accelerator import HardwareAccelerator
        from ai_edge_litert.options import CpuOptions, Options

        options = Options(hardware_accelerators=HardwareAccelerator.CPU,
                          cpu_options=CpuOptions(num_threads=num_threads or 1))
        self.model = CompiledModel.from_buffer(_model_bytes(model), options=options)
        inputs = self.model.get_input_tensor_details(SIGNATURE)
        outputs = self.model.get_output_tensor_details(SIGNATURE)
        self.states = _state_names(inputs, outputs)
        self.frame_name = _frame_name(inputs, self.states)
        self.logits_name = next(n for n in outputs if n not in self.states)
        self.frame_shape = tuple(int(d) for d in inputs[self.frame_name]["shape"])
        self.frame_dtype = np.dtype(inputs[self.frame_name]["dtype"])
        logits = outputs[self.logits_name]
        self._logits_size = int(np.prod(logits["shape"]))
        self._logits_dtype = np.dtype(logits["dtype"])
        self._inputs = {n: self.model.create_input_buffer_by_name(SIGNATURE, n) for n in inputs}
        self._outputs = {n: self.model.create_output_buffer_by_name(SIGNATURE, n)
                         for n in outputs}
        # CompiledModel reports no quantization: it comes from the flatbuffer's tensors
        quantized = Interpreter(model_content=_model_bytes(model)).get_signature_runner(SIGNATURE)
        quantized_inputs = quantized.get_input_details()
        _check_same_quantization(self.states, quantized_inputs, quantized.get_output_details())
        zero_points = {n: d["quantization"][1] for n, d in quantized_inputs.items()}
        self._zeros = {n: np.full(inputs[n]["shape"], zero_points[n], np.dtype(inputs[n]["dtype"]))
                       for n in self.states}
        self.reset()

    def reset(self) -> None:
        for name in self.states:
            self._inputs[name].write(self._zeros[name])

    def invoke(self) -> None:
        self.model.run_by_name(SIGNATURE, self._inputs, self._outputs)

    def step(self, frame: np.ndarray) -> np.ndarray:
        inputs, outputs = self._inputs, self._outputs
        inputs[self.frame_name].write(frame)
        self.model.run_by_name(SIGNATURE, inputs, outputs)
        for name in self.states:  # ping-pong: this frame's outputs are the next frame's inputs
            inputs[name], outputs[name] = outputs[name], inputs[name]
        return outputs[self.logits_name].read(self._logits_size, self._logits_dtype)


class SessionForm:
    """The runtime's ``StreamingSession``: frame written into the input tensor, invoke, caches
    copied in place (requantized when needed), float32 logits: what the ``Recognizer`` pays."""

    def __init__(self, model, num_threads: int | None = None, delegates: list | None = None):
        from tsm_tf.runtime.session import StreamingSession

        interpreter = _interpreter(model, num_threads, delegates)
        runner = interpreter.get_signature_runner(SIGNATURE)
        caches = _state_names(runner.get_input_details(), runner.get_output_details())
        del runner  # a live runner holds the interpreter, which then refuses invoke()
        self.session = StreamingSession(interpreter, SIGNATURE, [(n, n) for n in caches])
        self.states = sorted(pair.input.name for pair in self.session.states)
        self.frame_name = self.session.frame.name
        self.frame_shape = self.session.frame.shape
        self.frame_dtype = self.session.frame.dtype
        self.logits_name = self.session.logits.name

    def reset(self) -> None:
        self.session.reset_states()

    def invoke(self) -> None:
        self.session.invoke()

    def step(self, frame: np.ndarray) -> np.ndarray:
        self.session.set_frame(frame)
        return self.session.run()


def open_form(form: str, model: bytes | str | os.PathLike, num_threads: int | None = None,
              delegates: list | None = None):
    """A runner of ``model`` using hand-over ``form`` (one of ``FORMS``)."""
    classes = {"session": SessionForm, "signature": SignatureForm, "set_tensor": SetTensorForm,
               "views": ViewsForm, "compiled": CompiledForm}
    if form not in classes:
        raise ValueError(f"Unknown hand-over form {form!r}; choose one of {FORMS}.")
    return classes[form](model, num_threads, delegates)

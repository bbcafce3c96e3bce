"""Streaming runtime on LiteRT: exact cache carrying, recognizer, stride, backends, bad input.

Tiny online TSMs (resnet_tiny, 32 px, 8 frames) converted to float32, int8 and 2-frames-per-step
TFLite; sidecars written by hand from docs/sidecar.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_streaming import FRAMES, offline_frame_logits, trained_like, video

from tsm_tf.runtime import backend as backend_lib
from tsm_tf.runtime.preprocess import preprocess_frame, preprocess_spec_for
from tsm_tf.runtime.recognizer import Recognizer
from tsm_tf.runtime.session import StatePair, StreamingSession, TensorInfo, requantize

LABELS = ["a", "b", "c", "d", "e"]


def write_model(folder: Path, name: str, flatbuffer: bytes, *, mode: str = "streaming",
                shift: str = "unidirectional", stride: float = 2.0,
                stride_seconds: float | None = None, labels: list[str] = LABELS,
                input_size: int = 32, num_segments: int = FRAMES) -> Path:
    """``name.tflite`` + ``name.json`` (the sidecar contract, filled from the interpreter)."""
    path = folder / f"{name}.tflite"
    path.write_bytes(flatbuffer)
    session = StreamingSession.open(path)
    frame = session.frame
    sidecar = {
        "format": "tsm_tf.sidecar", "version": 1,
        "model": {"name": name, "mode": mode, "arch": "resnet_tiny", "shift": shift,
                  "num_classes": len(labels), "num_segments": num_segments,
                  "frames_per_step": session.frames_per_step},
        "labels": list(labels),
        "input": {"name": frame.name, "shape": list(frame.shape), "dtype": frame.dtype.name,
                  "quantization": frame.quantization, "color": "RGB",
                  "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
        "preprocess": preprocess_spec_for(input_size),
        "output": {"name": "logits", "shape": list(session.logits.shape),
                   "dtype": session.logits.dtype.name,
                   "quantization": session.logits.quantization},
        "states": [{"input": p.input.name, "output": p.output.name,
                    "shape": list(p.input.shape), "dtype": p.input.dtype.name,
                    "input_quantization": p.input.quantization,
                    "output_quantization": p.output.quantization,
                    "requantize": p.requantize} for p in session.states],
        "temporal": {"sampling": "tsn", "train_frame_stride": stride, "dataset_fps": None,
                     "train_stride_seconds": stride_seconds},
    }
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from tsm_tf.export import convert_to_tflite
    from tsm_tf.export.calibrate import calibration_frames
    from tsm_tf.models import StreamingTSM

    folder = tmp_path_factory.mktemp("runtime_models")
    online = trained_like("resnet_tiny", shift="unidirectional", seed=4)
    streaming = StreamingTSM.from_model(online)
    clips = np.concatenate([video(seed=100 + i) for i in range(4)])
    int8 = convert_to_tflite(streaming, quantization="int8",
                             representative_data=calibration_frames(streaming, clips))
    two = StreamingTSM.from_model(online, frames_per_step=2)
    return {
        "keras": online,
        "float32": write_model(folder, "float32", convert_to_tflite(streaming)),
        "int8": write_model(folder, "int8", int8),
        "two": write_model(folder, "two", convert_to_tflite(two)),
        "folder": folder,
    }


def uint8_clip(seed: int = 0, h: int = 40, w: int = 52, frames: int = FRAMES) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (frames, h, w, 3), dtype=np.uint8)


def keras_logits_of_frames(model, frames_bgr) -> np.ndarray:
    """The offline Keras model's per-frame logits on the protocol's float frames."""
    spec = {"dtype": "float32", "quantization": None}
    clip = np.stack([preprocess_frame(f, spec, preprocess_spec_for(32)) for f in frames_bgr])
    return offline_frame_logits(model, clip[None])


@pytest.mark.slow
def test_litert_streaming_equals_keras_offline_per_frame(models):
    clip = video(seed=7)
    expected = offline_frame_logits(models["keras"], clip)  # [T, K]
    session = StreamingSession.open(models["float32"], num_threads=2)
    np.testing.assert_allclose(session.run_clip(clip[0]), expected, atol=1e-4)
    # twice in a row: reset_states() really starts from zero caches
    np.testing.assert_allclose(session.run_clip(clip[0]), expected, atol=1e-4)
    two = StreamingSession.open(models["two"])
    assert two.frames_per_step == 2
    np.testing.assert_allclose(two.run_clip(clip[0]), expected, atol=1e-4)


@pytest.mark.slow
def test_recognizer_on_uint8_frames_equals_keras_offline(models):
    frames = uint8_clip(seed=1)
    expected = keras_logits_of_frames(models["keras"], frames)
    recognizer = Recognizer.from_file(models["float32"], num_threads=2, smoothing="none")
    results = [recognizer(f) for f in frames]
    got = np.stack([r.logits for r in results])
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert [r.frame_index for r in results] == list(range(FRAMES))
    last = results[-1]
    assert last.label == LABELS[int(np.argmax(expected[-1]))] == last.smoothed_label
    np.testing.assert_allclose(last.probabilities.sum(), 1.0, rtol=1e-5)
    # reset: the same clip again gives the same logits
    recognizer.reset()
    np.testing.assert_allclose(np.stack([recognizer(f).logits for f in frames]), got, atol=1e-6)


@pytest.mark.slow
def test_rgb_frames_give_what_the_same_bgr_frames_give(models):
    frames = uint8_clip(seed=8)
    bgr = Recognizer.from_file(models["int8"], smoothing="none")
    rgb = Recognizer.from_file(models["int8"], smoothing="none", color="rgb")
    a = np.stack([bgr(f).logits for f in frames])
    b = np.stack([rgb(np.ascontiguousarray(f[..., ::-1])).logits for f in frames])
    np.testing.assert_array_equal(a, b)
    rgb.reset()  # the same frames read with the wrong channel order give other logits
    assert not np.array_equal(a, np.stack([rgb(f).logits for f in frames]))


@pytest.mark.slow
def test_two_frames_per_step_collects_then_runs(models):
    frames = uint8_clip(seed=2)
    expected = keras_logits_of_frames(models["keras"], frames)
    recognizer = Recognizer.from_file(models["two"], smoothing="mean:2")
    results = [recognizer(f) for f in frames]
    assert [r is None for r in results] == [True, False] * (FRAMES // 2)
    got = np.stack([r.logits for r in results if r is not None])
    np.testing.assert_allclose(got, expected[1::2], atol=1e-4)
    # the smoother saw both frames of each step: mean of the step's two logit vectors
    assert results[-1].smoothed_index == int(np.argmax(expected[-2:].mean(axis=0)))


@pytest.mark.slow
def test_int8_cache_carrying_equals_the_signature_runner(models):
    """Carrying int8 caches in place gives exactly what feeding them by name gives."""
    from tsm_tf.export import LiteRTModel

    frames = uint8_clip(seed=3)
    recognizer = Recognizer.from_file(models["int8"], smoothing="none")
    ours = np.stack([recognizer(f).logits for f in frames])

    runner = LiteRTModel(models["int8"])  # float in/out by name, caches passed by the caller
    states = {p.input.name: p.input.to_float(p.input.zeros())
              for p in recognizer.session.states}
    assert len(states) == 4  # resnet_tiny: one cache per stage
    spec = {"dtype": "float32", "quantization": None}
    reference = []
    for frame in frames:
        image = preprocess_frame(frame, spec, preprocess_spec_for(32))[None]
        out = runner({"image": image, **states})
        states = {name: out[name] for name in states}
        reference.append(out["logits"][0])
    np.testing.assert_array_equal(ours, np.stack(reference))
    # and int8 stays close to the float model (a sanity bound, not exactness)
    expected = keras_logits_of_frames(models["keras"], frames)
    spread = expected.max() - expected.min()
    assert np.abs(ours - expected).max() < 0.2 * spread


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float32", "int8"])
def test_caches_handed_over_by_address_equal_fresh_views(models, precision):
    """The session's memmove hand-over (buffer addresses checked after the first call) gives
    bit for bit what copying through fresh numpy views gives, and a buffer that moved sends
    the session back to views."""
    clip = [np.random.default_rng(11).integers(-128, 127, (1, 32, 32, 3)).astype(np.int8)
            for _ in range(FRAMES)]
    fast = StreamingSession.open(models[precision])
    views = StreamingSession.open(models[precision])
    views._addresses = [(0, 0, 0)] * len(views.states)  # as if every buffer had moved
    logits = {}
    for name, session in (("fast", fast), ("views", views)):
        rows = []
        for frame in clip:
            frame = frame if session.frame.dtype == np.int8 else frame.astype(np.float32) / 64
            session.set_frame(frame)
            rows.append(session.run())
        logits[name] = np.concatenate(rows)
    assert len(fast._copies) == len(fast.states) == 4 and not fast._slow
    assert views._copies == [] and len(views._slow) == 4
    np.testing.assert_array_equal(logits["fast"], logits["views"])
    # the caches really were carried: frame 2 onwards differ from a model reset every frame
    reset = StreamingSession.open(models[precision])
    first = []
    for frame in clip:
        frame = frame if reset.frame.dtype == np.int8 else frame.astype(np.float32) / 64
        reset.reset_states()
        reset.set_frame(frame)
        first.append(reset.run())
    assert not np.array_equal(np.concatenate(first)[1:], logits["fast"][1:])


def test_requantize_by_hand():
    source = TensorInfo("s", 0, (3,), np.dtype(np.int8), 0.1, 2)
    target = TensorInfo("s", 1, (3,), np.dtype(np.int8), 0.05, -1)
    # (q - 2) * 0.1 / 0.05 - 1: 10 -> 15; -128 -> -261 -> clip -128; 127 -> 249 -> clip 127;
    # 3 -> 1 (exact), -1 -> -7
    q = np.array([10, -128, 127], np.int8)
    np.testing.assert_array_equal(requantize(q, source, target), [15, -128, 127])
    out = np.zeros(2, np.int8)
    requantize(np.array([3, -1], np.int8), source, target, out=out)
    np.testing.assert_array_equal(out, [1, -7])
    assert StatePair(target, source).requantize and not StatePair(source, source).requantize


class _CacheModel:
    """A stand-in interpreter (the calls StreamingSession makes) for a model no converter here
    writes: its int8 cache leaves with other quantization than it comes in with. One call:
    state_out = clip(state_in + frame) (int8 arithmetic), logits = frame; a second cache
    keeps its quantization."""

    def __init__(self):
        self.buffers = [np.zeros((1, 4), np.int8) for _ in range(6)]
        #             name     index  quantization (scale, zero point)
        self.details = {"in": {"image": (0, (1.0, 0)), "state_a": (1, (0.04, -1)),
                               "state_b": (2, (0.1, 3))},
                        "out": {"logits": (3, (1.0, 0)), "state_a": (4, (0.1, 2)),
                                "state_b": (5, (0.1, 3))}}

    def get_signature_list(self):
        return {"serving_default": {}}

    def get_signature_runner(self, _):
        def details(kind):
            return lambda: {n: {"index": i, "shape": [1, 4], "dtype": np.int8,
                                "quantization": q} for n, (i, q) in self.details[kind].items()}

        return type("Runner", (), {"get_input_details": staticmethod(details("in")),
                                   "get_output_details": staticmethod(details("out"))})()

    def tensor(self, index):
        return lambda: self.buffers[index]

    def get_tensor(self, index):
        return self.buffers[index].copy()

    def invoke(self):
        image, a_in, b_in = (self.buffers[i].astype(np.int32) for i in (0, 1, 2))
        self.buffers[3][...] = image
        self.buffers[4][...] = np.clip(a_in + image, -128, 127)
        self.buffers[5][...] = np.clip(b_in + image, -128, 127)


def test_a_cache_with_other_output_quantization_is_requantized_when_carried():
    session = StreamingSession(_CacheModel())
    plans = {p.input.name: p.requantize for p in session.states}
    assert plans == {"state_a": True, "state_b": False}
    frames = np.array([[10, -128, 127, 3], [-5, 60, 1, 0], [7, 7, -7, 100]], np.int8)
    a, b = np.full(4, -1, np.int64), np.full(4, 3, np.int64)  # reset: the inputs' zero points
    for frame in frames:
        session.set_frame(frame[None])
        session.run()
        out_a = np.clip(a + frame, -128, 127)  # the model's output codes
        # dequantized with the output's (0.1, 2), requantized with the input's (0.04, -1):
        # codes = (q - 2) * 0.1 / 0.04 = (q - 2) * 5 / 2, exact halves rounded away from zero
        codes = (out_a - 2) * 5 / 2
        a = np.clip(np.sign(codes) * np.floor(np.abs(codes) + 0.5) - 1, -128, 127)
        b = np.clip(b + frame, -128, 127)  # same quantization: carried as is
        np.testing.assert_array_equal(session.interpreter.buffers[1][0], a)
        np.testing.assert_array_equal(session.interpreter.buffers[2][0], b)


@pytest.mark.slow
def test_stride_and_stream(models, tmp_path):
    flatbuffer = Path(models["float32"]).read_bytes()
    path = write_model(tmp_path, "strided", flatbuffer, stride=2.0, stride_seconds=0.1)
    recognizer = Recognizer.from_file(path, smoothing="none")
    assert recognizer.stride == 2  # train_frame_stride
    assert recognizer.stride_for_fps(30) == 3  # 0.1 s at 30 fps
    assert recognizer.stride_for_fps(5) == 1
    frames = uint8_clip(seed=4, frames=2 * FRAMES)
    results = list(recognizer.stream(frames))  # stride 2: frames 0, 2, 4, ...
    assert len(results) == FRAMES
    expected = keras_logits_of_frames(models["keras"], frames[::2])
    np.testing.assert_allclose(np.stack([r.logits for r in results]), expected, atol=1e-4)
    assert len(list(recognizer.stream(frames, stride=1))) == 2 * FRAMES


@pytest.mark.slow
def test_bad_inputs_are_refused_clearly(models, tmp_path):
    flatbuffer = Path(models["float32"]).read_bytes()
    with pytest.raises(FileNotFoundError, match="missing.tflite"):
        Recognizer.from_file(tmp_path / "missing.tflite")
    offline = write_model(tmp_path, "offline", flatbuffer, mode="offline", shift="bidirectional")
    with pytest.raises(ValueError, match="offline model.*bi-directional shift"):
        Recognizer.from_file(offline)
    # a sidecar that claims int8 input for a float model belongs to another model
    wrong = write_model(tmp_path, "wrong", flatbuffer)
    sidecar = json.loads(wrong.with_suffix(".json").read_text())
    sidecar["input"]["dtype"] = "int8"
    sidecar["input"]["quantization"] = {"scale": 0.02, "zero_point": 0}
    wrong.with_suffix(".json").write_text(json.dumps(sidecar))
    with pytest.raises(ValueError, match="belongs to another model"):
        Recognizer.from_file(wrong)
    # a sidecar without a section the recognizer reads: named, not a KeyError
    from tsm_tf.sidecar import SidecarError

    for section in ("preprocess", "input"):
        damaged = write_model(tmp_path, f"no_{section}", flatbuffer)
        sidecar = json.loads(damaged.with_suffix(".json").read_text())
        del sidecar[section]
        damaged.with_suffix(".json").write_text(json.dumps(sidecar))
        with pytest.raises(SidecarError, match=f"no '{section}' section"):
            Recognizer.from_file(damaged)
    recognizer = Recognizer.from_file(models["float32"])
    recognizer(uint8_clip()[0])
    with pytest.raises(ValueError, match="changed from 52x40 to 40x40"):
        recognizer(np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(ValueError, match="grayscale"):
        recognizer(np.zeros((40, 52), np.uint8))
    recognizer(uint8_clip()[1])  # a refused frame leaves the recognizer usable


@pytest.mark.slow
def test_backend_fallback_and_missing_runtime(models, monkeypatch):
    assert backend_lib.available_backends()[0] == "ai_edge_litert"
    frames = uint8_clip(seed=5)
    expected = np.stack([r.logits for r in Recognizer.from_file(models["float32"],
                                                                smoothing="none").stream(
        frames, stride=1)])
    real = backend_lib._module
    monkeypatch.setattr(backend_lib, "_module",
                        lambda name: None if name == "ai_edge_litert" else real(name))
    recognizer = Recognizer.from_file(models["float32"], smoothing="none")
    assert backend_lib.resolve_backend()[0] == "tf.lite"  # tflite_runtime is not installed here
    got = np.stack([r.logits for r in recognizer.stream(frames, stride=1)])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    monkeypatch.setattr(backend_lib, "_module", lambda name: None)
    with pytest.raises(backend_lib.RuntimeBackendError, match="pip install ai-edge-litert"):
        Recognizer.from_file(models["float32"])


# LiteRT's Delegate.__del__ fails on a delegate that never loaded (its bug, not ours)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_edgetpu_delegate_missing_says_what_to_install():
    with pytest.raises(backend_lib.RuntimeBackendError, match="Edge TPU runtime"):
        backend_lib.load_interpreter(b"not a model", delegate="edgetpu")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_tf_lite_fallback_loads_delegates_from_experimental():
    """TensorFlow keeps load_delegate under tf.lite.experimental: the fallback finds it (and
    says what to install when the Edge TPU library is absent, as with LiteRT)."""
    name, module = backend_lib.resolve_backend("tf.lite")
    assert name == "tf.lite" and not hasattr(module, "load_delegate")
    with pytest.raises(backend_lib.RuntimeBackendError, match="Edge TPU runtime"):
        backend_lib.load_interpreter(b"not a model", delegate="edgetpu", backend="tf.lite")
    with pytest.raises(backend_lib.RuntimeBackendError, match="Edge TPU runtime"):
        backend_lib.load_delegate(module, "/opt/coral/libedgetpu.so.1")  # by path, too


def test_a_model_the_runtime_cannot_prepare_is_one_clear_error(models, monkeypatch):
    """An Edge TPU-compiled model without the delegate fails in allocate_tensors; the error
    says to use the delegate instead of LiteRT's multi-line trace."""
    _, module = backend_lib.resolve_backend()

    class Unprepared(module.Interpreter):
        def allocate_tensors(self):
            raise RuntimeError("Encountered unresolved custom op: edgetpu-custom-op.\n"
                               "Node number 0 (edgetpu-custom-op) failed to prepare.")

    monkeypatch.setattr(module, "Interpreter", Unprepared)
    with pytest.raises(backend_lib.RuntimeBackendError, match="--delegate edgetpu") as info:
        Recognizer.from_file(models["float32"])
    assert "\n" not in str(info.value)


def test_runtime_imports_without_tensorflow():
    """A runtime-only install: every runtime module imports with TensorFlow and Keras blocked."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import tsm_tf.runtime.recognizer, tsm_tf.runtime.demo, tsm_tf.runtime.backend\n"
        "import tsm_tf.sidecar, tsm_tf.data.transforms\n"
        "print(tsm_tf.runtime.backend.available_backends())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False, cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['ai_edge_litert']"


@pytest.fixture(scope="module")
def variants(models):
    """float16, dynamic-range, and int8 with uint8 / float32 boundaries, from the same model."""
    from tsm_tf.export import convert_to_tflite
    from tsm_tf.export.calibrate import calibration_frames
    from tsm_tf.models import StreamingTSM

    streaming = StreamingTSM.from_model(models["keras"])
    clips = np.concatenate([video(seed=100 + i) for i in range(4)])
    calibration = calibration_frames(streaming, clips)
    built = {
        "float16": convert_to_tflite(streaming, quantization="float16"),
        "dynamic": convert_to_tflite(streaming, quantization="dynamic"),
        "int8_uint8_io": convert_to_tflite(streaming, quantization="int8",
                                           representative_data=calibration, io="uint8"),
        "int8_float_io": convert_to_tflite(streaming, quantization="int8",
                                           representative_data=calibration, io="float32"),
    }
    return {name: write_model(models["folder"], name, fb) for name, fb in built.items()}


@pytest.mark.slow
@pytest.mark.parametrize("name, input_dtype, tolerance", [
    ("float16", "float32", 0.01), ("dynamic", "float32", 0.1),
    ("int8_uint8_io", "uint8", 0.2), ("int8_float_io", "float32", 0.2)])
def test_every_precision_and_boundary_type_streams(models, variants, name, input_dtype,
                                                   tolerance):
    from tsm_tf.export import LiteRTModel

    frames = uint8_clip(seed=6)
    recognizer = Recognizer.from_file(variants[name], smoothing="none")
    assert recognizer.session.frame.dtype == np.dtype(input_dtype)
    ours = np.stack([recognizer(f).logits for f in frames])
    # the same model fed by name through the signature runner, caches passed by hand
    runner = LiteRTModel(variants[name])
    states = {p.input.name: p.input.to_float(p.input.zeros()) for p in recognizer.session.states}
    spec = {"dtype": "float32", "quantization": None}
    reference = []
    for frame in frames:
        image = preprocess_frame(frame, spec, preprocess_spec_for(32))[None]
        out = runner({"image": image, **states})
        states = {n: out[n] for n in states}
        reference.append(out["logits"][0])
    if input_dtype == "float32":
        np.testing.assert_allclose(ours, np.stack(reference), atol=1e-5)
    else:  # uint8 input: the runner quantizes the same float frame the same way
        np.testing.assert_array_equal(ours, np.stack(reference))
    expected = keras_logits_of_frames(models["keras"], frames)
    assert np.abs(ours - expected).max() < tolerance * (expected.max() - expected.min())

"""Golden-file conformance of the Android app's JVM logic with the Python runtime.

The Python side (``tsm_tf.runtime``, OpenCV) writes frames, YUV bytes, expected model inputs,
state plans, logit sequences with their smoothed decisions and a model with an embedded
sidecar; the app's Kotlin checker (``android_demo/.../GoldenCheck.kt``, run through
``android_demo/tools/jvm-check.sh``) recomputes each and must agree:

- same RGB frame -> same input tensor: bit-exact when the frame needs no resize, else the crop
  within one 8-bit step (tensor within the matching bound);
- NV21 bytes -> RGB within one 8-bit step of ``cv2.cvtColor(..., COLOR_YUV2RGB_NV21)``;
- same sidecar -> same state plan (names, sizes, zero values, requantization of all 256 bytes);
- same logits sequence -> same smoothed labels (scores within 1e-5) for every rule;
- the sidecar embedded in a real converted ``.tflite`` reads back equal to the ``.json``.

Needs a JDK, ``kotlinc`` (npm ``kotlin-compiler``) and Debian's ``junit4``: skipped without
them unless ``TSM_ANDROID_STRICT=1`` (``make android-check`` sets it), then they must exist.
"""

from __future__ import annotations

import json
import os
import subprocess
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from tsm_tf.runtime.preprocess import crop_frame, preprocess_frame
from tsm_tf.runtime.recognizer import Recognizer
from tsm_tf.runtime.session import StatePair, TensorInfo, requantize
from tsm_tf.runtime.smoothing import make_smoother
from tsm_tf.sidecar import embed_metadata, sidecar_bytes

REPO = Path(__file__).resolve().parents[1]
CHECK = REPO / "android_demo" / "tools" / "jvm-check.sh"
BUILD = REPO / "build" / "android-jvm"
DTYPES = {"float32": np.float32, "int8": np.int8, "uint8": np.uint8}


def run_jvm_check(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """``jvm-check.sh BUILD args...``; skip (or fail when strict) if its tools are missing."""
    env = dict(os.environ)
    env.setdefault("ANDROID_DEBS", str(REPO.parent / "shared" / "android"))
    result = subprocess.run(["bash", str(CHECK), str(BUILD), *args], capture_output=True,
                            text=True, timeout=timeout, env=env)
    missing = result.returncode == 2 and "jvm-check:" in result.stderr
    if missing and os.environ.get("TSM_ANDROID_STRICT") != "1":
        pytest.skip(result.stderr.strip().splitlines()[-1])
    return result


# -- sidecars written from docs/sidecar.md ---------------------------------------------------
def make_sidecar(input_dtype: str, size: int = 32, quant: dict | None = None,
                 states: list | None = None, temporal: dict | None = None) -> dict:
    """A streaming sidecar by the contract (what the converter writes), for one input size."""
    return {
        "format": "tsm_tf.sidecar", "version": 1,
        "model": {"name": f"golden_{input_dtype}", "mode": "streaming", "arch": "resnet_tiny",
                  "shift": "unidirectional", "num_classes": 5, "num_segments": 8,
                  "frames_per_step": 1, "tsm_config": {}},
        "labels": ["left", "right", "up", "down", "nothing"],
        "input": {"name": "image", "shape": [1, size, size, 3], "dtype": input_dtype,
                  "quantization": quant, "color": "RGB", "mean": [0.485, 0.456, 0.406],
                  "std": [0.229, 0.224, 0.225]},
        "preprocess": {"resize_short_side": size * 256 // 224, "crop": [size, size],
                       "interpolation": "bilinear"},
        "output": {"name": "logits", "shape": [1, 5], "dtype": "float32", "quantization": None},
        "states": states or [],
        "temporal": temporal or {"sampling": "tsn", "train_frame_stride": 2.0,
                                 "dataset_fps": None, "train_stride_seconds": None},
    }


def int8_states() -> list[dict]:
    """Caches as an int8 converter writes them, one of them with differing quantization."""
    same = {"scale": 0.0213, "zero_point": -7}
    return [
        {"input": "state_layer2_shift", "output": "state_layer2_shift", "shape": [1, 8, 8, 4],
         "dtype": "int8", "input_quantization": same, "output_quantization": same,
         "requantize": False},
        {"input": "state_layer1_shift", "output": "state_layer1_shift", "shape": [1, 16, 16, 2],
         "dtype": "int8", "input_quantization": {"scale": 0.047, "zero_point": 3},
         "output_quantization": {"scale": 0.0311, "zero_point": -12}, "requantize": True},
    ]


def uint8_states() -> list[dict]:
    """The int8 caches as a ``--io uint8`` model has them: zero points shifted by 128."""
    states = json.loads(json.dumps(int8_states()))
    for state in states:
        state["dtype"] = "uint8"
        for key in ("input_quantization", "output_quantization"):
            state[key]["zero_point"] += 128
    return states


def float_states() -> list[dict]:
    return [{"input": "state_a_shift", "output": "state_a_shift", "shape": [1, 4, 4, 8],
             "dtype": "float32", "input_quantization": None, "output_quantization": None,
             "requantize": False}]


def tensor_info(state: dict, key: str) -> TensorInfo:
    q = state[f"{key}_quantization"] or {"scale": 0.0, "zero_point": 0}
    return TensorInfo(state[key], 0, tuple(state["shape"]), np.dtype(DTYPES[state["dtype"]]),
                      float(q["scale"]), int(q["zero_point"]))


def python_plan(pairs: list[StatePair]) -> list[dict]:
    """The Python runtime's handling of each cache: zero value, requantization of every byte."""
    plan = []
    for pair in pairs:
        entry = {"input": pair.input.name, "output": pair.output.name,
                 "dtype": pair.input.dtype.name, "elements": int(np.prod(pair.input.shape)),
                 "zero": int(pair.input.zeros().reshape(-1)[0]),
                 "requantize": bool(pair.requantize)}
        if pair.requantize:
            info = np.iinfo(pair.input.dtype)
            values = np.arange(256, dtype=np.int64)  # table index = the raw byte
            raw = values.astype(np.uint8).view(pair.output.dtype)
            entry["requantize_table"] = [int(v) for v in requantize(raw, pair.output, pair.input)]
            assert entry["requantize_table"][0] >= info.min
        plan.append(entry)
    return plan


# -- golden files -----------------------------------------------------------------------------
def write_golden(out: Path) -> dict:
    rng = np.random.default_rng(11)
    sidecars = {
        "int8.json": make_sidecar("int8", quant={"scale": 0.0187, "zero_point": -14},
                                  states=int8_states()),
        "uint8.json": make_sidecar("uint8", size=48, quant={"scale": 0.0192, "zero_point": 121},
                                   states=uint8_states()),
        "float32.json": make_sidecar("float32", size=40, states=float_states()),
        "float32_112.json": make_sidecar("float32", size=112),  # camera-like frame sizes
    }
    for name, sc in sidecars.items():
        (out / name).write_bytes(sidecar_bytes(sc))
    manifest: dict = {"frames": [], "yuv": [], "plans": [], "embedded": [], "smoothing": []}

    # Frames: smooth gradients plus noise (like camera images, with edges for the resize).
    def frame(w: int, h: int) -> np.ndarray:
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([xx * 255 / max(w - 1, 1), yy * 255 / max(h - 1, 1),
                         (xx + yy) * 127 / max(w + h - 2, 1)], axis=-1)
        return np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)

    k = 0
    for name, sc in sidecars.items():
        short = sc["preprocess"]["resize_short_side"]
        crop = sc["preprocess"]["crop"][0]
        sizes = [(short + 9, short, True), (short, short + 20, True),  # no resize: bit-exact
                 (crop, crop, False),                                  # at crop size: upscaled
                 (short * 2 // 3 + 7, short * 2 // 3, False),          # upscaled 1.5x
                 (4 * short // 3, short + 1, False),                   # slight shrink, bilinear
                 (160, 120, False), (641, 480, False)]                 # 2x+ shrink: area
        for w, h, exact in sizes:
            rgb = frame(w, h)
            cropped = crop_frame(rgb, sc["preprocess"])
            tensor = preprocess_frame(rgb, sc["input"], sc["preprocess"], color="rgb")
            assert tensor.dtype == DTYPES[sc["input"]["dtype"]]
            base = f"frame{k}"
            (out / f"{base}.rgb").write_bytes(rgb.tobytes())
            (out / f"{base}.crop").write_bytes(np.ascontiguousarray(cropped).tobytes())
            little_endian = tensor.astype(tensor.dtype.newbyteorder("<"))
            (out / f"{base}.tensor").write_bytes(little_endian.tobytes())
            manifest["frames"].append({"name": f"{name}:{w}x{h}", "sidecar": name, "width": w,
                                       "height": h, "rgb": f"{base}.rgb", "crop": f"{base}.crop",
                                       "tensor": f"{base}.tensor", "exact": exact})
            k += 1

    for i, (w, h) in enumerate([(64, 48), (320, 240), (34, 18)]):
        nv21 = rng.integers(0, 256, (h * 3 // 2, w), dtype=np.uint8)
        nv21[:h] = frame(w, h)[..., 1]  # luma with structure; chroma random
        rgb = cv2.cvtColor(nv21, cv2.COLOR_YUV2RGB_NV21)
        (out / f"yuv{i}.nv21").write_bytes(nv21.tobytes())
        (out / f"yuv{i}.rgb").write_bytes(rgb.tobytes())
        manifest["yuv"].append({"name": f"nv21_{w}x{h}", "width": w, "height": h,
                                "nv21": f"yuv{i}.nv21", "rgb": f"yuv{i}.rgb"})

    for name, sc in sidecars.items():
        pairs = [StatePair(tensor_info(s, "input"), tensor_info(s, "output"))
                 for s in sc["states"]]
        (out / f"{name}.plan").write_text(json.dumps(python_plan(pairs)))
        manifest["plans"].append({"sidecar": name, "plan": f"{name}.plan"})

    # Logits: class segments with noise and single-frame flips, so the rules disagree.
    frames, classes = 90, 5
    truth = np.repeat(rng.integers(0, classes, 9), 10)
    logits = rng.normal(0, 1.0, (frames, classes)).astype(np.float32)
    logits[np.arange(frames), truth] += 1.5
    flips = rng.choice(frames, 12, replace=False)
    logits[flips, rng.integers(0, classes, 12)] += 4.0
    (out / "logits.f32").write_bytes(logits.astype("<f4").tobytes())
    for rule in ("none", "mean", "mean:3", "reference", "reference:4"):
        smoother = make_smoother(rule)
        decisions = [smoother.update(row) for row in logits]
        manifest["smoothing"].append({"rule": rule, "classes": classes, "logits": "logits.f32",
                                      "labels": [d[0] for d in decisions],
                                      "scores": [d[1] for d in decisions]})

    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def test_python_golden_files_are_well_formed(tmp_path):
    """The golden cases exercise what they claim (without the JVM)."""
    manifest = write_golden(tmp_path)
    exact = [f for f in manifest["frames"] if f["exact"]]
    assert exact and len(exact) < len(manifest["frames"])
    for f in exact:  # no resize: the crop is a slice of the frame itself
        rgb = np.frombuffer((tmp_path / f["rgb"]).read_bytes(), np.uint8)
        rgb = rgb.reshape(f["height"], f["width"], 3)
        crop = np.frombuffer((tmp_path / f["crop"]).read_bytes(), np.uint8)
        side = int(round(len(crop) / 3) ** 0.5)
        assert any((rgb[y:y + side, x:x + side].reshape(-1) == crop).all()
                   for y in range(rgb.shape[0] - side + 1) for x in range(rgb.shape[1] - side + 1))
    # The smoothing rules really differ on this sequence, and one cache is requantized.
    labels = {s["rule"]: s["labels"] for s in manifest["smoothing"]}
    assert labels["none"] != labels["mean"] != labels["reference"]
    plan = json.loads((tmp_path / "int8.json.plan").read_text())
    assert [p["requantize"] for p in plan] == [False, True]
    assert plan[0]["zero"] == -7 and len(set(plan[1]["requantize_table"])) > 100
    plan = json.loads((tmp_path / "uint8.json.plan").read_text())
    assert plan[0]["zero"] == 121 and min(plan[1]["requantize_table"]) >= 0


@pytest.mark.slow
def test_kotlin_agrees_with_the_python_runtime(tmp_path):
    write_golden(tmp_path)
    result = run_jvm_check("golden", str(tmp_path))
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "GOLDEN OK" in result.stdout
    assert "FAIL" not in result.stdout


def test_stride_rule_matches_the_recognizer():
    """The app's stride cases (JUnit StrideTest) are the Python recognizer's answers."""
    def stride(temporal: dict, fps):
        return Recognizer.stride_for_fps(types.SimpleNamespace(sidecar={"temporal": temporal}), fps)
    assert stride({"train_frame_stride": 2.0}, 30.0) == 2
    assert stride({"train_frame_stride": 0.4}, None) == 1
    seconds = {"train_frame_stride": 2.0, "dataset_fps": 20.0, "train_stride_seconds": 0.1}
    assert stride(seconds, 30.0) == 3
    assert stride(seconds, None) == 2


@pytest.mark.slow
def test_embedded_sidecar_of_a_converted_model(tmp_path):
    """A real int8 streaming model: its embedded sidecar (the converter's writer) reads back in
    Kotlin, and the Kotlin state plan equals the Python runtime's on the real interpreter."""
    pytest.importorskip("tensorflow")
    import keras

    import tsm_tf
    from tsm_tf.export import convert_to_tflite, read_flatbuffer
    from tsm_tf.export.calibrate import calibration_frames
    from tsm_tf.export.metadata import build_sidecar, temporal_spec
    from tsm_tf.models import StreamingTSM
    from tsm_tf.runtime.session import StreamingSession

    keras.utils.set_random_seed(3)
    model = tsm_tf.create_model("tsm_online_resnet_tiny", num_classes=5, num_segments=4,
                                input_size=32)
    streaming = StreamingTSM.from_model(model)
    clips = np.random.default_rng(3).normal(0, 1, (2, 4, 32, 32, 3)).astype(np.float32)
    flatbuffer = convert_to_tflite(streaming, quantization="int8", io="int8",
                                   representative_data=calibration_frames(streaming, clips))
    states = list(streaming.init_states())
    sidecar = build_sidecar(
        name="golden_int8", parsed=read_flatbuffer(flatbuffer), tsm_config=model.tsm_config,
        mode="streaming", frames_per_step=1, input_name=streaming.frame_input_name,
        state_names=states, labels=["a", "b", "c", "d", "e"], temporal=temporal_spec(4),
        source={"kind": "keras"}, conversion={"precision": "int8", "io": "int8"},
        mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    payload = sidecar_bytes(sidecar)
    tflite = tmp_path / "model.tflite"
    tflite.write_bytes(embed_metadata(flatbuffer, "tsm_tf", payload))
    (tmp_path / "model.json").write_bytes(payload)
    session = StreamingSession.open(tflite, states=[(s["input"], s["output"])
                                                    for s in sidecar["states"]])
    (tmp_path / "model.plan").write_text(json.dumps(python_plan(session.states)))
    manifest = {"frames": [], "yuv": [], "smoothing": [],
                "plans": [{"sidecar": "model.json", "plan": "model.plan"}],
                "embedded": [{"tflite": "model.tflite", "json": "model.json"}]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert len(sidecar["states"]) == len(states) > 0
    result = run_jvm_check("golden", str(tmp_path))
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "equal the .json" in result.stdout and "same as Python" in result.stdout

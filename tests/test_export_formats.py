"""Every format from a tiny model, run on LiteRT: float equals Keras, int8 is integer-only,
caches keep their quantization, and the sidecar describes the file it ships with."""

import hashlib
import json

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from export_helpers import FRAMES, SIZE, synthetic_set, tiny_model

from tsm_tf.data.listfile import read_list_file
from tsm_tf.data.synthetic import SYNTHETIC_CLASSES
from tsm_tf.export import LiteRTModel
from tsm_tf.export.exporter import export_model
from tsm_tf.models import StreamingTSM
from tsm_tf.sidecar import extract_metadata, read_sidecar
from tsm_tf.weights import write_sidecar

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return synthetic_set(tmp_path_factory.mktemp("synthetic"), num_train=8, num_val=4)


def _saved(tmp_path_factory, model, name):
    path = tmp_path_factory.mktemp("models") / f"{name}.keras"
    model.save(path)
    write_sidecar(path, list(SYNTHETIC_CLASSES), dataset="synthetic")
    return path


@pytest.fixture(scope="module")
def online(tmp_path_factory):
    model = tiny_model("unidirectional", seed=11)
    return model, _saved(tmp_path_factory, model, "online")


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    model = tiny_model("bidirectional", seed=12)
    return model, _saved(tmp_path_factory, model, "offline")


def _export(path, out, synthetic, **options):
    results = export_model(path, out, calib={"root": str(synthetic)}, num_calib=4,
                           num_report=3, verbose=False, **options)
    return {r["conversion"]["precision"]: r for r in results}


@pytest.fixture(scope="module")
def offline_files(offline, synthetic, tmp_path_factory):
    return _export(offline[1], tmp_path_factory.mktemp("offline"), synthetic,
                   precisions=("float32", "float16", "dynamic", "int8"), mode="offline")


@pytest.fixture(scope="module")
def streaming_files(online, synthetic, tmp_path_factory):
    return _export(online[1], tmp_path_factory.mktemp("streaming"), synthetic,
                   precisions=("float32", "float16", "int8"), mode="streaming", io="uint8")


def clips(count=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(count, FRAMES, SIZE, SIZE, 3)).astype(np.float32)


def stream(runner, clip, step=1):
    """Per-frame logits through a LiteRT streaming model (reference loop, written here)."""
    names = [n for n in runner.input_names if n.startswith("state_")]
    states = {n: np.zeros(runner.input_details[n]["shape"], np.float32) for n in names}
    out = []
    for t in range(0, FRAMES, step):
        feed = clip[t][None] if step == 1 else clip[None, t:t + step]
        result = runner({"image" if step == 1 else "video": feed, **states})
        states = {n: result[n] for n in names}
        out.append(result["logits"].reshape(-1, result["logits"].shape[-1]))
    return np.concatenate(out)


def tflite(sidecar):
    return sidecar["files"]["tflite"]


@pytest.mark.parametrize(("precision", "tolerance"), [("float32", 1e-4), ("float16", 1e-2)])
def test_offline_float_models_equal_keras(offline, offline_files, precision, tolerance):
    runner = LiteRTModel(tflite(offline_files[precision]))
    for clip in clips():
        expected = np.asarray(offline[0](clip[None], training=False))
        got = runner({"video": clip[None]})["logits"]
        np.testing.assert_allclose(got, expected, rtol=0, atol=tolerance)


@pytest.mark.parametrize(("precision", "tolerance"), [("float32", 1e-4), ("float16", 1e-2)])
def test_streaming_float_models_equal_the_offline_keras_frames(online, streaming_files,
                                                              precision, tolerance):
    runner = LiteRTModel(tflite(streaming_files[precision]))
    frame_model = online[0].frame_logits_model()
    for clip in clips(seed=1):
        expected = np.asarray(frame_model(clip[None], training=False))[0]  # [T, K]
        np.testing.assert_allclose(stream(runner, clip), expected, rtol=0, atol=tolerance)


def test_int8_models_have_no_float32_tensor_and_no_flex_op(offline_files, streaming_files):
    for sidecar in (offline_files["int8"], streaming_files["int8"]):
        interpreter = Interpreter(model_path=tflite(sidecar))
        dtypes = {t["name"]: t["dtype"] for t in interpreter.get_tensor_details()}
        assert [name for name, dtype in dtypes.items() if dtype == np.float32] == []
        ops = [op["op_name"] for op in interpreter._get_ops_details()]
        assert not [op for op in ops if op.startswith("Flex") or op == "CUSTOM"]
        checks = sidecar["report"]["integer_checks"]
        assert checks["passed"] and checks["float32_ops"] == [] and checks["flex_ops"] == []
    # The dynamic-range model keeps float activations: the check would catch it.
    interpreter = Interpreter(model_path=tflite(offline_files["dynamic"]))
    assert any(t["dtype"] == np.float32 for t in interpreter.get_tensor_details())


def test_streaming_caches_keep_their_quantization(online, streaming_files):
    sidecar = streaming_files["int8"]
    runner = LiteRTModel(tflite(sidecar))
    order = list(StreamingTSM.from_model(online[0]).state_shapes)
    assert [s["input"] for s in sidecar["states"]] == order  # network order
    for entry in sidecar["states"]:
        name = entry["input"]
        assert entry["output"] == name and name in runner.output_names
        scale_in, zp_in = runner.quantization(name)
        scale_out, zp_out = runner.quantization(name, output=True)
        assert (scale_in, zp_in) == (scale_out, zp_out) and scale_in > 0
        assert entry["input_quantization"] == {"scale": scale_in, "zero_point": zp_in}
        assert entry["requantize"] is False
        assert entry["dtype"] == "uint8" == np.dtype(runner.input_details[name]["dtype"]).name
        assert entry["shape"] == list(runner.input_details[name]["shape"])
    assert sidecar["report"]["states"] == {"count": len(order), "equal_in_out": True,
                                           "requantize": []}


def test_uint8_streaming_model_runs_close_to_float(online, streaming_files):
    runner = LiteRTModel(tflite(streaming_files["int8"]))
    assert runner.input_details["image"]["dtype"] == np.uint8
    clip = clips(1, seed=2)[0]
    expected = np.asarray(online[0].frame_logits_model()(clip[None], training=False))[0]
    got = stream(runner, clip)
    assert np.corrcoef(got.ravel(), expected.ravel())[0, 1] > 0.9


def test_sidecar_describes_the_file(online, streaming_files, synthetic):
    sidecar = streaming_files["int8"]
    path = tflite(sidecar)
    on_disk = json.loads(open(sidecar["files"]["json"], encoding="utf-8").read())
    assert read_sidecar(path) == on_disk
    assert json.loads(extract_metadata(open(path, "rb").read(), "tsm_tf")) == on_disk
    runner = LiteRTModel(path)
    image = runner.input_details["image"]
    assert on_disk["input"]["name"] == "image"
    assert on_disk["input"]["shape"] == list(image["shape"]) == [1, SIZE, SIZE, 3]
    assert on_disk["input"]["dtype"] == "uint8"
    scale, zero_point = image["quantization"]
    assert on_disk["input"]["quantization"] == {"scale": scale, "zero_point": zero_point}
    logits = runner.output_details["logits"]
    assert on_disk["output"]["shape"] == list(logits["shape"]) == [1, 8]
    assert on_disk["labels"] == list(SYNTHETIC_CLASSES)
    assert on_disk["model"]["mode"] == "streaming" and on_disk["model"]["frames_per_step"] == 1
    assert on_disk["model"]["shift"] == "unidirectional"
    assert on_disk["preprocess"] == {"resize_short_side": SIZE * 256 // 224, "crop": [SIZE, SIZE],
                                     "interpolation": "bilinear"}
    counts = [r.num_frames for r in read_list_file(str(synthetic / "train.txt"))]
    assert on_disk["temporal"]["train_frame_stride"] == pytest.approx(np.mean(counts) / FRAMES)
    source = online[1].read_bytes()
    assert on_disk["source"] == {"path": str(online[1]), "kind": "keras",
                                 "sha256": hashlib.sha256(source).hexdigest()}
    assert on_disk["conversion"]["precision"] == "int8" and on_disk["conversion"]["io"] == "uint8"
    assert streaming_files["float32"]["input"]["quantization"] is None
    assert streaming_files["float32"]["states"][0]["input_quantization"] is None


def test_report_agreement_is_what_litert_gives(offline, offline_files, synthetic):
    from tsm_tf.export.calibrate import calibration_source, load_clips

    sidecar = offline_files["int8"]
    agreement = sidecar["report"]["agreement"]
    assert agreement["clips"] == 3
    # The held-out clips are the validation clips, never the calibration (training) ones.
    val = calibration_source(dataset="synthetic", root=synthetic, split="val")
    held_out, labels = load_clips(val, num_clips=3, num_segments=FRAMES, input_size=SIZE)
    runner = LiteRTModel(tflite(sidecar))
    got = np.concatenate([runner({"video": c[None]})["logits"] for c in held_out])
    expected = np.asarray(offline[0](held_out, training=False))
    assert agreement["top1_agreement"] == pytest.approx(
        np.mean(got.argmax(-1) == expected.argmax(-1)))
    assert agreement["max_logit_error"] == pytest.approx(np.abs(got - expected).max(), rel=1e-3)
    assert agreement["float_top1"] == pytest.approx(np.mean(expected.argmax(-1) == labels))
    ratio = offline_files["int8"]["report"]["float32_size_ratio"]
    assert ratio > 3.0  # int8 weights: about 4x smaller
    assert offline_files["float32"]["report"]["float32_size_bytes"] == \
        offline_files["int8"]["report"]["float32_size_bytes"]


def test_several_frames_per_step(online, synthetic, tmp_path):
    (sidecar,) = export_model(online[1], tmp_path, precisions=("float32",), mode="streaming",
                              frames_per_step=2, calib={"root": str(synthetic)}, num_report=2,
                              verbose=False)
    runner = LiteRTModel(tflite(sidecar))
    assert runner.input_details["video"]["shape"].tolist() == [1, 2, SIZE, SIZE, 3]
    assert sidecar["input"]["name"] == "video" and sidecar["model"]["frames_per_step"] == 2
    clip = clips(1, seed=3)[0]
    expected = np.asarray(online[0].frame_logits_model()(clip[None], training=False))[0]
    np.testing.assert_allclose(stream(runner, clip, step=2), expected, rtol=0, atol=1e-4)


def test_tsn_streams_frame_by_frame_without_caches(synthetic, tmp_path):
    tsn = tiny_model("none", seed=13)
    path = tmp_path / "tsn.keras"
    tsn.save(path)
    (sidecar,) = export_model(path, tmp_path / "out", mode="streaming", name="tsn_frames",
                              calib={"root": str(synthetic)}, num_report=2, verbose=False)
    assert sidecar["files"]["tflite"].endswith("tsn_frames.tflite")
    runner = LiteRTModel(sidecar["files"]["tflite"])
    assert runner.input_names == ["image"] and sidecar["states"] == []
    clip = clips(1, seed=4)[0]
    expected = np.asarray(tsn.frame_logits_model()(clip[None], training=False))[0]
    np.testing.assert_allclose(stream(runner, clip), expected, rtol=0, atol=1e-4)

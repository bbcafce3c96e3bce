"""``convert_qat``: QAT fine-tuning then full-integer TFLite, offline and streaming, on LiteRT.

One small online TSM (resnet_tiny, 4 frames, 32 px) is trained on a two-class synthetic set
whose classes differ only in the direction of motion; its QAT and post-training int8 models
are compared on the validation clips.
"""

import numpy as np
import pytest

pytest.importorskip("tf_keras")
pytest.importorskip("tensorflow_model_optimization")

import keras  # noqa: E402

from tsm_tf.data.pipeline import build_dataset  # noqa: E402
from tsm_tf.data.synthetic import generate_synthetic_dataset  # noqa: E402
from tsm_tf.export import LiteRTModel, convert_to_tflite, float32_tensor_ops, op_names  # noqa: E402
from tsm_tf.export.qat import check_qat_installed, convert_qat  # noqa: E402
from tsm_tf.models import TSM  # noqa: E402
from tsm_tf.train import TrainConfig, train  # noqa: E402

FRAMES, SIZE = 4, 32
DATA = dict(dataset="custom", num_classes=2, frame_template="img_{:05d}.jpg")


def _clips(root, split):
    """All clips of a split with evaluation transforms: ``[N, T, H, W, 3]``, labels ``[N]``."""
    dataset = build_dataset(_spec(), root=str(root),
                            list_file=str(root / f"{split}.txt"), num_segments=FRAMES,
                            input_size=SIZE, batch_size=16, training=False)
    clips, labels = zip(*[(np.asarray(c), np.asarray(y)) for c, y in dataset], strict=True)
    return np.concatenate(clips), np.concatenate(labels)


def _spec():
    from tsm_tf.data.registry import get_dataset_spec

    return get_dataset_spec("custom", num_classes=2, frame_template=DATA["frame_template"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(model path, data dict for convert_qat, validation clips, labels, float model)."""
    work = tmp_path_factory.mktemp("qat")
    root = work / "data"
    generate_synthetic_dataset(root, num_train=128, num_val=48, num_frames=8, size=SIZE,
                               classes=["moving_left", "moving_right"], verbose=False)
    result = train(TrainConfig(
        **DATA, root=str(root), train_list=str(root / "train.txt"),
        val_list=str(root / "val.txt"), arch="resnet_tiny", shift="unidirectional",
        num_segments=FRAMES, input_size=SIZE, batch_size=8, epochs=6, augment=False,
        optimizer="adam", lr=3e-3, lr_schedule="cosine", weight_decay=0.0, dropout=0.0,
        fc_lr5=False, seed=0, verbose=0, output_dir=str(work / "run")))
    # No flips in the fine-tuning: a flipped "moving_left" clip shows "moving_right".
    data = dict(DATA, allow_flip=False, root=str(root), list_file=str(root / "train.txt"))
    clips, labels = _clips(root, "val")
    model = keras.saving.load_model(result["best_model"], compile=False)
    return result["best_model"], data, clips, labels, model


@pytest.fixture(scope="module")
def qat_offline(trained):
    path, data, *_ = trained
    return convert_qat(path, data=data, epochs=1, num_calib=16, verbose=False)


@pytest.fixture(scope="module")
def qat_streaming(trained):
    path, data, *_ = trained
    return convert_qat(path, data=data, mode="streaming", epochs=1, num_calib=16,
                       verbose=False)


def _accuracy(flatbuffer, clips, labels) -> float:
    runner = LiteRTModel(flatbuffer)
    predictions = [runner({"video": clip[None]})["logits"][0].argmax() for clip in clips]
    return float(np.mean(np.asarray(predictions) == labels))


def _stream(runner, clip):
    """Per-frame logits ``[T, K]`` of one clip, caches carried from zeros."""
    states = {name: np.zeros(runner.input_details[name]["shape"], np.float32)
              for name in runner.input_names if name.startswith("state_")}
    logits = []
    for frame in clip:
        outputs = runner({"image": frame[None], **states})
        states = {name: outputs[name] for name in states}
        logits.append(outputs["logits"][0])
    return np.stack(logits)


def _assert_all_integer(flatbuffer):
    assert float32_tensor_ops(flatbuffer) == []
    names = op_names(flatbuffer)
    assert "CONV_2D" in names
    assert not [name for name in names if "FLEX" in name.upper() or name == "CUSTOM"]


@pytest.mark.slow
def test_qat_offline_is_all_int8_and_runs_on_litert(trained, qat_offline):
    _, _, clips, _, model = trained
    _assert_all_integer(qat_offline)
    runner = LiteRTModel(qat_offline)
    assert runner.input_names == ["video"] and runner.output_names == ["logits"]
    assert runner.input_details["video"]["dtype"] == np.int8
    assert tuple(runner.input_details["video"]["shape"]) == (1, FRAMES, SIZE, SIZE, 3)
    # Fine-tuned for one epoch at a small learning rate: predictions stay the float model's.
    expected = np.asarray(model(clips[:16])).argmax(-1)
    got = [runner({"video": clip[None]})["logits"][0].argmax() for clip in clips[:16]]
    assert np.mean(np.asarray(got) == expected) >= 0.85


@pytest.mark.slow
def test_qat_streaming_matches_offline_per_frame(trained, qat_offline, qat_streaming):
    _, _, clips, _, _ = trained
    _assert_all_integer(qat_streaming)
    stream = LiteRTModel(qat_streaming)
    offline = LiteRTModel(qat_offline)
    states = [name for name in stream.input_names if name.startswith("state_")]
    assert len(states) == 4 and sorted(stream.output_names) == sorted(["logits", *states])
    for name in states:  # a cache leaves and comes back with one int8 scale
        assert stream.quantization(name) == stream.quantization(name, output=True)
    scale = offline.quantization("logits", output=True)[0]
    agree = []
    for clip in clips[:12]:
        per_frame = _stream(stream, clip)  # [T, K]
        clip_logits = offline({"video": clip[None]})["logits"][0]
        # The offline model averages per-frame logits (consensus): so must the stream's.
        np.testing.assert_allclose(per_frame.mean(0), clip_logits, rtol=0,
                                   atol=max(8 * scale, 0.1 * np.abs(clip_logits).max()))
        agree.append(per_frame.mean(0).argmax() == clip_logits.argmax())
    assert np.mean(agree) >= 0.9


@pytest.mark.slow
def test_qat_int8_at_least_as_accurate_as_post_training_int8(trained, qat_offline):
    _, _, clips, labels, model = trained
    calibration, _ = _clips_train(trained)
    exported = TSM.from_config(model.get_config() | {"batch_size": 1})
    exported.set_weights(model.get_weights())
    ptq = convert_to_tflite(exported, quantization="int8",
                            representative_data=lambda: ({"video": c[None]} for c in calibration))
    float_acc = float(np.mean(np.asarray(model(clips)).argmax(-1) == labels))
    ptq_acc, qat_acc = _accuracy(ptq, clips, labels), _accuracy(qat_offline, clips, labels)
    print(f"synthetic val top-1: float {float_acc:.3f}, PTQ int8 {ptq_acc:.3f}, "
          f"QAT int8 {qat_acc:.3f} ({len(labels)} clips)")
    assert float_acc >= 0.8  # the model learned the task: the comparison means something
    assert qat_acc >= ptq_acc


def _clips_train(trained):
    _, data, *_ = trained
    from pathlib import Path

    clips, labels = _clips(Path(data["root"]), "train")
    return clips[:16], labels[:16]


def test_missing_extra_names_the_install_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tf_keras" else real(name, *a))
    with pytest.raises(ImportError) as error:
        check_qat_installed()
    message = str(error.value)
    assert "\n" not in message and 'pip install -e ".[qat]"' in message and "tf-keras" in message


def test_bad_arguments_fail_before_any_work(tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"x")
    data = {"list_file": "train.txt"}
    with pytest.raises(FileNotFoundError, match="missing.keras"):
        convert_qat(str(tmp_path / "missing.keras"), data=data)
    with pytest.raises(ValueError, match="io_type"):
        convert_qat(str(model), data=data, io_type="int4")
    with pytest.raises(ValueError, match="mode"):
        convert_qat(str(model), data=data, mode="online")
    with pytest.raises(ValueError, match="list_file"):
        convert_qat(str(model), data={})


@pytest.mark.slow
def test_job_failure_reports_the_child_error(tmp_path):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="broken.keras") as error:
        convert_qat(str(broken), data={"list_file": str(tmp_path / "train.txt")},
                    verbose=False)
    assert "failed" in str(error.value)


@pytest.mark.slow
def test_streaming_refuses_a_bidirectional_model(tmp_path):
    path = tmp_path / "bi.keras"
    TSM("resnet_tiny", num_classes=2, num_segments=FRAMES, input_size=SIZE).save(path)
    with pytest.raises(ValueError, match="unidirectional"):
        convert_qat(str(path), data={"list_file": str(tmp_path / "train.txt")},
                    mode="streaming", verbose=False)


@pytest.mark.slow
def test_qat_two_frames_per_step_uint8_io_follows_the_float_model(trained):
    # epochs=0: calibrated ranges, float weights; so the float Keras model is the reference.
    path, data, clips, _, model = trained
    flatbuffer = convert_qat(path, data=data, mode="streaming", frames_per_step=2,
                             io_type="uint8", epochs=0, num_calib=8, verbose=False)
    _assert_all_integer(flatbuffer)
    runner = LiteRTModel(flatbuffer)
    assert runner.input_details["video"]["dtype"] == np.uint8
    assert tuple(runner.input_details["video"]["shape"]) == (1, 2, SIZE, SIZE, 3)
    assert runner.output_details["logits"]["dtype"] == np.uint8
    expected = np.asarray(model.frame_logits_model()(clips[:12]))  # [N, T, K]
    errors, agree = [], []
    for clip, reference in zip(clips[:12], expected, strict=True):
        states = {name: np.zeros(runner.input_details[name]["shape"], np.float32)
                  for name in runner.input_names if name.startswith("state_")}
        steps = []
        for start in range(0, FRAMES, 2):
            outputs = runner({"video": clip[None, start:start + 2], **states})
            states = {name: outputs[name] for name in states}
            steps.append(outputs["logits"][0])  # [2, K]
        streamed = np.concatenate(steps)  # [T, K]
        errors.append(np.abs(streamed - reference).max() / np.abs(reference).max())
        agree.append(streamed.mean(0).argmax() == reference.mean(0).argmax())
    print(f"uint8 2-frame stream vs float: max relative logit error {max(errors):.3f}, "
          f"clip top-1 agreement {np.mean(agree):.3f}")
    assert max(errors) < 0.15
    assert np.mean(agree) >= 0.9

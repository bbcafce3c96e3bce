"""mobile/demo.py end to end: a model trained on the synthetic set, real mp4 files via OpenCV."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["moving_left", "moving_right"]
FRAMES, SEGMENTS, SIZE, VIDEO_SIZE = 8, 4, 32, 128


def load_script():
    spec = importlib.util.spec_from_file_location("mobile_demo", ROOT / "mobile" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo_setup(tmp_path_factory):
    """An online TSM trained on two synthetic classes, converted by the real converter
    (streaming float32 TFLite + sidecar, the stride from the run's training list)."""
    from tsm_tf.data.synthetic import generate_synthetic_dataset
    from tsm_tf.export.exporter import export_model
    from tsm_tf.train import TrainConfig, train

    folder = tmp_path_factory.mktemp("mobile_demo")
    root = folder / "data"
    generate_synthetic_dataset(root, num_train=256, num_val=16, num_frames=FRAMES, size=SIZE,
                               classes=CLASSES, verbose=False, workers=1)
    result = train(TrainConfig(
        dataset="custom", num_classes=2, frame_template="img_{:05d}.jpg", root=str(root),
        train_list=str(root / "train.txt"), val_list=str(root / "val.txt"),
        arch="resnet_tiny", num_segments=SEGMENTS, input_size=SIZE, batch_size=8, epochs=6,
        augment=False, optimizer="adam", lr=3e-3, lr_schedule="cosine", weight_decay=0.0,
        dropout=0.0, fc_lr5=False, seed=0, verbose=0, shift="unidirectional",
        output_dir=str(folder / "run")))
    sidecars = export_model(str(folder / "run"), folder / "models", precisions=["float32"],
                            mode="streaming", verbose=False)
    path = Path(sidecars[0]["files"]["tflite"])
    assert sidecars[0]["temporal"]["train_frame_stride"] == FRAMES / SEGMENTS
    return {"model": path, "root": root, "folder": folder, "labels": sidecars[0]["labels"],
            "val_accuracy": result["best_val_accuracy"]}


def clip_frames(root: Path, clip: str) -> np.ndarray:
    """A synthetic clip's frames, BGR, upscaled to VIDEO_SIZE (the recognizer takes any size)."""
    files = sorted((root / "frames" / clip).glob("img_*.jpg"))
    return np.stack([cv2.resize(cv2.imread(str(f)), (VIDEO_SIZE, VIDEO_SIZE)) for f in files])


def write_video(path: Path, frames: np.ndarray, fourcc: str = "mp4v", fps: float = 10.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps,
                             (frames.shape[2], frames.shape[1]))
    for frame in frames:
        writer.write(frame)
    writer.release()


def read_video(path: Path) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return np.stack(frames)


@pytest.mark.slow
def test_annotated_video_has_every_frame_and_the_clip_class(demo_setup, tmp_path, capsys):
    assert demo_setup["val_accuracy"] >= 0.9  # the model learned the two motions
    demo = load_script()
    lines = (demo_setup["root"] / "val.txt").read_text().split("\n")
    for clip, _, label in (line.split() for line in lines[:2]):  # one clip of each class
        frames = clip_frames(demo_setup["root"], clip.split("/")[-1])
        video, out = tmp_path / f"{clip.split('/')[-1]}.mp4", tmp_path / "annotated.mp4"
        write_video(video, frames)
        summary = demo.run_demo(str(demo_setup["model"]), video=str(video), out=str(out),
                                progress=False)
        assert summary["stride"] == 2  # 8 frames sampled as 4 segments in training
        assert summary["frames"] == FRAMES and summary["model_calls"] == FRAMES // 2
        assert not summary["ended_early"]
        expected = demo_setup["labels"][int(label)]  # the sidecar's name of the clip's class
        assert summary["labels"][-2:] == [expected] * 2, (clip, summary["labels"])
        written = read_video(out)
        decoded = read_video(video)
        assert written.shape == decoded.shape  # every input frame, same size
        # drawn: the text box at the top changed; the bottom half is the same video
        top = np.abs(written[:, :20].astype(int) - decoded[:, :20]).mean()
        bottom = np.abs(written[:, 80:].astype(int) - decoded[:, 80:]).mean()
        assert top > 20 and bottom < 8, (top, bottom)
    # the command line itself
    capsys.readouterr()
    code = demo.main(["--model", str(demo_setup["model"]), "--video", str(video),
                      "--out", str(tmp_path / "cli.mp4"), "--every", "1"])
    captured = capsys.readouterr()
    assert code == 0 and '"model_calls": 8' in captured.out
    assert "8/8 frames" in captured.err  # the progress line on files


@pytest.mark.slow
def test_bad_sources_give_clear_errors_and_keep_results(demo_setup, tmp_path, capsys,
                                                         monkeypatch):
    demo = load_script()
    model = str(demo_setup["model"])
    assert demo.main(["--model", str(tmp_path / "none.tflite"), "--camera", "0",
                      "--out", str(tmp_path / "x.mp4")]) == 2
    err = capsys.readouterr().err
    assert "none.tflite" in err and "not found" in err
    assert demo.main(["--model", model, "--camera", "99", "--out", str(tmp_path / "x.mp4")]) == 2
    assert "Camera 99 cannot be opened" in capsys.readouterr().err
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    assert demo.main(["--model", model, "--video", str(bad), "--out", str(tmp_path / "x.mp4")]) == 2
    assert "cannot be opened" in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()  # nothing half-written
    # a truncated AVI: the header announces 16 frames, fewer decode
    frames = np.concatenate([clip_frames(demo_setup["root"], "val_00000")] * 2)
    avi = tmp_path / "long.avi"
    write_video(avi, frames, fourcc="MJPG")
    data = avi.read_bytes()
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(data[:len(data) // 2])
    out = tmp_path / "partial.mp4"
    assert demo.main(["--model", model, "--video", str(truncated), "--out", str(out),
                      "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "ended after" in err and "of the 16 frames" in err
    kept = read_video(out)
    assert 0 < len(kept) < 16
    # no --out on a machine without a display: say how to run instead
    monkeypatch.setattr("tsm_tf.runtime.demo._has_display", lambda: False)
    assert demo.main(["--model", model, "--video", str(avi)]) == 2
    assert "give --out" in capsys.readouterr().err
    # options checked before the video is opened; an output folder that cannot be written
    assert demo.main(["--model", model, "--video", str(avi), "--out", str(tmp_path / "x.mkv")]) \
        == 2
    assert "ending in .mp4 or .avi" in capsys.readouterr().err
    assert demo.main(["--model", model, "--video", str(avi), "--every", "0",
                      "--out", str(tmp_path / "x.mp4")]) == 2
    assert "--every must be >= 1" in capsys.readouterr().err
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert demo.main(["--model", model, "--video", str(avi), "--quiet",
                      "--out", str(blocker / "x.mp4")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Cannot write") and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_avi_output_and_a_stop_by_the_user_is_not_a_truncated_file(demo_setup, tmp_path,
                                                                   capsys, monkeypatch):
    demo = load_script()
    model = str(demo_setup["model"])
    frames = np.concatenate([clip_frames(demo_setup["root"], "val_00000")] * 2)
    video = tmp_path / "clip.mp4"
    write_video(video, frames)
    out = tmp_path / "annotated.avi"  # Motion JPEG
    assert demo.main(["--model", model, "--video", str(video), "--out", str(out),
                      "--quiet"]) == 0
    assert len(read_video(out)) == 16
    capsys.readouterr()
    import tsm_tf.runtime.demo as runtime_demo

    real, calls = runtime_demo.annotate, []

    def interrupted_at_five(frame, result, fps):  # Ctrl-C while the sixth frame is drawn
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return real(frame, result, fps)

    monkeypatch.setattr(runtime_demo, "annotate", interrupted_at_five)
    assert demo.main(["--model", model, "--video", str(video), "--out", str(out),
                      "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err and '"ended_early": false' in captured.out
    assert len(read_video(out)) == 5  # what was written before the stop is kept


class _RecordingCamera:
    """Stands in for cv2.VideoCapture(index): records what it is asked, gives one frame of the
    size it was set to (a real camera may refuse; then Source.size tells)."""

    def __init__(self, index):
        self.index, self.asked = index, {}

    def isOpened(self):  # noqa: N802 (OpenCV's name)
        return True

    def set(self, prop, value):
        self.asked[prop] = value
        return True

    def get(self, prop):
        return 0.0

    def read(self):
        width = int(self.asked.get(cv2.CAP_PROP_FRAME_WIDTH, 640))
        height = int(self.asked.get(cv2.CAP_PROP_FRAME_HEIGHT, 480))
        return True, np.zeros((height, width, 3), np.uint8)

    def release(self):
        pass


def test_camera_is_asked_for_the_reference_demo_size(monkeypatch):
    from tsm_tf.runtime import demo as runtime_demo

    monkeypatch.setattr(runtime_demo.cv2, "VideoCapture", _RecordingCamera)
    source = runtime_demo.open_source(camera=0)
    assert source.capture.asked == {cv2.CAP_PROP_FRAME_WIDTH: 320, cv2.CAP_PROP_FRAME_HEIGHT: 240}
    assert source.size == (320, 240)
    assert runtime_demo.open_source(camera=0, camera_size=(640, 480)).size == (640, 480)
    assert runtime_demo.open_source(camera=0, camera_size=None).capture.asked == {}


def test_camera_size_flag(capsys):
    parser = load_script().build_parser()
    assert parser.parse_args(["--model", "m", "--camera", "0"]).camera_size == (320, 240)
    assert parser.parse_args(["--model", "m", "--camera", "0", "--camera-size", "1280x720"]
                             ).camera_size == (1280, 720)
    assert parser.parse_args(["--model", "m", "--camera", "0", "--camera-size", "default"]
                             ).camera_size is None
    for bad in ("320", "0x240", "axb"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--model", "m", "--camera", "0", "--camera-size", bad])
        assert "--camera-size" in capsys.readouterr().err

"""A reference-layout PyTorch checkpoint runs through ``python -m tsm_tf.test`` directly, with
the dataset's class names in its output and the reference network's scores."""

import json

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is needed to write a reference checkpoint")

from test_weights_reference_nets import (  # noqa: E402
    MobileNetV2,
    ReferenceTSN,
    add_mobilenet_shift,
    random_clips,
    randomize,
    save_reference_checkpoint,
)

from tsm_tf.evaluate.cli import main as run_test_tool  # noqa: E402
from tsm_tf.weights import load_labels  # noqa: E402

FRAMES, SIZE = 8, 224
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def write_something_v1_clips(root, count, rng):
    """Frame folders in Something V1's own format (``{:05d}.jpg`` from 1), 224x224 frames so
    the centre-crop protocol takes them whole; returns the folder names and the clips as
    decoded independently with OpenCV and normalised."""
    folders, decoded = [], []
    for index in range(count):
        folder = root / f"{1000 + index}"
        folder.mkdir(parents=True)
        frames = []
        for t in range(1, FRAMES + 1):
            image = rng.integers(0, 256, size=(SIZE, SIZE, 3), dtype=np.uint8)
            image = cv2.GaussianBlur(image, (9, 9), 3)
            cv2.imwrite(str(folder / f"{t:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 98])
            rgb = cv2.cvtColor(cv2.imread(str(folder / f"{t:05d}.jpg")), cv2.COLOR_BGR2RGB)
            frames.append((rgb.astype(np.float32) / 255.0 - MEAN) / STD)
        decoded.append(np.stack(frames))
        folders.append(folder.name)
    return folders, np.stack(decoded)  # [N, T, H, W, 3]


@pytest.mark.slow
def test_reference_checkpoint_runs_through_the_test_tool(tmp_path, capsys):
    base = MobileNetV2()
    add_mobilenet_shift(base, FRAMES)
    net = ReferenceTSN(base, 174, FRAMES)
    randomize(net, seed=3, calibrate_input=random_clips(2, FRAMES, 64, seed=4))
    checkpoint = tmp_path / "TSM_something_RGB_mobilenetv2_shift8_blockres_avg_segment8_e45.pth"
    save_reference_checkpoint(net, checkpoint, arch="mobilenetv2")

    data = tmp_path / "data"
    folders, clips = write_something_v1_clips(data, 3, np.random.default_rng(0))
    with torch.no_grad():  # the reference network on the independently decoded frames
        expected = net(torch.from_numpy(clips).permute(0, 1, 4, 2, 3)).numpy()
    # Label each clip with the reference network's prediction: our conversion and input
    # pipeline must then score 100 %.
    labels = expected.argmax(-1)
    list_file = data / "val.txt"
    list_file.write_text("".join(f"{f} {FRAMES} {y}\n" for f, y in zip(folders, labels,
                                                                      strict=True)))
    report_path = tmp_path / "report.json"
    code = run_test_tool(["--model", str(checkpoint), "--dataset", "something_v1",
                          "--root", str(data), "--val-list", str(list_file),
                          "--protocol", "center", "--json", str(report_path)])
    assert code == 0
    printed = capsys.readouterr().out
    names = load_labels("something_v1")
    for label in labels:  # per-class lines speak in class names
        assert names[label] in printed, printed
    report = json.loads(report_path.read_text())
    assert report["class_names"] == list(names)
    assert report["top1"] == 1.0

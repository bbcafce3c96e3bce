"""``make demo`` runs ``python -m tsm_tf.demo``: the same entry point, shortened (few clips, one
epoch), must write every file its report names and a report that agrees with them."""

from __future__ import annotations

import csv
import json

import pytest

from tsm_tf.data.synthetic import SYNTHETIC_CLASSES
from tsm_tf.demo import main
from tsm_tf.sidecar import read_sidecar


@pytest.mark.slow
def test_demo_entry_point_writes_its_report_and_files(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["--out", str(out), "--epochs", "1", "--num-train", "16", "--num-val", "8"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    report = json.loads((out / "demo_report.json").read_text())
    steps = report["steps"]
    assert set(steps) == {"data", "train", "test", "convert", "stream"}
    assert steps["data"]["num_train"] == 16 and steps["data"]["num_val"] == 8
    assert steps["train"]["epochs"] == 1
    assert printed["top1"] == steps["test"]["top1"]
    # the evaluation files, and the evaluation report agrees with the demo report
    test_report = json.loads((out / "test" / "report.json").read_text())
    assert test_report["top1"] == steps["test"]["top1"]
    assert test_report["num_videos"] == 8 and test_report["num_unreadable"] == 0
    with open(out / "test" / "per_video.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 8
    assert [r["fraction"] for r in steps["test"]["early"]["rows"]] == [0.25, 0.5, 0.75, 1.0]
    for name in ("confusion_matrix.png", "early.png", "early.md"):
        assert (out / "test" / name).stat().st_size > 0, name
    assert (out / "online_tsm" / "best.keras").is_file()
    # both TFLite models, the int8 one without any float32 tensor op, as the report says
    for kind in ("float32", "int8"):
        path = out / f"online_tsm_streaming_{kind}.tflite"
        assert path.stat().st_size == steps["convert"][kind]["bytes"]
        # the converter's sidecar, beside the model: what the recognizer and the app read
        sidecar = read_sidecar(path)
        assert sidecar["labels"] == list(SYNTHETIC_CLASSES)
        assert sidecar["model"]["mode"] == "streaming" and len(sidecar["states"]) > 0
    assert steps["convert"]["int8"]["float32_ops"] == 0
    # streamed on LiteRT frame by frame: float32 equals Keras, int8 is close
    stream = steps["stream"]
    assert stream["float32"]["max_abs_diff_vs_keras"] < 1e-3
    assert len(stream["int8"]["per_frame_prediction"]) == steps["train"]["model"]["num_segments"]
    assert stream["float32"]["ms_per_frame"] > 0 and stream["int8"]["ms_per_frame"] > 0

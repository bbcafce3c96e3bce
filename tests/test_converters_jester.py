"""The online Jester preset converts in one command from a reference-layout checkpoint (written
here, as in tests/test_weights_parity.py), and its float streaming model matches PyTorch."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch (the 'torch' extra) is not installed")

from export_helpers import synthetic_set  # noqa: E402
from test_weights_reference_nets import MobileNetV2, random_clips, randomize  # noqa: E402

from tsm_tf.export import LiteRTModel  # noqa: E402
from tsm_tf.export.cli import main  # noqa: E402
from tsm_tf.sidecar import read_sidecar  # noqa: E402
from tsm_tf.weights import load_labels  # noqa: E402

SIZE = 64  # reduced from 224 to keep the test fast; --input-size sets it


@pytest.mark.slow
def test_online_jester_checkpoint_converts_in_one_command(tmp_path, capsys):
    net = MobileNetV2(num_classes=27)
    frames = random_clips(1, 4, SIZE, seed=31)[0]  # [T, 3, H, W]
    randomize(net, seed=33, calibrate_input=frames)
    checkpoint = tmp_path / "mobilenetv2_jester_online.pth.tar"
    torch.save(net.state_dict(), checkpoint)  # the online demo's raw layout
    synthetic = synthetic_set(tmp_path / "synthetic", num_train=3, num_val=2)

    code = main([str(checkpoint), "--mode", "streaming", "--float32", "--int8",
                 "--out", str(tmp_path / "jester"), "--input-size", str(SIZE),
                 "--root", str(synthetic), "--num-calib", "2", "--num-report", "1"])
    assert code == 0, capsys.readouterr().err
    stem = tmp_path / "jester" / "mobilenetv2_jester_online_streaming"
    int8 = read_sidecar(f"{stem}_int8.tflite")
    assert int8["labels"] == load_labels("jester") and int8["labels"][2] == "No gesture"
    assert int8["source"]["kind"] == "pth" and int8["model"]["shift"] == "unidirectional"
    assert len(int8["states"]) == 10 and not any(s["requantize"] for s in int8["states"])
    assert int8["report"]["integer_checks"]["passed"] and int8["input"]["dtype"] == "int8"
    assert int8["preprocess"]["resize_short_side"] == SIZE * 256 // 224
    # Calibrated on synthetic clips, not Jester's: the training stride is not known, the
    # report measures agreement but no top-1 against the synthetic labels, and it says so.
    assert int8["temporal"]["train_frame_stride"] is None
    assert "float_top1" not in int8["report"]["agreement"]
    assert any("not the model's jester data" in note for note in int8["report"]["notes"])

    # The float32 file streams like the PyTorch online demo, frame by frame.
    runner = LiteRTModel(f"{stem}_float32.tflite")
    float32 = read_sidecar(f"{stem}_float32.tflite")
    names = [s["input"] for s in float32["states"]]
    states = {n: np.zeros(runner.input_details[n]["shape"], np.float32) for n in names}
    caches = None
    for frame in frames:
        with torch.no_grad():
            if caches is None:  # zero caches shaped like the model's
                caches = [torch.zeros(1, shape[3], shape[1], shape[2]) for shape in
                          (runner.input_details[n]["shape"] for n in names)]
            expected, caches = net.forward_online(frame[None], caches)
        out = runner({"image": frame.numpy().transpose(1, 2, 0)[None], **states})
        states = {n: out[n] for n in names}
        np.testing.assert_allclose(out["logits"], expected.numpy(), rtol=0, atol=1e-4)

"""Bad input to the converter: unsafe pickles, wrong architectures, non-RGB models, no torch."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch (the 'torch' extra) is not installed")

from test_weights_reference_nets import (  # noqa: E402
    ReferenceTSN,
    ResNet,
    add_resnet_shift,
    random_clips,
    randomize,
    save_reference_checkpoint,
    to_keras_clips,
)

from tsm_tf.weights import (  # noqa: E402
    UnsafeCheckpointError,
    WeightMismatchError,
    class_names_for,
    convert_checkpoint,
    load_checkpoint,
    torch_io,  # noqa: E402
)
from tsm_tf.weights import convert as convert_module  # noqa: E402


class NotAWeight:
    """A custom class: unpickling it needs code, so weights_only loading must refuse it."""

    def __init__(self):
        self.payload = 1


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    base = ResNet("resnet_tiny")
    add_resnet_shift(base, 4)
    net = ReferenceTSN(base, 101, 4)
    randomize(net, seed=2, calibrate_input=random_clips(2, 4, 32, seed=3))
    name = "TSM_ucf101_RGB_resnet_tiny_shift8_blockres_avg_segment4_e25.pth"
    path = tmp_path_factory.mktemp("tiny") / name
    save_reference_checkpoint(net, path, arch="resnet_tiny")
    return path, net


def test_checkpoint_needing_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "extra": NotAWeight()}, path)
    with pytest.raises(UnsafeCheckpointError, match="arbitrary code"):
        load_checkpoint(path)


def test_not_a_state_dict_is_explained(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(ValueError, match="expected a state dict"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_checkpoint(tmp_path / "missing.pth")


def test_missing_torch_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"tsm-tf\[torch\]"):
        torch_io.import_torch()


def test_wrong_architecture_lists_missing_unexpected_and_shapes(tiny_checkpoint):
    path, _ = tiny_checkpoint
    with pytest.raises(WeightMismatchError) as info:
        convert_checkpoint(path, arch="resnet18", input_size=32)
    message = str(info.value)
    assert "nothing was loaded" in message
    # resnet18 has a second block per stage: its keys are missing from the tiny checkpoint.
    assert "missing keys" in message and "layer1.1.conv1.weight" in message
    # and its widths differ: shape mismatches by key, in PyTorch layout.
    assert "conv1.weight: checkpoint (16, 3, 7, 7), model needs (64, 3, 7, 7)" in message
    with pytest.raises(WeightMismatchError, match=r"60 unexpected keys \(in the checkpoint, "
                       r"not in the model\): bn1\.bias, .*conv1\.weight"):
        convert_checkpoint(path, arch="mobilenetv2", input_size=32)


def test_wrong_number_of_classes_is_a_shape_mismatch(tiny_checkpoint):
    path, _ = tiny_checkpoint
    with pytest.raises(WeightMismatchError, match=r"fc\.weight: checkpoint \(101, 128\), "
                                                  r"model needs \(10, 128\)"):
        convert_checkpoint(path, num_classes=10, input_size=32)


def test_flow_checkpoints_are_refused_by_name(tiny_checkpoint, tmp_path):
    path, _ = tiny_checkpoint
    flow = tmp_path / "TSM_kinetics_Flow_resnet50_shift8_blockres_avg_segment8_e50.pth"
    flow.write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="Flow model"):
        convert_checkpoint(flow)


def test_cli_converts_infers_and_attaches_ucf101_names(tiny_checkpoint, tmp_path, capsys):
    path, net = tiny_checkpoint
    out = tmp_path / "models" / "tiny.keras"
    code = convert_module.main(["--checkpoint", str(path), "--out", str(out),
                                "--input-size", "32"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "num_segments=4 (from file name)" in printed
    assert "dataset='ucf101' (from file name)" in printed
    names = class_names_for(out)
    assert names[0] == "ApplyEyeMakeup" and names[-1] == "YoYo"
    sidecar = json.loads((tmp_path / "models" / "tiny.labels.json").read_text())
    assert sidecar["model_config"]["arch"] == "resnet_tiny"
    assert not list(out.parent.glob(".*tmp*"))  # atomic write left no temporary file

    import keras

    model = keras.saving.load_model(out, compile=False)
    clips = random_clips(2, 4, 32, seed=5)
    with torch.no_grad():
        expected = net(clips).numpy()
    np.testing.assert_allclose(np.asarray(model(to_keras_clips(clips))), expected, atol=1e-4)


def test_cli_reports_errors_without_traceback(tmp_path, capsys):
    code = convert_module.main(["--checkpoint", str(tmp_path / "nope.pth"),
                                "--out", str(tmp_path / "x.keras")])
    assert code == 2
    assert "Checkpoint not found" in capsys.readouterr().err


def test_imagenet_backbone_needs_num_classes(tmp_path):
    net = ResNet("resnet_tiny", num_classes=1000)
    path = tmp_path / "tiny-imagenet.pth"
    torch.save(net.state_dict(), path)
    with pytest.raises(ValueError, match="--num-classes"):
        convert_checkpoint(path, input_size=32)

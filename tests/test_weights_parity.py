"""Numerical parity: reference-layout PyTorch checkpoints -> Keras models give the same logits.

The PyTorch side is the independent reference in ``test_weights_reference_nets.py``, randomly
initialised with non-trivial BatchNorm statistics and saved in the reference checkpoint
layout. float32, eval mode, reduced input sizes.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch (the 'torch' extra) is not installed")

from test_weights_reference_nets import (  # noqa: E402
    MobileNetV2,
    ReferenceTSN,
    ResNet,
    TemporalPoolWrapper,
    add_mobilenet_shift,
    add_non_local,
    add_resnet_shift,
    random_clips,
    randomize,
    save_reference_checkpoint,
    to_keras_clips,
)

import tsm_tf  # noqa: E402
from tsm_tf.models import StreamingTSM  # noqa: E402
from tsm_tf.weights import class_names_for, convert_checkpoint, load_labels  # noqa: E402

# float32 against PyTorch's float32: 1e-4 on logits up to 10 in magnitude, and 1e-5 of the
# largest logit above that (a deep network with random weights can give logits near 100, where
# 1e-4 is 1.2e-6 relative: float32 round-off of a different summation order).
TOLERANCE = 1e-4
LOGIT_SCALE = 10.0
R50_K400_NAME = "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e50.pth"


def _torch_logits(model, clips):
    with torch.no_grad():
        return model(clips).numpy()


def _max_diff(keras_model, torch_model, clips) -> float:
    """Max |logit difference|, scaled down by the largest logit over ``LOGIT_SCALE`` when the
    logits are larger than that (see TOLERANCE)."""
    expected = _torch_logits(torch_model, clips)
    got = np.asarray(keras_model(to_keras_clips(clips), training=False))
    assert got.shape == expected.shape
    scale = float(np.max(np.abs(expected)))
    print(f"(max |logit| {scale:.2f})", end=" ")
    return float(np.max(np.abs(got - expected))) / max(1.0, scale / LOGIT_SCALE)


@pytest.fixture(scope="module")
def r50_checkpoint(tmp_path_factory):
    """A TSM-ResNet-50, 8 frames, 400 classes, saved under the published checkpoint's name."""
    torch.manual_seed(0)
    base = ResNet("resnet50")
    add_resnet_shift(base, 8)
    net = ReferenceTSN(base, 400, 8)
    clips = random_clips(1, 8, 64)
    randomize(net, seed=3, calibrate_input=random_clips(2, 8, 64, seed=7))
    path = tmp_path_factory.mktemp("r50") / R50_K400_NAME
    save_reference_checkpoint(net, path)
    return path, net, clips


@pytest.mark.slow
def test_tsm_resnet50_8f_matches_pytorch(r50_checkpoint, tmp_path, capsys):
    path, net, clips = r50_checkpoint
    out = tmp_path / "tsm_r50.keras"
    result = convert_checkpoint(path, out, input_size=64, verbose=True)
    assert result.config["arch"] == "resnet50" and result.config["num_segments"] == 8
    diff = _max_diff(result.model, net, clips)
    print(f"max |logit diff| TSM-R50 8f: {diff:.2e}")
    assert diff <= TOLERANCE
    # The saved model reloads without custom objects and carries the Kinetics class names.
    reloaded = keras.saving.load_model(out, compile=False)
    assert _max_diff(reloaded, net, clips) <= TOLERANCE
    assert class_names_for(out) == load_labels("kinetics400")
    assert "preset 'tsm_resnet50_kinetics400'" in capsys.readouterr().out


@pytest.mark.slow
def test_create_model_with_a_reference_checkpoint_needs_no_other_flags(r50_checkpoint):
    path, net, clips = r50_checkpoint
    model = tsm_tf.create_model("tsm_resnet50", weights=path, input_size=64)
    assert model.tsm_config["num_classes"] == 400
    assert model.class_names[0] == "abseiling"
    assert _max_diff(model, net, clips) <= TOLERANCE
    with pytest.raises(ValueError, match="tsm_resnet50"):
        tsm_tf.create_model("tsn_resnet50", weights=path, input_size=64)
    with pytest.raises(ValueError, match="resnet50 weights"):
        tsm_tf.create_model("tsm_mobilenetv2", weights=path, input_size=64)


@pytest.mark.slow
def test_tsm_mobilenetv2_8f_matches_pytorch(tmp_path):
    base = MobileNetV2()
    add_mobilenet_shift(base, 8)
    net = ReferenceTSN(base, 174, 8)
    randomize(net, seed=5, calibrate_input=random_clips(2, 8, 64, seed=8))
    path = tmp_path / "TSM_something_RGB_mobilenetv2_shift8_blockres_avg_segment8_e45.pth"
    save_reference_checkpoint(net, path, arch="mobilenetv2")
    result = convert_checkpoint(path, input_size=64)
    assert result.config["arch"] == "mobilenetv2"
    assert result.dataset == "something_v1" and len(result.class_names) == 174
    diff = _max_diff(result.model, net, random_clips(2, 8, 64))
    print(f"max |logit diff| TSM-MobileNetV2 8f: {diff:.2e}")
    assert diff <= TOLERANCE


@pytest.mark.slow
def test_resnet101_every_other_block_matches_pytorch(tmp_path):
    base = ResNet("resnet101")
    add_resnet_shift(base, 4, every=2)
    net = ReferenceTSN(base, 174, 4)
    randomize(net, seed=11, calibrate_input=random_clips(2, 4, 64, seed=9))
    path = tmp_path / "TSM_somethingv2_RGB_resnet101_shift8_blockres_avg_segment4_e45.pth"
    save_reference_checkpoint(net, path, arch="resnet101")
    result = convert_checkpoint(path, input_size=64)
    assert result.config["num_segments"] == 4 and result.dataset == "something_v2"
    diff = _max_diff(result.model, net, random_clips(1, 4, 64))
    print(f"max |logit diff| TSM-R101 every other block: {diff:.2e}")
    assert diff <= TOLERANCE


@pytest.mark.slow
def test_non_local_resnet50_matches_pytorch(tmp_path):
    base = ResNet("resnet50")
    add_resnet_shift(base, 4)
    add_non_local(base, 4)
    net = ReferenceTSN(base, 400, 4)
    randomize(net, seed=13, calibrate_input=random_clips(2, 4, 64, seed=10))
    path = tmp_path / "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment4_e100_dense_nl.pth"
    save_reference_checkpoint(net, path)
    result = convert_checkpoint(path, input_size=64)
    assert result.config["non_local"] is True
    # The non-local blocks really act (their output BN is not the zero-initialised no-op).
    assert np.abs(result.model.get_layer("layer2_0_nl_W_1").get_weights()[0]).min() > 0.1
    diff = _max_diff(result.model, net, random_clips(1, 4, 64))
    print(f"max |logit diff| TSM-R50 non-local: {diff:.2e}")
    assert diff <= TOLERANCE


@pytest.mark.slow
def test_temporal_pool_resnet50_matches_pytorch(tmp_path):
    base = ResNet("resnet50")
    add_resnet_shift(base, 8, temporal_pool=True)
    base.layer2 = TemporalPoolWrapper(base.layer2, 8)
    net = ReferenceTSN(base, 400, 8, temporal_pool=True)
    randomize(net, seed=17, calibrate_input=random_clips(2, 8, 64, seed=12))
    path = tmp_path / "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e50_tpool.pth"
    save_reference_checkpoint(net, path)
    result = convert_checkpoint(path, input_size=64)
    assert result.config["temporal_pool"] is True
    diff = _max_diff(result.model, net, random_clips(1, 8, 64))
    print(f"max |logit diff| TSM-R50 temporal pool: {diff:.2e}")
    assert diff <= TOLERANCE


def test_in_place_shift_resnet_matches_pytorch(tmp_path):
    base = ResNet("resnet_tiny")
    add_resnet_shift(base, 4, place="block")
    net = ReferenceTSN(base, 10, 4)
    randomize(net, seed=19, calibrate_input=random_clips(2, 4, 64, seed=13))
    path = tmp_path / "inplace.pth"
    save_reference_checkpoint(net, path)
    result = convert_checkpoint(path, input_size=64, num_segments=4)
    assert result.config["shift_place"] == "block"
    assert _max_diff(result.model, net, random_clips(2, 4, 64)) <= TOLERANCE


@pytest.mark.slow
def test_online_jester_mobilenetv2_streams_like_the_pytorch_demo(tmp_path):
    net = MobileNetV2(num_classes=27)
    frames = random_clips(1, 10, 64, seed=21)[0]  # [T, 3, H, W]
    randomize(net, seed=23, calibrate_input=frames)
    path = tmp_path / "mobilenetv2_jester_online.pth.tar"
    torch.save(net.state_dict(), path)  # the online demo's raw layout
    result = convert_checkpoint(path, tmp_path / "online.keras", input_size=64, streaming=True)
    streaming = result.model
    assert isinstance(streaming, StreamingTSM) and result.config["shift"] == "unidirectional"
    assert class_names_for(tmp_path / "online.keras")[2] == "No gesture"

    caches = [torch.zeros(1, block.conv[0].in_channels // 8, *size)
              for block, size in zip(net.shifted_blocks(),
                                     [(16, 16)] + [(8, 8)] * 2 + [(4, 4)] * 5 + [(2, 2)] * 2,
                                     strict=True)]
    states = streaming.init_states()
    assert sorted(v.shape[-1] for v in states.values()) == sorted(c.shape[1] for c in caches)
    worst = 0.0
    for frame in frames:
        with torch.no_grad():
            expected, caches = net.forward_online(frame[None], caches)
        image = frame.numpy().transpose(1, 2, 0)[None]
        outputs = streaming({"image": image, **states})
        states = {k: np.asarray(v) for k, v in outputs.items() if k != "logits"}
        worst = max(worst, float(np.max(np.abs(np.asarray(outputs["logits"]) - expected.numpy()))))
    print(f"max |logit diff| online MobileNetV2, 10 frames: {worst:.2e}")
    assert worst <= TOLERANCE


@pytest.mark.slow
def test_torchvision_imagenet_resnet50_backbone_features_match(tmp_path):
    net = ResNet("resnet50", num_classes=1000)
    images = random_clips(1, 4, 64, seed=31)
    randomize(net, seed=37, calibrate_input=random_clips(1, 16, 64, seed=32)[0])
    path = tmp_path / "resnet50-imagenet.pth"
    torch.save(net.state_dict(), path)  # torchvision layout: conv1, bn1, layerX.Y.*, fc
    result = convert_checkpoint(path, input_size=64, num_classes=10, shift="none",
                                num_segments=4)
    assert result.layout == "imagenet" and result.class_names is None
    features = keras.Model(result.model.inputs, result.model.get_layer("avgpool").output)
    got = np.asarray(features(to_keras_clips(images)))
    with torch.no_grad():
        expected = net.features(images[0]).numpy()
    # Relative to the feature scale: ReLU features of a random ResNet-50 reach tens.
    diff = float(np.max(np.abs(got - expected)) / np.max(np.abs(expected)))
    print(f"max |feature diff| / max |feature| ImageNet ResNet-50: {diff:.2e} "
          f"(max |feature| {np.max(np.abs(expected)):.1f})")
    assert diff <= TOLERANCE
    assert result.model.get_layer("fc").kernel.shape == (2048, 10)


@pytest.mark.slow
def test_torchvision_layout_mobilenetv2_backbone_features_match(tmp_path):
    net = MobileNetV2(num_classes=1000)
    images = random_clips(1, 2, 64, seed=41)
    randomize(net, seed=43, calibrate_input=images[0])
    # Rename to torchvision's MobileNetV2 layout (ConvBNReLU blocks, classifier.1).
    renamed = {}
    for key, value in net.state_dict().items():
        parts = key.split(".")
        if parts[0] == "features" and parts[2] == "conv":
            block = net.features[int(parts[1])]
            table = ({"0": "0.0", "1": "0.1", "3": "1.0", "4": "1.1", "6": "2", "7": "3"}
                     if block.expanded else {"0": "0.0", "1": "0.1", "3": "1", "4": "2"})
            parts[3] = table[parts[3]]
        elif parts[0] == "classifier":
            parts.insert(1, "1")
        renamed[".".join(parts)] = value
    path = tmp_path / "mobilenet_v2-torchvision.pth"
    torch.save(renamed, path)
    tsn = convert_checkpoint(path, input_size=64, num_classes=5, num_segments=2, shift="none")
    features = keras.Model(tsn.model.inputs, tsn.model.get_layer("avgpool").output)
    got = np.asarray(features(to_keras_clips(images)))
    with torch.no_grad():
        expected = net.forward_features(images[0]).numpy()
    diff = float(np.max(np.abs(got - expected)) / np.max(np.abs(expected)))
    print(f"max |feature diff| / max |feature| torchvision MobileNetV2: {diff:.2e}")
    assert diff <= TOLERANCE

"""``--weights`` with a torchvision-layout ImageNet checkpoint initialises the backbone."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is needed to write an ImageNet state dict")

from test_weights_reference_nets import ResNet, randomize  # noqa: E402

import tsm_tf  # noqa: E402
from tsm_tf.train.init_weights import load_initial_weights  # noqa: E402


def test_imagenet_state_dict_initialises_the_backbone_with_a_new_classifier(tmp_path):
    net = randomize(ResNet("resnet18", num_classes=1000), seed=2)
    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(net.state_dict(), path)
    model = tsm_tf.create_model("tsm_resnet18", num_classes=7, num_segments=4, input_size=64)
    fc_before = model.get_layer("fc").get_weights()[0].copy()
    report = load_initial_weights(model, path, dataset="custom")
    assert "conv1" in report["loaded"] and "fc" not in report["loaded"]
    # conv weights [O, I, kh, kw] -> [kh, kw, I, O], taken from the PyTorch file itself
    expected = net.conv1.weight.detach().numpy().transpose(2, 3, 1, 0)
    np.testing.assert_array_equal(model.get_layer("conv1").get_weights()[0], expected)
    bn = net.layer4[1].bn2
    np.testing.assert_array_equal(model.get_layer("layer4_1_bn2").get_weights()[2],
                                  bn.running_mean.numpy())
    np.testing.assert_array_equal(model.get_layer("fc").get_weights()[0], fc_before)

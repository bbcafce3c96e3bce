"""Multiply-add counts, checked against closed-form figures worked out by hand."""

import tsm_tf
from tsm_tf.profile import layer_macs, model_cost


def test_conv_and_dense_macs_match_closed_form():
    model = tsm_tf.create_model("tsm_resnet50", num_classes=400, num_segments=2, batch_size=1)
    # 7x7 stem conv, 3 -> 64 channels, 112x112 output, 2 frames
    assert layer_macs(model.get_layer("conv1")) == 2 * 112 * 112 * 64 * 7 * 7 * 3
    # depthwise-free bottleneck 3x3: layer2_0_conv2 128 -> 128, stride 2, 28x28 output
    assert layer_macs(model.get_layer("layer2_0_conv2")) == 2 * 28 * 28 * 128 * 3 * 3 * 128
    assert layer_macs(model.get_layer("fc")) == 2 * 2048 * 400
    mobilenet = tsm_tf.create_model("tsm_mobilenetv2", num_classes=10, num_segments=1,
                                    batch_size=1)
    # features.1 depthwise 3x3 on 32 channels at 112x112
    assert layer_macs(mobilenet.get_layer("features_1_conv_0")) == 112 * 112 * 32 * 3 * 3


def test_tsm_adds_zero_macs_and_cost_scales_with_frames():
    tsm = model_cost(tsm_tf.create_model("tsm_resnet50", num_classes=400, num_segments=8))
    tsn = model_cost(tsm_tf.create_model("tsn_resnet50", num_classes=400, num_segments=8))
    one = model_cost(tsm_tf.create_model("tsn_resnet50", num_classes=400, num_segments=1))
    assert tsm == tsn
    assert tsm["macs"] == 8 * one["macs"]
    assert round(tsm["macs"] / 1e9) == 33  # the paper: 33G for TSM-R50 8 frames at 224
    assert abs(one["macs"] / 1e9 - 4.1) < 0.05  # ResNet-50: 4.1 GMACs per 224x224 image


def test_non_local_attention_macs():
    model = tsm_tf.create_model("tsm_resnet50", num_classes=5, num_segments=4, input_size=64,
                                non_local=True, batch_size=1)
    attention = model.get_layer("layer2_0_nl_attention")
    # layer2 at 64 px: 8x8 positions, keys 4x4 after pooling, 512 / 2 inter channels, 4 frames
    queries, keys, inter = 4 * 8 * 8, 4 * 4 * 4, 256
    assert layer_macs(attention) == 2 * queries * keys * inter

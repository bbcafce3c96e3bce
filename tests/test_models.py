"""Model structure: parameter counts, where the shift sits, serialization, training."""

import keras
import numpy as np
import pytest
from shift_reference import numpy_shift

import tsm_tf
from tsm_tf.layers import TemporalShift
from tsm_tf.models import TSM


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def shift_layers(model):
    return [layer for layer in model.layers if isinstance(layer, TemporalShift)]


@pytest.mark.parametrize("arch", tsm_tf.models.ARCHITECTURES)
def test_tsm_has_exactly_the_parameters_of_tsn(arch):
    kwargs = dict(num_classes=11, num_segments=4, input_size=64)
    tsm = tsm_tf.create_model(f"tsm_{arch}", **kwargs)
    tsn = tsm_tf.create_model(f"tsn_{arch}", **kwargs)
    assert shift_layers(tsm) and not shift_layers(tsn)
    assert tsm.count_params() == tsn.count_params()
    assert trainable_count(tsm) == trainable_count(tsn)


def test_published_parameter_counts():
    resnet50 = tsm_tf.create_model("tsm_resnet50", num_classes=400, num_segments=8)
    assert trainable_count(resnet50) == 24_327_632  # the paper's 24.3M
    mobilenet = tsm_tf.create_model("tsm_mobilenetv2", num_classes=27, num_segments=8)
    classifier = 1280 * 27 + 27
    assert trainable_count(mobilenet) - classifier == 2_223_872


def block_names(blocks_per_stage, every=1):
    return [f"layer{stage}_{block}_shift"
            for stage, count in enumerate(blocks_per_stage, start=1)
            for block in range(0, count, every)]


@pytest.mark.parametrize(
    "arch,expected",
    [
        ("resnet50", block_names((3, 4, 6, 3))),
        # every other block, as the reference does when layer3 has >= 23 blocks
        ("resnet101", block_names((3, 4, 23, 3), every=2)),
        ("mobilenetv2", [f"features_{i}_shift" for i in (3, 5, 6, 8, 9, 10, 12, 13, 15, 16)]),
    ],
)
def test_shifted_blocks(arch, expected):
    model = tsm_tf.create_model(f"tsm_{arch}", num_classes=5, num_segments=4, input_size=64)
    assert [layer.name for layer in shift_layers(model)] == expected


def test_residual_shift_sits_before_the_first_conv_and_spares_the_identity():
    model = tsm_tf.create_model("tsm_resnet50", num_classes=5, num_segments=4, input_size=64)
    block_input = model.get_layer("layer1_1_shift").input
    assert model.get_layer("layer1_1_conv1").input is model.get_layer("layer1_1_shift").output
    # layer1_1 has an identity shortcut: the Add takes the unshifted block input.
    add_inputs = model.get_layer("layer1_1_add").input
    assert any(t is block_input for t in add_inputs)
    assert all(t is not model.get_layer("layer1_1_shift").output for t in add_inputs)
    # The block input is the previous block's output.
    assert block_input is model.get_layer("layer1_0_out").output
    # MobileNetV2: before the 1x1 expansion conv.
    mobilenet = tsm_tf.create_model("tsm_mobilenetv2", num_classes=5, num_segments=4,
                                    input_size=64)
    assert (mobilenet.get_layer("features_3_conv_0").input
            is mobilenet.get_layer("features_3_shift").output)


def _block_output_with_dead_residual(shift_place):
    """Run one identity-shortcut block whose residual branch is zeroed (bn3 gamma = beta = 0):
    its output is then relu(shortcut input), which shows what the shortcut carries."""
    model = tsm_tf.create_model("tsm_resnet_tiny", num_classes=3, num_segments=4, input_size=64,
                                shift_place=shift_place, shift_div=4)
    bn = model.get_layer("layer1_0_bn2")
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([np.zeros_like(gamma), np.zeros_like(beta), mean, var])
    probe = keras.Model(model.input, [model.get_layer("maxpool").output,
                                      model.get_layer("layer1_0_out").output])
    clips = np.random.default_rng(0).normal(size=(2, 4, 64, 64, 3)).astype("float32")
    block_input, block_output = (np.asarray(a) for a in probe(clips))
    return block_input, block_output


def test_in_place_shift_shifts_the_shortcut_and_residual_shift_does_not():
    block_input, residual_out = _block_output_with_dead_residual("blockres")
    np.testing.assert_allclose(residual_out, np.maximum(block_input, 0), atol=1e-6)
    block_input, inplace_out = _block_output_with_dead_residual("block")
    shifted = numpy_shift(block_input, 4, 4, "bidirectional")
    np.testing.assert_allclose(inplace_out, np.maximum(shifted, 0), atol=1e-6)
    assert not np.allclose(inplace_out, np.maximum(block_input, 0))


def test_temporal_pool_halves_time_with_reference_windows():
    model = tsm_tf.create_model("tsm_resnet50", num_classes=5, num_segments=8, input_size=64,
                                temporal_pool=True)
    assert model.get_layer("layer2_0_shift").num_segments == 4
    assert model.get_layer("layer1_0_shift").num_segments == 8
    assert model.frame_logits_model().output.shape[1] == 4
    pool = model.get_layer("temporal_pool")
    x = np.random.default_rng(1).uniform(size=(16, 2, 2, 3)).astype("float32")  # 2 clips x 8
    got = np.asarray(pool(x)).reshape(2, 4, 2, 2, 3)
    clips = x.reshape(2, 8, 2, 2, 3)
    for out_t, window in enumerate([(0, 1), (1, 2, 3), (3, 4, 5), (5, 6, 7)]):
        np.testing.assert_array_equal(got[:, out_t], clips[:, list(window)].max(axis=1))


def test_non_local_blocks_are_placed_and_start_as_identity():
    model = tsm_tf.create_model("tsm_resnet50", num_classes=5, num_segments=4, input_size=64,
                                non_local=True)
    names = sorted(layer.name[: -len("_attention")] for layer in model.layers
                   if layer.name.endswith("_attention"))
    assert names == ["layer2_0_nl", "layer2_2_nl", "layer3_0_nl", "layer3_2_nl", "layer3_4_nl"]
    probe = keras.Model(model.input, [model.get_layer("layer2_0_out").output,
                                      model.get_layer("layer2_0_nl_add").output])
    before, after = probe(np.random.default_rng(2).normal(size=(1, 4, 64, 64, 3)))
    np.testing.assert_allclose(np.asarray(after), np.asarray(before), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs,argument",
    [
        (dict(shift_div=1), "shift_div"),
        (dict(num_segments=0), "num_segments"),
        (dict(shift="forward"), "shift"),
        (dict(shift_place="middle"), "shift_place"),
        (dict(non_local=True, arch="resnet18"), "non_local"),
        (dict(input_size=16), "input_size"),
        (dict(num_classes=0), "num_classes"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs, argument):
    kwargs = {"arch": "resnet_tiny", "num_classes": 3, **kwargs}
    with pytest.raises(ValueError, match=f"`{argument}`"):
        TSM(**kwargs)


def test_unknown_model_name_lists_the_accepted_names():
    with pytest.raises(ValueError, match="tsm_resnet50"):
        tsm_tf.create_model("tsm_resnet5")


def test_keras_file_round_trip_without_custom_objects(tmp_path):
    model = tsm_tf.create_model("tsm_resnet_tiny", num_classes=4, num_segments=4, input_size=32,
                                non_local=False, temporal_pool=True, shift_div=4)
    clips = np.random.default_rng(3).normal(size=(2, 4, 32, 32, 3)).astype("float32")
    expected = model.predict(clips, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is TSM
    assert restored.tsm_config == model.tsm_config
    np.testing.assert_array_equal(restored.predict(clips, verbose=0), expected)


def _initial_kernels(seed):
    keras.utils.set_random_seed(seed)
    model = tsm_tf.create_model("tsm_resnet_tiny", num_classes=4, num_segments=4, input_size=32)
    return {w.path: np.asarray(w) for w in model.weights if "kernel" in w.path}


def test_initial_weights_follow_the_seed_and_differ_between_layers():
    first, again, other = _initial_kernels(5), _initial_kernels(5), _initial_kernels(6)
    for path, value in first.items():
        np.testing.assert_array_equal(again[path], value, err_msg=path)
        assert not np.array_equal(other[path], value), f"{path} ignores the seed"
    kernels = list(first.items())
    for i, (path, value) in enumerate(kernels):
        for other_path, other_value in kernels[i + 1:]:
            same = value.shape == other_value.shape and np.array_equal(value, other_value)
            assert not same, f"{path} and {other_path} start identical"


def test_one_training_step_reduces_the_loss():
    keras.utils.set_random_seed(0)
    model = tsm_tf.create_model("tsm_resnet_tiny", num_classes=4, num_segments=4, input_size=32,
                                dropout=0.0)
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(4)
    clips = rng.normal(size=(8, 4, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 4, size=8)
    before = model.evaluate(clips, labels, verbose=0)
    model.train_on_batch(clips, labels)
    after = model.evaluate(clips, labels, verbose=0)
    assert after < before


def test_mixed_precision_forward():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = tsm_tf.create_model("tsm_mobilenetv2", num_classes=6, num_segments=4,
                                    input_size=64)
        assert model.get_layer("features_3_shift").compute_dtype == "float16"
        logits = model.predict(np.ones((1, 4, 64, 64, 3), "float32"), verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert logits.dtype == np.float32 and logits.shape == (1, 6)
    assert np.all(np.isfinite(logits))


def test_copy_weights_refuses_a_different_architecture():
    plain = tsm_tf.create_model("tsm_resnet50", num_classes=3, num_segments=4, input_size=64)
    with_non_local = tsm_tf.create_model("tsm_resnet50", num_classes=3, num_segments=4,
                                         input_size=64, non_local=True)
    with pytest.raises(ValueError, match="only in the source"):
        tsm_tf.models.copy_weights_by_name(with_non_local, plain)
    with pytest.raises(ValueError, match="only in the target"):
        tsm_tf.models.copy_weights_by_name(plain, with_non_local)
    other_classes = tsm_tf.create_model("tsm_resnet50", num_classes=5, num_segments=4,
                                        input_size=64)
    with pytest.raises(ValueError, match="'fc'"):
        tsm_tf.models.copy_weights_by_name(plain, other_classes)


def test_in_place_shift_covers_every_block_even_on_resnet101():
    model = tsm_tf.create_model("tsm_resnet101", num_classes=5, num_segments=4, input_size=64,
                                shift_place="block")
    assert [layer.name for layer in shift_layers(model)] == block_names((3, 4, 23, 3))

"""``--weights`` loads strictly: missing, unexpected and other-shape layers are listed and
refused unless ``--allow-partial`` accepts that kind; what was loaded is reported."""

import keras
import numpy as np
import pytest

from tsm_tf.models import TSM
from tsm_tf.train.cli import config_from_args
from tsm_tf.train.init_weights import (
    WeightsMismatchError,
    describe_load,
    load_initial_weights,
)


def _tsm(seed=0):
    keras.utils.set_random_seed(seed)
    return TSM("resnet_tiny", num_classes=4, num_segments=2, input_size=32, dropout=0.0)


def _file_with(tmp_path, name, layers):
    """A plain Keras model holding only ``layers`` (built from the TSM's own layer configs)."""
    inp = keras.Input((32, 32, 3))
    outs = []
    for layer_cls, config, in_ch in layers:
        x = inp if in_ch == 3 else keras.layers.Conv2D(in_ch, 1, name=f"adapt_{config['name']}")(
            inp)
        outs.append(keras.layers.GlobalAveragePooling2D()(layer_cls.from_config(config)(x)))
    model = keras.Model(inp, outs)
    path = tmp_path / name
    model.save(path)
    return path, model


def test_full_tsm_file_loads_every_layer(tmp_path):
    src = _tsm(seed=1)
    src.save(tmp_path / "src.keras")
    model = _tsm(seed=2)
    report = load_initial_weights(model, tmp_path / "src.keras", dataset="custom")
    assert report["missing"] == report["unexpected"] == report["mismatched"] == []
    assert report["new"] == []
    for a, b in zip(model.get_weights(), src.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert "loaded" in describe_load("src.keras", report)


def test_missing_layers_are_refused_then_allowed(tmp_path):
    model = _tsm()
    conv1 = model.get_layer("conv1")
    path, src = _file_with(tmp_path, "part.keras",
                           [(type(conv1), conv1.get_config(), 3)])
    # the file's adapter layer is unexpected too; only conv1 matches
    with pytest.raises(WeightsMismatchError) as e:
        load_initial_weights(model, path, dataset="custom")
    msg = str(e.value)
    assert "missing from the file" in msg and "layer1_0_conv1" in msg
    assert "--allow-partial missing" in msg and "part.keras" in msg
    before = model.get_layer("layer1_0_conv1").get_weights()[0].copy()
    report = load_initial_weights(model, path, dataset="custom", allow_partial=["missing"])
    assert report["loaded"] == ["conv1"] and "layer1_0_conv1" in report["missing"]
    assert report["new"] == ["fc"]  # a non-TSM file is a backbone: the classifier starts afresh
    np.testing.assert_array_equal(model.get_layer("conv1").get_weights()[0],
                                  src.get_layer("conv1").get_weights()[0])
    np.testing.assert_array_equal(model.get_layer("layer1_0_conv1").get_weights()[0], before)
    assert "missing, kept random (allowed)" in describe_load(str(path), report)


def test_shape_mismatch_and_unexpected_layers_are_listed(tmp_path):
    model = _tsm()
    conv1 = model.get_layer("conv1").get_config()
    wider = {**conv1, "filters": conv1["filters"] * 2}
    extra = {**conv1, "name": "not_in_the_model"}
    path, _ = _file_with(tmp_path, "other.keras", [(keras.layers.Conv2D, wider, 3),
                                                   (keras.layers.Conv2D, extra, 3)])
    kinds = ["missing"]
    with pytest.raises(WeightsMismatchError) as e:
        load_initial_weights(model, path, dataset="custom", allow_partial=kinds)
    msg = str(e.value)
    assert "with other shapes: conv1" in msg and "not_in_the_model" in msg
    assert "--allow-partial unexpected,shape" in msg and "missing from the file" not in msg
    # everything accepted, but then nothing at all matches: still an error
    with pytest.raises(ValueError, match="no layer name matches"):
        load_initial_weights(model, path, dataset="custom",
                             allow_partial=["missing", "unexpected", "shape"])


def test_cli_allow_partial_kinds():
    assert config_from_args(["--allow-partial"]).allow_partial == [
        "missing", "unexpected", "shape"]
    assert config_from_args(["--allow-partial", "missing,shape"]).allow_partial == [
        "missing", "shape"]
    from tsm_tf.train.config import resolve_config

    with pytest.raises(ValueError, match="allow-partial"):
        resolve_config(config_from_args(["--allow-partial", "everything"]))

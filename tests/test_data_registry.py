"""Dataset registry: the entries carry the facts of each dataset and the reference recipes."""

from __future__ import annotations

import json

import pytest

from tsm_tf.data.registry import DatasetSpec, get_dataset_spec, list_datasets

EXPECTED = {
    # name: (classes, frame file of frame 7, flip allowed)
    "kinetics400": (400, "img_00007.jpg", True),
    "ucf101": (101, "img_00007.jpg", True),
    "hmdb51": (51, "img_00007.jpg", True),
    "something_v1": (174, "00007.jpg", False),
    "something_v2": (174, "000007.jpg", False),
    "jester": (27, "00007.jpg", False),
    "synthetic": (8, "img_00007.jpg", False),
}


def test_names():
    assert set(list_datasets()) == {*EXPECTED, "custom"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_entries(name):
    spec = get_dataset_spec(name)
    classes, frame7, flip = EXPECTED[name]
    assert spec.name == name
    assert spec.num_classes == classes
    assert spec.frame_name(7) == frame7
    assert spec.allow_flip is flip
    r = spec.recipe
    for key in ("epochs", "lr", "lr_steps", "batch_size", "dropout", "weight_decay",
                "partial_bn", "clip_grad_norm", "lr_schedule"):
        assert key in r
    json.dumps(spec.to_dict())  # serialisable for run configs


def test_reference_recipes_and_protocols():
    k = get_dataset_spec("kinetics400")
    assert (k.recipe["lr"], k.recipe["batch_size"], tuple(k.recipe["lr_steps"]),
            k.recipe["epochs"], k.recipe["clip_grad_norm"]) == (0.02, 128, (20, 40), 50, 20.0)
    assert k.sampling == "dense" and k.test_views() == (10, 3, True)
    u = get_dataset_spec("ucf101")
    assert (u.recipe["lr"], u.recipe["dropout"], u.recipe["partial_bn"]) == (0.001, 0.8, True)
    s1 = get_dataset_spec("something_v1")
    assert (s1.recipe["lr"], s1.recipe["batch_size"], s1.recipe["epochs"]) == (0.01, 64, 50)
    assert s1.test_views() == (1, 1, False)
    syn = get_dataset_spec("synthetic")
    assert (syn.recipe["epochs"], syn.recipe["lr"], syn.recipe["batch_size"],
            syn.recipe["dropout"]) == (10, 3e-3, 16, 0.2)  # as documented in docs/training.md


def test_ssv2_flip_map_is_mmaction2_swap():
    m = get_dataset_spec("something_v2").flip_label_map
    assert m == {86: 87, 87: 86, 93: 94, 94: 93, 166: 167, 167: 166}
    assert get_dataset_spec("something_v1").flip_label_map is None


def test_overrides_merge_and_do_not_leak():
    s = get_dataset_spec("kinetics400", num_classes=10, recipe={"lr": 0.1})
    assert s.num_classes == 10 and s.recipe["lr"] == 0.1 and s.recipe["batch_size"] == 128
    assert get_dataset_spec("kinetics400").recipe["lr"] == 0.02
    s.recipe["lr"] = 5.0  # a caller mutating its copy does not change the registry
    assert get_dataset_spec("kinetics400").recipe["lr"] == 0.02
    assert get_dataset_spec("synthetic", num_classes=4).num_classes == 4
    with pytest.raises(ValueError, match="Unknown DatasetSpec field"):
        get_dataset_spec("jester", colour="red")


def test_custom_needs_classes_and_template():
    s = get_dataset_spec("custom", num_classes=3, frame_template="f{:03d}.png")
    assert isinstance(s, DatasetSpec) and s.frame_name(2) == "f002.png"
    with pytest.raises(ValueError, match="num_classes"):
        get_dataset_spec("custom", frame_template="{:05d}.jpg")
    with pytest.raises(ValueError, match="frame_template"):
        get_dataset_spec("custom", num_classes=3, frame_template="no_placeholder.jpg {x}")


def test_unknown_name_lists_accepted_names():
    with pytest.raises(ValueError) as e:
        get_dataset_spec("kinetics700")
    for name in EXPECTED:
        assert name in str(e.value)


def test_bad_fields_rejected():
    with pytest.raises(ValueError, match="sampling"):
        get_dataset_spec("jester", sampling="random")
    with pytest.raises(ValueError, match="test_protocol"):
        get_dataset_spec("jester", test_protocol="many")
    with pytest.raises(ValueError, match="symmetric"):
        get_dataset_spec("jester", flip_label_map={1: 2})

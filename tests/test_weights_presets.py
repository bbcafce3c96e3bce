"""Presets (the reference model zoo), the file-name grammar, and the label files."""

from __future__ import annotations

import pytest

from tsm_tf.weights import (
    DATASETS,
    PRESETS,
    class_names_for,
    find_preset,
    load_labels,
    parse_checkpoint_name,
    write_sidecar,
)
from tsm_tf.weights.convert import is_torch_weights, resolve_weights_path

# Published top-1 from the facts file (paper / reference README), by preset.
FACTS_TOP1 = {
    "tsm_resnet50_kinetics400_dense": 74.1,
    "tsn_resnet50_kinetics400": 70.6,
    "tsm_mobilenetv2_kinetics400_dense": 69.5,
    "tsm_resnet50_nl_kinetics400_dense": 75.6,
    "tsm_resnet50_something_v1": 45.6,
    "tsm_resnet50_something_v1_16f": 47.2,
    "tsm_resnet50_something_v2": 61.2,
    "tsm_resnet50_something_v2_16f": 63.1,
}


def test_label_files_have_the_official_counts_and_unique_names():
    expected = {"kinetics400": 400, "ucf101": 101, "hmdb51": 51, "something_v1": 174,
                "something_v2": 174, "jester": 27}
    assert DATASETS == expected
    for dataset, count in expected.items():
        names = load_labels(dataset)
        assert len(names) == count == len(set(names)), dataset
        assert all(name == name.strip() and name for name in names)


def test_label_orders_spot_checks():
    jester = load_labels("jester")  # the facts file's index list
    assert (jester[0], jester[2], jester[14], jester[26]) == (
        "Doing other things", "No gesture", "Stop Sign", "Zooming Out With Two Fingers")
    ucf = load_labels("ucf101")  # classInd.txt: 1 ApplyEyeMakeup ... 101 YoYo
    assert (ucf[0], ucf[35], ucf[100]) == ("ApplyEyeMakeup", "HammerThrow", "YoYo")
    kinetics = load_labels("kinetics400")
    assert (kinetics[0], kinetics[399]) == ("abseiling", "zumba")
    for dataset in ("something_v1", "something_v2", "hmdb51"):
        names = load_labels(dataset)
        assert names == sorted(names), dataset  # the reference sorts these


def test_unknown_dataset_is_named():
    with pytest.raises(ValueError, match="kinetics400"):
        load_labels("kinetics600")


def test_sidecar_roundtrip_and_absence(tmp_path):
    model = tmp_path / "m.keras"
    assert class_names_for(model) is None
    write_sidecar(model, ["a", "b"], dataset=None)
    assert class_names_for(model) == ["a", "b"]
    assert class_names_for(tmp_path / "m.tflite") == ["a", "b"]  # same stem, same sidecar
    (tmp_path / "bad.labels.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.labels.json"):
        class_names_for(tmp_path / "bad.keras")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_file_names_follow_the_grammar(name):
    preset = PRESETS[name]
    assert find_preset(f"/downloads/{preset.file_name}") is preset
    assert preset.num_classes == DATASETS[preset.dataset]
    parsed = parse_checkpoint_name(preset.file_name)
    if preset.layout == "online":
        assert parsed is None
        return
    assert parsed["arch"] == preset.arch and parsed["dataset"] == preset.dataset
    assert parsed["non_local"] == preset.non_local
    assert (parsed["shift"] == "none") == (preset.shift == "none")
    if preset.shift != "none":  # the TSN file was trained with 5 segments, tested with 8
        assert parsed["num_segments"] == preset.num_segments
    assert parsed["dense"] == (preset.sampling == "dense")


def test_published_accuracy_matches_the_facts():
    for name, top1 in FACTS_TOP1.items():
        assert top1 in PRESETS[name].published_top1.values(), name


def test_grammar_reads_every_field():
    parsed = parse_checkpoint_name(
        "/x/TSM_somethingv2_RGB_resnet101_shift4_block_avg_segment16_e45_dense_nl.pth.tar")
    assert parsed == {
        "dataset": "something_v2", "modality": "RGB", "arch": "resnet101",
        "shift": "bidirectional", "shift_div": 4, "shift_place": "block", "num_segments": 16,
        "epochs": 45, "dense": True, "non_local": True, "temporal_pool": False,
    }
    assert parse_checkpoint_name("my_model.pth") is None


def test_preset_names_resolve_to_files_or_explain_the_download(tmp_path, monkeypatch):
    monkeypatch.setenv("TSM_TF_WEIGHTS", str(tmp_path))
    preset = PRESETS["tsm_online_mobilenetv2_jester"]
    assert is_torch_weights(preset.name) and is_torch_weights("x.pth.tar")
    assert not is_torch_weights("x.keras")
    with pytest.raises(FileNotFoundError, match="hanlab.mit.edu"):
        resolve_weights_path(preset.name)
    (tmp_path / preset.file_name).write_bytes(b"")
    assert resolve_weights_path(preset.name) == tmp_path / preset.file_name

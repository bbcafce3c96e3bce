"""Where class names come from: caller, model sidecar, classes.txt, packaged label files."""

from __future__ import annotations

import pytest

from tsm_tf.evaluate.labels import resolve_class_names
from tsm_tf.weights import write_sidecar


def test_order_of_sources(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    (root / "classes.txt").write_text("# header\nwalk\nrun\n\njump\n")
    model_path = tmp_path / "m.keras"
    # classes.txt of the root (comments and blank lines skipped)
    assert resolve_class_names(3, root=str(root)) == (["walk", "run", "jump"],
                                                       str(root / "classes.txt"))
    # a sidecar next to the model wins over the dataset folder
    write_sidecar(model_path, ["a", "b", "c"], dataset=None)
    names, source = resolve_class_names(3, model_path=str(model_path), root=str(root))
    assert names == ["a", "b", "c"] and "sidecar" in source
    # names given by the caller win over everything
    assert resolve_class_names(3, names=["x", "y", "z"], model_path=str(model_path))[0] == [
        "x", "y", "z"]
    with pytest.raises(ValueError, match="2 class names given for a model with 3"):
        resolve_class_names(3, names=["x", "y"])


def test_wrong_count_is_skipped_and_packaged_labels(tmp_path):
    (tmp_path / "classes.txt").write_text("only\ntwo\n")
    names, source = resolve_class_names(27, root=str(tmp_path), dataset="jester")
    assert source.endswith("jester.txt")
    assert names[0] == "Doing other things" and names[26] == "Zooming Out With Two Fingers"
    assert resolve_class_names(4, root=str(tmp_path)) == (["0", "1", "2", "3"], "indices")


def test_list_file_folder_is_searched(tmp_path):
    (tmp_path / "classes.txt").write_text("p\nq\n")
    names, _ = resolve_class_names(2, list_file=str(tmp_path / "val.txt"))
    assert names == ["p", "q"]

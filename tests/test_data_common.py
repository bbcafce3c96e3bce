"""The shared low-level pieces (tsm_tf.common) and the one-implementation rule: constants,
argument checks, the progress line, layer names as constants / accessors, validate_config."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import numpy as np
import pytest

import tsm_tf
from tsm_tf.common import (
    IMAGENET_MEAN,
    Progress,
    check_choice,
    is_torch_checkpoint_path,
    strip_checkpoint_suffix,
)

PACKAGE = Path(tsm_tf.__file__).parent


def _definitions(kind, name):
    """``(file, line)`` of every definition of ``name`` in the package (class, function or
    module-level assignment)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if kind == "assign" and isinstance(node, ast.Assign):
                if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                    found.append((path.relative_to(PACKAGE).as_posix(), node.lineno))
            elif kind == "def" and isinstance(node, ast.FunctionDef | ast.ClassDef):
                if node.name == name:
                    found.append((path.relative_to(PACKAGE).as_posix(), node.lineno))
    return found


@pytest.mark.parametrize("kind, name, where", [
    ("assign", "IMAGENET_MEAN", "common/constants.py"),
    ("assign", "IMAGENET_STD", "common/constants.py"),
    ("assign", "TORCH_CHECKPOINT_SUFFIXES", "common/constants.py"),
    ("def", "Progress", "common/progress.py"),
    ("def", "check_choice", "common/validation.py"),
    ("def", "save_model_atomic", "io_utils.py"),
    ("def", "resolve_spec", "data/registry.py"),
    ("def", "synthetic_root", "common/paths.py"),
])
def test_one_implementation(kind, name, where):
    assert [f for f, _ in _definitions(kind, name)] == [where]
    assert not _definitions("def", "_check_choice") and not _definitions("def", "_resolve_spec")


def test_no_checkpoint_suffix_list_elsewhere():
    """No other tuple literal of PyTorch checkpoint endings in the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "constants.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Tuple):
                values = [e.value for e in node.elts if isinstance(e, ast.Constant)]
                assert not {".pth", ".pth.tar"} <= set(values), (path, node.lineno)


def test_constants_and_suffixes():
    assert IMAGENET_MEAN == (0.485, 0.456, 0.406)
    assert strip_checkpoint_suffix("a.pth.tar") == "a" and strip_checkpoint_suffix("b.pth") == "b"
    assert strip_checkpoint_suffix("c.keras") == "c" and strip_checkpoint_suffix("d.tar") == "d"
    assert is_torch_checkpoint_path("X.PTH") and not is_torch_checkpoint_path("x.keras")


def test_check_choice_names_the_argument_or_flag():
    check_choice("shift", "none", ("none", "bidirectional"))
    with pytest.raises(ValueError, match=r"^`shift` must be one of \('a', 'b'\). Received: 'c'$"):
        check_choice("shift", "c", ("a", "b"))
    with pytest.raises(ValueError, match=r"^--lr-schedule must be one of"):
        check_choice("lr_schedule", "linear", ("step", "cosine"), flag=True)


def test_progress_line_is_throttled_and_forced_at_the_end():
    out = io.StringIO()
    p = Progress(total=10, unit="videos", label="test", every=3600.0, stream=out)
    p.update(3)  # within the interval: nothing
    assert out.getvalue() == ""
    p.update(10, force=True)
    line = out.getvalue().strip()
    assert line.startswith("test: 10/10 videos, ") and "videos/s" in line and "ETA 0s" in line
    quiet = io.StringIO()
    Progress(total=1, enabled=False, stream=quiet).update(1, force=True)
    assert quiet.getvalue() == ""
    described = io.StringIO()
    Progress(total=5, unit="clips", every=0.0, stream=described,
             describe=lambda: "[frames] 2/5 clips").update(2)
    assert described.getvalue().startswith("[frames] 2/5 clips (")


def test_validate_config_takes_the_config():
    from tsm_tf.models.tsm import validate_config

    good = dict(arch="resnet_tiny", num_classes=4, num_segments=4, shift="unidirectional")
    validate_config(good)
    with pytest.raises(ValueError, match="`arch` must be one of"):
        validate_config(good | {"arch": "vgg"})
    with pytest.raises(ValueError, match="`num_classes` must be a positive integer"):
        validate_config(good | {"num_classes": 0})
    with pytest.raises(ValueError, match="`non_local` blocks exist"):
        validate_config(good | {"non_local": True})
    with pytest.raises(ValueError, match="`dropout` must be in"):
        tsm_tf.models.TSM("resnet_tiny", num_classes=4, num_segments=4, dropout=1.5,
                          input_size=32)


def test_layer_names_are_constants_and_accessors():
    from tsm_tf.models import CLASSIFIER_LAYER, FRAME_LOGITS_LAYER, POOL_LAYER, TSM

    model = TSM("resnet_tiny", num_classes=5, num_segments=2, input_size=64)
    assert model.classifier is model.get_layer(CLASSIFIER_LAYER)
    assert model.classifier.kernel.shape[-1] == 5
    assert model.get_layer(POOL_LAYER) is not None
    clips = np.random.default_rng(0).normal(size=(3, 2, 64, 64, 3)).astype("float32")
    features, frames = model.feature_maps_model()(clips, training=False)
    assert tuple(features.shape[:1]) == (6,) and tuple(frames.shape) == (3, 2, 5)
    # the per-frame logits are the classifier applied to the pooled features
    pooled = np.asarray(features).mean(axis=(1, 2))
    kernel, bias = (np.asarray(w) for w in model.classifier.weights)
    np.testing.assert_allclose(np.asarray(frames).reshape(6, 5), pooled @ kernel + bias,
                               rtol=1e-4, atol=1e-4)
    assert model.get_layer(FRAME_LOGITS_LAYER).output.shape[-1] == 5

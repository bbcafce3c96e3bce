"""Target recipes: the packaged file loads, bad files and names fail clearly, the doc shows the
table generated from the data."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tsm_tf.export.targets import (
    IO_TYPES,
    MODES,
    QUANTIZATIONS,
    REQUIRED_KEYS,
    default_targets_path,
    load_target,
    load_targets,
    recipe_table_markdown,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "edgetpu.md"


def test_packaged_recipes_cover_every_target_with_every_key():
    targets = load_targets()
    assert list(targets) == ["host", "note8", "pixel1", "edgetpu", "rpi4", "jetson_nano"]
    for name, recipe in targets.items():
        assert set(REQUIRED_KEYS) <= set(recipe), name


def test_edgetpu_recipe_is_streaming_full_integer_with_integer_io():
    recipe = load_target("edgetpu")
    assert recipe["quantization"] == "int8"
    assert recipe["io"] in ("uint8", "int8")
    assert recipe["mode"] == "streaming"
    assert recipe["delegate"] == "edgetpu"


def test_phone_recipes_pin_the_big_cores():
    assert load_target("note8")["cpu_mask"] == "f0"
    assert load_target("pixel1")["cpu_mask"] == "c"
    assert load_target("host")["cpu_mask"] is None


def test_unknown_target_lists_the_known_ones():
    with pytest.raises(ValueError, match="Unknown target 'pixel9'") as info:
        load_target("pixel9")
    for name in ("host", "note8", "pixel1", "edgetpu", "rpi4", "jetson_nano"):
        assert name in str(info.value)


def test_load_target_returns_a_copy():
    load_target("host")["threads"] = 99
    assert load_target("host")["threads"] == 2


def test_edgetpu_requires_what_it_cannot_run_without():
    requires = load_target("edgetpu")["requires"]
    assert requires["mode"] == ["streaming"] and requires["quantization"] == ["int8"]
    assert set(requires["io"]) <= {"uint8", "int8"}


@pytest.mark.parametrize("name", list(load_targets()))
def test_converter_builds_what_each_recipe_says(name):
    """`--target NAME` alone gives the recipe's mode, precision and I/O type."""
    from tsm_tf.export.exporter import ExportOptions, _plan

    recipe = load_target(name)
    mode, plan, _, target = _plan(ExportOptions(precisions=(), target=name, verbose=False),
                                  model=object())
    io = recipe["io"] if recipe["quantization"] == "int8" else "float32"
    assert (target, mode, plan) == (name, recipe["mode"], [(recipe["quantization"], io)])


@pytest.mark.parametrize("name", [n for n, r in load_targets().items() if r.get("requires")])
def test_converter_refuses_every_override_outside_requires(name):
    """Each value a recipe's `requires` leaves out is refused; every allowed one passes."""
    from tsm_tf.export.exporter import ExportError, ExportOptions, _plan

    recipe = load_target(name)
    choices = {"quantization": QUANTIZATIONS, "io": IO_TYPES, "mode": MODES}

    def options(key, value):
        override = {"quantization": recipe["quantization"], "io": recipe["io"],
                    "mode": recipe["mode"], key: value}
        io = override["io"] if override["quantization"] == "int8" else None
        return ExportOptions(precisions=(override["quantization"],), io=io,
                             mode=override["mode"], target=name, verbose=False)

    for key, allowed in recipe.get("requires", {}).items():
        for value in choices[key]:
            if key == "io" and recipe["quantization"] != "int8" and value != "float32":
                continue  # an integer boundary needs a full-integer model
            if value in allowed:
                _plan(options(key, value), model=object())
            else:
                with pytest.raises(ExportError, match=f"needs {key} in"):
                    _plan(options(key, value), model=object())


def write_recipes(tmp_path, recipes):
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(recipes), encoding="utf-8")
    return path


def valid_recipe(**changes):
    return {"description": "d", "quantization": "int8", "io": "uint8", "mode": "streaming",
            "threads": 4, "delegate": "xnnpack", "abi": "arm64-v8a", "cpu_mask": "f0",
            "notes": "", **changes}


@pytest.mark.parametrize("changes, message", [
    ({"quantization": "int4"}, "quantization must be one of"),
    ({"delegate": "coreml"}, "delegate must be one of"),
    ({"threads": 0}, "threads must be a positive integer"),
    ({"cpu_mask": 240}, "cpu_mask must be a quoted hex string"),
    ({"cpu_mask": "big"}, "is not hexadecimal"),
    ({"quantization": "float32"}, "io 'uint8' needs quantization int8"),
    ({"requires": {"mode": ["offline"]}}, "outside requires"),
])
def test_bad_recipe_names_the_file_target_and_key(tmp_path, changes, message):
    path = write_recipes(tmp_path, {"phone": valid_recipe(**changes)})
    with pytest.raises(ValueError, match=message) as info:
        load_targets(path)
    assert str(path) in str(info.value) and "'phone'" in str(info.value)


def test_missing_key_and_unreadable_file(tmp_path):
    recipe = valid_recipe()
    del recipe["abi"]
    with pytest.raises(ValueError, match=r"lacks \['abi'\]"):
        load_targets(write_recipes(tmp_path, {"phone": recipe}))
    with pytest.raises(FileNotFoundError, match="Cannot read the target recipes"):
        load_targets(tmp_path / "absent.yaml")


def test_table_has_one_row_per_target_with_its_values():
    table = recipe_table_markdown()
    lines = table.strip().splitlines()
    targets = load_targets()
    assert len(lines) == 2 + len(targets)
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    for line, (name, recipe) in zip(lines[2:], targets.items(), strict=True):
        cells = dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True))
        assert cells["target"] == f"`{name}`"
        assert cells["quantization"] == recipe["quantization"]
        assert cells["I/O"] == recipe["io"]
        assert cells["threads"] == str(recipe["threads"])
        assert cells["big cores (taskset)"] == (recipe["cpu_mask"] or "-")


def test_documented_table_is_the_generated_one():
    assert recipe_table_markdown() in DOC.read_text(encoding="utf-8"), (
        "docs/edgetpu.md is out of date: paste tsm_tf.export.targets.recipe_table_markdown()"
    )


def test_loader_knows_the_converter_precisions_and_imports_no_tensorflow():
    from tsm_tf.export.convert import QUANTIZATIONS
    from tsm_tf.export.targets import QUANTIZATIONS as RECIPE_QUANTIZATIONS

    assert RECIPE_QUANTIZATIONS == QUANTIZATIONS
    code = ("import sys; from tsm_tf.export.targets import load_targets; load_targets(); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_recipes_ship_as_package_data():
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert "export/targets.yaml" in pyproject
    assert default_targets_path().is_file()

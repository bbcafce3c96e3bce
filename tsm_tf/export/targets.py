"""Deployment recipes per target (``targets.yaml``): one data file for the converter's
``--target`` and the benchmark harness's device profiles, and the documented table made from it.

Example:
    >>> load_target("edgetpu")["quantization"]
    'int8'
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import yaml

# The converter's precisions (tsm_tf.export.convert.QUANTIZATIONS, checked equal by a test),
# repeated here so that reading recipes imports no TensorFlow.
QUANTIZATIONS = ("float32", "float16", "dynamic", "int8")
IO_TYPES = ("float32", "int8", "uint8")
MODES = ("offline", "streaming")
DELEGATES = ("xnnpack", "gpu", "nnapi", "edgetpu", "none")
REQUIRED_KEYS = ("description", "quantization", "io", "mode", "threads", "delegate", "abi",
                 "cpu_mask", "notes")
_CHOICES = {"quantization": QUANTIZATIONS, "io": IO_TYPES, "mode": MODES, "delegate": DELEGATES}
_TABLE_COLUMNS = (("target", None), ("quantization", "quantization"), ("I/O", "io"),
                  ("mode", "mode"), ("threads", "threads"), ("delegate", "delegate"),
                  ("ABI", "abi"), ("big cores (taskset)", "cpu_mask"),
                  ("device", "description"))


def default_targets_path() -> Path:
    """The recipes shipped with the package."""
    return Path(str(resources.files("tsm_tf.export").joinpath("targets.yaml")))


def load_targets(path: str | os.PathLike | None = None) -> dict[str, dict]:
    """Every recipe, by target name, validated (``path`` defaults to the packaged file)."""
    path = Path(path) if path is not None else default_targets_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise FileNotFoundError(f"Cannot read the target recipes {path}: {error}") from None
    except yaml.YAMLError as error:
        raise ValueError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path} must map target names to recipes; it holds {type(data).__name__}")
    return {str(name): _validated(path, str(name), recipe) for name, recipe in data.items()}


def load_target(name: str, path: str | os.PathLike | None = None) -> dict:
    """One recipe; an unknown ``name`` raises a ``ValueError`` listing the known targets."""
    targets = load_targets(path)
    if name not in targets:
        raise ValueError(f"Unknown target {name!r}. Known targets: {', '.join(targets)}.")
    return dict(targets[name])


def recipe_table_markdown(targets: dict[str, dict] | None = None) -> str:
    """The recipes as a markdown table (the one in docs/edgetpu.md), rows in file order."""
    targets = load_targets() if targets is None else targets
    header = "| " + " | ".join(title for title, _ in _TABLE_COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in _TABLE_COLUMNS) + "|"
    rows = []
    for name, recipe in targets.items():
        cells = [f"`{name}`"]
        for _, key in _TABLE_COLUMNS[1:]:
            value = recipe[key]
            cells.append("-" if value is None else str(value))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join([header, rule, *rows]) + "\n"


def _validated(path: Path, name: str, recipe) -> dict:
    where = f"{path}: target {name!r}"
    if not isinstance(recipe, dict):
        raise ValueError(f"{where} must be a mapping of recipe keys")
    missing = [key for key in REQUIRED_KEYS if key not in recipe]
    if missing:
        raise ValueError(f"{where} lacks {missing}; every recipe needs {list(REQUIRED_KEYS)}")
    for key, choices in _CHOICES.items():
        if recipe[key] not in choices:
            raise ValueError(f"{where}: {key} must be one of {choices}, not {recipe[key]!r}")
    if not isinstance(recipe["threads"], int) or isinstance(recipe["threads"], bool) \
            or recipe["threads"] < 1:
        raise ValueError(f"{where}: threads must be a positive integer, not {recipe['threads']!r}")
    mask = recipe["cpu_mask"]
    if mask is not None:
        if not isinstance(mask, str):
            raise ValueError(f"{where}: cpu_mask must be a quoted hex string such as \"f0\", "
                             f"not {mask!r}")
        try:
            int(mask, 16)
        except ValueError:
            raise ValueError(f"{where}: cpu_mask {mask!r} is not hexadecimal") from None
    requires = recipe.get("requires", {})
    if not isinstance(requires, dict) or not all(isinstance(v, list) for v in requires.values()):
        raise ValueError(f"{where}: requires must map option names to lists of allowed values")
    for key, allowed in requires.items():
        if key not in recipe:
            raise ValueError(f"{where}: requires names {key!r}, which is not a recipe key")
        if recipe[key] not in allowed:
            raise ValueError(
                f"{where}: its own {key} {recipe[key]!r} is outside requires {allowed}"
            )
    _check_io(where, recipe)
    return dict(recipe)


def _check_io(where: str, recipe: dict) -> None:
    if recipe["quantization"] != "int8" and recipe["io"] != "float32":
        raise ValueError(f"{where}: io {recipe['io']!r} needs quantization int8 "
                         f"(a {recipe['quantization']} model has float32 inputs and outputs)")

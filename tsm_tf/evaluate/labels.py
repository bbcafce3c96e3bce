"""Class names for reports and plots.

Looked up in order: names given by the caller; the names stored with the model by the weight
importer (``tsm_tf.weights``, when available); a ``classes.txt`` (one name per line, label
order) in the dataset root or next to the list file; the dataset's label file shipped in
``tsm_tf/labels/``; else the label indices as strings.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib import resources


def read_names(path: str | os.PathLike) -> list[str]:
    """Non-empty lines of a UTF-8 text file, stripped."""
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def _packaged_label_file(label_file: str | None) -> list[str] | None:
    if not label_file:
        return None
    try:
        ref = resources.files("tsm_tf").joinpath("labels", label_file)
        if ref.is_file():
            return [line.strip() for line in ref.read_text("utf-8").splitlines() if line.strip()]
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        return None
    return None


def _model_names(model_path: str | None, num_classes: int) -> list[str] | None:
    """Names the weight importer recorded for this model, if that module is installed."""
    if not model_path:
        return None
    try:
        from tsm_tf import weights  # noqa: F401  (optional, written separately)
    except ImportError:
        return None
    getter = getattr(weights, "class_names_for_model", None) or getattr(
        weights, "get_class_names", None
    )
    if getter is None:
        return None
    try:
        names = getter(model_path)
    except (OSError, ValueError, KeyError):
        return None
    return list(names) if names and len(names) == num_classes else None


def resolve_class_names(
    num_classes: int,
    *,
    names: Sequence[str] | None = None,
    model_path: str | None = None,
    root: str | None = None,
    list_file: str | None = None,
    label_file: str | None = None,
) -> tuple[list[str], str]:
    """``(names, source)``: ``num_classes`` class names and where they came from.

    A source with the wrong number of names is skipped (never silently mislabels a class).

    Example:
        >>> resolve_class_names(3)
        (['0', '1', '2'], 'indices')
    """
    if names is not None:
        names = list(names)
        if len(names) != num_classes:
            raise ValueError(
                f"{len(names)} class names given for a model with {num_classes} classes"
            )
        return names, "given"
    found = _model_names(model_path, num_classes)
    if found:
        return found, f"model {model_path}"
    for folder in (root, os.path.dirname(os.path.abspath(list_file)) if list_file else None):
        if not folder:
            continue
        path = os.path.join(folder, "classes.txt")
        if os.path.isfile(path):
            found = read_names(path)
            if len(found) == num_classes:
                return found, path
    found = _packaged_label_file(label_file)
    if found and len(found) == num_classes:
        return found, f"tsm_tf/labels/{label_file}"
    return [str(i) for i in range(num_classes)], "indices"

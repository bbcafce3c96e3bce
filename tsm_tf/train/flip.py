"""``--flip-label-map FILE``: the classes a horizontal flip turns into each other.

One pair per line, ``a b`` (or ``a,b``), each a class index or a class name; ``#`` starts a
comment. Names are looked up in the dataset's label file (``tsm_tf/labels``) or, for custom
and synthetic sets, in ``<root>/classes.txt`` (one name per line, label order). Quote names
with spaces (``"Swiping Left" "Swiping Right"``). Every pair is swapped both ways.

Example (needs a dataset or a model, so not run as a doctest)::
    read_flip_label_map("flip.txt", num_classes=8, class_names=["moving_left", ...])
    {0: 1, 1: 0}
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence


def class_names_for(dataset: str, root: str | None) -> list[str] | None:
    """Class names of a registry dataset, else ``<root>/classes.txt`` if present."""
    from tsm_tf.weights.labels import DATASETS, load_labels

    if dataset in DATASETS:
        return load_labels(dataset)
    path = os.path.join(root, "classes.txt") if root else None
    if path and os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    return None


def read_flip_label_map(path: str | os.PathLike, num_classes: int,
                        class_names: Sequence[str] | None = None) -> dict[int, int]:
    """Parse ``path`` into a symmetric ``{label: flipped label}`` map; ``ValueError`` naming the
    file and line for anything it cannot use."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--flip-label-map file not found: {path}")
    index = {name: i for i, name in enumerate(class_names or ())}
    mapping: dict[int, int] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            where = f"{path}:{lineno}"
            parts = shlex.split(line.replace(",", " "))
            if len(parts) != 2:
                raise ValueError(f"{where}: expected two classes 'a b', got {raw.strip()!r}")
            a, b = (_label(p, index, num_classes, where) for p in parts)
            for x, y in ((a, b), (b, a)):
                if mapping.get(x, y) != y:
                    raise ValueError(f"{where}: class {x} is already paired with {mapping[x]}")
                mapping[x] = y
    return mapping


def _label(token: str, index: dict[str, int], num_classes: int, where: str) -> int:
    if token.lstrip("-").isdigit():
        label = int(token)
        if not 0 <= label < num_classes:
            raise ValueError(f"{where}: class {label} outside [0, {num_classes})")
        return label
    if token in index:
        return index[token]
    hint = ("use class indices, or put the class names in <root>/classes.txt" if not index
            else "check the spelling against the dataset's class names")
    raise ValueError(f"{where}: unknown class name {token!r}: {hint}")

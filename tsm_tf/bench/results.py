"""Result rows: the same fields for every device, appended to a CSV file and a JSON list.

One row per model per run. ``measure`` says what the time covers: ``app`` (the model call plus
the hand-over of the caches to the next frame, what an application pays), ``call`` (the model
call alone), ``benchmark_model`` (the TFLite binary's own loop, random inputs, no hand-over).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from tsm_tf.io_utils import atomic_write_json, atomic_write_text

RESULT_FIELDS = (
    "timestamp", "device", "backend", "model", "role", "measure", "quantization", "threads",
    "delegate", "model_size_mb", "init_ms", "first_ms", "mean_ms", "median_ms", "p90_ms", "fps",
    "overhead_pct", "baseline", "runs", "warmup", "rounds", "memory_mb", "status", "note",
)


def json_path_for(csv_path: str | os.PathLike) -> Path:
    """The JSON file kept beside a results CSV: ``results.csv`` -> ``results.json``."""
    return Path(csv_path).with_suffix(".json")


def read_results(csv_path: str | os.PathLike) -> list[dict]:
    """Rows of a results CSV as dicts (numbers as float, empty cells as ``None``).

    Raises:
        FileNotFoundError, ValueError: missing file, or a CSV without the result columns.
    """
    path = Path(csv_path)
    if not path.is_file():
        raise FileNotFoundError(f"No results file {path}: run mobile/benchmark.py --results {path}")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"device", "model", "mean_ms"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(
                f"{path} is not a benchmark results CSV (no columns {sorted(missing)})")
        return [{key: _number(value) for key, value in row.items()} for row in reader]


def _number(value):
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return value


def check_results_files(csv_path: str | os.PathLike) -> tuple[str, list]:
    """The current CSV text and JSON rows of a results pair, checked appendable (call it before
    a long benchmark so a bad file fails first, not after the measurements).

    Raises:
        ValueError: a CSV with other columns, or a JSON beside it that is not a list of rows.
    """
    path = Path(csv_path)
    previous = path.read_text(encoding="utf-8") if path.is_file() else ""
    if previous and not previous.startswith(",".join(RESULT_FIELDS)):
        raise ValueError(
            f"{path} has other columns than this harness writes; pass another --results file."
        )
    json_path = json_path_for(path)
    existing: list = []
    if json_path.is_file():
        try:
            existing = json.loads(json_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{json_path} is not valid JSON ({error}); move it away or pass "
                             "another --results file.") from None
        if not isinstance(existing, list):
            raise ValueError(f"{json_path} is not a list of result rows; move it away or pass "
                             "another --results file.")
    return previous, existing


def append_results(csv_path: str | os.PathLike, rows: list[dict]) -> None:
    """Append ``rows`` to the CSV (header written once) and to the JSON list beside it.

    Both files are checked before either is written, and each is rewritten atomically, so an
    interrupted run never leaves a half row and the two never disagree because one was bad.
    Unknown keys are refused (one schema for every device).
    """
    if not rows:
        return
    for row in rows:
        unknown = set(row) - set(RESULT_FIELDS)
        if unknown:
            raise ValueError(f"Unknown result fields {sorted(unknown)}; known: {RESULT_FIELDS}")
    path = Path(csv_path)
    previous, existing = check_results_files(path)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RESULT_FIELDS, lineterminator="\n")
    if not previous:
        writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(row.get(key)) for key in RESULT_FIELDS})
    atomic_write_text(path, previous + buffer.getvalue())
    existing.extend({key: row.get(key) for key in RESULT_FIELDS} for row in rows)
    atomic_write_json(json_path_for(path), existing)


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value

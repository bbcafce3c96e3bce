"""Readers for the official annotation files of the six datasets.

Each reader returns ``(clips, class_names)``: ``clips`` is a list of :class:`AnnotatedClip`
(``clip_id``: output name, ``source``: the video file or frame folder relative to the
dataset's video root, ``label``: 0-based), ``class_names[label]`` is the class name.

Formats:

- Kinetics: CSV with header ``label,youtube_id,time_start,time_end,split[,is_cc]``; clips
  are ``{youtube_id}_{start:06d}_{end:06d}.*`` anywhere under the video root; classes sorted.
- Something-Something V2: JSON list of ``{"id", "template", ...}``; the label is the
  template without brackets looked up in ``something-something-v2-labels.json``
  (``{name: "index"}``); videos ``{id}.webm``.
- Something-Something V1 and Jester: ``id;class name`` lines, classes from the labels CSV
  (one name per line) sorted alphabetically; frames shipped in folders ``{id}/``.
- UCF101: ``trainlistNN.txt`` (``Class/v_x.avi 1-based-label``) or ``testlistNN.txt``
  (``Class/v_x.avi``) with ``classInd.txt`` (``index name``) beside them.
- HMDB51: folder of ``{class}_test_split{k}.txt`` files with ``video.avi tag`` lines
  (1 = train, 2 = test, 0 = unused); classes sorted; videos ``{class}/{video}``.
"""

from __future__ import annotations

import csv
import glob
import json
import os
import re
from dataclasses import dataclass

from tsm_tf.data.errors import DataError
from tsm_tf.data.listfile import VIDEO_EXTENSIONS


@dataclass(frozen=True)
class AnnotatedClip:
    clip_id: str
    source: str
    label: int


def _bad(path: str, lineno: int, msg: str) -> DataError:
    return DataError(f"{path}:{lineno}: {msg}", "bad_annotation")


def _read_lines(path: str) -> list[tuple[int, str]]:
    if not os.path.isfile(path):
        raise DataError(f"annotation file not found: {path}", "missing_annotation")
    with open(path, encoding="utf-8") as f:
        return [(i, ln.strip()) for i, ln in enumerate(f, 1) if ln.strip()]


def _names_file(path: str | None, default_dir: str, pattern: str, what: str) -> str:
    if path:
        return path
    hits = sorted(glob.glob(os.path.join(default_dir, pattern)))
    if not hits:
        raise DataError(f"no {what} found beside the annotations in {default_dir} "
                        f"(expected {pattern}); pass --labels PATH", "missing_annotation")
    return hits[0]


# -- Kinetics ------------------------------------------------------------------------------
def kinetics_clip_id(youtube_id: str, start: float, end: float) -> str:
    return f"{youtube_id}_{int(float(start)):06d}_{int(float(end)):06d}"


def index_videos(videos_dir: str) -> dict[str, str]:
    """``{file stem: path relative to videos_dir}`` of every video under ``videos_dir``."""
    out: dict[str, str] = {}
    for dirpath, _, files in os.walk(videos_dir):
        for name in files:
            stem, ext = os.path.splitext(name)
            if ext.lower() in VIDEO_EXTENSIONS:
                out.setdefault(stem, os.path.relpath(os.path.join(dirpath, name), videos_dir))
    return out


def read_kinetics(csv_path: str, videos_dir: str, class_names: list[str] | None = None
                  ) -> tuple[list[AnnotatedClip], list[str]]:
    """Kinetics CSV. Clips whose video is not under ``videos_dir`` keep ``source=''``."""
    if not os.path.isfile(csv_path):
        raise DataError(f"annotation file not found: {csv_path}", "missing_annotation")
    with open(csv_path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise DataError(f"{csv_path}: empty annotation file", "bad_annotation")
    header = [h.strip() for h in rows[0]]
    need = ("label", "youtube_id", "time_start", "time_end")
    if any(k not in header for k in need):
        raise _bad(csv_path, 1, f"expected a header with {', '.join(need)}; got {header}")
    col = {k: header.index(k) for k in need}
    entries = []
    for lineno, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) < len(header):
            raise _bad(csv_path, lineno, f"expected {len(header)} fields, got {len(row)}")
        try:
            cid = kinetics_clip_id(row[col["youtube_id"]], row[col["time_start"]],
                                   row[col["time_end"]])
        except ValueError as e:
            raise _bad(csv_path, lineno, f"bad time_start/time_end: {e}") from e
        entries.append((lineno, row[col["label"]].strip(), cid))
    names = class_names or sorted({name for _, name, _ in entries})
    lookup = {n: i for i, n in enumerate(names)}
    videos = index_videos(videos_dir)
    clips = []
    for lineno, name, cid in entries:
        if name not in lookup:
            raise _bad(csv_path, lineno, f"class {name!r} not in the class list")
        clips.append(AnnotatedClip(cid, videos.get(cid, ""), lookup[name]))
    return clips, names


# -- Something-Something V2 ----------------------------------------------------------------
def read_something_v2(json_path: str, labels_json: str | None = None
                      ) -> tuple[list[AnnotatedClip], list[str]]:
    labels_json = _names_file(labels_json, os.path.dirname(json_path) or ".", "*labels.json",
                              "something-something-v2-labels.json")
    try:
        with open(labels_json, encoding="utf-8") as f:
            name_to_idx = {k: int(v) for k, v in json.load(f).items()}
        with open(json_path, encoding="utf-8") as f:
            items = json.load(f)
    except FileNotFoundError as e:
        raise DataError(f"annotation file not found: {e.filename}", "missing_annotation") from e
    except (json.JSONDecodeError, ValueError, AttributeError) as e:
        raise DataError(f"{json_path} / {labels_json}: not Something-Something V2 JSON: {e}",
                        "bad_annotation") from e
    names = [n for n, _ in sorted(name_to_idx.items(), key=lambda kv: kv[1])]
    clips = []
    for k, item in enumerate(items):
        try:
            vid = str(item["id"])
            name = item["template"].replace("[", "").replace("]", "")
        except (KeyError, TypeError, AttributeError) as e:
            raise DataError(f"{json_path}: item #{k} lacks 'id'/'template'", "bad_annotation"
                            ) from e
        if name not in name_to_idx:
            raise DataError(f"{json_path}: item #{k} (id {vid}): template {name!r} is not in "
                            f"{labels_json}", "bad_annotation")
        clips.append(AnnotatedClip(vid, f"{vid}.webm", name_to_idx[name]))
    return clips, names


# -- Something-Something V1 / Jester -------------------------------------------------------
def read_semicolon_csv(csv_path: str, labels_csv: str | None = None
                       ) -> tuple[list[AnnotatedClip], list[str]]:
    """``id;class name`` lines (Something V1, Jester); classes sorted alphabetically."""
    labels_csv = _names_file(labels_csv, os.path.dirname(csv_path) or ".", "*labels.csv",
                             "labels CSV (e.g. jester-v1-labels.csv)")
    names = sorted({ln for _, ln in _read_lines(labels_csv)})
    lookup = {n: i for i, n in enumerate(names)}
    clips = []
    for lineno, text in _read_lines(csv_path):
        vid, sep, name = text.partition(";")
        if not sep or not vid.strip():
            raise _bad(csv_path, lineno, f"expected 'id;class name', got {text!r}")
        name = name.strip()
        if name not in lookup:
            raise _bad(csv_path, lineno, f"class {name!r} not in {labels_csv}")
        clips.append(AnnotatedClip(vid.strip(), vid.strip(), lookup[name]))
    return clips, names


# -- UCF101 --------------------------------------------------------------------------------
def read_ucf101(split_file: str, class_ind: str | None = None
                ) -> tuple[list[AnnotatedClip], list[str]]:
    class_ind = _names_file(class_ind, os.path.dirname(split_file) or ".", "classInd.txt",
                            "classInd.txt")
    names_by_idx = {}
    for lineno, text in _read_lines(class_ind):
        parts = text.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise _bad(class_ind, lineno, f"expected 'index ClassName', got {text!r}")
        names_by_idx[int(parts[0])] = parts[1]
    names = [names_by_idx[k] for k in sorted(names_by_idx)]
    lookup = {n: i for i, n in enumerate(names)}
    clips = []
    for lineno, text in _read_lines(split_file):
        parts = text.split()
        rel = parts[0]
        folder = rel.replace("\\", "/").split("/")[0]
        if len(parts) == 2:
            if not parts[1].isdigit() or int(parts[1]) - 1 not in range(len(names)):
                raise _bad(split_file, lineno, f"label {parts[1]!r} not in 1..{len(names)}")
            label = int(parts[1]) - 1
        elif len(parts) == 1 and folder in lookup:
            label = lookup[folder]
        else:
            raise _bad(split_file, lineno, f"expected 'Class/video.avi [label]', got {text!r}")
        clips.append(AnnotatedClip(os.path.splitext(rel)[0], rel, label))
    return clips, names


# -- HMDB51 --------------------------------------------------------------------------------
_HMDB_RE = re.compile(r"^(?P<cls>.+)_test_split(?P<k>\d)\.txt$")


def read_hmdb51(split_dir: str, split: int = 1, subset: str = "train"
                ) -> tuple[list[AnnotatedClip], list[str]]:
    if not os.path.isdir(split_dir):
        raise DataError(f"HMDB51 split folder not found: {split_dir} (the folder of "
                        "*_test_split1.txt files)", "missing_annotation")
    files = {}
    for name in os.listdir(split_dir):
        m = _HMDB_RE.match(name)
        if m and int(m.group("k")) == split:
            files[m.group("cls")] = os.path.join(split_dir, name)
    if not files:
        raise DataError(f"no *_test_split{split}.txt files in {split_dir}", "missing_annotation")
    tag = {"train": "1", "val": "2", "test": "2"}[subset]
    names = sorted(files)
    clips = []
    for label, cls in enumerate(names):
        for lineno, text in _read_lines(files[cls]):
            parts = text.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise _bad(files[cls], lineno, f"expected 'video.avi 0|1|2', got {text!r}")
            if parts[1] == tag:
                clips.append(AnnotatedClip(f"{cls}/{os.path.splitext(parts[0])[0]}",
                                           f"{cls}/{parts[0]}", label))
    return clips, names


def read_annotations(dataset: str, annotations: str, videos_dir: str,
                     labels: str | None = None, split: int = 1, subset: str = "train"
                     ) -> tuple[list[AnnotatedClip], list[str]]:
    """Dispatch on the registry name."""
    if dataset == "kinetics400":
        names = None
        if labels:  # one class name per line; '#' lines are comments
            names = [ln for _, ln in _read_lines(labels) if not ln.startswith("#")]
        return read_kinetics(annotations, videos_dir, names)
    if dataset == "something_v2":
        return read_something_v2(annotations, labels)
    if dataset in ("something_v1", "jester"):
        return read_semicolon_csv(annotations, labels)
    if dataset == "ucf101":
        return read_ucf101(annotations, labels)
    if dataset == "hmdb51":
        return read_hmdb51(annotations, split, subset)
    raise ValueError(f"no official annotation reader for {dataset!r}; accepted: kinetics400, "
                     "something_v2, something_v1, jester, ucf101, hmdb51")

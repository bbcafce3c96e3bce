"""List files: one clip per line.

Two formats, the same samples:

- frame folders (the reference format): ``relative/dir num_frames label``, frames numbered
  from 1 inside ``relative/dir``;
- raw videos: ``relative/file.mp4 label`` (or ``relative/file.mp4 num_frames label`` when the
  frame count is known).

Paths may contain spaces: the numbers are taken from the right. Blank lines and lines starting
with ``#`` are ignored.

Where files are looked up (:func:`resolve_list_path`, :func:`read_list_file`): the list file
itself as written (absolute, or relative to the working directory), else, when relative, under
``root``; the clip paths inside it are joined to ``root`` (as written when there is no root).

Example (``train.txt`` and its frame folders are the user's data, hence skipped)::

    >>> recs = read_list_file("train.txt", root="/data/frames", num_classes=174)  # doctest: +SKIP
    >>> recs[0]  # doctest: +SKIP
    VideoRecord(path='/data/frames/1', num_frames=47, label=12, line=1, source='train.txt')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tsm_tf.data.errors import DataError, ErrorLog, check_on_error
from tsm_tf.io_utils import atomic_write_text

VIDEO_EXTENSIONS = (".mp4", ".webm", ".avi", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg")
FORMATS = ("auto", "frames", "video")


@dataclass(frozen=True)
class VideoRecord:
    """One clip: a frame folder (``num_frames`` known) or a video file (``num_frames`` None)."""

    path: str
    num_frames: int | None
    label: int
    line: int = 0
    source: str = ""

    @property
    def is_video(self) -> bool:
        return self.path.lower().endswith(VIDEO_EXTENSIONS)

    def where(self) -> str:
        """``file:line`` of the list entry (for error messages)."""
        return f"{self.source}:{self.line}" if self.source else self.path


def is_video_path(path: str) -> bool:
    return path.lower().endswith(VIDEO_EXTENSIONS)


def resolve_list_path(list_file: str | os.PathLike, root: str | os.PathLike | None = None,
                      *, flag: str = "list_file") -> Path:
    """The list file a user named: ``list_file`` as written (absolute, or relative to the
    working directory), else ``root / list_file`` when it is relative and ``root`` is given.

    Raises:
        DataError: neither exists; the message shows every candidate that was tried.
    """
    path = Path(list_file)
    if path.is_file():
        return path
    tried = [f"{path.absolute()} (from the working directory)"]
    if root is not None and not path.is_absolute():
        under = Path(root) / path
        if under.is_file():
            return under
        tried.append(f"{under.absolute()} (under the root {root})")
    hint = ("" if root is not None or path.is_absolute()
            else "; a list inside the dataset folder is also found with --root")
    raise DataError(f"{flag} {os.fspath(list_file)}: list file not found: tried "
                    f"{' and '.join(tried)}{hint}", kind="missing_list")


def _parse_int(tok: str) -> int | None:
    try:
        return int(tok)
    except ValueError:
        return None


def parse_line(text: str, fmt: str = "auto") -> tuple[str, int | None, int]:
    """Parse one list line into ``(path, num_frames or None, label)``.

    Raises:
        ValueError: the line does not match the format (message says what was expected).
    """
    parts3 = text.rsplit(maxsplit=2)
    three = (len(parts3) == 3 and _parse_int(parts3[1]) is not None
             and _parse_int(parts3[2]) is not None)
    parts2 = text.rsplit(maxsplit=1)
    two = len(parts2) == 2 and _parse_int(parts2[1]) is not None
    if fmt == "frames" or (fmt == "auto" and three and not is_video_path(parts3[0])):
        if not three:
            raise ValueError("expected 'path num_frames label' (two integers after the path)")
        return parts3[0], int(parts3[1]), int(parts3[2])
    if fmt == "video" or is_video_path(parts2[0]) or (three and is_video_path(parts3[0])):
        if three:
            return parts3[0], int(parts3[1]), int(parts3[2])
        if two:
            return parts2[0], None, int(parts2[1])
        raise ValueError("expected 'path label' (an integer label after the video path)")
    raise ValueError(
        "expected 'path num_frames label' for a frame folder, or 'path label' for a video "
        f"file ending in one of {', '.join(VIDEO_EXTENSIONS)}"
    )


def read_list_file(
    path: str,
    root: str | None = None,
    fmt: str = "auto",
    num_classes: int | None = None,
    on_error: str = "raise",
    min_frames: int = 1,
    error_log: ErrorLog | None = None,
) -> list[VideoRecord]:
    """Read a list file into :class:`VideoRecord` s (paths joined with ``root``).

    Args:
        path: list file (see :func:`resolve_list_path`: as written, else under ``root``).
        root: directory the relative paths start from (default: the paths as written).
        fmt: ``"auto"``, ``"frames"`` or ``"video"``.
        num_classes: when given, labels outside ``[0, num_classes)`` are errors.
        on_error: ``"raise"`` stops at the first bad line; ``"skip"`` drops it and counts it
            in ``error_log``.
        min_frames: clips with fewer frames are errors (the reference drops clips with < 3
            frames in training).
        error_log: where skipped lines are counted (a new one if None).

    Raises:
        DataError: naming ``file:line`` and the fix (bad line, label out of range, too few
            frames), or if the file is missing or has no clips.
    """
    check_on_error(on_error)
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}. Received: fmt={fmt!r}")
    log = error_log if error_log is not None else ErrorLog()
    path = os.fspath(resolve_list_path(path, root))
    records: list[VideoRecord] = []
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, start=1):
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            where = f"{path}:{lineno}"
            try:
                rel, n, label = parse_line(text, fmt)
            except ValueError as e:
                log.handle(DataError(f"{where}: malformed line {text!r}: {e}", "bad_line"),
                           on_error)
                continue
            if num_classes is not None and not 0 <= label < num_classes:
                log.handle(DataError(
                    f"{where}: label {label} outside [0, {num_classes}); check the list file "
                    "or num_classes (labels are 0-based)", "bad_label"), on_error)
                continue
            if n is not None and n < min_frames:
                log.handle(DataError(
                    f"{where}: clip {rel!r} has {n} frames, fewer than {min_frames}; re-extract "
                    "it or drop the line (on_error='skip' drops it)", "short_clip"), on_error)
                continue
            full = os.path.join(root, rel) if root else rel
            records.append(VideoRecord(full, n, label, lineno, path))
    if not records:
        detail = f" ({log.report()})" if log.total else ""
        raise DataError(f"{path}: no clips in list file{detail}", kind="empty_list")
    return records


def write_list_file(path: str, records: list[VideoRecord], root: str | None = None) -> None:
    """Write records atomically (temp file + rename); paths are made relative to ``root``."""
    lines = []
    for r in records:
        p = os.path.relpath(r.path, root) if root else r.path
        lines.append(f"{p} {r.label}" if r.num_frames is None else f"{p} {r.num_frames} {r.label}")
    atomic_write_text(path, "".join(line + "\n" for line in lines))

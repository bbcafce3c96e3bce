"""List files: both formats, paths with spaces, and every kind of bad line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_data_fixtures import write_text

from tsm_tf.data.errors import DataError, ErrorLog
from tsm_tf.data.listfile import VideoRecord, parse_line, read_list_file, write_list_file


def test_parse_line_formats():
    assert parse_line("1234 47 12") == ("1234", 47, 12)
    assert parse_line("air drumming/x_000001_000011 300 3") == (
        "air drumming/x_000001_000011", 300, 3)
    assert parse_line("abseiling/a b.mp4 5") == ("abseiling/a b.mp4", None, 5)
    assert parse_line("v.webm 40 5") == ("v.webm", 40, 5)
    assert parse_line("no_ext_video 5", fmt="video") == ("no_ext_video", None, 5)
    for bad in ["folder_only", "folder 12", "a b c", "clip.mp4 x"]:
        with pytest.raises(ValueError, match="expected"):
            parse_line(bad)
    with pytest.raises(ValueError, match="num_frames label"):
        parse_line("clip 5", fmt="frames")


def test_read_frames_and_videos(tmp_path):
    p = write_text(str(tmp_path / "l.txt"),
                   "# comment\n\nclip1 10 0\nsub dir/clip2 3 2\nvid/a.mp4 1\n")
    recs = read_list_file(p, root="/data", num_classes=3)
    assert recs == [
        VideoRecord("/data/clip1", 10, 0, 3, p),
        VideoRecord("/data/sub dir/clip2", 3, 2, 4, p),
        VideoRecord("/data/vid/a.mp4", None, 1, 5, p),
    ]
    assert recs[2].is_video and not recs[0].is_video
    assert recs[1].where() == f"{p}:4"


@pytest.mark.parametrize(
    "text, kind, line, words",
    [
        ("clip1 10 0\nclip2 ten 1\n", "bad_line", 2, "malformed"),
        ("clip1 10 0\nclip2 10 7\n", "bad_label", 2, "outside [0, 5)"),
        ("clip1 10 0\nclip2 10 -1\n", "bad_label", 2, "outside"),
        ("clip1 10 0\n\nclip2 2 1\n", "short_clip", 3, "fewer than 3"),
    ],
)
def test_errors_name_file_and_line(tmp_path, text, kind, line, words):
    p = write_text(str(tmp_path / "train.txt"), text)
    with pytest.raises(DataError) as e:
        read_list_file(p, num_classes=5, min_frames=3)
    assert f"{p}:{line}" in str(e.value) and words in str(e.value)
    log = ErrorLog()
    recs = read_list_file(p, num_classes=5, min_frames=3, on_error="skip", error_log=log)
    assert [r.path for r in recs] == ["clip1"]
    assert log.counts[kind] == 1 and log.total == 1


def test_empty_and_missing(tmp_path):
    p = write_text(str(tmp_path / "empty.txt"), "# nothing\n\n")
    with pytest.raises(DataError, match="no clips"):
        read_list_file(p)
    p2 = write_text(str(tmp_path / "bad.txt"), "x y z w\n")
    with pytest.raises(DataError, match="no clips"):  # everything skipped -> still an error
        read_list_file(p2, on_error="skip")
    with pytest.raises(DataError, match="not found"):
        read_list_file(str(tmp_path / "nope.txt"))
    with pytest.raises(ValueError, match="on_error"):
        read_list_file(p, on_error="ignore")


def test_write_roundtrip(tmp_path):
    recs = [VideoRecord(str(tmp_path / "a b"), 5, 1), VideoRecord(str(tmp_path / "v.avi"), None, 0)]
    out = str(tmp_path / "o" / "list.txt")
    write_list_file(out, recs, root=str(tmp_path))
    assert open(out).read() == "a b 5 1\nv.avi 0\n"
    back = read_list_file(out, root=str(tmp_path))
    assert [(r.path, r.num_frames, r.label) for r in back] == [
        (r.path, r.num_frames, r.label) for r in recs]
    assert not [f for f in os.listdir(tmp_path / "o") if f.startswith(".")]  # no temp left


def test_list_found_from_cwd_or_under_root_and_error_shows_both(tmp_path, monkeypatch):
    from tsm_tf.data.listfile import resolve_list_path

    root = tmp_path / "data"
    (root / "frames" / "a").mkdir(parents=True)
    (root / "val.txt").write_text("frames/a 3 0\n")
    monkeypatch.chdir(tmp_path)
    # relative to the working directory first, then under the root
    assert resolve_list_path("data/val.txt", root) == Path("data/val.txt")
    assert resolve_list_path("val.txt", root) == root / "val.txt"
    recs = read_list_file("val.txt", root=str(root))
    assert recs[0].path == str(root / "frames/a")  # paths inside: joined to the root
    with pytest.raises(DataError) as e:
        resolve_list_path("train.txt", root, flag="--train-list")
    msg = str(e.value)
    assert "--train-list train.txt" in msg
    assert str(tmp_path / "train.txt") in msg and str(root / "train.txt") in msg
    with pytest.raises(DataError, match="also found with --root"):
        read_list_file("val.txt")  # no root: only the working directory is tried

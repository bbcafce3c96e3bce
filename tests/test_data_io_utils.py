"""Atomic writes: permissions follow the umask without the umask ever being read or set."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from tsm_tf import io_utils


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_write_never_touches_the_umask(tmp_path, monkeypatch):
    # os.umask is process-wide: setting it (even to read it) races with other threads that
    # create files at that moment. A write must not call it at all.
    def forbidden(*_):
        raise AssertionError("os.umask called by an atomic write")

    monkeypatch.setattr(os, "umask", forbidden)
    io_utils.atomic_write_text(tmp_path / "a.txt", "hello")
    io_utils.atomic_write_json(tmp_path / "b.json", {"x": 1})
    assert (tmp_path / "a.txt").read_text() == "hello"


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_write_mode_is_what_open_would_give(tmp_path, umask):
    old = os.umask(umask)
    try:
        io_utils.atomic_write_bytes(tmp_path / "f.bin", b"x")
        with open(tmp_path / "plain.bin", "wb") as f:  # what a plain write gives
            f.write(b"x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "f.bin") == 0o666 & ~umask
    assert _mode(tmp_path / "f.bin") == _mode(tmp_path / "plain.bin")


def test_concurrent_writers_keep_their_permissions(tmp_path):
    # Many threads writing at once: every file gets the process umask's mode and the content
    # of its own writer, and no temporary file is left.
    old = os.umask(0o027)
    try:
        def work(i):
            for j in range(20):
                io_utils.atomic_write_text(tmp_path / f"t{i}_{j}.txt", f"{i}-{j}")

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        os.umask(old)
    files = sorted(tmp_path.iterdir())
    assert len(files) == 160
    for p in files:
        assert _mode(p) == 0o640, p
        i, j = p.stem[1:].split("_")
        assert p.read_text() == f"{i}-{j}"


def test_failed_write_leaves_no_temp_file_and_temp_names_are_recognisable(tmp_path):
    def boom(tmp):
        assert io_utils.is_temp_file(tmp)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        io_utils._replace_from_temp(tmp_path / "model.keras", boom, suffix=".keras")
    assert list(tmp_path.iterdir()) == []
    assert not io_utils.is_temp_file(tmp_path / ".my_notes.tmp")  # a user's own hidden file
    assert not io_utils.is_temp_file(tmp_path / "model.keras")

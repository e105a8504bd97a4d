"""Durable replacement of checkpoints and weights: the new file is flushed before its rename, its folder after."""

from __future__ import annotations

import os

from itermap.study import files
from itermap.study.files import write_bytes


def test_the_file_is_flushed_before_its_rename_and_the_folder_after(tmp_path, monkeypatch):
    path = tmp_path / "pack.pt"
    path.write_bytes(b"old")
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        flushed = os.fstat(fd)
        events.append(("fsync", flushed.st_ino, os.path.samestat(flushed, os.stat(tmp_path))))
        real_fsync(fd)

    def replace(src, dst) -> None:
        events.append(("replace", os.stat(src).st_ino, os.read(fd := os.open(src, os.O_RDONLY), 10)))
        os.close(fd)
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "fsync", fsync)
    monkeypatch.setattr(files.os, "replace", replace)
    write_bytes(path, b"new state")
    assert path.read_bytes() == b"new state" and not (tmp_path / "pack.pt.tmp").exists()
    inode = path.stat().st_ino  # the renamed temporary file
    assert events == [
        ("fsync", inode, False),
        ("replace", inode, b"new state"),
        ("fsync", os.stat(tmp_path).st_ino, True),
    ]

"""Replacing a file so that a reader never sees half of it, a crash never leaves it empty, and a failed write
leaves no temporary file.

The new contents go to a temporary file, which is flushed to the disk (`fsync`) before it is renamed over the
old one; then the folder is flushed too (where the system allows opening one), so the rename itself survives a
power cut. Without the first `fsync`, a file system may commit the rename before the data, and a crash would
leave an empty checkpoint or weights file in place of the old one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def sync(path: Path, folder: bool = False) -> None:
    """Flush a file's contents (or a `folder`'s entries) to the disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY if folder else os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path to write `path`'s new contents to: flushed and renamed over `path` on success, removed on
    any failure."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        sync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # a folder can be opened and flushed on POSIX systems, not on Windows
        sync(path.parent, folder=True)


def write_bytes(path: Path, data: bytes) -> None:
    """Replace `path`'s contents with `data` (see `replacing`)."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)

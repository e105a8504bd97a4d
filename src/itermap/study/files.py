"""Replacing a file so that a reader never sees half of it, and a failed write leaves no temporary file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path to write `path`'s new contents to: renamed over `path` on success, removed on any failure."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    """Replace `path`'s contents with `data` (see `replacing`)."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)

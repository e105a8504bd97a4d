"""One writer per study folder: an flock on `.lock` that the OS releases when its process dies."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from itermap.study.errors import StudyError


class FolderLock:
    """Held while a study folder is being written; a second holder is refused with the first one's pid."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / ".lock"
        self.fd: int | None = None

    def __enter__(self) -> FolderLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StudyError(
                f"{self.path.parent} is being written by another itermap run (pid {pid}); "
                "wait for it to finish or stop it, or use another --out folder"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())  # for the message a second run prints
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the flock
            self.fd = None


def held(folder: str | Path) -> bool:
    """Whether a live process holds `folder`'s lock, i.e. is training its study now."""
    try:
        fd = os.open(Path(folder) / ".lock", os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the shared lock, if it was taken

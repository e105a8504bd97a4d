"""Where a data set's four IDX files come from: folders to search, and mirrors to download from.

Search order: an explicit data_dir (its <folder>/ subfolder, then the folder itself), the
ITERMAP_DATA_DIR environment variable (its <folder>/ subfolder), the user cache (ITERMAP_CACHE_DIR
or pooch's OS cache for "itermap"), Debian's /usr/share/datasets/<folder>. A folder counts when
it holds all four files, each plain (X) or gzipped (X.gz). Downloads go only into the cache, so
files a user put anywhere else are never overwritten; ITERMAP_MIRROR replaces the public mirrors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pooch
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from itermap.data.idx import DataError

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
SYSTEM_DIR = Path("/usr/share/datasets")


@dataclass(frozen=True)
class Remote:
    """Public mirrors (base URLs, tried in order) and the MD5 of each gzipped file as they serve it."""

    mirrors: tuple[str, ...]
    md5: dict[str, str] = field(hash=False)  # "train-images-idx3-ubyte.gz" -> hex digest


def cache_dir() -> Path:
    """The user cache that downloads go into: ITERMAP_CACHE_DIR, else pooch's OS cache for itermap."""
    return Path(os.environ.get("ITERMAP_CACHE_DIR") or pooch.os_cache("itermap"))


def candidates(folder: str, data_dir: str | Path | None = None) -> list[Path]:
    """The folders searched for a data set, in order; a `data_dir` that is not a folder is an error."""
    if data_dir is not None and not Path(data_dir).is_dir():
        raise DataError(f"data_dir {data_dir}: not a folder; give the folder that holds {folder}/")
    dirs = [Path(data_dir) / folder, Path(data_dir)] if data_dir is not None else []
    if os.environ.get("ITERMAP_DATA_DIR"):
        dirs.append(Path(os.environ["ITERMAP_DATA_DIR"]) / folder)
    return dirs + [cache_dir() / folder, SYSTEM_DIR / folder]


def idx_files(directory: Path) -> dict[str, Path]:
    """The IDX files in `directory` (each as X, else X.gz), by name; complete when it holds all four."""
    found = {}
    for name in FILES:
        plain, packed = directory / name, directory / f"{name}.gz"
        if plain.is_file() or packed.is_file():
            found[name] = plain if plain.is_file() else packed
    return found


def find(folder: str, data_dir: str | Path | None = None) -> dict[str, Path] | None:
    """The four IDX files from the first searched folder that holds them all, or None.

    A folder of the user's that holds some of the four is an error naming the missing ones; the cache may hold
    some (an interrupted download), and the download completes it.
    """
    for directory in candidates(folder, data_dir):
        files = idx_files(directory)
        if len(files) == len(FILES):
            return files
        if files and directory != cache_dir() / folder:
            missing = ", ".join(f"{name}(.gz)" for name in FILES if name not in files)
            raise DataError(
                f"{directory}: holds {len(files)} of the 4 IDX files of {folder}, without {missing}; "
                "add the missing ones, or empty the folder"
            )
    return None


def mirrors(remote: Remote) -> tuple[str, ...]:
    """Base URLs to try: ITERMAP_MIRROR (space- or comma-separated) when set, else the registry's."""
    override = os.environ.get("ITERMAP_MIRROR", "").replace(",", " ").split()
    return tuple(override) or remote.mirrors


def download(folder: str, remote: Remote) -> dict[str, Path]:
    """Fetch the four gzipped IDX files into the cache, each from the first mirror that serves it with the right MD5."""
    target = cache_dir() / folder
    files = {}
    for name in FILES:
        fname = f"{name}.gz"
        tried = []
        for base in mirrors(remote):
            url = f"{base.rstrip('/')}/{fname}"
            bar = RichBar(fname)
            try:
                files[name] = Path(
                    pooch.retrieve(url, f"md5:{remote.md5[fname]}", fname=fname, path=target, progressbar=bar)
                )
                break
            except ValueError as err:  # pooch's MD5 check (it deletes the bad download) or a malformed URL
                tried.append(f"{url} ({str(err).partition('. Deleted download')[0]})")
            except OSError as err:  # requests' errors are OSErrors: HTTP status, refused, timeout
                tried.append(f"{url} ({type(err).__name__}: {err})")
            finally:
                bar.close()
        else:
            raise DataError(
                f"could not download {folder}/{fname}; tried: {'; '.join(tried)}. Put the four IDX files in "
                f"<dir>/{folder}/ and set ITERMAP_DATA_DIR=<dir>, or set ITERMAP_MIRROR to a mirror that works"
            )
    return files


class RichBar:
    """The progress object pooch drives (it sets .total, then calls update, reset, close), drawn with rich."""

    def __init__(self, label: str):
        self.total = 0  # bytes; pooch sets it from the response's content-length
        self._progress = Progress(TextColumn(label), BarColumn(), DownloadColumn())
        self._task = self._progress.add_task(label, total=None)

    def update(self, n: int) -> None:
        """Advance by n bytes (drawing starts with the first update)."""
        self._progress.start()  # no-op once running
        self._progress.update(self._task, total=self.total or None, advance=n)

    def reset(self) -> None:
        """Back to zero; pooch then fills the bar with one update of the total."""
        self._progress.reset(self._task, total=self.total or None)

    def close(self) -> None:
        """Stop drawing; safe to call twice or before anything was drawn."""
        if self._progress.live.is_started:
            self._progress.stop()

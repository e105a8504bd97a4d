"""Fixtures for the data tests: no route to the internet, small IDX sets on disk, a local HTTP mirror."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from itermap.data import sources
from itermap.data.idx import write_idx


@pytest.fixture
def offline(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache in tmp_path, no ITERMAP_DATA_DIR, no system folder, and a dead mirror; returns the cache."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("ITERMAP_CACHE_DIR", str(cache))
    monkeypatch.setenv("ITERMAP_MIRROR", "http://127.0.0.1:9/")  # the discard port: connection refused
    monkeypatch.delenv("ITERMAP_DATA_DIR", raising=False)
    monkeypatch.setattr(sources, "SYSTEM_DIR", tmp_path / "system")
    return cache


def write_set(directory: Path, n: int = 20, size: int = 4, first_label: int = 0, gz: bool = True) -> Path:
    """A tiny valid data set: n train and n test images [n, size, size] with labels cycling from first_label."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(first_label)
    for split in ("train", "t10k"):
        suffix = ".gz" if gz else ""
        write_idx(
            directory / f"{split}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        )
        write_idx(
            directory / f"{split}-labels-idx1-ubyte{suffix}", ((np.arange(n) + first_label) % 10).astype(np.uint8)
        )
    return directory


@pytest.fixture
def make_set():
    """write_set, for tests that need small data sets in their own folders."""
    return write_set


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="session")
def mirror(shared_data: Path):
    """A threaded HTTP server on 127.0.0.1 serving the shared data folder; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(shared_data)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()

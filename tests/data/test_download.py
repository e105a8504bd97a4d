"""Downloading into the cache, against a real HTTP server on 127.0.0.1 serving the shared data files."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from itermap.data import DATASETS, DataError, load
from itermap.data.sources import FILES, Remote

pytestmark = pytest.mark.usefixtures("offline")


def served_md5(shared_data: Path) -> dict[str, str]:
    """MD5 of the gz files the local mirror serves (recompressed: not the public mirrors' MD5s)."""
    return {f"{f}.gz": hashlib.md5((shared_data / "mnist" / f"{f}.gz").read_bytes()).hexdigest() for f in FILES}


def use_remote(monkeypatch: pytest.MonkeyPatch, mirrors: tuple[str, ...], md5: dict[str, str]) -> None:
    """Point the mnist registry entry at these mirrors and checksums (ITERMAP_MIRROR unset)."""
    monkeypatch.delenv("ITERMAP_MIRROR")
    monkeypatch.setitem(DATASETS, "mnist", dataclasses.replace(DATASETS["mnist"], remote=Remote(mirrors, md5)))


def test_download_falls_back_to_the_next_mirror(
    shared_data: Path, mirror: str, offline: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    use_remote(monkeypatch, (f"{mirror}/missing/", f"{mirror}/mnist"), served_md5(shared_data))
    data = load("mnist")
    assert data.source == str(offline / "mnist")
    assert sorted(p.name for p in (offline / "mnist").iterdir()) == sorted(f"{f}.gz" for f in FILES)
    assert data.train_labels.bincount()[0] == 5923 and data.test_images.shape == (10_000, 28, 28)
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().out  # the progress bar was drawn
    monkeypatch.setenv("ITERMAP_MIRROR", "http://127.0.0.1:9/")  # second time from the cache: no server needed
    assert load("mnist").source == str(offline / "mnist")


def test_user_files_are_never_overwritten(
    shared_data: Path, mirror: str, offline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = tmp_path / "mine" / "mnist"
    mine.mkdir(parents=True)
    (mine / "train-labels-idx1-ubyte.gz").write_bytes(b"my own bytes")  # an incomplete set: named, not used
    use_remote(monkeypatch, (f"{mirror}/mnist/",), served_md5(shared_data))
    with pytest.raises(DataError, match="holds 1 of the 4 IDX files"):
        load("mnist", data_dir=tmp_path / "mine")
    assert not (offline / "mnist").exists()
    assert [p.name for p in mine.iterdir()] == ["train-labels-idx1-ubyte.gz"]
    assert (mine / "train-labels-idx1-ubyte.gz").read_bytes() == b"my own bytes"


def test_wrong_md5_is_a_clear_error(
    shared_data: Path, mirror: str, offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    md5 = served_md5(shared_data) | {"t10k-images-idx3-ubyte.gz": "0" * 32}
    use_remote(monkeypatch, (f"{mirror}/mnist/",), md5)
    with pytest.raises(DataError) as err:
        load("mnist")
    message = str(err.value)
    assert message.startswith("could not download mnist/t10k-images-idx3-ubyte.gz; tried: ")
    assert f"{mirror}/mnist/t10k-images-idx3-ubyte.gz (MD5 hash" in message and "0" * 32 in message
    assert "ITERMAP_DATA_DIR" in message and "\n" not in message
    assert not (offline / "mnist" / "t10k-images-idx3-ubyte.gz").exists()  # the bad download is not kept


def test_all_mirrors_failing_names_every_url(offline: Path, mirror: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "ITERMAP_MIRROR", f"{mirror}/missing/, http://127.0.0.1:9/"
    )  # the override replaces the registry's
    with pytest.raises(DataError) as err:
        load("fashion-mnist")
    message = str(err.value)
    assert message.startswith("could not download fashion-mnist/train-images-idx3-ubyte.gz; tried: ")
    assert f"{mirror}/missing/train-images-idx3-ubyte.gz (HTTPError: 404" in message
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz (ConnectionError" in message
    assert "ITERMAP_DATA_DIR" in message and "ITERMAP_MIRROR" in message


def test_public_md5s_reject_the_recompressed_files(offline: Path, mirror: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry's own MD5s are the public mirrors'; the shared copies were recompressed, so they fail."""
    monkeypatch.setenv("ITERMAP_MIRROR", f"{mirror}/fashion-mnist/")
    with pytest.raises(DataError, match="expected md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d"):
        load("fashion-mnist")

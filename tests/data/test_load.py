"""load(): the real data sets, where files are looked for and in which order, and the clear errors."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from itermap.data import DATASETS, DataError, Dataset, load
from itermap.data.idx import write_idx
from itermap.data.sources import FILES

pytestmark = pytest.mark.usefixtures("offline")

# From ../shared/data/README.md: train label counts, pixel mean and std after /255.
REAL = {
    "mnist": ([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949], 0.1307, 0.3081),
    "fashion-mnist": ([6000] * 10, 0.2860, 0.3530),
}


@pytest.mark.parametrize("name", list(REAL))
def test_real_data_set(shared_data: Path, name: str) -> None:
    counts, mean, std = REAL[name]
    data = load(name, data_dir=shared_data, download=False)
    assert isinstance(data, Dataset) and data.name == name and data.classes == 10
    assert data.source == str(shared_data / name)
    assert data.train_images.shape == (60_000, 28, 28) and data.train_images.dtype == torch.uint8
    assert data.test_images.shape == (10_000, 28, 28) and data.test_images.dtype == torch.uint8
    assert DATASETS[name].sizes == (len(data.train_images), len(data.test_images))
    assert data.train_labels.dtype == data.test_labels.dtype == torch.int64
    assert data.train_labels.bincount().tolist() == counts
    assert data.test_labels.bincount().sum() == 10_000
    pixels = data.train_images.numpy() / 255.0
    assert round(pixels.mean(), 4) == mean == data.mean
    assert round(pixels.std(), 4) == std == data.std


def copy_set(shared_data: Path, name: str, to: Path) -> Path:
    """A copy of a real data set's four files in to/<name>/."""
    shutil.copytree(shared_data / name, to / name)
    return to / name


def test_truncated_real_file(shared_data: Path, tmp_path: Path) -> None:
    folder = copy_set(shared_data, "fashion-mnist", tmp_path)
    bad = folder / "train-images-idx3-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    with pytest.raises(DataError) as err:
        load("fashion-mnist", data_dir=tmp_path, download=False)
    message = str(err.value)
    assert message.startswith(f"{bad}: ") and "ITERMAP_DATA_DIR" in message and "\n" not in message


def test_truncated_plain_file_is_read_before_its_gz(shared_data: Path, tmp_path: Path) -> None:
    folder = copy_set(shared_data, "mnist", tmp_path)
    plain = folder / "t10k-images-idx3-ubyte"
    plain.write_bytes(gzip.decompress((folder / "t10k-images-idx3-ubyte.gz").read_bytes())[:-100])
    with pytest.raises(
        DataError, match=f"{re.escape(str(plain))}: holds 7839900 values but its header .* says 7840000"
    ):
        load("mnist", data_dir=tmp_path, download=False)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(DataError, match="unknown data set 'cifar'; known: mnist, fashion-mnist, fashion-mnist-mini"):
        load("cifar")


def test_not_found_without_download_says_where_it_looked(tmp_path: Path, offline: Path) -> None:
    (tmp_path / "mine").mkdir()
    with pytest.raises(DataError) as err:
        load("mnist", data_dir=tmp_path / "mine", download=False)
    message = str(err.value)
    for place in (tmp_path / "mine" / "mnist", offline / "mnist", tmp_path / "system" / "mnist"):
        assert str(place) in message
    assert "ITERMAP_DATA_DIR" in message


def test_search_order(tmp_path: Path, offline: Path, make_set, monkeypatch: pytest.MonkeyPatch) -> None:
    """data_dir/<name>, then data_dir, then ITERMAP_DATA_DIR/<name>, the cache, the system folder."""
    places = [
        tmp_path / "system" / "mnist",
        offline / "mnist",
        tmp_path / "env" / "mnist",
        tmp_path / "mine",
        tmp_path / "mine" / "mnist",
    ]
    monkeypatch.setenv("ITERMAP_DATA_DIR", str(tmp_path / "env"))
    (tmp_path / "mine").mkdir()
    for label, place in enumerate(places):  # each new place should win over all the ones before it
        make_set(place, first_label=label, gz=label % 2 == 0)
        data = load("mnist", data_dir=tmp_path / "mine", download=False)
        assert data.source == str(place)
        assert data.train_labels[0] == label


def test_env_dir_is_searched_by_folder_only(tmp_path: Path, make_set, monkeypatch: pytest.MonkeyPatch) -> None:
    make_set(tmp_path / "env")  # files directly in ITERMAP_DATA_DIR: they could be any data set
    monkeypatch.setenv("ITERMAP_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(DataError, match="mnist not found"):
        load("mnist", download=False)


def test_incomplete_folder_names_the_missing_file(tmp_path: Path, offline: Path, make_set) -> None:
    make_set(tmp_path / "mine" / "mnist")
    (tmp_path / "mine" / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    make_set(offline / "mnist", first_label=7)
    with pytest.raises(DataError, match=r"mine/mnist: holds 3 of the 4 IDX files of mnist, without t10k-labels-idx1"):
        load("mnist", data_dir=tmp_path / "mine", download=False)


def test_incomplete_cache_is_completed_by_the_download(tmp_path: Path, offline: Path, make_set) -> None:
    make_set(offline / "mnist")
    (offline / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()  # an interrupted download
    with pytest.raises(DataError, match="could not download mnist/train-images"):  # the dead mirror is tried
        load("mnist")


@pytest.mark.parametrize("where", ["missing", "a file"])
def test_data_dir_that_is_not_a_folder(tmp_path: Path, offline: Path, where: str) -> None:
    path = tmp_path / "nowhere"
    if where == "a file":
        path.write_text("")
    with pytest.raises(DataError, match=f"data_dir {path}: not a folder"):
        load("mnist", data_dir=path, download=False)


@pytest.mark.parametrize(
    ("file", "array", "error"),
    [
        ("train-labels-idx1-ubyte.gz", np.arange(19) % 10, "19 labels for 20 images"),
        ("t10k-labels-idx1-ubyte.gz", np.full(20, 10), "label 10 outside 0..9"),
        ("t10k-images-idx3-ubyte.gz", np.zeros((20, 4, 5)), r"images \(4, 5\), but the train images are \(4, 4\)"),
    ],
)
def test_inconsistent_files(tmp_path: Path, make_set, file: str, array: np.ndarray, error: str) -> None:
    folder = make_set(tmp_path / "mnist")
    write_idx(folder / file, array)
    with pytest.raises(DataError, match=f"{re.escape(str(folder / file))}: {error}; delete it"):
        load("mnist", data_dir=tmp_path, download=False)


def test_registry_has_the_published_statistics_and_checksums() -> None:
    assert (DATASETS["mnist"].mean, DATASETS["mnist"].std) == (0.1307, 0.3081)
    for name in ("mnist", "fashion-mnist"):
        remote = DATASETS[name].remote
        assert sorted(remote.md5) == sorted(f"{f}.gz" for f in FILES)
        assert all(len(digest) == 32 for digest in remote.md5.values())
    assert DATASETS["mnist"].remote.mirrors[0].startswith("https://ossci-datasets")

"""The embedded fashion-mnist-mini set: 600/100 per class, the real Fashion-MNIST's images, rebuilt by its script."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from itermap.data import DATASETS, load
from itermap.data.datasets import EMBEDDED
from itermap.data.idx import read_idx
from itermap.data.sources import FILES

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def make_mini():
    """scripts/make_mini.py as a module."""
    spec = importlib.util.spec_from_file_location("make_mini", REPO / "scripts" / "make_mini.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mini_is_stratified_and_embedded() -> None:
    mini = load("fashion-mnist-mini", data_dir="/nonexistent", download=False)  # never looks outside the package
    assert mini.source == "embedded" and mini.name == "fashion-mnist-mini"
    assert mini.train_images.shape == (6000, 28, 28) and mini.test_images.shape == (1000, 28, 28)
    assert DATASETS["fashion-mnist-mini"].sizes == (6000, 1000)
    assert mini.train_images.dtype == torch.uint8 and mini.train_labels.dtype == torch.int64
    assert mini.train_labels.bincount().tolist() == [600] * 10
    assert mini.test_labels.bincount().tolist() == [100] * 10
    assert (mini.mean, mini.std) == (0.2860, 0.3530)


def test_mini_images_are_the_real_ones(shared_data: Path) -> None:
    """Re-run the selection (first 600 / 100 of each class, in file order) on the real set and compare bytes."""
    real = load("fashion-mnist", data_dir=shared_data, download=False)
    mini = load("fashion-mnist-mini")
    for images, labels, small, small_labels, k in [
        (real.train_images, real.train_labels, mini.train_images, mini.train_labels, 600),
        (real.test_images, real.test_labels, mini.test_images, mini.test_labels, 100),
    ]:
        chosen = np.sort(np.concatenate([np.flatnonzero(labels.numpy() == c)[:k] for c in range(10)]))
        assert torch.equal(small, images[chosen]) and torch.equal(small_labels, labels[chosen])


def test_script_rebuilds_the_same_files(shared_data: Path, tmp_path: Path, make_mini) -> None:
    make_mini.main(shared_data / "fashion-mnist", tmp_path)
    for name in FILES:
        ndim = 3 if "images" in name else 1
        built = read_idx(tmp_path / f"{name}.gz", ndim)
        assert np.array_equal(built, read_idx(EMBEDDED / "fashion-mnist-mini" / f"{name}.gz", ndim))


def test_first_per_class(make_mini) -> None:
    labels = np.array([1, 0, 1, 2, 0, 2, 1])
    assert make_mini.first_per_class(labels, 1).tolist() == [0, 1, 3]
    assert make_mini.first_per_class(labels, 2).tolist() == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="fewer than 3"):
        make_mini.first_per_class(labels, 3)


def test_license_and_attribution_ship_with_the_data() -> None:
    folder = EMBEDDED / "fashion-mnist-mini"
    license_text = (folder / "LICENSE").read_text()
    assert "Copyright (c) 2017 Zalando SE" in license_text and "MIT" in license_text
    assert "Xiao" in license_text and "Rasul" in license_text and "Vollgraf" in license_text
    assert "Permission is hereby granted, free of charge" in license_text
    assert "scripts/make_mini.py" in (folder / "README.md").read_text()

"""The data sets itermap knows (a registry) and `load`, which finds, downloads and validates them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from itermap.data import sources
from itermap.data.idx import FIX, DataError, read_idx
from itermap.data.sources import Remote

EMBEDDED = Path(__file__).with_name("embedded")


@dataclass(frozen=True)
class Dataset:
    """A labelled image set: train and test images [N, H, W] uint8 with labels [N] int64, and the validation images
    held out of training where a study asks for them (data/validation.py)."""

    name: str
    train_images: torch.Tensor  # [N, H, W] uint8
    train_labels: torch.Tensor  # [N] int64
    test_images: torch.Tensor  # [N', H, W] uint8
    test_labels: torch.Tensor  # [N'] int64
    mean: float  # pixel mean after /255 (the data set's published value)
    std: float
    classes: int = 10
    source: str = ""  # the folder it was read from, or "embedded"
    validation_images: torch.Tensor | None = None  # [V, H, W] uint8, held out of the train images
    validation_labels: torch.Tensor | None = None  # [V] int64

    @property
    def split_sizes(self) -> tuple[int, int, int]:
        """Train, test and validation images (0 validation images without a split)."""
        held = 0 if self.validation_labels is None else len(self.validation_labels)
        return len(self.train_labels), len(self.test_labels), held


@dataclass(frozen=True)
class Spec:
    """How to get one data set: its folder name, published pixel statistics, and mirrors (None: embedded)."""

    folder: str
    mean: float
    std: float
    remote: Remote | None
    classes: int = 10
    sizes: tuple[int, int] = (60000, 10000)  # train and test images (what plans and estimates count with)


DATASETS: dict[str, Spec] = {
    "mnist": Spec(
        "mnist",
        0.1307,
        0.3081,
        Remote(
            ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
            {
                "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
                "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
                "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
            },
        ),
    ),
    "fashion-mnist": Spec(
        "fashion-mnist",
        0.2860,
        0.3530,
        Remote(
            ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
            {
                "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
            },
        ),
    ),
    # 600 train and 100 test images per class of the real Fashion-MNIST, shipped in the package
    # (made by scripts/make_mini.py; license in embedded/fashion-mnist-mini/LICENSE).
    "fashion-mnist-mini": Spec("fashion-mnist-mini", 0.2860, 0.3530, None, sizes=(6000, 1000)),
}


def load(name: str, data_dir: str | Path | None = None, download: bool = True) -> Dataset:
    """Load a registered data set: search the local folders, else download it into the cache (see `sources`).

    The embedded set (fashion-mnist-mini) is always read from inside the package. Every failure is a DataError.
    """
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    spec = DATASETS[name]
    if spec.remote is None:
        embedded = sources.idx_files(EMBEDDED / spec.folder)
        if len(embedded) < len(sources.FILES):
            raise DataError(f"embedded data set {name} is missing from {EMBEDDED}; reinstall itermap")
        return read(name, embedded, spec, source="embedded")
    files = sources.find(spec.folder, data_dir)
    if files is None:
        if not download:
            places = ", ".join(str(p) for p in sources.candidates(spec.folder, data_dir))
            raise DataError(
                f"{name} not found (looked in {places}); set ITERMAP_DATA_DIR to a folder holding "
                f"{spec.folder}/ with the four IDX files, or allow downloading"
            )
        files = sources.download(spec.folder, spec.remote)
    return read(name, files, spec, source=str(files[sources.FILES[0]].parent))


def read(name: str, files: dict[str, Path], spec: Spec, source: str) -> Dataset:
    """Read and cross-check the four IDX files of one data set."""
    images = {split: read_idx(files[f"{split}-images-idx3-ubyte"], 3) for split in ("train", "t10k")}
    labels = {split: read_idx(files[f"{split}-labels-idx1-ubyte"], 1) for split in ("train", "t10k")}
    for split in ("train", "t10k"):
        path = files[f"{split}-labels-idx1-ubyte"]
        if len(images[split]) != len(labels[split]):
            raise DataError(f"{path}: {len(labels[split])} labels for {len(images[split])} images; {FIX}")
        if labels[split].max(initial=0) >= spec.classes:
            raise DataError(f"{path}: label {labels[split].max()} outside 0..{spec.classes - 1}; {FIX}")
    if images["train"].shape[1:] != images["t10k"].shape[1:]:
        path = files["t10k-images-idx3-ubyte"]
        raise DataError(
            f"{path}: images {images['t10k'].shape[1:]}, but the train images are {images['train'].shape[1:]}; {FIX}"
        )
    return Dataset(
        name=name,
        train_images=torch.from_numpy(images["train"]),
        train_labels=torch.from_numpy(labels["train"]).long(),
        test_images=torch.from_numpy(images["t10k"]),
        test_labels=torch.from_numpy(labels["t10k"]).long(),
        mean=spec.mean,
        std=spec.std,
        classes=spec.classes,
        source=source,
    )

"""Make the embedded fashion-mnist-mini set: the first 600 train and 100 test images of each class of
Fashion-MNIST, in file order, written as gzipped IDX files (same bytes on every run).

    python scripts/make_mini.py [FASHION_MNIST_DIR] [OUT_DIR]

FASHION_MNIST_DIR defaults to ../shared/data/fashion-mnist beside the repo; OUT_DIR to the package's
src/itermap/data/embedded/fashion-mnist-mini (the LICENSE there is kept, not written).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from itermap.data import sources
from itermap.data.idx import read_idx, write_idx

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "data" / "fashion-mnist"
OUT = REPO / "src" / "itermap" / "data" / "embedded" / "fashion-mnist-mini"
PER_CLASS = {"train": 600, "t10k": 100}


def first_per_class(labels: np.ndarray, k: int) -> np.ndarray:
    """Indices of the first k examples of each class, in file order: [classes * k]."""
    chosen = np.concatenate([np.flatnonzero(labels == c)[:k] for c in np.unique(labels)])
    if any(np.bincount(labels[chosen]) != k):
        raise ValueError(f"some class has fewer than {k} examples")
    return np.sort(chosen)


def main(source: Path = SOURCE, out: Path = OUT) -> None:
    """Write the mini set's four .gz IDX files into `out`."""
    files = sources.idx_files(Path(source))
    if files is None:
        sys.exit(f"no Fashion-MNIST IDX files in {source}")
    Path(out).mkdir(parents=True, exist_ok=True)
    for split, k in PER_CLASS.items():
        images = read_idx(files[f"{split}-images-idx3-ubyte"], 3)  # [N, 28, 28]
        labels = read_idx(files[f"{split}-labels-idx1-ubyte"], 1)  # [N]
        chosen = first_per_class(labels, k)
        write_idx(Path(out) / f"{split}-images-idx3-ubyte.gz", images[chosen])
        write_idx(Path(out) / f"{split}-labels-idx1-ubyte.gz", labels[chosen])
        print(f"{split}: {len(chosen)} of {len(labels)} images -> {out}")


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:3]))

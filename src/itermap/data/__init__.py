"""Data sets (MNIST, Fashion-MNIST, an embedded Fashion-MNIST subset) and the views models read them through."""

from itermap.data.datasets import DATASETS, Dataset, load
from itermap.data.idx import DataError

__all__ = ["DATASETS", "DataError", "Dataset", "load"]

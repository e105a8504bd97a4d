"""Data sets (MNIST, Fashion-MNIST, an embedded Fashion-MNIST subset), validation splits, and the views models read them
through."""

from itermap.data.datasets import DATASETS, Dataset, load
from itermap.data.idx import DataError
from itermap.data.validation import hold_out, validation_split

__all__ = ["DATASETS", "DataError", "Dataset", "hold_out", "load", "validation_split"]

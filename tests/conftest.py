"""Shared fixtures: the real data sets beside the repo, and small scratch folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]

# One intra-op thread per test process, as every study training has (study/training.py): the suite runs one process
# per core (pytest-xdist), and two threads each would oversubscribe the cores.
torch.set_num_threads(1)

# Without a GPU, Triton's kernels (models/fused.py) run in its interpreter, on CPU tensors. Read when a kernel is
# defined, so it is set before any test imports one.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder holding the real mnist/ and fashion-mnist/ IDX files (ITERMAP_DATA_DIR or ../shared/data)."""
    path = Path(os.environ.get("ITERMAP_DATA_DIR", REPO.parent / "shared" / "data"))
    assert (path / "mnist").is_dir(), f"real data sets not found at {path}: set ITERMAP_DATA_DIR"
    return path

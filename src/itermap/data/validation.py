"""A validation split: N training images held out of training, stratified by class, drawn from a seed of its own."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from itermap.data.datasets import Dataset


def validation_split(labels: torch.Tensor | np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, held_idx): the training images that remain and the `n` held out, each sorted, together every index
    of `labels` [N] once. The same (labels, n, seed) give the same split."""
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    if not len(classes) <= n < len(labels):
        raise ValueError(
            f"a validation split of {n} images: give at least one per class ({len(classes)}) and fewer than the "
            f"{len(labels)} training images"
        )
    # One image of each class, then the other n - C shared in proportion to each class's remaining images N_c - 1:
    # class c takes 1 + floor((n - C) (N_c - 1) / (N - C)), and the few images that rounding leaves go to the classes
    # with the largest remainders (Hamilton's method), so the counts sum to n exactly.
    share = (n - len(classes)) * (counts - 1) / (len(labels) - len(classes))
    take = np.floor(share).astype(int)
    take[np.argsort(-(share - take), kind="stable")[: n - len(classes) - take.sum()]] += 1
    take += 1
    rng = np.random.default_rng(seed)
    held = np.sort(
        np.concatenate([rng.choice(np.flatnonzero(labels == c), k, replace=False) for c, k in zip(classes, take)])
    )
    return np.setdiff1d(np.arange(len(labels)), held), held


def hold_out(data: Dataset, n: int, seed: int) -> Dataset:
    """`data` with `n` of its training images moved to its validation images (`validation_split`)."""
    train, held = (torch.from_numpy(i) for i in validation_split(data.train_labels, n, seed))
    return dataclasses.replace(
        data,
        train_images=data.train_images[train],
        train_labels=data.train_labels[train],
        validation_images=data.train_images[held],
        validation_labels=data.train_labels[held],
    )

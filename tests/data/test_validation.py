"""The validation split: a partition of the train indices, stratified by class, fixed by its seed; `hold_out` moves
those images into the data set's validation split."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from itermap.data import hold_out, load, validation_split


def test_a_split_partitions_the_indices_and_keeps_each_class_share():
    labels = np.repeat(np.arange(3), [500, 300, 200])
    np.random.default_rng(1).shuffle(labels)
    train, held = validation_split(labels, 101, seed=7)
    assert len(held) == 101 and len(train) == 899
    assert np.array_equal(np.sort(np.concatenate([train, held])), np.arange(1000))  # every index once
    assert np.all(np.diff(train) > 0) and np.all(np.diff(held) > 0)
    # One image of each class, the other 98 in proportion to the rest of each class: 98 * (N_c - 1) / 997, rounded.
    counts = np.bincount(labels[held], minlength=3)
    exact = 1 + 98 * (np.array([500, 300, 200]) - 1) / 997
    assert np.all(np.abs(counts - exact) < 1) and counts.sum() == 101


def test_a_balanced_set_gives_every_class_the_same_count():
    labels = torch.arange(6000) % 10
    _, held = validation_split(labels, 1000, seed=0)
    assert np.bincount(labels.numpy()[held]).tolist() == [100] * 10


def test_every_class_is_held_out_even_a_rare_one():
    labels = np.repeat(np.arange(3), [97, 2, 1])
    _, held = validation_split(labels, 3, seed=0)
    assert sorted(labels[held]) == [0, 1, 2]


def test_the_seed_fixes_the_split():
    labels = np.arange(2000) % 10
    first, again, other = (validation_split(labels, 200, seed=s)[1] for s in (3, 3, 4))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("n", [0, 2, 10, 11])
def test_a_split_smaller_than_the_classes_or_the_whole_set_is_refused(n):
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    if n in (0, 2):
        match = "at least one per class"
    else:
        match = "fewer than the 10 training images"
    with pytest.raises(ValueError, match=match):
        validation_split(labels, n, seed=0)


def test_hold_out_moves_the_held_images_out_of_training():
    data = load("fashion-mnist-mini")
    split = hold_out(data, 500, seed=2)
    train, held = validation_split(data.train_labels, 500, seed=2)
    assert split.split_sizes == (5500, 1000, 500) and data.split_sizes == (6000, 1000, 0)
    assert torch.equal(split.validation_images, data.train_images[held])
    assert torch.equal(split.validation_labels, data.train_labels[held])
    assert torch.equal(split.train_images, data.train_images[train])
    assert torch.equal(split.test_images, data.test_images)
    # No held image is among the training images, compared by content (an image the set holds twice aside).
    seen = Counter(bytes(img.numpy()) for img in data.train_images)
    kept = {bytes(img.numpy()) for img in split.train_images}
    held_once = [bytes(img.numpy()) for img in split.validation_images if seen[bytes(img.numpy())] == 1]
    assert len(held_once) > 490 and not kept & set(held_once)

"""Minibatch order: a permutation per (seed, epoch), so a run's batches never depend on its pack."""

from __future__ import annotations

import numpy as np
import torch


def epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The shuffled example indices [n] that a run of data-order `seed` (its seed, or a crossed design's order seed)
    visits in `epoch` (1-based)."""
    # SeedSequence mixes (seed, epoch) into independent streams: no two epochs or seeds share an order.
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(epoch)]))
    return torch.from_numpy(rng.permutation(n))


def batches(order: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """Consecutive slices of `order` (last one shorter), like DataLoader(shuffle=True, drop_last=False)."""
    return list(order.split(batch_size, dim=-1))

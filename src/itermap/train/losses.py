"""Training losses, chosen by name in `[train] loss`: each maps a pack's logits and labels to one loss per member.

A member's loss is a mean over its own examples (and steps), so the pack's summed loss has, for member m,
exactly the gradient of m's own loss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-member mean cross-entropy: logits [M, B, C], labels [M, B] -> [M]."""
    m, b, c = logits.shape
    return F.cross_entropy(logits.reshape(m * b, c), y.reshape(m * b), reduction="none").view(m, b).mean(1)


def last_step(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """L = CE(logits after the last step, y): logits [M, B, C] -> [M]."""
    return cross_entropy(logits, y)


def every_step(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Deep supervision, L = (1/T) sum_t CE(logits_t, y): per-step logits [M, T, B, C] -> [M]."""
    m, t, b, c = logits.shape
    return cross_entropy(logits.reshape(m, t * b, c), y.repeat(1, t))  # y [M, B] -> [M, T*B], step-major


@dataclass(frozen=True)
class Loss:
    """A loss by name: whether it reads per-step logits [M, T, B, C] (else the last step's [M, B, C])."""

    name: str
    steps: bool
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    about: str


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss("last", False, last_step, "cross-entropy of the last step's logits (the default)"),
        Loss("every-step", True, every_step, "mean cross-entropy over every step's logits (deep supervision)"),
    )
}

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


def last_step(logits: torch.Tensor, y: torch.Tensor, step_weights: str = "uniform") -> torch.Tensor:
    """L = CE(logits after the last step, y): logits [M, B, C] -> [M]."""
    return cross_entropy(logits, y)


def step_weights_of(kind: str, t: int) -> torch.Tensor:
    """w_k for k = 1..T, summing to 1: uniform 1/T, or linear k / (T (T + 1) / 2) (later steps count more)."""
    w = torch.ones(t, dtype=torch.float64) if kind == "uniform" else torch.arange(1, t + 1, dtype=torch.float64)
    return w / w.sum()


def every_step(logits: torch.Tensor, y: torch.Tensor, step_weights: str = "uniform") -> torch.Tensor:
    """Deep supervision, L = sum_k w_k CE(logits_k, y): per-step logits [M, T, B, C] -> [M]."""
    m, t, b, c = logits.shape
    per_step = F.cross_entropy(logits.reshape(m * t * b, c), y.repeat(1, t).reshape(-1), reduction="none")
    per_step = per_step.view(m, t, b).mean(2)  # [M, T]: y [M, B] -> [M, T*B], step-major
    return per_step @ step_weights_of(step_weights, t).to(per_step)


@dataclass(frozen=True)
class Loss:
    """A loss by name: whether it reads per-step logits [M, T, B, C] (else the last step's [M, B, C])."""

    name: str
    steps: bool
    fn: Callable[[torch.Tensor, torch.Tensor, str], torch.Tensor]  # (logits, labels [M, B], step_weights) -> [M]


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss("last", False, last_step),  # cross-entropy of the last step's logits (the default)
        Loss("every-step", True, every_step),  # every step's, weighted by `step_weights`
    )
}

"""Training losses, chosen by name in `[train] loss`: each maps a pack's logits and labels to one loss per member.

A member's loss is a mean over its own examples (and steps), so the pack's summed loss has, for member m,
exactly the gradient of m's own loss. Every loss is called as fn(logits, labels, train, teacher): `train` the
TrainConfig (step_weights, tau, alpha), `teacher` the teacher's logits of the same examples [M, B, C] (or None).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F


class Settings(Protocol):
    """What a loss reads of a TrainConfig (config.py, which imports this module, so it is not imported here)."""

    step_weights: str
    tau: float
    alpha: float


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-member mean cross-entropy: logits [M, B, C], labels [M, B] -> [M]."""
    m, b, c = logits.shape
    return F.cross_entropy(logits.reshape(m * b, c), y.reshape(m * b), reduction="none").view(m, b).mean(1)


def last_step(logits: torch.Tensor, y: torch.Tensor, train: Settings, teacher: torch.Tensor | None) -> torch.Tensor:
    """L = CE(logits after the last step, y): logits [M, B, C] -> [M]."""
    return cross_entropy(logits, y)


def step_weights_of(kind: str, t: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """w_k for k = 1..T, summing to 1: uniform 1/T, or linear k / (T (T + 1) / 2) (later steps count more); float64,
    made on `device` (no copy from the host: a CUDA graph can hold it)."""
    ones = torch.ones(t, dtype=torch.float64, device=device)
    w = ones if kind == "uniform" else ones.cumsum(0)  # 1, 2, ..., T
    return w / w.sum()


def every_step(logits: torch.Tensor, y: torch.Tensor, train: Settings, teacher: torch.Tensor | None) -> torch.Tensor:
    """Deep supervision, L = sum_k w_k CE(logits_k, y): per-step logits [M, T, B, C] -> [M]."""
    m, t, b, c = logits.shape
    per_step = F.cross_entropy(logits.reshape(m * t * b, c), y.repeat(1, t).reshape(-1), reduction="none")
    per_step = per_step.view(m, t, b).mean(2)  # [M, T]: y [M, B] -> [M, T*B], step-major
    return per_step @ step_weights_of(train.step_weights, t, per_step.device).to(per_step.dtype)


def teacher_kl(teacher: torch.Tensor, student: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """KL(softmax(t/tau) || softmax(s/tau)) = sum_c p_c (log p_c - log q_c) per example: [M, B, C] -> [M, B]."""
    log_p, log_q = F.log_softmax(teacher / tau, -1), F.log_softmax(student / tau, -1)
    return (log_p.exp() * (log_p - log_q)).sum(-1)


def distill(logits: torch.Tensor, y: torch.Tensor, train: Settings, teacher: torch.Tensor | None) -> torch.Tensor:
    """Knowledge distillation (Hinton et al. 2015): logits [M, B, C], teacher's [M, B, C] -> [M]
    L = alpha tau^2 mean_b KL(softmax(t_b/tau) || softmax(s_b/tau)) + (1 - alpha) CE(s, y)
    (tau^2 keeps the soft term's gradient on the scale of the hard one's as tau grows)."""
    assert teacher is not None, "distillation needs the teacher's logits"
    soft = train.tau**2 * teacher_kl(teacher, logits, train.tau).mean(1)
    return train.alpha * soft + (1 - train.alpha) * cross_entropy(logits, y)


@dataclass(frozen=True)
class Loss:
    """A loss by name: whether it reads per-step logits [M, T, B, C] (else the last step's [M, B, C]), and whether it
    reads a teacher's logits."""

    name: str
    steps: bool
    fn: Callable[..., torch.Tensor]  # (logits, labels [M, B], train, teacher logits [M, B, C] or None) -> [M]
    teacher: bool = False


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss("last", False, last_step),  # cross-entropy of the last step's logits (the default)
        Loss("every-step", True, every_step),  # every step's, weighted by `step_weights`
        Loss("distill", False, distill, teacher=True),  # a teacher's softened logits, mixed with the labels
    )
}

"""How a pack is trained: optimiser, batches, data order, evaluation schedule, number format."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, field_validator

from itermap.train.losses import LOSSES

INT64 = 2**63  # seeds and sizes must be below it: SQLite and PyTorch hold signed 64-bit integers


class TrainConfig(BaseModel):
    """Training settings shared by every member of a pack (recorded with every run)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    epochs: PositiveInt = 10
    batch_size: int = Field(64, gt=0, lt=INT64)
    optimizer: Literal["adam"] = "adam"
    lr: PositiveFloat = 1e-4
    loss: str = "last"  # a name in train/losses.py: LOSSES
    step_weights: Literal["uniform", "linear"] = "uniform"  # every-step loss: w_k = 1/T, or k / sum(k)
    tau: PositiveFloat = 4.0  # distill loss: the softmax temperature of teacher and student
    alpha: float = Field(1.0, ge=0.0, le=1.0)  # distill loss: weight of the teacher's term; 1 - alpha on the labels
    teacher: str | None = None  # the teacher's run id (set by the plan): its logits, and fidelity metrics
    data_order: Literal["per-seed", "shared"] = "per-seed"
    data_seed: int = Field(0, ge=0, lt=INT64)
    eval_train_every: PositiveInt = 5
    eval_test_every: PositiveInt = 1
    eval_steps: bool = False  # at each test evaluation, also every step's prediction (families with steps)
    scaling: Literal["standardize", "unit"] = "standardize"
    dtype: Literal["float32", "float64"] = "float32"

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, name: str) -> str:
        if name not in LOSSES:
            raise ValueError(f"unknown loss {name!r}; allowed: {', '.join(LOSSES)}")
        return name

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

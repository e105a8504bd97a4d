"""How a pack is trained: optimiser, batches, data order, evaluation schedule, number format."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, PositiveFloat, PositiveInt


class TrainConfig(BaseModel):
    """Training settings shared by every member of a pack (recorded with every run)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 64
    optimizer: Literal["adam"] = "adam"
    lr: PositiveFloat = 1e-4
    data_order: Literal["per-seed", "shared"] = "per-seed"
    data_seed: int = 0
    eval_train_every: PositiveInt = 5
    eval_test_every: PositiveInt = 1
    scaling: Literal["standardize", "unit"] = "standardize"
    dtype: Literal["float32", "float64"] = "float32"

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

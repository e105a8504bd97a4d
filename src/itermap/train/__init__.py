"""Packs of members stacked on a leading axis and the batched trainer that trains them as one."""

from itermap.train.config import TrainConfig
from itermap.train.order import batches, epoch_order
from itermap.train.trainer import MetricRow, PackTrainer

__all__ = ["MetricRow", "PackTrainer", "TrainConfig", "batches", "epoch_order"]

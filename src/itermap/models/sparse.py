"""The sparsity continuum: iterative maps from an MLP's block pattern to recurrent, skip and feedback blocks.

State s = [x; h1; ...; hL; y] with L hidden slots of `hidden` tanh units, run L + 1 iterations on the static
image (models/itermap.py). The blocks of W (b = dst <- src, |b| = rows * cols entries) fall in two sets:

    S = (h1<-x, h2<-h1, ..., y<-hL)                                    the sub-diagonal: MLP-L when dense
    O = every other (dst, src), dst in (h1..hL, y), src in (x, h1..hL, y), dst-major, src in that order
        (recurrent dst = src, skip src before dst's predecessor, feedback src after dst)

The coordinate f in [0, 1] moves f of S's entries into O, holding the non-zeros (and the biases) exactly:

    moved_b = floor(f |b| + 1/2) for b in S, which keeps k_b = |b| - moved_b
    M = sum_S moved_b,   C = sum_O |o|   (M <= C, else the config is refused)
    k_o = M |o| / C for o in O, rounded by largest remainder: floors, then +1 to the largest fractional
          parts until the k_o sum to M (ties to the earlier block of O)

A block keeping k of |b| entries is dense (k = |b|), absent (k = 0) or `random` with density k / |b|: the
entries at the first k positions (row-major) of torch.randperm(|b|) under seed `mask_seed + i`, i its index
in S + O. So one block's patterns are nested along f. docs/continua.md states the same for rebuilding.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, ClassVar, Literal

import torch
from pydantic import Field, NonNegativeInt, PositiveInt, model_validator

from itermap.models import itermap
from itermap.models.base import FamilyConfig
from itermap.models.itermap import INPUT, OUTPUT, Block, IterMapConfig, Slot
from itermap.models.stacked import Params


class SparseConfig(FamilyConfig):
    """A point of the sparsity continuum: L slots of `hidden` units, `fraction` of MLP-L's weights moved off S."""

    family: Literal["sparse"] = "sparse"
    hidden: PositiveInt
    layers: PositiveInt = 2
    fraction: float = Field(0.0, ge=0.0, le=1.0)
    mask_seed: NonNegativeInt = 0

    has_steps: ClassVar[bool] = True
    size_fields: ClassVar[tuple[str, ...]] = ("hidden", "layers")

    @model_validator(mode="after")
    def _fits(self) -> SparseConfig:
        allocation(self)  # raises when O cannot hold what f moves
        return self

    @property
    def arch(self) -> str:
        return f"sparse-{self.layers}x{self.hidden}-f{self.fraction:g}"

    @property
    def width(self) -> int:
        return self.hidden

    @property
    def depth(self) -> int:
        return self.layers

    @property
    def step_count(self) -> int:
        return self.layers + 1

    @property
    def path(self) -> int:
        return self.layers + 1

    @classmethod
    def sized(cls, fields: dict[str, Any], width: int) -> dict[str, Any]:
        return {**fields, "hidden": width}


def block_sets(cfg: SparseConfig) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(S, O): the sub-diagonal (dst, src) pairs in order, then every other pair, dst-major."""
    hidden = [f"h{l + 1}" for l in range(cfg.layers)]
    chain = [INPUT, *hidden, OUTPUT]
    sub = list(zip(chain[1:], chain[:-1]))
    others = [(d, s) for d in (*hidden, OUTPUT) for s in chain if (d, s) not in sub]
    return sub, others


def entries(cfg: SparseConfig, pair: tuple[str, str]) -> int:
    """|b|: the entries of block dst <- src."""
    size = {OUTPUT: cfg.classes, INPUT: cfg.image[0] * cfg.image[1]}
    return size.get(pair[0], cfg.hidden) * size.get(pair[1], cfg.hidden)


@lru_cache(maxsize=1024)
def allocation(cfg: SparseConfig) -> dict[tuple[str, str], int]:
    """Non-zeros k_b kept by every block of S + O, in that order (the module docstring's rule)."""
    sub, others = block_sets(cfg)
    kept = {b: entries(cfg, b) - math.floor(cfg.fraction * entries(cfg, b) + 0.5) for b in sub}
    moved = sum(entries(cfg, b) for b in sub) - sum(kept.values())  # M
    room = sum(entries(cfg, o) for o in others)  # C
    if moved > room:
        raise ValueError(
            f"fraction {cfg.fraction:g} moves {moved:,} weights, more than the {room:,} entries "
            f"off the sub-diagonal; use more layers or a smaller fraction"
        )
    quota = [moved * entries(cfg, o) / room for o in others]
    counts = [math.floor(q) for q in quota]
    by_remainder = sorted(range(len(others)), key=lambda i: (-(quota[i] - counts[i]), i))
    for i in by_remainder[: moved - sum(counts)]:
        counts[i] += 1
    return {**kept, **dict(zip(others, counts))}


@lru_cache(maxsize=1024)
def pattern(cfg: SparseConfig) -> IterMapConfig:
    """The ordinary iterative map this point of the continuum is: blocks masked as `allocation` says."""
    blocks = []
    for i, (pair, k) in enumerate(allocation(cfg).items()):
        if k == 0:
            continue
        size = entries(cfg, pair)
        if k == size:
            blocks.append(Block(dst=pair[0], src=pair[1]))
        else:
            blocks.append(Block(dst=pair[0], src=pair[1], mask="random", density=k / size, seed=cfg.mask_seed + i))
    return IterMapConfig(
        slots=tuple(Slot(name=f"h{l + 1}", size=cfg.hidden) for l in range(cfg.layers)),
        blocks=tuple(blocks),
        iterations=cfg.layers + 1,
        image=cfg.image,
        classes=cfg.classes,
    )


def view(cfg: SparseConfig, x: torch.Tensor) -> torch.Tensor:
    """Scaled images [N, H, W] -> the flat image [N, H*W] (fed at every iteration)."""
    return itermap.view(pattern(cfg), x)


def init(cfg: SparseConfig, seed: int, dtype: torch.dtype = torch.float32) -> Params:
    """The iterative map's init (per slot U(+-1/sqrt(fan-in)), masked entries zero); at f = 0 what mlp.init draws."""
    return itermap.init(pattern(cfg), seed, dtype)


def forward(
    cfg: SparseConfig, params: Params, x: torch.Tensor, steps: bool = False, order: itermap.Order | None = None
) -> torch.Tensor:
    """x [M, B, H*W] -> logits [M, B, C] after L + 1 iterations, or [M, L+1, B, C] after each (`order`: the
    iterative map's, block by block on the CPU, one matrix on CUDA)."""
    return itermap.forward(pattern(cfg), params, x, steps, order)


def count_params(cfg: SparseConfig) -> int:
    """Every block's mask non-zeros plus the slots' biases: MLP-L's count at every f."""
    return itermap.count_params(pattern(cfg))


def macs(cfg: SparseConfig) -> int:
    """Multiply-adds per example of the iterative map (non-zeros times the iterations that apply them)."""
    return itermap.macs(pattern(cfg))


def to_torch(cfg: SparseConfig, params: Params) -> torch.nn.Module:
    """One member as the iterative map's loop of masked nn.Linear blocks."""
    return itermap.to_torch(pattern(cfg), params)


Config = SparseConfig

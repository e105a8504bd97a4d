"""Iterative map: a state of named slots [x; hidden slots; y] updated T times by one block matrix W.

    s_k[j] = f_j( b_j + sum_i W_ji s_{k-1}[i] )      for every non-input slot j, at iterations k = 1..T

All slots update simultaneously (every block reads the previous state s_{k-1}). The input slot x is
forced before every iteration: the flat image each time (`static`), or the k-th column window of the
image (`windows`; zeros once the windows run out). The logits are the output slot y after iteration T.
A block W_ji is absent (not listed), dense, or masked by a fixed pattern (`diagonal`, or `random` with a
given density); its parameters are the mask's non-zeros. A slot's `start` is the schedule: slot j is
held at zero before iteration `start_j`, which lets a pipeline of layers wait for its first valid input
(see docs/forms.md). MLPs, RNNs and everything between are block patterns (itermap.convert builds them).

Params: `w_{dst}_{src}` [out, in] per block (masked entries stored as zeros) and `b_{slot}` [out] per
non-input slot, stacked on a leading member axis M like every family.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import cache, lru_cache
from itertools import groupby
from typing import ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator
from torch.nn.utils import prune

from itermap.data import views
from itermap.models.base import FamilyConfig
from itermap.models.stacked import ACTIVATIONS, Params, generator, uniform

INPUT, OUTPUT = "x", "y"
Activation = Literal["tanh", "relu", "identity"]


class Slot(BaseModel):
    """A hidden slot: `size` units, an activation, and the first iteration at which it is updated."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    size: PositiveInt
    activation: Activation = "tanh"
    start: PositiveInt = 1


class Block(BaseModel):
    """The linear map from slot `src` into slot `dst`: dense, or masked by a fixed sparsity pattern."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dst: str
    src: str
    mask: Literal["dense", "diagonal", "random"] = "dense"
    density: float = Field(1.0, gt=0.0, le=1.0)  # `random`: the fraction of entries kept
    seed: int = 0  # `random`: which entries


class IterMapConfig(FamilyConfig):
    """An iterative map: hidden `slots` between the input x and the output y, `blocks` of W, T `iterations`."""

    family: Literal["itermap"] = "itermap"
    slots: tuple[Slot, ...] = ()
    blocks: tuple[Block, ...]
    iterations: PositiveInt
    input: Literal["static", "windows"] = "static"
    window: PositiveInt = 3  # `windows`: columns per window
    remainder: Literal["drop", "pad"] = "drop"  # `windows`: leftover columns dropped, or read in a zero-padded window
    output_start: PositiveInt = 1  # the schedule of y: held at zero before this iteration

    has_steps: ClassVar[bool] = True
    size_fields: ClassVar[tuple[str, ...]] = ("slots",)

    @model_validator(mode="after")
    def _check(self) -> IterMapConfig:
        names = [s.name for s in self.slots]
        for name in names:
            if name in (INPUT, OUTPUT) or not re.fullmatch(r"[a-z][a-z0-9]*", name):
                raise ValueError(f"slot name {name!r} must be lowercase letters and digits, not 'x' or 'y'")
        if len(set(names)) != len(names):
            raise ValueError(f"slot names must be unique: {names}")
        pairs = [(b.dst, b.src) for b in self.blocks]
        if len(set(pairs)) != len(pairs):
            raise ValueError("each (dst, src) block may appear once")
        for b in self.blocks:
            if b.dst not in (*names, OUTPUT) or b.src not in (INPUT, *names, OUTPUT):
                raise ValueError(f"block {b.dst} <- {b.src}: dst must be a hidden slot or 'y', src a slot or 'x'")
            if b.mask == "diagonal" and self.size(b.dst) != self.size(b.src):
                raise ValueError(f"block {b.dst} <- {b.src}: a diagonal mask needs slots of equal size")
        if self.output_start > self.iterations:
            raise ValueError("output_start after the last iteration: the logits would never be computed")
        return self

    @property
    def arch(self) -> str:
        return "-".join(["itermap", *(str(s.size) for s in self.slots), f"t{self.iterations}"])

    @property
    def width(self) -> int:
        return max((s.size for s in self.slots), default=0)

    @property
    def depth(self) -> int:
        return len(self.slots)

    @property
    def step_count(self) -> int:
        return self.iterations

    @property
    def path(self) -> int:
        """Iterations: each applies W once."""
        return self.iterations

    @property
    def inputs(self) -> int:
        """Size of the input slot: the flat image, or one window of `window` columns."""
        h, w = self.image
        return h * w if self.input == "static" else self.window * h

    @property
    def window_count(self) -> int:
        """Distinct inputs fed: 1 (static) or the number of whole column windows."""
        return 1 if self.input == "static" else views.steps_of(self.image[1], self.window, self.remainder)

    def size(self, name: str) -> int:
        """Units of slot `name`."""
        if name == INPUT:
            return self.inputs
        return self.classes if name == OUTPUT else next(s.size for s in self.slots if s.name == name)

    def updated(self) -> list[tuple[str, Activation, int]]:
        """(name, activation, start) of every slot that is updated: the hidden slots, then y."""
        return [(s.name, s.activation, s.start) for s in self.slots] + [(OUTPUT, "identity", self.output_start)]

    def into(self, dst: str) -> list[Block]:
        """The blocks that write into slot `dst`, in config order."""
        return [b for b in self.blocks if b.dst == dst]


def wname(b: Block) -> str:
    return f"w_{b.dst}_{b.src}"


@lru_cache(maxsize=256)
def block_mask(b: Block, rows: int, cols: int) -> torch.Tensor | None:
    """The fixed 0/1 pattern of a block [rows, cols] (bool, CPU), or None for a dense block."""
    if b.mask == "dense":
        return None
    if b.mask == "diagonal":
        return torch.eye(rows, cols, dtype=torch.bool)
    keep = max(1, round(b.density * rows * cols))  # exactly this many, so budgets are predictable
    chosen = torch.randperm(rows * cols, generator=generator(b.seed))[:keep]
    return torch.zeros(rows * cols, dtype=torch.bool).index_fill_(0, chosen, True).view(rows, cols)


@cache  # never evicted: a captured step holds the tensor's address (train/capture.py)
def device_mask(b: Block, rows: int, cols: int, device: str) -> torch.Tensor | None:
    """`block_mask` on `device`, copied there once: a step captured as a CUDA graph cannot copy from the host."""
    mask = block_mask(b, rows, cols)
    return None if mask is None else mask.to(device)


def masked(cfg: IterMapConfig, params: Params) -> Params:
    """The block weights with their masks applied (dense blocks as they are); works stacked or not."""
    out = {}
    for b in cfg.blocks:
        w = params[wname(b)]
        mask = device_mask(b, cfg.size(b.dst), cfg.size(b.src), str(w.device))
        out[wname(b)] = w if mask is None else w * mask
    return out


def view(cfg: IterMapConfig, x: torch.Tensor) -> torch.Tensor:
    """Scaled images [N, H, W] -> [N, H*W] (static) or column windows [N, S, window*H]."""
    return views.flat(x) if cfg.input == "static" else views.windows(x, cfg.window, "columns", cfg.remainder)


def init(cfg: IterMapConfig, seed: int, dtype: torch.dtype = torch.float32) -> Params:
    """nn.Linear's init per slot over its concatenated inputs: U(+-1/sqrt(fan-in)) for its blocks, then its bias.

    Drawn slot by slot in `updated()` order, so an MLP pattern draws exactly the numbers mlp.init draws.
    """
    gen, params = generator(seed), {}
    for name, _, _ in cfg.updated():
        blocks = cfg.into(name)
        bound = 1.0 / math.sqrt(max(1, sum(cfg.size(b.src) for b in blocks)))
        for b in blocks:
            params[wname(b)] = uniform(gen, (cfg.size(name), cfg.size(b.src)), bound, dtype)
        params[f"b_{name}"] = uniform(gen, (cfg.size(name),), bound, dtype)
    return {**params, **masked(cfg, params)}  # masked entries stored as zeros


Order = Literal["blocks", "matrix"]  # how `forward` applies W: block by block, or as one matrix


def default_order(cfg: IterMapConfig, device: str) -> Order:
    """Block by block on the CPU (its numbers are the reference); on CUDA (`device`: a torch.device's type) as one
    matrix where that is fewer kernels: where the blocks between slots outnumber the slots (an MLP's pattern, one
    block a slot, stays block by block)."""
    between = sum(1 for blk in cfg.blocks if blk.src != INPUT)
    return "matrix" if device == "cuda" and between > len(cfg.updated()) else "blocks"


def forward(
    cfg: IterMapConfig, params: Params, x: torch.Tensor, steps: bool = False, order: Order | None = None
) -> torch.Tensor:
    """x [M, B, H*W] or [M, B, S, I] -> logits [M, B, C] after the last iteration, or [M, T, B, C] after each.

    The two orders compute the same sums (to rounding): `blocks` one matmul per block an iteration, `matrix` one
    for all of W, absent blocks included (three kernels an iteration whatever the blocks). None: `default_order`."""
    order = order or default_order(cfg, x.device.type)
    outs = matrix_outputs(cfg, params, x) if order == "matrix" else block_outputs(cfg, params, x)
    return torch.stack(outs, dim=1) if steps else outs[-1]


def block_outputs(cfg: IterMapConfig, params: Params, x: torch.Tensor) -> list[torch.Tensor]:
    """y after each iteration [M, B, C], block by block: s_k[j] = f_j(b_j + sum_i W_ji s_{k-1}[i])."""
    w, m, b = masked(cfg, params), x.shape[0], x.shape[1]
    seq = x.unsqueeze(2) if cfg.input == "static" else x  # [M, B, S, I], S = 1 when static
    s = seq.shape[2]
    flat_seq = seq.transpose(1, 2).reshape(m, s * b, -1)  # [M, S*B, I], step-major
    # x is forced, not computed, so a block reading x is applied once per distinct input, all in one matmul
    # with the slot's bias folded in: proj[j] [M, S, B, size_j] = b_j + W_jx x_s.
    proj, bias = {}, {}
    for name, _, _ in cfg.updated():
        bias[name] = params[f"b_{name}"].unsqueeze(1).expand(m, b, -1)  # [M, B, size]
        from_x = [blk for blk in cfg.into(name) if blk.src == INPUT]
        if from_x:
            w_x = w[wname(from_x[0])].transpose(1, 2)  # [M, I, size]
            proj[name] = torch.baddbmm(bias[name][:, :1], flat_seq, w_x).view(m, s, b, -1)
    start = {name: st for name, _, st in cfg.updated()}
    state = {name: x.new_zeros(m, b, cfg.size(name)) for name in start}
    outs = []
    for k in range(1, cfg.iterations + 1):
        i = 0 if cfg.input == "static" else k - 1  # the input x holds at iteration k (zeros once i >= S)
        new = {}
        for name, act, st in cfg.updated():
            if k < st:  # not scheduled yet: stays zero
                new[name] = state[name]
                continue
            pre = proj[name][:, i] if name in proj and i < s else bias[name]  # [M, B, size]
            for blk in cfg.into(name):
                if blk.src != INPUT and k > start[blk.src]:  # a slot not updated before iteration k holds zeros
                    pre = torch.baddbmm(pre, state[blk.src], w[wname(blk)].transpose(1, 2))
            new[name] = ACTIVATIONS[act](pre)
        state = new
        outs.append(state[OUTPUT])
    return outs


def matrix_outputs(cfg: IterMapConfig, params: Params, x: torch.Tensor) -> list[torch.Tensor]:
    """y after each iteration [M, B, C], W as one matrix over the updated slots r = [h1; ...; y] (R units):

        r_k = f(b + W_rx x_k + W_rr r_{k-1}),  r_0 = 0,  a slot held at zero before its start

    W = [W_rx | W_rr] is `layout`'s [R, I + R]. A slot not yet updated holds zeros in r_{k-1}, so its blocks add
    nothing, as `block_outputs` skips them. On a GPU, where a pack's small matmuls cost their launches, an iteration
    is 3 kernels (baddbmm, the activation, a cat) instead of a baddbmm per block; laying W out costs a cat per slot
    and a zero fill per absent block, each way. sparse-2x38-f0.5's training step is 64 operations instead of 140
    (docs/performance.md)."""
    m, b = x.shape[:2]
    units = [cfg.size(name) for name, _, _ in cfg.updated()]  # R = sum(units)
    # split, not sliced: backward joins the two gradients with one cat, where each slice would fill zeros and copy
    w_x, w_r = layout(cfg, params).split([cfg.inputs, sum(units)], dim=2)  # [M, R, I], [M, R, R]
    bias = torch.cat([params[f"b_{name}"] for name, _, _ in cfg.updated()], dim=1).unsqueeze(1)  # [M, 1, R]
    seq = x.unsqueeze(2) if cfg.input == "static" else x  # [M, B, S, I], S = 1 when static
    s = seq.shape[2]
    # b + W_rx x_s for every distinct input at once: [M, S*B, I] @ [M, I, R] -> [M, S, B, R]
    proj = torch.baddbmm(bias, seq.transpose(1, 2).reshape(m, s * b, -1), w_x.transpose(1, 2)).view(m, s, b, -1)
    inputs = proj.unbind(1)  # S x [M, B, R], taken apart once: backward stacks them in one kernel
    last_start = max(st for _, _, st in cfg.updated())
    r: torch.Tensor | None = None
    outs = []
    for k in range(1, cfg.iterations + 1):
        i = 0 if cfg.input == "static" else k - 1  # the input x holds at iteration k (zeros once i >= S)
        pre = inputs[i] if i < s else bias.expand(m, b, -1)  # [M, B, R]
        if r is not None:  # r_0 = 0 adds nothing
            pre = torch.baddbmm(pre, r, w_r.transpose(1, 2))
        r = activate(cfg, pre)
        if k < last_start:  # slots scheduled later stay zero
            r = r * started(cfg, k, str(r.device), r.dtype)
        outs.append(r.split([sum(units) - cfg.classes, cfg.classes], dim=-1)[1])  # y, the last slot
    return outs


def layout(cfg: IterMapConfig, params: Params) -> torch.Tensor:
    """W as one matrix [M, R, I + R] (`laid_out`), absent blocks zero, masks applied (one multiply for all)."""
    like = params[f"b_{OUTPUT}"]  # [M, C]: the members and dtype (a map may have no block at all)
    present = {(blk.dst, blk.src): params[wname(blk)] for blk in cfg.blocks}

    def block(dst: str, src: str) -> torch.Tensor:
        if (dst, src) in present:
            return present[dst, src]
        return like.new_zeros(like.shape[0], cfg.size(dst), cfg.size(src))

    w = laid_out(cfg, block)
    mask = layout_mask(cfg, str(w.device))
    return w if mask is None else w * mask


@cache  # never evicted: a captured step holds the tensor's address
def layout_mask(cfg: IterMapConfig, device: str) -> torch.Tensor | None:
    """The blocks' masks laid out as W (bool [R, I + R] on `device`); None where no block is masked (absent blocks
    are zeros already)."""
    if all(blk.mask == "dense" for blk in cfg.blocks):
        return None
    present = {(blk.dst, blk.src): blk for blk in cfg.blocks}

    def block(dst: str, src: str) -> torch.Tensor:
        rows, cols = cfg.size(dst), cfg.size(src)
        if (dst, src) not in present:
            return torch.zeros(rows, cols, dtype=torch.bool)
        mask = block_mask(present[dst, src], rows, cols)
        return torch.ones(rows, cols, dtype=torch.bool) if mask is None else mask

    return laid_out(cfg, block).to(device)


def laid_out(cfg: IterMapConfig, block: Callable[[str, str], torch.Tensor]) -> torch.Tensor:
    """block(dst, src) [..., size(dst), size(src)] for every pair, laid out as W: rows the updated slots (h1..hL, y),
    columns x then the updated slots -> [..., R, I + R]."""
    names = [name for name, _, _ in cfg.updated()]
    return torch.cat([torch.cat([block(dst, src) for src in (INPUT, *names)], dim=-1) for dst in names], dim=-2)


def activate(cfg: IterMapConfig, pre: torch.Tensor) -> torch.Tensor:
    """Each updated slot's activation on its units of pre [..., R]: one kernel per run of slots that share one."""
    runs = [(act, sum(cfg.size(name) for name, _, _ in run)) for act, run in groupby(cfg.updated(), lambda u: u[1])]
    if len(runs) == 1:
        return ACTIVATIONS[runs[0][0]](pre)
    parts = pre.split([units for _, units in runs], dim=-1)
    return torch.cat([ACTIVATIONS[act](part) for (act, _), part in zip(runs, parts)], dim=-1)


@cache  # never evicted: a captured step holds the tensor's address
def started(cfg: IterMapConfig, k: int, device: str, dtype: torch.dtype) -> torch.Tensor:
    """1 for the units of slots updated by iteration k, 0 for those held at zero still: [R] on `device`."""
    ones = [torch.full((cfg.size(name),), float(k >= st), dtype=dtype) for name, _, st in cfg.updated()]
    return torch.cat(ones).to(device)


def nonzeros(cfg: IterMapConfig, b: Block) -> int:
    """Entries of block `b` that can be non-zero: its mask's ones, or all of a dense block."""
    mask = block_mask(b, cfg.size(b.dst), cfg.size(b.src))
    return cfg.size(b.dst) * cfg.size(b.src) if mask is None else int(mask.sum())


def count_params(cfg: IterMapConfig) -> int:
    """Every block's non-zeros plus one bias per updated slot."""
    return sum(nonzeros(cfg, b) for b in cfg.blocks) + sum(cfg.size(name) for name, _, _ in cfg.updated())


def macs(cfg: IterMapConfig) -> int:
    """Multiply-adds per example as `forward` does them: a block counts its non-zeros once per time it is applied.

    A block from x is applied once per distinct input (1 when static, one per window read); any other
    block at every iteration k >= start(dst) whose source has been updated before k.
    """
    start = {name: st for name, _, st in cfg.updated()}
    total = 0
    for b in cfg.blocks:
        ks = range(start[b.dst], cfg.iterations + 1)
        if b.src == INPUT:
            uses = 1 if cfg.input == "static" else sum(1 for k in ks if k <= cfg.window_count)
        else:
            uses = sum(1 for k in ks if k > start[b.src])
        total += nonzeros(cfg, b) * uses
    return total


class IterMapModule(torch.nn.Module):
    """One member as a plain loop over iterations: an nn.Linear per block (masked ones pruned with a fixed mask)."""

    def __init__(self, cfg: IterMapConfig, params: Params):
        super().__init__()
        self.cfg = cfg
        dtype = params[f"b_{OUTPUT}"].dtype
        self.blocks = torch.nn.ModuleDict()
        for b in cfg.blocks:
            lin = torch.nn.Linear(cfg.size(b.src), cfg.size(b.dst), bias=False, dtype=dtype)
            with torch.no_grad():
                lin.weight.copy_(params[wname(b)])
            mask = block_mask(b, cfg.size(b.dst), cfg.size(b.src))
            if mask is not None:
                prune.custom_from_mask(lin, "weight", mask)
            self.blocks[wname(b)] = lin
        biases = {n: torch.nn.Parameter(params[f"b_{n}"].clone()) for n, _, _ in cfg.updated()}
        self.bias = torch.nn.ParameterDict(biases)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, H*W] (static) or [B, S, I] (windows) -> logits [B, C]."""
        cfg = self.cfg
        state = {name: x.new_zeros(x.shape[0], cfg.size(name)) for name in (INPUT, *(n for n, _, _ in cfg.updated()))}
        for k in range(1, cfg.iterations + 1):
            if cfg.input == "static":
                state[INPUT] = x
            else:
                state[INPUT] = x[:, k - 1] if k <= x.shape[1] else torch.zeros_like(x[:, 0])
            new = dict(state)
            for name, act, start in cfg.updated():
                if k >= start:
                    pre = self.bias[name] + sum(self.blocks[wname(b)](state[b.src]) for b in cfg.into(name))
                    new[name] = ACTIVATIONS[act](pre)
            state = new
        return state[OUTPUT]


def to_torch(cfg: IterMapConfig, params: Params) -> IterMapModule:
    """One member as an nn.Module that runs the iteration literally, holding the same weights."""
    return IterMapModule(cfg, params)


Config = IterMapConfig

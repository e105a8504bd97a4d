"""Unrolled nets: depth from repetition. d steps of `hidden` units on the flat image, with weights shared over the
steps in k blocks (tied: k = 1, untied: k = d, or anything between), and logits at every step.

With x the flat standardised image, steps t = 0..d-1, h_{-1} = 0 and b(t) the block step t uses:

    h_t = tanh(W_{b(t)} h_{t-1} + U_t V_t^T h_{t-1} + A_{b(t)} x + c_{b(t)})   inject = "every-step" (x fed every step)
    h_t = tanh(W_{b(t)} h_{t-1} + U_t V_t^T h_{t-1} + [t = 0] A x + c_{b(t)})  inject = "first"      (x fed once)
    y_t = V^out_t h_t + c^out_t                        heads = "separate" (one head per step), or V^out, c^out shared

    b(t) = t mod k                schedule = "cycle"     (blocks 0 1 0 1 for k = 2, d = 4)
    b(t) = floor(t k / d)         schedule = "sequence"  (blocks 0 0 1 1 for k = 2, d = 4)

`blocks = k` (None: `tied` decides, k = 1 if tied else d; given, `tied` follows it: tied = (k = 1)). Both schedules
agree at k = 1 and k = d. A block holds what one step of today's nets holds: k = 1 is nn.RNN's cell (w_ih = A,
w_hh = W and both biases b_ih + b_hh = c, stored and counted, as nn.RNN does); tied + every-step is nn.RNN(784,
hidden) fed the image d times, tied + first the same RNN fed the image and then zeros. k >= 2: block j is an
nn.Linear over what it reads, its W_j if it serves a step t >= 1, its A_j if it serves a step that reads x
(every step: all blocks; first: block 0 alone), and one bias c_j; k = d is the untied net, and untied + first is an
MLP with d hidden layers (block 0 of an untied net serves step 0 only, so has no W).

`relax = r` (0: off) gives every step t >= 1 its own rank-r update U_t V_t^T (U_t, V_t [H, r]) of the block's W
(step 0 reads h_{-1} = 0, so an update there would do nothing and has none). Only with k < d: with k = d every step
has its own W already. U_t starts at 0 and V_t at nn.Linear(H, r)'s default, both drawn after everything else from
the member's seed: a relaxed net starts as the very net of relax = 0 (same seed), and training moves off the shared
block from there (U = 0 with V random has a gradient in U; U = V = 0 would have none).

Parameters are counted once however often they are used (H = hidden, P = pixels, C = classes, n_A = k with
every-step else 1, n_W = blocks serving a step t >= 1 (k for k < d; d - 1 for k = d; 1 for k = 1), n_c = 2 for k = 1
else k, heads = 1 or d):

    count = n_A P H + n_W H^2 + n_c H + heads (H + 1) C + (d - 1) 2 H r

A tied net (k = 1, relax = 0) can run on past its trained depth (anytime evaluation up to 2d); steps past d use the
last head. Any net with k < d runs on the same way when asked (`states`, `dynamics`): past d it repeats the last
period of its trained steps, step t >= d using the maps of step s(t) = d - p + (t - d) mod p, the period p = k under
"cycle" (so blocks go on t mod k) and p = 1 under "sequence" (the last block), each with step s(t)'s relax update.

What such a net does with its steps (`dynamics`, each [M]; h_t the state after t steps, t = 1, 2, ...; the residual
compares states one period apart, as the map the net iterates past d is its period's composition: p = 1 is the
plain ||h_{t+1} - h_t|| / ||h_t||, while a cycled net's h_{t+1} comes from another block than h_t's):

    spectral_norm   = max_{t=1..d-1} ||W_{b(t)} + U_t V_t^T||_2       (the largest singular value)
    spectral_radius = max_{t=1..d-1} max |eig(W_{b(t)} + U_t V_t^T)|
    residual_d      = mean_n ||h_{d+p} - h_d|| / ||h_d||             residual_2d: the same at t = 2d
    residual        = mean_n ||h_{t+p} - h_t|| / ||h_t||, t = 1..T   (asked for `steps` = T: one per step [M, T])
    accuracy_2d     = mean_n [argmax y_{2d} = label]                 accuracy_4d: the same at step 4d

Params (one member): k = 1: w_ih [H, 784], w_hh [H, H], b_ih [H], b_hh [H]; k >= 2: u [n_A, H, 784], w [n_W, H, H],
b [k, H]; relax: ru [d-1, H, r] (U_t), rv [d-1, H, r] (V_t); heads: w_out [C, H], b_out [C] (shared) or [d, C, H],
[d, C] (separate).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import torch
from pydantic import NonNegativeInt, PositiveInt, model_validator

from itermap.data import views
from itermap.models.base import FamilyConfig
from itermap.models.stacked import Params, generator, init_linear, linear, uniform


class UnrolledConfig(FamilyConfig):
    """d steps of `hidden` tanh units on the flat image, in k weight blocks (tied: an RNN; untied: an MLP), logits at
    every step."""

    family: Literal["unrolled"] = "unrolled"
    hidden: PositiveInt
    depth: PositiveInt = 2
    tied: bool = True
    inject: Literal["every-step", "first"] = "every-step"
    heads: Literal["shared", "separate"] = "shared"
    blocks: PositiveInt | None = None  # distinct weight blocks over the d steps; None: 1 if tied else d
    schedule: Literal["cycle", "sequence"] = "cycle"  # step t uses block t mod k, or floor(t k / d)
    relax: NonNegativeInt = 0  # rank of each step's own update U_t V_t^T of its block's W (0: none)

    has_steps: ClassVar[bool] = True
    size_fields: ClassVar[tuple[str, ...]] = ("hidden", "depth")

    @model_validator(mode="before")
    @classmethod
    def _tied_follows_blocks(cls, data: Any) -> Any:
        """`blocks` given and `tied` not: tied = (blocks == 1), so that the field says what the net is."""
        if isinstance(data, dict) and data.get("blocks") is not None and "tied" not in data:
            return {**data, "tied": data["blocks"] == 1}
        return data

    @model_validator(mode="after")
    def _check_sharing(self) -> UnrolledConfig:
        k, d = self.blocks, self.depth
        if k is not None and k > d:
            raise ValueError(f"blocks = {k} over depth = {d}: at most one block per step (1 <= blocks <= depth)")
        if k is not None and self.tied != (k == 1):
            raise ValueError(
                f"tied = true is one block for every step (blocks = 1), not blocks = {k}: drop `tied`"
                if self.tied
                else "tied = false asks for more than one block, but blocks = 1 is the tied net: drop `tied`"
            )
        if self.relax and self.block_count == d:
            raise ValueError(
                f"relax = {self.relax} needs blocks < depth (here {self.block_count} blocks for {d} steps): every step "
                "already has a W of its own, which a per-step update U_t V_t^T would only reparametrise"
            )
        return self

    @property
    def block_count(self) -> int:
        """k: 1 when tied, d when untied, or `blocks`."""
        return self.blocks if self.blocks is not None else 1 if self.tied else self.depth

    def block_of(self, t: int) -> int:
        """The block step t uses: t mod k (cycle) or floor(t k / d) (sequence); past d, step `step_of(t)`'s."""
        k, t = self.block_count, self.step_of(t)
        return t % k if self.schedule == "cycle" else t * k // self.depth

    def step_of(self, t: int) -> int:
        """The trained step whose maps step t uses: t itself below d; past d the last period of the trained steps
        repeats, s(t) = d - p + (t - d) mod p, p = k under "cycle" and 1 under "sequence" (only for k < d)."""
        d, p = self.depth, self.period
        return t if t < d else d - p + (t - d) % p

    @property
    def period(self) -> int:
        """p: the steps after which a net run past d repeats its maps: k under "cycle", 1 under "sequence"."""
        return self.block_count if self.schedule == "cycle" else 1

    @property
    def recurrent(self) -> list[int]:
        """The blocks with a W: those serving a step t >= 1 (all of them for k < d; 1..d-1 untied; nn.RNN's w_hh)."""
        if self.block_count == 1:
            return [0]
        return sorted({self.block_of(t) for t in range(1, self.depth)})

    @property
    def sharing(self) -> str:
        """'' for today's tied and untied nets; else what `blocks` and `relax` say, e.g. "b2cycle", "b2cycle-r4"."""
        parts = ([f"b{self.blocks}{self.schedule}"] if self.blocks is not None else []) + (
            [f"r{self.relax}"] if self.relax else []
        )
        return "-".join(parts)

    @property
    def arch(self) -> str:
        """unrolled-tied-4x64, unrolled-untied-first-heads-4x64; unrolled-b2cycle-4x64, unrolled-tied-r4-4x64."""
        kind = f"b{self.blocks}{self.schedule}" if self.blocks is not None else "tied" if self.tied else "untied"
        relax = f"-r{self.relax}" if self.relax else ""
        inject = "" if self.inject == "every-step" else "-first"
        heads = "" if self.heads == "shared" else "-heads"
        return f"unrolled-{kind}{relax}{inject}{heads}-{self.depth}x{self.hidden}"

    @property
    def group(self) -> str:
        """unrolled-d as for every family; with blocks or relax, unrolled-b2cycle-d, unrolled-b2cycle-r4-d."""
        return f"{self.family}-{self.sharing + '-' if self.sharing else ''}{self.depth}"

    @property
    def width(self) -> int:
        return self.hidden

    @property
    def step_count(self) -> int:
        return self.depth

    @property
    def anytime_steps(self) -> int:
        """A tied net runs on past its trained depth: 2d steps; other nets have no weights (or updates) past d."""
        return 2 * self.depth if self.block_count == 1 and not self.relax else self.depth

    @property
    def pixels(self) -> int:
        return self.image[0] * self.image[1]

    @property
    def injected(self) -> int:
        """Distinct A's (input weights): one per block when the image is fed at every step, else 1."""
        return self.block_count if self.inject == "every-step" else 1

    def reads_image(self, t: int) -> bool:
        """Whether step t reads x: every step, or step 0 alone."""
        return self.inject == "every-step" or t == 0

    @classmethod
    def sized(cls, fields: dict[str, Any], width: int) -> dict[str, Any]:
        return {**fields, "hidden": width}


def view(cfg: UnrolledConfig, x: torch.Tensor) -> torch.Tensor:
    """Scaled images [N, H, W] -> the flat image [N, H*W] (read at every step, or once)."""
    return views.flat(x)


def init(cfg: UnrolledConfig, seed: int, dtype: torch.dtype = torch.float32) -> Params:
    """PyTorch's defaults, drawn from `seed` alone: nn.RNN's for k = 1; nn.Linear's per block for k >= 2 (over what
    the block reads, in block order); then the heads; then the relax updates (U_t = 0, V_t^T as nn.Linear(H, r)'s
    weight), so that every other draw is the relax = 0 net's.

    Untied (k = d) + first draws exactly the numbers mlp.init draws for d hidden layers of `hidden` (then the heads),
    so the two start, and train, alike.
    """
    gen, h, p = generator(seed), cfg.hidden, cfg.pixels
    params: Params = {}
    if cfg.block_count == 1:  # nn.RNN: all four U(-1/sqrt(H), 1/sqrt(H)), in its order
        bound = 1.0 / math.sqrt(h)
        for name, shape in (("w_ih", (h, p)), ("w_hh", (h, h)), ("b_ih", (h,)), ("b_hh", (h,))):
            params[name] = uniform(gen, shape, bound, dtype)
    else:  # nn.Linear per block over what the block reads: [h_{t-1}] (if it serves t >= 1), then x (if it reads x)
        u, w, b = [], [], []
        for j in range(cfg.block_count):
            reads_h, reads_x = j in cfg.recurrent, cfg.injected > 1 or j == 0
            weight, bias = init_linear(gen, (h if reads_h else 0) + (p if reads_x else 0), h, dtype)
            if reads_h:
                w.append(weight[:, :h])
            if reads_x:
                u.append(weight[:, -p:])
            b.append(bias)
        params["u"], params["b"] = torch.stack(u), torch.stack(b)
        params["w"] = torch.stack(w) if w else torch.zeros(0, h, h, dtype=dtype)
    heads = [init_linear(gen, h, cfg.classes, dtype) for _ in range(cfg.depth if cfg.heads == "separate" else 1)]
    if cfg.heads == "separate":
        params["w_out"], params["b_out"] = torch.stack([v for v, _ in heads]), torch.stack([c for _, c in heads])
    else:
        params["w_out"], params["b_out"] = heads[0]
    if cfg.relax:  # steps 1..d-1: U_t = 0 [H, r]; V_t [H, r] is nn.Linear(H, r)'s weight [r, H], transposed
        r, bound = cfg.relax, 1.0 / math.sqrt(h)
        params["ru"] = torch.zeros(cfg.depth - 1, h, r, dtype=dtype)
        params["rv"] = torch.stack([uniform(gen, (r, h), bound, dtype).T for _ in range(cfg.depth - 1)])
    return params


def hidden_states(cfg: UnrolledConfig, params: Params, x: torch.Tensor, through: int) -> list[torch.Tensor]:
    """h_0 .. h_{through-1}: x [M, B, 784] -> `through` tensors [M, B, H]."""
    return list(itertools.islice(states(cfg, params, x), through))


def states(cfg: UnrolledConfig, params: Params, x: torch.Tensor) -> Iterator[torch.Tensor]:
    """h_0, h_1, ... without end (past d by `step_of`; the untied net has no step d): x [M, B, 784] -> [M, B, H] each."""
    m, b, h = x.shape[0], x.shape[1], cfg.hidden
    if cfg.block_count == 1:
        bias = params["b_ih"] + params["b_hh"]  # [M, H]: nn.RNN's two biases act as one
        ux = linear(x, params["w_ih"], bias)  # [M, B, H]: A x + c, computed once, the image being the same each step
        # every-step: h_t = tanh(A x + c + W h_{t-1}); first: h_t = tanh(c + W h_{t-1}) for t >= 1
        fed = ux if cfg.inject == "every-step" else bias.unsqueeze(1).expand(m, b, h)
        w_hh = params["w_hh"].transpose(1, 2)  # [M, H, H]
        state = torch.tanh(ux)
        yield state
        for t in itertools.count(1):
            state = torch.tanh(relaxed(cfg, params, t, torch.baddbmm(fed, state, w_hh), state))
            yield state
        return
    # k >= 2: every block's A_j x + c_j in one matmul over the stacked A (airbench-style: one big gemm, not k small).
    n, w_of = cfg.injected, {j: i for i, j in enumerate(cfg.recurrent)}  # block j's W is w[w_of[j]]
    uxs = (
        linear(x, params["u"].flatten(1, 2), params["b"][:, :n].flatten(1)).view(m, b, n, h).unbind(2)
    )  # n x [M, B, H]
    state = torch.tanh(uxs[0])  # step 0 uses block 0 under either schedule
    yield state
    for t in itertools.count(1):
        j = cfg.block_of(t)
        fed = uxs[j] if n > 1 else params["b"][:, j].unsqueeze(1).expand(m, b, h)  # A_j x + c_j, or c_j alone
        pre = torch.baddbmm(fed, state, params["w"][:, w_of[j]].transpose(1, 2))
        state = torch.tanh(relaxed(cfg, params, t, pre, state))
        yield state


def relaxed(cfg: UnrolledConfig, params: Params, t: int, pre: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """pre + U_s V_s^T h_{t-1} (step s = step_of(t)'s own rank-r update, as (h V_s) U_s^T: 2 H r multiply-adds), or
    pre."""
    if not cfg.relax:
        return pre
    s = cfg.step_of(t) - 1
    return torch.baddbmm(pre, torch.bmm(h, params["rv"][:, s]), params["ru"][:, s].transpose(1, 2))


def step_weights(cfg: UnrolledConfig, params: Params) -> torch.Tensor:
    """The recurrent weights of steps 1..d-1, W_{b(t)} + U_t V_t^T: [M, d-1, H, H]."""
    w = params["w_hh"].unsqueeze(1) if cfg.block_count == 1 else params["w"]  # [M, n_W, H, H]
    w_of = {j: i for i, j in enumerate(cfg.recurrent)}
    steps = w[:, [w_of[cfg.block_of(t)] for t in range(1, cfg.depth)]]  # [M, d-1, H, H]
    return steps + params["ru"] @ params["rv"].transpose(-1, -2) if cfg.relax else steps


@torch.no_grad()
def dynamics(
    cfg: UnrolledConfig, params: Params, x: torch.Tensor, y: torch.Tensor, steps: int = 0
) -> dict[str, torch.Tensor]:
    """What a tied or partly tied net (k < d) does with its steps, on images x [M, B, 784] with labels y [M, B]:
    spectral_norm, spectral_radius, residual_d, residual_2d, accuracy_2d, accuracy_4d, each [M] (the module's
    docstring has the math), and with `steps` = T (at most 3d) `residual` at every step 1..T, [M, T]; {} for the
    untied net, which has no step past d. The spectra are computed on the CPU in float64 (small matrices; LAPACK
    everywhere, eigenvalues of non-symmetric matrices at full precision), and are NaN for a member with non-finite
    weights (LAPACK refuses them)."""
    d = cfg.depth
    if cfg.block_count == d:
        return {}
    if not 0 <= steps <= 3 * d:
        raise ValueError(f"{cfg.arch}: per-step residuals run to step 3d = {3 * d} at most, not {steps}")
    ws = step_weights(cfg, params).to("cpu", torch.float64)  # [M, d-1, H, H]
    finite = ws.isfinite().flatten(1).all(1)  # [M]
    ws = torch.where(finite[:, None, None, None], ws, torch.zeros_like(ws))
    nan = torch.full_like(finite, torch.nan, dtype=ws.dtype)
    found = {
        "spectral_norm": torch.where(finite, torch.linalg.matrix_norm(ws, ord=2).amax(1), nan),
        "spectral_radius": torch.where(finite, torch.linalg.eigvals(ws).abs().flatten(1).amax(1), nan),
    }
    p = cfg.period
    kept: dict[int, torch.Tensor] = {}  # h_d and h_2d (and every h_t, t <= steps), until h_{t+p} comes
    per_step: list[torch.Tensor] = []  # the residual at t = 1..steps, each [M]
    for t, h in enumerate(itertools.islice(states(cfg, params, x), 4 * d), start=1):  # h = h_t [M, B, H]
        if t - p in kept:  # ||h_t - h_{t-p}|| / ||h_{t-p}||: the residual at step t - p (steps + p <= 3d + d = 4d)
            was = kept.pop(t - p)
            residual = ((h - was).norm(dim=-1) / was.norm(dim=-1)).mean(1, dtype=torch.float64)  # [M]
            if t - p <= steps:
                per_step.append(residual)
            if t - p in (d, 2 * d):
                found["residual_d" if t - p == d else "residual_2d"] = residual
        if t in (d, 2 * d) or t <= steps:
            kept[t] = h
        if t in (2 * d, 4 * d):  # the last head's prediction at step t
            hit = head(cfg, params, h, d - 1).argmax(-1) == y  # [M, B]
            found["accuracy_2d" if t == 2 * d else "accuracy_4d"] = hit.mean(1, dtype=torch.float64)
    return found | ({"residual": torch.stack(per_step, dim=1)} if steps else {})


def forward(
    cfg: UnrolledConfig, params: Params, x: torch.Tensor, steps: bool = False, through: int | None = None
) -> torch.Tensor:
    """x [M, B, 784] -> logits [M, B, C] of step d, or [M, T, B, C] of steps 1..T (T = d, or `through` <= anytime_steps)."""
    through = through or cfg.depth
    if through > cfg.anytime_steps:
        raise ValueError(f"{cfg.arch} runs at most {cfg.anytime_steps} steps, not {through}")
    hs = hidden_states(cfg, params, x, through if steps else cfg.depth)
    if not steps:
        return head(cfg, params, hs[-1], cfg.depth - 1)
    return torch.stack([head(cfg, params, h, min(k, cfg.depth - 1)) for k, h in enumerate(hs)], dim=1)


def head(cfg: UnrolledConfig, params: Params, h: torch.Tensor, k: int) -> torch.Tensor:
    """y_k = V_k h_k + c_k (V, c shared when heads = "shared"): h [M, B, H] -> [M, B, C]."""
    if cfg.heads == "shared":
        return linear(h, params["w_out"], params["b_out"])
    return linear(h, params["w_out"][:, k], params["b_out"][:, k])


def count_params(cfg: UnrolledConfig) -> int:
    """Every stored weight once: n_A P H + n_W H^2 + n_c H + heads (H + 1) C + (d - 1) 2 H r (see the module's
    docstring: A's, W's, biases (nn.RNN's two when k = 1), the heads, and each step's U_t, V_t)."""
    h, p, d = cfg.hidden, cfg.pixels, cfg.depth
    heads = (d if cfg.heads == "separate" else 1) * (h + 1) * cfg.classes
    biases = 2 * h if cfg.block_count == 1 else cfg.block_count * h
    return cfg.injected * p * h + len(cfg.recurrent) * h * h + biases + heads + (d - 1) * 2 * h * cfg.relax


def macs(cfg: UnrolledConfig) -> int:
    """Multiply-adds of one example's prediction as `forward` does them: A x once per distinct A, W at steps 1..d-1
    (plus 2 H r for each step's relax update), one head."""
    h, p, d = cfg.hidden, cfg.pixels, cfg.depth
    return cfg.injected * p * h + (d - 1) * (h * h + 2 * h * cfg.relax) + h * cfg.classes


class StepNet(torch.nn.Module):
    """A module whose prediction is its last step's logits; `step_logits` gives every step's."""

    def step_logits(self, x: torch.Tensor, through: int | None = None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.step_logits(x)[:, -1]


class TiedNet(StepNet):
    """nn.RNN(784, H, tanh) fed the image at every step (or once, then zeros), and nn.Linear head(s)."""

    def __init__(self, cfg: UnrolledConfig, params: Params):
        super().__init__()
        self.cfg, dtype = cfg, params["w_ih"].dtype
        self.rnn = torch.nn.RNN(cfg.pixels, cfg.hidden, nonlinearity="tanh", batch_first=True, dtype=dtype)
        self.heads = torch.nn.ModuleList(
            torch.nn.Linear(cfg.hidden, cfg.classes, dtype=dtype) for _ in range(heads_of(cfg))
        )
        with torch.no_grad():
            for name in ("w_ih", "w_hh", "b_ih", "b_hh"):
                getattr(self.rnn, name.replace("w_", "weight_").replace("b_", "bias_") + "_l0").copy_(params[name])
            copy_heads(self.heads, cfg, params)

    def step_logits(self, x: torch.Tensor, through: int | None = None) -> torch.Tensor:
        """x [B, 784] -> logits of steps 1..T [B, T, C]."""
        t = through or self.cfg.depth
        seq = x.unsqueeze(1).expand(-1, t, -1)  # [B, T, 784]: the image at every step
        if self.cfg.inject == "first":
            seq = torch.cat([x.unsqueeze(1), x.new_zeros(x.shape[0], t - 1, x.shape[1])], dim=1)  # then zeros
        states, _ = self.rnn(seq)  # [B, T, H]
        return torch.stack([self.heads[min(k, len(self.heads) - 1)](states[:, k]) for k in range(t)], dim=1)


class UntiedNet(StepNet):
    """d nn.Linear layers (step k reads [h_{k-1}; x], or h_{k-1} when the image is fed once) and nn.Linear head(s)."""

    def __init__(self, cfg: UnrolledConfig, params: Params):
        super().__init__()
        self.cfg, dtype, h = cfg, params["u"].dtype, cfg.hidden
        self.layers = torch.nn.ModuleList()
        for k in range(cfg.depth):
            fed = k == 0 or cfg.injected > 1
            lin = torch.nn.Linear((h if k else 0) + (cfg.pixels if fed else 0), h, dtype=dtype)
            with torch.no_grad():
                parts = ([params["w"][k - 1]] if k else []) + ([params["u"][k]] if fed else [])
                lin.weight.copy_(torch.cat(parts, dim=1))
                lin.bias.copy_(params["b"][k])
            self.layers.append(lin)
        self.heads = torch.nn.ModuleList(torch.nn.Linear(h, cfg.classes, dtype=dtype) for _ in range(heads_of(cfg)))
        with torch.no_grad():
            copy_heads(self.heads, cfg, params)

    def step_logits(self, x: torch.Tensor, through: int | None = None) -> torch.Tensor:
        """x [B, 784] -> logits of steps 1..d [B, d, C]."""
        hs = [torch.tanh(self.layers[0](x))]
        for k in range(1, through or self.cfg.depth):
            fed = [hs[-1], x] if self.cfg.injected > 1 else [hs[-1]]
            hs.append(torch.tanh(self.layers[k](torch.cat(fed, dim=1))))
        return torch.stack([self.heads[min(k, len(self.heads) - 1)](h) for k, h in enumerate(hs)], dim=1)


class BlockNet(StepNet):
    """k weight blocks over d steps, step t using block b(t) (the same module object each time), and each step t >= 1
    its own rank-r update U_t V_t^T as nn.Linear(H, r, bias=False) (weight V_t^T) then nn.Linear(r, H, bias=False)
    (weight U_t). k = 1: nn.RNN's cell as nn.Linear(784, H) (w_ih, b_ih) and nn.Linear(H, H) (w_hh, b_hh), the image
    then zeros for inject = "first"; k >= 2: one nn.Linear per block over what it reads, [h_{t-1}; x], as an untied
    step, zeros standing for what a step does not read (h_{-1}, or x after step 0 for inject = "first")."""

    def __init__(self, cfg: UnrolledConfig, params: Params):
        super().__init__()
        self.cfg, h, p = cfg, cfg.hidden, cfg.pixels
        dtype = params["w_ih" if cfg.block_count == 1 else "u"].dtype
        self.layers = torch.nn.ModuleList()
        with torch.no_grad():
            if cfg.block_count == 1:
                for name in ("ih", "hh"):
                    lin = torch.nn.Linear(p if name == "ih" else h, h, dtype=dtype)
                    lin.weight.copy_(params[f"w_{name}"])
                    lin.bias.copy_(params[f"b_{name}"])
                    self.layers.append(lin)
            else:
                w_of = {j: i for i, j in enumerate(cfg.recurrent)}
                for j in range(cfg.block_count):
                    reads_h, reads_x = j in w_of, cfg.injected > 1 or j == 0
                    parts = ([params["w"][w_of[j]]] if reads_h else []) + ([params["u"][j]] if reads_x else [])
                    lin = torch.nn.Linear((h if reads_h else 0) + (p if reads_x else 0), h, dtype=dtype)
                    lin.weight.copy_(torch.cat(parts, dim=1))
                    lin.bias.copy_(params["b"][j])
                    self.layers.append(lin)
            self.relax = torch.nn.ModuleList()
            for t in range(1, cfg.depth if cfg.relax else 1):
                down = torch.nn.Linear(h, cfg.relax, bias=False, dtype=dtype)
                up = torch.nn.Linear(cfg.relax, h, bias=False, dtype=dtype)
                down.weight.copy_(params["rv"][t - 1].T)
                up.weight.copy_(params["ru"][t - 1])
                self.relax.append(torch.nn.Sequential(down, up))
            self.heads = torch.nn.ModuleList(torch.nn.Linear(h, cfg.classes, dtype=dtype) for _ in range(heads_of(cfg)))
            copy_heads(self.heads, cfg, params)

    def pre(self, t: int, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Step t's pre-activation from h_{t-1} (zeros at t = 0) and the image x."""
        cfg, x_t = self.cfg, x if self.cfg.reads_image(t) else torch.zeros_like(x)
        if cfg.block_count == 1:
            out = self.layers[0](x_t) + self.layers[1](h)
        else:
            j = cfg.block_of(t)
            fed = ([h] if j in cfg.recurrent else []) + ([x_t] if cfg.injected > 1 or j == 0 else [])
            out = self.layers[j](torch.cat(fed, dim=1))
        return out + self.relax[cfg.step_of(t) - 1](h) if t and cfg.relax else out

    def step_logits(self, x: torch.Tensor, through: int | None = None) -> torch.Tensor:
        """x [B, 784] -> logits of steps 1..T [B, T, C]."""
        h = x.new_zeros(x.shape[0], self.cfg.hidden)
        hs = []
        for t in range(through or self.cfg.depth):
            h = torch.tanh(self.pre(t, h, x))
            hs.append(h)
        return torch.stack([self.heads[min(k, len(self.heads) - 1)](h) for k, h in enumerate(hs)], dim=1)


def heads_of(cfg: UnrolledConfig) -> int:
    return cfg.depth if cfg.heads == "separate" else 1


def copy_heads(heads: torch.nn.ModuleList, cfg: UnrolledConfig, params: Params) -> None:
    """Load the head weights into nn.Linear modules (one shared, or one per step)."""
    for k, lin in enumerate(heads):
        assert isinstance(lin, torch.nn.Linear)
        lin.weight.copy_(params["w_out"] if cfg.heads == "shared" else params["w_out"][k])
        lin.bias.copy_(params["b_out"] if cfg.heads == "shared" else params["b_out"][k])


def to_torch(cfg: UnrolledConfig, params: Params) -> StepNet:
    """One member as standard modules: nn.RNN + nn.Linear head(s) when tied, nn.Linear layers when untied, and
    nn.Linear blocks shared over the steps (with per-step low-rank nn.Linear pairs) otherwise (`BlockNet`)."""
    if cfg.relax == 0 and cfg.block_count == 1:
        return TiedNet(cfg, params)
    if cfg.block_count == cfg.depth:
        return UntiedNet(cfg, params)
    return BlockNet(cfg, params)


Config = UnrolledConfig

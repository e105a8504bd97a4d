"""Unrolled nets: depth from repetition. d layers of `hidden` units on the flat image, tied or untied, with logits at every step.

With x the flat standardised image and k = 1..d:

    h_1 = tanh(U_1 x + b_1)
    h_k = tanh(W_k h_{k-1} + U_k x + b_k)      inject = "every-step" (the image is fed at every step)
    h_k = tanh(W_k h_{k-1} + b_k)              inject = "first"      (the image is fed once)
    y_k = V_k h_k + c_k                        heads = "separate" (one head per step), or V, c shared

`tied = true`: one U, one W and one bias serve every step, as in an RNN. The bias is nn.RNN's pair:
b_k = b_ih + b_hh at every step (both vectors stored and counted, as nn.RNN does); tied + every-step is
nn.RNN(784, hidden) fed the image d times, tied + first is the same RNN fed the image and then zeros.
`tied = false`: every step has its own U_k (every-step; only U_1 with first), W_k and b_k; untied + first
is an MLP with d hidden layers. Parameters are counted once however often they are used. A tied net can run
on past its trained depth (anytime evaluation up to 2d); steps past d use the last head.

Params (one member): tied: w_ih [H, 784], w_hh [H, H], b_ih [H], b_hh [H]; untied: u [d or 1, H, 784],
w [d-1, H, H], b [d, H]; heads: w_out [C, H], b_out [C] (shared) or [d, C, H], [d, C] (separate).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import torch
from pydantic import PositiveInt

from itermap.data import views
from itermap.models.base import FamilyConfig
from itermap.models.stacked import Params, generator, init_linear, linear, uniform


class UnrolledConfig(FamilyConfig):
    """d steps of `hidden` tanh units on the flat image: tied (an RNN) or untied (an MLP), logits at every step."""

    family: Literal["unrolled"] = "unrolled"
    hidden: PositiveInt
    depth: PositiveInt = 2
    tied: bool = True
    inject: Literal["every-step", "first"] = "every-step"
    heads: Literal["shared", "separate"] = "shared"

    has_steps: ClassVar[bool] = True
    size_fields: ClassVar[tuple[str, ...]] = ("hidden", "depth")

    @property
    def arch(self) -> str:
        kind = "tied" if self.tied else "untied"
        inject = "" if self.inject == "every-step" else "-first"
        heads = "" if self.heads == "shared" else "-heads"
        return f"unrolled-{kind}{inject}{heads}-{self.depth}x{self.hidden}"

    @property
    def width(self) -> int:
        return self.hidden

    @property
    def step_count(self) -> int:
        return self.depth

    @property
    def anytime_steps(self) -> int:
        """A tied net runs on past its trained depth: 2d steps; an untied one has no weights past d."""
        return 2 * self.depth if self.tied else self.depth

    @property
    def pixels(self) -> int:
        return self.image[0] * self.image[1]

    @property
    def injected(self) -> int:
        """Steps with their own U: 1 when tied or when the image is fed once, else d."""
        return self.depth if not self.tied and self.inject == "every-step" else 1

    @classmethod
    def sized(cls, fields: dict[str, Any], width: int) -> dict[str, Any]:
        return {**fields, "hidden": width}


def view(cfg: UnrolledConfig, x: torch.Tensor) -> torch.Tensor:
    """Scaled images [N, H, W] -> the flat image [N, H*W] (read at every step, or once)."""
    return views.flat(x)


def init(cfg: UnrolledConfig, seed: int, dtype: torch.dtype = torch.float32) -> Params:
    """PyTorch's defaults, drawn from `seed` alone: nn.RNN's when tied; nn.Linear's per step when untied.

    Untied + first draws exactly the numbers mlp.init draws for d hidden layers of `hidden` (then the heads),
    so the two start, and train, alike.
    """
    gen, h, p = generator(seed), cfg.hidden, cfg.pixels
    params: Params = {}
    if cfg.tied:  # nn.RNN: all four U(-1/sqrt(H), 1/sqrt(H)), in its order
        bound = 1.0 / math.sqrt(h)
        for name, shape in (("w_ih", (h, p)), ("w_hh", (h, h)), ("b_ih", (h,)), ("b_hh", (h,))):
            params[name] = uniform(gen, shape, bound, dtype)
    else:  # nn.Linear per step over what the step reads: x; then [h_{k-1}] or [h_{k-1}; x]
        u, w, b = [], [], []
        for k in range(cfg.depth):
            fan_in = p if k == 0 else h + (p if cfg.injected > 1 else 0)
            weight, bias = init_linear(gen, fan_in, h, dtype)
            if k:
                w.append(weight[:, :h])
            if k == 0 or cfg.injected > 1:
                u.append(weight[:, -p:])
            b.append(bias)
        params["u"], params["b"] = torch.stack(u), torch.stack(b)
        params["w"] = torch.stack(w) if w else torch.zeros(0, h, h, dtype=dtype)
    heads = [init_linear(gen, h, cfg.classes, dtype) for _ in range(cfg.depth if cfg.heads == "separate" else 1)]
    if cfg.heads == "separate":
        params["w_out"], params["b_out"] = torch.stack([v for v, _ in heads]), torch.stack([c for _, c in heads])
    else:
        params["w_out"], params["b_out"] = heads[0]
    return params


def hidden_states(cfg: UnrolledConfig, params: Params, x: torch.Tensor, through: int) -> list[torch.Tensor]:
    """h_1 .. h_through: x [M, B, 784] -> `through` tensors [M, B, H]."""
    m, b, h = x.shape[0], x.shape[1], cfg.hidden
    if cfg.tied:
        bias = params["b_ih"] + params["b_hh"]  # [M, H]: nn.RNN's two biases act as one
        ux = linear(x, params["w_ih"], bias)  # [M, B, H]: U x + b, computed once, the image being the same each step
        # every-step: h_k = tanh(U x + b + W h_{k-1}); first: h_k = tanh(b + W h_{k-1}) for k >= 2
        fed = ux if cfg.inject == "every-step" else bias.unsqueeze(1).expand(m, b, h)
        w_hh = params["w_hh"].transpose(1, 2)  # [M, H, H]
        hs = [torch.tanh(ux)]
        for _ in range(1, through):
            hs.append(torch.tanh(torch.baddbmm(fed, hs[-1], w_hh)))
        return hs
    # Untied: every step's U_k x + b_k in one matmul over the stacked U (airbench-style: one big gemm, not d small).
    n = cfg.injected
    ux = linear(x, params["u"].flatten(1, 2), params["b"][:, :n].flatten(1)).view(m, b, n, h).unbind(2)  # n x [M, B, H]
    hs = [torch.tanh(ux[0])]
    for k in range(1, through):
        fed = ux[k] if n > 1 else params["b"][:, k].unsqueeze(1).expand(m, b, h)  # U_k x + b_k, or b_k alone
        hs.append(torch.tanh(torch.baddbmm(fed, hs[-1], params["w"][:, k - 1].transpose(1, 2))))
    return hs


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
    """Every stored weight once: U's, W's, biases (nn.RNN's two when tied) and the heads."""
    h, p, d = cfg.hidden, cfg.pixels, cfg.depth
    heads = (d if cfg.heads == "separate" else 1) * (h + 1) * cfg.classes
    if cfg.tied:
        return p * h + h * h + 2 * h + heads
    return cfg.injected * p * h + (d - 1) * h * h + d * h + heads


def macs(cfg: UnrolledConfig) -> int:
    """Multiply-adds of one example's prediction as `forward` does them: U x once per distinct U, W at steps 2..d, one head."""
    h, p, d = cfg.hidden, cfg.pixels, cfg.depth
    return cfg.injected * p * h + (d - 1) * h * h + h * cfg.classes


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


def heads_of(cfg: UnrolledConfig) -> int:
    return cfg.depth if cfg.heads == "separate" else 1


def copy_heads(heads: torch.nn.ModuleList, cfg: UnrolledConfig, params: Params) -> None:
    """Load the head weights into nn.Linear modules (one shared, or one per step)."""
    for k, lin in enumerate(heads):
        lin.weight.copy_(params["w_out"] if cfg.heads == "shared" else params["w_out"][k])
        lin.bias.copy_(params["b_out"] if cfg.heads == "shared" else params["b_out"][k])


def to_torch(cfg: UnrolledConfig, params: Params) -> TiedNet | UntiedNet:
    """One member as standard modules: nn.RNN + nn.Linear head(s) when tied, nn.Linear layers when untied."""
    return TiedNet(cfg, params) if cfg.tied else UntiedNet(cfg, params)


Config = UnrolledConfig

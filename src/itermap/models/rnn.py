"""Vanilla tanh RNN reading an image a few columns (or rows) per step, Linear readout of the last hidden state."""

from __future__ import annotations

import functools
import importlib.util
import math
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import torch
from pydantic import PositiveInt
from torch import Tensor

from itermap.data import views
from itermap.models.base import FamilyConfig
from itermap.models.stacked import Params, generator, init_linear, linear, uniform


class WindowedConfig(FamilyConfig):
    """A recurrence of `layers` stacked layers of `hidden` units reading `window` columns (or rows: `axis`) per step:
    the fields, names and sizes the tanh RNN and the gated families (gated.py) share; each gives its `family`."""

    hidden: PositiveInt
    layers: PositiveInt = 1
    window: PositiveInt = 3
    axis: Literal["columns", "rows"] = "columns"

    has_steps: ClassVar[bool] = True
    size_fields: ClassVar[tuple[str, ...]] = ("hidden", "layers")

    @property
    def arch(self) -> str:
        """rnn-LxH, rnn-rows-LxH for one reading rows (the window is named in the group where it varies)."""
        return f"{self.family}-{'rows-' if self.axis == 'rows' else ''}{self.layers}x{self.hidden}"

    @property
    def width(self) -> int:
        return self.hidden

    @property
    def depth(self) -> int:
        return self.layers

    @property
    def step_count(self) -> int:
        return self.window_count

    @property
    def path(self) -> int:
        """Steps + layers: the last step's top layer is reached through every step of layer 1."""
        return self.window_count + self.layers

    @classmethod
    def sized(cls, fields: dict[str, Any], width: int) -> dict[str, Any]:
        return {**fields, "hidden": width}

    @property
    def inputs(self) -> int:
        """Inputs per step: window columns of H pixels (or window rows of W pixels)."""
        h, w = self.image
        return self.window * (h if self.axis == "columns" else w)

    @property
    def window_count(self) -> int:
        """Steps per image: the columns (rows) that fill whole windows (the remainder is dropped)."""
        h, w = self.image
        return views.steps_of(w if self.axis == "columns" else h, self.window)


class RNNConfig(WindowedConfig):
    """An RNN: `layers` stacked tanh layers of `hidden` units, reading `window` columns (or rows: `axis`) per step."""

    family: Literal["rnn"] = "rnn"

    def padded(self, width: int) -> RNNConfig | None:
        """`width` hidden units per layer. A padded unit has zero W_ih and W_hh rows and columns, biases and readout
        column: h_t = tanh(0) = 0 at every step, and every gradient through it is 0, so it stays 0."""
        return self.model_copy(update={"hidden": width}) if width >= self.hidden else None


def view(cfg: WindowedConfig, x: torch.Tensor) -> torch.Tensor:
    """Scaled images [N, H, W] -> column windows [N, T, window*H] (row windows [N, T, window*W])."""
    return views.windows(x, cfg.window, cfg.axis, "drop")


def init(cfg: RNNConfig, seed: int, dtype: torch.dtype = torch.float32) -> Params:
    """One member with nn.RNN's default init (all U(-1/sqrt(hidden), 1/sqrt(hidden))) and nn.Linear's readout."""
    gen, params, bound = generator(seed), {}, 1.0 / math.sqrt(cfg.hidden)
    for l in range(cfg.layers):
        fan_in = cfg.inputs if l == 0 else cfg.hidden
        params[f"w_ih{l}"] = uniform(gen, (cfg.hidden, fan_in), bound, dtype)
        params[f"w_hh{l}"] = uniform(gen, (cfg.hidden, cfg.hidden), bound, dtype)
        params[f"b_ih{l}"] = uniform(gen, (cfg.hidden,), bound, dtype)
        params[f"b_hh{l}"] = uniform(gen, (cfg.hidden,), bound, dtype)
    params["w_out"], params["b_out"] = init_linear(gen, cfg.hidden, cfg.classes, dtype)
    return params


Order = Literal["layered", "wavefront", "fused"]  # how a stacked tanh RNN's steps are scheduled (hidden_states)
States = list[Tensor] | Tensor  # the top layer's T states [M, B, H]: a list, or one [T, M, B, H] tensor (fused)
FUSED_MAX_HIDDEN = 256  # a fused program holds a state block [32, H rounded up to a power of 2] in registers


@functools.cache
def has_triton() -> bool:
    """Whether Triton can be imported here (looked up once: `default_order` asks at every forward on CUDA)."""
    return importlib.util.find_spec("triton") is not None


def default_order(cfg: RNNConfig, device: str, dtype: torch.dtype) -> Order:
    """Layered on the CPU (its numbers are the reference); on CUDA (`device`: a torch.device's type) fused where
    Triton is there and the layer fits (fp32, at most FUSED_MAX_HIDDEN units), else a wavefront for 2 or more
    layers."""
    if device != "cuda":
        return "layered"
    if dtype == torch.float32 and cfg.hidden <= FUSED_MAX_HIDDEN and has_triton():
        return "fused"
    return "wavefront" if cfg.layers >= 2 else "layered"


def hidden_states(cfg: RNNConfig, params: Params, x: torch.Tensor, order: Order | None = None) -> States:
    """Last layer's hidden state after every step: x [M, B, T, I] -> T states [M, B, H].

    The three orders compute the same sums (to rounding) with dependent chains of different lengths: `layered`
    T L steps of a few kernels each, `wavefront` T + L - 1 ticks, `fused` one kernel per layer (a Triton loop over
    the steps). None: `default_order`."""
    w = params["w_hh0"]
    order = order or default_order(cfg, w.device.type, w.dtype)
    if order == "fused":
        return fused_states(cfg, params, x)
    if order == "wavefront":
        return wavefront_states(cfg, params, x)
    return layered_states(cfg, params, x)


def layered_states(cfg: RNNConfig, params: Params, x: torch.Tensor) -> list[torch.Tensor]:
    """`hidden_states` one layer at a time: all T steps of layer 1, then all T steps of layer 2, ..."""
    m, b, t, _ = x.shape
    seq = x.transpose(1, 2).reshape(m, t * b, -1)  # [M, T*B, I]: step-major, a step is a slice of T*B
    hs: list[torch.Tensor] = []  # the layer below's states, one [M, B, H] per step
    # h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), layer by layer; x_t of layer l > 0 is layer l-1's h_t.
    for l in range(cfg.layers):
        if hs:
            seq = torch.cat(hs, dim=1)  # [M, T*B, H]: the previous layer's states are this layer's inputs
        # All steps' input projections in one matmul, both biases folded in: [M, T*B, H].
        pre = linear(seq, params[f"w_ih{l}"], params[f"b_ih{l}"] + params[f"b_hh{l}"])
        # unbind, not pre[:, t]: its backward is one stack instead of T zero-filled full-size grads.
        pre_steps = pre.view(m, t, b, cfg.hidden).unbind(1)  # T x [M, B, H]
        w_hh = params[f"w_hh{l}"].transpose(1, 2)  # [M, H, H]
        h = torch.tanh(pre_steps[0])  # h_0 = 0, so the first step has no recurrent term
        hs = [h]
        for p in pre_steps[1:]:
            h = torch.tanh(torch.baddbmm(p, h, w_hh))
            hs.append(h)
    return hs


def wavefront_states(cfg: RNNConfig, params: Params, x: torch.Tensor) -> list[torch.Tensor]:
    """`hidden_states` as a wavefront: at tick k = 0..T+L-2 every layer l with 0 <= k - l < T takes its step
    t = k - l, all in one matmul, so the dependent chain is T + L - 1 ticks instead of T L steps.

    Layer l's step t reads h^l_{t-1} (its own previous tick) and h^{l-1}_t (the layer below's previous tick),
    so with the states of all layers side by side, s_k = [h^0_k, h^1_{k-1}, ..., h^{L-1}_{k-L+1}] [M, B, L*H]:

        s_k = tanh(a_k + s_{k-1} W),  s_{-1} = 0,

    W [L*H, L*H] block-bidiagonal: block (l, l) = W_hh^l^T, block (l-1, l) = W_ih^l^T (l >= 1), zero elsewhere;
    a_k = [W_ih^0 x_k + b_ih^0 + b_hh^0 (all T steps in one matmul up front), b_ih^l + b_hh^l for l >= 1], with
    a_k's block l = 0 while k < l: a layer not yet started reads only zeros, so it stays tanh(0) = 0 and its
    first step sees h^l_{-1} = 0. Past its last step a layer computes values nothing active reads (layer l at
    tick k >= T + l feeds only layers l, l + 1 at k + 1, which are past their last step too). The top layer's
    step t is block L-1 of s_{t+L-1}. The zero blocks cost (L+1)/2 times the multiply-adds of the layered
    order: on a GPU, where a pack's step is a chain of tiny kernels, 2 kernels a tick are what matters.
    """
    m, b, t, _ = x.shape
    n, h = cfg.layers, cfg.hidden
    seq = x.transpose(1, 2).reshape(m, t * b, -1)  # [M, T*B, I], step-major
    pre = linear(seq, params["w_ih0"], params["b_ih0"] + params["b_hh0"]).view(m, t, b, h)  # layer 0's a_k
    ticks = t + n - 1
    pre = torch.cat([pre.transpose(0, 1), pre.new_zeros(n - 1, m, b, h)])  # [ticks, M, B, H], 0 past step T-1
    a = [pre]
    if n > 1:
        bias = torch.stack([params[f"b_ih{l}"] + params[f"b_hh{l}"] for l in range(1, n)], dim=1)  # [M, L-1, H]
        started = torch.arange(ticks, device=x.device)[:, None] >= torch.arange(1, n, device=x.device)
        upper = (started[:, None, :, None] * bias).flatten(2)  # [ticks, M, (L-1)*H]: 0 before the layer starts
        a.append(upper[:, :, None].expand(ticks, m, b, (n - 1) * h))
    adds = torch.cat(a, dim=3).unbind(0)  # ticks x [M, B, L*H]
    zero = params["w_hh0"].new_zeros(m, h, h)
    rows = []  # block row i: what layer i's state feeds, W_hh^i^T into itself and W_ih^{i+1}^T into the layer above
    for i in range(n):
        blocks = [zero] * n
        blocks[i] = params[f"w_hh{i}"].transpose(1, 2)
        if i + 1 < n:
            blocks[i + 1] = params[f"w_ih{i + 1}"].transpose(1, 2)
        rows.append(torch.cat(blocks, dim=2))
    w = torch.cat(rows, dim=1)  # [M, L*H, L*H]
    s = torch.tanh(adds[0])  # s_{-1} = 0: the first tick has no matmul
    hs = [s] if n == 1 else []
    for k in range(1, ticks):
        s = torch.tanh(torch.baddbmm(adds[k], s, w))
        if k >= n - 1:
            hs.append(s[:, :, (n - 1) * h :])  # the top layer's step k - (L - 1)
    return hs


def fused_states(cfg: RNNConfig, params: Params, x: torch.Tensor) -> Tensor:
    """`hidden_states` with each layer's T steps as one Triton kernel forward and one backward (models/fused.py)."""
    from itermap.models import fused  # imports Triton, which only a CUDA machine needs

    m, b, t, _ = x.shape
    seq = x.transpose(1, 2).reshape(m, t * b, -1)  # [M, T*B, I], step-major
    for l in range(cfg.layers):
        # a_t = W_ih x_t + b_ih + b_hh for all steps in one matmul; then h_t = tanh(a_t + W_hh h_{t-1}), fused.
        # As x W_ih^T (not `linear`'s (W_ih x^T)^T): a comes out dense in the [M, T*B, H] the kernel reads.
        bias = (params[f"b_ih{l}"] + params[f"b_hh{l}"]).unsqueeze(1)  # [M, 1, H]
        a = torch.baddbmm(bias, seq, params[f"w_ih{l}"].transpose(1, 2)).view(m, t, b, cfg.hidden)
        h = fused.recurrence(a, params[f"w_hh{l}"])  # [M, T, B, H]
        seq = h.view(m, t * b, cfg.hidden)  # this layer's states are the next one's inputs
    # [T, M, B, H], not a list: reading the last step only, its backward is one zero fill and one copy, where a
    # list's (unbind's) would fill a zero gradient for every other step and stack them.
    return h.transpose(0, 1)


def forward(
    cfg: RNNConfig, params: Params, x: torch.Tensor, steps: bool = False, order: Order | None = None
) -> torch.Tensor:
    """x [M, B, T, I] -> logits [M, B, C] from the last step, or [M, T, B, C] from every step (`order`: how the
    steps are scheduled, see `hidden_states`)."""
    return readout(cfg, params, hidden_states(cfg, params, x, order), steps)


def readout(cfg: WindowedConfig, params: Params, hs: States, steps: bool) -> Tensor:
    """The top layer's states, one [M, B, H] per step, read out: the last step's logits [M, B, C], or every
    step's [M, T, B, C]."""
    if not steps:
        return linear(hs[-1], params["w_out"], params["b_out"])
    m, b, _ = hs[0].shape
    h = torch.cat(list(hs), dim=1)  # [M, T*B, H]
    return linear(h, params["w_out"], params["b_out"]).view(m, len(hs), b, cfg.classes)


def count_params(cfg: RNNConfig) -> int:
    """nn.RNN's weights and both bias vectors per layer, plus the readout."""
    h = cfg.hidden
    rec = (cfg.inputs * h + h * h + 2 * h) + (cfg.layers - 1) * (2 * h * h + 2 * h)
    return rec + (h + 1) * cfg.classes


def macs(cfg: RNNConfig) -> int:
    """Multiply-adds of one example's forward pass (the first step has no recurrent term)."""
    h, t = cfg.hidden, cfg.window_count
    per_layer = [t * cfg.inputs * h] + [t * h * h] * (cfg.layers - 1)
    return sum(per_layer) + cfg.layers * (t - 1) * h * h + h * cfg.classes


class RNNClassifier(torch.nn.Module):
    """nn.RNN(tanh, batch_first) over [B, T, I] windows (or the given recurrence: nn.GRU, nn.LSTM), then nn.Linear on
    the last hidden state."""

    def __init__(self, cfg: WindowedConfig, dtype: torch.dtype = torch.float32, rnn: torch.nn.RNNBase | None = None):
        super().__init__()
        if rnn is None:
            rnn = torch.nn.RNN(cfg.inputs, cfg.hidden, cfg.layers, nonlinearity="tanh", batch_first=True, dtype=dtype)
        self.rnn = rnn
        self.readout = torch.nn.Linear(cfg.hidden, cfg.classes, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)  # [B, T, H]
        return self.readout(out[:, -1])


def load(
    module: RNNClassifier, cfg: WindowedConfig, params: Params, as_torch: Callable[[Tensor], Tensor] = lambda w: w
) -> RNNClassifier:
    """`module` holding one member's weights: w_ih{l} -> rnn.weight_ih_l{l} and so on, each through `as_torch` (the
    gated families flatten their gate axis), and the readout."""
    with torch.no_grad():
        for l in range(cfg.layers):
            for name in ("w_ih", "w_hh", "b_ih", "b_hh"):
                torch_name = f"{name.replace('w_', 'weight_').replace('b_', 'bias_')}_l{l}"
                getattr(module.rnn, torch_name).copy_(as_torch(params[f"{name}{l}"]))
        module.readout.weight.copy_(params["w_out"])
        module.readout.bias.copy_(params["b_out"])
    return module


def to_torch(cfg: RNNConfig, params: Params) -> RNNClassifier:
    """One member as an nn.RNN + nn.Linear module holding the same weights."""
    return load(RNNClassifier(cfg, params["w_out"].dtype), cfg, params)


Config = RNNConfig

"""Exact conversions between an MLP or RNN and its other forms, and what each form costs.

Forms of one network (docs/forms.md draws them as block matrices):
  mlp, rnn          the families themselves
  itermap           an iterative map s_k = f(W s_{k-1} + b) whose block pattern is the network
  unrolled-tied     an RNN written out over its T steps as a feed-forward net on the flat image, every
                    step's layer sharing one set of weights
  unrolled-untied   the same with an independent copy of the weights per step: an ordinary deep net
  rnn (of an MLP)   an iterative map reading column windows like an RNN, accumulating the first layer's sum
  tanh-rnn          an nn.RNN of tanh units approximating an MLP (small-signal scaling; not exact)

Conversions take a family config and one member's params and return a `Form`: a standard-torch module,
the input view it reads, its weights, and its cost in parameters and multiply-adds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import torch

from itermap.data import views
from itermap.models import FamilyConfig, IterMapConfig, MLPConfig, RNNConfig, family_of
from itermap.models.itermap import INPUT, OUTPUT, Block, Slot
from itermap.models.stacked import Params, numel

# ---------------------------------------------------------------------------------------------------------
# MLP <-> iterative map


def mlp_pattern(cfg: MLPConfig) -> IterMapConfig:
    """The iterative map of an MLP: a chain of sub-diagonal blocks x -> h1 -> ... -> hL -> y, T = L + 1.

    Slot h_l starts at iteration l and y at L + 1 (a wavefront), so nothing is computed before its input is
    valid; the output would be the same without the schedule, since a chain flushes its start-up values.
    """
    names = [f"h{i + 1}" for i in range(len(cfg.hidden))]
    chain, slots = [INPUT, *names, OUTPUT], zip(names, cfg.hidden)
    return IterMapConfig(
        slots=tuple(Slot(name=n, size=h, activation=cfg.activation, start=i + 1) for i, (n, h) in enumerate(slots)),
        blocks=tuple(Block(dst=d, src=s) for s, d in zip(chain[:-1], chain[1:])),
        iterations=len(chain) - 1,
        output_start=len(chain) - 1,
        image=cfg.image,
        classes=cfg.classes,
    )


def mlp_to_itermap(cfg: MLPConfig, params: Params) -> tuple[IterMapConfig, Params]:
    """MLP layer i becomes the block from slot i to slot i + 1 of the chain, its bias that slot's bias."""
    target = mlp_pattern(cfg)
    chain = [INPUT, *(s.name for s in target.slots), OUTPUT]
    out = {}
    for i, (src, dst) in enumerate(zip(chain[:-1], chain[1:])):
        out[f"w_{dst}_{src}"], out[f"b_{dst}"] = params[f"w{i}"], params[f"b{i}"]
    return target, out


def itermap_to_mlp(cfg: IterMapConfig, params: Params) -> tuple[MLPConfig, Params]:
    """Back to an MLP, for an iterative map that is a dense chain x -> slots in order -> y on a static input."""
    chain = [INPUT, *(s.name for s in cfg.slots), OUTPUT]
    links = {(d, s) for s, d in zip(chain[:-1], chain[1:])}
    acts = {s.activation for s in cfg.slots}
    is_chain = (
        cfg.input == "static"
        and {(b.dst, b.src) for b in cfg.blocks} == links
        and all(b.mask == "dense" for b in cfg.blocks)
        and len(acts) <= 1
        and cfg.iterations >= len(chain) - 1  # a chain on a fixed input is settled after L + 1 iterations
        and all(s.start <= i + 1 for i, s in enumerate(cfg.slots))
        and cfg.output_start <= len(chain) - 1
    )
    if not is_chain:
        raise ValueError("only an iterative map with the MLP pattern (a dense chain, static input) is an MLP")
    hidden, activation = [s.size for s in cfg.slots], next(iter(acts), "tanh")
    target = MLPConfig(hidden=hidden, activation=activation, image=cfg.image, classes=cfg.classes)
    out = {}
    for i, (src, dst) in enumerate(zip(chain[:-1], chain[1:])):
        out[f"w{i}"], out[f"b{i}"] = params[f"w_{dst}_{src}"], params[f"b_{dst}"]
    return target, out


# ---------------------------------------------------------------------------------------------------------
# RNN -> iterative map
#
# With simultaneous updates, layer l at iteration k reads layer l-1 from iteration k-1, so the layers run
# as a wavefront: layer l computes step t at iteration k = t + l - 1, i.e.
#     h_l^(k) = RNN's h_l at step k - l + 1,  for k >= l.
# Induction: h_l^(k) = tanh(W_ih,l h_{l-1}^(k-1) + W_hh,l h_l^(k-1) + b_l) reads layer l-1's step k-l+1 and its
# own step k-l, exactly the RNN's update. The base case needs h_l^(l-1) = 0 (the RNN's h_0): but a slot that
# is updated from iteration 1 holds tanh(b_l) != 0 after iteration 1 when its input is still zero, and that
# error travels on through W_hh. So slot h_l is held at zero until iteration l (its `start`). The readout
# y^(k) = W_out h_L^(k-1) + b_out gives step k - L's logits: the last step T at iteration T + L, and y starts
# at L + 1 so that iterations L+1 .. T+L give the per-step logits of steps 1 .. T. The windows feed x at
# iterations 1..T; later iterations see zeros, whose effect never reaches y^(T+L). nn.RNN's two biases add
# up into the one bias of each slot.


def rnn_pattern(cfg: RNNConfig) -> IterMapConfig:
    """The iterative map of an RNN: recurrent diagonal blocks, sub-diagonal inter-layer blocks, T + L iterations."""
    if cfg.axis != "columns":
        raise ValueError(f"{cfg.arch} reads rows; an iterative map reads column windows only")
    names = [f"h{l + 1}" for l in range(cfg.layers)]
    blocks = []
    for l, name in enumerate(names):
        blocks += [Block(dst=name, src=INPUT if l == 0 else names[l - 1]), Block(dst=name, src=name)]
    return IterMapConfig(
        slots=tuple(Slot(name=n, size=cfg.hidden, activation="tanh", start=l + 1) for l, n in enumerate(names)),
        blocks=(*blocks, Block(dst=OUTPUT, src=names[-1])),
        iterations=cfg.window_count + cfg.layers,
        input="windows",
        window=cfg.window,
        output_start=cfg.layers + 1,
        image=cfg.image,
        classes=cfg.classes,
    )


def rnn_to_itermap(cfg: RNNConfig, params: Params) -> tuple[IterMapConfig, Params]:
    """RNN layer l's w_ih, w_hh become blocks into slot h_{l+1}; b_ih + b_hh its bias; the readout the block into y."""
    target = rnn_pattern(cfg)
    out = {}
    for l in range(cfg.layers):
        name, below = f"h{l + 1}", INPUT if l == 0 else f"h{l}"
        out[f"w_{name}_{below}"], out[f"w_{name}_{name}"] = params[f"w_ih{l}"], params[f"w_hh{l}"]
        out[f"b_{name}"] = params[f"b_ih{l}"] + params[f"b_hh{l}"]
    out[f"w_{OUTPUT}_h{cfg.layers}"], out[f"b_{OUTPUT}"] = params["w_out"], params["b_out"]
    return target, out


# ---------------------------------------------------------------------------------------------------------
# MLP -> recurrent form reading windows (exact), and -> a tanh nn.RNN (small-signal approximation)
#
# The MLP's first layer splits by window: W_0 x + b_0 = sum_t A_t x_t + b_0, where A_t holds W_0's columns of the
# pixels that window t reads (zero for a padded column). A chain of identity "accumulator" slots p_1 .. p_{T-1},
# each with its own input block A_j and a unit diagonal block from p_{j-1}, carries the partial sums:
#     p_j^(k) = p_{j-1}^(k-1) + A_j x_k      so, by induction from p_1^(1) = A_1 x_1,   p_j^(j) = sum_{t<=j} A_t x_t.
# The first hidden layer reads the last window and p_{T-1} at iteration T:
#     h_1^(T) = f(b_0 + p_{T-1}^(T-1) + A_T x_T) = f(W_0 x + b_0),
# layer l at iteration T + l - 1 reads layer l-1, and y = W_L h_L + b_L appears at iteration T + L. The position is
# in which slot holds a sum (slot p_j is read by p_{j+1} only at iteration j + 1), so each weight block is still one
# fixed matrix; the price is (T - 1) x H_1 extra state. Slot p_j starts at iteration j, h_l at T + l - 1.


def window_columns(cfg: MLPConfig, params: Params, window: int) -> list[torch.Tensor]:
    """A_t for t = 1..T: the first layer's columns for the pixels window t reads [H_1, window*H], zero where padded."""
    h, w = cfg.image
    pixel = torch.arange(1, h * w + 1).view(1, h, w)  # 1-based: the zero padding marks "no pixel"
    index = views.windows(pixel, window, "columns", "pad")[0]  # [T, window*H]
    w0 = torch.cat([params["w0"].new_zeros(len(params["w0"]), 1), params["w0"]], 1)  # column 0: no pixel
    return [w0[:, idx] for idx in index]


def mlp_windows_pattern(cfg: MLPConfig, window: int) -> IterMapConfig:
    """The recurrent form of an MLP reading `window` columns per step: accumulators p_1..p_{T-1}, then the MLP."""
    steps, first = views.steps_of(cfg.image[1], window, "pad"), cfg.layer_widths[1]
    acc = [f"p{j + 1}" for j in range(steps - 1)]
    hidden = [f"h{i + 1}" for i in range(len(cfg.hidden))]
    slots = [Slot(name=n, size=first, activation="identity", start=j + 1) for j, n in enumerate(acc)]
    slots += [
        Slot(name=n, size=h, activation=cfg.activation, start=steps + i)
        for i, (n, h) in enumerate(zip(hidden, cfg.hidden))
    ]
    chain = [*hidden, OUTPUT]  # the MLP's layers; chain[0] reads the last window and p_{T-1}
    blocks = [Block(dst=n, src=INPUT) for n in acc]
    blocks += [Block(dst=d, src=s, mask="diagonal") for s, d in zip(acc, [*acc[1:], chain[0]])]
    blocks += [Block(dst=chain[0], src=INPUT)] + [Block(dst=d, src=s) for s, d in zip(chain[:-1], chain[1:])]
    return IterMapConfig(
        slots=tuple(slots),
        blocks=tuple(blocks),
        iterations=steps + len(cfg.hidden),
        input="windows",
        window=window,
        remainder="pad",
        output_start=steps + len(cfg.hidden),
        image=cfg.image,
        classes=cfg.classes,
    )


def mlp_to_windows(cfg: MLPConfig, params: Params, window: int = 3) -> tuple[IterMapConfig, Params]:
    """An MLP as an iterative map reading `window` columns per step (the remainder in a padded window), exactly."""
    target = mlp_windows_pattern(cfg, window)
    cols = window_columns(cfg, params, window)
    acc = [s.name for s in target.slots[: len(cols) - 1]]  # p_1 .. p_{T-1}
    chain = [*(f"h{i + 1}" for i in range(len(cfg.hidden))), OUTPUT]
    eye = torch.eye(cfg.layer_widths[1], dtype=params["w0"].dtype)
    out = {}
    for j, name in enumerate(acc):
        out[f"w_{name}_{INPUT}"], out[f"b_{name}"] = cols[j], torch.zeros_like(params["b0"])
        if j:
            out[f"w_{name}_{acc[j - 1]}"] = eye.clone()
    out[f"w_{chain[0]}_{INPUT}"], out[f"b_{chain[0]}"] = cols[-1], params["b0"]
    if acc:
        out[f"w_{chain[0]}_{acc[-1]}"] = eye.clone()
    for i, (src, dst) in enumerate(zip(chain[:-1], chain[1:])):
        out[f"w_{dst}_{src}"], out[f"b_{dst}"] = params[f"w{i + 1}"], params[f"b{i + 1}"]
    return target, out


# A pure nn.RNN has tanh on every unit, so the accumulators cannot be exact (docs/forms.md argues that no exact
# construction exists in general). Small-signal approximation with scale eps: the accumulators read eps A_j x and
# stay where tanh(z) = z - z^3/3 + ... is nearly linear, and the first hidden layer undoes the scale:
#     p_j = tanh(p_{j-1} + eps A_j x_k) ~ eps sum_{t<=j} A_t x_t,      h_1 = tanh(b_0 + p_{T-1} / eps + A_T x_T)
# so h_1's error is O(eps^2) (the cubic term, relative to the linear one). An MLP with no hidden layer keeps p_T
# too and reads it out as W_out = I / eps. nn.RNN's state [p_1 .. p_{T-1}, h_1] is layer 1 (T x H_1 units); MLP
# layer l >= 2 is RNN layer l (W_hh = 0, zero units padding it to the common width). Only windows that divide
# the image's columns: nn.RNN reads whole windows and would drop pixels the MLP reads.


def mlp_to_tanh_rnn(cfg: MLPConfig, params: Params, window: int = 7, scale: float = 1e-3) -> tuple[RNNConfig, Params]:
    """An MLP with tanh (or none) hidden layers as an nn.RNN of tanh units, approximately (error O(scale^2))."""
    if cfg.hidden and cfg.activation != "tanh":
        raise ValueError(f"a tanh RNN can only approximate a tanh MLP, not one with {cfg.activation} units")
    if cfg.image[1] % window:
        divisors = ", ".join(str(d) for d in range(1, cfg.image[1] + 1) if cfg.image[1] % d == 0)
        raise ValueError(f"window {window} leaves columns an RNN drops but the MLP reads; use one of {divisors}")
    cols = window_columns(cfg, params, window)
    steps, first, dtype = len(cols), cfg.layer_widths[1], params["w0"].dtype
    layers = max(1, len(cfg.hidden))
    units = max([steps * first, *cfg.hidden[1:]])
    last = slice((steps - 1) * first, steps * first)  # block q: h_1, or p_T for an MLP without hidden layers
    zeros = {"w_hh": (units, units), "b_ih": (units,), "b_hh": (units,)}
    out = {f"{k}{l}": torch.zeros(shape, dtype=dtype) for l in range(layers) for k, shape in zeros.items()}
    w_ih = torch.zeros(units, window * cfg.image[0], dtype=dtype)  # [units, window*H]
    for j, a in enumerate(cols):
        w_ih[j * first : (j + 1) * first] = a if (j == steps - 1 and cfg.hidden) else scale * a
        if j:  # p_j (or q) reads p_{j-1}: the identity, or 1 / eps where h_1 undoes the scale
            gain = 1 / scale if (j == steps - 1 and cfg.hidden) else 1.0
            out["w_hh0"][j * first : (j + 1) * first, (j - 1) * first : j * first] = gain * torch.eye(
                first, dtype=dtype
            )
    out["w_ih0"] = w_ih
    if cfg.hidden:
        out["b_ih0"][last] = params["b0"]
    for l in range(1, layers):  # MLP layer l+1 as RNN layer l: reads layer l-1's h_l at the same step
        src = last if l == 1 else slice(0, cfg.hidden[l - 1])
        out[f"w_ih{l}"] = torch.zeros(units, units, dtype=dtype)
        out[f"w_ih{l}"][: cfg.hidden[l], src] = params[f"w{l}"]
        out[f"b_ih{l}"][: cfg.hidden[l]] = params[f"b{l}"]
    top = last if layers == 1 else slice(0, cfg.hidden[-1])
    out["w_out"] = torch.zeros(cfg.classes, units, dtype=dtype)
    readout = params[f"w{len(cfg.hidden)}"] if cfg.hidden else torch.eye(cfg.classes, dtype=dtype) / scale
    out["w_out"][:, top], out["b_out"] = readout, params[f"b{len(cfg.hidden)}"]
    target = RNNConfig(hidden=units, layers=layers, window=window, image=cfg.image, classes=cfg.classes)
    return target, out


# ---------------------------------------------------------------------------------------------------------
# RNN -> unrolled feed-forward network


class UnrolledRNN(torch.nn.Module):
    """An RNN written out over its T steps as a feed-forward net on the flat image [B, H*W] -> logits [B, C].

    Layer (t, l) computes h_l at step t = tanh(Linear([below; h_l at step t-1])), where `below` is step t's
    window (l = 0) or layer l-1 at step t. `tied`: one Linear per RNN layer, reused at every step (it reads
    its window through a fixed index, and zeros as the state before step 1). Untied: an independent Linear
    per (t, l); layer 0's copies read the whole flat image (zeros outside their window), and the step-1
    copies have no state input. Either way each Linear holds [w_ih | w_hh] and the bias b_ih + b_hh.
    """

    index: torch.Tensor  # a buffer: [T, window*H]

    def __init__(self, cfg: RNNConfig, params: Params, tied: bool):
        super().__init__()
        self.cfg, self.tied = cfg, tied
        h, w = cfg.image
        pixels = torch.arange(h * w).view(1, h, w)
        index = views.windows(pixels, cfg.window, cfg.axis, "drop")[0]  # [T, window*H]: each element's flat pixel
        self.register_buffer("index", index, persistent=False)
        dtype = params["w_out"].dtype

        def linear(weight: torch.Tensor, bias: torch.Tensor) -> torch.nn.Linear:
            lin = torch.nn.Linear(weight.shape[1], weight.shape[0], dtype=dtype)
            with torch.no_grad():
                lin.weight.copy_(weight)
                lin.bias.copy_(bias)
            return lin

        layers = []
        for t in range(1 if tied else cfg.window_count):
            row = []
            for l in range(cfg.layers):
                w_ih, w_hh, bias = params[f"w_ih{l}"], params[f"w_hh{l}"], params[f"b_ih{l}"] + params[f"b_hh{l}"]
                if not tied and l == 0:  # read the whole image: w_ih scattered into the window's pixel columns
                    w_ih = w_ih.new_zeros(cfg.hidden, h * w).index_copy(1, index[t], w_ih)
                row.append(linear(w_ih if not tied and t == 0 else torch.cat([w_ih, w_hh], 1), bias))
            layers.append(torch.nn.ModuleList(row))
        self.layers = torch.nn.ModuleList(layers)  # [1 or T][L]
        self.readout = linear(params["w_out"], params["b_out"])

    def layer(self, t: int, l: int) -> torch.nn.Linear:
        """The Linear that computes layer l at step t."""
        return cast(torch.nn.Linear, cast(torch.nn.ModuleList, self.layers[0 if self.tied else t])[l])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hs = [x.new_zeros(x.shape[0], self.cfg.hidden) for _ in range(self.cfg.layers)]
        for t in range(self.cfg.window_count):
            below = x[:, self.index[t]] if self.tied else x  # [B, window*H] or the whole [B, H*W]
            for l in range(self.cfg.layers):
                inp = below if not self.tied and t == 0 else torch.cat([below, hs[l]], 1)
                hs[l] = below = torch.tanh(self.layer(t, l)(inp))
        return self.readout(hs[-1])

    def macs(self) -> int:
        """Multiply-adds per example: every Linear's weights once per time it is applied."""
        steps = sum(
            self.layer(t, l).weight.numel() for t in range(self.cfg.window_count) for l in range(self.cfg.layers)
        )
        return steps + self.readout.weight.numel()


# ---------------------------------------------------------------------------------------------------------
# Forms, verification, accounting


@dataclass(frozen=True)
class Cost:
    """What a form costs. stored: scalars in its tensors (shared ones once); distinct: trainable scalars
    (stored less fixed mask zeros); nonzero: stored scalars that are non-zero; macs: multiply-adds per
    example; depth: linear maps on the longest path from input to logits; steps: updates run one after another (1
    for a feed-forward net, an RNN's steps, a map's iterations)."""

    form: str
    stored: int
    distinct: int
    nonzero: int
    macs: int
    depth: int
    steps: int


@dataclass
class Form:
    """One network in one form: a standard-torch module, the input view it reads, its weights and its cost."""

    name: str
    module: torch.nn.Module
    view: Callable[[torch.Tensor], torch.Tensor]  # scaled images [N, H, W] -> the module's input
    weights: dict[str, torch.Tensor]  # what `save` writes
    config: dict  # how to rebuild it (saved as metadata)
    cost: Cost


def _nonzero(tensors) -> int:
    return sum(int(t.count_nonzero()) for t in tensors)


def family_form(cfg: FamilyConfig, params: Params) -> Form:
    """A family member as a form: its to_torch module, its view, its parameter accounting.

    (An iterative map's masked entries are stored as zeros and stay zero in training: their gradient is zero.)
    """
    fam = family_of(cfg)
    cost = Cost(
        cfg.family,
        numel(params),
        fam.count_params(cfg),
        _nonzero(params.values()),
        fam.macs(cfg),
        cfg.path,
        cfg.step_count,
    )
    module = fam.to_torch(cfg, params)
    return Form(cfg.family, module, lambda x: fam.view(cfg, x), dict(params), cfg.model_dump(mode="json"), cost)


def renamed(form: Form, name: str) -> Form:
    """The same form under another name (an MLP's recurrent forms are an itermap and an nn.RNN member)."""
    return dataclasses.replace(form, name=name, cost=dataclasses.replace(form.cost, form=name))


def unrolled_form(cfg: RNNConfig, params: Params, tied: bool) -> Form:
    """An RNN member unrolled over its steps (reads the flat image), tied or untied."""
    module = UnrolledRNN(cfg, params, tied)
    name = "unrolled-tied" if tied else "unrolled-untied"
    stored = sum(p.numel() for p in module.parameters())
    cost = Cost(name, stored, stored, _nonzero(module.parameters()), module.macs(), cfg.path, 1)
    weights = {k: v.detach() for k, v in module.state_dict().items()}
    return Form(name, module, views.flat, weights, {"form": name, "rnn": cfg.model_dump(mode="json")}, cost)


# Each function takes the config class its key names (the lambdas' cfg is that class, hence Any).
CONVERSIONS: dict[tuple[type[FamilyConfig], str], Callable[[Any, Params], Form]] = {
    (MLPConfig, "itermap"): lambda cfg, params: family_form(*mlp_to_itermap(cfg, params)),
    (MLPConfig, "rnn"): lambda cfg, params: renamed(family_form(*mlp_to_windows(cfg, params)), "rnn"),  # exact
    (MLPConfig, "tanh-rnn"): lambda cfg, params: renamed(family_form(*mlp_to_tanh_rnn(cfg, params)), "tanh-rnn"),
    (IterMapConfig, "mlp"): lambda cfg, params: family_form(*itermap_to_mlp(cfg, params)),  # MLP patterns only
    (RNNConfig, "itermap"): lambda cfg, params: family_form(*rnn_to_itermap(cfg, params)),
    (RNNConfig, "unrolled-tied"): lambda cfg, params: unrolled_form(cfg, params, tied=True),
    (RNNConfig, "unrolled-untied"): lambda cfg, params: unrolled_form(cfg, params, tied=False),
    (RNNConfig, "mlp"): lambda cfg, params: unrolled_form(
        cfg, params, tied=False
    ),  # an RNN's MLP: its untied unrolling
}


def convert(cfg: FamilyConfig, params: Params, to: str) -> Form:
    """One member in form `to` (see CONVERSIONS: itermap, rnn, tanh-rnn, unrolled-tied, unrolled-untied, mlp)."""
    if (type(cfg), to) in CONVERSIONS:
        return CONVERSIONS[type(cfg), to](cfg, params)
    possible = ", ".join(t for c, t in CONVERSIONS if c is type(cfg)) or "nothing"
    raise ValueError(f"no exact conversion of a {cfg.family} to {to!r}; it converts to {possible}")

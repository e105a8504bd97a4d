"""Gated recurrences (GRU, LSTM) reading an image's windows as the RNN does: what the two families share.

A gated family differs from the tanh RNN only in its cell: each layer projects its input and its previous hidden
state onto G gates of H units (G = 3 for the GRU, 4 for the LSTM) and combines them into the new state. Everything
else is the RNN's: the windows it reads (`rnn.view`), its steps and its Linear readout of the top layer's state.
The family modules (gru.py, lstm.py) give their config, their cell and bind `forward` to it.

Params of one member, layer l (torch's weight_ih_l{l} [G*H, in] etc., viewed gate by gate):
  w_ih{l} [G, H, in]   w_hh{l} [G, H, H]   b_ih{l} [G, H]   b_hh{l} [G, H]   w_out [C, H]   b_out [C]
The gate axis leads so that a narrower member is the leading corner of a wider one (`padded`): in torch's
[G*H, in] layout a member's z rows would land in a wider member's r rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import torch

from itermap.models import rnn
from itermap.models.rnn import WindowedConfig
from itermap.models.stacked import Params, generator, init_linear, linear, uniform

# A cell: (input term [M, B, G*H], recurrent term [M, B or 1, G*H], previous state or None for the zero state at
# step 1) -> the new state, its hidden state h [M, B, H] first (the LSTM's state is (h, c)).
Cell = Callable[[torch.Tensor, torch.Tensor, "tuple[torch.Tensor, ...] | None"], "tuple[torch.Tensor, ...]"]


class GatedConfig(WindowedConfig):
    """A gated RNN: `layers` stacked layers of `hidden` units, reading `window` columns (or rows: `axis`) per step.

    The fields and what follows from them (steps, inputs, path, width, depth, names) are the tanh RNN's
    (`rnn.WindowedConfig`); a subclass gives `family`, `gates` and the torch module it equals.
    """

    gates: ClassVar[int]  # G: gate blocks of `hidden` rows in each weight
    module: ClassVar[type[torch.nn.GRU] | type[torch.nn.LSTM]]

    def padded(self, width: int) -> GatedConfig | None:
        """`width` hidden units per layer. A padded unit j has zero rows in every gate block of W_ih, W_hh and the
        biases, and zero columns j in W_hh, the next layer's W_ih and the readout. All its gate pre-activations are
        then 0, so each sigmoid gate is 1/2 and each tanh candidate is 0:
          GRU   n_j = tanh(0 + r_j * 0) = 0,  h_j = (1 - z_j) n_j + z_j h_j' = h_j' / 2 = 0 from h_0 = 0;
          LSTM  g_j = 0,  c_j = f_j c_j' + i_j g_j = c_j' / 2 = 0 from c_0 = 0,  h_j = o_j tanh(c_j) = 0.
        Backward: h_j reaches the loss only through its zero columns and through its own next state (z_j h_j';
        the LSTM through c_j, f_j c_j'), so dL/dh_j = dL/dc_j = 0 from the last step back; every gate's gradient
        is a product with one of those, so unit j's rows get 0, and other units' columns j get (gradient) * h_j = 0.
        Adam moves a zero-gradient entry by 0: the unit stays 0 (tests/train/test_gated_training.py)."""
        return self.model_copy(update={"hidden": width}) if width >= self.hidden else None


view = rnn.view  # [N, H, W] -> windows [N, T, window*H] (rows: [N, T, window*W])


def init(cfg: GatedConfig, seed: int, dtype: torch.dtype = torch.float32) -> Params:
    """One member with nn.GRU's / nn.LSTM's default init (all U(-1/sqrt(hidden), 1/sqrt(hidden))), nn.Linear's readout.

    Each weight is drawn as torch's [G*H, in] (row-major), then viewed [G, H, in]."""
    gen, params, bound, g, h = generator(seed), {}, 1.0 / math.sqrt(cfg.hidden), cfg.gates, cfg.hidden
    for l in range(cfg.layers):
        fan_in = cfg.inputs if l == 0 else h
        params[f"w_ih{l}"] = uniform(gen, (g, h, fan_in), bound, dtype)
        params[f"w_hh{l}"] = uniform(gen, (g, h, h), bound, dtype)
        params[f"b_ih{l}"] = uniform(gen, (g, h), bound, dtype)
        params[f"b_hh{l}"] = uniform(gen, (g, h), bound, dtype)
    params["w_out"], params["b_out"] = init_linear(gen, h, cfg.classes, dtype)
    return params


def hidden_states(cfg: GatedConfig, params: Params, x: torch.Tensor, cell: Cell) -> list[torch.Tensor]:
    """Last layer's hidden state after every step: x [M, B, T, I] -> T tensors [M, B, H]."""
    m, b, t, _ = x.shape
    gh = cfg.gates * cfg.hidden
    seq = x.transpose(1, 2).reshape(m, t * b, -1)  # [M, T*B, I]: step-major, a step is a slice of T*B
    hs: list[torch.Tensor] = []  # the layer below's states, one [M, B, H] per step
    # Layer by layer: state_t = cell(W_ih x_t + b_ih, W_hh h_{t-1} + b_hh, state_{t-1}); x_t of layer l > 0 is
    # layer l-1's h_t. The gate blocks are flattened back to torch's [G*H, ...] rows (views, no copy).
    for l in range(cfg.layers):
        if hs:
            seq = torch.cat(hs, dim=1)  # [M, T*B, H]: the previous layer's states are this layer's inputs
        # All steps' input terms in one matmul: [M, G*H, in] weights -> [M, T*B, G*H].
        pre = linear(seq, params[f"w_ih{l}"].flatten(1, 2), params[f"b_ih{l}"].flatten(1))
        pre_steps = pre.view(m, t, b, gh).unbind(1)  # T x [M, B, G*H]
        w_hh = params[f"w_hh{l}"].flatten(1, 2).transpose(1, 2)  # [M, H, G*H]
        b_hh = params[f"b_hh{l}"].flatten(1).unsqueeze(1)  # [M, 1, G*H]
        state = cell(pre_steps[0], b_hh, None)  # h_0 = 0 (c_0 = 0): the recurrent term is its bias alone
        hs = [state[0]]
        for p in pre_steps[1:]:
            state = cell(p, torch.baddbmm(b_hh, state[0], w_hh), state)  # W_hh h_{t-1} + b_hh: [M, B, G*H]
            hs.append(state[0])
    return hs


def forward(cfg: GatedConfig, params: Params, x: torch.Tensor, cell: Cell, steps: bool = False) -> torch.Tensor:
    """x [M, B, T, I] -> logits [M, B, C] from the last step, or [M, T, B, C] from every step."""
    return rnn.readout(cfg, params, hidden_states(cfg, params, x, cell), steps)


def count_params(cfg: GatedConfig) -> int:
    """Torch's count: G gate blocks of W_ih, W_hh and both bias vectors per layer, plus the readout:
    P = G H (I + H + 2) + (L - 1) G (2 H^2 + 2 H) + (H + 1) C, with I = cfg.inputs, G = 3 (GRU) or 4 (LSTM)."""
    g, h = cfg.gates, cfg.hidden
    rec = g * h * (cfg.inputs + h + 2) + (cfg.layers - 1) * g * (2 * h * h + 2 * h)
    return rec + (h + 1) * cfg.classes


def macs(cfg: GatedConfig) -> int:
    """Multiply-adds of the weight matrices in one example's forward pass, T = window_count steps:
    T G H I + (L - 1) T G H^2 (input terms) + L (T - 1) G H^2 (recurrent terms; h_0 = 0, so step 1 has none) + H C.
    The gates' elementwise products (3 H per step and layer for both cells) are not counted, as no family counts
    its nonlinearities."""
    g, h, t = cfg.gates, cfg.hidden, cfg.window_count
    inputs = t * g * h * cfg.inputs + (cfg.layers - 1) * t * g * h * h
    return inputs + cfg.layers * (t - 1) * g * h * h + h * cfg.classes


class GatedClassifier(rnn.RNNClassifier):
    """nn.GRU or nn.LSTM (batch_first) over [B, T, I] windows, then nn.Linear on the last hidden state."""

    def __init__(self, cfg: GatedConfig, dtype: torch.dtype = torch.float32):
        super().__init__(cfg, dtype, cfg.module(cfg.inputs, cfg.hidden, cfg.layers, batch_first=True, dtype=dtype))

    def step_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Every step's logits [B, T, C]: the readout of the top layer's state after each step."""
        out, _ = self.rnn(x)  # [B, T, H]
        return self.readout(out)


def to_torch(cfg: GatedConfig, params: Params) -> GatedClassifier:
    """One member as an nn.GRU / nn.LSTM + nn.Linear module holding the same weights ([G, H, ...] -> [G*H, ...])."""
    module = GatedClassifier(cfg, params["w_out"].dtype)
    rnn.load(module, cfg, params, lambda w: w.flatten(0, 1))
    return module

"""LSTM reading an image a few columns (or rows) per step, Linear readout of the last hidden state (nn.LSTM + nn.Linear).

Everything but the cell is shared with the GRU (gated.py) and the windows are the tanh RNN's (rnn.view).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch

from itermap.models import gated
from itermap.models.gated import count_params, init, macs, to_torch, view
from itermap.models.stacked import Params


class LSTMConfig(gated.GatedConfig):
    """An LSTM: `layers` stacked layers of `hidden` units, reading `window` columns (or rows: `axis`) per step."""

    family: Literal["lstm"] = "lstm"

    gates: ClassVar[int] = 4  # i, f, g, o
    module: ClassVar[type[torch.nn.LSTM]] = torch.nn.LSTM


def cell(
    pre: torch.Tensor, rec: torch.Tensor, state: tuple[torch.Tensor, ...] | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step. pre = W_i x_t + b_i [M, B, 4H], rec = W_h h_{t-1} + b_h [M, B or 1, 4H], gate order i, f, g, o
    (PyTorch's); the state is (h, c):
      i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
      f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
      g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
      o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
      c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                  (c_0 = 0: state None, c_1 = i_1 ⊙ g_1)
      h_t = o_t ⊙ tanh(c_t)
    """
    a_i, a_f, a_g, a_o = (pre + rec).chunk(4, dim=-1)  # 4 x [M, B, H]
    i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
    c = i * g if state is None else f * state[1] + i * g
    return o * torch.tanh(c), c


def forward(cfg: LSTMConfig, params: Params, x: torch.Tensor, steps: bool = False) -> torch.Tensor:
    """x [M, B, T, I] -> logits [M, B, C] from the last step, or [M, T, B, C] from every step."""
    return gated.forward(cfg, params, x, cell, steps)


Config = LSTMConfig
__all__ = ["Config", "LSTMConfig", "cell", "count_params", "forward", "init", "macs", "to_torch", "view"]

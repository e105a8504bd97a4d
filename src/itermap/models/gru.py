"""GRU reading an image a few columns (or rows) per step, Linear readout of the last hidden state (nn.GRU + nn.Linear).

Everything but the cell is shared with the LSTM (gated.py) and the windows are the tanh RNN's (rnn.view).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch

from itermap.models import gated
from itermap.models.gated import count_params, init, macs, to_torch, view
from itermap.models.stacked import Params


class GRUConfig(gated.GatedConfig):
    """A GRU: `layers` stacked layers of `hidden` units, reading `window` columns (or rows: `axis`) per step."""

    family: Literal["gru"] = "gru"

    gates: ClassVar[int] = 3  # r, z, n
    module: ClassVar[type[torch.nn.GRU]] = torch.nn.GRU


def cell(pre: torch.Tensor, rec: torch.Tensor, state: tuple[torch.Tensor, ...] | None) -> tuple[torch.Tensor]:
    """One GRU step. pre = W_i x_t + b_i [M, B, 3H], rec = W_h h_{t-1} + b_h [M, B or 1, 3H], gate order r, z, n
    (PyTorch's):
      r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
      z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
      n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
      h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}          (h_0 = 0: state None, h_1 = (1 - z_1) ⊙ n_1)
    """
    i_r, i_z, i_n = pre.chunk(3, dim=-1)  # 3 x [M, B, H]
    h_r, h_z, h_n = rec.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    if state is None:
        return ((1 - z) * n,)
    return ((1 - z) * n + z * state[0],)


def forward(cfg: GRUConfig, params: Params, x: torch.Tensor, steps: bool = False) -> torch.Tensor:
    """x [M, B, T, I] -> logits [M, B, C] from the last step, or [M, T, B, C] from every step."""
    return gated.forward(cfg, params, x, cell, steps)


Config = GRUConfig
__all__ = ["Config", "GRUConfig", "cell", "count_params", "forward", "init", "macs", "to_torch", "view"]

"""MLP: Linear + activation blocks of the given widths, then a Linear readout, on the flat image."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from pydantic import Field, PositiveInt

from itermap.data import views
from itermap.models.base import FamilyConfig
from itermap.models.stacked import ACTIVATIONS, Params, generator, init_linear, linear


class MLPConfig(FamilyConfig):
    """An MLP: `hidden` widths ([] is a linear classifier), activation between layers."""

    family: Literal["mlp"] = "mlp"
    hidden: list[PositiveInt] = Field(default_factory=list)
    activation: Literal["tanh", "relu", "identity"] = "tanh"

    size_fields: ClassVar[tuple[str, ...]] = ("hidden",)

    @property
    def arch(self) -> str:
        return "-".join(["mlp", *map(str, self.hidden)]) if self.hidden else "mlp-0"

    @property
    def width(self) -> int:
        return max(self.hidden, default=0)

    @property
    def depth(self) -> int:
        return len(self.hidden)

    @classmethod
    def sized(cls, fields: dict[str, Any], width: int) -> dict[str, Any]:
        """`layers` hidden layers (default 1), all `width` wide."""
        fixed = dict(fields)
        layers = fixed.pop("layers", 1)
        if not isinstance(layers, int) or isinstance(layers, bool) or layers < 1:
            raise ValueError(f"layers: a whole number >= 1 of hidden layers to size (got {layers!r})")
        return {**fixed, "hidden": [width] * layers}

    def padded(self, width: int) -> MLPConfig | None:
        """Every hidden layer `width` wide. A padded unit j has zero in-weights, bias and out-weights, so its output
        is act(0) = 0 (tanh, relu and identity all map 0 to 0) and every gradient through it is 0: it stays 0."""
        return self.model_copy(update={"hidden": [width] * len(self.hidden)}) if width >= self.width else None

    @property
    def layer_widths(self) -> list[int]:
        """Widths of every layer's output, input first: [784, *hidden, classes]."""
        return [self.image[0] * self.image[1], *self.hidden, self.classes]


def view(cfg: MLPConfig, x: torch.Tensor) -> torch.Tensor:
    """Scaled images [N, H, W] -> what the MLP reads, [N, H*W]."""
    return views.flat(x)


def init(cfg: MLPConfig, seed: int, dtype: torch.dtype = torch.float32) -> Params:
    """One member's params with nn.Linear's default initialisation, drawn from `seed` alone."""
    gen, params = generator(seed), {}
    for i, (fan_in, fan_out) in enumerate(zip(cfg.layer_widths[:-1], cfg.layer_widths[1:])):
        params[f"w{i}"], params[f"b{i}"] = init_linear(gen, fan_in, fan_out, dtype)
    return params


def forward(cfg: MLPConfig, params: Params, x: torch.Tensor) -> torch.Tensor:
    """Stacked members on their own batches: x [M, B, 784] -> logits [M, B, C]."""
    act, last = ACTIVATIONS[cfg.activation], len(cfg.layer_widths) - 2
    for i in range(last + 1):
        x = linear(x, params[f"w{i}"], params[f"b{i}"])  # [M, B, layer_widths[i+1]]
        if i < last:
            x = act(x)
    return x


def count_params(cfg: MLPConfig) -> int:
    """Weights and biases of all layers."""
    return sum((a + 1) * b for a, b in zip(cfg.layer_widths[:-1], cfg.layer_widths[1:]))


def macs(cfg: MLPConfig) -> int:
    """Multiply-adds of one example's forward pass."""
    return sum(a * b for a, b in zip(cfg.layer_widths[:-1], cfg.layer_widths[1:]))


def to_torch(cfg: MLPConfig, params: Params) -> torch.nn.Sequential:
    """One member as nn.Sequential(Flatten, Linear, Tanh, ..., Linear) holding the same weights."""
    act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "identity": torch.nn.Identity}[cfg.activation]
    layers: list[torch.nn.Module] = [torch.nn.Flatten()]
    for i, (fan_in, fan_out) in enumerate(zip(cfg.layer_widths[:-1], cfg.layer_widths[1:])):
        lin = torch.nn.Linear(fan_in, fan_out, dtype=params[f"w{i}"].dtype)
        with torch.no_grad():
            lin.weight.copy_(params[f"w{i}"])
            lin.bias.copy_(params[f"b{i}"])
        layers += [lin, act()] if i < len(cfg.layer_widths) - 2 else [lin]
    return torch.nn.Sequential(*layers)


Config = MLPConfig

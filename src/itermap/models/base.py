"""What every model family is: a config on one shared base, and a module of pure functions.

The rest of the package asks a family only what is written here, so it never branches on a family's
name. A config states its `arch` (one configuration, e.g. "rnn-1x64"), its `group` (the curve it lies
on, e.g. "rnn-1"), its `width` (the knob a parameter-matched design solves), its `depth` and whether it
produces per-step logits (`has_steps`). A family module implements `Family`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import torch
from pydantic import BaseModel, ConfigDict, PositiveInt

from itermap.models.stacked import Params


class FamilyConfig(BaseModel):
    """The base of every family's config: its name, the image shape and number of classes it reads.

    A family's config also gives, as a property or as a field of its own (`REQUIRED`):
      arch    name of this one configuration, e.g. "mlp-64-64" or "rnn-2x16";
      width   units of the widest hidden layer (0 for none): what a parameter-matched design solves for;
      depth   hidden layers (or slots, or steps of an unrolled net) stacked between input and readout.
    They are not defined here, so that a family may make any of them a field (the unrolled net's `depth`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    family: str
    image: tuple[PositiveInt, PositiveInt] = (28, 28)
    classes: PositiveInt = 10

    has_steps: ClassVar[bool] = False  # forward(..., steps=True) gives per-step logits [M, T, B, C]
    size_fields: ClassVar[tuple[str, ...]] = ()  # fields that `group`, `width` and `depth` already say

    if TYPE_CHECKING:  # REQUIRED, for the type checker only: at run time a family's Config gives them

        @property
        def arch(self) -> str: ...
        @property
        def width(self) -> int: ...
        @property
        def depth(self) -> int: ...

    @property
    def group(self) -> str:
        """The curve this configuration lies on (configurations that differ only in width), e.g. "rnn-1"."""
        return f"{self.family}-{self.depth}"

    @property
    def step_count(self) -> int:
        """Steps whose logits `forward(..., steps=True)` gives in training; the model's prediction is the last one's."""
        return 1

    @property
    def anytime_steps(self) -> int:
        """Steps evaluated for anytime metrics (beyond `step_count` where the family can run on, as tied nets can)."""
        return self.step_count

    @property
    def path(self) -> int:
        """Linear maps on the longest path from input to logits: depth + 1 for a feed-forward net."""
        return self.depth + 1

    @classmethod
    def sized(cls, fields: dict[str, Any], width: int) -> dict[str, Any]:
        """A [[matched]] entry's fields with its width set to `width`; a ValueError reads "key: what is wrong"."""
        raise ValueError(f"family: {fields.get('family')!r} has no width to solve for a parameter budget")

    def padded(self, width: int) -> FamilyConfig | None:
        """This configuration widened to `width` (>= its own), for a wide pack; None where the family cannot pad.

        A family that pads promises: every param of this config is the leading corner of the widened config's
        (w [h, in] sits in W [H, in] as W[:h, :in]), and the extra units, started at zero, stay exactly zero in
        training, so that a member trains in the wider shape as it would alone (see `trainer.PackTrainer`).
        """
        return None


REQUIRED = ("arch", "width", "depth")  # what a Config gives beyond this base, as a property or a field
FUNCTIONS = ("view", "init", "forward", "count_params", "macs", "to_torch")  # what `Family` asks of a module


@runtime_checkable
class Family(Protocol):
    """A family module: its `Config` class and these pure functions (params stacked on a member axis M)."""

    @property
    def Config(self) -> type[FamilyConfig]:  # read-only, so a module's own subclass satisfies it
        """The family's config class."""

    def view(self, cfg: Any, x: torch.Tensor) -> torch.Tensor:
        """Scaled images [N, H, W] -> what the family reads, [N, ...]."""

    def init(self, cfg: Any, seed: int, dtype: torch.dtype = torch.float32) -> Params:
        """One member's params, drawn from `seed` alone."""

    def forward(self, cfg: Any, params: Params, x: torch.Tensor, *args: Any, **kw: Any) -> torch.Tensor:
        """x [M, B, ...] -> logits [M, B, C]; with `steps=True` (has_steps families) [M, T, B, C], T = step_count
        (a family that runs on past it takes `through=anytime_steps`)."""

    def count_params(self, cfg: Any) -> int:
        """Trainable parameters of one member."""

    def macs(self, cfg: Any) -> int:
        """Multiply-adds of one example's forward pass."""

    def to_torch(self, cfg: Any, params: Params) -> torch.nn.Module:
        """One member as standard torch.nn modules holding the same weights."""

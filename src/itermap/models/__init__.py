"""Model families: each is a pydantic config plus pure functions on params stacked along a member axis.

A family module has `view(cfg, x)`, `init(cfg, seed, dtype)`, `forward(cfg, params, x)`,
`count_params(cfg)`, `flops(cfg)` and `to_torch(cfg, params)`. `FAMILIES` maps a config's
`family` name to its module; `FamilyConfig` parses any of them from a dict.
"""

from __future__ import annotations

from types import ModuleType
from typing import Annotated, Union

from pydantic import Field, TypeAdapter

from itermap.models import itermap, mlp, rnn
from itermap.models.itermap import IterMapConfig
from itermap.models.mlp import MLPConfig
from itermap.models.rnn import RNNConfig

FAMILIES: dict[str, ModuleType] = {"mlp": mlp, "rnn": rnn, "itermap": itermap}

FamilyConfig = Annotated[Union[MLPConfig, RNNConfig, IterMapConfig], Field(discriminator="family")]
family_config = TypeAdapter(FamilyConfig)


def family(cfg) -> ModuleType:
    """The module that implements `cfg`'s family."""
    return FAMILIES[cfg.family]


__all__ = ["FAMILIES", "FamilyConfig", "IterMapConfig", "MLPConfig", "RNNConfig", "family", "family_config"]

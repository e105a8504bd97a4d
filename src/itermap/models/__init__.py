"""Model families: each is a config on `FamilyConfig` plus pure functions on params stacked along a member axis.

A family module implements `Family` (`view`, `init`, `forward`, `count_params`, `macs`, `to_torch` and
its `Config` class). `FAMILIES` maps a config's `family` name to its module, built from `BUILTIN`;
`register` adds one more (a family defined elsewhere, e.g. in a test or a notebook).
"""

from __future__ import annotations

from typing import Any

from itermap.models import gru, itermap, lstm, mlp, rnn, sparse, unrolled
from itermap.models.base import FUNCTIONS, REQUIRED, Family, FamilyConfig
from itermap.models.gru import GRUConfig
from itermap.models.itermap import IterMapConfig
from itermap.models.lstm import LSTMConfig
from itermap.models.mlp import MLPConfig
from itermap.models.rnn import RNNConfig
from itermap.models.sparse import SparseConfig
from itermap.models.unrolled import UnrolledConfig

BUILTIN: list[Family] = [mlp, rnn, gru, lstm, itermap, unrolled, sparse]
FAMILIES: dict[str, Family] = {}


def name_of(module: Family) -> str:
    """The `family` name a module's configs carry (the default of its Config's `family` field)."""
    return module.Config.model_fields["family"].default


def register(module: Family) -> None:
    """Make a family known to the package by its name: spec tables, plans, the trainer and analysis find it."""
    missing = [n for n in ("Config", *FUNCTIONS) if not hasattr(module, n)]
    if missing:
        raise TypeError(f"a family module needs {', '.join(missing)}")
    if not issubclass(module.Config, FamilyConfig) or not isinstance(name_of(module), str):
        raise TypeError("a family's Config subclasses FamilyConfig and gives `family` a default: its name")
    lacking = [n for n in REQUIRED if n not in module.Config.model_fields and not hasattr(module.Config, n)]
    if lacking:
        raise TypeError(f"a family's Config gives {', '.join(lacking)} (a property or a field)")
    FAMILIES[name_of(module)] = module


def unregister(name: str) -> None:
    """Forget a registered family (built-in ones come back with `register`)."""
    FAMILIES.pop(name, None)


for _module in BUILTIN:
    register(_module)


def family_of(cfg: FamilyConfig) -> Family:
    """The module that implements `cfg`'s family."""
    return FAMILIES[cfg.family]


def cover(cfgs: list[FamilyConfig]) -> FamilyConfig:
    """The one shape that members of these configurations train in together: their shared config, or all of them
    padded to the widest (`FamilyConfig.padded`); a ValueError where they differ in more than width."""
    first, width = cfgs[0], max(c.width for c in cfgs)
    if all(c == first for c in cfgs):
        return first
    wide = first.padded(width)
    if wide is None or any(c.padded(width) != wide for c in cfgs):
        archs = ", ".join(dict.fromkeys(c.arch for c in cfgs))
        raise ValueError(f"{archs}: configurations that differ in more than width cannot share a pack")
    return wide


def parse_config(doc: dict[str, Any]) -> FamilyConfig:
    """A family config from its dict (as stored with a run); raises ValueError for an unknown family."""
    name = doc.get("family")
    if name not in FAMILIES:
        raise ValueError(f"unknown family {name!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[name].Config.model_validate(doc)


__all__ = [
    "BUILTIN",
    "FAMILIES",
    "Family",
    "FamilyConfig",
    "GRUConfig",
    "IterMapConfig",
    "LSTMConfig",
    "MLPConfig",
    "RNNConfig",
    "SparseConfig",
    "UnrolledConfig",
    "cover",
    "family_of",
    "name_of",
    "parse_config",
    "register",
    "unregister",
]

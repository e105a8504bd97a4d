"""Family configs built from spec tables, with spec-style error messages (`grid[1].layers: ...`)."""

from __future__ import annotations

import typing
from typing import Any

import torch
from pydantic import BaseModel, ValidationError

from itermap.models import FamilyConfig, family
from itermap.study.errors import SpecError
from itermap.study.spec import describe

FROM_DATA = ("image", "classes")  # set by the data set, not by the spec


def config_classes() -> dict[str, type[BaseModel]]:
    """Every registered family's config class by family name."""
    union = typing.get_args(FamilyConfig)[0]
    return {cls.model_fields["family"].default: cls for cls in typing.get_args(union)}


def config_class(name: Any, where: str) -> type[BaseModel]:
    """The config class of family `name`, or a SpecError naming `where`."""
    classes = config_classes()
    if name not in classes:
        allowed = ", ".join(classes)
        raise SpecError(f"{where}.family: " + (f"unknown family {name!r}; allowed: {allowed}" if name is not None else f"missing; allowed: {allowed}"))
    return classes[name]


def build(fields: dict[str, Any], where: str) -> BaseModel:
    """A family config from a spec table's fields (including `family`), checked to read the data's images."""
    cls = config_class(fields.get("family"), where)
    for key in FROM_DATA:
        if key in fields:
            raise SpecError(f"{where}.{key}: set by the data set, not by the spec")
    try:
        cfg = cls.model_validate(fields)
    except ValidationError as e:
        raise SpecError(describe(e, cls, where, hide=FROM_DATA)) from None
    try:
        family(cfg).view(cfg, torch.zeros(1, *cfg.image))
    except ValueError as e:
        raise SpecError(f"{where}: {e} for images of {cfg.image[0]}x{cfg.image[1]}") from None
    return cfg


def is_list_field(cls: type[BaseModel], key: str) -> bool:
    """Whether a config field's own value is a list (like an MLP's `hidden`), so a grid gives a list of lists."""
    field = cls.model_fields.get(key)
    return field is not None and typing.get_origin(field.annotation) in (list, tuple)


def layers_of(cfg: BaseModel) -> int:
    """Hidden layers of a config: an MLP's number of widths, else its `layers` field (1 if it has none)."""
    hidden = getattr(cfg, "hidden", None)
    return len(hidden) if isinstance(hidden, (list, tuple)) else getattr(cfg, "layers", 1)


def width_of(cfg: BaseModel) -> int:
    """Widest hidden layer (0 for a linear classifier)."""
    hidden = getattr(cfg, "hidden", 0)
    return max(hidden, default=0) if isinstance(hidden, (list, tuple)) else int(hidden)


def group_of(cfg: BaseModel) -> str:
    """The curve a config belongs to in plots: family and number of layers, e.g. 'mlp-2', 'rnn-1'."""
    return f"{cfg.family}-{layers_of(cfg)}"

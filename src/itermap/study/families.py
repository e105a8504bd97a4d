"""Family and training configs built from spec tables, with spec-style error messages (`grid[1].layers: ...`)."""

from __future__ import annotations

import typing
from typing import Any

import torch
from pydantic import BaseModel, ValidationError

from itermap.models import FAMILIES, FamilyConfig, family_of
from itermap.study.errors import SpecError
from itermap.study.spec import STUDY_WIDE, describe
from itermap.train import TrainConfig
from itermap.train.losses import LOSSES

FROM_DATA = ("image", "classes")  # set by the data set, not by the spec


def config_class(name: Any, where: str) -> type[FamilyConfig]:
    """The config class of family `name`, or a SpecError naming `where`."""
    if name not in FAMILIES:
        allowed = ", ".join(FAMILIES)
        raise SpecError(
            f"{where}.family: "
            + (f"unknown family {name!r}; allowed: {allowed}" if name is not None else f"missing; allowed: {allowed}")
        )
    return FAMILIES[name].Config


def build(fields: dict[str, Any], where: str) -> FamilyConfig:
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
        family_of(cfg).view(cfg, torch.zeros(1, *cfg.image))
    except ValueError as e:
        raise SpecError(f"{where}: {e} for images of {cfg.image[0]}x{cfg.image[1]}") from None
    return cfg


def build_train(base: dict[str, Any], overrides: dict[str, Any], where: str) -> TrainConfig:
    """A training config: [train]'s settings with an entry's `train` overrides (one value each) applied."""
    for key in overrides:
        if key in STUDY_WIDE:
            raise SpecError(f"{where}.{key}: a setting of the whole study; set it in [train]")
    try:
        return TrainConfig.model_validate({**base, **overrides})
    except ValidationError as e:
        raise SpecError(describe(e, TrainConfig, where)) from None


def check_loss(cfg: FamilyConfig, train: TrainConfig, where: str) -> None:
    """A loss that reads per-step logits needs a family that produces them."""
    if LOSSES[train.loss].steps and not cfg.has_steps:
        raise SpecError(
            f"{where}: loss {train.loss!r} needs per-step logits, which family {cfg.family!r} "
            f'({cfg.arch}) does not produce; use loss = "last" for it'
        )


def is_list_field(cls: type[BaseModel], key: str) -> bool:
    """Whether a config field's own value is a list (like an MLP's `hidden`), so a grid gives a list of lists."""
    field = cls.model_fields.get(key)
    return field is not None and typing.get_origin(field.annotation) in (list, tuple)

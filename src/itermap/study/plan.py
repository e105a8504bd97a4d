"""A spec expanded into runs (one model trained once) and packs (all seeds of one configuration).

A run's id hashes its canonical config: the family and training fields that differ from their
defaults, data set, subset, seed (and a crossed design's data-order seed) and `ID_SCHEMA`. Adding a
field with a default to a family or to TrainConfig therefore leaves every existing id, and every
study folder, valid.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from itermap.data import DATASETS
from itermap.models import FamilyConfig, cover, family_of
from itermap.study.errors import SpecError
from itermap.study.families import FROM_DATA, build, build_train, check_loss, config_class, is_list_field
from itermap.study.matched import solve, template
from itermap.study.spec import Spec
from itermap.study.teacher import resolve
from itermap.train import TrainConfig
from itermap.train.config import INT64
from itermap.train.losses import LOSSES

ID_SCHEMA = 1  # bump only to change what an id means; every existing study folder then starts over


def stable_id(obj: Any) -> str:
    """16 hex characters of the sha256 of `obj`'s canonical JSON."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def canonical(cfg: FamilyConfig | TrainConfig) -> dict:
    """A config as JSON without the fields left at their defaults (a family config keeps its `family`)."""
    doc = cfg.model_dump(mode="json", exclude_defaults=True)
    return {"family": cfg.family, **doc} if isinstance(cfg, FamilyConfig) else doc


@dataclass(frozen=True)
class Run:
    """One model trained once: data set (and subset), family config, training config, seed; in a crossed design
    (`seeds = { init = N, order = M }`) `seed` draws its init and `order_seed` its minibatch order."""

    dataset: str
    cfg: FamilyConfig
    train: TrainConfig
    seed: int
    limit_train: int | None = None
    limit_test: int | None = None
    budget: int | None = None  # the parameter budget a matched design solved this config for
    order_seed: int | None = None  # a crossed design's data-order seed; None: `seed` draws the order too
    validation: int | None = None  # training images held out for validation (data/validation.py); None: none
    validation_seed: int = 0  # the seed that draws them

    @property
    def crossed(self) -> dict[str, int]:
        """{"order_seed": its order seed} in a crossed design, else {}: what its config and id add."""
        return {} if self.order_seed is None else {"order_seed": self.order_seed}

    @property
    def config(self) -> dict:
        """The resolved config, every field spelled out (what the store and kept weights record)."""
        return {
            "dataset": self.dataset,
            "limit_train": self.limit_train,
            "limit_test": self.limit_test,
            "model": self.cfg.model_dump(mode="json"),
            "train": self.train.model_dump(mode="json"),
            "seed": self.seed,
            **self.crossed,
            **self.held_out,
        }

    @cached_property
    def run_id(self) -> str:
        """Hash of the canonical config: defaults left out, so new defaulted fields keep ids stable."""
        limits = {
            k: v for k, v in (("limit_train", self.limit_train), ("limit_test", self.limit_test)) if v is not None
        }
        return stable_id(
            {
                "schema": ID_SCHEMA,
                "dataset": self.dataset,
                **limits,
                "model": canonical(self.cfg),
                "train": canonical(self.train),
                "seed": self.seed,
                **self.crossed,
                **self.held_out,
            }
        )

    @property
    def held_out(self) -> dict[str, int]:
        """{"validation": its size, "validation_seed": its seed} where the run holds images out, else {}: what its
        config and id add (nothing without a split, so the ids of a study without one stay as they were)."""
        if self.validation is None:
            return {}
        return {"validation": self.validation, "validation_seed": self.validation_seed}

    @property
    def param_count(self) -> int:
        """Trainable parameters of the model."""
        return family_of(self.cfg).count_params(self.cfg)

    @property
    def sizes(self) -> tuple[int, int]:
        """Train and test examples the run sees (its data set's sizes, capped by limit_train/limit_test; the train
        images less those held out for validation)."""
        n_train, n_test = DATASETS[self.dataset].sizes
        n_train = min(n_train, self.limit_train or n_train) - (self.validation or 0)
        return n_train, min(n_test, self.limit_test or n_test)

    @property
    def macs(self) -> int:
        """Multiply-adds of one example's forward pass."""
        return family_of(self.cfg).macs(self.cfg)


@dataclass(frozen=True)
class Pack:
    """Runs trained together: of one configuration and training config, differing only in seed; or, joined into a
    wide pack (study/compose.py), of several widths of one shape and several data sets of one size."""

    runs: tuple[Run, ...]

    @property
    def first(self) -> Run:
        return self.runs[0]

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.runs]

    @property
    def order_seeds(self) -> list[int]:
        """Each member's data-order seed: its `order_seed` in a crossed design, else its seed."""
        return [r.seed if r.order_seed is None else r.order_seed for r in self.runs]

    @property
    def cfg(self) -> FamilyConfig:
        """The shape its members train in: their one configuration, or in a wide pack the widest (`models.cover`)."""
        return cover([r.cfg for r in self.runs])

    @property
    def label(self) -> str:
        """Its configurations and data sets, e.g. "rnn-1x8, rnn-1x16 on mnist, fashion-mnist"."""
        archs, datasets = dict.fromkeys(r.cfg.arch for r in self.runs), dict.fromkeys(r.dataset for r in self.runs)
        return f"{', '.join(archs)} on {', '.join(datasets)}"

    @cached_property
    def pack_id(self) -> str:
        """Hash of the pack's run ids: the same runs are the same pack, whichever spec planned them."""
        return stable_id(sorted(r.run_id for r in self.runs))


@dataclass
class Plan:
    """The runs and packs of a spec, notes on what a matched design had to leave out, and the teachers of its
    students: run id -> another study's kept weights, or None for a teacher this study trains (its first packs)."""

    spec: Spec
    runs: list[Run]
    packs: list[Pack]
    notes: list[str]
    teachers: dict[str, Path | None] = field(default_factory=dict)


def axes_of(table: dict[str, Any], where: str, keep_lists: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The cartesian product of a table's values: a list is an axis, except in `keep_lists` keys (a list of lists)."""
    axes: dict[str, list] = {}
    for key, value in table.items():
        if key in keep_lists:
            if not isinstance(value, list) or not all(isinstance(v, list) for v in value):
                raise SpecError(
                    f"{where}.{key}: give a list of lists, one per configuration, e.g. [[], [64], [64, 64]] (got {value!r})"
                )
            axes[key] = value
        else:
            axes[key] = value if isinstance(value, list) else [value]
        if not axes[key]:
            raise SpecError(f"{where}.{key}: empty list; give at least one value")
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


def train_configs(spec: Spec, entry_train: Any, where: str) -> list[TrainConfig]:
    """An entry's training configs: [train] with each combination of the entry's `train` sub-table applied."""
    if not isinstance(entry_train, dict):
        raise SpecError(
            f"{where}: a table of [train] settings to override, e.g. [grid.train] lr = [1e-3, 1e-4] (got {entry_train!r})"
        )
    base = spec.train.trainer_fields()
    return [build_train(base, overrides, where) for overrides in axes_of(entry_train, where)]


def family_axes(entry: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """A family table's combinations: each list-valued key is an axis (an MLP's `hidden` takes a list of lists)."""
    cls = config_class(entry.get("family"), where)
    lists = tuple(k for k in entry if k != "family" and k not in FROM_DATA and is_list_field(cls, k))
    return axes_of(entry, where, lists)


def grid_configs(entry: dict[str, Any], where: str) -> list[FamilyConfig]:
    """The cartesian product of a [[grid]] table's list-valued keys."""
    return [build(fields, where) for fields in family_axes(entry, where)]


Entry = tuple[FamilyConfig, TrainConfig, int | None]  # a configuration, how it trains, its matched budget


def checked(cfg: FamilyConfig, train: TrainConfig, budget: int | None, where: str) -> Entry:
    """An entry, once its loss is known to suit its family."""
    check_loss(cfg, train, where)
    return cfg, train, budget


def expand(spec: Spec) -> tuple[list[Entry], list[str]]:
    """Every (family config, training config, budget) of the spec (budget None for grids), and notes."""
    entries: list[Entry] = []
    notes: list[str] = []
    for i, grid in enumerate(spec.grid):
        where, fields = f"grid[{i}]", {k: v for k, v in grid.items() if k != "train"}
        trains = train_configs(spec, grid.get("train", {}), f"{where}.train")
        entries += [checked(cfg, train, None, where) for cfg in grid_configs(fields, where) for train in trains]
    for i, matched in enumerate(spec.matched):
        trains = train_configs(spec, matched.train, f"matched[{i}].train")
        for j, table in enumerate(matched.families):
            for fields in family_axes(table, f"matched[{i}].families[{j}]"):
                make = template(fields, f"matched[{i}].families[{j}]")
                for budget in matched.budgets:
                    found, note = solve(make, budget, matched.tolerance)
                    entries += [checked(found.cfg, t, budget, f"matched[{i}]") for t in trains] if found else []
                    notes += [note] if note else []
    if not entries:
        raise SpecError("no runs: " + ("; ".join(notes) if notes else "add a [[grid]] or [[matched]] table"))
    return entries, notes


def check_compare(spec: Spec, entries: list[Entry]) -> None:
    """Every [[compare]] names groups that the spec plans."""
    groups = sorted({cfg.group for cfg, _, _ in entries})
    for i, cmp in enumerate(spec.compare):
        for side in ("a", "b"):
            sel = getattr(cmp, side)
            group = sel if isinstance(sel, str) else sel["group"]
            if group not in groups:
                raise SpecError(
                    f"compare[{i}].{side}: no group {group!r} in this study; its groups: {', '.join(groups)}"
                )


def check_crossed(spec: Spec, entries: list[Entry]) -> None:
    """Crossed seeds draw each run's data order from its order seed: no entry may give every run one order."""
    if isinstance(spec.train.seeds, dict) and any(train.data_order == "shared" for _, train, _ in entries):
        raise SpecError(
            "train.seeds: { init, order } crosses data orders, but data_order = 'shared' gives every run one order; "
            "drop one of them"
        )


def check_validation(spec: Spec) -> None:
    """A validation split holds at least one image of each class out, and leaves some to train on, in every data set."""
    n = spec.data.validation
    if n is None:
        return
    for name in spec.data.datasets:
        classes, n_train = DATASETS[name].classes, min(DATASETS[name].sizes[0], spec.data.limit_train or INT64)
        if n < classes:
            raise SpecError(f"data.validation = {n}: hold out at least one image of each of {name}'s {classes} classes")
        if n >= n_train:
            raise SpecError(
                f"data.validation = {n}: {name} has {n_train:,} training images (after limit_train); hold out fewer"
            )


def make_plan(spec: Spec) -> Plan:
    """All runs of a spec (a run planned twice runs once), in packs by data set, config and training config; the runs
    of a configuration are its seeds, or in a crossed design its init seeds x order seeds."""
    try:
        entries, notes = expand(spec)
        check_compare(spec, entries)
        check_crossed(spec, entries)
        check_validation(spec)
        teacher = resolve(spec)
        if teacher is None and any(LOSSES[train.loss].teacher for _, train, _ in entries):
            raise SpecError(
                "loss 'distill' trains on a teacher's logits: add a [teacher] table (a model this study "
                "trains first, or study = DIR, run = ID of a kept run)"
            )
    except SpecError as e:
        raise SpecError(f"{spec.origin}: {e}") from None
    seeds, limits = spec.train.seed_pairs, (spec.data.limit_train, spec.data.limit_test)
    held: dict[str, Any] = {"validation": spec.data.validation, "validation_seed": spec.data.validation_seed}
    packs: dict[str, Pack] = {}
    teachers: dict[str, Path | None] = {}
    for dataset in spec.data.datasets:
        teacher_id = None
        if teacher is not None and teacher.source is not None:
            teacher_id, teachers[teacher.run_id] = teacher.run_id, teacher.source
        elif teacher is not None:  # trained here, before its students: one run of its own seed
            assert teacher.train is not None  # resolve() gives a teacher trained here its training
            first = Pack((Run(dataset, teacher.cfg, teacher.train, teacher.seed, *limits, **held),))
            packs.setdefault(first.pack_id, first)
            teacher_id, teachers[first.first.run_id] = first.first.run_id, None
        for cfg, train, budget in entries:
            train = train.model_copy(update={"teacher": teacher_id}) if teacher_id else train
            pack = Pack(tuple(Run(dataset, cfg, train, s, *limits, budget, order, **held) for s, order in seeds))
            packs.setdefault(pack.pack_id, pack)
    runs = [r for p in packs.values() for r in p.runs]
    return Plan(spec, runs, list(packs.values()), notes, teachers)

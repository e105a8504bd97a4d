"""A spec expanded into runs (one model trained once) and packs (all seeds of one configuration)."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from itermap.models import family
from itermap.study.errors import SpecError
from itermap.study.families import FROM_DATA, build, config_class, is_list_field
from itermap.study.matched import solve, template
from itermap.study.spec import Spec
from itermap.train import TrainConfig


def stable_id(obj: Any) -> str:
    """16 hex characters of the sha256 of `obj`'s canonical JSON."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Run:
    """One model trained once: data set (and subset), family config, training config, seed."""

    dataset: str
    cfg: BaseModel
    train: TrainConfig
    seed: int
    limit_train: int | None = None
    limit_test: int | None = None
    budget: int | None = None  # the parameter budget a matched design solved this config for

    @property
    def config(self) -> dict:
        """The canonical resolved config; its hash is the run id."""
        return {
            "dataset": self.dataset,
            "limit_train": self.limit_train,
            "limit_test": self.limit_test,
            "model": self.cfg.model_dump(mode="json"),
            "train": self.train.model_dump(mode="json"),
            "seed": self.seed,
        }

    @property
    def run_id(self) -> str:
        return stable_id(self.config)

    @property
    def params(self) -> int:
        return family(self.cfg).count_params(self.cfg)

    @property
    def flops(self) -> int:
        """Multiply-adds of one example's forward pass."""
        return family(self.cfg).flops(self.cfg)


@dataclass
class Pack:
    """Runs of one configuration that differ only in seed, trained together."""

    runs: list[Run] = field(default_factory=list)

    @property
    def first(self) -> Run:
        return self.runs[0]

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.runs]

    @property
    def pack_id(self) -> str:
        return stable_id({**self.first.config, "seed": None, "seeds": self.seeds})


@dataclass
class Plan:
    """The runs and packs of a spec, and notes on what a matched design had to leave out."""

    spec: Spec
    runs: list[Run]
    packs: list[Pack]
    notes: list[str]

    @property
    def plan_id(self) -> str:
        """Identity of the study: its name and the set of its run ids."""
        return stable_id({"study": self.spec.study.name, "runs": sorted(r.run_id for r in self.runs)})


def grid_configs(entry: dict[str, Any], where: str) -> list[BaseModel]:
    """The cartesian product of a [[grid]] table's list-valued keys (an MLP's `hidden` is a list of lists)."""
    cls = config_class(entry.get("family"), where)
    axes: dict[str, list] = {}
    for key, value in entry.items():
        if key == "family":
            axes[key] = [value]
        elif is_list_field(cls, key) and key not in FROM_DATA:
            if not isinstance(value, list) or not all(isinstance(v, list) for v in value):
                raise SpecError(f"{where}.{key}: give a list of lists, one per configuration, e.g. [[], [64], [64, 64]] (got {value!r})")
            axes[key] = value
        else:
            axes[key] = value if isinstance(value, list) else [value]
        if not axes[key]:
            raise SpecError(f"{where}.{key}: empty list; give at least one value")
    return [build(dict(zip(axes, combo)), where) for combo in itertools.product(*axes.values())]


def expand(spec: Spec) -> tuple[list[tuple[BaseModel, int | None]], list[str]]:
    """Every family config of the spec with the budget it was solved for (None for grids), and notes."""
    configs: list[tuple[BaseModel, int | None]] = []
    notes: list[str] = []
    for i, entry in enumerate(spec.grid):
        configs += [(cfg, None) for cfg in grid_configs(entry, f"grid[{i}]")]
    for i, matched in enumerate(spec.matched):
        for j, fields in enumerate(matched.families):
            make = template(fields, f"matched[{i}].families[{j}]")
            for budget in matched.budgets:
                found, note = solve(make, budget, matched.tolerance)
                configs += [(found.cfg, budget)] if found else []
                notes += [note] if note else []
    if not configs:
        raise SpecError("no runs: add a [[grid]] or [[matched]] table")
    return configs, notes


def make_plan(spec: Spec) -> Plan:
    """All runs of a spec (a config listed twice runs once), grouped into packs by data set and config."""
    configs, notes = expand(spec)
    train, seeds = spec.train.trainer_config(), spec.train.seed_list
    packs: dict[str, Pack] = {}
    for dataset in spec.data.datasets:
        for cfg, budget in configs:
            pack = Pack([Run(dataset, cfg, train, s, spec.data.limit_train, spec.data.limit_test, budget) for s in seeds])
            packs.setdefault(pack.pack_id, pack)
    runs = [r for p in packs.values() for r in p.runs]
    return Plan(spec, runs, list(packs.values()), notes)

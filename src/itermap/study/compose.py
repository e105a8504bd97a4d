"""Which runs train together: a plan's packs of one configuration, joined into wide packs where that pays.

A wide pack holds several widths of one shape (padded to the widest, `models.cover`) on several data sets of one
size (`trainer.PackTrainer`). A pack's step costs a fixed part F (Python, per-op dispatch, kernel launches: the same
for 1 member as for 100) and a part that grows with its members' padded size:

    t(pack) = F + c * sum_m macs(cover)

Joining packs A and B saves one F and costs their padding, c * (padding(A u B) - padding(A) - padding(B)), with
padding(P) = sum_m (macs(cover(P)) - macs(m)). So B joins A when that extra padding, in multiply-adds per example,
is below F / c: `FIXED_MACS` of the device. On the CPU F / c is 0 (benchmarks/throughput.py: a pack of 20 costs
what two of 10 do, docs/performance.md), so CPU plans keep one configuration per pack; on a GPU a small pack's
step is all launches, and whole families join.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable
from typing import Literal, get_args

from itermap.models import cover, family_of
from itermap.study.errors import StudyError
from itermap.study.plan import Pack, Plan, Run

Packing = Literal["auto", "configs", "wide"]  # by the cost model; one configuration per pack; join all that can
PACKINGS = get_args(Packing)
FIXED_MACS = {"cpu": 0.0, "cuda": 5e7}  # F / c: a step's fixed cost in multiply-adds per example (cuda: estimated)
MAX_MEMBERS = 400  # a wide pack's members at most: bounds its evaluation memory (M x 2,048 examples at once)


def padding(runs: list[Run]) -> int:
    """Multiply-adds per example that padding adds to these runs trained in one pack."""
    shape = cover([r.cfg for r in runs])
    wide = family_of(shape).macs(shape)
    return sum(wide - r.macs for r in runs)


def joinable(pack: Pack, width: int) -> Hashable:
    """Packs with equal keys can train as one: one shape up to width, one training, data sets of one size (and one
    validation split)."""
    run = pack.first
    shape = run.cfg.padded(width) or run.cfg
    split = run.validation, run.validation_seed
    return shape.model_dump_json(), run.train.model_dump_json(), run.limit_train, run.limit_test, run.sizes, split


def packed(plan: Plan, device: str, packing: Packing = "auto") -> Plan:
    """The plan with its packs joined by `packing` for `device` (teachers it trains stay alone: they train first)."""
    if packing not in PACKINGS:
        raise StudyError(f"--packing {packing!r}: allowed: {', '.join(PACKINGS)}")
    packs = compose(plan.packs, device, packing, frozenset(plan.teachers))
    return dataclasses.replace(plan, runs=[r for p in packs for r in p.runs], packs=packs)


def compose(
    packs: list[Pack], device: str, packing: Packing = "auto", alone: frozenset[str] = frozenset()
) -> list[Pack]:
    """`packs` of one configuration each, joined by `packing` for `device`; packs holding a run in `alone` stay as
    they are. Plan order: a wide pack stands where its first pack stood."""
    if packing == "configs":
        return packs
    fixed = float("inf") if packing == "wide" else FIXED_MACS["cuda" if device.startswith("cuda") else "cpu"]
    width = max(p.first.cfg.width for p in packs)
    groups: dict[Hashable, list[list[Run]]] = {}  # key -> the wide packs being filled, each its runs
    order: list[tuple[Hashable, int] | Pack] = []  # where each output pack stands
    for pack in packs:
        if alone & {r.run_id for r in pack.runs}:
            order.append(pack)
            continue
        key, runs = joinable(pack, width), list(pack.runs)
        filling = groups.setdefault(key, [])
        # The open pack this one pads least, if that pays: padding(A u B) - padding(A) - padding(B) < F / c.
        fits = [
            (padding(w + runs) - padding(w) - padding(runs), i)
            for i, w in enumerate(filling)
            if len(w) + len(runs) <= MAX_MEMBERS
        ]
        extra, best = min(fits, default=(fixed, -1))
        if extra < fixed:
            filling[best] += runs
            continue
        filling.append(runs)
        order.append((key, len(filling) - 1))
    return [item if isinstance(item, Pack) else Pack(tuple(groups[item[0]][item[1]])) for item in order]

"""Shards: the i-th of N disjoint parts of a plan, each trained into its own folder (`itermap run --shard i/N`).

Pack j of the plan (in plan order, 0-based) belongs to shard j mod N + 1: deterministic, disjoint, and every
shard gets packs from every part of the grid. A shard's folder is a study of its part alone, and records the
id of the whole plan, so `itermap merge` (study/merge.py) joins only shards of one plan.
"""

from __future__ import annotations

import re

from itermap.study.errors import StudyError
from itermap.study.plan import Plan, stable_id

WHOLE = "1/1"  # the shard of an unsharded run: the whole plan


def parse_shard(text: str) -> tuple[int, int]:
    """'i/N' -> (i, N), with 1 <= i <= N."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise StudyError(f"--shard {text}: give i/N with 1 <= i <= N, e.g. --shard 2/4 for the second of four parts")
    return int(match[1]), int(match[2])


def plan_id(plan: Plan) -> str:
    """The id of a whole plan: a hash of its packs' ids in order (the same runs, split the same way)."""
    return stable_id([p.pack_id for p in plan.packs])


def shard_of(plan: Plan, index: int, count: int) -> Plan:
    """Shard `index` of `count` (1-based): the plan's packs j with j mod count == index - 1.

    A teacher the study trains itself would be in one shard and its students in all: such a study is refused (its
    teacher can be trained first and named as a kept run); a kept teacher goes with every shard."""
    if count > 1 and None in plan.teachers.values():
        raise StudyError(
            f"--shard {index}/{count}: this study trains its own [teacher], which every shard's students "
            "need; train the teacher first, then name it in [teacher] as study = DIR, run = ID"
        )
    packs = plan.packs[index - 1 :: count]
    return Plan(plan.spec, [r for p in packs for r in p.runs], packs, plan.notes, plan.teachers)

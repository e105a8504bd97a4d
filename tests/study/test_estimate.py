"""A plan's cost: multiply-adds counted from the runs, wall time from per-pack seconds and the workers' schedule."""

from __future__ import annotations

import pytest

from itermap.models import MLPConfig, family_of
from itermap.study.compose import packed
from itermap.study.estimate import pack_bytes, pack_macs, wall_seconds, work
from itermap.study.plan import Pack, Plan, Run, make_plan
from itermap.study.spec import load_spec
from itermap.train import TrainConfig


def toy_plan(seconds: list[float], teachers: int = 0) -> tuple[Plan, dict[str, float]]:
    """Packs of one run each (the first `teachers` of them teachers) that take `seconds`."""
    packs = [Pack((Run("mnist", MLPConfig(hidden=[i + 1]), TrainConfig(), 0),)) for i in range(len(seconds))]
    plan = Plan(None, [p.first for p in packs], packs, [], {p.first.run_id: None for p in packs[:teachers]})  # type: ignore[arg-type]
    return plan, {p.pack_id: s for p, s in zip(packs, seconds)}


@pytest.mark.parametrize(
    ("seconds", "workers", "teachers", "wall"),
    [
        ([5, 3, 2, 2], 1, 0, 12),
        ([5, 3, 2, 2], 2, 0, 7),  # in plan order, each to the first free worker: 5 | 3 + 2 | then 5 + 2
        ([5, 3, 2, 2], 8, 0, 5),
        ([4, 1, 1], 2, 1, 5),  # the students wait for the teacher, though a worker is free
    ],
)
def test_wall_time_follows_the_workers_schedule(seconds, workers, teachers, wall):
    plan, times = toy_plan(seconds, teachers)
    assert wall_seconds(plan, times, workers) == wall


def test_a_wide_pack_counts_its_runs_and_pays_its_padding():
    plan = make_plan(load_spec("seed2020"))
    wide = packed(plan, "cpu", "wide")
    assert sum(map(pack_macs, wide.packs)) == pytest.approx(sum(map(pack_macs, plan.packs)), rel=1e-12)
    mlp1 = wide.packs[1]
    assert mlp1.cfg == MLPConfig(hidden=[64]) and len(mlp1.runs) == 100
    assert work(mlp1) == 100 * family_of(mlp1.cfg).macs(mlp1.cfg)  # every member at the widest shape
    assert pack_bytes(mlp1) == 4 * 100 * 50_890 * 4  # float32 weights, gradients and Adam's two moments

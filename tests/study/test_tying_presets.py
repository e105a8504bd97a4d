"""The tying presets plan what they say (the factorial core crossed, the sharing curve at one loss and one injection,
budgets matched within the tolerance, `tying` below seed2020's multiply-adds), and a tiny study of the same design
trained and analysed carries the sharing question's tables, verdicts and report tables."""

from __future__ import annotations

from collections import Counter

import pytest

import itermap
from itermap.report import sections
from itermap.study.estimate import pack_macs
from itermap.study.plan import make_plan
from itermap.study.spec import load_spec, parse

SEED2020_MACS = 4.6e14  # `itermap presets`: seed2020's training compute, the bound of one GPU call


def kind(run) -> tuple:
    """What a run is in the design: (scale, tied, blocks, schedule, relax, loss, inject)."""
    cfg = run.cfg
    scale = "width" if run.budget is None else run.budget
    between = cfg.blocks is not None
    return (scale, cfg.tied, cfg.block_count, cfg.schedule if between else "", cfg.relax, run.train.loss, cfg.inject)


def expected(budgets: list[int], depth: int = 8) -> Counter:
    """One run per data set and seed of: the core (tied/untied x loss x inject) at equal width; 2 and 4 blocks in
    both schedules and the tied net with rank 1, 4, 16 at equal width, last-step loss, image every step; and the
    whole curve, ends included, at each budget."""
    core = [("width", t, 1 if t else depth, "", 0, loss, inject)
            for t in (True, False) for loss in ("last", "every-step") for inject in ("every-step", "first")]  # fmt: skip
    curve = [(False, k, s, 0) for k in (2, 4) for s in ("cycle", "sequence")] + [(True, 1, "", r) for r in (1, 4, 16)]
    ends = [(True, 1, "", 0), (False, depth, "", 0)]
    rows = core + [("width", *p, "last", "every-step") for p in curve]
    rows += [(b, *p, "last", "every-step") for b in budgets for p in ends + curve]
    return Counter(rows)


@pytest.mark.parametrize(
    ("preset", "budgets", "width"), [("tying", [30000, 100000], 64), ("tying-quick", [30000, 100000], 32)]
)
def test_tying_presets_plan_the_core_crossed_and_the_curve_at_one_loss(preset, budgets, width):
    spec = load_spec(preset)
    plan = make_plan(spec)
    assert plan.notes == []  # no budget out of reach
    per = len(spec.data.datasets) * len(spec.train.seed_list)
    got = Counter(kind(r) for r in plan.runs)
    assert got == Counter({k: n * per for k, n in expected(budgets).items()})
    assert len(plan.runs) == 33 * per
    (matched,) = spec.matched
    for run in plan.runs:
        assert run.cfg.depth == 8
        if run.budget is None:
            assert run.cfg.hidden == width
        else:
            assert abs(run.param_count - run.budget) <= matched.tolerance * run.budget


def test_tying_fits_one_gpu_call():
    spec = load_spec("tying")
    plan = make_plan(spec)
    assert (len(spec.data.datasets), len(spec.train.seed_list)) == (2, 10)
    assert len(plan.runs) == 660
    assert sum(pack_macs(p) for p in plan.packs) < SEED2020_MACS


TINY = {
    "study": {"name": "tying-tiny"},
    "data": {"datasets": ["fashion-mnist-mini"], "limit_train": 300, "limit_test": 100},
    "train": {"epochs": 2, "batch_size": 50, "lr": 3e-3, "seeds": 2},
    "grid": [
        {
            "family": "unrolled",
            "hidden": 8,
            "depth": 4,
            "tied": [True, False],
            "train": {"loss": ["last", "every-step"]},
        },
        {"family": "unrolled", "hidden": 8, "depth": 4, "blocks": 2, "schedule": ["cycle", "sequence"]},
        {"family": "unrolled", "hidden": 8, "depth": 4, "tied": True, "relax": 2},
    ],
}


def test_a_tiny_tying_study_is_answered_by_the_sharing_question(tmp_path):
    itermap.run_study(parse(TINY, "test"), out=tmp_path / "tiny", device="cpu", quiet=True)
    an = itermap.analyze(tmp_path / "tiny")
    found = an.found["sharing"]
    assert set(found) == {"curve", "lead", "interaction", "trend", "dynamics", "rank"}  # no image-once cells
    assert list(found["curve"]["point"]) == [
        "tied",
        "tied + rank 2",
        "2 blocks (cycle)",
        "2 blocks (sequence)",
        "untied",
    ]
    assert set(found["lead"]["point"]) == {"tied + rank 2", "2 blocks (cycle)", "2 blocks (sequence)"}
    assert (found["lead"]["n"] == 2).all() and len(found["interaction"]) == 1
    said = an.answers["fashion-mnist-mini"]["sharing"]
    assert said[0].startswith("At equal width 8 (depth 4, last-step loss, image every step; 2 seeds)")
    assert said[1].startswith("Recurrence x supervision at equal width 8") and all(
        "descriptive only" in s for s in said
    )
    titles = [t for t, _ in sections.tables(an, "fashion-mnist-mini")]
    assert any(t.startswith("Sharing curve") for t in titles) and any(t.startswith("Recurrence x") for t in titles)
    assert [
        d.stem for s in sections.shown(an) if s.QUESTION == "sharing" for d in s.figures(an, "fashion-mnist-mini")
    ] == ["sharing", "past-depth"]

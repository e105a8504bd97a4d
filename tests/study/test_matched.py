"""Parameter-matched designs: every solved configuration lies within tolerance of its budget."""

from __future__ import annotations

import pytest

from itermap.models import family_of
from itermap.study.plan import make_plan
from itermap.study.spec import load_spec, parse

BASE = {"study": {"name": "m"}, "data": {"datasets": ["fashion-mnist-mini"]}, "train": {"seeds": 1}}


@pytest.mark.parametrize("tolerance", [0.01, 0.03, 0.1])
def test_solved_widths_within_tolerance(tolerance):
    families = [
        {"family": "mlp", "layers": 1},
        {"family": "mlp", "layers": 3},
        {"family": "rnn", "layers": 1, "window": 3},
        {"family": "rnn", "layers": 2, "window": 7},
    ]
    budgets = [300, 1000, 2500, 5000, 12000, 40000]
    plan = make_plan(
        parse({**BASE, "matched": [{"budgets": budgets, "families": families, "tolerance": tolerance}]}, "test")
    )
    assert plan.runs
    for run in plan.runs:
        assert run.param_count == family_of(run.cfg).count_params(run.cfg)
        assert abs(run.param_count - run.budget) <= tolerance * run.budget, (run.cfg.arch, run.param_count, run.budget)
    solved = {(run.cfg.family, run.budget) for run in plan.runs}
    left_out = len(families) * len(budgets) - len({(r.cfg.arch, r.budget) for r in plan.runs})
    assert len(plan.notes) == left_out  # every family x budget is either solved or explained
    assert ("rnn", 40000) in solved and ("mlp", 300) not in solved  # an MLP has >= 785 * width + ... parameters
    assert any("cannot reach 300 parameters" in n for n in plan.notes)


def test_width_is_nearest_integer():
    """No other width gets closer to the budget than the solved one."""
    plan = make_plan(
        parse({**BASE, "matched": [{"budgets": [5000], "families": [{"family": "rnn"}], "tolerance": 0.05}]}, "test")
    )
    (run,) = plan.runs
    fam = family_of(run.cfg)
    for width in (run.cfg.hidden - 1, run.cfg.hidden + 1):
        other = run.cfg.model_copy(update={"hidden": width})
        assert abs(fam.count_params(other) - 5000) >= abs(run.param_count - 5000)


def test_matched_preset():
    plan = make_plan(load_spec("matched"))
    assert {r.dataset for r in plan.runs} == {"mnist", "fashion-mnist"} and {len(p.runs) for p in plan.packs} == {10}
    assert all(abs(r.param_count - r.budget) <= 0.03 * r.budget for r in plan.runs)
    assert any("mlp-1 cannot reach 500 parameters" in n for n in plan.notes)

"""The windows presets: every window and axis at every budget, counts by a hand formula, within the tolerance."""

from __future__ import annotations

import pytest

from itermap.study.plan import make_plan
from itermap.study.spec import load_spec

WINDOWS = [1, 2, 3, 4, 7, 14, 28]


@pytest.mark.parametrize("preset", ["windows", "windows-quick"])
def test_windows_preset_counts_by_hand_within_tolerance(preset):
    spec = load_spec(preset)
    plan = make_plan(spec)
    (matched,) = spec.matched
    assert plan.notes == []  # no window or budget left out
    seen = set()
    for run in plan.runs:
        cfg, h = run.cfg, run.cfg.width
        if cfg.family == "rnn":
            # W_ih [h, 28 w], W_hh [h, h], b_ih and b_hh, then the readout [10, h] and its bias.
            assert run.param_count == h * (28 * cfg.window + h + 2) + 10 * (h + 1)
            assert cfg.window_count == 28 // cfg.window and cfg.layers == 1
            seen.add((run.budget, cfg.axis, cfg.window))
        else:
            assert (cfg.family, cfg.hidden) == ("mlp", [h]) and run.param_count == 795 * h + 10
            seen.add((run.budget, "mlp", 0))
        assert abs(run.param_count - run.budget) <= matched.tolerance * run.budget
    axes = [(a, w) for a in ("columns", "rows") for w in WINDOWS] + [("mlp", 0)]
    assert seen == {(b, a, w) for b in matched.budgets for a, w in axes}
    assert len(plan.runs) == len(seen) * len(spec.data.datasets) * len(spec.train.seed_list)

"""The budgets question's power: each comparison row's minimum detectable effect, and the no-difference verdict that
says what the seeds could have detected (analysis/budgets.py `with_power`)."""

from __future__ import annotations

import numpy as np
import pytest

from itermap.analysis.budgets import with_power
from itermap.analysis.compare import compare_curves
from itermap.analysis.paired import adjust
from itermap.analysis.power import min_detectable_effect, seeds_needed
from itermap.analysis.verdict import curve_verdict

from .test_statistics import simulated


def compared(paired: bool, seeds: int = 8):
    finals = simulated(np.random.default_rng(7), 0.0, 0.01, seeds=seeds, paired=paired)
    cmp = compare_curves(finals, "toy", "rnn-1", "mlp-1", resamples=1000).assign(headline=True)
    return finals, with_power(adjust(cmp, ["dataset", "a", "b", "at"]))


def test_paired_rows_carry_the_gap_their_seeds_detect():
    """At the budgets both groups measured, the per-seed differences are plain: their sd, recomputed with NumPy,
    gives the row's `sd_diff`, and its minimum detectable effect at alpha / family size the row's `mde`."""
    finals, cmp = compared(paired=True)
    for x in (1000, 8000):
        a, b = (
            finals[(finals["group"] == g) & (finals["params"] == x)].sort_values("seed") for g in ("rnn-1", "mlp-1")
        )
        sd = np.std(a["test_accuracy"].to_numpy() - b["test_accuracy"].to_numpy(), ddof=1)
        row = cmp[cmp["x"] == x].iloc[0]
        assert row["sd_diff"] == pytest.approx(sd, rel=1e-12)
        assert row["mde"] == pytest.approx(min_detectable_effect(sd, 8, alpha=0.05 / row["family_size"]), rel=1e-9)
    verdict = curve_verdict(cmp)
    assert verdict.startswith("No clear difference between RNN-1 and MLP-1")
    low, high = 100 * cmp["mde"].min(), 100 * cmp["mde"].max()
    assert f"these 8 seeds detect a true gap of {low:.1f} to {high:.1f} points 80% of the time" in verdict


def test_unpaired_rows_claim_no_power():
    _, cmp = compared(paired=False)
    assert cmp["mde"].isna().all() and "detect a true gap" not in curve_verdict(cmp)


def test_a_declared_effect_gets_the_seeds_that_detect_it():
    """`[[compare]] effect = 2` (points): each paired row's seeds_for_effect is seeds_needed at its own spread, and
    the no-difference verdict names the most any budget needs."""
    finals, cmp = compared(paired=True)
    cmp = with_power(cmp.drop(columns=["mde", "seeds_for_effect"]).assign(effect=2.0))
    for r in cmp.itertuples():
        assert r.seeds_for_effect == seeds_needed(0.02, r.sd_diff, alpha=0.05 / r.family_size)
    most = int(cmp["seeds_for_effect"].max())
    assert f"the declared gap of 2 points needs {most} seeds to be detected so" in curve_verdict(cmp)

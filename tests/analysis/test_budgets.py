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


def test_probability_of_improvement_at_each_budget_by_hand():
    """P(A beats B) at a budget both groups measured: the share of all (A seed, B seed) pairs where A's accuracy is
    higher, ties half, counted with two loops."""
    finals, cmp = compared(paired=True)
    a, b = (
        finals[(finals["group"] == g) & (finals["params"] == 8000)]["test_accuracy"].tolist()
        for g in ("rnn-1", "mlp-1")
    )
    wins = sum((x > y) + 0.5 * (x == y) for x in a for y in b) / (len(a) * len(b))
    row = cmp[cmp["x"] == 8000].iloc[0]
    assert row["prob_improvement"] == pytest.approx(wins, abs=1e-12)
    assert row["poi_low"] <= row["prob_improvement"] <= row["poi_high"]
    assert f"with probability {cmp.loc[cmp['diff'].abs().idxmax(), 'prob_improvement']:.2f}" in curve_verdict(cmp)


def test_a_declared_margin_is_two_one_sided_tests_at_every_budget():
    """With a margin, `p_tost` is the largest over the budgets of the two one-sided paired t tests' p (recomputed with
    scipy on the per-seed values at the budgets both measured, and at the interpolated ones by the same curve), and
    it is Holm-adjusted together with the pair's difference test. A generous margin is claimed, a tight one is not."""
    from scipy import stats

    from itermap.analysis.curves import interpolate
    from itermap.analysis.paired import holm

    finals = simulated(np.random.default_rng(7), 0.0, 0.01, seeds=8, paired=True)
    margin = 0.03
    cmp = compare_curves(finals, "toy", "rnn-1", "mlp-1", resamples=1000, margin=margin).assign(headline=True)
    per_seed = {}
    for g in ("rnn-1", "mlp-1"):
        rows = finals[finals["group"] == g].sort_values(["params", "seed"])
        sizes = np.unique(rows["params"])
        values = rows["test_accuracy"].to_numpy().reshape(len(sizes), -1)
        per_seed[g] = interpolate(sizes, values, cmp["x"].to_numpy(float))
    ps = [
        max(
            stats.ttest_rel(a + margin, b, alternative="greater").pvalue,
            stats.ttest_rel(a - margin, b, alternative="less").pvalue,
        )
        for a, b in zip(per_seed["rnn-1"], per_seed["mlp-1"])
    ]
    assert cmp["p_tost"].iloc[0] == pytest.approx(max(ps), rel=1e-9)
    held = with_power(adjust(cmp, ["dataset", "a", "b", "at"], also=("p_tost",)))
    assert held["family_size"].iloc[0] == 2
    assert held["p_tost_holm"].iloc[0] == pytest.approx(holm(np.array([cmp["p"].iloc[0], max(ps)]))[1], rel=1e-12)
    assert "equivalent within 3 points at every budget (two one-sided tests" in curve_verdict(held)
    tight = compare_curves(finals, "toy", "rnn-1", "mlp-1", resamples=1000, margin=0.001).assign(headline=True)
    said = curve_verdict(with_power(adjust(tight, ["dataset", "a", "b", "at"], also=("p_tost",))))
    assert "not shown equivalent within 0.1 points" in said


def test_interpolation_across_a_wide_gap_is_said_with_a_second_interpolant():
    """B is measured at 1,000, 3,000 and 8,000: at A's 2,000 B's value is interpolated between sizes 3x apart, at
    4,000 between 2.67x. The gap ratios, and how far linear interpolation in log size moves the difference, are
    recomputed with numpy.interp; the verdict says so."""
    finals, cmp = compared(paired=True)
    rows = cmp.set_index("x")
    assert rows.loc[2000, "b_gap"] == pytest.approx(3.0) and rows.loc[4000, "b_gap"] == pytest.approx(8 / 3)
    assert rows.loc[3000, "a_gap"] == pytest.approx(2.0) and rows.loc[1000, "a_gap"] == rows.loc[1000, "b_gap"] == 1
    means = {g: finals[finals["group"] == g].groupby("params")["test_accuracy"].mean() for g in ("rnn-1", "mlp-1")}
    linear = {g: np.interp(np.log10(rows.index), np.log10(m.index), m.to_numpy()) for g, m in means.items()}
    assert np.allclose(
        rows["interpolant_spread"], np.abs(rows["diff"] - (linear["rnn-1"] - linear["mlp-1"])), atol=1e-12
    )
    wide = rows[rows[["a_gap", "b_gap"]].max(axis=1) > 2]
    assert f"at {len(wide)} of 5 budgets a curve is interpolated across a gap of up to 3.0x" in curve_verdict(cmp)


def test_matched_budgets_carry_their_power_and_the_seeds_a_declared_gap_needs():
    """At each matched budget: `sd_diff` is the sd of the paired differences (numpy), `mde` the paired t test's
    minimum detectable effect at alpha / family size, `seeds_for_effect` the seeds that detect the declared gap."""
    import pandas as pd

    from itermap.analysis.compare import compare_matched

    rng, rows = np.random.default_rng(3), []
    for budget in (1000, 4000):
        shared = rng.normal(0, 0.02, 8)  # what a seed's data order does to both groups alike
        for group, shift in (("rnn-1", 0.01), ("mlp-1", 0.0)):
            acc = 0.8 + shift + shared + rng.normal(0, 0.01, 8)
            rows += [dict(dataset="toy", group=group, params=budget, budget=budget, seed=s, test_accuracy=a)
                     for s, a in enumerate(acc)]  # fmt: skip
    finals = pd.DataFrame(rows)
    cmp = compare_matched(finals, "toy", "rnn-1", "mlp-1").assign(headline=True, effect=0.5)
    cmp = with_power(adjust(cmp, ["dataset", "a", "b", "budget"]))
    for r in cmp.itertuples():
        a, b = (
            finals[(finals["group"] == g) & (finals["budget"] == r.budget)]["test_accuracy"].to_numpy()
            for g in ("rnn-1", "mlp-1")
        )
        sd = np.std(a - b, ddof=1)
        assert r.sd_diff == pytest.approx(sd, rel=1e-12) and r.family_size == 2
        assert r.mde == pytest.approx(min_detectable_effect(sd, 8, alpha=0.05 / 2), rel=1e-9)
        assert r.seeds_for_effect == seeds_needed(0.005, sd, alpha=0.05 / 2)

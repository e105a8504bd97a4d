"""The statistics on constructed data whose true answers are known, and their coverage and calibration by simulation.

Every simulation is seeded; the numbers they measure are quoted in docs/statistics.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from itermap.analysis import compare_curves, compare_matched, final_metrics, holm, mean_ci, probability_of_improvement
from itermap.analysis.aggregate import summarize
from itermap.analysis.band import max_t_band
from itermap.analysis.convergence import convergence, late_slope
from itermap.analysis.curves import interpolate, params_to_reach
from itermap.analysis.intervals import iqm, rate_ci, spread
from itermap.analysis.paired import adjust, adjust_within, difference_ci
from itermap.analysis.verdict import curve_verdict

A_PARAMS, B_PARAMS = (1000, 2000, 4000, 8000), (1500, 3000, 6000, 12000)
KEYS = ["dataset", "a", "b", "at"]


def linear_in_log(shift: float):
    """True accuracy 0.5 + 0.1 log10(params), raised by `shift` for group rnn-1."""
    return lambda group, params: 0.5 + 0.1 * np.log10(params) + (shift if group == "rnn-1" else 0.0)


def two_groups(make_results, shift: float, rng_seed: int, **kw) -> pd.DataFrame:
    configs = [("rnn-1", p) for p in A_PARAMS] + [("mlp-1", p) for p in B_PARAMS]
    return make_results(configs, linear_in_log(shift), rng_seed=rng_seed, **kw)


# ---- per configuration -----------------------------------------------------------------------------------------


def test_mean_ci_is_the_t_interval():
    x = np.array([0.81, 0.84, 0.80, 0.86, 0.83])
    half = stats.t.ppf(0.975, 4) * x.std(ddof=1) / np.sqrt(5)
    assert mean_ci(x) == pytest.approx((x.mean() - half, x.mean() + half))
    assert mean_ci(x, level=0.9)[1] < mean_ci(x)[1]
    assert np.isnan(mean_ci(x[:1])).all() and mean_ci(np.array([0.5, 0.5])) == (0.5, 0.5)
    assert spread(x) == (*mean_ci(x), "ci") and spread(x[:4]) == (0.80, 0.86, "range")


@pytest.mark.parametrize(
    "draw, n, floor",
    [
        (lambda rng, size: rng.normal(0.8, 0.02, size), 3, 0.93),
        (lambda rng, size: rng.normal(0.8, 0.02, size), 10, 0.93),
        (lambda rng, size: 0.8 + rng.gamma(2.0, 0.01, size) - 0.02, 10, 0.90),  # skewness 1.4
    ],
    ids=["normal-3", "normal-10", "gamma-10"],
)
def test_mean_ci_coverage(draw, n, floor):
    """Issue 14, test 1: 4,000 samples, true mean 0.8; the 95% t interval covers it in 94.9% (normal, 3), 94.9%
    (normal, 10) and 92.8% (gamma of shape 2, skewness 1.4, 10) of them. The exponential (skewness 2) gives 89.6% at 10
    seeds with this seed: the t interval's known weakness under strong skew (docs/statistics.md)."""
    rng, truth = np.random.default_rng(14), 0.8
    ends = np.array([mean_ci(draw(rng, n)) for _ in range(4000)])
    covered = np.mean((ends[:, 0] <= truth) & (truth <= ends[:, 1]))
    assert floor <= covered <= 0.97, covered


def test_iqm_rate_and_difference_intervals():
    x = np.array([1.0, 2.0, 3.0, 4.0, 100.0, 5.0, 6.0, 7.0])
    assert iqm(x) == pytest.approx(np.mean(np.sort(x)[2:6]))
    assert rate_ci(1, 10) == pytest.approx(tuple(stats.binomtest(1, 10).proportion_ci(method="exact")))
    a, b = np.array([0.80, 0.82, 0.85, 0.81, 0.84]), np.array([0.78, 0.80, 0.81, 0.80, 0.83])
    d = a - b
    half = stats.t.ppf(0.975, 4) * d.std(ddof=1) / np.sqrt(5)
    low, high, p = difference_ci(a, b, paired=True)
    assert (low, high) == pytest.approx((d.mean() - half, d.mean() + half)) and p == pytest.approx(
        stats.ttest_1samp(d, 0).pvalue
    )
    va, vb = a.var(ddof=1) / 5, b.var(ddof=1) / 5
    df = (va + vb) ** 2 / (va**2 / 4 + vb**2 / 4)  # Welch-Satterthwaite
    half = stats.t.ppf(0.975, df) * np.sqrt(va + vb)
    assert difference_ci(a, b, paired=False)[:2] == pytest.approx((d.mean() - half, d.mean() + half))


def test_final_metrics_take_the_last_epoch_and_only_finished_runs(make_results):
    status = {("rnn-1", 1000, 0): "diverged", ("rnn-1", 1000, 1): "pending", ("rnn-1", 1000, 2): "running"}
    df = two_groups(make_results, 0.0, 0, epochs=3, status=status)
    finals = final_metrics(df)
    assert len(finals) == 8 * 10 - 3
    last = df[(df["epoch"] == 3) & (df["split"] == "test") & (df["metric"] == "accuracy") & (df["status"] == "done")]
    assert np.allclose(finals.set_index("run_id").loc[last["run_id"], "test_accuracy"], last["value"])
    row = summarize(df).set_index("arch").loc["rnn-1x1000"]
    assert (row["done"], row["diverged"], row["missing"], row["planned"]) == (7, 1, 2, 10)
    values = finals.loc[finals["arch"] == "rnn-1x1000", "test_accuracy"]
    assert row["test_accuracy_mean"] == pytest.approx(values.mean())
    assert row["test_accuracy_std"] == pytest.approx(values.std(ddof=1))
    assert (row["test_accuracy_ci_low"], row["test_accuracy_ci_high"]) == pytest.approx(mean_ci(values))
    assert row["test_accuracy_iqm"] == pytest.approx(stats.trim_mean(values, 0.25))
    assert row["test_efficiency"] == pytest.approx(values.mean() / 1000)
    assert row["test_accuracy_per_log10_param"] == pytest.approx(values.mean() / 3)
    assert row["diverged_rate"] == pytest.approx(1 / 8)
    assert (row["diverged_low"], row["diverged_high"]) == pytest.approx(rate_ci(1, 8))
    assert row["test_accuracy_mean_at_chance"] == pytest.approx((values.sum() + 0.1) / 8)


# ---- convergence -----------------------------------------------------------------------------------------------


def test_late_slope_and_the_improving_flag(make_results):
    epochs = np.arange(1.0, 21.0)
    assert late_slope(epochs, 0.5 + 0.01 * epochs + 0.2 * (epochs < 10)) == pytest.approx(0.01)  # last fifth only
    assert late_slope(np.array([1.0, 2.0]), np.array([0.3, 0.5])) == pytest.approx(0.2)
    df = two_groups(make_results, 0.0, 0, epochs=10, seeds=5)  # test accuracy rises 0.1 per epoch to the end
    flat = df["arch"].eq("mlp-1x1500") & df["split"].eq("test")
    df.loc[flat, "value"] = df.loc[flat].groupby("run_id")["value"].transform("last")
    conv = convergence(df).set_index("arch")
    assert conv.loc["rnn-1x1000", "slope"] == pytest.approx(0.1) and conv.loc["rnn-1x1000", "improving"]
    assert conv.loc["mlp-1x1500", "slope"] == pytest.approx(0.0) and not conv.loc["mlp-1x1500", "improving"]
    assert (conv["epochs"] == 10).all() and (conv["seeds"] == 5).all() and (conv["interval"] == "ci").all()


# ---- the simultaneous band -------------------------------------------------------------------------------------


def test_band_at_one_budget_is_close_to_the_t_interval():
    """One budget: the max-|t| band of a resampled mean is the t interval, up to the bootstrap's own noise."""
    x = np.random.default_rng(3).normal(0.8, 0.02, 10)
    draws = x[np.random.default_rng(4).integers(0, 10, (20000, 10))].mean(axis=1)
    low, high, p = max_t_band(np.array([x.mean()]), draws[None, :], 10, 0.95, np.random.default_rng(5))
    want = mean_ci(x)
    assert (high[0] - low[0]) == pytest.approx(want[1] - want[0], rel=0.05)
    assert p == pytest.approx(stats.ttest_1samp(x, 0).pvalue, abs=1e-3)  # far from zero: p ~ 0


def test_curve_band_covers_a_known_difference_simultaneously(make_results):
    """A is B shifted up by 3 points everywhere: over 40 replications the band covers +3 points at every budget."""
    covered, flagged = [], []
    for rep in range(40):
        cmp = compare_curves(final_metrics(two_groups(make_results, 0.03, rep)), "toy", "rnn-1", "mlp-1")
        covered.append(((cmp["low"] <= 0.03) & (0.03 <= cmp["high"])).all())
        flagged += list(cmp["excludes_zero"])
    assert len(cmp) == 6 and list(cmp["x"]) == [1500, 2000, 3000, 4000, 6000, 8000]
    assert set(cmp["design"]) == {"paired"} and set(cmp["seeds"]) == {10} and set(cmp["interval"]) == {"band"}
    assert np.mean(covered) >= 0.9  # nominal 95% simultaneous
    assert all(flagged)


def simulated(rng: np.random.Generator, shift: float, noise: float, seeds: int = 10, paired: bool = True):
    """Final accuracies of A at 1,000/2,000/4,000/8,000 and B at 1,000/3,000/8,000 parameters (five shared budgets)."""
    frames = []
    for group, sizes, offset in (("rnn-1", (1000, 2000, 4000, 8000), shift), ("mlp-1", (1000, 3000, 8000), 0.0)):
        params = np.repeat(sizes, seeds)
        seed = np.tile(np.arange(seeds) + (100 * (group == "mlp-1") if not paired else 0), len(sizes))
        acc = 0.5 + 0.1 * np.log10(params) + offset + rng.normal(0, noise, len(params))
        frames.append(
            pd.DataFrame({"group": group, "params": params, "macs": params, "seed": seed, "test_accuracy": acc})
        )
    return pd.concat(frames, ignore_index=True).assign(dataset="toy")


def verdicts(shift: float, noise: float, studies: int, paired: bool) -> list[str]:
    """The headline verdict of each simulated study (1,000 resamples each, the same code as the report's 9,999)."""
    rng, out = np.random.default_rng(2014), []
    for _ in range(studies):
        cmp = compare_curves(simulated(rng, shift, noise, paired=paired), "toy", "rnn-1", "mlp-1", resamples=1000)
        assert len(cmp) == 5
        holm = {"family_size": 1, "p_holm": cmp["p"], "significant": cmp["p"] < 0.05}  # Holm of one test
        out.append(curve_verdict(cmp.assign(headline=True, **holm)))
    return out


@pytest.mark.parametrize("paired", [True, False], ids=["paired", "independent"])
def test_null_calibration(paired):
    """Issue 14, test 2: identical true curves, five budgets, 10 seeds, 1-point spread, 500 studies: at most 7% of
    verdicts claim a difference (measured: 6.0% of 500 paired, 4.0% of 250 independent)."""
    said = verdicts(0.0, 0.01, 500 if paired else 250, paired)
    claims = np.mean([not v.startswith("No clear difference") for v in said])
    assert claims <= 0.07, claims
    assert all("10 seeds" in v for v in said)


def test_power():
    """Issue 14, test 3: a true +3-point gap at every budget, 10 seeds, a 1.5-point spread between seeds (more than the
    report studies show): A is said ahead in at least 80% of 200 studies (measured: 100%), B never."""
    said = verdicts(0.03, 0.015, 200, True)
    assert np.mean([v.startswith("RNN-1 ahead of MLP-1") for v in said]) >= 0.8
    assert not any("MLP-1 ahead" in v for v in said)


# ---- curves and the multiplier ---------------------------------------------------------------------------------


def test_interpolation_is_exact_on_known_points_and_monotone_between():
    params, values = np.array([200, 1000, 5000, 20000]), np.array([0.3, 0.6, 0.62, 0.9])
    assert np.array_equal(interpolate(params, values, params), values)
    dense = interpolate(params, values, np.geomspace(200, 20000, 500))
    assert np.all(np.diff(dense) >= -1e-12) and dense.min() >= 0.3 and dense.max() <= 0.9
    line = interpolate(params, 0.1 * np.log10(params), np.array([300.0, 4321.0]))
    assert np.allclose(line, 0.1 * np.log10([300.0, 4321.0]))  # PCHIP reproduces straight lines in log params
    assert np.isnan(interpolate(params, values, np.array([100.0, 30000.0]))).all()


def test_multiplier_on_a_power_law():
    """B's error falls as a power law; A at p equals B at 3p, so B needs 3x the parameters."""
    k, params = 3.0, np.geomspace(500, 64000, 15)
    error_b = lambda p: 0.9 * p**-0.3  # noqa: E731
    for p in (1000.0, 4000.0, 10000.0):
        reached, bound = params_to_reach(params, 1 - error_b(params), 1 - error_b(k * p))
        assert bound == "" and reached / p == pytest.approx(k, rel=2e-3)
    exact, _ = params_to_reach(params, np.log10(params), np.log10(k * 2000))
    assert exact / 2000 == pytest.approx(k, rel=1e-9)
    assert params_to_reach(params, 1 - error_b(params), 0.99) == (64000.0, ">")
    assert params_to_reach(params, 1 - error_b(params), 0.5) == (500.0, "<")


@pytest.mark.parametrize("target", [0.7, 0.7 - 1e-9, 0.7 - 1e-12, 0.65])
def test_target_at_an_interior_maximum_is_reached(target):
    """Issue 14, test 4: values [0.5, 0.7, 0.6] peak at the middle point; a target at or just under the peak is reached
    at (or just before) it, never an exception."""
    params = np.array([1000.0, 2000.0, 4000.0])
    reached, bound = params_to_reach(params, np.array([0.5, 0.7, 0.6]), target)
    assert bound == "" and 1000 < reached <= 2000 * (1 + 1e-9)
    assert reached == pytest.approx(2000, rel=1e-3) or target == 0.65


def test_multiplier_in_a_comparison(make_results):
    """Noise-free A = B shifted by log10(2)/10: B needs exactly 2x the parameters wherever A's target is in range."""
    df = two_groups(make_results, 0.1 * np.log10(2), 0, noise=0.0)
    cmp = compare_curves(final_metrics(df), "toy", "rnn-1", "mlp-1").set_index("x")
    assert cmp.loc[[1500, 2000, 3000, 4000, 6000], "multiplier"].to_numpy() == pytest.approx(2.0, rel=1e-6)
    assert cmp.loc[[1500, 2000, 3000, 4000, 6000], "multiplier_low"].to_numpy() == pytest.approx(2.0, rel=1e-4)
    assert cmp.loc[8000, "multiplier_bound"] == ">" and cmp.loc[8000, "multiplier_high_bound"] == ">"
    assert (cmp["low"] == cmp["high"]).all()


def test_multiplier_interval_surrounds_its_estimate(make_results):
    cmp = compare_curves(final_metrics(two_groups(make_results, 0.1 * np.log10(2), 1)), "toy", "rnn-1", "mlp-1")
    inside = cmp[cmp["multiplier_bound"] == ""]
    assert len(inside) >= 4
    assert (
        (inside["multiplier_low"] <= inside["multiplier"]) & (inside["multiplier"] <= inside["multiplier_high"])
    ).all()
    assert inside["multiplier_low"].between(1.2, 2.0).all() and (inside["multiplier_high"] >= 2.0).all()


# ---- matched budgets and multiplicity --------------------------------------------------------------------------


def test_holm_against_a_hand_computation():
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005=0.02, 3*0.01=0.03, 2*0.03=0.06, max(1*0.04, 0.06)=0.06
    assert holm(np.array([0.01, 0.04, 0.03, 0.005])) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm(np.array([0.5, 0.9])) == pytest.approx([1.0, 1.0])


def test_probability_of_improvement():
    assert probability_of_improvement([3, 4], [1, 2]) == 1.0
    assert probability_of_improvement([1, 2], [3, 4]) == 0.0
    assert probability_of_improvement([1, 3], [2, 2]) == 0.5
    assert probability_of_improvement([2], [2]) == 0.5


def test_matched_paired_and_welch(make_results):
    """5 shared seeds: paired t interval and p; with disjoint seeds, Welch's; P(improvement) with its bootstrap."""
    budgets = {("rnn-1", 1000): 1000, ("mlp-1", 1010): 1000, ("rnn-1", 4000): 4000, ("mlp-1", 3950): 4000}
    far = make_results(list(budgets), linear_in_log(0.05), seeds=5, noise=0.01, budgets=budgets)
    finals = final_metrics(far)
    table = compare_matched(finals, "toy", "rnn-1", "mlp-1")
    assert list(table["budget"]) == [1000, 4000] and set(table["design"]) == {"paired"}
    for row in table.itertuples():
        runs = finals[finals["budget"] == row.budget].sort_values("seed")
        x, y = (runs.loc[runs["group"] == g, "test_accuracy"].to_numpy() for g in ("rnn-1", "mlp-1"))
        res = stats.ttest_rel(x, y)
        assert (row.low, row.high, row.p) == pytest.approx((*res.confidence_interval(), res.pvalue))
        assert row.poi_low <= row.prob_improvement <= row.poi_high
    finals.loc[finals["group"] == "mlp-1", "seed"] += 100
    welch = compare_matched(finals, "toy", "rnn-1", "mlp-1")
    assert set(welch["design"]) == {"independent"}
    runs = finals[finals["budget"] == 1000]
    x, y = (runs.loc[runs["group"] == g, "test_accuracy"].to_numpy() for g in ("rnn-1", "mlp-1"))
    assert welch["p"].iloc[0] == pytest.approx(stats.ttest_ind(x, y, equal_var=False).pvalue)


def test_holm_runs_within_headline_and_exploratory_families():
    table = pd.DataFrame(
        {
            "dataset": ["d1", "d1", "d2", "d1"],
            "a": ["r", "r", "r", "s"],
            "b": ["m"] * 4,
            "at": ["params", "params", "params", "params"],
            "x": [1, 2, 1, 1],
            "headline": [True, True, True, False],
            "p": [0.01, 0.01, 0.03, 0.02],
        }
    )
    out = adjust(table, KEYS)
    assert list(out["p_holm"]) == pytest.approx([0.02, 0.02, 0.03, 0.02])
    assert list(out["family_size"]) == [2, 2, 2, 1] and out["significant"].all()


def test_holm_within_counts_untested_rows_as_p_one():
    table = pd.DataFrame({"dataset": ["d1", "d1", "d2", "d2"], "p": [0.01, np.nan, 0.02, 0.04]})
    assert list(adjust_within(table.copy())["p_holm"]) == pytest.approx([0.04, 1.0, 0.06, 0.08])
    assert list(adjust_within(table, "dataset")["p_holm"]) == pytest.approx([0.02, 1.0, 0.04, 0.04])

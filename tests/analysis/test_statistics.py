"""The statistics on constructed data whose true answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from itermap.analysis import analyze, compare_curves, compare_matched, final_metrics, holm, probability_of_improvement
from itermap.analysis.aggregate import summarize
from itermap.analysis.curves import interpolate, params_to_reach
from itermap.study.spec import CompareSection

A_PARAMS, B_PARAMS = (1000, 2000, 4000, 8000), (1500, 3000, 6000, 12000)


def linear_in_log(shift: float):
    """True accuracy 0.5 + 0.1 log10(params), raised by `shift` for group rnn-1."""
    return lambda group, params: 0.5 + 0.1 * np.log10(params) + (shift if group == "rnn-1" else 0.0)


def two_groups(make_results, shift: float, rng_seed: int, **kw) -> pd.DataFrame:
    configs = [("rnn-1", p) for p in A_PARAMS] + [("mlp-1", p) for p in B_PARAMS]
    return make_results(configs, linear_in_log(shift), rng_seed=rng_seed, **kw)


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
    assert row["test_accuracy_ci_low"] < row["test_accuracy_mean"] < row["test_accuracy_ci_high"]
    assert row["test_efficiency"] == pytest.approx(values.mean() / 1000)
    assert row["test_accuracy_per_log10_param"] == pytest.approx(values.mean() / 3)


def test_curve_ci_covers_a_known_difference_and_flags_it(make_results):
    """A is B shifted up by 3 points everywhere: over 40 noisy replications the CI covers +3 points at most budgets."""
    covered, flagged = [], []
    for rep in range(40):
        cmp = compare_curves(final_metrics(two_groups(make_results, 0.03, rep)), "toy", "rnn-1", "mlp-1")
        covered += list((cmp["ci_low"] <= 0.03) & (0.03 <= cmp["ci_high"]))
        flagged += list(cmp["excludes_zero"])
    assert len(cmp) == 6 and list(cmp["x"]) == [1500, 2000, 3000, 4000, 6000, 8000]
    assert np.mean(covered) >= 0.85  # nominal 95%; the percentile bootstrap runs a little narrow with 10 seeds
    assert all(flagged)


def test_zero_difference_is_not_flagged(make_results):
    """Over 40 replications with no true difference, few budgets are flagged, and an unflagged one reads as no difference."""
    flagged = []
    for rep in range(40):
        cmp = compare_curves(final_metrics(two_groups(make_results, 0.0, rep)), "toy", "rnn-1", "mlp-1")
        flagged.append(cmp["excludes_zero"].to_numpy())
    assert np.mean(flagged) <= 0.15
    clean = next(rep for rep, f in enumerate(flagged) if not f.any())
    verdict = analyze(two_groups(make_results, 0.0, clean), compare=[CompareSection(a="rnn-1", b="mlp-1")]).verdicts[
        "toy"
    ][0]
    assert verdict.startswith("No clear difference between RNN-1 and MLP-1 from 1,500 to 8,000 parameters")


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


def test_multiplier_in_a_comparison(make_results):
    """Noise-free A = B shifted by log10(2)/10: B needs exactly 2x the parameters wherever A's target is in range."""
    df = two_groups(make_results, 0.1 * np.log10(2), 0, noise=0.0)
    cmp = compare_curves(final_metrics(df), "toy", "rnn-1", "mlp-1").set_index("x")
    assert cmp.loc[[1500, 2000, 3000, 4000, 6000], "multiplier"].to_numpy() == pytest.approx(2.0, rel=1e-6)
    assert cmp.loc[8000, "multiplier_bound"] == ">"
    assert (cmp["ci_low"] == cmp["ci_high"]).all()


def test_holm_against_a_hand_computation():
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005=0.02, 3*0.01=0.03, 2*0.03=0.06, max(1*0.04, 0.06)=0.06
    assert holm(np.array([0.01, 0.04, 0.03, 0.005])) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm(np.array([0.5, 0.9])) == pytest.approx([1.0, 1.0])


def test_probability_of_improvement():
    assert probability_of_improvement([3, 4], [1, 2]) == 1.0
    assert probability_of_improvement([1, 2], [3, 4]) == 0.0
    assert probability_of_improvement([1, 3], [2, 2]) == 0.5
    assert probability_of_improvement([2], [2]) == 0.5


def test_matched_permutation_p_values(make_results):
    """5 seeds each: separated groups reach the exact minimum two-sided p = 2 / C(10, 5); equal groups do not."""
    budgets = {("rnn-1", 1000): 1000, ("mlp-1", 1010): 1000, ("rnn-1", 4000): 4000, ("mlp-1", 3950): 4000}
    configs = list(budgets)
    far = make_results(configs, linear_in_log(0.05), seeds=5, noise=0.002, budgets=budgets)
    table = compare_matched(final_metrics(far), "toy", "rnn-1", "mlp-1")
    assert list(table["budget"]) == [1000, 4000]
    assert table["p"].to_numpy() == pytest.approx(2 / 252)
    assert table["p_holm"].to_numpy() == pytest.approx(2 * 2 / 252)
    assert table["significant"].all() and (table["prob_improvement"] == 1.0).all()
    assert ((table["ci_low"] < 0.05) & (0.05 < table["ci_high"])).all()
    near = make_results(configs, lambda g, p: 0.8, seeds=5, noise=0.01, budgets=budgets)
    table = compare_matched(final_metrics(near), "toy", "rnn-1", "mlp-1")
    assert (table["p"] > 0.05).all() and not table["significant"].any()

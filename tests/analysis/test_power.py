"""Power and seeds needed, TOST equivalence and P(improvement)'s interval, against simulation and published values.

Every simulation is seeded; the numbers they measure are quoted in docs/statistics.md.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from itermap.analysis.paired import improvement_interval, probability_of_improvement
from itermap.analysis.power import min_detectable_effect, seeds_needed, t_power, tost

# ---- power and seeds needed ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, sd", [(3, 1.0), (5, 0.02), (10, 0.015), (30, 2.0)])
def test_power_at_the_min_detectable_effect_matches_simulation(n, sd):
    """20,000 simulated paired studies (normal per-seed differences of mean `effect`): the share with
    ttest_1samp's p < 0.05 is the noncentral-t power 0.8 at min_detectable_effect, within 1.5 points."""
    effect = min_detectable_effect(sd, n)
    d = np.random.default_rng(n).normal(effect, sd, (20_000, n))
    hit = np.mean(stats.ttest_1samp(d, 0.0, axis=1).pvalue < 0.05)
    assert hit == pytest.approx(0.8, abs=0.015), hit
    assert t_power(effect, sd, n) == pytest.approx(0.8, abs=1e-9)


@pytest.mark.parametrize("n", [5, 10])
def test_two_group_power_is_welchs_within_its_df_approximation(n):
    """20,000 simulated pairs of groups of n normal seeds with a common sd: Welch's test (ttest_ind, equal_var=False)
    rejects at the min_detectable_effect as often as the df = 2n - 2 power says, 3.5 points below to 1 above (its
    realised Satterthwaite df are smaller, so it is a little less powerful: measured 0.775 at 5 seeds, 0.799 at 10)."""
    effect = min_detectable_effect(1.0, n, paired=False)
    rng = np.random.default_rng(100 + n)
    x, y = rng.normal(effect, 1.0, (20_000, n)), rng.normal(0.0, 1.0, (20_000, n))
    hit = np.mean(stats.ttest_ind(x, y, axis=1, equal_var=False).pvalue < 0.05)
    assert 0.8 - 0.035 <= hit <= 0.8 + 0.01, hit


@pytest.mark.parametrize(
    "d, paired, n",
    [(0.5, True, 34), (0.8, True, 15), (0.2, True, 199), (0.5, False, 64), (0.8, False, 26), (0.2, False, 394)],
)
def test_seeds_needed_matches_published_tables(d, paired, n):
    """alpha 0.05 two-sided, power 0.8, effect size d = effect / sd: G*Power 3.1 (Faul et al. 2007) gives 34, 15 and
    199 pairs for a paired t test, and Cohen (1988, Table 2.4.1) 64, 26 and 393 per group for two groups; the exact
    noncentral t gives 394 at d = 0.2 (power 0.7996 at 393; G*Power also says 394)."""
    assert seeds_needed(d, 1.0, paired=paired) == n
    assert seeds_needed(3 * d, 3.0, paired=paired) == n  # only effect / sd matters
    assert t_power(d, 1.0, n, paired=paired) >= 0.8 > t_power(d, 1.0, n - 1, paired=paired)


def test_published_powers():
    """G*Power 3.1's actual powers: paired d = 0.5 at 34 pairs 0.8078, d = 0.8 at 15 pairs 0.8213; two groups d = 0.5
    at 64 per group 0.8015."""
    assert t_power(0.5, 1.0, 34) == pytest.approx(0.8078, abs=1e-4)
    assert t_power(0.8, 1.0, 15) == pytest.approx(0.8213, abs=1e-4)
    assert t_power(0.5, 1.0, 64, paired=False) == pytest.approx(0.8015, abs=1e-4)
    assert t_power(0.0, 1.0, 10) == pytest.approx(0.05)  # no effect: the test's size
    assert t_power(-0.5, 1.0, 34) == pytest.approx(t_power(0.5, 1.0, 34))  # two-sided


@pytest.mark.parametrize("paired", [True, False], ids=["paired", "two-group"])
def test_seeds_needed_inverts_min_detectable_effect_and_both_are_monotone(paired):
    ns = [2, 3, 5, 10, 20, 50, 200]
    mde = [min_detectable_effect(0.02, n, paired=paired) for n in ns]
    assert [seeds_needed(e, 0.02, paired=paired) for e in mde] == ns
    assert [seeds_needed(e * (1 - 1e-6), 0.02, paired=paired) for e in mde] == [n + 1 for n in ns]
    assert np.all(np.diff(mde) < 0)  # more seeds detect smaller effects
    assert min_detectable_effect(0.02, 10, alpha=0.01, paired=paired) > mde[3]  # a stricter test needs more
    assert min_detectable_effect(0.02, 10, power=0.9, paired=paired) > mde[3]
    assert min_detectable_effect(0.04, 10, paired=paired) == pytest.approx(2 * mde[3])  # effect in units of sd
    needed = [seeds_needed(e, 1.0, paired=paired) for e in (2.0, 1.0, 0.5, 0.25, 0.1)]
    assert needed == sorted(needed) and len(set(needed)) == 5


def test_invalid_inputs_are_refused():
    for bad in (
        lambda: min_detectable_effect(0.0, 10),
        lambda: min_detectable_effect(1.0, 1),
        lambda: min_detectable_effect(1.0, 10, alpha=1.0),
        lambda: min_detectable_effect(1.0, 10, power=1.0),
        lambda: min_detectable_effect(1.0, 10, power=0.04),  # below alpha: any effect has it
        lambda: seeds_needed(0.0, 1.0),
        lambda: seeds_needed(0.5, -1.0),
        lambda: seeds_needed(0.5, 1.0, alpha=0.0),
        lambda: seeds_needed(0.01, 1.0),  # 78,500 pairs: beyond MAX_SEEDS
        lambda: tost([1.0, 2.0], [1.0, 2.0], margin=0.0),
        lambda: tost([1.0, 2.0, 3.0], [1.0, 2.0], margin=1.0),  # unequal sides cannot be paired
        lambda: tost([1.0], [1.0], margin=1.0, paired=False),
    ):
        with pytest.raises(ValueError):
            bad()


# ---- TOST --------------------------------------------------------------------------------------------------------

# The `clinic` data (var1 and var2 of its 30 subjects, groups 1 and 2), and R's equivalence::tost on them, as recorded
# in statsmodels' statsmodels/stats/tests/test_tost.py (equivalence margin 0.6, alpha 0.05).
VAR1 = np.array(
    [2.84, 2.51, 2.41, 2.95, 3.14, 3.79, 4.14, 3.85, 3.02, 3.45, 5.37, 3.81, 4.19, 3.16, 3.84,
     2.60, 2.82, 2.18, 3.46, 4.01, 3.04, 3.47, 4.06, 2.91, 3.59, 4.51, 3.16, 3.86, 3.31, 3.02]
)  # fmt: skip
VAR2 = np.array(
    [4.00, 3.26, 4.14, 3.42, 3.25, 4.34, 4.97, 4.31, 3.11, 3.41, 5.02, 4.21, 4.59, 5.30, 4.32,
     3.76, 3.66, 3.65, 3.60, 3.48, 2.87, 3.24, 3.92, 3.99, 4.21, 4.21, 3.31, 3.61, 2.97, 2.73]
)  # fmt: skip


@pytest.mark.parametrize(
    "values, paired, diff, low, high, p, equivalent",
    [
        (VAR1, True, 0.1646666666666667, -0.0744336620516462, 0.4037669953849797, 0.003166881489265175, True),
        (VAR2, True, 0.5626666666666665, 0.1261653305099018, 0.999168002823431, 0.4412034046017588, False),
        (VAR1, False, 0.1646666666666667, -0.2666862980722534, 0.596019631405587, 0.04853083976236974, True),
        (VAR2, False, 0.562666666666666, 0.194916250699966, 0.930417082633366, 0.4317936812594803, False),
    ],
    ids=["var1-paired", "var2-paired", "var1-welch", "var2-welch"],
)
def test_tost_matches_r_equivalence(values, paired, diff, low, high, p, equivalent):
    got = tost(values[:15], values[15:], margin=0.6, paired=paired)
    assert (got["diff"], got["low"], got["high"], got["p"]) == pytest.approx((diff, low, high, p), rel=1e-9)
    assert got["equivalent"] is equivalent
    assert got["p"] == max(got["p_lower"], got["p_upper"])


@pytest.mark.parametrize("paired", [True, False], ids=["paired", "welch"])
def test_tost_error_rates_by_simulation(paired):
    """Studies of 10 seeds, margin 1.5, the difference of means with standard error 1 / sqrt(10) (per-seed differences
    of sd 1 paired, sides of sd 1 / sqrt(2) for Welch). A true difference at either margin (not equivalent) is called
    equivalent in alpha = 5% of 800 studies, within 2 points (the far side's test almost always rejects there, so the
    rate is the near side's size; a test at alpha / 2 or 2 alpha would fail; measured: 4.5% paired, 5.9% Welch); a true
    difference of 0 is called equivalent in at least 95% of 100 (measured: 100%, both). Every call agrees with its 90% interval
    lying inside the margins."""
    rng, margin, rates = np.random.default_rng(1987), 1.5, {}
    for truth, studies in ((margin, 400), (-margin, 400), (0.0, 100)):
        said = []
        for _ in range(studies):
            if paired:  # x - y ~ N(truth, 1) seed by seed
                y = rng.normal(0.0, 1.0, 10)
                x = y + rng.normal(truth, 1.0, 10)
            else:
                x, y = rng.normal(truth, np.sqrt(0.5), 10), rng.normal(0.0, np.sqrt(0.5), 10)
            got = tost(x, y, margin, paired=paired)
            assert got["equivalent"] == (-margin < got["low"] and got["high"] < margin)
            said.append(got["equivalent"])
        rates[truth] = np.mean(said)
    false_equivalence = (rates[margin] + rates[-margin]) / 2
    assert false_equivalence == pytest.approx(0.05, abs=0.02), rates
    assert rates[0.0] >= 0.95, rates


# ---- P(improvement) --------------------------------------------------------------------------------------------


def test_improvement_interval_of_identical_and_separated_runs():
    x = np.array([0.81, 0.84, 0.80, 0.86, 0.83, 0.82])
    assert improvement_interval(x, x) == (0.5, 0.5, 0.5)  # every paired resample ties seed by seed
    p, low, high = improvement_interval(x, x, paired=False)
    assert p == 0.5 and low < 0.5 < high
    assert improvement_interval(x + 1, x)[0] == 1.0 and improvement_interval(x, x + 1)[0] == 0.0
    assert improvement_interval(x + 0.02, x, rng=3) == improvement_interval(x + 0.02, x, rng=3)  # seeded
    p, low, high = improvement_interval(x + 0.02, x)
    assert p == probability_of_improvement(x + 0.02, x) and low <= p <= high


@pytest.mark.parametrize("paired", [True, False], ids=["paired", "independent"])
def test_improvement_interval_coverage(paired):
    """200 simulated studies of 10 seeds: runs of A ~ N(0.5, 1), of B ~ N(0, 1), plus, when paired, a per-seed effect
    N(0, 1) that seed i adds to both A's and B's run. P(a random run of A beats a random run of B) (runs of different
    seeds) is then Phi(0.5 / 2) paired, Phi(0.5 / sqrt(2)) independent. The 95% percentile interval (1,000 resamples)
    covers it in at least 90% of the studies (measured: 95.5% paired, 93.5% independent)."""
    rng = np.random.default_rng(2021)
    covered = []
    for study in range(200):
        shared = rng.normal(0.0, 1.0, 10) if paired else 0.0
        x, y = rng.normal(0.5, 1.0, 10) + shared, rng.normal(0.0, 1.0, 10) + (shared if paired else 0.0)
        truth = stats.norm.cdf(0.5 / np.sqrt(4.0 if paired else 2.0))
        _, low, high = improvement_interval(x, y, paired=paired, rng=study, resamples=1000)
        covered.append(low <= truth <= high)
    assert np.mean(covered) >= 0.9, np.mean(covered)


def test_public_names_are_the_modules_functions():
    """`itermap.analysis.min_detectable_effect(...)` and the other statistics functions the docs name resolve to the
    functions of their modules, and every public name of the package resolves."""
    import itermap.analysis as analysis
    from itermap.analysis import power, variance

    assert analysis.min_detectable_effect is power.min_detectable_effect
    assert analysis.seeds_needed is power.seeds_needed and analysis.tost is power.tost
    assert analysis.variance_components is variance.components
    assert all(getattr(analysis, name) is not None for name in analysis.__all__)

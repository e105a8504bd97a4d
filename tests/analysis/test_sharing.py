"""The sharing question (analysis/sharing.py) on a constructed results frame: the curve's means, each point's paired
lead over the tied end, the recurrence x supervision interaction and its t interval, all against plain numpy and
scipy; `applies` false without the sharing fields or without a point between the ends."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.multitest import multipletests

from itermap.analysis import sharing
from itermap.analysis.measured import Measured
from itermap.analysis.paired import holm

SEEDS = 6
DEPTH, WIDTH = 8, 64
# (tied, blocks, schedule, relax, loss, params, true accuracy)
VARIANTS = [
    (True, None, "cycle", 0, "last", 55_050, 0.84),
    (True, None, "cycle", 0, "every-step", 55_050, 0.845),
    (False, None, "cycle", 0, "last", 431_242, 0.86),
    (False, None, "cycle", 0, "every-step", 431_242, 0.875),
    (False, 2, "cycle", 0, "last", 109_322, 0.85),
    (False, 2, "sequence", 0, "last", 109_322, 0.853),
    (False, 4, "cycle", 0, "last", 217_954, 0.857),
    (True, None, "cycle", 4, "last", 58_634, 0.843),
]


def frame(
    seeds: int = SEEDS, fields: bool = True, variants: list = VARIANTS, dynamics: bool = False
) -> tuple[pd.DataFrame, dict]:
    """Tidy rows of two epochs per run (the last the final), with the accuracy each run ends at, by (variant, seed).
    A variant's optional 8th field is its inject (else every step); with `dynamics`, every tied or partly tied run
    also has the `dynamics` metrics at both epochs, its accuracy at 2d lower by an amount that rises with its residual
    at 2d (truth[i, seed, metric] holds the final ones)."""
    rng, rows, truth = np.random.default_rng(3), [], {}
    for i, (tied, blocks, schedule, relax, loss, params, acc, *inject) in enumerate(variants):
        for seed in range(seeds):
            # a seed effect shared by every variant: pairing removes it
            final = acc + 0.004 * seed + rng.normal(0, 0.003)
            truth[i, seed] = final
            base = dict(run_id=f"v{i}-s{seed}", study="synthetic", dataset="toy", family="unrolled",
                        arch=f"unrolled-v{i}-{DEPTH}x{WIDTH}", group=f"unrolled-v{i}-{DEPTH}", params=params,
                        macs=params, seed=seed, status="done", diverged_epoch=np.nan, budget=pd.NA, depth=DEPTH,
                        hidden=WIDTH, tied=tied, inject=(inject or ["every-step"])[0], heads="shared", loss=loss)  # fmt: skip
            if fields:
                base |= {"blocks": blocks, "schedule": schedule, "relax": relax}
            measured = {"accuracy": final}
            if dynamics and (tied or blocks is not None):
                residual = 10 ** rng.uniform(-6, -1)
                lost = 0.01 * (np.log10(residual) + 6) + rng.normal(0, 0.01)
                measured |= {"spectral_norm": rng.uniform(0.5, 2), "spectral_radius": rng.uniform(0.2, 1),
                             "residual_d": 10 * residual, "residual_2d": residual, "accuracy_2d": final - lost,
                             "accuracy_4d": final - 2 * lost}  # fmt: skip
                truth |= {(i, seed, m): v for m, v in measured.items()}
            for epoch, shift in ((1, 0.05), (2, 0.0)):
                rows += [{**base, "epoch": epoch, "split": "test", "metric": m, "value": v - shift, "step": np.nan}
                         for m, v in measured.items()]  # fmt: skip
    results = pd.DataFrame(rows)
    if fields:
        results["blocks"] = results["blocks"].astype("Int64")
    results["budget"] = results["budget"].astype("Int64")
    return results, truth


def measured(results: pd.DataFrame) -> Measured:
    return Measured(results, pd.DataFrame(), pd.DataFrame(), pd.DataFrame({"dataset": ["toy"]}), "test_accuracy", ())


def values(truth: dict, i: int) -> np.ndarray:
    return np.array([truth[i, s] for s in range(SEEDS)])


def test_curve_lead_and_interaction_against_numpy_and_scipy():
    results, truth = frame()
    found = sharing.sharing_tables(results)
    assert set(found) == {"curve", "lead", "interaction", "trend"}  # no image-once cells: no factorial

    # the curve: the last-step, image-every-step cell only (the other loss has no point between the ends)
    curve = found["curve"]
    assert list(curve["point"]) == ["tied", "tied + rank 4", "2 blocks (cycle)", "2 blocks (sequence)",
                                    "4 blocks (cycle)", "untied"]  # fmt: skip
    assert set(curve["loss"]) == {"last"} and list(curve["k"]) == [1, 1, 2, 2, 4, 8]
    for i, point in ((0, "tied"), (4, "2 blocks (cycle)"), (2, "untied")):
        row = curve[curve["point"] == point].iloc[0]
        v = values(truth, i)
        ci = stats.t.interval(0.95, SEEDS - 1, loc=v.mean(), scale=stats.sem(v))
        assert row["mean"] == pytest.approx(v.mean()) and row["n"] == SEEDS and row["interval"] == "ci"
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(ci)
        assert row["params"] == VARIANTS[i][5]

    # the lead over the tied end: paired by seed, Holm over the data set's four intermediate points
    lead = found["lead"].set_index("point")
    tied, untied = values(truth, 0), values(truth, 2)
    gain = (untied - tied).mean()
    p = []
    for i, point in (
        (7, "tied + rank 4"),
        (4, "2 blocks (cycle)"),
        (5, "2 blocks (sequence)"),
        (6, "4 blocks (cycle)"),
    ):
        d = values(truth, i) - tied
        test = stats.ttest_rel(values(truth, i), tied)
        ci = test.confidence_interval(0.95)
        row = lead.loc[point]
        assert row["diff"] == pytest.approx(d.mean())
        assert (row["ci_low"], row["ci_high"], row["p"]) == pytest.approx((ci.low, ci.high, test.pvalue))
        assert row["gain"] == pytest.approx(gain) and row["recovered"] == pytest.approx(d.mean() / gain)
        assert row["param_share"] == pytest.approx(VARIANTS[i][5] / 431_242)
        p.append((point, test.pvalue))
    adjusted = holm(np.array([q for _, q in p]))
    for (point, _), q in zip(p, adjusted):
        assert lead.loc[point, "p_holm"] == pytest.approx(q)

    # the interaction: (untied every - untied last) - (tied every - tied last) per seed, one-sample t over seeds
    (row,) = found["interaction"].itertuples()
    d = (values(truth, 3) - values(truth, 2)) - (values(truth, 1) - values(truth, 0))
    ci = stats.t.interval(0.95, SEEDS - 1, loc=d.mean(), scale=stats.sem(d))
    assert row.diff == pytest.approx(d.mean()) and (row.ci_low, row.ci_high) == pytest.approx(ci)
    assert row.p == pytest.approx(stats.ttest_1samp(d, 0).pvalue) and row.p_holm == pytest.approx(row.p)
    assert row.untied_gain == pytest.approx((values(truth, 3) - values(truth, 2)).mean())
    assert row.tied_every == pytest.approx(values(truth, 1).mean())
    # tying's cost at each loss: untied minus tied (cells 2 - 0 at last-step loss, 3 - 1 at every-step)
    assert row.tying_cost_last == pytest.approx((values(truth, 2) - values(truth, 0)).mean())
    assert row.tying_cost_every == pytest.approx((values(truth, 3) - values(truth, 1)).mean())


def test_verdicts_infer_from_min_seeds_and_describe_below():
    results, truth = frame()
    found = sharing.sharing_tables(results)
    lead, interaction, trend = sharing.verdicts(found, "toy")
    gain = (values(truth, 2) - values(truth, 0)).mean()
    assert lead.startswith("At equal width 64 (depth 8, last-step loss, image every step; 6 seeds): ")
    assert f"the untied net leads the tied one by {100 * gain:+.1f} points" in lead
    rec = (values(truth, 4) - values(truth, 0)).mean() / gain
    assert f"2 blocks (cycle): {100 * rec:.0f}% of that gain at 25% of the untied net's parameters" in lead
    assert "ahead of the tied net (paired by seed, Holm over 4 in the data set): " in lead
    ahead = found["lead"].query("p_holm < 0.05 and diff > 0")["point"]
    assert all(p in lead.split("ahead of the tied net")[1] for p in ahead)
    assert interaction.startswith("Recurrence x supervision at equal width 64 (depth 8, image every step; 6 seeds)")
    assert "95% CI [" in interaction

    assert trend.startswith("Blocks as an ordered factor at equal width 64 (depth 8, last-step loss, image every ")
    slope = found["trend"].iloc[0]
    assert f"{100 * slope['diff']:+.1f} points per doubling of the blocks (cycle, k = 1, 2, 4, 8), 95% CI [" in trend

    few, _ = frame(seeds=3)
    lead, interaction, trend = sharing.verdicts(sharing.sharing_tables(few), "toy")
    assert "descriptive only" in lead and "ahead" not in lead and "3 seeds" in lead
    assert "descriptive only" in interaction and "CI" not in interaction
    assert "descriptive only" in trend and "CI" not in trend and "Holm" not in trend


def test_applies_needs_the_fields_and_a_point_between():
    results, _ = frame()
    assert sharing.applies(measured(results))
    bare, _ = frame(fields=False)
    assert not sharing.applies(measured(bare)) and sharing.sharing_tables(bare) == {}
    ends = results[results["blocks"].isna() & (results["relax"] == 0)]  # tied and untied alone: the depth question's
    assert not sharing.applies(measured(ends))
    assert not sharing.applies(measured(results.drop(columns=["tied"])))


# The factorial core: (tied, loss, inject) cells with known effects, and one point between the ends (the question's
# condition). Effects in accuracy: untied +2, every-step loss +1, image every step +3 points; tying x loss -1.5;
# loss x inject +0.5; the rest 0.
CORE = list(itertools.product([True, False], ["last", "every-step"], ["every-step", "first"]))


def core_accuracy(tied: bool, loss: str, inject: str) -> float:
    a, b, c = (
        (0.5 if not tied else -0.5),
        (0.5 if loss == "every-step" else -0.5),
        (0.5 if inject == "every-step" else -0.5),
    )
    return 0.80 + 0.02 * a + 0.01 * b + 0.03 * c - 0.015 * a * b + 0.005 * b * c


FACTORIAL = [
    (tied, None, "cycle", 0, loss, 55_050 if tied else 431_242, core_accuracy(tied, loss, inject), inject)
    for tied, loss, inject in CORE
] + [(False, 2, "cycle", 0, "last", 109_322, 0.81)]


def cells(results: pd.DataFrame) -> pd.DataFrame:
    """Final accuracy per run of the factorial core, with its factors as plain columns and as codes +-1/2."""
    final = results[(results["epoch"] == 2) & results["blocks"].isna()]
    return final.assign(
        acc=final["value"],
        a=np.where(final["tied"], -0.5, 0.5),
        b=np.where(final["loss"] == "every-step", 0.5, -0.5),
        c=np.where(final["inject"] == "every-step", 0.5, -0.5),
    )


def test_factorial_against_statsmodels_ols():
    """Every effect equals its OLS coefficient on the codes +-1/2 with a block per seed (the difference of means for
    one factor, of differences for two ...); the t interval is over per-seed effects from a saturated OLS of each
    seed's eight cells alone; Holm as statsmodels' over the data set's seven tests."""
    results, _ = frame(variants=FACTORIAL)
    found = sharing.sharing_tables(results)
    table = found["factorial"].set_index("effect")
    assert list(table.index) == ["tying", "loss", "inject", "tying x loss", "tying x inject", "loss x inject",
                                 "tying x loss x inject"]  # fmt: skip
    data = cells(results)
    fit = smf.ols("acc ~ a * b * c + C(seed)", data=data).fit()
    names = {"tying": "a", "loss": "b", "inject": "c", "tying x loss": "a:b", "tying x inject": "a:c",
             "loss x inject": "b:c", "tying x loss x inject": "a:b:c"}  # fmt: skip
    per_seed = pd.DataFrame([smf.ols("acc ~ a * b * c", data=one).fit().params for _, one in data.groupby("seed")])
    p = []
    for effect, term in names.items():
        row = table.loc[effect]
        assert row["diff"] == pytest.approx(fit.params[term], abs=1e-12) and row["n"] == SEEDS
        test = stats.ttest_1samp(per_seed[term], 0.0)
        ci = test.confidence_interval(0.95)
        assert (row["ci_low"], row["ci_high"], row["p"]) == pytest.approx((ci.low, ci.high, test.pvalue))
        p.append(test.pvalue)
    assert table["p_holm"].to_numpy() == pytest.approx(multipletests(p, method="holm")[1])
    # the treatment-coded model of the brief gives the same cell means, so the same effects
    coded = smf.ols("acc ~ C(tied) * C(loss) * C(inject) + C(seed)", data=data).fit()
    means = data.assign(fitted=coded.fittedvalues).groupby(["tied", "loss", "inject"])["fitted"].mean()
    assert means[False].mean() - means[True].mean() == pytest.approx(table.loc["tying", "diff"], abs=1e-12)
    assert table.loc["tying", "diff"] == pytest.approx(0.02, abs=0.01)  # the planted effect, within the noise


def test_factorial_verdict_states_the_supervision_claim():
    """Averaged over both injections: every-step loss's gain for tied and for untied nets, their difference with its
    interval, tying's cost at each loss; each effect; those Holm finds. Below MIN_SEEDS, descriptive."""
    results, _ = frame(variants=FACTORIAL)
    found = sharing.sharing_tables(results)
    verdict = next(v for v in sharing.verdicts(found, "toy") if v.startswith("Tying x loss x injection"))
    acc = cells(results).groupby(["tied", "loss", "seed"])["acc"].mean()  # over both injections

    def mean(tied: bool, loss: str) -> float:
        return acc[tied, loss].mean()

    tied_gain, untied_gain = (
        mean(True, "every-step") - mean(True, "last"),
        mean(False, "every-step") - mean(False, "last"),
    )
    cost_last, cost_every = (
        mean(False, "last") - mean(True, "last"),
        mean(False, "every-step") - mean(True, "every-step"),
    )
    inter = found["factorial"].set_index("effect").loc["tying x loss"]
    assert verdict.startswith("Tying x loss x injection at equal width 64 (depth 8; 6 seeds), averaged over both ")
    assert (f"every-step loss adds {100 * tied_gain:+.1f} points to tied nets and {100 * untied_gain:+.1f} to untied "
            f"ones; the difference (the interaction, untied minus tied) is {100 * (untied_gain - tied_gain):+.1f}, 95% "
            f"CI [{100 * inter['ci_low']:+.1f}, {100 * inter['ci_high']:+.1f}]; tying costs {100 * cost_last:+.1f} "
            f"points at last-step loss and {100 * cost_every:+.1f} at every-step") in verdict  # fmt: skip
    assert (
        "Distinguishable from zero (Holm over 7 in the data set): untied - tied, every-step - last-step loss, "
        in verdict
    )

    few, _ = frame(seeds=3, variants=FACTORIAL)
    verdict = next(v for v in sharing.verdicts(sharing.sharing_tables(few), "toy") if v.startswith("Tying x"))
    assert "descriptive only" in verdict and "seeds' range [" in verdict and "Holm" not in verdict


def test_trend_against_ols_on_log2_blocks():
    """The blocks' trend: the OLS slope of accuracy on log2 k with a block per seed over the cycled curve's levels,
    and the t interval of the per-seed slopes (numpy's polyfit)."""
    results, _ = frame()
    trend = sharing.sharing_tables(results)["trend"]
    assert list(zip(trend["schedule"], trend["levels"])) == [("cycle", "1, 2, 4, 8"), ("sequence", "1, 2, 8")]
    row = next(trend.itertuples())
    assert row.n == SEEDS
    final = results[(results["epoch"] == 2) & (results["loss"] == "last") & (results["relax"] == 0)]
    k = final["blocks"].fillna(final["tied"].map({True: 1, False: DEPTH})).astype(float)
    line = final.assign(acc=final["value"], log2k=np.log2(k))
    line = line[~((line["schedule"] == "sequence") & line["blocks"].notna())]
    fit = smf.ols("acc ~ log2k + C(seed)", data=line).fit()
    assert row.diff == pytest.approx(fit.params["log2k"], abs=1e-12)
    slopes = [np.polyfit(one["log2k"], one["acc"], 1)[0] for _, one in line.groupby("seed")]
    ci = stats.ttest_1samp(slopes, 0.0).confidence_interval(0.95)
    assert (row.ci_low, row.ci_high) == pytest.approx((ci.low, ci.high))


def test_dynamics_and_their_rank_correlation():
    """One row per tied or partly tied run (its last epoch's metrics), the accuracy lost past d, and Spearman's rho of
    the residual at 2d with it as scipy's, its Fisher-z interval tanh(atanh(rho) -+ 1.96 sqrt(1.06 / (n - 3)))."""
    results, truth = frame(dynamics=True)
    found = sharing.sharing_tables(results)
    dyn = found["dynamics"]
    assert set(dyn["end"]) == {"tied", "between"} and len(dyn) == 6 * SEEDS  # all but the untied ends
    for r in dyn.itertuples():
        i = int(r.run_id.split("-")[0][1:])
        assert r.residual_2d == truth[i, r.seed, "residual_2d"] and r.accuracy_4d == truth[i, r.seed, "accuracy_4d"]
        assert r.lost == pytest.approx(truth[i, r.seed] - truth[i, r.seed, "accuracy_2d"])
    (rank,) = found["rank"].itertuples()
    test = stats.spearmanr(dyn["residual_2d"], dyn["lost"])
    half = 1.959963984540054 * np.sqrt(1.06 / (len(dyn) - 3))
    assert (rank.n, rank.rho, rank.p) == (len(dyn), pytest.approx(test.statistic), pytest.approx(test.pvalue))
    assert (rank.ci_low, rank.ci_high) == pytest.approx(np.tanh(np.arctanh(test.statistic) + np.array([-half, half])))
    verdict = sharing.verdicts(found, "toy")[-1]
    assert (
        f"Spearman's rank correlation of the residual at 2d with the accuracy lost is {test.statistic:+.2f}" in verdict
    )
    assert verdict.endswith("nets further from a fixed point lose more accuracy when run on.")


def test_rank_interval_covers():
    """The Fisher-z interval of Spearman's rho covers the true rank correlation of a bivariate normal,
    (6 / pi) asin(r / 2), about 95% of the time (400 samples of 30)."""
    rng, r, n = np.random.default_rng(7), 0.6, 30
    truth = 6 / np.pi * np.arcsin(r / 2)
    cov = [[1, r], [r, 1]]
    samples = [rng.multivariate_normal([0, 0], cov, n) for _ in range(400)]
    found = pd.concat([pd.DataFrame({"dataset": f"d{i:03}", "seed": range(n), "residual_2d": s[:, 0], "lost": s[:, 1]})
                       for i, s in enumerate(samples)])  # fmt: skip
    ranks = sharing.rank(found)
    covered = ((ranks["ci_low"] <= truth) & (truth <= ranks["ci_high"])).mean()
    assert 0.92 <= covered <= 0.98

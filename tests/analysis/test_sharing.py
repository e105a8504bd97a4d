"""The sharing question (analysis/sharing.py) on a constructed results frame: the curve's means, each point's paired
lead over the tied end, the recurrence x supervision interaction and its t interval, all against plain numpy and
scipy; `applies` false without the sharing fields or without a point between the ends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

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


def frame(seeds: int = SEEDS, fields: bool = True) -> tuple[pd.DataFrame, dict]:
    """Tidy rows of two epochs per run (the last the final), with the accuracy each run ends at, by (variant, seed)."""
    rng, rows, truth = np.random.default_rng(3), [], {}
    for i, (tied, blocks, schedule, relax, loss, params, acc) in enumerate(VARIANTS):
        for seed in range(seeds):
            # a seed effect shared by every variant: pairing removes it
            final = acc + 0.004 * seed + rng.normal(0, 0.003)
            truth[i, seed] = final
            base = dict(run_id=f"v{i}-s{seed}", study="synthetic", dataset="toy", family="unrolled",
                        arch=f"unrolled-v{i}-{DEPTH}x{WIDTH}", group=f"unrolled-v{i}-{DEPTH}", params=params,
                        macs=params, seed=seed, status="done", diverged_epoch=np.nan, budget=pd.NA, depth=DEPTH,
                        hidden=WIDTH, tied=tied, inject="every-step", heads="shared", loss=loss)  # fmt: skip
            if fields:
                base |= {"blocks": blocks, "schedule": schedule, "relax": relax}
            for epoch, value in ((1, final - 0.05), (2, final)):
                rows.append(
                    {**base, "epoch": epoch, "split": "test", "metric": "accuracy", "value": value, "step": np.nan}
                )
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
    assert set(found) == {"curve", "lead", "interaction"}

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
    lead, interaction = sharing.verdicts(found, "toy")
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

    few, _ = frame(seeds=3)
    lead, interaction = sharing.verdicts(sharing.sharing_tables(few), "toy")
    assert "descriptive only" in lead and "ahead" not in lead and "3 seeds" in lead
    assert "descriptive only" in interaction and "CI" not in interaction


def test_applies_needs_the_fields_and_a_point_between():
    results, _ = frame()
    assert sharing.applies(measured(results))
    bare, _ = frame(fields=False)
    assert not sharing.applies(measured(bare)) and sharing.sharing_tables(bare) == {}
    ends = results[results["blocks"].isna() & (results["relax"] == 0)]  # tied and untied alone: the depth question's
    assert not sharing.applies(measured(ends))
    assert not sharing.applies(measured(results.drop(columns=["tied"])))

"""Paired differences and multiplicity: t tests of two sets of seeds, how often one beats the other (rliable's
probability of improvement, with its bootstrap interval), and Holm's correction across tests.

Seed i gives every run the same data order, so the per-seed difference of two variants removes what the order
contributes: differences are paired over the seeds both finished. Holm's step-down adjustment controls the
family-wise error over a family of such tests; where a family counts its untested rows (NaN p) they stand in as
p = 1, which widens the family and is never rejected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from itermap.analysis.intervals import LEVEL, spread

ALPHA = 1 - LEVEL
N_RESAMPLES = 9999  # bootstrap resamples of every comparison


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control across the given tests)."""
    p = np.asarray(pvalues, float)
    order = np.argsort(p)
    adjusted = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def holm_counting_untested(pvalues: pd.Series) -> np.ndarray:
    """Holm over every row, an untested one (NaN p) counted as a test with p = 1."""
    return holm(pvalues.fillna(1.0).to_numpy())


def adjust(table: pd.DataFrame, keys: list[str], family: str = "headline", also: tuple[str, ...] = ()) -> pd.DataFrame:
    """Holm across the tests of `table` (one p per distinct `keys`; NaN p: no test) within each `family` (headline or
    exploratory): adds `p_holm`, `family_size` and `significant` (p_holm < ALPHA). `also`: further p-value columns
    (an equivalence test's `p_tost`), each a test of its own in the same family, adjusted into `<column>_holm`."""
    if table.empty:
        return table
    tests = pd.concat(
        [
            table.dropna(subset=[col])
            .drop_duplicates(keys)[[*keys, family, col]]
            .rename(columns={col: "p"})
            .assign(of=col)
            for col in ("p", *also)
            if table[col].notna().any() or col == "p"
        ],
        ignore_index=True,
    )
    tests["family_size"] = tests.groupby(family)["p"].transform("size")
    tests["p_holm"] = tests.groupby(family)["p"].transform(lambda p: holm(p.to_numpy()))
    out = table.merge(tests[tests["of"] == "p"][[*keys, "family_size", "p_holm"]], on=keys, how="left")
    for col in also:
        mine = tests[tests["of"] == col].rename(columns={"p_holm": f"{col}_holm"})
        out = out.merge(mine[[*keys, f"{col}_holm"]], on=keys, how="left")
    out["significant"] = out["p_holm"] < ALPHA
    return out


def adjust_within(table: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Adds `p_holm` to `table` in place: Holm within each `by` group (the whole table without), NaN p counted as 1."""
    if by is None:
        table["p_holm"] = holm_counting_untested(table["p"])
    else:
        table["p_holm"] = table.groupby(by)["p"].transform(lambda p: pd.Series(holm_counting_untested(p), p.index))
    return table


def difference_ci(x: np.ndarray, y: np.ndarray, paired: bool, level: float = LEVEL) -> tuple[float, float, float]:
    """(low, high, p) for mean(x) - mean(y): paired t on x_i - y_i, or Welch's t with Satterthwaite's degrees of freedom."""
    res = stats.ttest_rel(x, y) if paired else stats.ttest_ind(x, y, equal_var=False)
    ci = res.confidence_interval(level)
    return float(ci.low), float(ci.high), float(res.pvalue)


def seed_difference(a: np.ndarray, b: np.ndarray) -> dict[str, object]:
    """Mean of the per-seed differences d = a - b; from MIN_SEEDS seeds its t interval and two-sided p, else d's range."""
    d = np.asarray(a, float) - np.asarray(b, float)
    if not len(d):  # no seed in common: nothing to compare (and no empty-mean warning)
        return {"diff": np.nan, "ci_low": np.nan, "ci_high": np.nan, "interval": "", "p": np.nan}
    low, high, kind = spread(d)
    judged = kind == "ci" and d.std() > 0  # every seed moved alike: no spread to judge by
    p = float(stats.ttest_1samp(d, 0.0).pvalue) if judged else np.nan
    return {"diff": float(d.mean()), "ci_low": low, "ci_high": high, "interval": kind, "p": p}


def paired_by_seed(a: pd.DataFrame, b: pd.DataFrame, value: str = "accuracy") -> dict[str, object]:
    """Runs `a` minus runs `b` in `value` over the seeds both have: n, a_mean, b_mean and `seed_difference`'s fields."""
    x, y = a.set_index("seed")[value], b.set_index("seed")[value]
    seeds = sorted(set(x.index) & set(y.index))
    x, y = x.loc[seeds], y.loc[seeds]
    return {"n": len(seeds), "a_mean": x.mean(), "b_mean": y.mean(), **seed_difference(x.to_numpy(), y.to_numpy())}


def probability_of_improvement(x: np.ndarray, y: np.ndarray, axis: int = -1) -> float | np.ndarray:
    """P(a random run of A beats a random run of B), ties counting half: the mean over all pairs of
    1[x_i > y_j] + 1[x_i = y_j] / 2 (Mann-Whitney U / (n_A n_B)), along `axis` (scipy.stats.bootstrap calls it so)."""
    x, y = (np.moveaxis(np.asarray(v, float), axis, -1) for v in (x, y))
    u, v = x[..., :, None], y[..., None, :]
    return np.mean((u > v) + 0.5 * (u == v), axis=(-2, -1))


def improvement_interval(
    x: np.ndarray,
    y: np.ndarray,
    paired: bool = True,
    level: float = LEVEL,
    rng: int | np.random.Generator = 0,
    resamples: int = N_RESAMPLES,
) -> tuple[float, float, float]:
    """(P(A beats B), low, high): rliable's probability of improvement over all (x_i, y_j) pairs, ties half, with a
    percentile bootstrap interval (seeds resampled together when paired, within each side otherwise), seeded by `rng`."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ci = stats.bootstrap(
        (x, y),
        probability_of_improvement,
        paired=paired,
        n_resamples=resamples,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(rng),
    ).confidence_interval
    return float(probability_of_improvement(x, y)), float(ci.low), float(ci.high)

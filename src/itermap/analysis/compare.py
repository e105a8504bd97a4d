"""Two groups at equal parameters or equal multiply-adds: interpolated curves with seed-bootstrap CIs, and direct
matched-budget tests; and which pairs of groups a study compares.

A group is named by its family's group and the varying fields it holds, "rnn-1 · lr=0.001"
(analysis/results.py). A [[compare]] selects groups on each side by name ("rnn-1": every group of
that family group) or by a table ({ group = "rnn-1", lr = 0.001 }), and pairs a group of A with a
group of B when they agree on every varying field that neither side fixes: everything else held equal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from itermap.analysis.aggregate import CONFIDENCE, N_RESAMPLES, SEED
from itermap.analysis.curves import interpolate, params_to_reach
from itermap.analysis.results import SEPARATOR

ALPHA = 1 - CONFIDENCE
AXES = {"params": "parameters", "macs": "multiply-adds"}  # what groups can be compared at equal amounts of


def label(group: str) -> str:
    """Display name of a group: "rnn-1" -> "RNN-1", "rnn-1 · lr=0.001" -> "RNN-1 · lr=0.001"."""
    family, _, rest = group.partition("-")
    return family.upper() + (f"-{rest}" if rest else "")


def base(group: str) -> str:
    """The family group of a group: "rnn-1 · lr=0.001" -> "rnn-1"."""
    return group.split(SEPARATOR)[0]


def settings(group: str) -> dict[str, str]:
    """The varying fields a group holds, as its name spells them: "rnn-1 · lr=0.001" -> {"lr": "0.001"}."""
    return dict(part.split("=", 1) for part in group.split(SEPARATOR)[1:])


def fixed(selector: str | dict[str, Any]) -> dict[str, str]:
    """The fields a selector fixes ({ group = "rnn-1", lr = 0.001 } -> {"lr": "0.001"}; a name fixes its own)."""
    if isinstance(selector, str):
        return settings(selector)
    return {k: str(v) for k, v in selector.items() if k != "group"}


def selects(selector: str | dict[str, Any], group: str) -> bool:
    """Whether a [[compare]] side selects `group` (fields the study does not vary are not in names; they match)."""
    name = selector if isinstance(selector, str) else selector["group"]
    if base(name) != base(group):
        return False
    held = settings(group)
    return all(held.get(k, v) == v for k, v in fixed(selector).items())


def declared_pairs(groups: Iterable[str], a: str | dict[str, Any], b: str | dict[str, Any]) -> list[tuple[str, str]]:
    """Pairs (A, B) of a [[compare]]: a group of each side that agree on every varying field neither side fixes."""
    free = lambda f: f not in fixed(a) and f not in fixed(b)  # noqa: E731
    groups = sorted(set(groups))
    return [
        (ga, gb) for ga in groups if selects(a, ga) for gb in groups if selects(b, gb) and ga != gb
        and all(settings(ga)[f] == settings(gb)[f] for f in settings(ga).keys() & settings(gb).keys() if free(f))
    ]  # fmt: skip


def default_pairs(groups: Iterable[str]) -> list[tuple[str, str]]:
    """Without [[compare]]: every pair of groups that differ in one respect (family group, or one varying field)."""
    groups = sorted(set(groups))
    out = []
    for i, ga in enumerate(groups):
        for gb in groups[i + 1 :]:
            sa, sb = settings(ga), settings(gb)
            differ = [f for f in sa.keys() & sb.keys() if sa[f] != sb[f]]
            if (base(ga) != base(gb) and not differ) or (
                base(ga) == base(gb) and len(differ) == 1 and sa.keys() == sb.keys()
            ):
                out.append((ga, gb))
    return out


def _depth(group: str) -> int | None:
    match = re.search(r"-(\d+)$", base(group))
    return int(match.group(1)) if match else None


def headline_pair(comparisons: pd.DataFrame) -> tuple[str, str] | None:
    """The pair a data set's report leads with: depth-matched pairs first (shallowest), then most shared sizes."""
    if comparisons.empty:
        return None
    n_budgets = comparisons.groupby(["a", "b"]).size()

    def key(pair: tuple[str, str]) -> tuple:
        da, db = _depth(pair[0]), _depth(pair[1])
        matched = da is not None and da == db and n_budgets[pair] >= 2
        return (not matched, da if matched else 0, -n_budgets[pair], pair)

    return min(n_budgets.index, key=key)


def _seed_values(
    finals: pd.DataFrame, dataset: str, group: str, metric: str, at: str
) -> list[tuple[float, np.ndarray]]:
    """(size, seed values) of each configuration of a group with at least one value, by its size `at` (params or macs)."""
    rows = finals[(finals["dataset"] == dataset) & (finals["group"] == group)].dropna(subset=[metric])
    return [(float(p), runs[metric].to_numpy(float)) for p, runs in rows.groupby(at, sort=True)]


def _resampled_means(configs: list[tuple[float, np.ndarray]], rng: np.random.Generator) -> np.ndarray:
    """[configs, N_RESAMPLES] means of seeds drawn with replacement within each configuration."""
    return np.stack([v[rng.integers(0, len(v), size=(N_RESAMPLES, len(v)))].mean(axis=1) for _, v in configs])


def compare_curves(
    finals: pd.DataFrame, dataset: str, a: str, b: str, metric: str = "test_accuracy", at: str = "params"
) -> pd.DataFrame:
    """Difference A - B of the interpolated metric at every measured size `at` (params or macs) inside both groups' ranges.

    Rows: `x` is the number of parameters (or multiply-adds per example) at which A and B are compared.
    """
    ca, cb = (_seed_values(finals, dataset, g, metric, at) for g in (a, b))
    if not ca or not cb:
        return pd.DataFrame()
    pa, pb = np.array([p for p, _ in ca]), np.array([p for p, _ in cb])
    lo, hi = max(pa.min(), pb.min()), min(pa.max(), pb.max())
    budgets = np.unique(np.concatenate([pa, pb]))
    budgets = budgets[(budgets >= lo) & (budgets <= hi)]
    if not len(budgets):
        return pd.DataFrame()
    ma, mb = (np.array([v.mean() for _, v in c]) for c in (ca, cb))
    va, vb = interpolate(pa, ma, budgets), interpolate(pb, mb, budgets)
    rng = np.random.default_rng(SEED)
    boot = interpolate(pa, _resampled_means(ca, rng), budgets) - interpolate(pb, _resampled_means(cb, rng), budgets)
    ci_low, ci_high = np.percentile(boot, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)], axis=1)
    sign = 1.0 if "accuracy" in metric else -1.0  # higher accuracy, lower cross-entropy is better
    reach = [params_to_reach(pb, sign * mb, sign * t) if len(pb) > 1 else (np.nan, "") for t in va]
    return pd.DataFrame(
        {
            "dataset": dataset,
            "a": a,
            "b": b,
            "metric": metric,
            "at": at,
            "x": budgets.astype(int),
            "a_value": va,
            "b_value": vb,
            "a_measured": np.isin(budgets, pa),
            "b_measured": np.isin(budgets, pb),
            "diff": va - vb,
            "ci_low": ci_low,
            "ci_high": ci_high,
            "excludes_zero": (ci_low > 0) | (ci_high < 0),
            "b_to_match": [p for p, _ in reach],
            "multiplier": [p / n for (p, _), n in zip(reach, budgets)],
            "multiplier_bound": [bound for _, bound in reach],
        }
    )


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control across the given tests)."""
    p = np.asarray(pvalues, float)
    order = np.argsort(p)
    adjusted = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(a random run of A beats a random run of B), ties counting half (Mann-Whitney U / (n_A n_B))."""
    x, y = np.asarray(x, float)[:, None], np.asarray(y, float)[None, :]
    return float(np.mean((x > y) + 0.5 * (x == y)))


def _mean_diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def compare_matched(finals: pd.DataFrame, dataset: str, a: str, b: str, metric: str = "test_accuracy") -> pd.DataFrame:
    """At each budget both groups were solved for: mean difference with bootstrap CI, permutation p, Holm p, P(improvement)."""
    rows = finals[(finals["dataset"] == dataset) & finals["budget"].notna()].dropna(subset=[metric])
    out = []
    for budget, runs in rows.groupby("budget", sort=True):
        x = runs.loc[runs["group"] == a, metric].to_numpy(float)
        y = runs.loc[runs["group"] == b, metric].to_numpy(float)
        if len(x) < 2 or len(y) < 2:
            continue
        ci = stats.bootstrap(
            (x, y),
            _mean_diff,
            n_resamples=N_RESAMPLES,
            confidence_level=CONFIDENCE,
            method="percentile",
            rng=np.random.default_rng(SEED),
        ).confidence_interval
        perm = stats.permutation_test(
            (x, y),
            _mean_diff,
            permutation_type="independent",
            alternative="two-sided",
            n_resamples=N_RESAMPLES,
            rng=np.random.default_rng(SEED),
        )
        out.append(
            {
                "dataset": dataset,
                "a": a,
                "b": b,
                "metric": metric,
                "budget": int(budget),
                "a_params": int(runs.loc[runs["group"] == a, "params"].iloc[0]),
                "b_params": int(runs.loc[runs["group"] == b, "params"].iloc[0]),
                "n_a": len(x),
                "n_b": len(y),
                "a_mean": x.mean(),
                "b_mean": y.mean(),
                "diff": x.mean() - y.mean(),
                "ci_low": ci.low,
                "ci_high": ci.high,
                "p": perm.pvalue,
                "prob_improvement": probability_of_improvement(x, y),
            }
        )
    table = pd.DataFrame(out)
    if not table.empty:
        table["p_holm"] = holm(table["p"].to_numpy())
        table["significant"] = table["p_holm"] < ALPHA
    return table

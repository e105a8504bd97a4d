"""Two groups at equal parameters or equal multiply-adds: interpolated curves with seed-bootstrap CIs, and direct
matched-budget tests; and which pairs of groups a study compares.

A group (analysis/results.py `Group`) is its family's group and the varying fields it holds; its name reads
"rnn-1 · lr=0.001". A [[compare]] selects groups on each side by name ("rnn-1": every group of that family group;
"rnn-1 · lr=0.001", as the report prints it) or by a table ({ group = "rnn-1", lr = 0.001 }), and pairs a group of A
with a group of B when they agree on every varying field that neither side fixes: everything else held equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import numpy as np
import pandas as pd

from itermap.analysis.band import max_t_band
from itermap.analysis.curves import interpolate, params_to_reach, reach_draws
from itermap.analysis.intervals import LEVEL, MIN_SEEDS, seed_range
from itermap.analysis.metrics import metric_of
from itermap.analysis.paired import ALPHA, N_RESAMPLES, difference_ci, improvement_interval, probability_of_improvement
from itermap.analysis.power import tost
from itermap.analysis.results import SEPARATOR, Group

SEED = 0  # a fresh numpy.random.default_rng(SEED) per comparison: a report is identical on every rerun
AXES = {"params": "parameters", "macs": "multiply-adds"}  # what groups can be compared at equal amounts of


def label(group: str) -> str:
    """Display name of a group's name: "rnn-1" -> "RNN-1", "rnn-1 · lr=0.001" -> "RNN-1 · lr=0.001"."""
    family, _, rest = group.partition("-")
    return family.upper() + (f"-{rest}" if rest else "")


def common(groups: Iterable[Group]) -> dict[str, str]:
    """The fields every one of `groups` holds at one value: said once, above their sentences."""
    held = [g.settings for g in groups]
    return {k: v for k, v in held[0].items() if all(h.get(k) == v for h in held)} if held else {}


def apart(a: Group, b: Group, said: dict[str, str] | None = None) -> tuple[str, str, str]:
    """How a sentence names two groups: what they share, said once ("UNROLLED-4 · tied=False: "; empty when
    nothing is shared), and each by what tells it apart ("loss=every-step", "loss=last"); fields already `said`
    (`common`) are left out."""
    said = said or {}
    same = [f"{k}={v}" for k, v in a.fields if b.settings.get(k) == v and said.get(k) != v]
    own = lambda g: [f"{k}={v}" for k, v in g.fields if f"{k}={v}" not in same and said.get(k) != v]  # noqa: E731
    if a.family == b.family:
        shared, names = [label(a.family), *same], (" · ".join(own(a)), " · ".join(own(b)))
    else:
        shared, names = same, (" · ".join([label(a.family), *own(a)]), " · ".join([label(b.family), *own(b)]))
    return (" · ".join(shared) + ": " if shared else ""), *names


def selected(selector: str | dict[str, Any]) -> Group:
    """What a [[compare]] side asks for, as a group: its family group and the fields it fixes (a name as the
    report prints it, "rnn-1 · lr=0.001", fixes the fields it spells out)."""
    if isinstance(selector, str):
        family, *fields = selector.split(SEPARATOR)
        return Group(family, tuple(tuple(f.split("=", 1)) for f in fields))  # type: ignore[misc]
    return Group(selector["group"], tuple((k, str(v)) for k, v in selector.items() if k != "group"))


def selects(selector: str | dict[str, Any], group: Group) -> bool:
    """Whether a [[compare]] side selects `group` (fields the study does not vary are not in groups; they match)."""
    wanted = selected(selector)
    return wanted.family == group.family and all(group.settings.get(k, v) == v for k, v in wanted.fields)


def declared_pairs(
    groups: Iterable[Group], a: str | dict[str, Any], b: str | dict[str, Any]
) -> list[tuple[Group, Group]]:
    """Pairs (A, B) of a [[compare]]: a group of each side that agree on every varying field neither side fixes."""
    fixed = selected(a).settings | selected(b).settings
    groups = sorted(set(groups), key=str)
    agree = lambda ga, gb: all(  # noqa: E731
        ga.settings[f] == gb.settings[f] for f in ga.settings.keys() & gb.settings.keys() if f not in fixed
    )
    return [
        (ga, gb) for ga in groups if selects(a, ga) for gb in groups if selects(b, gb) and ga != gb and agree(ga, gb)
    ]


def default_pairs(groups: Iterable[Group]) -> list[tuple[Group, Group]]:
    """Without [[compare]]: every pair of groups that differ in one respect (family group, or one varying field)."""
    groups = sorted(set(groups), key=str)
    out = []
    for i, ga in enumerate(groups):
        for gb in groups[i + 1 :]:
            sa, sb = ga.settings, gb.settings
            differ = [f for f in sa.keys() & sb.keys() if sa[f] != sb[f]]
            if (ga.family != gb.family and not differ) or (
                ga.family == gb.family and len(differ) == 1 and sa.keys() == sb.keys()
            ):
                out.append((ga, gb))
    return out


def _seed_values(
    finals: pd.DataFrame, dataset: str, group: str, metric: str, at: str
) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """(size, seeds, values by seed) of each configuration of a group with at least one value, by its size `at`."""
    rows = finals[(finals["dataset"] == dataset) & (finals["group"] == group)].dropna(subset=[metric])
    rows = rows.sort_values([at, "seed"])
    sizes, seeds, values = rows[at].to_numpy(float), rows["seed"].to_numpy(), rows[metric].to_numpy(float)
    cuts = np.flatnonzero(np.diff(sizes)) + 1
    return [(float(p[0]), s, v) for p, s, v in zip(*(np.split(a, cuts) for a in (sizes, seeds, values)))]


def _resampled_means(
    configs: list[tuple[float, np.ndarray, np.ndarray]], rng: np.random.Generator, shared: np.ndarray | None, size: int
) -> np.ndarray:
    """[configs, size] means of resampled seeds: the `shared` seed indices for every configuration (paired),
    or indices drawn within each configuration (independent)."""
    draw = lambda n: shared if shared is not None else rng.integers(0, n, size=(size, n))  # noqa: E731
    return np.stack([v[draw(len(v))].mean(axis=1) for _, _, v in configs])


def _quantile_bounded(value: float, low: float, high: float) -> tuple[float, str]:
    """A quantile of reach_draws ratios, keeping their censoring: (low, "<") at 0, (high, ">") at inf."""
    if value == 0:
        return low, "<"
    return (high, ">") if np.isinf(value) else (float(value), "")


def gap_ratio(measured: np.ndarray, at: np.ndarray) -> np.ndarray:
    """At each of `at`, the ratio of the measured sizes it lies between (1 at a measured size, NaN outside)."""
    i = np.clip(np.searchsorted(measured, at), 1, max(len(measured) - 1, 1))
    ratio = measured[i] / measured[i - 1] if len(measured) > 1 else np.full(len(at), np.nan)
    inside = (at >= measured[0]) & (at <= measured[-1])
    return np.where(np.isclose(at[:, None], measured[None, :]).any(1), 1.0, np.where(inside, ratio, np.nan))


def compare_curves(
    finals: pd.DataFrame,
    dataset: str,
    a: str,
    b: str,
    metric: str = "test_accuracy",
    at: str = "params",
    resamples: int = N_RESAMPLES,
    margin: float | None = None,
) -> pd.DataFrame:
    """Difference A - B of the interpolated metric at every measured size `at` (params or macs) inside both groups' ranges.

    Rows: `x` is the number of parameters (or multiply-adds per example) at which A and B are compared; `seeds`
    the fewest seeds of any configuration; `design` "paired" when every configuration of both groups finished the
    same seeds (seed i shares its data order across configurations, so the seeds are resampled together) and
    "independent" otherwise; from MIN_SEEDS seeds on, `low`/`high` are the simultaneous max-|t| band (`interval`
    "band", `p` its p-value for "no difference at any budget"); below, the range of the per-seed differences when
    paired (`interval` "range"), nothing otherwise; `sd_diff` the standard deviation of the per-seed differences
    (paired only). The multiplier's interval comes from the same resamples. Paired, each budget's P(A beats B) over
    the seeds' interpolated values (`prob_improvement`, its bootstrap interval from MIN_SEEDS seeds on), and with a
    `margin` (the metric's units) from MIN_SEEDS seeds on, `p_tost`: the intersection-union p-value that A - B lies
    within +-margin at every budget (the largest of the budgets' TOST p-values). `a_gap`/`b_gap`: the ratio of the
    measured sizes a side's value is interpolated between (1 where measured), and `interpolant_spread` how far a
    second interpolant, linear in log size, moves the difference.
    """
    ca, cb = (_seed_values(finals, dataset, g, metric, at) for g in (a, b))
    if not ca or not cb:
        return pd.DataFrame()
    pa, pb = np.array([p for p, _, _ in ca]), np.array([p for p, _, _ in cb])
    lo, hi = max(pa.min(), pb.min()), min(pa.max(), pb.max())
    budgets = np.unique(np.concatenate([pa, pb]))
    budgets = budgets[(budgets >= lo) & (budgets <= hi)]
    if not len(budgets):
        return pd.DataFrame()
    seeds = [s for _, s, _ in ca + cb]
    paired = len(seeds[0]) > 1 and all(np.array_equal(s, seeds[0]) for s in seeds)
    n = min(len(s) for s in seeds)
    ma, mb = (np.array([v.mean() for _, _, v in c]) for c in (ca, cb))
    va, vb = interpolate(pa, ma, budgets), interpolate(pb, mb, budgets)
    diff = va - vb
    rng = np.random.default_rng(SEED)
    shared = rng.integers(0, n, size=(resamples, n)) if paired else None
    boot_a, boot_b = (_resampled_means(c, rng, shared, resamples) for c in (ca, cb))
    at_a = interpolate(pa, boot_a, budgets)
    low = high = sd_diff = np.full(len(budgets), np.nan)
    interval, p, p_tost = "", np.nan, np.nan
    poi = np.full((len(budgets), 3), np.nan)  # P(A beats B), its interval's ends
    if paired:  # each seed's own value on each curve at every budget [budgets, seeds], and their differences' spread
        seed_a, seed_b = (interpolate(pc, np.stack([v for _, _, v in c]), budgets) for pc, c in ((pa, ca), (pb, cb)))
        per_seed = seed_a - seed_b
        sd_diff = per_seed.std(axis=1, ddof=1)
        for i in range(len(budgets)):
            if n >= MIN_SEEDS:
                poi[i] = improvement_interval(seed_a[i], seed_b[i], True, LEVEL, SEED, resamples)
            else:
                poi[i, 0] = probability_of_improvement(seed_a[i], seed_b[i])
        if margin is not None and n >= MIN_SEEDS:
            # A - B within +-margin at every budget: each budget's TOST rejects, so the largest p says it for all
            p_tost = max(cast(float, tost(seed_a[i], seed_b[i], margin)["p"]) for i in range(len(budgets)))
    if n >= MIN_SEEDS:
        low, high, p = max_t_band(diff, at_a - interpolate(pb, boot_b, budgets), n, LEVEL, rng)
        interval = "band"
    elif paired:
        low, high, interval = per_seed.min(axis=1), per_seed.max(axis=1), "range"
    sign = 1.0 if metric_of(metric).higher_is_better else -1.0  # the better side up: accuracy, minus cross-entropy
    curve_b = len(pb) > 1
    reach = [params_to_reach(pb, sign * mb, sign * t) if curve_b else (np.nan, "") for t in va]
    ratios = reach_draws(pb, sign * boot_b, sign * at_a) / budgets[:, None] if curve_b else None
    ends = []
    for i, x in enumerate(budgets):
        if ratios is None:
            ends.append((np.nan, "", np.nan, ""))
            continue
        q_low = np.quantile(ratios[i], ALPHA / 2, method="lower")
        q_high = np.quantile(ratios[i], 1 - ALPHA / 2, method="higher")
        ends.append(
            (*_quantile_bounded(q_low, pb[0] / x, pb[-1] / x), *_quantile_bounded(q_high, pb[0] / x, pb[-1] / x))
        )
    excludes = (low > 0) | (high < 0) if interval == "band" else np.zeros(len(budgets), bool)
    # A second interpolant, linear in log size: where the curves are measured far apart, the two can disagree.
    linear = lambda pc, mc: np.interp(np.log10(budgets), np.log10(pc), mc)  # noqa: E731
    spread = np.abs(diff - (linear(pa, ma) - linear(pb, mb)))
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
            "diff": diff,
            "seeds": n,
            "design": "paired" if paired else "independent",
            "interval": interval,
            "low": low,
            "high": high,
            "excludes_zero": excludes,
            "p": p,
            "sd_diff": sd_diff,
            "prob_improvement": poi[:, 0],
            "poi_low": poi[:, 1],
            "poi_high": poi[:, 2],
            "margin": np.nan if margin is None else margin,
            "p_tost": p_tost,
            "a_gap": gap_ratio(pa, budgets),
            "b_gap": gap_ratio(pb, budgets),
            "interpolant_spread": spread,
            "b_to_match": [q for q, _ in reach],
            "multiplier": [q / x for (q, _), x in zip(reach, budgets)],
            "multiplier_bound": [bound for _, bound in reach],
            "multiplier_low": [e[0] for e in ends],
            "multiplier_low_bound": [e[1] for e in ends],
            "multiplier_high": [e[2] for e in ends],
            "multiplier_high_bound": [e[3] for e in ends],
        }
    )


def compare_matched(
    finals: pd.DataFrame, dataset: str, a: str, b: str, metric: str = "test_accuracy", margin: float | None = None
) -> pd.DataFrame:
    """At each budget both groups were solved for: mean difference with a paired t interval on the seeds both groups
    finished (when at least two; seed i shares its data order), else Welch's; P(improvement) with a percentile
    bootstrap interval (seeds resampled the same way); with a `margin`, `p_tost` that A - B lies within +-margin.
    Below MIN_SEEDS seeds, the range of the per-seed differences (paired) or nothing stands in for the interval, and
    no p-value is used."""
    rows = finals[(finals["dataset"] == dataset) & finals["budget"].notna()].dropna(subset=[metric])
    out = []
    for budget, runs in rows.groupby("budget", sort=True):
        side = {g: runs[runs["group"] == g].set_index("seed")[metric].sort_index() for g in (a, b)}
        x, y = side[a].to_numpy(float), side[b].to_numpy(float)
        if len(x) < 2 or len(y) < 2:
            continue
        common = side[a].index.intersection(side[b].index)
        paired = len(common) >= 2
        if paired:
            x, y = side[a][common].to_numpy(float), side[b][common].to_numpy(float)
        n = min(len(x), len(y))
        prob, *poi = improvement_interval(x, y, paired, LEVEL, SEED, N_RESAMPLES)
        p_tost = np.nan
        if n >= MIN_SEEDS:
            low, high, p = difference_ci(x, y, paired, LEVEL)
            interval, (poi_low, poi_high) = "ci", poi
            p_tost = np.nan if margin is None else cast(float, tost(x, y, margin, paired)["p"])
        else:
            low, high = seed_range(x - y) if paired else (np.nan, np.nan)
            p, interval, poi_low, poi_high = np.nan, "range" if paired else "", np.nan, np.nan
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
                "seeds": n,
                "design": "paired" if paired else "independent",
                "a_mean": x.mean(),
                "b_mean": y.mean(),
                "diff": x.mean() - y.mean(),
                "sd_diff": np.std(x - y, ddof=1) if paired else np.nan,  # the spread of the paired differences
                "interval": interval,
                "low": low,
                "high": high,
                "p": p,
                "prob_improvement": prob,
                "poi_low": poi_low,
                "poi_high": poi_high,
                "margin": np.nan if margin is None else margin,
                "p_tost": p_tost,
            }
        )
    return pd.DataFrame(out)

"""The question of equal budgets: each declared pair of groups compared at equal parameters (or multiply-adds) along
their curves, and at each matched budget, with Holm's correction within the headline and the exploratory comparisons
over all data sets (docs/statistics.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from itermap.analysis.compare import compare_curves, compare_matched, declared_pairs, default_pairs
from itermap.analysis.measured import Measured
from itermap.analysis.metrics import metric_of
from itermap.analysis.paired import ALPHA, adjust
from itermap.analysis.power import min_detectable_effect, seeds_needed
from itermap.analysis.verdict import curve_verdict, matched_verdict, no_overlap_verdict

NAME = "budgets"
TITLE = "Equal budgets: the declared pairs at equal parameters (or multiply-adds) and at matched budgets"


def comparisons_of(groups: list[str], compare: Sequence[Any]) -> list[tuple[str, str, str, bool]]:
    """(A, B, at, headline) to compare: each [[compare]]'s pairs at each of its `at` (headline if any [[compare]]
    naming the pair says so), or `default_pairs` at params, all exploratory, when none is declared."""
    if not compare:
        return [(a, b, "params", False) for a, b in default_pairs(groups)]
    found: dict[tuple[str, str, str], bool] = {}
    for c in compare:
        for at in c.at:
            for a, b in declared_pairs(groups, c.a, c.b):
                found[a, b, at] = found.get((a, b, at), False) or c.headline
    return [(*key, head) for key, head in found.items()]


def effects_of(groups: list[str], compare: Sequence[Any]) -> dict[tuple[str, str], float]:
    """The gap of interest (`effect`, display units) each declared pair's [[compare]] names, where one does."""
    found: dict[tuple[str, str], float] = {}
    for c in compare:
        if getattr(c, "effect", None) is not None:
            found |= dict.fromkeys(declared_pairs(groups, c.a, c.b), c.effect)
    return found


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def with_power(cmp: pd.DataFrame) -> pd.DataFrame:
    """Adds `mde`: per budget, the smallest true gap a paired t test on these seeds detects with 80% power at
    alpha / family_size, the stringency of Holm's first step (NaN where unpaired, untested or the seeds agree
    exactly): what "no clear difference" rules out; and `seeds_for_effect`: the seeds that would detect the pair's
    declared `effect` at the same spread."""
    if cmp.empty:
        return cmp
    testable = (cmp["design"] == "paired") & cmp["p"].notna() & (cmp["sd_diff"] > 0)
    cmp["mde"] = [
        min_detectable_effect(r.sd_diff, r.seeds, alpha=ALPHA / r.family_size) if ok else np.nan
        for ok, r in zip(testable, cmp.itertuples())
    ]
    effects = cmp["effect"] if "effect" in cmp else pd.Series(np.nan, index=cmp.index)
    cmp["seeds_for_effect"] = [
        _seeds_for(effect / metric_of(r.metric).scale, r.sd_diff, ALPHA / r.family_size)
        if ok and pd.notna(effect) else np.nan
        for ok, effect, r in zip(testable, effects, cmp.itertuples())
    ]  # fmt: skip
    return cmp


def _seeds_for(effect: float, sd: float, alpha: float) -> float:
    """Paired seeds that detect `effect` with 80% power at `alpha` (inf beyond power.MAX_SEEDS)."""
    try:
        return float(seeds_needed(effect, sd, alpha=alpha))
    except ValueError:
        return np.inf


def applies(data: Measured) -> bool:
    """Every study: its groups are compared (the declared pairs, else the default ones)."""
    return True


def tables(data: Measured) -> dict[str, pd.DataFrame]:
    """`comparisons` (along the curves, per budget), `matched` (at each matched budget) and `unshared` (pairs whose
    sizes do not overlap: their verdict)."""
    finals, metric = data.finals, data.metric
    has_budgets = "budget" in finals.columns and finals["budget"].notna().any()
    curves, matched, unshared = [], [], []
    for dataset in data.datasets:
        ran = data.summary[(data.summary["dataset"] == dataset) & data.summary[f"{metric}_mean"].notna()]
        compared = comparisons_of(ran["group"].tolist(), data.compare)
        effects = effects_of(ran["group"].tolist(), data.compare)
        for a, b, at, head in compared:
            found = compare_curves(finals, dataset, a, b, metric, at=at)
            if found.empty:
                pa, pb = (ran.loc[ran["group"] == g, at] for g in (a, b))
                unshared.append({"dataset": dataset, "a": a, "b": b, "at": at, "headline": head,
                                 "verdict": no_overlap_verdict(a, b, pa, pb, at)})  # fmt: skip
            curves.append(found.assign(headline=head, effect=effects.get((a, b), np.nan)))
        if has_budgets:
            pairs = dict.fromkeys((a, b, head) for a, b, _, head in compared)
            matched += [compare_matched(finals, dataset, a, b, metric).assign(headline=h) for a, b, h in pairs]
    cmp = with_power(adjust(_concat(curves), ["dataset", "a", "b", "at"]))
    if not cmp.empty:
        order = ["dataset", "headline", "at", "a", "b", "x"]
        cmp = cmp.sort_values(order, ascending=[True, False, False, True, True, True], ignore_index=True)
    direct = adjust(_concat(matched), ["dataset", "a", "b", "budget"])
    if not direct.empty:
        order = ["dataset", "headline", "a", "b", "budget"]
        direct = direct.sort_values(order, ascending=[True, False, True, True, True], ignore_index=True)
    return {"comparisons": cmp, "matched": direct, "unshared": pd.DataFrame(unshared)}


def verdicts(found: dict[str, pd.DataFrame], dataset: str) -> list[str]:
    """Per pair: along the curves at each `at`, then at the matched budgets, then the pairs without shared sizes."""
    mine = {k: t[t["dataset"] == dataset] for k, t in found.items() if len(t)}
    curves, matched, unshared = (mine.get(k, pd.DataFrame()) for k in ("comparisons", "matched", "unshared"))
    out = [curve_verdict(c) for _, c in curves.groupby(["headline", "at", "a", "b"], sort=False)] if len(curves) else []
    out += [matched_verdict(c) for _, c in matched.groupby(["headline", "a", "b"], sort=False)] if len(matched) else []
    return out + (unshared["verdict"].tolist() if len(unshared) else [])

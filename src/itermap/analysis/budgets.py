"""The question of equal budgets: each declared pair of groups compared at equal parameters (or multiply-adds) along
their curves, and at each matched budget, with Holm's correction within the headline and the exploratory comparisons
over all data sets (docs/statistics.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from itermap.analysis.compare import apart, common, compare_curves, compare_matched, declared_pairs, default_pairs
from itermap.analysis.intervals import MIN_SEEDS
from itermap.analysis.measured import Measured
from itermap.analysis.metrics import metric_of
from itermap.analysis.paired import ALPHA, adjust
from itermap.analysis.power import min_detectable_effect, seeds_needed
from itermap.analysis.results import Group
from itermap.analysis.verdict import NAMES, curve_verdict, matched_verdict, no_overlap_verdict

NAME = "budgets"
TITLE = "Equal budgets: the declared pairs at equal parameters (or multiply-adds) and at matched budgets"


def comparisons_of(groups: Iterable[Group], compare: Sequence[Any]) -> list[tuple[Group, Group, str, bool]]:
    """(A, B, at, headline) to compare: each [[compare]]'s pairs at each of its `at` (headline if any [[compare]]
    naming the pair says so), or `default_pairs` at params, all exploratory, when none is declared."""
    if not compare:
        return [(a, b, "params", False) for a, b in default_pairs(groups)]
    found: dict[tuple[Group, Group, str], bool] = {}
    for c in compare:
        for at in c.at:
            for a, b in declared_pairs(groups, c.a, c.b):
                found[a, b, at] = found.get((a, b, at), False) or c.headline
    return [(*key, head) for key, head in found.items()]


def declared(groups: Iterable[Group], compare: Sequence[Any], key: str) -> dict[tuple[Group, Group], float]:
    """What each declared pair's [[compare]] names for `key` (`effect`: the gap of interest; `margin`: the
    equivalence margin; display units), where one does."""
    found: dict[tuple[Group, Group], float] = {}
    for c in compare:
        if getattr(c, key, None) is not None:
            found |= dict.fromkeys(declared_pairs(groups, c.a, c.b), getattr(c, key))
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
        if ok and pd.notna(effect)
        else np.nan
        for ok, effect, r in zip(testable, effects, cmp.itertuples())
    ]
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


def unshared_row(
    dataset: str, a: str, b: str, at: str, headline: bool, pa: pd.Series, pb: pd.Series, names: tuple[str, str, str]
) -> dict[str, Any]:
    """The `unshared` row of a pair whose measured sizes `pa`, `pb` (params or macs: `at`) do not overlap: its verdict."""
    verdict = no_overlap_verdict(a, b, pa, pb, at, names)
    return {"dataset": dataset, "a": a, "b": b, "at": at, "headline": headline, "verdict": verdict}


def tables(data: Measured) -> dict[str, pd.DataFrame]:
    """`comparisons` (along the curves, per budget), `matched` (at each matched budget) and `unshared` (pairs whose
    sizes do not overlap: their verdict)."""
    finals, metric = data.finals, data.metric
    has_budgets = "budget" in finals.columns and finals["budget"].notna().any()
    curves, matched, unshared, names = [], [], [], {}
    pairs = {dataset: comparisons_of(_ran(data, dataset), data.compare) for dataset in data.datasets}
    shared = common(g for compared in pairs.values() for ga, gb, *_ in compared for g in (ga, gb))
    for dataset in data.datasets:
        ran = data.summary[(data.summary["dataset"] == dataset) & data.summary[f"{metric}_mean"].notna()]
        groups, compared = _ran(data, dataset), pairs[dataset]
        effects, scale = declared(groups, data.compare, "effect"), metric_of(metric).scale
        margins = {pair: m / scale for pair, m in declared(groups, data.compare, "margin").items()}  # display units
        for ga, gb, at, head in compared:
            a, b = str(ga), str(gb)
            names[a, b] = apart(ga, gb, shared)
            found = compare_curves(finals, dataset, a, b, metric, at=at, margin=margins.get((ga, gb)))
            if found.empty:
                pa, pb = (ran.loc[ran["group"] == g, at] for g in (a, b))
                unshared.append(unshared_row(dataset, a, b, at, head, pa, pb, names[a, b]))
            curves.append(found.assign(headline=head, effect=effects.get((ga, gb), np.nan)))
        if has_budgets:
            for ga, gb, head in dict.fromkeys((a, b, head) for a, b, _, head in compared):
                found = compare_matched(finals, dataset, str(ga), str(gb), metric, margins.get((ga, gb)))
                matched.append(found.assign(headline=head, effect=effects.get((ga, gb), np.nan)))
    cmp = with_power(adjust(_concat(curves), ["dataset", "a", "b", "at"], also=("p_tost",)))
    if not cmp.empty:
        order = ["dataset", "headline", "at", "a", "b", "x"]
        cmp = cmp.sort_values(order, ascending=[True, False, False, True, True, True], ignore_index=True)
    direct = with_power(adjust(_concat(matched), ["dataset", "a", "b", "budget"], also=("p_tost",)))
    if not direct.empty:
        order = ["dataset", "headline", "a", "b", "budget"]
        direct = direct.sort_values(order, ascending=[True, False, True, True, True], ignore_index=True)
    said = pd.DataFrame([(a, b, *n) for (a, b), n in names.items()], columns=["a", "b", *NAMES])
    held = pd.DataFrame({"field": list(shared), "value": list(shared.values())})
    return {"comparisons": cmp, "matched": direct, "unshared": pd.DataFrame(unshared), "names": said, "shared": held}


def _ran(data: Measured, dataset: str) -> list[Group]:
    """The groups with a mean of the compared metric on `dataset`."""
    ran = data.summary[(data.summary["dataset"] == dataset) & data.summary[f"{data.metric}_mean"].notna()]
    return [data.groups[name] for name in ran["group"].unique()]


def answer(curves: pd.DataFrame, matched: pd.DataFrame, shared: pd.DataFrame) -> str:
    """The question's answer in counts, before the per-pair detail: how many comparisons found the first-named group
    ahead, the second, neither; how many matched-budget tests found a difference; the fields every group shares."""
    said = []
    if len(curves):
        kinds = []
        for _, c in curves.groupby(["headline", "at", "a", "b"], sort=False):
            if c["interval"].iloc[0] != "band":
                kinds.append("descriptive")
                continue
            sides = set(np.sign(c.loc[c["excludes_zero"] & c["significant"], "diff"]))
            kinds.append(
                {frozenset({1.0}): "first", frozenset({-1.0}): "second"}.get(
                    frozenset(sides), "none" if not sides else "both"
                )
            )
        n, heads = len(kinds), curves.drop_duplicates(["at", "a", "b"])["headline"].sum()
        counts = [
            f"{kinds.count(k)} {what}"
            for k, what in (
                ("first", "with the first-named group ahead"),
                ("second", "with the second ahead"),
                ("both", "with each ahead somewhere"),
                ("none", "with no clear difference"),
                ("descriptive", f"descriptive only (fewer than {MIN_SEEDS} seeds)"),
            )
            if kinds.count(k)
        ]
        said.append(f"{n} comparisons along the curves ({heads} headline): " + ", ".join(counts))
    if len(matched):
        tested = matched[matched["interval"] == "ci"]
        clear = int(tested["significant"].sum())
        said.append(
            f"{len(matched)} comparisons at matched budgets, "
            + (
                f"{clear} of {len(tested)} tested with a clear difference after Holm"
                if len(tested)
                else "descriptive only"
            )
        )
    if len(shared):
        said.append("every group compared holds " + ", ".join(f"{r.field}={r.value}" for r in shared.itertuples()))
    return "; ".join(said) + "." if said else ""


def verdicts(found: dict[str, pd.DataFrame], dataset: str) -> list[str]:
    """Per pair: along the curves at each `at`, then at the matched budgets, then the pairs without shared sizes."""
    mine = {k: t[t["dataset"] == dataset] for k, t in found.items() if len(t) and "dataset" in t}
    curves, matched, unshared = (mine.get(k, pd.DataFrame()) for k in ("comparisons", "matched", "unshared"))
    named = found.get("names", pd.DataFrame(columns=["a", "b", *NAMES]))
    names = {(r.a, r.b): (r.shared, r.a_name, r.b_name) for r in named.itertuples()}
    said = lambda c: names.get((c["a"].iloc[0], c["b"].iloc[0]))  # noqa: E731
    by = lambda t, keys: t.groupby(keys, sort=False) if len(t) else []  # noqa: E731
    opening = answer(curves, matched, found.get("shared", pd.DataFrame()))
    out = [opening] if opening else []
    out += [curve_verdict(c, said(c)) for _, c in by(curves, ["headline", "at", "a", "b"])]
    out += [matched_verdict(c, said(c)) for _, c in by(matched, ["headline", "a", "b"])]
    return out + (unshared["verdict"].tolist() if len(unshared) else [])

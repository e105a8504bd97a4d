"""Everything the report shows, computed once from a study's tidy results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from itermap.analysis.aggregate import final_metrics, summarize
from itermap.analysis.compare import compare_curves, compare_matched, declared_pairs, default_pairs
from itermap.analysis.continua import continua_tables, continua_verdicts
from itermap.analysis.convergence import convergence
from itermap.analysis.depth import depth_tables, depth_verdicts
from itermap.analysis.fidelity import fewest_params_verdicts, fidelity_table
from itermap.analysis.paired import adjust
from itermap.analysis.verdict import (
    curve_verdict,
    diverged_notes,
    improving_notes,
    matched_verdict,
    no_overlap_verdict,
)


@dataclass
class Analysis:
    """Tidy results and what is derived from them, per data set where it applies."""

    results: pd.DataFrame
    finals: pd.DataFrame
    summary: pd.DataFrame
    comparisons: pd.DataFrame
    matched: pd.DataFrame
    convergence: pd.DataFrame
    headline: set[tuple[str, str]] = field(default_factory=set)
    verdicts: dict[str, list[str]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    anytime: pd.DataFrame = field(default_factory=pd.DataFrame)  # rows of every step's prediction (a `step`)
    depth: dict[str, pd.DataFrame] = field(default_factory=dict)  # analysis/depth.py: anytime, tying, supervision, 2x2
    fidelity: pd.DataFrame = field(default_factory=pd.DataFrame)  # analysis/fidelity.py: students against a teacher
    continua: dict[str, pd.DataFrame] = field(default_factory=dict)  # analysis/continua.py: windows, sparsity

    @property
    def datasets(self) -> list[str]:
        return sorted(self.summary["dataset"].unique())


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


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


def analyze(results: pd.DataFrame, metric: str = "test_accuracy", compare: Sequence[Any] = ()) -> Analysis:
    """Aggregate, compare the declared pairs of groups on `metric` (curves, and matched budgets when present), correct
    for multiplicity (Holm within headline and exploratory comparisons over all data sets), write verdicts and notes.

    `compare`: the study's [[compare]] tables (anything with `a`, `b`, `at` and `headline`); none compares
    `default_pairs`, all exploratory.
    """
    stepped = results["step"].notna() if "step" in results else pd.Series(False, index=results.index)
    anytime, results = results[stepped], results[~stepped]  # the model's prediction is what is compared
    finals, summary = final_metrics(results), summarize(results)
    has_budgets = "budget" in finals.columns and finals["budget"].notna().any()
    curves, matched, apart, headline = [], [], {}, set()
    depth = depth_tables(results, anytime)
    continua = continua_tables(results)
    for dataset in sorted(summary["dataset"].unique()):
        ran = summary[(summary["dataset"] == dataset) & summary[f"{metric}_mean"].notna()]
        compared = comparisons_of(ran["group"].tolist(), compare)
        headline |= {(a, b) for a, b, _, head in compared if head}
        for a, b, at, head in compared:
            found = compare_curves(finals, dataset, a, b, metric, at=at)
            if found.empty:
                sizes = (ran.loc[ran["group"] == g, at] for g in (a, b))
                apart.setdefault(dataset, []).append(no_overlap_verdict(a, b, *sizes, at))
            curves.append(found.assign(headline=head))
        if has_budgets:
            pairs = dict.fromkeys((a, b, head) for a, b, _, head in compared)
            matched += [compare_matched(finals, dataset, a, b, metric).assign(headline=h) for a, b, h in pairs]
    cmp = adjust(_concat(curves), ["dataset", "a", "b", "at"])
    direct = adjust(_concat(matched), ["dataset", "a", "b", "budget"])
    if not cmp.empty:
        cmp = cmp.sort_values(
            ["dataset", "headline", "at", "a", "b", "x"], ascending=[True, False, False, True, True, True]
        )
        cmp = cmp.reset_index(drop=True)
    conv = convergence(results)
    fidelity = fidelity_table(results)
    verdicts, notes = {}, {}
    for dataset in sorted(summary["dataset"].unique()):
        mine = cmp[cmp["dataset"] == dataset] if len(cmp) else cmp
        direct_mine = direct[direct["dataset"] == dataset] if len(direct) else direct
        verdicts[dataset] = (
            [curve_verdict(c) for _, c in mine.groupby(["headline", "at", "a", "b"], sort=False)] if len(mine) else []
        )
        verdicts[dataset] += (
            [matched_verdict(c) for _, c in direct_mine.groupby(["headline", "a", "b"], sort=False)]
            if len(direct_mine)
            else []
        )
        verdicts[dataset] += apart.get(dataset, []) + depth_verdicts(depth, dataset)
        verdicts[dataset] += fewest_params_verdicts(fidelity, dataset)
        verdicts[dataset] += continua_verdicts(continua, dataset)
        notes[dataset] = improving_notes(conv[conv["dataset"] == dataset]) + diverged_notes(
            summary[summary["dataset"] == dataset]
        )
    if len(direct):
        direct = direct.sort_values(
            ["dataset", "headline", "a", "b", "budget"], ascending=[True, False, True, True, True]
        )
        direct = direct.reset_index(drop=True)
    return Analysis(
        results, finals, summary, cmp, direct, conv, headline, verdicts, notes, anytime, depth, fidelity, continua
    )

"""Everything the report shows, computed once from a study's tidy results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from itermap.analysis.aggregate import final_metrics, summarize
from itermap.analysis.compare import compare_curves, compare_matched, declared_pairs, default_pairs, headline_pair
from itermap.analysis.depth import depth_tables, depth_verdicts
from itermap.analysis.verdict import curve_verdict, matched_verdict, no_overlap_verdict


@dataclass
class Analysis:
    """Tidy results and what is derived from them, per data set where it applies."""

    results: pd.DataFrame
    finals: pd.DataFrame
    summary: pd.DataFrame
    comparisons: pd.DataFrame
    matched: pd.DataFrame
    headlines: dict[str, tuple[str, str] | None] = field(default_factory=dict)
    verdicts: dict[str, list[str]] = field(default_factory=dict)
    anytime: pd.DataFrame = field(default_factory=pd.DataFrame)  # rows of every step's prediction (a `step`)
    depth: dict[str, pd.DataFrame] = field(default_factory=dict)  # analysis/depth.py: anytime, tying, supervision, 2x2

    @property
    def datasets(self) -> list[str]:
        return sorted(self.summary["dataset"].unique())


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def comparisons_of(groups: list[str], compare: Sequence[Any]) -> list[tuple[str, str, str]]:
    """(A, B, at) to compare: each [[compare]]'s pairs at each of its `at`, or `default_pairs` at params when none is declared."""
    if not compare:
        return [(a, b, "params") for a, b in default_pairs(groups)]
    found = [(a, b, at) for c in compare for at in c.at for a, b in declared_pairs(groups, c.a, c.b)]
    return list(dict.fromkeys(found))


def analyze(results: pd.DataFrame, metric: str = "test_accuracy", compare: Sequence[Any] = ()) -> Analysis:
    """Aggregate, compare the declared pairs of groups on `metric` (curves, and matched budgets when present), write verdicts.

    `compare`: the study's [[compare]] tables (anything with `a`, `b` and `at`); none compares `default_pairs`.
    """
    stepped = results["step"].notna() if "step" in results else pd.Series(False, index=results.index)
    anytime, results = results[stepped], results[~stepped]  # the model's prediction is what is compared
    finals, summary = final_metrics(results), summarize(results)
    has_budgets = "budget" in finals.columns and finals["budget"].notna().any()
    curves, matched, headlines, verdicts = [], [], {}, {}
    depth = depth_tables(results, anytime)
    for dataset in sorted(summary["dataset"].unique()):
        ran = summary[(summary["dataset"] == dataset) & summary[f"{metric}_mean"].notna()]
        compared = comparisons_of(ran["group"].tolist(), compare)
        found = {key: compare_curves(finals, dataset, *key[:2], metric, at=key[2]) for key in compared}
        pairs = list(dict.fromkeys((a, b) for a, b, _ in compared))
        direct = [compare_matched(finals, dataset, *pair, metric) for pair in pairs] if has_budgets else []
        headlines[dataset] = head = headline_pair(_concat([c for (_, _, at), c in found.items() if at == "params"]))
        shared = sorted(
            (key for key in compared if not found[key].empty), key=lambda key: (key[2] != "params", key[:2] != head)
        )
        apart = [key for key in compared if found[key].empty]
        verdicts[dataset] = (
            [curve_verdict(found[key]) for key in shared]
            + [matched_verdict(c) for c in direct if not c.empty]
            + [no_overlap_verdict(a, b, *(ran.loc[ran["group"] == g, at] for g in (a, b)), at) for a, b, at in apart]
            + depth_verdicts(depth, dataset)
        )
        curves += [found[key] for key in shared]
        matched += direct
    return Analysis(results, finals, summary, _concat(curves), _concat(matched), headlines, verdicts, anytime, depth)

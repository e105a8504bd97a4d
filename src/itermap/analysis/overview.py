"""Everything the report shows, computed once from a study's tidy results."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from itermap.analysis.aggregate import final_metrics, summarize
from itermap.analysis.compare import compare_curves, compare_matched, headline_pair, pairs
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

    @property
    def datasets(self) -> list[str]:
        return sorted(self.summary["dataset"].unique())


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def analyze(results: pd.DataFrame, metric: str = "test_accuracy") -> Analysis:
    """Aggregate, compare every pair of groups on `metric` (curves, and matched budgets when present), and write verdicts."""
    finals, summary = final_metrics(results), summarize(results)
    has_budgets = "budget" in finals.columns and finals["budget"].notna().any()
    curves, matched, headlines, verdicts = [], [], {}, {}
    for dataset in sorted(summary["dataset"].unique()):
        ran = summary[(summary["dataset"] == dataset) & summary[f"{metric}_mean"].notna()]
        compared = pairs(ran["group"].tolist())
        found = {pair: compare_curves(finals, dataset, *pair, metric) for pair in compared}
        direct = [compare_matched(finals, dataset, *pair, metric) for pair in compared] if has_budgets else []
        headlines[dataset] = head = headline_pair(_concat(list(found.values())))
        shared = sorted((pair for pair in compared if not found[pair].empty), key=lambda pair: pair != head)
        apart = [pair for pair in compared if found[pair].empty]
        verdicts[dataset] = (
            [curve_verdict(found[pair]) for pair in shared]
            + [matched_verdict(c) for c in direct if not c.empty]
            + [no_overlap_verdict(*pair, *(ran.loc[ran["group"] == g, "params"] for g in pair)) for pair in apart]
        )
        curves += [found[pair] for pair in shared]
        matched += direct
    return Analysis(results, finals, summary, _concat(curves), _concat(matched), headlines, verdicts)

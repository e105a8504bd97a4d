"""What every question reads: a study's tidy rows and what the core analysis derives from them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from itermap.analysis.results import Group


@dataclass(frozen=True)
class Measured:
    """A study's results as the questions receive them (analysis/questions.py)."""

    results: pd.DataFrame  # the tidy rows of each model's prediction (load_results, less the per-step rows)
    anytime: pd.DataFrame  # the rows of every step's prediction (a `step`), where the study recorded them
    finals: pd.DataFrame  # one row per finished run: its final metrics and config (aggregate.final_metrics)
    summary: pd.DataFrame  # one row per configuration, aggregated over seeds (aggregate.summarize)
    metric: str  # what comparisons compare, a column of `finals` ("test_accuracy")
    compare: Sequence[Any]  # the study's [[compare]] tables (`a`, `b`, `at`, `headline`); none: the default pairs
    groups: Mapping[str, Group] = field(
        default_factory=dict
    )  # the group behind each name of the `group` column (results.groups)
    select: str = "final"  # [analysis] select: how a tuned study picks its runs (analysis/selection.py)

    @property
    def datasets(self) -> list[str]:
        return sorted(self.summary["dataset"].unique())

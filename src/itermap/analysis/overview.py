"""Everything the report shows, computed once from a study's tidy results: the core tables, then each registered
question's tables, verdicts and notes (analysis/questions.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from itermap.analysis.aggregate import final_metrics, summarize
from itermap.analysis.measured import Measured
from itermap.analysis.questions import QUESTIONS
from itermap.analysis.results import groups
from itermap.analysis.verdict import diverged_notes


@dataclass
class Analysis:
    """Tidy results, the core tables derived from them, and each question's tables (`found`), verdicts and notes."""

    results: pd.DataFrame  # the model's rows (load_results, less the per-step rows)
    finals: pd.DataFrame  # one row per finished run
    summary: pd.DataFrame  # one row per configuration
    anytime: pd.DataFrame = field(default_factory=pd.DataFrame)  # rows of every step's prediction (a `step`)
    found: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)  # per question that applies: its tables
    answers: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # per data set, per question: its verdicts
    notes: dict[str, list[str]] = field(default_factory=dict)  # per data set

    @property
    def datasets(self) -> list[str]:
        return sorted(self.summary["dataset"].unique())

    @property
    def verdicts(self) -> dict[str, list[str]]:
        """Per data set, every question's verdicts, in the order of the questions."""
        return {dataset: [v for said in by.values() for v in said] for dataset, by in self.answers.items()}

    def table(self, question: str, name: str, dataset: str | None = None) -> pd.DataFrame:
        """One table of a question (its rows of one `dataset`, if given); empty where the question did not apply or
        has no such table."""
        table = self.found.get(question, {}).get(name, pd.DataFrame())
        return table[table["dataset"] == dataset] if dataset is not None and len(table) else table


def analyze(
    results: pd.DataFrame, metric: str = "test_accuracy", compare: Sequence[Any] = (), select: str = "final"
) -> Analysis:
    """Aggregate over seeds, then ask every registered question that applies for its tables, verdicts and notes.

    `metric`: what the comparisons compare (a column of `finals`). `compare`: the study's [[compare]] tables (anything
    with `a`, `b`, `at` and `headline`); none compares `default_pairs`, all exploratory. `select`: the study's
    [analysis] select (analysis/selection.py).
    """
    named = groups(results)
    stepped = results["step"].notna() if "step" in results else pd.Series(False, index=results.index)
    anytime, results = results[stepped], results[~stepped]  # the model's prediction is what is compared
    finals, summary = final_metrics(results), summarize(results)
    data = Measured(results, anytime, finals, summary, metric, compare, named, select)
    found = {name: q.tables(data) for name, q in QUESTIONS.items() if q.applies(data)}
    answers, notes = {}, {}
    for dataset in data.datasets:
        said = {name: QUESTIONS[name].verdicts(tables, dataset) for name, tables in found.items()}
        answers[dataset] = {name: verdicts for name, verdicts in said.items() if verdicts}
        notes[dataset] = [
            n
            for name, tables in found.items()
            if hasattr(QUESTIONS[name], "notes")
            for n in QUESTIONS[name].notes(tables, dataset)
        ] + diverged_notes(summary[summary["dataset"] == dataset])
    return Analysis(results, finals, summary, anytime, found, answers, notes)

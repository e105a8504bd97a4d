"""A question and its report section defined here, registered with one call each, appear in `analyze`, summary.md
and report.html: adding a question is two modules and nothing else."""

from __future__ import annotations

import types

import pandas as pd
import pytest
from matplotlib.figure import Figure

import itermap
from itermap.analysis import questions
from itermap.report import sections, write_report
from itermap.report.figures import Drawn


def _tables(data) -> dict[str, pd.DataFrame]:
    """Finished runs per data set and group: the toy question's one table."""
    runs = data.finals.groupby(["dataset", "group"], as_index=False).agg(runs=("run_id", "size"))
    return {"runs": runs}


def _verdicts(found: dict[str, pd.DataFrame], dataset: str) -> list[str]:
    mine = found["runs"][found["runs"]["dataset"] == dataset]
    return [f"Toy: {int(mine['runs'].sum())} finished runs in {len(mine)} groups."]


def _figures(an, dataset: str) -> list[Drawn]:
    fig = Figure(figsize=(3, 2))
    runs = an.table("toy", "runs")
    fig.subplots().bar(range(len(runs)), runs["runs"])
    return [Drawn("toy-runs", fig, "Toy caption: finished runs per group.")]


def _section_tables(an, dataset: str) -> list[tuple[str, pd.DataFrame]]:
    runs = an.table("toy", "runs")
    return [("Toy: runs per group", runs[runs["dataset"] == dataset])]


QUESTION = types.ModuleType("toy_question")
QUESTION.__dict__.update(NAME="toy", TITLE="Toy runs", applies=lambda data: True, tables=_tables, verdicts=_verdicts)
SECTION = types.ModuleType("toy_section")
SECTION.__dict__.update(QUESTION="toy", figures=_figures, tables=_section_tables)


@pytest.fixture
def toy_registered():
    questions.register(QUESTION)
    sections.register(SECTION)
    try:
        yield
    finally:
        questions.unregister("toy")
        sections.unregister(SECTION)


def test_a_registered_question_and_section_reach_analyze_summary_and_html(tiny_study, tmp_path, toy_registered):
    an = itermap.analyze(tiny_study)
    runs = an.found["toy"]["runs"]
    finals = an.finals.dropna(subset=["test_accuracy"])
    assert runs["runs"].sum() == len(finals) and set(runs["group"]) == set(finals["group"])
    (dataset,) = an.datasets
    assert an.verdicts[dataset][-1] == f"Toy: {len(finals)} finished runs in {len(runs)} groups."
    write_report(tiny_study, tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert f"**Toy runs**\n\n- Toy: {len(finals)} finished runs" in summary and "### Toy: runs per group" in summary
    html = (tmp_path / "report.html").read_text()
    assert "Toy caption: finished runs per group." in html and "<h3>Toy: runs per group</h3>" in html
    assert (tmp_path / "figures" / f"{dataset}-toy-runs.png").is_file()


def test_unregistered_question_leaves_no_trace(tiny_study):
    assert "toy" not in itermap.analyze(tiny_study).found
    with pytest.raises(TypeError, match="needs TITLE, applies, tables, verdicts"):
        questions.register(_half())
    with pytest.raises(TypeError, match="needs QUESTION, figures, tables"):
        sections.register(types.ModuleType("bare"))


def _half() -> types.ModuleType:
    half = types.ModuleType("half")
    half.NAME = "half"
    return half

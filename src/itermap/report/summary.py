"""summary.md: the verdicts and key tables of a study in plain text."""

from __future__ import annotations

from itermap.analysis.overview import Analysis
from itermap.analysis.questions import title
from itermap.report import sections, tables


def summary_markdown(an: Analysis, study: str, sessions: list[dict] | None = None) -> str:
    """The study's summary: run totals, per data set its verdicts and tables, then the recorded environment of each
    training session (`sessions`, study_info's `environment`)."""
    totals = tables.run_totals(an.summary)
    parts = [
        f"# itermap study `{study}`: summary",
        tables.NOTE,
        "Runs: {planned} planned, {done} done, {diverged} diverged, {missing} missing.".format(**totals),
    ]
    if totals["missing"]:
        parts.append("**Partial study**: configurations marked `missing` have no finished run yet.")
    for dataset in an.datasets:
        parts += [f"## {dataset}", "### Verdicts"]
        answers = an.answers.get(dataset, {})
        parts += [f"**{title(name)}**\n\n" + "\n".join(f"- {v}" for v in said) for name, said in answers.items()]
        parts += [] if answers else ["No pair of groups with finished runs to compare."]
        if an.notes.get(dataset):
            parts += ["### Convergence and divergence notes", "\n".join(f"- {n}" for n in an.notes[dataset])]
        parts += [p for title, table in sections.tables(an, dataset) for p in (f"### {title}", tables.markdown(table))]
    if sessions:
        parts += ["## Study", "### Environment", tables.markdown(tables.environment(sessions))]
    return "\n\n".join(parts) + "\n"

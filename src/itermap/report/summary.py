"""summary.md: the verdicts and key tables of a study in plain text."""

from __future__ import annotations

from itermap.analysis.overview import Analysis
from itermap.report import tables
from itermap.report.continua import continua_sections
from itermap.report.depth import depth_sections
from itermap.report.fidelity import fidelity_sections


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
        parts.append(
            "\n".join(f"- {v}" for v in an.verdicts.get(dataset, []))
            or "No pair of groups with finished runs to compare."
        )
        if an.notes.get(dataset):
            parts += ["### Convergence and divergence notes", "\n".join(f"- {n}" for n in an.notes[dataset])]
        parts += ["### Configurations", tables.markdown(tables.configurations(an.summary, dataset))]
        sections = [
            *(
                (f"### {title}", tables.comparison(an.comparisons, dataset, at))
                for at, title in tables.COMPARISON_TITLES.items()
            ),
            ("### Matched budgets: direct comparisons of test accuracy", tables.matched(an.matched, dataset)),
            ("### Convergence of test accuracy", tables.convergence(an.convergence, dataset)),
            ("### Diverged runs", tables.diverged(an.results, dataset)),
            *((f"### {title}", table) for title, table in depth_sections(an, dataset)),
            *((f"### {title}", table) for title, table in fidelity_sections(an, dataset)),
            *((f"### {title}", table) for title, table in continua_sections(an, dataset)),
        ]
        parts += [p for title, table in sections if len(table) for p in (title, tables.markdown(table))]
    if sessions:
        parts += ["## Study", "### Environment", tables.markdown(tables.environment(sessions))]
    return "\n\n".join(parts) + "\n"

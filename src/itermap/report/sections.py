"""The sections of a report, found from one list like the questions (analysis/questions.py) and the families.

A section is a module with one face:

| name | meaning |
|---|---|
| `QUESTION` | the question whose tables it shows (`Analysis.found`), or None for what every study shows |
| `figures(an, dataset)` | its figures of one data set: `Drawn(stem, figure, caption)`, the caption beside each |
| `tables(an, dataset)` | its tables of one data set: (title, DataFrame), formatted for reading; empty ones are left out |

summary.md and report.html show each section whose question applied, in this list's order: summary.md its tables
as Markdown, report.html its figures with their captions, then its tables (summary.py, html.py).
"""

from __future__ import annotations

from types import ModuleType

import pandas as pd

from itermap.analysis.overview import Analysis
from itermap.report import budgets, configurations, continua, convergence, depth, fidelity, selection, sharing, variance
from itermap.report.figures import Drawn

BUILTIN = [configurations, selection, budgets, convergence, depth, sharing, fidelity, continua, variance]
SECTIONS: list[ModuleType] = list(BUILTIN)


def register(section: ModuleType) -> None:
    """Add a section module (its `QUESTION`, `figures`, `tables`), shown after those already here."""
    missing = [f for f in ("QUESTION", "figures", "tables") if not hasattr(section, f)]
    if missing:
        raise TypeError(f"{section.__name__}: a report section needs {', '.join(missing)}")
    SECTIONS.append(section)


def unregister(section: ModuleType) -> None:
    """Remove a section (a registered one, or a built-in one)."""
    if section in SECTIONS:
        SECTIONS.remove(section)


def shown(an: Analysis) -> list[ModuleType]:
    """The sections of this analysis: the core ones and those whose question applied."""
    return [s for s in SECTIONS if s.QUESTION is None or s.QUESTION in an.found]


def figures(an: Analysis, dataset: str) -> list[Drawn]:
    """Every section's figures of one data set, in order."""
    return [drawn for s in shown(an) for drawn in s.figures(an, dataset)]


def tables(an: Analysis, dataset: str) -> list[tuple[str, pd.DataFrame]]:
    """Every section's non-empty tables of one data set, in order, with their titles."""
    return [(title, table) for s in shown(an) for title, table in s.tables(an, dataset) if len(table)]

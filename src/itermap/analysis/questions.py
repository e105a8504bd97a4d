"""The questions a study can answer, found by name like the model families (models.BUILTIN).

A question is a module with one face:

| name | meaning |
|---|---|
| `NAME` | its name: the key of its tables in `Analysis.found` and of its verdicts in `Analysis.answers` |
| `TITLE` | what a reader sees above its verdicts ("Equal budgets") |
| `applies(data)` | whether the study's results (`Measured`) hold what it needs |
| `tables(data)` | its tables, by name: DataFrames over every data set (a `dataset` column where they split) |
| `verdicts(found, dataset)` | its verdicts for one data set, read from its own tables |
| `notes(found, dataset)` | optional: remarks for one data set that are not verdicts (convergence) |

`analyze` asks each registered question in turn, so its verdicts come in this list's order. A report section
(report/sections.py) shows a question's tables and figures.
"""

from __future__ import annotations

from types import ModuleType

from itermap.analysis import budgets, continua, convergence, depth, fidelity, selection, sharing, variance

# The questions a preset is built for speak first; the equal-budget comparisons of every study's groups follow.
BUILTIN = [depth, sharing, fidelity, continua, variance, selection, budgets, convergence]
QUESTIONS: dict[str, ModuleType] = {q.NAME: q for q in BUILTIN}


def register(question: ModuleType) -> None:
    """Add a question module (its `NAME`, `TITLE`, `applies`, `tables`, `verdicts`), asked after those here."""
    missing = [f for f in ("NAME", "TITLE", "applies", "tables", "verdicts") if not hasattr(question, f)]
    if missing:
        raise TypeError(f"{question.__name__}: a question module needs {', '.join(missing)}")
    QUESTIONS[question.NAME] = question


def title(name: str) -> str:
    """A question's title by its name."""
    return QUESTIONS[name].TITLE


def unregister(name: str) -> None:
    """Remove a question by name (a registered one, or a built-in one a study does not want)."""
    QUESTIONS.pop(name, None)

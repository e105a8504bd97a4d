"""The section of the variance question: per configuration of a crossed study, how much of its seed-to-seed spread
comes from the initialisation, the data order and their remainder, and what test-set sampling alone would give."""

from __future__ import annotations

import numpy as np
import pandas as pd

from itermap.analysis.compare import label
from itermap.analysis.metrics import metric_of
from itermap.analysis.overview import Analysis
from itermap.analysis.verdict import params_text
from itermap.report.figures import Drawn
from itermap.report.tables import header, number

QUESTION = "variance"
PARTS = {"init": "Initialisation", "order": "Data order", "rest": "Remainder", "test": "Test sampling"}
TITLE = (
    "Variance components of the final metric over crossed seeds (two-way random effects, method of moments): each "
    "part's standard deviation and its share of the seeds' variance; test sampling: the binomial p(1 - p) / n_test, "
    "its share of the same variance (already inside it on one fixed test set)"
)


def sd_text(var: float, metric: str, share: float | None = None) -> str:
    """A variance as its standard deviation in display units, with its share of the seeds' variance where given."""
    if pd.isna(var):
        return "n/a"
    shown = metric_of(metric)
    sd = f"{shown.scale * np.sqrt(var):.{shown.digits}f}"
    return sd if share is None or pd.isna(share) else f"{sd} ({100 * share:.0f}%)"


def variance_table(table: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Per configuration: its seeds (init x order), mean, the seeds' sd, and each part's sd with its share."""
    rows = table[table["dataset"] == dataset] if len(table) else table
    out = []
    for _, r in rows.iterrows():
        part = {name: sd_text(r[f"var_{key}"], r["metric"], r[f"share_{key}"]) for key, name in PARTS.items()}
        out.append(
            {
                "Group": label(r["group"]),
                "Architecture": r["arch"],
                "Parameters": params_text(r["params"]),
                "Seeds (init x order)": f"{r['n_init']} x {r['n_order']}",
                header(r["metric"]): number(r["mean"], r["metric"]),
                "Seeds' sd": sd_text(r["var_total"], r["metric"]),
                **part,
                "Test examples": "n/a" if pd.isna(r["n_test"]) else f"{int(r['n_test']):,}",
            }
        )
    return pd.DataFrame(out)


def figures(an: Analysis, dataset: str) -> list[Drawn]:
    """None: the table says it."""
    return []


def tables(an: Analysis, dataset: str) -> list[tuple[str, pd.DataFrame]]:
    """The variance components of each configuration."""
    return [(TITLE, variance_table(an.table(QUESTION, "variance"), dataset))]

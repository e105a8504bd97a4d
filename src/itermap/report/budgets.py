"""The section of the budgets question: each compared pair's difference at equal parameters (or multiply-adds) along
the curves, and at each matched budget."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from itermap.analysis.compare import label
from itermap.analysis.overview import Analysis
from itermap.report import tables as fmt
from itermap.report.figures import STYLE, Drawn, legend, panel_grid, size_axis

QUESTION = "budgets"


def difference_figure(an: Analysis, dataset: str) -> Figure:
    """A - B test accuracy at equal parameters (or multiply-adds) for every comparison, with its 95% band and zero line."""
    every = an.table("budgets", "comparisons")
    headline = set(every.loc[every["headline"], ["a", "b"]].itertuples(index=False)) if len(every) else set()
    cmp = every[every["dataset"] == dataset] if len(every) else every
    pairs = list(dict.fromkeys(zip(cmp["a"], cmp["b"], cmp["at"]))) if len(cmp) else []
    fig, axes = panel_grid(len(pairs), 3.6)
    for ax, (a, b, at) in zip(axes, pairs):
        rows = cmp[(cmp["a"] == a) & (cmp["b"] == b) & (cmp["at"] == at)]
        head = " (headline)" if (a, b) in headline else " (exploratory)"
        kind = {"band": "simultaneous 95% band", "range": "seeds' range"}.get(rows["interval"].iloc[0], "no interval")
        ax.axhline(0, color="black", linewidth=1)
        ax.fill_between(rows["x"], 100 * rows["low"], 100 * rows["high"], alpha=0.25, linewidth=0)
        err = np.nan_to_num(100 * np.abs(rows[["low", "high"]].to_numpy().T - rows["diff"].to_numpy()))
        ax.errorbar(rows["x"], 100 * rows["diff"], yerr=err, fmt="o-", capsize=3, label=f"difference, {kind}")
        size_axis(ax, at)
        ax.set_ylabel("Test accuracy difference (points)")
        ax.set_title(f"{label(a)} - {label(b)}{head}" + (", equal MACs" if at == "macs" else ""))
    for ax in axes[len(pairs) :]:
        ax.set_axis_off()
        if not pairs:
            ax.text(0.5, 0.5, "no two compared groups share a range", ha="center", va="center")
    legend(axes[0])
    fig.suptitle(f"{dataset}: test accuracy difference at equal size (above zero: first group ahead)")
    return fig


def figures(an: Analysis, dataset: str) -> list[Drawn]:
    """The difference of each compared pair against size, with its band."""
    with matplotlib.rc_context(STYLE):
        figure = difference_figure(an, dataset)
    return [
        Drawn(
            "difference",
            figure,
            "Test accuracy difference between each compared pair at equal parameters (or equal multiply-adds, "
            "where the study compares at those), with its simultaneous 95% band over the budgets (the per-seed "
            "differences' range below 5 seeds; nothing when the seeds differ) and the zero line.",
        )
    ]


def tables(an: Analysis, dataset: str) -> list[tuple[str, pd.DataFrame]]:
    """The comparisons at equal parameters and at equal multiply-adds, then at the matched budgets."""
    comparisons, matched = an.table(QUESTION, "comparisons"), an.table(QUESTION, "matched")
    return [
        *((title, fmt.comparison(comparisons, dataset, at)) for at, title in fmt.COMPARISON_TITLES.items()),
        ("Matched budgets: direct comparisons of test accuracy", fmt.matched(matched, dataset)),
    ]

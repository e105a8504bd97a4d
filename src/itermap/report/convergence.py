"""The section of the convergence question: learning curves, the late slope of each configuration, and the runs
that diverged."""

from __future__ import annotations

import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from itermap.analysis.compare import label
from itermap.analysis.overview import Analysis
from itermap.report import tables as fmt
from itermap.report.figures import STYLE, Drawn, panel_grid

QUESTION = "convergence"


def representative(summary: pd.DataFrame, dataset: str, group: str) -> list[str]:
    """Up to three architectures of a group that finished: its smallest, middle and largest by parameters."""
    rows = summary[(summary["dataset"] == dataset) & (summary["group"] == group) & (summary["done"] > 0)]
    archs = rows.sort_values("params")["arch"].tolist()
    return list(dict.fromkeys([archs[0], archs[len(archs) // 2], archs[-1]])) if archs else []


def learning_figure(an: Analysis, dataset: str) -> Figure:
    """Test accuracy against epoch (mean over finished seeds, min-max band) for representative configurations."""
    groups = sorted(an.summary.loc[(an.summary["dataset"] == dataset) & (an.summary["done"] > 0), "group"].unique())
    fig, axes = panel_grid(len(groups), 3.4)
    res = an.results
    test = res[
        (res["dataset"] == dataset)
        & (res["status"] == "done")
        & (res["split"] == "test")
        & (res["metric"] == "accuracy")
    ]
    for ax, group in zip(axes, groups):
        for arch in representative(an.summary, dataset, group):
            rows = test[test["arch"] == arch].groupby("epoch")["value"]
            mean, lo, hi = rows.mean(), rows.min(), rows.max()
            params = int(test.loc[test["arch"] == arch, "params"].iloc[0])
            (line,) = ax.plot(mean.index, 100 * mean, label=f"{arch} ({params:,} params)")
            ax.fill_between(mean.index, 100 * lo, 100 * hi, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_title(label(group))
        ax.set_xlabel("Epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("Test accuracy (%)")
        ax.legend(fontsize=7)
    for ax in axes[len(groups) :]:
        ax.set_axis_off()
    fig.suptitle(f"{dataset}: learning curves, test accuracy against epoch (mean over seeds, band: min to max)")
    return fig


def figures(an: Analysis, dataset: str) -> list[Drawn]:
    """Learning curves of each group's smallest, middle and largest configuration."""
    with matplotlib.rc_context(STYLE):
        figure = learning_figure(an, dataset)
    return [
        Drawn(
            "learning-curves",
            figure,
            "Learning curves of representative configurations (smallest, middle and largest of each group).",
        )
    ]


def tables(an: Analysis, dataset: str) -> list[tuple[str, pd.DataFrame]]:
    """The late slope of each configuration, and the diverged runs."""
    return [
        ("Convergence of test accuracy", fmt.convergence(an.table(QUESTION, "convergence"), dataset)),
        ("Diverged runs", fmt.diverged(an.results, dataset)),
    ]

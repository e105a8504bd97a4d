"""The continua section of a report: test accuracy against the window and against the sparsity coordinate, per budget."""

from __future__ import annotations

import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from itermap.analysis.compare import label
from itermap.analysis.overview import Analysis
from itermap.report.figures import STYLE, Drawn, colours, panel_grid
from itermap.report.tables import measured, paired, params_text

QUESTION = "continua"
TITLES = {
    "windows": "Windows: final test accuracy by window, per budget and reading direction",
    "window_leads": "Windows: the best window per budget, paired by seed against window 3 and MLP-1",
    "sparsity": "Sparsity: final test accuracy by fraction f moved off the sub-diagonal, per budget",
    "sparsity_leads": "Sparsity: each interior f against both ends of the continuum, paired by seed",
    "reference": "Continua: the reference groups at the same budgets",
}


def _band(ax, x, rows: pd.DataFrame, colour: str, name: str) -> None:
    """Mean line and its CI band (or the seeds' range), in percent."""
    ax.plot(x, 100 * rows["mean"], "o-", ms=3, color=colour, label=name)
    ax.fill_between(x, 100 * rows["ci_low"], 100 * rows["ci_high"], color=colour, alpha=0.15, linewidth=0)


def _references(ax, refs: pd.DataFrame, colour: dict[str, str]) -> None:
    """Each reference group's level drawn across the panel: dashed mean and its band."""
    for _, r in refs.iterrows():
        c = colour[r["group"]]
        ax.axhline(
            100 * r["mean"], color=c, linestyle="--", linewidth=1, label=f"{label(r['group'])} (params {r['params']:,})"
        )
        ax.axhspan(100 * r["ci_low"], 100 * r["ci_high"], color=c, alpha=0.08, linewidth=0)


def _figure(an: Analysis, dataset: str, key: str, lines: list[str], x: str, title: str) -> Figure | None:
    """One panel per budget: one line per value of `lines` against `x`, the reference groups across."""
    table, refs = an.table(QUESTION, key, dataset), an.table(QUESTION, "reference", dataset)
    if table.empty:
        return None
    budgets = sorted(table["budget"].unique())
    names = sorted({" · ".join(map(str, k)) for k, _ in table.groupby(lines)} if lines else {key})
    colour = colours([*names, *(refs["group"].unique() if len(refs) else [])])
    with matplotlib.rc_context(STYLE):
        fig, axes = panel_grid(len(budgets), 3.8)
        for ax, budget in zip(axes, budgets):
            here = table[table["budget"] == budget]
            for k, rows in here.groupby(lines) if lines else [((), here)]:
                name = " · ".join(map(str, k)) if lines else key
                rows = rows.sort_values(x)
                _band(ax, rows[x].astype(float), rows, colour[name], name)
            _references(ax, refs[refs["budget"] == budget] if len(refs) else refs, colour)
            ax.set_title(f"budget {budget:,} parameters")
            ax.set_ylabel("Test accuracy (%)")
            ax.legend(fontsize=6)
            if x == "window":
                ax.set_xscale("log")
                ax.xaxis.set_major_locator(FixedLocator(sorted(table["window"].astype(float).unique())))
                ax.xaxis.set_minor_locator(NullLocator())
                ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
                ax.set_xlabel("Window (columns or rows per step, log scale)")
            else:
                ax.set_xlabel("f: fraction of MLP-2's weights moved off the sub-diagonal")
        for ax in axes[len(budgets) :]:
            ax.set_axis_off()
        fig.suptitle(f"{dataset}: {title}\nmean over seeds and its 95% t interval (the seeds' range below 5 seeds)")
    return fig


def figures(an: Analysis, dataset: str) -> list[Drawn]:
    """The window and sparsity figures of one data set that the study has data for."""
    drawn = [
        (
            "windows",
            _figure(
                an,
                dataset,
                "windows",
                ["reader", "axis"],
                "window",
                "test accuracy against the window, one line per reader and reading direction",
            ),
            "The window continuum: final test accuracy against the window (columns or rows per step, log scale), one "
            "panel per parameter budget, one line per reader (the tanh RNN, a GRU or an LSTM) and reading direction, "
            "mean over seeds and its 95% t interval (the "
            "seeds' range below 5 seeds); dashed: MLP-1 at the same budget with its band (window 28 is one step, "
            "MLP-1 in all but name).",
        ),
        (
            "sparsity",
            _figure(
                an, dataset, "sparsity", [], "fraction", "test accuracy along the sparsity continuum at equal non-zeros"
            ),
            "The sparsity continuum (docs/continua.md): final test accuracy against the fraction f of MLP-2's "
            "weights moved off the sub-diagonal into recurrent, skip and feedback blocks at equal non-zeros, one "
            "panel per budget, mean and 95% t interval (the seeds' range below 5 seeds); dashed: the MLPs and the "
            "RNN at the same budget.",
        ),
    ]
    return [Drawn(stem, figure, caption) for stem, figure, caption in drawn if figure is not None]


def windows_table(t: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Budget": f"{r['budget']:,}",
                "Reader": r["reader"],
                "Axis": r["axis"],
                "Window": str(r["window"]),
                "Params": params_text(r["params"]),
                **measured(r),
            }
            for _, r in t.iterrows()
        ]
    )


def window_leads_table(t: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Budget": f"{r['budget']:,}",
                "Reader": r["reader"],
                "Best": f"{r['window']} {r['axis']}",
                "Against": r["against"],
                **paired(r, "Best (%)", "Against (%)", "Lead (points)"),
            }
            for _, r in t.iterrows()
        ]
    )


def sparsity_table(t: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Budget": f"{r['budget']:,}",
                "f": f"{r['fraction']:g}",
                "Non-zeros + biases": params_text(r["params"]),
                **measured(r),
            }
            for _, r in t.iterrows()
        ]
    )


def sparsity_leads_table(t: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Budget": f"{r['budget']:,}",
                "f": f"{r['fraction']:g}",
                "End": f"f = {r['end']:g}",
                **paired(r, "f (%)", "End (%)", "Lead (points)"),
            }
            for _, r in t.iterrows()
        ]
    )


def reference_table(t: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Budget": f"{r['budget']:,}",
                "Group": label(r["group"]),
                "Params": params_text(r["params"]),
                **measured(r),
            }
            for _, r in t.iterrows()
        ]
    )


FORMATS = {
    "windows": windows_table,
    "window_leads": window_leads_table,
    "sparsity": sparsity_table,
    "sparsity_leads": sparsity_leads_table,
    "reference": reference_table,
}


def tables(an: Analysis, dataset: str) -> list[tuple[str, pd.DataFrame]]:
    """(title, table) of each continua table the study has, for one data set."""
    return [(TITLES[key], fmt(mine)) for key, fmt in FORMATS.items() if len(mine := an.table(QUESTION, key, dataset))]

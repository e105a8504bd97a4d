"""The selection section of a report: what the validation split chose per configuration, the declared pairs compared
on the chosen runs, and the same comparisons at every setting of the tuned axis (does the answer depend on it?)."""

from __future__ import annotations

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

from itermap.analysis.compare import AXES, label
from itermap.analysis.overview import Analysis
from itermap.analysis.selection import RULES, TUNED
from itermap.analysis.verdict import params_text
from itermap.report import tables as fmt
from itermap.report.figures import STYLE, Drawn, legend, panel_grid, size_axis

QUESTION = "selection"
CAPTION = (
    "Test accuracy difference A - B at equal parameters (or multiply-adds) of each declared pair, with each training "
    "setting of the tuned axis held fixed (thin lines) and with each configuration's setting chosen on the validation "
    "split (thick line): where the lines cross zero on different sides, the answer depends on the setting."
)


def settings_figure(an: Analysis, dataset: str) -> Figure | None:
    """One panel per declared pair and size axis: A - B against size at each setting, and tuned."""
    every = an.table(QUESTION, "comparisons", dataset)
    if every.empty:
        return None
    pairs = list(dict.fromkeys(zip(every["a"], every["b"], every["at"])))
    with matplotlib.rc_context(STYLE):
        fig, axes = panel_grid(len(pairs), 3.6)
        for ax, (a, b, at) in zip(axes, pairs):
            rows = every[(every["a"] == a) & (every["b"] == b) & (every["at"] == at)]
            ax.axhline(0, color="black", linewidth=1)
            for name, line in rows.groupby("setting", sort=False):
                tuned = name == TUNED
                ax.plot(
                    line["x"],
                    100 * line["diff"],
                    "o-" if tuned else ".--",
                    linewidth=2.5 if tuned else 1,
                    color="black" if tuned else None,
                    label=name,
                    zorder=3 if tuned else 2,
                )
            size_axis(ax, at)
            ax.set_ylabel("Test accuracy difference (points)")
            ax.set_title(f"{label(a)} - {label(b)}" + (", equal MACs" if at == "macs" else ""))
            legend(ax)
        for ax in axes[len(pairs) :]:
            ax.set_axis_off()
        fig.suptitle(f"{dataset}: the declared pairs at each training setting and tuned on validation")
    return fig


def chosen_table(choice: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: the setting chosen, its mean validation metric over seeds, seeds and diverged runs, the
    epoch read (mean over seeds), and the runner-up with the margin it lost by."""
    column = choice["metric"].iloc[0]
    head = fmt.header(column)
    return pd.DataFrame(
        [
            {
                "Group": label(r["group"]),
                "Architecture": r["arch"],
                "Parameters": params_text(r["params"]),
                "Chosen": r["setting"],
                head: fmt.number(r["validation"], column),
                "Seeds": str(r["seeds"]),
                "Diverged": str(r["diverged"]),
                "Epoch read (mean)": f"{r['epoch_mean']:.1f}",
                "Runner-up": r["runner_up"] or "n/a",
                "Margin over runner-up": "n/a" if pd.isna(r["margin"]) else fmt.number(r["margin"], column),
            }
            for _, r in choice.iterrows()
        ]
    )


def robustness_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per pair, size axis and setting (tuned last): seeds, mean and range of A - B over the budgets, Holm p, what
    the comparison finds, and whether every setting finds the same."""
    return pd.DataFrame(
        [
            {
                "A": label(r["a"]),
                "B": label(r["b"]),
                "At equal": AXES[r["at"]],
                "Setting": r["setting"],
                "Family": "headline" if r["headline"] else "exploratory",
                "Seeds": f"{r['seeds']} {r['design']}",
                "Budgets": str(r["budgets"]),
                "Mean A - B (points)": fmt.points(r["mean_diff"]),
                "Range (points)": f"[{fmt.points(r['min_diff'])}, {fmt.points(r['max_diff'])}]",
                "Holm p (within the setting)": "n/a" if pd.isna(r["p_holm"]) else f"{r['p_holm']:.4f}",
                "Found": r["found"],
                "Same at every setting": "yes" if r["same"] else "no",
            }
            for _, r in table.iterrows()
        ]
    )


def figures(an: Analysis, dataset: str) -> list[Drawn]:
    """The declared pairs' differences at each setting and tuned, where the study compares any."""
    figure = settings_figure(an, dataset)
    return [Drawn("selection", figure, CAPTION)] if figure is not None else []


def tables(an: Analysis, dataset: str) -> list[tuple[str, pd.DataFrame]]:
    """(title, table) of the choices, of the comparisons on the chosen runs at each size axis, and of robustness."""
    choice = an.table(QUESTION, "chosen", dataset)
    if choice.empty:
        return []
    rule = RULES[choice["select"].iloc[0]]
    out = [(f"Chosen on the validation split ({rule}): each configuration's setting", chosen_table(choice))]
    every = an.table(QUESTION, "comparisons")
    tuned = every[every["setting"] == TUNED] if len(every) else every
    out += [
        (f"Tuned on validation: {title[0].lower()}{title[1:]}", fmt.comparison(tuned, dataset, at))
        for at, title in fmt.COMPARISON_TITLES.items()
    ]
    robust = an.table(QUESTION, "robustness", dataset)
    if len(robust):
        out.append(
            (
                "Robustness: each declared comparison at every setting of the tuned axis and tuned on validation",
                robustness_table(robust),
            )
        )
    return out

"""The depth section of a report: the anytime-accuracy figure and the tying-cost, supervision and 2x2 tables."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from itermap.analysis.compare import label
from itermap.analysis.overview import Analysis
from itermap.report.figures import STYLE, Drawn, colours, panel_grid
from itermap.report.tables import number, paired, params_text

QUESTION = "depth"
TITLES = {
    "anytime": "Anytime: test accuracy of the prediction at step 1, at the trained depth d, and at the last step run",
    "tying": "Tying cost: untied minus tied at equal depth and width (test accuracy, paired over seeds)",
    "supervision": "Supervision: every-step minus last-step loss (test accuracy, paired over seeds)",
    "two_by_two": "Tied or untied, last-step or every-step loss: final test accuracy (step 1 in brackets)",
}


def anytime_figure(an: Analysis, dataset: str) -> Figure | None:
    """Test accuracy of every step's prediction, one panel per trained depth, one line per variant (mean, t 95% CI or range)."""
    table = an.table(QUESTION, "anytime")
    table = table[table["dataset"] == dataset] if len(table) else table
    if table.empty:
        return None
    grid = table[table["budget"].isna()] if table["budget"].isna().any() else table  # equal-width runs, if any
    depths = sorted(grid["depth"].unique())
    colour = colours(grid["group"].unique())
    with matplotlib.rc_context(STYLE):
        fig, axes = panel_grid(len(depths), 3.8)
        for ax, depth in zip(axes, depths):
            for (group, _), rows in grid[grid["depth"] == depth].groupby(["group", "arch"], sort=True):
                (line,) = ax.plot(rows["step"], 100 * rows["mean"], "o-", ms=3, color=colour[group], label=label(group))
                ax.fill_between(
                    rows["step"],
                    100 * rows["ci_low"],
                    100 * rows["ci_high"],
                    color=line.get_color(),
                    alpha=0.15,
                    linewidth=0,
                )
            ax.axvline(depth, color="black", linestyle="--", linewidth=1)
            ax.set_title(f"trained depth {depth} (dashed)")
            ax.set_xlabel("Step")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel("Test accuracy (%)")
            ax.legend(fontsize=6)
        for ax in axes[len(depths) :]:
            ax.set_axis_off()
        fig.suptitle(f"{dataset}: anytime accuracy, every step's prediction at the last epoch (tied nets run on to 2d)")
    return fig


def _shape(r: pd.Series) -> dict[str, str]:
    return {"Depth": str(r["depth"]), "Width": str(r["hidden"]), "Inject": str(r["inject"]), "Heads": str(r["heads"])}


def tying_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per shape and loss: seeds, both means, the paired difference and its CI, Holm p, and the parameter ratio."""
    return pd.DataFrame(
        [
            {
                **_shape(r),
                "Loss": r["loss"],
                **paired(r, "Untied (%)", "Tied (%)", "Untied - tied (points)"),
                "Params untied / tied": f"{params_text(r['a_params'])} / "
                f"{params_text(r['b_params'])} ({r['a_params'] / r['b_params']:.1f}x)",
            }
            for _, r in table.iterrows()
        ]
    )


def supervision_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per shape, tied and untied: seeds, both means, the paired difference and its CI, Holm p."""
    return pd.DataFrame(
        [
            {
                **_shape(r),
                "Tied": "yes" if r["tied"] else "no",
                **paired(r, "Every-step (%)", "Last-step (%)", "Every - last (points)"),
            }
            for _, r in table.iterrows()
        ]
    )


def two_by_two_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per shape, the four (tied, loss) variants as columns: final accuracy (step-1 accuracy)."""
    rows = []
    for _, cells in table.groupby(["depth", "hidden", "inject", "heads"], sort=True, dropna=False):
        row = _shape(cells.iloc[0]) | {"Seeds": str(int(cells["n"].min()))}
        for tied in (True, False):
            for loss in ("last", "every-step"):
                cell = cells[(cells["tied"] == tied) & (cells["loss"] == loss)]
                text = "n/a" if cell.empty else number(cell["final"].iloc[0], "accuracy")
                step_1 = np.nan if cell.empty else cell["step_1"].iloc[0]
                row[f"{'tied' if tied else 'untied'} · {loss}"] = text + (
                    "" if pd.isna(step_1) else f" ({number(step_1, 'accuracy')})"
                )
        rows.append(row)
    return pd.DataFrame(rows)


def anytime_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per variant: test accuracy of its prediction at step 1, at its trained depth and at the last step evaluated."""
    rows = []
    for (group, arch), steps in table.groupby(["group", "arch"], sort=True):
        at = steps.set_index("step")["mean"]
        depth, last = int(steps["depth"].iloc[0]), int(steps["step"].max())
        rows.append(
            {
                "Group": label(group),
                "Architecture": arch,
                "Seeds": str(int(steps["n"].min())),
                "Step 1 (%)": number(at[1], "accuracy"),
                "Step d (%)": f"{number(at[depth], 'accuracy')} (d = {depth})",
                "Last step (%)": f"{number(at[last], 'accuracy')} (step {last})",
            }
        )
    return pd.DataFrame(rows)


FORMATS = {
    "anytime": anytime_table,
    "tying": tying_table,
    "supervision": supervision_table,
    "two_by_two": two_by_two_table,
}


def figures(an: Analysis, dataset: str) -> list[Drawn]:
    """The anytime figure, where the study recorded every step's prediction."""
    figure = anytime_figure(an, dataset)
    caption = (
        "Anytime accuracy: test accuracy of every step's prediction at the last epoch, per trained depth (dashed), "
        "one line per variant, mean over seeds and its 95% t interval (the seeds' range below 5 seeds); tied nets "
        "run on past their depth."
    )
    return [Drawn("anytime", figure, caption)] if figure is not None else []


def tables(an: Analysis, dataset: str) -> list[tuple[str, pd.DataFrame]]:
    """(title, table) of each depth table the study has, for one data set."""
    out = []
    for key, fmt in FORMATS.items():
        mine = an.table(QUESTION, key, dataset)
        if len(mine):
            out.append((TITLES[key], fmt(mine)))
    return out

"""The sharing section of a report: accuracy against distinct parameters between the tied and the untied net, the
curve's table (with each point's paired lead over the tied end) and the recurrence x supervision interaction."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from itermap.analysis.overview import Analysis
from itermap.analysis.sharing import CELL, where
from itermap.report.figures import STYLE, Drawn, panel_grid, size_axis
from itermap.report.tables import holm_p, interval, lead_interval, number, params_text, points

QUESTION = "sharing"
TITLES = {
    "curve": "Sharing curve: final test accuracy from the tied to the untied net, and each point minus the tied net "
    "(paired over seeds, Holm within the data set)",
    "interaction": "Recurrence x supervision: (untied every - untied last) - (tied every - tied last), paired over seeds",
}
SCHEDULES = {"cycle": "-", "sequence": "--"}
CAPTION = (
    "The sharing curve: final test accuracy (mean over seeds, bars the 95% t interval, the seeds' range below 5 "
    "seeds) against distinct parameters (log) at equal width, against the number of weight blocks at equal "
    "parameters; one line per schedule (cycled blocks solid, blocks in sequence dashed) from the tied net (1 block) "
    "to the untied one (a block per step), the tied net with a rank-r update per step marked apart (triangles)."
)


def _mine(an: Analysis, name: str, dataset: str) -> pd.DataFrame:
    table = an.table(QUESTION, name)
    return table[table["dataset"] == dataset] if len(table) else table


def _title(r: pd.Series, loss: bool = True) -> str:
    """What a curve or a shape holds fixed: equal width 64 (depth 8, last-step loss, image every step)."""
    fixed = r.copy()
    fixed["n"] = 0
    return where(fixed, loss).removeprefix("At ").split("; ")[0] + ")"


def _bars(rows: pd.DataFrame) -> np.ndarray:
    mean = 100 * rows["mean"].to_numpy(float)
    return np.abs(
        np.vstack([mean - 100 * rows["ci_low"].to_numpy(float), 100 * rows["ci_high"].to_numpy(float) - mean])
    )


def sharing_figure(an: Analysis, dataset: str) -> Figure | None:
    """One panel per curve: accuracy against distinct parameters (equal width) or blocks (equal parameters)."""
    table = _mine(an, "curve", dataset)
    if table.empty:
        return None
    cells = list(table.groupby([c for c in CELL if c != "dataset"], sort=False))
    with matplotlib.rc_context(STYLE):
        fig, axes = panel_grid(len(cells), 3.8)
        for ax, (_, cell) in zip(axes, cells):
            by_width = cell["scale"].iloc[0] == "width"
            x = "params" if by_width else "k"
            plain = cell[cell["relax"] == 0]
            for schedule, style in SCHEDULES.items():
                line = plain[plain["schedule"].isin(["", schedule])].sort_values("k")
                if line["schedule"].eq(schedule).any():
                    ax.errorbar(line[x], 100 * line["mean"], yerr=_bars(line), fmt="o" + style, ms=4, capsize=2,
                                label=f"blocks, {schedule}")  # fmt: skip
            if not plain["schedule"].ne("").any():  # the ends alone
                ax.errorbar(plain[x], 100 * plain["mean"], yerr=_bars(plain), fmt="o-", ms=4, capsize=2)
            relaxed = cell[cell["relax"] > 0]
            if len(relaxed):
                # at equal parameters every relaxed net sits at k = 1: spread them a little to the right of the tied end
                at = relaxed[x] * (1 if by_width else 1.07 ** np.arange(1, len(relaxed) + 1))
                ax.errorbar(at, 100 * relaxed["mean"], yerr=_bars(relaxed), fmt="^", ms=5, capsize=2,
                            color="black", label="tied + rank r")  # fmt: skip
                for (_, r), xr in zip(relaxed.iterrows(), at):
                    ax.annotate(
                        f"r={r['relax']}",
                        (xr, 100 * r["mean"]),
                        xytext=(4, -8),
                        textcoords="offset points",
                        fontsize=7,
                    )
            for _, r in plain[plain["end"] != "between"].iterrows():
                ax.annotate(r["end"], (r[x], 100 * r["mean"]), xytext=(4, 4), textcoords="offset points", fontsize=8)
            if by_width:
                size_axis(ax)
                ax.set_xlabel("Distinct parameters (count, log scale)")
            else:
                ax.set_xscale("log", base=2)
                ax.set_xticks(sorted(cell["k"].unique()), [str(k) for k in sorted(cell["k"].unique())])
                ax.set_xlabel("Weight blocks k (log scale)")
            ax.set_ylabel("Test accuracy (%)")
            ax.set_title(_title(cell.iloc[0]), fontsize=8)
            ax.legend(fontsize=6)
        for ax in axes[len(cells) :]:
            ax.set_axis_off()
        fig.suptitle(f"{dataset}: between tied and untied, final test accuracy against what the steps share")
    return fig


def curve_table(curve: pd.DataFrame, lead: pd.DataFrame) -> pd.DataFrame:
    """Per curve and point: seeds, parameters, mean and its interval, and (between the ends) the paired lead over the
    tied net, its interval, Holm p and the share of the untied net's gain it recovers."""
    keys = [*CELL, "point"]
    leads = lead.set_index(keys) if len(lead) else pd.DataFrame()
    rows = []
    for _, r in curve.iterrows():
        at = tuple(r[k] for k in keys)
        row = {
            "At": _title(r), "Point": r["point"], "Width": str(r["width"]), "Parameters": params_text(r["params"]),
            "Seeds": str(r["n"]), "Accuracy (%)": number(r["mean"], "accuracy"),
            "95% CI or range": interval(r["ci_low"], r["ci_high"], r["interval"], lambda v: number(v, "accuracy")),
            "Minus tied (points)": "", "Its 95% CI or range": "", "p (Holm)": "", "Recovers of untied's gain": "",
        }  # fmt: skip
        if len(leads) and at in leads.index:
            d = leads.loc[at]
            d = d.iloc[0] if isinstance(d, pd.DataFrame) else d
            row |= {"Minus tied (points)": points(d["diff"]), "Its 95% CI or range": lead_interval(d),
                    "p (Holm)": holm_p(d),
                    "Recovers of untied's gain": "n/a" if pd.isna(d["recovered"]) else f"{100 * d['recovered']:.0f}%"}  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)


def interaction_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per shape: the four cells' means, both supervision gains, the interaction with its interval and Holm p."""
    return pd.DataFrame([{
        "At": _title(r, loss=False),
        "Seeds": str(r["n"]),
        "Tied last / every (%)": f"{number(r['tied_last'], 'accuracy')} / {number(r['tied_every'], 'accuracy')}",
        "Untied last / every (%)": f"{number(r['untied_last'], 'accuracy')} / {number(r['untied_every'], 'accuracy')}",
        "Every - last, tied (points)": points(r["tied_gain"]), "Every - last, untied (points)": points(r["untied_gain"]),
        "Interaction (points)": points(r["diff"]), "95% CI or range": lead_interval(r), "p (Holm)": holm_p(r),
    } for _, r in table.iterrows()])  # fmt: skip


def figures(an: Analysis, dataset: str) -> list[Drawn]:
    """The sharing curve's figure, where the study has one."""
    figure = sharing_figure(an, dataset)
    return [Drawn("sharing", figure, CAPTION)] if figure is not None else []


def tables(an: Analysis, dataset: str) -> list[tuple[str, pd.DataFrame]]:
    """(title, table) of the curve (with the leads) and of the interaction, where the study has them."""
    out = []
    curve = _mine(an, "curve", dataset)
    if len(curve):
        out.append((TITLES["curve"], curve_table(curve, _mine(an, "lead", dataset))))
    inter = _mine(an, "interaction", dataset)
    if len(inter):
        out.append((TITLES["interaction"], interaction_table(inter)))
    return out

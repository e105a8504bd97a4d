"""The sharing section of a report: accuracy against distinct parameters between the tied and the untied net, the
curve's table (with each point's paired lead over the tied end), the recurrence x supervision interaction, the
tying x loss x injection factorial, the blocks' trend, and what the tied and partly tied nets do past their depth
(the residual at 2d against the accuracy lost, with its rank correlation)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from itermap.analysis.overview import Analysis
from itermap.analysis.sharing import CELL, CONTRASTS, where
from itermap.report.figures import STYLE, Drawn, panel_grid, size_axis
from itermap.report.tables import difference, holm_p, interval, lead_interval, measured, number, params_text, points

QUESTION = "sharing"
TITLES = {
    "curve": "Sharing curve: final test accuracy from the tied to the untied net, and each point minus the tied net "
    "(paired over seeds, Holm within the data set)",
    "interaction": "Recurrence x supervision: (untied every - untied last) - (tied every - tied last), paired over seeds",
    "factorial": "Tying x loss x injection: each effect a contrast of the eight cells per seed, averaged over the "
    "factors it does not name (t interval over seeds, Holm within the data set)",
    "trend": "Blocks as an ordered factor: the least-squares slope of accuracy on log2 k per seed, in points per "
    "doubling of the blocks (t interval over seeds, Holm within the data set)",
    "dynamics": "Past the trained depth: spectra of the recurrent weights (max over steps), fixed-point residual "
    "||h_{t+p} - h_t|| / ||h_t|| (p: the period of the blocks, 1 unless cycled), accuracy at d, 2d and 4d steps; "
    "means over seeds, residuals their median",
    "rank": "Residual at 2d against the accuracy lost from step d to 2d: Spearman's rank correlation over the runs, "
    "95% interval by Fisher's z",
}
SCHEDULES = {"cycle": "-", "sequence": "--"}
CAPTION = (
    "The sharing curve: final test accuracy (mean over seeds, bars the 95% t interval, the seeds' range below 5 "
    "seeds) against distinct parameters (log) at equal width, against the number of weight blocks at equal "
    "parameters; one line per schedule (cycled blocks solid, blocks in sequence dashed) from the tied net (1 block) "
    "to the untied one (a block per step), the tied net with a rank-r update per step marked apart (triangles)."
)


def _title(r: pd.Series, loss: bool = True, inject: bool = True) -> str:
    """What a curve or a shape holds fixed: equal width 64 (depth 8, last-step loss, image every step)."""
    fixed = r.copy()
    fixed["n"] = 0
    return where(fixed, loss, inject).removeprefix("At ").split("; ")[0] + ")"


def _bars(rows: pd.DataFrame) -> np.ndarray:
    mean = 100 * rows["mean"].to_numpy(float)
    return np.abs(
        np.vstack([mean - 100 * rows["ci_low"].to_numpy(float), 100 * rows["ci_high"].to_numpy(float) - mean])
    )


def sharing_figure(an: Analysis, dataset: str) -> Figure | None:
    """One panel per curve: accuracy against distinct parameters (equal width) or blocks (equal parameters)."""
    table = an.table(QUESTION, "curve", dataset)
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
                    ax.errorbar(
                        line[x],
                        100 * line["mean"],
                        yerr=_bars(line),
                        fmt="o" + style,
                        ms=4,
                        capsize=2,
                        label=f"blocks, {schedule}",
                    )
            if not plain["schedule"].ne("").any():  # the ends alone
                ax.errorbar(plain[x], 100 * plain["mean"], yerr=_bars(plain), fmt="o-", ms=4, capsize=2)
            relaxed = cell[cell["relax"] > 0]
            if len(relaxed):
                # at equal parameters every relaxed net sits at k = 1: spread them a little to the right of the tied end
                at = relaxed[x] * (1 if by_width else 1.07 ** np.arange(1, len(relaxed) + 1))
                ax.errorbar(
                    at,
                    100 * relaxed["mean"],
                    yerr=_bars(relaxed),
                    fmt="^",
                    ms=5,
                    capsize=2,
                    color="black",
                    label="tied + rank r",
                )
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
            "At": _title(r),
            "Point": r["point"],
            "Width": str(r["width"]),
            "Parameters": params_text(r["params"]),
            **measured(r, "Accuracy (%)"),
            "Minus tied (points)": "",
            "Its 95% CI or range": "",
            "p (Holm)": "",
            "Recovers of untied's gain": "",
        }
        if len(leads) and at in leads.index:
            d = leads.loc[at]
            d = d.iloc[0] if isinstance(d, pd.DataFrame) else d
            row |= {
                "Minus tied (points)": points(d["diff"]),
                "Its 95% CI or range": lead_interval(d),
                "p (Holm)": holm_p(d),
                "Recovers of untied's gain": "n/a" if pd.isna(d["recovered"]) else f"{100 * d['recovered']:.0f}%",
            }
        rows.append(row)
    return pd.DataFrame(rows)


def interaction_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per shape: the four cells' means, both supervision gains, the interaction with its interval and Holm p."""
    return pd.DataFrame(
        [
            {
                "At": _title(r, loss=False),
                "Seeds": str(r["n"]),
                "Tied last / every (%)": f"{number(r['tied_last'], 'accuracy')} / {number(r['tied_every'], 'accuracy')}",
                "Untied last / every (%)": f"{number(r['untied_last'], 'accuracy')} / {number(r['untied_every'], 'accuracy')}",
                "Every - last, tied (points)": points(r["tied_gain"]),
                "Every - last, untied (points)": points(r["untied_gain"]),
                **difference(r, "Interaction (points)"),
            }
            for _, r in table.iterrows()
        ]
    )


def factorial_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per shape and effect: what it measures, seeds, the effect with its interval and Holm p."""
    return pd.DataFrame(
        [
            {
                "At": _title(r, loss=False, inject=False),
                "Effect": r["effect"],
                "Measures": CONTRASTS[r["effect"]],
                "Seeds": str(r["n"]),
                **difference(r, "Effect (points)"),
            }
            for _, r in table.iterrows()
        ]
    )


def trend_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per curve and schedule: the blocks' levels, seeds, the slope per doubling with its interval and Holm p."""
    return pd.DataFrame(
        [
            {
                "At": _title(r),
                "Schedule": r["schedule"],
                "Blocks k": r["levels"],
                "Seeds": str(r["n"]),
                **difference(r, "Slope (points per doubling)"),
            }
            for _, r in table.iterrows()
        ]
    )


def _small(x: float) -> str:
    """A residual, which spans orders of magnitude: 2 significant digits."""
    return "n/a" if pd.isna(x) else f"{x:.2g}"


def dynamics_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per curve and point: seeds, mean spectral norm and radius, median residuals at d and 2d, mean accuracy at d,
    2d and 4d steps."""
    rows = []
    for _, runs in table.groupby([*CELL, "point"], sort=False):
        r = runs.iloc[0]
        rows.append(
            {
                "At": _title(r),
                "Point": r["point"],
                "Seeds": str(len(runs)),
                "Spectral norm": number(runs["spectral_norm"].mean(), "spectral_norm"),
                "Spectral radius": number(runs["spectral_radius"].mean(), "spectral_radius"),
                "Residual at d": _small(runs["residual_d"].median()),
                "Residual at 2d": _small(runs["residual_2d"].median()),
                "Accuracy at d / 2d / 4d (%)": " / ".join(
                    number(runs[m].mean(), "accuracy") for m in ("accuracy", "accuracy_2d", "accuracy_4d")
                ),
            }
        )
    return pd.DataFrame(rows)


def _rho(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{x:+.2f}"


def rank_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per data set: runs and their seeds, Spearman's rho, its interval and p, the median residual and mean accuracy
    lost."""
    return pd.DataFrame(
        [
            {
                "Runs": str(r["n"]),
                "Seeds": str(r["seeds"]),
                "Spearman's rho": _rho(r["rho"]),
                "95% CI": interval(r["ci_low"], r["ci_high"], r["interval"], _rho),
                "p": "n/a" if pd.isna(r["p"]) else f"{r['p']:.2g}",
                "Median residual at 2d": _small(r["median_residual"]),
                "Mean accuracy lost, d to 2d (points)": points(r["mean_lost"]),
            }
            for _, r in table.iterrows()
        ]
    )


KINDS = {
    "tied": ("o", "tied"),
    "relax": ("^", "tied + rank r"),
    "cycle": ("s", "blocks, cycle"),
    "sequence": ("D", "blocks, sequence"),
}
FLOOR = 1e-9  # a residual drawn on a log axis: those below (float32 can reach an exact fixed point) at FLOOR
RESIDUAL_CAPTION = (
    "What a tied or partly tied net does past its trained depth d: its fixed-point residual at 2d steps (log scale; "
    f"below {FLOOR:g} drawn at {FLOOR:g}) against the test accuracy it loses from step d to step 2d (points; below "
    "zero: it gains), one point per run; Spearman's rank correlation and its 95% interval (Fisher's z) in the title."
)


def residual_figure(an: Analysis, dataset: str) -> Figure | None:
    """The residual at 2d against the accuracy lost past d, one point per run, marked by what its steps share."""
    table = an.table(QUESTION, "dynamics", dataset)  # none in a study recorded before these metrics were
    table = table.dropna(subset=["residual_2d", "lost"]) if len(table) else table
    if table.empty:
        return None
    kind = np.where(table["relax"] > 0, "relax", np.where(table["schedule"] == "", "tied", table["schedule"]))
    rank = an.table(QUESTION, "rank", dataset)
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.subplots()
        for name, (marker, text) in KINDS.items():
            mine = table[kind == name]
            if len(mine):
                ax.scatter(
                    np.maximum(mine["residual_2d"], FLOOR),
                    100 * mine["lost"],
                    marker=marker,
                    s=18,
                    alpha=0.7,
                    label=f"{text} ({len(mine)})",
                )
        ax.set_xscale("log")
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_xlabel("Fixed-point residual at 2d (log scale)")
        ax.set_ylabel("Accuracy at d minus at 2d (points)")
        said = ""
        if len(rank) and pd.notna(rank["rho"].iloc[0]):
            r = rank.iloc[0]
            said = f"; Spearman's rho {_rho(r['rho'])}" + (
                f", 95% CI [{_rho(r['ci_low'])}, {_rho(r['ci_high'])}]" if r["interval"] == "ci" else ""
            )
        ax.set_title(f"{dataset}: past the trained depth ({len(table)} runs{said})", fontsize=9)
        ax.legend(fontsize=7)
    return fig


def figures(an: Analysis, dataset: str) -> list[Drawn]:
    """The sharing curve's figure and the residual against the accuracy lost past d, where the study has them."""
    drawn = []
    figure = sharing_figure(an, dataset)
    if figure is not None:
        drawn.append(Drawn("sharing", figure, CAPTION))
    figure = residual_figure(an, dataset)
    if figure is not None:
        drawn.append(Drawn("past-depth", figure, RESIDUAL_CAPTION))
    return drawn


def tables(an: Analysis, dataset: str) -> list[tuple[str, pd.DataFrame]]:
    """(title, table) of the curve (with the leads), the interaction, the factorial, the blocks' trend and the nets
    past their depth, where the study has them."""
    out = []
    curve = an.table(QUESTION, "curve", dataset)
    if len(curve):
        out.append((TITLES["curve"], curve_table(curve, an.table(QUESTION, "lead", dataset))))
    formats = {
        "factorial": factorial_table,
        "interaction": interaction_table,
        "trend": trend_table,
        "dynamics": dynamics_table,
        "rank": rank_table,
    }
    for name, format_table in formats.items():
        table = an.table(QUESTION, name, dataset)
        if len(table):
            out.append((TITLES[name], format_table(table)))
    return out

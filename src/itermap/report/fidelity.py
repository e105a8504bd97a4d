"""The distillation section of a report: fidelity to the teacher against student parameters, with the 99% line."""

from __future__ import annotations

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

from itermap.analysis.compare import label
from itermap.analysis.fidelity import LEVEL
from itermap.analysis.overview import Analysis
from itermap.report.figures import STYLE, Drawn, Thousands, colours, panel_grid
from itermap.report.tables import params_text

QUESTION = "fidelity"
TITLE = "Fidelity to the teacher: final test agreement and KL(teacher || student) per student configuration"


def fidelity_figure(an: Analysis, dataset: str) -> Figure | None:
    """Test agreement with the teacher and KL(teacher || student) against student parameters (log scale), one line per
    group (mean, band: 95% t interval or the seeds' range), and the 99% agreement line."""
    table = an.table(QUESTION, "fidelity", dataset)
    if table.empty:
        return None
    colour = colours(table["group"].unique())
    panels = (
        ("agreement", 100.0, "Top-1 agreement with the teacher (%)"),
        ("teacher_kl", 1.0, "KL(teacher || student) (nats)"),
    )
    with matplotlib.rc_context(STYLE):
        fig, axes = panel_grid(len(panels), 3.8)
        for ax, (metric, scale, ylabel) in zip(axes, panels):
            for group, rows in table.groupby("group", sort=True):
                x = rows["params"]
                (line,) = ax.plot(
                    x, scale * rows[f"{metric}_mean"], "o-", ms=3, color=colour[group], label=label(group)
                )
                ax.fill_between(
                    x,
                    scale * rows[f"{metric}_low"],
                    scale * rows[f"{metric}_high"],
                    color=line.get_color(),
                    alpha=0.15,
                    linewidth=0,
                )
            if metric == "agreement":
                ax.axhline(
                    100 * LEVEL, color="black", linestyle="--", linewidth=1, label=f"{100 * LEVEL:.0f}% agreement"
                )
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(Thousands())
            ax.set_xlabel("Student parameters (count, log scale)")
            ax.set_ylabel(ylabel)
            ax.legend(fontsize=6)
        for ax in axes[len(panels) :]:
            ax.set_axis_off()
        seeds = ", ".join(sorted({str(n) for n in table["seeds"]}))
        fig.suptitle(f"{dataset}: fidelity of the students to their teacher on the test split ({seeds} seeds each)")
    return fig


def figures(an: Analysis, dataset: str) -> list[Drawn]:
    """The fidelity figure, for a study with students."""
    figure = fidelity_figure(an, dataset)
    caption = (
        "Fidelity of distilled students: top-1 agreement with the teacher and mean KL(teacher || student) on the "
        "test split against student parameters, mean over seeds and its 95% t interval (the seeds' range below 5 "
        "seeds); the dashed line marks 99% agreement."
    )
    return [Drawn("fidelity", figure, caption)] if figure is not None else []


def tables(an: Analysis, dataset: str) -> list[tuple[str, pd.DataFrame]]:
    """The fidelity table of one data set (empty for a study without a teacher)."""
    table = an.table(QUESTION, "fidelity", dataset)
    if table.empty:
        return []

    def spread(r: pd.Series, metric: str, scale: float, digits: int) -> str:
        kind = "CI" if r[f"{metric}_interval"] == "ci" else "range"
        return f"{kind} {scale * r[f'{metric}_low']:.{digits}f} to {scale * r[f'{metric}_high']:.{digits}f}"

    rows = [
        {
            "group": r["group"],
            "arch": r["arch"],
            "params": params_text(r["params"]),
            "seeds": r["seeds"],
            "agreement (%)": f"{100 * r['agreement_mean']:.2f}",
            "agreement spread": spread(r, "agreement", 100.0, 2),
            f"≥ {100 * LEVEL:.0f}%": "yes" if r["agreement_mean"] >= LEVEL else "no",
            "KL(teacher‖student)": f"{r['teacher_kl_mean']:.4f}",
            "KL spread": spread(r, "teacher_kl", 1.0, 4),
            "test accuracy (%)": f"{100 * r['accuracy_mean']:.2f}",
            "teacher": r["teacher"],
        }
        for _, r in table.iterrows()
    ]
    return [(TITLE, pd.DataFrame(rows))]

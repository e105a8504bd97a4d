"""The report's figures for one data set, drawn on explicit `Figure` objects (never pyplot): they render headless
through the canvas of the format saved, and importing this module leaves the session's backend alone."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

from itermap.analysis.compare import label
from itermap.analysis.curves import curve, interpolate
from itermap.analysis.intervals import iqm
from itermap.analysis.metrics import METRICS
from itermap.analysis.overview import Analysis

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

STYLE: dict[RcKeyType, Any] = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.hashsalt": "itermap",
}
AXIS_LABELS = {"params": "Parameters (count, log scale)", "macs": "Multiply-adds per example (log scale)"}


@dataclass(frozen=True)
class Drawn:
    """A figure of a report section, with the file stem it is saved under (the data set's name goes before it) and
    the caption printed beside it."""

    stem: str
    figure: Figure
    caption: str


class Thousands(LogFormatter):
    """Log-axis tick labels as plain counts with thousands separators (10,000 rather than 10^4)."""

    def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
        return f"{x:,.0f}"


def colours(groups: list[str]) -> dict[str, str]:
    """One fixed colour per group, the same in every figure."""
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    return {g: cycle[i % len(cycle)] for i, g in enumerate(sorted(groups))}


def size_axis(ax, at: str = "params") -> None:
    ax.set_xscale("log")
    ax.set_xlabel(AXIS_LABELS[at])
    ax.xaxis.set_major_formatter(Thousands())
    ax.xaxis.set_minor_formatter(Thousands(labelOnlyBase=False))


def legend(ax, **kw) -> None:
    """Legend with groups in name order and the diverged-run marker last."""
    handles, labels = ax.get_legend_handles_labels()
    if not labels:
        return
    order = sorted(range(len(labels)), key=lambda i: (labels[i].startswith("diverged"), labels[i]))
    ax.legend([handles[i] for i in order], [labels[i] for i in order], **{"fontsize": 8, **kw})


def _metric_panel(
    ax, an: Analysis, dataset: str, split: str, metric: str, colour: dict[str, str], at: str = "params"
) -> None:
    """Mean line (PCHIP in log `at`) with CI band per group, seeds as faint points, diverged runs as crosses."""
    name, scale = f"{split}_{metric}", METRICS[metric].scale
    finals = an.finals[an.finals["dataset"] == dataset]
    for group in sorted(finals["group"].unique()):
        pts, c = curve(an.summary, dataset, group, name, at), colour[group]
        seeds = finals[finals["group"] == group]
        ax.scatter(seeds[at], scale * seeds[name], s=10, color=c, alpha=0.3, linewidths=0)
        if len(pts) > 1:
            x = np.geomspace(pts["x"].min(), pts["x"].max(), 200)
            ax.plot(x, scale * interpolate(pts["x"], pts["mean"], x), color=c, label=label(group))
            band = pts.dropna(subset=["ci_low", "ci_high"])
            if len(band) > 1:
                x = np.geomspace(band["x"].min(), band["x"].max(), 200)
                lo, hi = (scale * interpolate(band["x"], band[k], x) for k in ("ci_low", "ci_high"))
                ax.fill_between(x, lo, hi, color=c, alpha=0.2, linewidth=0)
            ax.plot(pts["x"], scale * pts["mean"], "o", color=c, ms=4)
        elif len(pts) == 1:
            err = scale * np.abs(pts[["ci_low", "ci_high"]].to_numpy().T - pts["mean"].to_numpy())
            ax.errorbar(
                pts["x"],
                scale * pts["mean"],
                yerr=np.nan_to_num(err),
                fmt="s",
                color=c,
                ms=5,
                capsize=3,
                label=label(group),
            )
    diverged = an.results[(an.results["dataset"] == dataset) & (an.results["status"] == "diverged")]
    diverged = diverged.drop_duplicates("run_id")
    if len(diverged):
        ax.plot(
            diverged[at],
            np.zeros(len(diverged)),
            "x",
            color="black",
            ms=7,
            clip_on=False,
            transform=ax.get_xaxis_transform(),
            label=f"diverged run ({len(diverged)})",
        )
    size_axis(ax, at)
    ax.set_ylabel(f"{split.capitalize()} {METRICS[metric].label.lower()} ({METRICS[metric].unit})")


def metric_figure(an: Analysis, dataset: str, split: str, metric: str, title: str, at: str = "params") -> Figure:
    """One metric of one split against parameters (or multiply-adds), all groups."""
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    _metric_panel(ax, an, dataset, split, metric, colours(an.summary["group"].unique()), at)
    ax.set_title(title)
    rows = an.summary[an.summary["dataset"] == dataset]
    kinds = set(rows[f"{split}_{metric}_interval"].dropna()) - {""}
    band = {frozenset({"ci"}): "95% CI", frozenset({"range"}): "seeds' range"}.get(frozenset(kinds), "95% CI or range")
    legend(ax, title=f"Group (mean, {band}; dots: seeds)", title_fontsize=8)
    return fig


def capacity_figure(an: Analysis, dataset: str) -> Figure:
    """Train accuracy and train cross-entropy against parameters: what each family can fit."""
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    colour = colours(an.summary["group"].unique())
    for ax, metric in zip(fig.subplots(1, 2), ("accuracy", "cross_entropy")):
        _metric_panel(ax, an, dataset, "train", metric, colour)
    legend(ax)
    fig.suptitle(f"{dataset}: capacity, final train accuracy and cross-entropy against parameters")
    return fig


def efficiency_figure(an: Analysis, dataset: str) -> Figure:
    """Test accuracy per parameter (the 2020 efficiency) and per log10-parameter, against parameters."""
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    rows = an.summary[(an.summary["dataset"] == dataset) & an.summary["test_accuracy_mean"].notna()]
    colour = colours(an.summary["group"].unique())
    left, right = fig.subplots(1, 2)
    for group, pts in rows.groupby("group"):
        left.plot(pts["params"], 100 * 1000 * pts["test_efficiency"], "o-", color=colour[group], label=label(group))
        right.plot(pts["params"], 100 * pts["test_accuracy_per_log10_param"], "o-", color=colour[group])
    for ax in (left, right):
        size_axis(ax)
    left.set_yscale("log")
    left.set_ylabel("Test accuracy per 1,000 parameters (% / 1k params)")
    right.set_ylabel("Test accuracy / log10(parameters) (%)")
    legend(left)
    fig.suptitle(
        f"{dataset}: efficiency, mean test accuracy divided by parameters (left) and by log10 parameters (right)"
    )
    return fig


def panel_grid(panels: int, height: float) -> tuple[Figure, np.ndarray]:
    """A figure of up to three panels a row (at least 8.4 inches wide, so its title fits) and its axes, flat."""
    cols = min(3, max(1, panels))
    rows = max(1, -(-panels // cols))
    fig = Figure(figsize=(max(8.4, 4.2 * cols), height * rows), layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False).ravel()


def profile_figure(an: Analysis, dataset: str) -> Figure:
    """Performance profiles: per group, the share of its runs whose final test accuracy exceeds each threshold."""
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    finals = an.finals[an.finals["dataset"] == dataset].dropna(subset=["test_accuracy"])
    colour = colours(an.summary["group"].unique())
    for group, runs in finals.groupby("group"):
        scores = np.sort(100 * runs["test_accuracy"].to_numpy())
        above = 1 - np.arange(len(scores)) / len(scores)  # share of runs scoring at least each score
        ax.step(scores, above, where="post", color=colour[group], label=f"{label(group)} ({len(scores)} runs)")
        ax.axvline(iqm(scores), color=colour[group], linestyle=":", linewidth=1)
    ax.set_xlabel("Final test accuracy threshold (%)")
    ax.set_ylabel("Share of runs at or above it")
    ax.set_title(f"{dataset}: performance profiles (dotted: interquartile mean)")
    legend(ax)
    return fig


def save(fig: Figure, folder: Path, stem: str) -> bytes:
    """Write `stem`.png (150 dpi) and `stem`.svg into `folder`, reproducibly; return the PNG bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(STYLE):
        fig.savefig(folder / f"{stem}.svg", metadata={"Date": None})
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=150, metadata={"Software": None})
    png = buffer.getvalue()
    (folder / f"{stem}.png").write_bytes(png)
    return png

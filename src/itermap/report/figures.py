"""The report's figures for one data set, drawn on explicit `Figure` objects (never pyplot): they render headless
through the canvas of the format saved, and importing this module leaves the session's backend alone."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, MaxNLocator

from itermap.analysis.compare import label
from itermap.analysis.curves import curve, interpolate
from itermap.analysis.intervals import iqm
from itermap.analysis.overview import Analysis

STYLE = {"font.size": 10, "axes.titlesize": 11, "axes.grid": True, "grid.alpha": 0.3, "svg.hashsalt": "itermap"}
AXIS_LABELS = {"params": "Parameters (count, log scale)", "macs": "Multiply-adds per example (log scale)"}
METRIC_LABELS = {
    "accuracy": ("Accuracy (%)", 100.0),
    "cross_entropy": ("Cross-entropy (nats)", 1.0),
}
CAPTIONS = {
    "test-accuracy": "Final test accuracy against parameters (log scale): line and band are the mean over seeds and its "
    "95% t interval (the seeds' range below 5 seeds), interpolated monotonically in log parameters; dots are single seeds.",
    "test-cross-entropy": "Final test cross-entropy against parameters, drawn as the accuracy figure.",
    "test-accuracy-macs": "Final test accuracy against multiply-adds per example (log scale): equal compute rather than "
    "equal parameters (an RNN applies its weights once per step); drawn as the accuracy figure.",
    "capacity": "Capacity: final train accuracy and cross-entropy against parameters.",
    "efficiency": "Efficiency: mean test accuracy per 1,000 parameters (the 2020 definition) and per log10 parameter.",
    "difference": "Test accuracy difference between each compared pair at equal parameters (or equal multiply-adds, "
    "where the study compares at those), with its simultaneous 95% band over the budgets (the per-seed differences' "
    "range below 5 seeds; nothing when the seeds differ) and the zero line.",
    "profiles": "Performance profiles (run-score distributions, as rliable): the share of a group's finished runs, over "
    "all its sizes, whose final test accuracy exceeds each threshold; the dotted line marks each group's "
    "interquartile mean over those runs.",
    "anytime": "Anytime accuracy: test accuracy of every step's prediction at the last epoch, per trained depth (dashed), "
    "one line per variant, mean over seeds and its 95% t interval (the seeds' range below 5 seeds); tied nets run on past their depth.",
    "fidelity": "Fidelity of distilled students: top-1 agreement with the teacher and mean KL(teacher || student) on the "
    "test split against student parameters, mean over seeds and its 95% t interval (the seeds' range below 5 seeds); "
    "the dashed line marks 99% agreement.",
    "windows": "The window continuum: final test accuracy against the window (columns or rows per step, log scale), one "
    "panel per parameter budget, one line per reading direction, mean over seeds and its 95% t interval (the seeds' range "
    "below 5 seeds); dashed: MLP-1 at the same budget with its band (window 28 is one step, MLP-1 in all but name).",
    "sparsity": "The sparsity continuum (docs/continua.md): final test accuracy against the fraction f of MLP-2's weights "
    "moved off the sub-diagonal into recurrent, skip and feedback blocks at equal non-zeros, one panel per budget, mean "
    "and 95% t interval (the seeds' range below 5 seeds); dashed: the MLPs and the RNN at the same budget.",
    "learning-curves": "Learning curves of representative configurations (smallest, middle and largest of each group).",
}


class Thousands(LogFormatter):
    """Log-axis tick labels as plain counts with thousands separators (10,000 rather than 10^4)."""

    def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
        return f"{x:,.0f}"


def colours(groups: list[str]) -> dict[str, str]:
    """One fixed colour per group, the same in every figure."""
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    return {g: cycle[i % len(cycle)] for i, g in enumerate(sorted(groups))}


def _size_axis(ax, at: str = "params") -> None:
    ax.set_xscale("log")
    ax.set_xlabel(AXIS_LABELS[at])
    ax.xaxis.set_major_formatter(Thousands())
    ax.xaxis.set_minor_formatter(Thousands(labelOnlyBase=False))


def _legend(ax, **kw) -> None:
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
    name, scale = f"{split}_{metric}", METRIC_LABELS[metric][1]
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
    _size_axis(ax, at)
    ax.set_ylabel(f"{split.capitalize()} {METRIC_LABELS[metric][0].lower()}")


def metric_figure(an: Analysis, dataset: str, split: str, metric: str, title: str, at: str = "params") -> Figure:
    """One metric of one split against parameters (or multiply-adds), all groups."""
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    _metric_panel(ax, an, dataset, split, metric, colours(an.summary["group"].unique()), at)
    ax.set_title(title)
    rows = an.summary[an.summary["dataset"] == dataset]
    kinds = set(rows[f"{split}_{metric}_interval"].dropna()) - {""}
    band = {frozenset({"ci"}): "95% CI", frozenset({"range"}): "seeds' range"}.get(frozenset(kinds), "95% CI or range")
    _legend(ax, title=f"Group (mean, {band}; dots: seeds)", title_fontsize=8)
    return fig


def capacity_figure(an: Analysis, dataset: str) -> Figure:
    """Train accuracy and train cross-entropy against parameters: what each family can fit."""
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    colour = colours(an.summary["group"].unique())
    for ax, metric in zip(fig.subplots(1, 2), ("accuracy", "cross_entropy")):
        _metric_panel(ax, an, dataset, "train", metric, colour)
    _legend(ax)
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
        _size_axis(ax)
    left.set_yscale("log")
    left.set_ylabel("Test accuracy per 1,000 parameters (% / 1k params)")
    right.set_ylabel("Test accuracy / log10(parameters) (%)")
    _legend(left)
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


def difference_figure(an: Analysis, dataset: str) -> Figure:
    """A - B test accuracy at equal parameters (or multiply-adds) for every comparison, with its 95% band and zero line."""
    cmp = an.comparisons[an.comparisons["dataset"] == dataset] if len(an.comparisons) else an.comparisons
    pairs = list(dict.fromkeys(zip(cmp["a"], cmp["b"], cmp["at"]))) if len(cmp) else []
    fig, axes = panel_grid(len(pairs), 3.6)
    for ax, (a, b, at) in zip(axes, pairs):
        rows = cmp[(cmp["a"] == a) & (cmp["b"] == b) & (cmp["at"] == at)]
        head = " (headline)" if (a, b) in an.headline else " (exploratory)"
        kind = {"band": "simultaneous 95% band", "range": "seeds' range"}.get(rows["interval"].iloc[0], "no interval")
        ax.axhline(0, color="black", linewidth=1)
        ax.fill_between(rows["x"], 100 * rows["low"], 100 * rows["high"], alpha=0.25, linewidth=0)
        err = np.nan_to_num(100 * np.abs(rows[["low", "high"]].to_numpy().T - rows["diff"].to_numpy()))
        ax.errorbar(rows["x"], 100 * rows["diff"], yerr=err, fmt="o-", capsize=3, label=f"difference, {kind}")
        _size_axis(ax, at)
        ax.set_ylabel("Test accuracy difference (points)")
        ax.set_title(f"{label(a)} - {label(b)}{head}" + (", equal MACs" if at == "macs" else ""))
    for ax in axes[len(pairs) :]:
        ax.set_axis_off()
        if not pairs:
            ax.text(0.5, 0.5, "no two compared groups share a range", ha="center", va="center")
    _legend(axes[0])
    fig.suptitle(f"{dataset}: test accuracy difference at equal size (above zero: first group ahead)")
    return fig


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
    _legend(ax)
    return fig


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


def figures(an: Analysis, dataset: str) -> dict[str, Figure]:
    """Every figure of one data set, by file stem."""
    missing = int(an.summary.loc[an.summary["dataset"] == dataset, "missing"].sum())
    partial = f" [partial: {missing} runs missing]" if missing else ""
    compared = f"{dataset}: {{}} against {{}}, one curve per group{partial}"
    with matplotlib.rc_context(STYLE):
        return {
            f"{dataset}-test-accuracy": metric_figure(
                an, dataset, "test", "accuracy", compared.format("final test accuracy", "parameters")
            ),
            f"{dataset}-test-accuracy-macs": metric_figure(
                an, dataset, "test", "accuracy", compared.format("final test accuracy", "multiply-adds"), at="macs"
            ),
            f"{dataset}-test-cross-entropy": metric_figure(
                an, dataset, "test", "cross_entropy", compared.format("final test cross-entropy", "parameters")
            ),
            f"{dataset}-capacity": capacity_figure(an, dataset),
            f"{dataset}-efficiency": efficiency_figure(an, dataset),
            f"{dataset}-difference": difference_figure(an, dataset),
            f"{dataset}-profiles": profile_figure(an, dataset),
            f"{dataset}-learning-curves": learning_figure(an, dataset),
        }


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

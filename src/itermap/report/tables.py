"""The report's tables as formatted strings, shared by summary.md and report.html."""

from __future__ import annotations

import numpy as np
import pandas as pd

from itermap.analysis.aggregate import FINAL_COLUMNS
from itermap.analysis.compare import label
from itermap.analysis.convergence import LAST_K, PER
from itermap.analysis.intervals import MIN_SEEDS
from itermap.analysis.metrics import metric_of
from itermap.analysis.paired import ALPHA
from itermap.analysis.verdict import params_text, ratio_text

MISSING = "missing"
NOTE = (
    "Accuracy in percent, cross-entropy in nats, differences in percentage points; mean ± std over finished seeds, "
    f"with the 95% t interval of the mean from {MIN_SEEDS} seeds on and the seeds' range (`range [min, max]`) below; "
    "IQM: interquartile mean; diverged runs are left out of means and counted. Comparisons: a simultaneous 95% "
    "band over each pair's budgets, Holm-corrected within the headline and the exploratory comparisons; with fewer "
    f"than {MIN_SEEDS} seeds, descriptive only (docs/statistics.md)."
)


def number(x: float, metric: str) -> str:
    """A metric value as its declaration shows it (analysis/metrics.py): accuracy in percent, 2 decimals."""
    return "n/a" if pd.isna(x) else metric_of(metric).text(x)


def header(column: str) -> str:
    """A metric column's header: "test_accuracy" -> "Test accuracy (%)"; cross-entropy's nats go unsaid."""
    metric = metric_of(column)
    unit = f" ({metric.unit})" if metric.unit == "%" else ""
    return f"{column.split('_')[0].capitalize()} {metric.label.lower()}{unit}"


def interval(lo: float, hi: float, kind: str, fmt=None) -> str:
    """An interval as "[lo, hi]" (a CI or band) or "range [lo, hi]" (the seeds' range), each end through `fmt`."""
    if pd.isna(lo) or kind == "":
        return "n/a"
    return ("range " if kind == "range" else "") + f"[{fmt(lo)}, {fmt(hi)}]"


def points(x: float) -> str:
    """An accuracy difference in percentage points with its sign."""
    return f"{100 * x:+.2f}"


def lead_interval(r: pd.Series) -> str:
    """A row's difference interval (`ci_low`, `ci_high` of kind `interval`) in percentage points."""
    return interval(r["ci_low"], r["ci_high"], r["interval"], points)


def holm_p(r: pd.Series) -> str:
    """A row's Holm-adjusted p with 4 decimals ("n/a" where no test was made)."""
    return "n/a" if pd.isna(r["p"]) else f"{r['p_holm']:.4f}"


def difference(r: pd.Series, name: str) -> dict[str, str]:
    """A paired difference's cells: `name` (the difference in points), its interval (the t CI or the seeds' range)
    and its Holm-adjusted p."""
    return {name: points(r["diff"]), "95% CI or range": lead_interval(r), "p (Holm)": holm_p(r)}


def measured(r: pd.Series, name: str = "Test accuracy (%)") -> dict[str, str]:
    """A group's accuracy cells: its seeds, its mean (`name`) and that mean's interval (the t CI or the seeds'
    range)."""
    ci = interval(r["ci_low"], r["ci_high"], r["interval"], lambda v: number(v, "accuracy"))
    return {"Seeds": str(r["n"]), name: number(r["mean"], "accuracy"), "95% CI or range": ci}


def paired(r: pd.Series, a: str, b: str, name: str) -> dict[str, str]:
    """A paired comparison's cells: its seeds, both sides' mean accuracies (`a`, `b`) and their `difference`."""
    means = {a: number(r["a_mean"], "accuracy"), b: number(r["b_mean"], "accuracy")}
    return {"Seeds": str(r["n"]), **means, **difference(r, name)}


def rate(k: int, n: int, low: float, high: float) -> str:
    """Diverged runs "k/n", with the rate and its exact 95% interval in percent from MIN_SEEDS runs on."""
    if n < MIN_SEEDS:
        return f"{k}/{n}"
    return f"{k}/{n} ({100 * k / n:.0f}% [{100 * low:.0f}, {100 * high:.0f}])"


def configurations(summary: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Per configuration: group, architecture, parameters, run counts, and mean ± std and CI of each final metric."""
    rows = []
    for _, r in summary[summary["dataset"] == dataset].iterrows():
        row = {
            "Group": label(r["group"]),
            "Architecture": r["arch"],
            "Parameters": params_text(r["params"]),
            "Seeds done": f"{r['done']}/{r['planned']}",
            "Diverged": rate(r["diverged"], r["done"] + r["diverged"], r["diverged_low"], r["diverged_high"]),
        }
        for m in FINAL_COLUMNS:
            head = header(m)
            if r["done"] == 0:
                row[head] = row[f"{head} CI or range"] = MISSING
                row.update({"Test IQM (%)": MISSING} if m == "test_accuracy" else {})
                continue
            std = "" if pd.isna(r[f"{m}_std"]) else f" ± {number(r[f'{m}_std'], m)}"
            row[head] = number(r[f"{m}_mean"], m) + std
            if m == "test_accuracy":
                row["Test IQM (%)"] = number(r[f"{m}_iqm"], m)
            fmt = lambda x, m=m: number(x, m)  # noqa: E731
            row[f"{head} CI or range"] = interval(r[f"{m}_ci_low"], r[f"{m}_ci_high"], r[f"{m}_interval"], fmt)
        rows.append(row)
    return pd.DataFrame(rows)


def _multiplier(r: pd.Series) -> str:
    if pd.isna(r["multiplier"]):
        return "n/a"
    return ratio_text(r["multiplier"], r["multiplier_bound"])


def _multiplier_interval(r: pd.Series) -> str:
    if pd.isna(r["multiplier"]) or r["interval"] != "band":
        return "n/a"
    return f"{ratio_text(r['multiplier_low'], r['multiplier_low_bound'])} to {ratio_text(r['multiplier_high'], r['multiplier_high_bound'])}"


def _holm(r: pd.Series) -> str:
    return "n/a" if pd.isna(r["p_holm"]) else f"{r['p_holm']:.4f}"


def _excludes(r: pd.Series, kind: str) -> str:
    if r["interval"] != kind:
        return f"n/a ({r['seeds']} seeds)"
    return "yes" if r["significant"] and r["excludes_zero"] else "no"


def _poi(r: pd.Series) -> str:
    """P(A beats B) with its interval where there is one."""
    if pd.isna(r["prob_improvement"]):
        return "n/a"
    poi = f"{r['prob_improvement']:.2f}"
    return poi if pd.isna(r["poi_low"]) else f"{poi} [{r['poi_low']:.2f}, {r['poi_high']:.2f}]"


def _equivalent(r: pd.Series) -> str:
    """Whether A - B lies within the declared margin (two one-sided tests, Holm-adjusted)."""
    if pd.isna(r["p_tost_holm"]):
        return "n/a"
    return f"{'yes' if r['p_tost_holm'] < ALPHA else 'no'} (p = {r['p_tost_holm']:.4f})"


COMPARISON_TITLES = {
    "params": "Equal-parameter comparison of test accuracy (* interpolated)",
    "macs": "Equal-MACs comparison of test accuracy (multiply-adds per example; * interpolated)",
}


def comparison(comparisons: pd.DataFrame, dataset: str, at: str = "params") -> pd.DataFrame:
    """The comparison at equal `at` (params or macs): per pair and size, both values, difference, seeds and design, the
    simultaneous band (or the seeds' range), whether A is said ahead there, Holm p, multiplier with its interval."""
    if comparisons.empty:
        return pd.DataFrame()
    size, short, rows = {"params": ("Parameters", "params"), "macs": ("MACs", "MACs")}[at] + ([],)
    for _, r in comparisons[(comparisons["dataset"] == dataset) & (comparisons["at"] == at)].iterrows():
        gap = max(r["a_gap"], r["b_gap"])  # the measured sizes an interpolated value lies between: their ratio
        rows.append(
            {
                "A": label(r["a"]),
                "B": label(r["b"]),
                "Family": "headline" if r["headline"] else "exploratory",
                size: params_text(r["x"]),
                "Seeds": f"{r['seeds']} {r['design']}",
                "A test acc. (%)": number(r["a_value"], "accuracy") + ("" if r["a_measured"] else "*"),
                "B test acc. (%)": number(r["b_value"], "accuracy") + ("" if r["b_measured"] else "*"),
                "A - B (points)": points(r["diff"]),
                "95% band or range (points)": interval(r["low"], r["high"], r["interval"], points),
                "Band excludes 0 (after Holm)": _excludes(r, "band"),
                "Holm p": _holm(r),
                f"B {short} to match A": "n/a"
                if pd.isna(r["multiplier"])
                else r["multiplier_bound"] + params_text(r["b_to_match"]),
                "Multiplier": _multiplier(r),
                "Multiplier 95% interval": _multiplier_interval(r),
                "P(A beats B)": _poi(r),
                "Interpolated across": "" if not gap > 1 else f"{gap:.1f}x",
                "Log-linear interpolant moves A - B by (points)": ""
                if not gap > 1
                else points(r["interpolant_spread"]),
            }
            | ({f"Equivalent within {100 * r['margin']:g} points": _equivalent(r)} if pd.notna(r["margin"]) else {})
        )
    return pd.DataFrame(rows)


def matched(table: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Direct comparisons at matched budgets: seeds and design, means, difference with its t interval (or the seeds'
    range), p-values, P(improvement) with its interval."""
    if table.empty:
        return pd.DataFrame()
    rows = []
    for _, r in table[table["dataset"] == dataset].iterrows():
        rows.append(
            {
                "A": label(r["a"]),
                "B": label(r["b"]),
                "Family": "headline" if r["headline"] else "exploratory",
                "Budget": params_text(r["budget"]),
                "A params": params_text(r["a_params"]),
                "B params": params_text(r["b_params"]),
                "Seeds A/B": f"{r['n_a']}/{r['n_b']} {r['design']}",
                "A test acc. (%)": number(r["a_mean"], "accuracy"),
                "B test acc. (%)": number(r["b_mean"], "accuracy"),
                "A - B (points)": points(r["diff"]),
                "95% CI or range (points)": interval(r["low"], r["high"], r["interval"], points),
                "p (t test)": "n/a" if pd.isna(r["p"]) else f"{r['p']:.4f}",
                "p (Holm)": _holm(r),
                "P(A beats B)": _poi(r),
            }
            | ({f"Equivalent within {100 * r['margin']:g} points": _equivalent(r)} if pd.notna(r["margin"]) else {})
        )
    return pd.DataFrame(rows)


def convergence(conv: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Per configuration: the mean of the last test evaluations and the late slope with its interval (or range)."""
    rows = []
    for _, r in conv[conv["dataset"] == dataset].iterrows():
        slope = lambda x: f"{100 * PER * x:+.2f}"  # noqa: E731
        rows.append(
            {
                "Group": label(r["group"]),
                "Architecture": r["arch"],
                "Parameters": params_text(r["params"]),
                "Seeds": str(r["seeds"]),
                "Last epoch": str(r["epochs"]),
                f"Mean of last {LAST_K} test acc. (%)": number(r["late_mean"], "accuracy"),
                f"Late slope (points / {PER} epochs)": "n/a" if pd.isna(r["slope"]) else slope(r["slope"]),
                "95% CI or range": interval(r["slope_low"], r["slope_high"], r["interval"], slope),
                "Still improving": "yes" if r["improving"] else "no",
            }
        )
    return pd.DataFrame(rows)


def diverged(results: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Runs that diverged: architecture, parameters, seed and the epoch it happened."""
    runs = results[(results["dataset"] == dataset) & (results["status"] == "diverged")].drop_duplicates("run_id")
    return pd.DataFrame(
        {
            "Architecture": runs["arch"],
            "Parameters": runs["params"].map(params_text),
            "Seed": runs["seed"].astype(str),
            "Diverged at epoch": runs["diverged_epoch"].map(lambda e: "n/a" if pd.isna(e) else str(int(e))),
        }
    )


def markdown(table: pd.DataFrame) -> str:
    """A pipe table."""
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def run_totals(summary: pd.DataFrame) -> dict[str, int]:
    """Planned, done, diverged and missing runs over the whole study."""
    return {k: int(np.sum(summary[k])) for k in ("planned", "done", "diverged", "missing")}


VERSIONS = ("python", "itermap", "torch", "numpy", "scipy", "pandas", "cuda", "cudnn")


def environment(sessions: list[dict]) -> pd.DataFrame:
    """One row per training session: when, the command, how it trained (executor, shard, device) and the versions."""
    rows = [
        {
            "started (UTC)": pd.Timestamp(s["started"], unit="s").strftime("%Y-%m-%d %H:%M:%S"),
            "command": s["command"],
            "executor": f"{s['executor']}, {s['workers']} at once, shard {s['shard']}",
            "device": f"{s['device']} ({s['device_name']}), {s['threads']} thread(s) per training",
            "git commit": s["git_commit"] or "none",
            "versions": ", ".join(f"{k} {s[k]}" for k in VERSIONS if s[k]),
        }
        for s in sessions
    ]
    return pd.DataFrame(rows, columns=["started (UTC)", "command", "executor", "device", "git commit", "versions"])

"""The report's tables as formatted strings, shared by summary.md and report.html."""

from __future__ import annotations

import numpy as np
import pandas as pd

from itermap.analysis.aggregate import METRICS
from itermap.analysis.compare import label
from itermap.analysis.verdict import params_text

MISSING = "missing"
NOTE = (
    "Accuracy in percent, cross-entropy in nats, differences in percentage points; mean ± std over finished "
    "seeds with a 95% percentile-bootstrap CI of the mean; diverged runs are left out of means and counted."
)
METRIC_HEADERS = {
    "test_accuracy": "Test accuracy (%)",
    "test_cross_entropy": "Test cross-entropy",
    "train_accuracy": "Train accuracy (%)",
    "train_cross_entropy": "Train cross-entropy",
}


def number(x: float, metric: str) -> str:
    """A metric value: accuracy as a percentage with 2 decimals, cross-entropy with 4."""
    if pd.isna(x):
        return "n/a"
    return f"{100 * x:.2f}" if "accuracy" in metric else f"{x:.4f}"


def interval(lo: float, hi: float, metric: str) -> str:
    """A CI as "[lo, hi]" in the metric's format."""
    return "n/a" if pd.isna(lo) else f"[{number(lo, metric)}, {number(hi, metric)}]"


def points(x: float) -> str:
    """An accuracy difference in percentage points with its sign."""
    return f"{100 * x:+.2f}"


def configurations(summary: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Per configuration: group, architecture, parameters, run counts, and mean ± std and CI of each final metric."""
    rows = []
    for _, r in summary[summary["dataset"] == dataset].iterrows():
        row = {
            "Group": label(r["group"]),
            "Architecture": r["arch"],
            "Parameters": params_text(r["params"]),
            "Seeds done": f"{r['done']}/{r['planned']}",
            "Diverged": str(r["diverged"]),
        }
        for m in METRICS:
            if r["done"] == 0:
                row[METRIC_HEADERS[m]] = row[f"{METRIC_HEADERS[m]} CI"] = MISSING
                continue
            std = "" if pd.isna(r[f"{m}_std"]) else f" ± {number(r[f'{m}_std'], m)}"
            row[METRIC_HEADERS[m]] = number(r[f"{m}_mean"], m) + std
            row[f"{METRIC_HEADERS[m]} CI"] = interval(r[f"{m}_ci_low"], r[f"{m}_ci_high"], m)
        rows.append(row)
    return pd.DataFrame(rows)


def _multiplier(r: pd.Series) -> str:
    if pd.isna(r["multiplier"]):
        return "n/a"
    return f"{r['multiplier_bound']}{r['multiplier']:.2f}x"


COMPARISON_TITLES = {
    "params": "Equal-parameter comparison of test accuracy (* interpolated)",
    "macs": "Equal-MACs comparison of test accuracy (multiply-adds per example; * interpolated)",
}


def comparison(comparisons: pd.DataFrame, dataset: str, at: str = "params") -> pd.DataFrame:
    """The comparison at equal `at` (params or macs): per pair and size, both values, difference, CI, multiplier."""
    if comparisons.empty:
        return pd.DataFrame()
    size, short, rows = {"params": ("Parameters", "params"), "macs": ("MACs", "MACs")}[at] + ([],)
    for _, r in comparisons[(comparisons["dataset"] == dataset) & (comparisons["at"] == at)].iterrows():
        rows.append(
            {
                "A": label(r["a"]),
                "B": label(r["b"]),
                size: params_text(r["x"]),
                "A test acc. (%)": number(r["a_value"], "accuracy") + ("" if r["a_measured"] else "*"),
                "B test acc. (%)": number(r["b_value"], "accuracy") + ("" if r["b_measured"] else "*"),
                "A - B (points)": points(r["diff"]),
                "95% CI (points)": f"[{points(r['ci_low'])}, {points(r['ci_high'])}]",
                "CI excludes 0": "yes" if r["excludes_zero"] else "no",
                f"B {short} to match A": "n/a"
                if pd.isna(r["multiplier"])
                else r["multiplier_bound"] + params_text(r["b_to_match"]),
                "Multiplier": _multiplier(r),
            }
        )
    return pd.DataFrame(rows)


def matched(table: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Direct comparisons at matched budgets: counts, means, difference with CI, p-values, P(improvement)."""
    if table.empty:
        return pd.DataFrame()
    rows = []
    for _, r in table[table["dataset"] == dataset].iterrows():
        rows.append(
            {
                "A": label(r["a"]),
                "B": label(r["b"]),
                "Budget": params_text(r["budget"]),
                "A params": params_text(r["a_params"]),
                "B params": params_text(r["b_params"]),
                "Seeds A/B": f"{r['n_a']}/{r['n_b']}",
                "A test acc. (%)": number(r["a_mean"], "accuracy"),
                "B test acc. (%)": number(r["b_mean"], "accuracy"),
                "A - B (points)": points(r["diff"]),
                "95% CI (points)": f"[{points(r['ci_low'])}, {points(r['ci_high'])}]",
                "p (permutation)": f"{r['p']:.4f}",
                "p (Holm)": f"{r['p_holm']:.4f}",
                "P(A beats B)": f"{r['prob_improvement']:.2f}",
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

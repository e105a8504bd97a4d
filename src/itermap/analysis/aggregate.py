"""Final metrics per run and their aggregation over seeds per configuration."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from itermap.analysis.intervals import iqm, rate_ci, spread
from itermap.data.datasets import DATASETS

CONFIG_KEYS = [
    "dataset",
    "group",
    "params",
    "macs",
    "arch",
]  # one configuration (a group holds one setting of every varying field)
NUMBER = re.compile(r"(\d+(?:\.\d+)?(?:e-?\d+)?)")


def natural(column: pd.Series) -> pd.Series:
    """A sort key reading the numbers in group names as numbers ('window=2' before 'window=14'); other columns as is."""
    if column.name != "group":
        return column
    # re.split with one group alternates text and number, so equal positions of two keys compare like with like.
    return column.map(lambda g: tuple(float(t) if i % 2 else t for i, t in enumerate(NUMBER.split(g))))


FINAL_COLUMNS = ["test_accuracy", "test_cross_entropy", "train_accuracy", "train_cross_entropy"]  # split_metric


def final_metrics(df: pd.DataFrame) -> pd.DataFrame:
    """One row per finished run: configuration, seed, matched budget if any, and each metric at its last recorded epoch."""
    done = df[(df["status"] == "done") & df["epoch"].notna()]
    last = done.loc[done.groupby(["run_id", "split", "metric"])["epoch"].idxmax()]
    wide = last.pivot_table(index="run_id", columns=["split", "metric"], values="value", aggfunc="first")
    wide.columns = [f"{split}_{metric}" for split, metric in wide.columns]
    carried = [*CONFIG_KEYS, "seed", *(["budget"] if "budget" in df.columns else [])]
    runs = done.drop_duplicates("run_id").set_index("run_id")[carried]
    out = runs.join(wide.reindex(columns=FINAL_COLUMNS)).reset_index()
    return out.sort_values([*CONFIG_KEYS, "seed"], ignore_index=True, key=natural)


def run_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Runs per configuration by outcome: done, diverged, missing (pending or running) and planned."""
    runs = df.drop_duplicates("run_id")
    counts = pd.crosstab([runs[k] for k in CONFIG_KEYS], runs["status"])
    out = pd.DataFrame(index=counts.index)
    out["done"] = counts.get("done", 0)
    out["diverged"] = counts.get("diverged", 0)
    out["missing"] = counts.get("pending", 0) + counts.get("running", 0)
    out["planned"] = counts.sum(axis=1)
    return out.reset_index()


def chance(dataset: str) -> float:
    """Accuracy of a uniform guess on a data set: 1 / classes (10 for a data set outside the registry)."""
    return 1 / (DATASETS[dataset].classes if dataset in DATASETS else 10)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: run counts, the divergence rate with its exact interval; per final metric its mean, std,
    interquartile mean and `spread` (t CI from MIN_SEEDS seeds, else range); test accuracy's mean with diverged runs
    counted at chance; efficiency and accuracy per log10-parameter."""
    finals = final_metrics(df)
    rows = []
    for key, runs in finals.groupby(CONFIG_KEYS, sort=True):
        row = dict(zip(CONFIG_KEYS, key))
        for metric in FINAL_COLUMNS:
            values = runs[metric].dropna().to_numpy()
            row[f"{metric}_mean"] = values.mean() if len(values) else np.nan
            row[f"{metric}_std"] = values.std(ddof=1) if len(values) > 1 else np.nan
            row[f"{metric}_iqm"] = iqm(values)
            row[f"{metric}_ci_low"], row[f"{metric}_ci_high"], row[f"{metric}_interval"] = spread(values)
        rows.append(row)
    stats_cols = ("mean", "std", "iqm", "ci_low", "ci_high", "interval")
    means = pd.DataFrame(rows, columns=[*CONFIG_KEYS, *(f"{m}_{s}" for m in FINAL_COLUMNS for s in stats_cols)])
    out = run_counts(df).merge(means, on=CONFIG_KEYS, how="left")
    ended = out["done"] + out["diverged"]
    out["diverged_rate"] = out["diverged"] / ended.where(ended > 0)
    ends = [rate_ci(k, n) if n else (np.nan, np.nan) for k, n in zip(out["diverged"], ended)]
    out["diverged_low"], out["diverged_high"] = [e[0] for e in ends], [e[1] for e in ends]
    at_chance = out["dataset"].map(chance)
    out["test_accuracy_mean_at_chance"] = (
        out["test_accuracy_mean"].fillna(0) * out["done"] + at_chance * out["diverged"]
    ) / ended.where(ended > 0)
    for split in ("test", "train"):
        out[f"{split}_efficiency"] = out[f"{split}_accuracy_mean"] / out["params"]
        out[f"{split}_accuracy_per_log10_param"] = out[f"{split}_accuracy_mean"] / np.log10(out["params"])
    return out.sort_values(CONFIG_KEYS, ignore_index=True, key=natural)

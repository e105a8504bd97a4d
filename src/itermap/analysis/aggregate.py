"""Final metrics per run and their aggregation over seeds per configuration."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

CONFIG_KEYS = [
    "dataset",
    "group",
    "params",
    "macs",
    "arch",
]  # one configuration (a group holds one setting of every varying field)
METRICS = ["test_accuracy", "test_cross_entropy", "train_accuracy", "train_cross_entropy"]
CONFIDENCE = 0.95
N_RESAMPLES = 9999
SEED = 0


def final_metrics(df: pd.DataFrame) -> pd.DataFrame:
    """One row per finished run: configuration, seed, matched budget if any, and each metric at its last recorded epoch."""
    done = df[(df["status"] == "done") & df["epoch"].notna()]
    last = done.loc[done.groupby(["run_id", "split", "metric"])["epoch"].idxmax()]
    wide = last.pivot_table(index="run_id", columns=["split", "metric"], values="value", aggfunc="first")
    wide.columns = [f"{split}_{metric}" for split, metric in wide.columns]
    carried = [*CONFIG_KEYS, "seed", *(["budget"] if "budget" in df.columns else [])]
    runs = done.drop_duplicates("run_id").set_index("run_id")[carried]
    out = runs.join(wide.reindex(columns=METRICS)).reset_index()
    return out.sort_values([*CONFIG_KEYS, "seed"], ignore_index=True)


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


def mean_ci(values: np.ndarray) -> tuple[float, float]:
    """95% percentile-bootstrap CI of the mean of `values` (NaN for fewer than two values)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return np.nan, np.nan
    res = stats.bootstrap(
        (values,),
        np.mean,
        n_resamples=N_RESAMPLES,
        confidence_level=CONFIDENCE,
        method="percentile",
        rng=np.random.default_rng(SEED),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: run counts; mean, std, CI of each final metric; efficiency and accuracy per log10-parameter."""
    finals = final_metrics(df)
    rows = []
    for key, runs in finals.groupby(CONFIG_KEYS, sort=True):
        row = dict(zip(CONFIG_KEYS, key))
        for metric in METRICS:
            values = runs[metric].dropna().to_numpy()
            row[f"{metric}_mean"] = values.mean() if len(values) else np.nan
            row[f"{metric}_std"] = values.std(ddof=1) if len(values) > 1 else np.nan
            row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = mean_ci(values)
        rows.append(row)
    means = pd.DataFrame(
        rows, columns=[*CONFIG_KEYS, *(f"{m}_{s}" for m in METRICS for s in ("mean", "std", "ci_low", "ci_high"))]
    )
    out = run_counts(df).merge(means, on=CONFIG_KEYS, how="left")
    for split in ("test", "train"):
        out[f"{split}_efficiency"] = out[f"{split}_accuracy_mean"] / out["params"]
        out[f"{split}_accuracy_per_log10_param"] = out[f"{split}_accuracy_mean"] / np.log10(out["params"])
    return out.sort_values(CONFIG_KEYS, ignore_index=True)

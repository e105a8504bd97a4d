"""Whether training had converged: per run the mean of its last evaluations and the slope over the last fifth of
training; per configuration the mean slope with its `spread` over seeds, and a flag when it is still rising."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from itermap.analysis.aggregate import CONFIG_KEYS
from itermap.analysis.intervals import spread

LAST_K = 5  # evaluations averaged into a run's late level
PER = 10  # slopes are shown per this many epochs


def late_slope(epochs: np.ndarray, values: np.ndarray) -> float:
    """Least-squares slope per epoch over the evaluations at epochs > 4/5 of the last (at least the last two)."""
    order = np.argsort(epochs)
    epochs, values = epochs[order], values[order]
    late = epochs > 0.8 * epochs[-1]
    late[-2:] = True
    return float(stats.linregress(epochs[late], values[late]).slope) if len(epochs) > 1 else np.nan


def convergence(df: pd.DataFrame, split: str = "test", metric: str = "accuracy") -> pd.DataFrame:
    """Per configuration: last epoch, seeds, mean over seeds of each run's last-LAST_K mean, mean late slope (per
    epoch) with its spread; `improving` when the interval (or, below MIN_SEEDS seeds, every seed) rises."""
    rows = df[(df["status"] == "done") & (df["split"] == split) & (df["metric"] == metric)].dropna(subset=["value"])
    per_run = [
        {
            **dict(zip(CONFIG_KEYS, key)),
            "epochs": int(run["epoch"].max()),
            "late_mean": run.sort_values("epoch")["value"].iloc[-LAST_K:].mean(),
            "slope": late_slope(run["epoch"].to_numpy(float), run["value"].to_numpy(float)),
        }
        for (*key, _), run in rows.groupby([*CONFIG_KEYS, "run_id"], sort=True)
    ]
    out = []
    for key, runs in pd.DataFrame(per_run, columns=[*CONFIG_KEYS, "epochs", "late_mean", "slope"]).groupby(
        CONFIG_KEYS, sort=True
    ):
        slopes = runs["slope"].dropna().to_numpy()
        low, high, kind = spread(slopes)
        out.append(
            {
                **dict(zip(CONFIG_KEYS, key)),
                "epochs": int(runs["epochs"].max()),
                "seeds": len(runs),
                "late_mean": runs["late_mean"].mean(),
                "slope": slopes.mean() if len(slopes) else np.nan,
                "slope_low": low,
                "slope_high": high,
                "interval": kind,
                "improving": bool(low > 0),
            }
        )
    cols = [*CONFIG_KEYS, "epochs", "seeds", "late_mean", "slope", "slope_low", "slope_high", "interval", "improving"]
    return pd.DataFrame(out, columns=cols)

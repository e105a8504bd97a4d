"""Whether training had converged: per run the mean of its last evaluations and the slope over the last fifth of
training; per configuration the mean slope with its `spread` over seeds, and a flag when it is still rising."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from itermap.analysis.aggregate import CONFIG_KEYS
from itermap.analysis.intervals import spread
from itermap.analysis.measured import Measured
from itermap.analysis.verdict import interval_text

NAME = "convergence"
TITLE = "Convergence"
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


def applies(data: Measured) -> bool:
    """Every study: whether its runs had stopped improving is part of every answer."""
    return True


def tables(data: Measured) -> dict[str, pd.DataFrame]:
    """`convergence`: per configuration, the late slope of test accuracy (`convergence`)."""
    return {"convergence": convergence(data.results)}


def verdicts(found: dict[str, pd.DataFrame], dataset: str) -> list[str]:
    """None: convergence qualifies the other answers, in notes."""
    return []


def notes(found: dict[str, pd.DataFrame], dataset: str) -> list[str]:
    """The configurations of one data set still improving at the end (`improving_notes`)."""
    conv = found["convergence"]
    return improving_notes(conv[conv["dataset"] == dataset])


def improving_notes(conv: pd.DataFrame) -> list[str]:
    """One line naming the configurations whose late slope's interval (or every seed's slope) is above zero."""
    rising = conv[conv["improving"]]
    if rising.empty:
        return []
    items = ", ".join(
        f"{r['arch']} {PER * 100 * r['slope']:+.1f} points per {PER} epochs "
        f"({interval_text(PER * r['slope_low'], PER * r['slope_high'], r['interval'])}, {r['seeds']} seeds)"
        for _, r in rising.iterrows()
    )
    epochs = rising["epochs"].max()
    return [f"Still improving at epoch {epochs} ({len(rising)} of {len(conv)} configurations): {items}."]

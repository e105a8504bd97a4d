"""Intervals over seeds on plain arrays: the t interval of a mean, a seed range, a rate's interval (a difference's:
analysis/paired.py).

Below MIN_SEEDS seeds a t interval is valid but so wide, and so sensitive to one odd seed, that the report shows the
seeds' range instead and writes no inferential sentence.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

LEVEL = 0.95
MIN_SEEDS = 5


def mean_ci(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """t interval of the mean, mean ± t_{n-1, (1+level)/2} s / √n (NaN for fewer than two values)."""
    x = np.asarray(values, float)
    if len(x) < 2:
        return np.nan, np.nan
    half = stats.t.ppf((1 + level) / 2, len(x) - 1) * stats.sem(x)
    return float(x.mean() - half), float(x.mean() + half)


def seed_range(values: np.ndarray) -> tuple[float, float]:
    """The smallest and largest value (NaN for none)."""
    x = np.asarray(values, float)
    return (float(x.min()), float(x.max())) if len(x) else (np.nan, np.nan)


def spread(values: np.ndarray, level: float = LEVEL) -> tuple[float, float, str]:
    """(low, high, kind): the t interval of the mean ("ci") from MIN_SEEDS values on, else the values' range ("range")."""
    if len(values) >= MIN_SEEDS:
        return (*mean_ci(values, level), "ci")
    return (*seed_range(values), "range")


def rate_ci(k: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Clopper-Pearson (exact binomial) interval of a rate k / n."""
    ci = stats.binomtest(k, n).proportion_ci(level, method="exact")
    return float(ci.low), float(ci.high)


def iqm(values: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50% (25% cut from each end, as rliable), NaN for no values."""
    x = np.asarray(values, float)
    return float(stats.trim_mean(x, 0.25)) if len(x) else np.nan

"""A simultaneous confidence band over budgets from bootstrap draws: the studentised max-|t| band.

With d̂_p the estimate at budget p, d*_bp its bootstrap draws (b = 1..B) and sd*_p their standard deviation:

    T_b = max_p |d*_bp - d̂_p| / sd*_p  /  sqrt(χ²_{ν,bp} / ν)       (ν = n - 1, one χ² per draw and budget)
    c   = the `level` quantile of T_b
    se_p = sd*_p sqrt(n / (n - 1))                                     (a resampled mean's variance has divisor n)
    band_p = d̂_p ± c se_p,    p-value of "no difference anywhere" = P(T ≥ max_p |d̂_p| / se_p)

Dividing by sqrt(χ²/ν) turns the normal bootstrap deviations into t's with ν degrees of freedom, as the seeds'
estimated spread does to a mean: at one budget the band is the t interval; over several, the max keeps the
coverage simultaneous, using the correlation between budgets that the draws carry. Each budget's spread is
estimated from partly different configurations, so each gets its own χ²: a common one would make the t's move
together and the max too small (measured: 6-7% false claims under the null instead of 5%). A budget without spread
(one seed per configuration, or identical seeds) gets a band of zero width.
"""

from __future__ import annotations

import numpy as np


def max_t_band(
    estimate: np.ndarray, draws: np.ndarray, seeds: int, level: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, float]:
    """(low, high, p) at each budget of `estimate` [P], from `draws` [P, B], for an estimate over `seeds` seeds."""
    sd = draws.std(axis=1, ddof=1)
    spread = sd > 0
    dev = np.divide(np.abs(draws - estimate[:, None]), sd[:, None], out=np.zeros_like(draws), where=spread[:, None])
    df = seeds - 1
    t = np.max(dev / np.sqrt(rng.chisquare(df, draws.shape) / df), axis=0)
    se = sd * np.sqrt(seeds / df)
    crit = np.quantile(t, level)
    observed = np.max(np.divide(np.abs(estimate), se, out=np.where(estimate != 0, np.inf, 0.0), where=spread))
    return estimate - crit * se, estimate + crit * se, float(np.mean(t >= observed))

"""How many seeds a comparison needs, and whether two variants are equivalent (how often one beats the other is in
paired.py: `improvement_interval`).

Power is the two-sided t test's, exact under normal seeds: with T ~ noncentral t(df, nc) and t_c = t_{df, 1 - α/2},
power = P(T > t_c) + P(T < -t_c). Paired (seed i shares its data order, docs/statistics.md): sd is the spread of the
per-seed differences, df = n - 1, nc = effect √n / sd. Two groups of n seeds (Welch's test): sd is the common spread
of each group, nc = effect / (sd √(2/n)), df = 2n - 2, which is Welch-Satterthwaite's df when both sample variances
equal sd² (the equal-variance approximation; Welch's realised df is a little smaller). Colas et al. 2018, "How many
random seeds?", choose seeds by this power. Equivalence is Schuirmann's (1987) two one-sided tests (TOST).
"""

from __future__ import annotations

from functools import partial

import numpy as np
from scipy import optimize, stats

from itermap.analysis.paired import ALPHA

POWER = 0.8
MAX_SEEDS = 10_000  # seeds_needed searches no further


def _check(sd: float, alpha: float, power: float) -> None:
    """ValueError unless sd > 0, 0 < alpha < 1 and alpha < power < 1 (power at no effect is alpha already)."""
    if not sd > 0:
        raise ValueError(f"sd must be > 0, got {sd}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not alpha < power < 1:
        raise ValueError(f"power must be in (alpha, 1) = ({alpha}, 1), got {power}")


def t_power(
    effect: float, sd: float, n: int | np.ndarray, alpha: float = ALPHA, paired: bool = True
) -> float | np.ndarray:
    """Power of the two-sided paired (df n - 1) or two-group (n per group, df 2n - 2) t test at a true `effect`."""
    n = np.asarray(n, float)
    df, nc = (n - 1, effect * np.sqrt(n) / sd) if paired else (2 * n - 2, effect / (sd * np.sqrt(2 / n)))
    t_c = stats.t.ppf(1 - alpha / 2, df)
    # P(T < -t_c) as P(-T > t_c), -T ~ nct(df, -nc): nct.cdf's far lower tail returns NaN (scipy 1.17, df 1, nc 8)
    out = stats.nct.sf(t_c, df, nc) + stats.nct.sf(t_c, df, -nc)
    return float(out) if out.ndim == 0 else out


def min_detectable_effect(sd: float, n: int, alpha: float = ALPHA, power: float = POWER, paired: bool = True) -> float:
    """The true difference that `n` seeds detect with probability `power` (t_power(effect) = power, by brentq)."""
    _check(sd, alpha, power)
    if n < 2:
        raise ValueError(f"n must be >= 2 seeds, got {n}")
    gap = lambda effect: t_power(effect, sd, n, alpha, paired) - power  # noqa: E731
    high = sd
    while gap(high) < 0:  # power rises with the effect, from alpha at 0 towards 1
        high *= 2
    return float(optimize.brentq(gap, 0.0, high, xtol=1e-12 * sd))


def seeds_needed(effect: float, sd: float, alpha: float = ALPHA, power: float = POWER, paired: bool = True) -> int:
    """The fewest seeds n >= 2 (per group when not paired) whose t test detects `effect` with probability `power`."""
    _check(sd, alpha, power)
    if not effect > 0:
        raise ValueError(f"effect must be > 0 (the test is two-sided: give its size), got {effect}")
    low = 2
    while low <= MAX_SEEDS:  # upward, in blocks that double: n = 2..63, 64..127, ...
        n = np.arange(low, min(2 * low + 60, MAX_SEEDS + 1))
        enough = np.flatnonzero(t_power(effect, sd, n, alpha, paired) >= power - 1e-9)  # 1e-9: brentq's rounding
        if len(enough):
            return int(n[enough[0]])
        low = int(n[-1]) + 1
    raise ValueError(f"effect {effect} at sd {sd} needs more than {MAX_SEEDS} seeds for power {power}")


def tost(x: np.ndarray, y: np.ndarray, margin: float, paired: bool = True, alpha: float = ALPHA) -> dict[str, object]:
    """Two one-sided t tests that mean(x) - mean(y) lies within ±margin (paired on seeds, else Welch's).

    p_lower tests H0: diff <= -margin, p_upper H0: diff >= +margin, each at level alpha; p = max of the two, and the
    difference is `equivalent` when p < alpha, which is when the (1 - 2 alpha) t interval [low, high] lies inside
    (-margin, +margin)."""
    if not margin > 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")
    x, y = np.asarray(x, float), np.asarray(y, float)
    if min(len(x), len(y)) < 2:
        raise ValueError("tost needs at least 2 values on each side")
    if paired and len(x) != len(y):
        raise ValueError(f"paired tost needs one value per seed on each side, got {len(x)} and {len(y)}")
    test = stats.ttest_rel if paired else partial(stats.ttest_ind, equal_var=False)
    p_lower = float(test(x + margin, y, alternative="greater").pvalue)  # shifting x moves the null to -margin
    p_upper = float(test(x - margin, y, alternative="less").pvalue)
    ci = test(x, y).confidence_interval(1 - 2 * alpha)
    p = max(p_lower, p_upper)
    return {
        "diff": float(x.mean() - y.mean()),
        "low": float(ci.low),
        "high": float(ci.high),
        "p_lower": p_lower,
        "p_upper": p_upper,
        "p": p,
        "equivalent": p < alpha,
    }

"""Curves of a metric against log10(parameters): monotone (PCHIP) interpolation and its inverse."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.interpolate import PchipInterpolator

INVERSE_GRID = 201  # grid of the resampled inverse (reach_draws)


def curve(summary: pd.DataFrame, dataset: str, group: str, metric: str, at: str = "params") -> pd.DataFrame:
    """Points (x, mean, ci_low, ci_high) of one group's curve against `at` (params or macs), sorted by x, configurations with no mean left out."""
    rows = summary[(summary["dataset"] == dataset) & (summary["group"] == group)]
    cols = {at: "x", f"{metric}_mean": "mean", f"{metric}_ci_low": "ci_low", f"{metric}_ci_high": "ci_high"}
    points = rows[list(cols)].rename(columns=cols).dropna(subset=["mean"])
    return points.sort_values("x", ignore_index=True)


def interpolate(params: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Values of the curve through (params, values) at `at`, monotone cubic in log10(params); NaN outside its range.

    `values` may have extra trailing axes (one curve per column), evaluated together.
    """
    params, values, at = np.asarray(params, float), np.asarray(values, float), np.asarray(at, float)
    if len(params) == 1:
        inside = np.isclose(at, params[0])
        out = np.broadcast_to(values[0], (len(at), *values.shape[1:])).copy()
        out[~inside] = np.nan
        return out
    out = PchipInterpolator(np.log10(params), values, axis=0, extrapolate=False)(np.log10(at))
    exact = np.isclose(at[:, None], params[None, :])  # hit known points exactly, free of log/exp rounding
    for i, j in zip(*np.nonzero(exact)):
        out[i] = values[j]
    return out


def params_to_reach(params: np.ndarray, values: np.ndarray, target: float) -> tuple[float, str]:
    """Fewest parameters at which the increasing-is-better curve reaches `target`.

    Returns (params, bound): bound is "" when reached inside the range, ">" when the curve stays
    below the target (params is then the largest measured count) and "<" when the smallest
    measured count already exceeds it (params is then the smallest count). The crossing is the
    smallest root of the PCHIP curve minus the target (`PPoly.solve`, exact per cubic piece); a
    target within rounding of a local maximum, where the roots may be lost, is reached at that
    measured point.
    """
    params, values = np.asarray(params, float), np.asarray(values, float)
    if values[0] >= target:
        return (float(params[0]), "" if np.isclose(values[0], target) else "<")
    if values.max() < target:
        return float(params[-1]), ">"
    x = np.log10(params)
    roots = PchipInterpolator(x, values).solve(target, extrapolate=False)
    return float(10 ** min([*roots, x[np.argmax(values >= target)]])), ""


def reach_draws(params: np.ndarray, draws: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """params_to_reach for each column of `draws` [configs, B] and each row of `targets` [P, B]: [P, B] counts, found
    on an INVERSE_GRID-point grid in log10(params) with linear interpolation between grid points; +inf where never
    reached (">"), 0 where the smallest count already exceeds the target ("<")."""
    x = np.log10(np.asarray(params, float))
    grid = np.linspace(x[0], x[-1], INVERSE_GRID)
    curve = PchipInterpolator(x, draws, axis=0)(grid)  # [grid, B]
    cols = np.arange(draws.shape[1])
    out = np.empty(targets.shape)
    for i, target in enumerate(targets):
        above = curve >= target
        first = np.argmax(above, axis=0)
        lo = np.maximum(first - 1, 0)
        f0, f1 = curve[lo, cols], curve[first, cols]
        frac = np.divide(target - f0, f1 - f0, out=np.zeros_like(f0), where=f1 != f0)
        out[i] = 10 ** (grid[lo] + frac * (grid[first] - grid[lo]))
        out[i, ~above.any(axis=0)] = np.inf
        out[i, draws[0] > target] = 0.0
    return out

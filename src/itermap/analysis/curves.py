"""Curves of a metric against log10(parameters): monotone (PCHIP) interpolation and its inverse."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.interpolate import PchipInterpolator
from scipy.optimize import brentq

INVERSE_GRID = 2001


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
    measured count already exceeds it (params is then the smallest count).
    """
    params, values = np.asarray(params, float), np.asarray(values, float)
    if values[0] >= target:
        return (float(params[0]), "" if np.isclose(values[0], target) else "<")
    if values.max() < target:
        return float(params[-1]), ">"
    fn = PchipInterpolator(np.log10(params), values - target)
    grid = np.linspace(np.log10(params[0]), np.log10(params[-1]), INVERSE_GRID)
    first = int(np.argmax(fn(grid) >= 0))
    return float(10 ** brentq(fn, grid[first - 1], grid[first])), ""

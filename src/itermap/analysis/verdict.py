"""One-sentence verdicts generated from comparison tables (accuracy, in percentage points)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from itermap.analysis.compare import AXES, label


def params_text(n: float) -> str:
    """A parameter count with thousands separators: 10250 -> "10,250"."""
    return f"{n:,.0f}"


def _between(lo: float, hi: float) -> str:
    """ "from 1,600 to 4,106", or "at 18,570" when the stretch is a single budget."""
    return f"at {params_text(lo)}" if lo == hi else f"from {params_text(lo)} to {params_text(hi)}"


def _range(sizes: pd.Series, unit: str) -> str:
    lo, hi = sizes.min(), sizes.max()
    if lo == hi:
        return f"at the one shared budget, {params_text(lo)} {unit}"
    return f"{_between(lo, hi)} {unit}"


def _multiplier(row: pd.Series, unit: str) -> str:
    if pd.isna(row["multiplier"]):
        return ""
    bound = {"": "", ">": "more than ", "<": "less than "}[row["multiplier_bound"]]
    return f", where {label(row['b'])} needs {bound}{row['multiplier']:.2f}x the {unit} to match {label(row['a'])}"


def _one_crossing(diff: pd.Series) -> bool:
    """True when the difference changes sign exactly once along the budgets (and is never exactly zero)."""
    signs = np.sign(diff.to_numpy())
    return bool(np.all(signs != 0) and np.count_nonzero(np.diff(signs)) == 1)


def curve_verdict(cmp: pd.DataFrame) -> str:
    """Verdict on an accuracy comparison of groups A and B at equal parameters or multiply-adds (one pair, one data set)."""
    a, b, n, unit = label(cmp["a"].iloc[0]), label(cmp["b"].iloc[0]), len(cmp), AXES[cmp["at"].iloc[0]]
    ahead, behind, sig = int((cmp["diff"] > 0).sum()), int((cmp["diff"] < 0).sum()), int(cmp["excludes_zero"].sum())
    top = cmp.loc[cmp["diff"].abs().idxmax()]
    gap = f"largest gap {100 * top['diff']:+.1f} points ({a} - {b}) at {params_text(top['x'])} {unit}"
    span = _range(cmp["x"], unit)
    if sig == 0:
        return f"No clear difference between {a} and {b} {span}: the 95% CI includes zero at every budget; {gap}."
    if ahead == n:
        lead = f"{a} ahead of {b} at every budget {span}" if n > 1 else f"{a} ahead of {b} {span}"
    elif behind == n:
        lead = f"{b} ahead of {a} at every budget {span}" if n > 1 else f"{b} ahead of {a} {span}"
    elif _one_crossing(cmp["diff"]):
        p, i = cmp["x"].to_numpy(), int(np.flatnonzero(np.diff(np.sign(cmp["diff"])))[0])
        first, second = (a, b) if cmp["diff"].iloc[0] > 0 else (b, a)
        lead = f"{first} ahead of {second} {_between(p[0], p[i])} {unit}, {second} ahead {_between(p[i + 1], p[-1])}"
    else:
        lead = f"{a} ahead of {b} at {ahead} of {n} budgets {span} ({b} ahead at {behind})"
    favours = int((cmp["excludes_zero"] & (cmp["diff"] > 0)).sum())
    side = "" if favours in (0, sig) else f" ({favours} favouring {a})"
    where = f"at {sig} of {n} budgets{side}" if n > 1 else "there"
    return f"{lead}; the 95% CI excludes zero {where}; {gap}{_multiplier(top, unit)}."


def no_overlap_verdict(a: str, b: str, pa: pd.Series, pb: pd.Series, at: str = "params") -> str:
    """Verdict for two groups whose measured ranges of parameters (or multiply-adds) do not overlap."""
    span = lambda p: params_text(p.min()) + ("" if p.min() == p.max() else f" to {params_text(p.max())}")  # noqa: E731
    what = "parameter" if at == "params" else "multiply-add"
    return (
        f"{label(a)} and {label(b)} share no {what} range ({label(a)}: {span(pa)}; {label(b)}: {span(pb)}): "
        f"no equal-{what} comparison."
    )


def matched_verdict(cmp: pd.DataFrame) -> str:
    """Verdict on direct comparisons at matched budgets of groups A and B (one pair, one data set)."""
    a, b, n = label(cmp["a"].iloc[0]), label(cmp["b"].iloc[0]), len(cmp)
    ahead, sig = int((cmp["diff"] > 0).sum()), int(cmp["significant"].sum())
    favours = int((cmp["significant"] & (cmp["diff"] > 0)).sum())
    top = cmp.loc[cmp["diff"].abs().idxmax()]
    lo, hi = params_text(cmp["budget"].min()), params_text(cmp["budget"].max())
    return (
        f"Matched budgets {lo} to {hi} parameters: {a} ahead of {b} at {ahead} of {n}; "
        f"significant after Holm correction at {sig} of {n} ({favours} favouring {a}); "
        f"largest gap {100 * top['diff']:+.1f} points at {params_text(top['budget'])} parameters, "
        f"where a run of {a} beats one of {b} with probability {top['prob_improvement']:.2f}."
    )

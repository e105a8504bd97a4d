"""Sentences generated from the analysis tables (accuracy, in percentage points), never written by hand.

Below MIN_SEEDS seeds a sentence describes the means and infers nothing. From MIN_SEEDS on, "ahead" is said only
where the simultaneous band (curves) or the t interval (matched budgets) excludes zero and the comparison survives
Holm's correction within its family (headline or exploratory); every sentence states its seeds and design.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from itermap.analysis.aggregate import chance
from itermap.analysis.compare import AXES, label
from itermap.analysis.intervals import LEVEL

NAMES = ["shared", "a_name", "b_name"]  # how a sentence names a pair (compare.apart): what both share, then each


def _names(a: str, b: str, names: tuple[str, str, str] | None) -> tuple[str, str, str]:
    """A pair's names in a sentence: `names` (compare.apart of their groups), else each group's whole label."""
    return names if names is not None else ("", label(a), label(b))


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


def ratio_text(value: float, bound: str) -> str:
    """A multiplier with its censoring: "4.20x", ">6.30x" (never reached), "<0.50x" (reached below the range)."""
    return f"{bound}{value:.2f}x"


def _multiplier(row: pd.Series, unit: str, a: str, b: str) -> str:
    if pd.isna(row["multiplier"]):
        return ""
    bound = {"": "", ">": "more than ", "<": "less than "}[row["multiplier_bound"]]
    ci = ""
    if row["interval"] == "band":
        low, high = (ratio_text(row[f"multiplier_{e}"], row[f"multiplier_{e}_bound"]) for e in ("low", "high"))
        ci = f" (95% interval {low})" if low == high else f" (95% interval {low} to {high})"  # both ends censored
    return f", where {b} needs {bound}{row['multiplier']:.2f}x the {unit}{ci} to match {a}"


def _stretches(cmp: pd.DataFrame) -> list[tuple[float, float, float]]:
    """(sign, first x, last x) of each run of consecutive rows whose interval excludes zero on one side."""
    sign = np.where(cmp["excludes_zero"], np.sign(cmp["diff"]), 0)
    out: list[tuple[float, float, float]] = []
    for s, x, prev in zip(sign, cmp["x"], np.r_[0, sign[:-1]]):
        if s and s == prev:
            out[-1] = (s, out[-1][1], x)
        elif s:
            out.append((s, x, x))
    return out


def _basis(row: pd.Series) -> str:
    return f"{row['seeds']} seeds, {row['design']}"


def _kind(row: pd.Series) -> str:
    return "headline" if row["headline"] else "exploratory"


def _prefix(row: pd.Series) -> str:
    return "" if row["headline"] else "Exploratory: "


def _power(cmp: pd.DataFrame) -> str:
    """What a "no clear difference" rules out: the gap these seeds detect with 80% power, and the seeds a declared
    gap of interest would need (`budgets.with_power`)."""
    mde = 100 * cmp["mde"].dropna() if "mde" in cmp else pd.Series(dtype=float)
    if mde.empty:
        return ""
    low, high = mde.min(), mde.max()
    size = f"{low:.1f} points" if round(low, 1) == round(high, 1) else f"{low:.1f} to {high:.1f} points"
    seeds, m = int(cmp["seeds"].iloc[0]), int(cmp["family_size"].iloc[0])
    said = f"; these {seeds} seeds detect a true gap of {size} 80% of the time (paired t at 0.05/{m})"
    needed = cmp["seeds_for_effect"].dropna() if "seeds_for_effect" in cmp else pd.Series(dtype=float)
    if needed.empty:
        return said
    most = "more than 10,000" if np.isinf(needed.max()) else f"{int(needed.max())}"
    return f"{said}; the declared gap of {cmp['effect'].iloc[0]:g} points needs {most} seeds to be detected so"


WIDE = 2.0  # a curve interpolated between measured sizes further apart than this is said to be


def _equivalence(rows: pd.DataFrame, where: str) -> str:
    """With a declared margin, whether the two are equivalent within it (TOST, Holm-adjusted with the other tests)."""
    if "p_tost_holm" not in rows or rows["margin"].isna().all():
        return ""
    margin, p = 100 * rows["margin"].iloc[0], rows["p_tost_holm"].max()
    if pd.isna(p):
        return f"; equivalence within {margin:g} points is not tested below 5 paired seeds"
    if p < 1 - LEVEL:
        return f"; equivalent within {margin:g} points {where} (two one-sided tests, Holm-adjusted p = {p:.3f})"
    return f"; not shown equivalent within {margin:g} points (two one-sided tests, Holm-adjusted p = {p:.3f})"


def _interpolated(cmp: pd.DataFrame) -> str:
    """Where a curve is interpolated between measured sizes more than WIDE apart, and how far a second interpolant
    (linear in log size) moves the difference there: the interval does not include that choice."""
    if "a_gap" not in cmp:
        return ""
    wide = cmp[cmp[["a_gap", "b_gap"]].max(axis=1) > WIDE]
    if wide.empty:
        return ""
    where = "at the one budget" if len(cmp) == 1 else f"at {len(wide)} of {len(cmp)} budgets"
    return (
        f"; {where} a curve is interpolated across a gap of up to {wide[['a_gap', 'b_gap']].max().max():.1f}x in "
        f"size, where a log-linear interpolant moves the difference by up to "
        f"{100 * wide['interpolant_spread'].max():.1f} points"
    )


def _odds(row: pd.Series, a: str, b: str) -> str:
    """P(A beats B) at one budget over the paired seeds, with its interval where there is one."""
    if "prob_improvement" not in row or pd.isna(row["prob_improvement"]):
        return ""
    interval = "" if pd.isna(row["poi_low"]) else f", 95% interval {row['poi_low']:.2f} to {row['poi_high']:.2f}"
    return f" (a seed of {a} beats one of {b} with probability {row['prob_improvement']:.2f}{interval})"


def curve_verdict(cmp: pd.DataFrame, names: tuple[str, str, str] | None = None) -> str:
    """Verdict on an accuracy comparison of groups A and B at equal parameters or multiply-adds (one pair, one data
    set); `names`: how the sentence names them (`_names`)."""
    first = cmp.iloc[0]
    (shared, a, b), n, unit = _names(first["a"], first["b"], names), len(cmp), AXES[first["at"]]
    top = cmp.loc[cmp["diff"].abs().idxmax()]
    gap = f"largest gap {100 * top['diff']:+.1f} points ({a} - {b}) at {params_text(top['x'])} {unit}{_odds(top, a, b)}"
    span, head, odd = _range(cmp["x"], unit), _prefix(first) + shared, _interpolated(cmp)
    if first["interval"] != "band":
        above, below = int((cmp["diff"] > 0).sum()), int((cmp["diff"] < 0).sum())
        side = "above" if above else "below" if below else "level with"
        where = f"{side} {b} {span}" if n == 1 else f"above {b} at {above} of {n} budgets {span}, below at {below}"
        return (
            f"{head}{a} {where} (means of {first['seeds']} seeds, too few for intervals: descriptive only); "
            f"{gap}{_multiplier(top, unit, a, b)}{odd}."
        )
    excl = int(cmp["excludes_zero"].sum())
    holm = f"Holm-adjusted p = {first['p_holm']:.3f} over {first['family_size']} {_kind(first)} comparisons"
    if not (first["significant"] and excl):
        why = (
            "the simultaneous 95% band includes zero at every budget"
            if not excl
            else f"the simultaneous 95% band excludes zero at {excl} of {n} budgets, but not after correction ({holm})"
        )
        allow = f"{a} - {b} between {100 * cmp['low'].min():+.1f} and {100 * cmp['high'].max():+.1f} points is still possible"
        said = f"{why}; {allow}{_power(cmp)}{_equivalence(cmp, 'at every budget')}"
        return f"{head}No clear difference between {a} and {b} {span} ({_basis(first)}): {said}; {gap}{odd}."
    lead = "; ".join(
        f"{a if s > 0 else b} ahead of {b if s > 0 else a} {_between(lo, hi)} {unit}" for s, lo, hi in _stretches(cmp)
    )
    every = f", every budget of {n}" if n > 1 else ", the one shared budget"
    rest = f"; no clear difference at the other {n - excl} of {n} budgets" if excl < n else every
    basis = f"{_basis(first)}; simultaneous 95% band, {holm}"
    equal = _equivalence(cmp, "at every budget")
    return f"{head}{lead}{rest} ({basis}); {gap}{_multiplier(top, unit, a, b)}{equal}{odd}."


def no_overlap_verdict(
    a: str, b: str, pa: pd.Series, pb: pd.Series, at: str = "params", names: tuple[str, str, str] | None = None
) -> str:
    """Verdict for two groups whose measured ranges of parameters (or multiply-adds) do not overlap."""
    span = lambda p: params_text(p.min()) + ("" if p.min() == p.max() else f" to {params_text(p.max())}")  # noqa: E731
    what = "parameter" if at == "params" else "multiply-add"
    shared, a, b = _names(a, b, names)
    return f"{shared}{a} and {b} share no {what} range ({a}: {span(pa)}; {b}: {span(pb)}): no equal-{what} comparison."


def matched_verdict(cmp: pd.DataFrame, names: tuple[str, str, str] | None = None) -> str:
    """Verdict on direct comparisons at matched budgets of groups A and B (one pair, one data set); `names`: how the
    sentence names them (`_names`)."""
    first = cmp.iloc[0]
    (shared, a, b), n = _names(first["a"], first["b"], names), len(cmp)
    seeds = int(cmp["seeds"].min())
    top = cmp.loc[cmp["diff"].abs().idxmax()]
    budgets = f"{params_text(cmp['budget'].min())} to {params_text(cmp['budget'].max())} parameters"
    span = f"{_prefix(first)}Matched budgets {budgets}" + (f", {shared.removesuffix(': ')}" if shared else "")
    gap = f"largest gap {100 * top['diff']:+.1f} points at {params_text(top['budget'])} parameters"
    if (cmp["interval"] != "ci").any():
        return (
            f"{span}: {a} above {b} at {int((cmp['diff'] > 0).sum())} of {n} (means of {seeds} seeds, too few for "
            f"intervals: descriptive only); {gap}, where a run of {a} beat one of {b} in "
            f"{top['prob_improvement']:.2f} of the pairings."
        )
    sig = cmp[cmp["significant"]]
    basis = f"{seeds} seeds, {first['design']} t, Holm over {first['family_size']} {_kind(first)} budget tests"
    found = "; ".join(
        f"{a if r['diff'] > 0 else b} ahead at {params_text(r['budget'])} ({100 * r['diff']:+.1f} points, 95% CI "
        f"[{100 * r['low']:+.1f}, {100 * r['high']:+.1f}], Holm-adjusted p = {r['p_holm']:.3f})"
        for _, r in sig.iterrows()
    )
    if not found:
        found = (
            f"no clear difference at any budget; {a} - {b} between {100 * cmp['low'].min():+.1f} and "
            f"{100 * cmp['high'].max():+.1f} points is still possible"
        )
    return (
        f"{span} ({basis}): {found}{_equivalent_at(cmp)}; {gap}, where a run of {a} beats one of {b} with probability "
        f"{top['prob_improvement']:.2f} (95% interval {top['poi_low']:.2f} to {top['poi_high']:.2f})."
    )


def _equivalent_at(cmp: pd.DataFrame) -> str:
    """With a declared margin, the matched budgets at which the two are equivalent within it (a TOST per budget,
    Holm-adjusted with the other tests)."""
    if "p_tost_holm" not in cmp or cmp["margin"].isna().all():
        return ""
    margin, held = 100 * cmp["margin"].iloc[0], cmp[cmp["p_tost_holm"] < 1 - LEVEL]
    if held.empty:
        return f"; not shown equivalent within {margin:g} points at any budget (two one-sided tests, Holm-adjusted)"
    at = ", ".join(params_text(b) for b in held["budget"])
    p = held["p_tost_holm"].max()
    return f"; equivalent within {margin:g} points at {at} parameters (two one-sided tests, Holm-adjusted p <= {p:.3f})"


def interval_text(low: float, high: float, kind: str, scale: float = 100.0, fmt: str = "+.1f") -> str:
    """ "95% CI [a, b]" for a t interval, "seeds from a to b" for a range."""
    lo, hi = format(scale * low, fmt), format(scale * high, fmt)
    return f"95% CI [{lo}, {hi}]" if kind == "ci" else f"seeds from {lo} to {hi}"


def diverged_notes(summary: pd.DataFrame) -> list[str]:
    """One line: diverged runs per configuration, and the test accuracy means with them counted at chance."""
    hit = summary[summary["diverged"] > 0]
    if hit.empty:
        return []
    percent = lambda x: "n/a" if pd.isna(x) else f"{100 * x:.2f}%"  # noqa: E731
    items = ", ".join(
        f"{r['arch']} {r['diverged']}/{r['done'] + r['diverged']}: {percent(r['test_accuracy_mean_at_chance'])} "
        f"instead of {percent(r['test_accuracy_mean'])}"
        for _, r in hit.iterrows()
    )
    level = 100 * chance(hit["dataset"].iloc[0])
    return [f"Sensitivity: counting diverged runs at chance accuracy ({level:.0f}%) moves mean test accuracy: {items}."]

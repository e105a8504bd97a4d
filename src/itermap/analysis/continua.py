"""The continua between MLP and RNN: final test accuracy along the window and along the sparsity coordinate, per budget.

Windows: RNN runs of a matched design with more than one `window` (and perhaps both `axis` values). Sparsity: `sparse`
runs with more than one `fraction` (docs/continua.md). Along each, per data set and budget, the mean over seeds with its
t interval (the seeds' range below MIN_SEEDS); the study's other matched groups (MLP-1, MLP-2, RNN-1) at the same budget
are the reference levels. Leads are paired by seed (seed i gives every run the same data order, so the per-seed
difference removes what the order contributes) and Holm-adjusted over the data set's leads of one continuum. The best
window is picked by its mean, so its lead is a best-of-many and reads optimistic; the verdicts say so.
"""

from __future__ import annotations

import pandas as pd

from itermap.analysis.depth import final_accuracy
from itermap.analysis.intervals import MIN_SEEDS, spread
from itermap.analysis.measured import Measured
from itermap.analysis.paired import ALPHA, adjust_within, paired_by_seed

NAME = "continua"
TITLE = "The continua between MLP and RNN: windows and sparsity"
REFERENCE_WINDOW = 3  # the 2020 experiment's choice
# The continua are found by the config fields their runs have, never by a family's name: a run on the window
# continuum reads `window` columns or rows per step (any family with a `window`), a run on the sparsity continuum has
# a `fraction`; the feed-forward reference (MLP-1) has neither and one hidden layer.


def _has(runs: pd.DataFrame, field: str) -> pd.Series:
    """Whether each run has the config field `field` (a column, set for the run)."""
    return runs[field].notna() if field in runs else pd.Series(False, index=runs.index)


def _feed_forward(runs: pd.DataFrame) -> pd.Series:
    """The runs that see the whole image at once through one hidden layer: neither a window nor a fraction."""
    return ~_has(runs, "window") & ~_has(runs, "fraction") & (runs["depth"] == 1)


def _levels(runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per `keys`: seeds, mean final test accuracy, its spread (t CI or range) and the parameter count."""
    rows = []
    for key, seeds in runs.groupby(keys, sort=True):
        low, high, kind = spread(seeds["accuracy"].to_numpy(float))
        rows.append(
            {
                **dict(zip(keys, key)),
                "n": len(seeds),
                "mean": seeds["accuracy"].mean(),
                "ci_low": low,
                "ci_high": high,
                "interval": kind,
                "params": int(seeds["params"].iloc[0]),
            }
        )
    return pd.DataFrame(rows)


def _holds(leads: pd.DataFrame) -> pd.DataFrame:
    """Holm over each data set's leads (NaN p: no test), `holds` where the adjusted p is below ALPHA and the lead positive."""
    if leads.empty:
        return leads
    adjust_within(leads, "dataset")
    leads["holds"] = (leads["p_holm"] < ALPHA) & (leads["diff"] > 0) & leads["p"].notna()
    return leads


def reference_levels(runs: pd.DataFrame) -> pd.DataFrame:
    """The matched groups off the continua (MLP-1, MLP-2, RNN-1 at one window) per data set and budget."""
    off = runs[runs["budget"].notna() & ~_has(runs, "fraction")]
    if "window" in off and off["window"].nunique() > 1:
        off = off[~_has(off, "window")]  # in a window study the windowed runs are the continuum
    return _levels(off, ["dataset", "budget", "group"]) if len(off) else pd.DataFrame()


def windowed(runs: pd.DataFrame) -> pd.DataFrame:
    """The matched runs that read the image a window per step, each with its `reader`: its family and depth (the
    tanh RNN, a GRU or an LSTM of some layers: one curve each)."""
    rnn = runs[_has(runs, "window") & runs["budget"].notna()].copy()
    rnn["axis"] = rnn["axis"].fillna("columns") if "axis" in rnn else "columns"  # a store from before `axis`
    rnn["reader"] = rnn["family"].str.upper() + "-" + rnn["depth"].astype(str)
    return rnn


def window_levels(runs: pd.DataFrame) -> pd.DataFrame:
    """Per data set, budget, reader, axis and window: the windowed runs' final test accuracy over seeds."""
    return _levels(windowed(runs), ["dataset", "budget", "reader", "axis", "window"])


def window_leads(runs: pd.DataFrame) -> pd.DataFrame:
    """Per data set, budget and reader: the best (axis, window) by mean and its paired lead over window 3 (same axis)
    and MLP-1."""
    mlp = runs[_feed_forward(runs) & runs["budget"].notna()]
    rows = []
    for (dataset, budget, reader), mine in windowed(runs).groupby(["dataset", "budget", "reader"], sort=True):
        means = mine.groupby(["axis", "window"])["accuracy"].mean()
        axis, window = means.idxmax()
        best = mine[(mine["axis"] == axis) & (mine["window"] == window)]
        head = {
            "dataset": dataset,
            "budget": int(budget),
            "reader": reader,
            "axis": axis,
            "window": int(window),
            "a_mean": means.max(),
            "configs": len(means),
            "params": int(best["params"].iloc[0]),
        }
        three = mine[(mine["axis"] == axis) & (mine["window"] == REFERENCE_WINDOW)]
        if window != REFERENCE_WINDOW and len(three):
            rows.append({**head, "against": f"{REFERENCE_WINDOW} {axis}", **paired_by_seed(best, three)})
        level = mlp[(mlp["dataset"] == dataset) & (mlp["budget"] == budget)]
        if len(level):
            rows.append({**head, "against": "MLP-1", **paired_by_seed(best, level)})
    return _holds(pd.DataFrame(rows))


def sparsity_levels(runs: pd.DataFrame) -> pd.DataFrame:
    """Per data set, budget and fraction f: the sparse map's final test accuracy over seeds."""
    return _levels(runs[_has(runs, "fraction")], ["dataset", "budget", "fraction"])


def sparsity_leads(runs: pd.DataFrame) -> pd.DataFrame:
    """Per data set, budget and interior f: its paired lead over each end of the continuum (smallest and largest f)."""
    sparse = runs[_has(runs, "fraction")]
    rows = []
    for (dataset, budget), mine in sparse.groupby(["dataset", "budget"], sort=True):
        fractions = sorted(mine["fraction"].unique())
        for f in fractions[1:-1]:
            inner = mine[mine["fraction"] == f]
            for end in (fractions[0], fractions[-1]):
                rows.append(
                    {
                        "dataset": dataset,
                        "budget": int(budget),
                        "fraction": f,
                        "end": end,
                        "a_mean": inner["accuracy"].mean(),
                        "params": int(inner["params"].iloc[0]),
                        **paired_by_seed(inner, mine[mine["fraction"] == end]),
                    }
                )
    return _holds(pd.DataFrame(rows))


def applies(data: Measured) -> bool:
    """Matched designs with several windows or several fractions."""
    return bool(tables(data))


def tables(data: Measured) -> dict[str, pd.DataFrame]:
    """`reference`, `windows` and `window_leads`, `sparsity` and `sparsity_leads`: those the study has."""
    return continua_tables(data.results)


def continua_tables(results: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The continua section's tables; empty when the study has neither several windows nor several fractions."""
    has = lambda field: field in results and results[field].dropna().nunique() > 1  # noqa: E731
    budgets = "budget" in results and results["budget"].notna().any()
    if not budgets or not (has("window") or has("fraction")):
        return {}
    runs = final_accuracy(results)
    tables = {"reference": reference_levels(runs)}
    if has("window"):
        tables |= {"windows": window_levels(runs), "window_leads": window_leads(runs)}
    if has("fraction"):
        tables |= {"sparsity": sparsity_levels(runs), "sparsity_leads": sparsity_leads(runs)}
    return {k: v for k, v in tables.items() if len(v)}


def _pts(x: float) -> str:
    return f"{100 * x:+.2f}"


def _claim(r: pd.Series) -> str:
    """One lead with its interval and whether it holds up."""
    if r["interval"] != "ci":
        return f"{_pts(r['diff'])} points (seeds' range [{_pts(r['ci_low'])}, {_pts(r['ci_high'])}])"
    verdict = "holds up" if r["holds"] else "does not hold up"
    return (
        f"{_pts(r['diff'])} points (95% CI [{_pts(r['ci_low'])}, {_pts(r['ci_high'])}], p Holm "
        f"{r['p_holm']:.3f}: {verdict})"
    )


def _basis(n: int, tests: int) -> str:
    if n < MIN_SEEDS:
        return f"means of {n} seeds, too few for intervals: descriptive only"
    return f"paired over {n} seeds, Holm over {tests} leads"


def window_verdicts(leads: pd.DataFrame) -> list[str]:
    """Per budget (and reader, where the study has several): the best window and whether its lead over window 3 and
    over MLP-1 holds up."""
    out, several = [], leads["reader"].nunique() > 1
    for (budget, reader), rows in leads.groupby(["budget", "reader"], sort=True):
        r0 = rows.iloc[0]
        named = f"{r0['window']} {r0['axis']} per step ({100 * r0['a_mean']:.2f}%)"
        claims = "; ".join(f"over {r['against']} {_claim(r)}" for _, r in rows.iterrows())
        best_of = f"best of {r0['configs']} window settings by mean, so its lead reads optimistic"
        if r0["window"] == REFERENCE_WINDOW:
            claims = f"the 2020 choice itself; {claims}" if claims else "the 2020 choice itself"
        out.append(
            f"Windows at {budget:,} parameters{f', {reader}' if several else ''}: best is {named}, {claims} "
            f"({_basis(int(rows['n'].min()), len(leads))}; {best_of})."
        )
    return out


def sparsity_verdicts(leads: pd.DataFrame) -> list[str]:
    """Per budget: the interior fractions that beat both ends of the continuum, or the best interior one's leads."""
    out = []
    for budget, rows in leads.groupby("budget", sort=True):
        n, lo, hi = int(rows["n"].min()), rows["end"].min(), rows["end"].max()
        both = rows.groupby("fraction")["holds"].all()
        band = [f"{f:g}" for f, ok in both.items() if ok]
        best = rows.loc[rows["a_mean"].idxmax(), "fraction"]
        mine = rows[rows["fraction"] == best]
        claims = "; ".join(f"over f = {r['end']:g} {_claim(r)}" for _, r in mine.iterrows())
        found = (
            f"f = {', '.join(band)} beat both ends"
            if band and n >= MIN_SEEDS
            else f"no fraction between f = {lo:g} and f = {hi:g} beats both ends"
            if n >= MIN_SEEDS
            else "whether a band beats both ends is not judged"
        )
        out.append(
            f"Sparsity at {budget:,} parameters ({int(rows['params'].iloc[0]):,} non-zeros and biases): {found}; "
            f"the best interior point f = {best:g} ({100 * mine['a_mean'].iloc[0]:.2f}%) {claims} "
            f"({_basis(n, len(leads))})."
        )
    return out


def verdicts(found: dict[str, pd.DataFrame], dataset: str) -> list[str]:
    """The window and sparsity verdicts of one data set, where the study has what each needs."""
    pick = {k: t[t["dataset"] == dataset] for k, t in found.items()}
    out = window_verdicts(pick["window_leads"]) if len(pick.get("window_leads", [])) else []
    return out + (sparsity_verdicts(pick["sparsity_leads"]) if len(pick.get("sparsity_leads", [])) else [])

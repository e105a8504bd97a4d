"""Between tied and untied: the sharing continuum, and recurrence x supervision as a factorial question.

For studies whose unrolled runs lie between the tied net (one weight block for every step) and the untied one (a
block per step): k blocks over d steps (`blocks`, cycled or in sequence: `schedule`) or a shared block with each
step's own rank-r update (`relax`) (models/unrolled.py). Per data set, depth, width or budget, loss and inject:

- `curve`: final test accuracy of each point, mean over seeds and its t interval (the seeds' range below MIN_SEEDS),
  against its number of distinct parameters, the tied and untied nets its ends;
- `lead`: each intermediate point minus the tied end, paired by seed (seed i gives both the same data order and
  init stream), Holm-adjusted within the data set; with the share of the untied net's gain it recovers and its
  share of the untied net's parameters;
- `interaction`: where tied and untied nets were each trained on the last step's and on every step's loss, the
  interaction of recurrence and supervision, per seed (untied every - untied last) - (tied every - tied last), its
  mean and t interval over the seeds all four cells share, Holm-adjusted within the data set;
- `factorial`: where they were trained in all eight cells of tying x loss x injection (per data set, depth, scale,
  size, heads), every main effect and interaction as a per-seed contrast over the seeds all eight share, its mean,
  t interval and p, Holm-adjusted within the data set;
- `trend`: blocks as an ordered factor, per curve and schedule the least-squares slope of accuracy on log2 k per
  seed (points per doubling of the blocks, the ends included), its t interval and p, Holm within the data set;
- `dynamics`: one row per tied or partly tied run that recorded them (models/unrolled.py `dynamics`): spectral norm
  and radius of its recurrent weights, fixed-point residuals at d and 2d, accuracy at 2d and 4d, and the accuracy
  lost past d (at d minus at 2d); `rank`: per data set, Spearman's rank correlation of the residual at 2d with the
  accuracy lost, over the runs, with its Fisher-z interval.

Each effect of the factorial is a contrast of the eight cell means y_c of one seed, sum_c w_c y_c with
w_c = prod_{f in S} s_f(c) 2^{|S| - 3} (s_f = +1 at factor f's first level: untied, every-step loss, image every
step; -1 at its second): for one factor the difference of its levels' means, for two the difference of differences
(e.g. untied's every-step gain minus tied's), for three that difference's difference between injections, each
averaged over the factors it does not name. These are the coefficients of least squares on the codes +-1/2 with a
block per seed; the t interval over seeds uses each effect's own seed-to-seed spread.

Below MIN_SEEDS seeds the verdicts describe without inferring, as everywhere in the report.
"""

from __future__ import annotations

import itertools
from typing import cast

import numpy as np
import pandas as pd
from scipy import stats

from itermap.analysis.depth import final_accuracy
from itermap.analysis.intervals import LEVEL, MIN_SEEDS, spread
from itermap.analysis.measured import Measured
from itermap.analysis.paired import adjust_within, paired_by_seed, seed_difference

NAME = "sharing"
TITLE = "Between tied and untied: the sharing continuum, and recurrence x supervision"
FIELDS = ["tied", "depth", "hidden", "inject", "heads", "loss"]  # what every table reads (the unrolled family's)
SHARING = ["blocks", "schedule", "relax"]  # at least one of them, varying, makes a point between the ends
CELL = ["dataset", "depth", "scale", "size", "loss", "inject", "heads"]  # what the points of one curve share
POINT = ["point", "k", "schedule", "relax"]
ALPHA = 1 - LEVEL
# The factorial's factors: (column, first level, second level); an effect's sign is first minus second.
FACTORS = {
    "tying": ("end", "untied", "tied"),
    "loss": ("loss", "every-step", "last"),
    "inject": ("inject", "every-step", "first"),
}
DYNAMICS = ["spectral_norm", "spectral_radius", "residual_d", "residual_2d", "accuracy_2d", "accuracy_4d"]


def sharing_runs(results: pd.DataFrame) -> pd.DataFrame:
    """One row per finished unrolled run (those with a `tied`): final accuracy, k (blocks in effect), the schedule
    where it matters (1 < k < d, else ""), relax (0: none), `end` (tied, untied or between), the point's label, and
    its scale: "width" (size = hidden) or "params" (size = the budget)."""
    if not set(FIELDS) <= set(results) or not set(SHARING) & set(results):
        return pd.DataFrame()
    runs = final_accuracy(results)
    runs = runs[runs["tied"].notna()].copy()
    if runs.empty:
        return runs
    depth = runs["depth"].astype(int)
    blocks = runs["blocks"] if "blocks" in runs else pd.Series(pd.NA, index=runs.index)
    tied_k = np.where(runs["tied"].astype(bool), 1, depth)
    runs["k"] = pd.to_numeric(blocks, errors="coerce").fillna(pd.Series(tied_k, index=runs.index)).astype(int)
    runs["relax"] = pd.to_numeric(runs["relax"], errors="coerce").fillna(0).astype(int) if "relax" in runs else 0
    between = (runs["k"] > 1) & (runs["k"] < depth)
    schedule = runs["schedule"].fillna("cycle") if "schedule" in runs else pd.Series("cycle", index=runs.index)
    runs["schedule"] = np.where(between, schedule, "")
    runs["end"] = np.where(
        (runs["k"] == 1) & (runs["relax"] == 0), "tied", np.where(runs["k"] == depth, "untied", "between")
    )
    runs["point"] = [label(k, s, r, d) for k, s, r, d in zip(runs["k"], runs["schedule"], runs["relax"], depth)]
    budget = runs["budget"] if "budget" in runs else pd.Series(pd.NA, index=runs.index)
    runs["scale"] = np.where(budget.isna(), "width", "params")
    runs["size"] = np.where(budget.isna(), runs["hidden"], budget).astype(int)
    runs["depth"] = depth
    return runs


def label(k: int, schedule: str, relax: int, depth: int) -> str:
    """A point's name: "tied", "untied", "2 blocks (cycle)", "tied + rank 4", "2 blocks (sequence) + rank 4"."""
    base = "tied" if k == 1 else "untied" if k == depth else f"{k} blocks ({schedule})"
    return base + (f" + rank {relax}" if relax else "")


def _order(table: pd.DataFrame) -> pd.DataFrame:
    """Cells in order (equal width before equal parameters), and in each the tied end first, then k, schedule and relax
    rising, the untied end last."""
    keys = [c if c != "scale" else "_scale" for c in CELL]
    ranked = table.assign(_scale=(table["scale"] != "width").astype(int))
    return ranked.sort_values([*keys, "k", "schedule", "relax"], ignore_index=True).drop(columns="_scale")


def curve(runs: pd.DataFrame) -> pd.DataFrame:
    """Per cell and point: seeds, mean final accuracy and its interval (or range), distinct parameters and width."""
    rows = []
    between = runs.groupby(CELL)["end"].transform(lambda e: (e == "between").any())
    for key, seeds in runs[between].groupby([*CELL, *POINT], sort=True):
        v = seeds["accuracy"].to_numpy(float)
        lo, hi, kind = spread(v)
        rows.append(
            {
                **dict(zip([*CELL, *POINT], key)),
                "end": seeds["end"].iloc[0],
                "n": len(v),
                "mean": v.mean(),
                "ci_low": lo,
                "ci_high": hi,
                "interval": kind,
                "params": int(seeds["params"].iloc[0]),
                "width": int(seeds["hidden"].iloc[0]),
            }
        )
    return _order(pd.DataFrame(rows))


def lead(runs: pd.DataFrame) -> pd.DataFrame:
    """Each intermediate point minus the tied end of its cell, paired by seed (Holm within the data set), with the
    untied net's paired gain over the tied one (`gain`, `gain_low`, `gain_high`), the share of that gain the point
    recovers (`recovered`; NaN where the untied net does not lead) and its share of the untied net's parameters."""
    rows = []
    for key, cell in runs.groupby(CELL, sort=True):
        tied, untied = cell[cell["end"] == "tied"], cell[cell["end"] == "untied"]
        if tied.empty:
            continue
        gain = paired_by_seed(untied, tied) if len(untied) else {"n": 0}
        for point, rows_of in cell[cell["end"] == "between"].groupby(POINT, sort=True):
            found = paired_by_seed(rows_of, tied)
            if not found["n"]:
                continue
            params = int(rows_of["params"].iloc[0])
            g = cast(float, gain["diff"]) if gain["n"] else np.nan
            rows.append(
                {
                    **dict(zip(CELL, key)),
                    **dict(zip(POINT, point)),
                    **found,
                    "params": params,
                    "tied_params": int(tied["params"].iloc[0]),
                    "untied_params": int(untied["params"].iloc[0]) if len(untied) else np.nan,
                    "gain": g,
                    "gain_low": gain.get("ci_low", np.nan),
                    "gain_high": gain.get("ci_high", np.nan),
                    "gain_interval": gain.get("interval", ""),
                    "recovered": cast(float, found["diff"]) / g if g > 0 else np.nan,
                    "param_share": params / int(untied["params"].iloc[0]) if len(untied) else np.nan,
                }
            )
    table = pd.DataFrame(rows)
    return _order(adjust_within(table, by="dataset")) if len(table) else table


def interaction(runs: pd.DataFrame) -> pd.DataFrame:
    """Recurrence x supervision per shape: per seed (untied every - untied last) - (tied every - tied last) over the
    seeds all four cells share; the mean, its t interval (range below MIN_SEEDS) and p, Holm within the data set;
    each cell's mean and both supervision gains beside it."""
    ends = runs[runs["end"].isin(["tied", "untied"]) & (runs["relax"] == 0)]
    keys = [c for c in CELL if c != "loss"]
    rows = []
    for key, cell in ends.groupby(keys, sort=True):
        at = {
            (e, loss): cell[(cell["end"] == e) & (cell["loss"] == loss)].set_index("seed")["accuracy"]
            for e in ("tied", "untied")
            for loss in ("last", "every-step")
        }
        if any(s.empty for s in at.values()):
            continue
        seeds = sorted(set.intersection(*(set(s.index) for s in at.values())))
        if not seeds:
            continue
        v = {c: s.loc[seeds].to_numpy(float) for c, s in at.items()}
        untied_gain = v["untied", "every-step"] - v["untied", "last"]
        tied_gain = v["tied", "every-step"] - v["tied", "last"]
        means = {f"{e}_{loss.replace('-step', '')}": v[e, loss].mean() for e, loss in v}
        # Tying's cost at each loss (untied - tied, paired by seed): the other reading of the same four cells.
        cost = {
            f"tying_cost_{loss.replace('-step', '')}": (v["untied", loss] - v["tied", loss]).mean()
            for loss in ("last", "every-step")
        }
        rows.append(
            {
                **dict(zip(keys, key)),
                "n": len(seeds),
                **means,
                "untied_gain": untied_gain.mean(),
                "tied_gain": tied_gain.mean(),
                **cost,
                **seed_difference(untied_gain, tied_gain),
            }
        )
    table = pd.DataFrame(rows)
    return _by_scale(table, keys) if len(table) else table


def contrast(y: np.ndarray, w: np.ndarray) -> dict[str, object]:
    """The per-seed contrast sum_c w_c y_c of cells y [C, n] (w summing to 0) as `seed_difference` of its positive
    side minus its negative side: its mean, t interval (range below MIN_SEEDS) and p."""
    return seed_difference(np.clip(w, 0, None) @ y, np.clip(-w, 0, None) @ y)


def _by_scale(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rows sorted by `keys`, equal width before equal parameters; Holm within the data set."""
    keys = [c if c != "scale" else "_scale" for c in keys]
    table = table.assign(_scale=(table["scale"] != "width").astype(int)).sort_values(keys, ignore_index=True)
    return adjust_within(table.drop(columns="_scale"), by="dataset")


def factorial(runs: pd.DataFrame) -> pd.DataFrame:
    """Tying x loss x injection per data set, depth, scale, size and heads, where the tied and untied ends (no relax)
    were trained in all eight cells: each main effect and interaction (`effect`: "tying", "tying x loss", ...;
    `order`: factors it names) as a contrast per seed over the seeds all eight share (module docstring)."""
    ends = runs[runs["end"].isin(["tied", "untied"]) & (runs["relax"] == 0)]
    keys = [c for c in CELL if c not in ("loss", "inject")]
    columns = [column for column, _, _ in FACTORS.values()]
    cells = list(itertools.product(*(levels for _, *levels in FACTORS.values())))  # 8 (end, loss, inject)
    signs = np.array([[1 if v == first else -1 for v, (_, first, _) in zip(c, FACTORS.values())] for c in cells])
    rows = []
    for key, cell in ends.groupby(keys, sort=True):
        at = {c: s.set_index("seed")["accuracy"] for c, s in cell.groupby(columns)}
        if any(c not in at for c in cells):
            continue
        seeds = sorted(set.intersection(*(set(at[c].index) for c in cells)))
        if not seeds:
            continue
        y = np.stack([at[c].loc[seeds].to_numpy(float) for c in cells])  # [8, n]
        for order in (1, 2, 3):
            for named in itertools.combinations(range(len(FACTORS)), order):
                w = signs[:, named].prod(1) * 2.0 ** (order - len(FACTORS))  # [8]
                effect = " x ".join(list(FACTORS)[i] for i in named)
                rows.append(
                    {**dict(zip(keys, key)), "effect": effect, "order": order, "n": len(seeds), **contrast(y, w)}
                )
    table = pd.DataFrame(rows)
    return _by_scale(table, [*keys, "order"]) if len(table) else table


def trend(runs: pd.DataFrame) -> pd.DataFrame:
    """Blocks as an ordered factor: per curve and schedule, over its k levels (the tied end, the schedule's blocks,
    the untied end; no relax; at least three), the least-squares slope of final accuracy on log2 k per seed,
    sum_k (x_k - mean x) y_k / sum_k (x_k - mean x)^2 with x = log2 k (accuracy per doubling of the blocks), over the
    seeds every level shares."""
    rows = []
    for key, cell in runs[runs["relax"] == 0].groupby(CELL, sort=True):
        for schedule in sorted(set(cell["schedule"]) - {""}):
            line = cell[cell["schedule"].isin(["", schedule])]
            at = {k: s.set_index("seed")["accuracy"] for k, s in line.groupby("k")}
            seeds = sorted(set.intersection(*(set(s.index) for s in at.values())))
            if len(at) < 3 or not seeds:
                continue
            x = np.log2(list(at))  # groupby sorts the levels
            w = (x - x.mean()) / ((x - x.mean()) ** 2).sum()
            y = np.stack([s.loc[seeds].to_numpy(float) for s in at.values()])  # [levels, n]
            rows.append(
                {
                    **dict(zip(CELL, key)),
                    "schedule": schedule,
                    "levels": ", ".join(map(str, at)),
                    "n": len(seeds),
                    **contrast(y, w),
                }
            )
    table = pd.DataFrame(rows)
    return _by_scale(table, [c for c in CELL if c != "dataset"] + ["dataset", "schedule"]) if len(table) else table


def dynamics(results: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per finished run with `dynamics` metrics (tied and partly tied nets, test split, last epoch): its
    curve, point and seed, final accuracy, the metrics, and `lost` = accuracy at d minus accuracy at 2d."""
    rows = results[results["metric"].isin(DYNAMICS) & (results["split"] == "test")]
    if rows.empty:
        return pd.DataFrame()
    last = rows.loc[rows.groupby(["run_id", "metric"])["epoch"].idxmax()]
    wide = last.pivot(index="run_id", columns="metric", values="value").reindex(columns=DYNAMICS).reset_index()
    found = runs.merge(wide, on="run_id")
    found["lost"] = found["accuracy"] - found["accuracy_2d"]
    columns = [*CELL, *POINT, "end", "run_id", "seed", "params", "accuracy", *DYNAMICS, "lost"]
    return _order(found[columns].sort_values("seed"))  # _order's sort is stable: seeds in order within a point


def rank(found: pd.DataFrame) -> pd.DataFrame:
    """Per data set, over its runs: Spearman's rank correlation rho of the residual at 2d with the accuracy lost past
    d, its p (scipy's t approximation) and, where the runs hold MIN_SEEDS seeds (and more than 3 runs), its interval
    tanh(atanh(rho) -+ z sqrt(1.06 / (n - 3))) (Fisher's z with Fieller, Hartley & Pearson's variance for a rank
    correlation)."""
    if found.empty:  # a study recorded before these metrics were
        return pd.DataFrame()
    rows = []
    for dataset, runs in found.dropna(subset=["residual_2d", "lost"]).groupby("dataset", sort=True):
        n, x, y = len(runs), runs["residual_2d"], runs["lost"]
        row = {
            "dataset": dataset,
            "n": n,
            "seeds": runs["seed"].nunique(),
            "rho": np.nan,
            "p": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "interval": "",
            "median_residual": x.median(),
            "mean_lost": y.mean(),
        }
        if n >= 3 and x.nunique() > 1 and y.nunique() > 1:
            test = stats.spearmanr(x, y)
            row |= {"rho": float(test.statistic), "p": float(test.pvalue)}
        if row["seeds"] >= MIN_SEEDS and n > 3 and pd.notna(row["rho"]):
            half = stats.norm.ppf((1 + LEVEL) / 2) * np.sqrt(1.06 / (n - 3))
            z = np.arctanh(np.clip(row["rho"], -1 + 1e-12, 1 - 1e-12))
            row |= {"ci_low": float(np.tanh(z - half)), "ci_high": float(np.tanh(z + half)), "interval": "ci"}
        rows.append(row)
    return pd.DataFrame(rows)


def applies(data: Measured) -> bool:
    """Studies whose unrolled runs include a point between tied and untied (1 < blocks < depth, or relax > 0)."""
    runs = sharing_runs(data.results)
    return bool(len(runs)) and bool((runs["end"] == "between").any())


def tables(data: Measured) -> dict[str, pd.DataFrame]:
    """`curve`, `lead` and `interaction` (the last where the study has all four tied/untied x loss cells)."""
    return sharing_tables(data.results)


def sharing_tables(results: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The sharing question's tables from a results frame (empty when it has no point between the ends)."""
    runs = sharing_runs(results)
    if runs.empty or not (runs["end"] == "between").any():
        return {}
    found = {
        "curve": curve(runs),
        "lead": lead(runs),
        "interaction": interaction(runs),
        "factorial": factorial(runs),
        "trend": trend(runs),
        "dynamics": dynamics(results, runs),
    }
    if len(found["dynamics"]):
        found["rank"] = rank(found["dynamics"])
    return {k: v for k, v in found.items() if len(v)}


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def where(r: pd.Series, loss: bool = True, inject: bool = True) -> str:
    """What a curve holds fixed, and its seeds: At equal width 64 (depth 8, last-step loss, image every step; 10 seeds)."""
    at = f"equal width {r['size']}" if r["scale"] == "width" else f"about {r['size']:,} parameters"
    fixed = [f"depth {r['depth']}"]
    fixed += [f"{'last-step' if r['loss'] == 'last' else r['loss']} loss"] if loss else []
    fixed += ["image every step" if r["inject"] == "every-step" else "image once"] if inject else []
    fixed += [] if r["heads"] == "shared" else ["a head per step"]
    seeds = f"{int(r['n'])} seed{'s' if int(r['n']) != 1 else ''}"
    return f"At {at} ({', '.join(fixed)}; {seeds})"


def lead_verdict(cell: pd.DataFrame, family: int) -> str:
    """One curve's sentence: the untied net's gain over the tied one, what each point recovers of it at what share of
    the untied net's parameters, and which points are ahead of the tied net (Holm over the data set's `family`)."""
    first = cell.iloc[0].copy()
    first["n"] = cell["n"].min()
    head, g = where(first), first["gain"]
    points = []
    for _, r in cell.iterrows():
        moved = f"{_pts(r['diff'])} points over the tied net"
        if pd.notna(r["recovered"]):
            share = f"{100 * r['param_share']:.0f}%" if pd.notna(r["param_share"]) else "n/a"
            points.append(
                f"{r['point']}: {100 * r['recovered']:.0f}% of that gain at {share} of the untied net's "
                f"parameters ({moved})"
            )
        else:
            points.append(f"{r['point']}: {moved}")
    if pd.isna(g):
        gained = "no untied net to compare; "
    elif g > 0:
        gained = f"the untied net leads the tied one by {_pts(g)} points; "
    else:
        gained = f"the untied net does not lead the tied one ({_pts(g)} points), so no share of a gain is read; "
    found = gained + "; ".join(points)
    seeds = int(cell["n"].min())
    if seeds < MIN_SEEDS:
        return f"{head}, means only, too few seeds for intervals (descriptive only): {found}."
    sig = cell["p_holm"] < ALPHA
    ahead = cell.loc[sig & (cell["diff"] > 0), "point"].tolist()
    behind = cell.loc[sig & (cell["diff"] < 0), "point"].tolist()
    judged = (
        f"ahead of the tied net (paired by seed, Holm over {family} in the data set): "
        f"{', '.join(ahead) if ahead else 'none'}"
    )
    judged += f"; behind it: {', '.join(behind)}" if behind else ""
    return f"{head}: {found}; {judged}."


def _spread(r: pd.Series) -> str:
    """A row's interval in points: "95% CI [a, b]", or "seeds' range [a, b]" below MIN_SEEDS."""
    kind = "95% CI" if r["interval"] == "ci" else "seeds' range"
    return f"{kind} [{_pts(r['ci_low'])}, {_pts(r['ci_high'])}]"


def _lower(head: str) -> str:
    return head[0].lower() + head[1:]


def supervision(tied_gain: float, untied_gain: float, inter: pd.Series, cost_last: float, cost_every: float) -> str:
    """The supervision claim in numbers: what every-step loss adds to tied and to untied nets, their difference (the
    interaction: `inter`'s diff and interval) and what tying costs at each loss (untied minus tied)."""
    return (
        f"every-step loss adds {_pts(tied_gain)} points to tied nets and {_pts(untied_gain)} to untied ones; the "
        f"difference (the interaction, untied minus tied) is {_pts(inter['diff'])}, {_spread(inter)}; tying costs "
        f"{_pts(cost_last)} points at last-step loss and {_pts(cost_every)} at every-step"
    )


def _interaction_said(r: pd.Series, family: int) -> str:
    """What the interaction's Holm test supports."""
    if pd.notna(r["p"]) and r["p_holm"] < ALPHA:
        who = "untied" if r["diff"] > 0 else "tied"
        return f"supervision helps the {who} net more (Holm p = {r['p_holm']:.3g} over {family} in the data set)"
    return f"no interaction is distinguishable from zero (Holm over {family} in the data set)"


def interaction_verdict(r: pd.Series, family: int) -> str:
    """Recurrence x supervision for one shape: both supervision gains, their difference and what it supports."""
    found = supervision(r["tied_gain"], r["untied_gain"], r, r["tying_cost_last"], r["tying_cost_every"])
    head = f"Recurrence x supervision {_lower(where(r, loss=False))}: {found}"
    if r["interval"] != "ci":
        return f"{head} (too few seeds for intervals: descriptive only)."
    return f"{head}: {_interaction_said(r, family)}."


# What each effect of the factorial measures (module docstring: each averaged over the factors it does not name).
CONTRASTS = {
    "tying": "untied - tied",
    "loss": "every-step - last-step loss",
    "inject": "image every step - once",
    "tying x loss": "untied's gain from every-step loss - tied's",
    "tying x inject": "untied's gain from the image every step - tied's",
    "loss x inject": "every-step loss's gain with the image every step - with it once",
    "tying x loss x inject": "the tying x loss interaction with the image every step - with it once",
}


def factorial_verdict(cell: pd.DataFrame, family: int) -> str:
    """Tying x loss x injection for one shape: the supervision claim averaged over both injections, then every effect
    with its interval and those Holm finds. Averaged over injection, tied nets gain loss - (tying x loss) / 2 from
    every-step loss and untied ones loss + (tying x loss) / 2; tying costs tying -+ (tying x loss) / 2 at last-step
    and every-step loss (the main effects are those pairs' means, the interaction their difference)."""
    e = cell.set_index("effect")
    tying, loss, tl = e.loc["tying", "diff"], e.loc["loss", "diff"], e.loc["tying x loss"]
    half = tl["diff"] / 2
    claim = supervision(loss - half, loss + half, tl, tying - half, tying + half)
    first = cell.iloc[0].copy()
    first["n"] = cell["n"].min()
    effects = "; ".join(f"{CONTRASTS[name]} {_pts(r['diff'])} ({_spread(r)})" for name, r in e.iterrows())
    head = (
        f"Tying x loss x injection {_lower(where(first, loss=False, inject=False))}, averaged over both "
        f"injections: {claim}. Every effect, averaged over the factors it does not name: {effects}"
    )
    if (cell["interval"] != "ci").any():
        return f"{head} (too few seeds for intervals: descriptive only)."
    found = [CONTRASTS[name] for name, r in e.iterrows() if pd.notna(r["p"]) and r["p_holm"] < ALPHA]
    return f"{head}. Distinguishable from zero (Holm over {family} in the data set): {', '.join(found) or 'none'}."


def trend_verdict(cell: pd.DataFrame, family: int) -> str:
    """Blocks as an ordered factor on one curve: each schedule's slope per doubling of the blocks, its interval, and
    whether Holm finds it rising or falling."""
    first = cell.iloc[0].copy()
    first["n"] = cell["n"].min()
    slopes = "; ".join(
        f"{_pts(r['diff'])} points per doubling of the blocks ({r['schedule']}, k = {r['levels']}), {_spread(r)}"
        for _, r in cell.iterrows()
    )
    head = f"Blocks as an ordered factor {_lower(where(first))}, the slope of accuracy on log2 k per seed: {slopes}"
    if (cell["interval"] != "ci").any():
        return f"{head} (too few seeds for intervals: descriptive only)."
    sig = cell[cell["p_holm"] < ALPHA]
    moved = [f"{'rises' if d > 0 else 'falls'} with the blocks under {k}" for d, k in zip(sig["diff"], sig["schedule"])]
    return f"{head}; Holm over {family} in the data set: {', '.join(moved) or 'no trend distinguishable from none'}."


def rank_verdict(r: pd.Series) -> str:
    """Past the trained depth: the rank correlation of the residual at 2d with the accuracy lost, and what it says."""
    head = (
        f"Past their depth ({r['n']} tied and partly tied runs of {r['seeds']} seeds, median fixed-point residual at 2d "
        f"{r['median_residual']:.2g}, mean accuracy lost from step d to 2d {_pts(r['mean_lost'])} points): "
    )
    if pd.isna(r["rho"]):
        return head + "no rank correlation (too few runs, or one of the two is constant)."
    found = f"Spearman's rank correlation of the residual at 2d with the accuracy lost is {r['rho']:+.2f}"
    if r["interval"] != "ci":
        return f"{head}{found} (too few seeds for an interval: descriptive only)."
    found += f", 95% CI [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}] (Fisher z)"
    if r["ci_low"] > 0:
        said = "nets further from a fixed point lose more accuracy when run on"
    elif r["ci_high"] < 0:
        said = "nets further from a fixed point lose less accuracy when run on"
    else:
        said = "no monotone relation is distinguishable from none"
    return f"{head}{found}: {said}."


def _of(found: dict[str, pd.DataFrame], name: str, dataset: str) -> pd.DataFrame:
    table = found.get(name, pd.DataFrame())
    return table[table["dataset"] == dataset] if len(table) else table


def _cells(table: pd.DataFrame, fixed: tuple[str, ...] = ("dataset",)) -> list[pd.DataFrame]:
    """A table's rows per curve or shape (CELL less `fixed`), in the table's order."""
    return [cell for _, cell in table.groupby([c for c in CELL if c not in fixed], sort=False)] if len(table) else []


def verdicts(found: dict[str, pd.DataFrame], dataset: str) -> list[str]:
    """Per curve of the data set, the lead sentence; per shape with all eight cells, the factorial's; per shape with
    the four tied/untied x loss cells, the interaction's; per curve, the blocks' trend; past the depth, the rank
    correlation."""
    lead, factors = _of(found, "lead", dataset), _of(found, "factorial", dataset)
    inter, trends = _of(found, "interaction", dataset), _of(found, "trend", dataset)
    return (
        [lead_verdict(cell, len(lead)) for cell in _cells(lead)]
        + [factorial_verdict(cell, len(factors)) for cell in _cells(factors, ("dataset", "loss", "inject"))]
        + [interaction_verdict(r, len(inter)) for _, r in inter.iterrows()]
        + [trend_verdict(cell, len(trends)) for cell in _cells(trends)]
        + [rank_verdict(r) for _, r in _of(found, "rank", dataset).iterrows()]
    )

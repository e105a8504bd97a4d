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
  mean and t interval over the seeds all four cells share, Holm-adjusted within the data set.

Below MIN_SEEDS seeds the verdicts describe without inferring, as everywhere in the report.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

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
        rows.append({**dict(zip([*CELL, *POINT], key)), "end": seeds["end"].iloc[0], "n": len(v), "mean": v.mean(),
                     "ci_low": lo, "ci_high": hi, "interval": kind, "params": int(seeds["params"].iloc[0]),
                     "width": int(seeds["hidden"].iloc[0])})  # fmt: skip
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
            rows.append({
                **dict(zip(CELL, key)), **dict(zip(POINT, point)), **found, "params": params,
                "tied_params": int(tied["params"].iloc[0]),
                "untied_params": int(untied["params"].iloc[0]) if len(untied) else np.nan,
                "gain": g, "gain_low": gain.get("ci_low", np.nan), "gain_high": gain.get("ci_high", np.nan),
                "gain_interval": gain.get("interval", ""),
                "recovered": cast(float, found["diff"]) / g if g > 0 else np.nan,
                "param_share": params / int(untied["params"].iloc[0]) if len(untied) else np.nan,
            })  # fmt: skip
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
        rows.append({**dict(zip(keys, key)), "n": len(seeds), **means, "untied_gain": untied_gain.mean(),
                     "tied_gain": tied_gain.mean(), **cost, **seed_difference(untied_gain, tied_gain)})  # fmt: skip
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    keys = [c if c != "scale" else "_scale" for c in keys]
    table = table.assign(_scale=(table["scale"] != "width").astype(int)).sort_values(keys, ignore_index=True)
    return adjust_within(table.drop(columns="_scale"), by="dataset")


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
    found = {"curve": curve(runs), "lead": lead(runs), "interaction": interaction(runs)}
    return {k: v for k, v in found.items() if len(v)}


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def where(r: pd.Series, loss: bool = True) -> str:
    """What a curve holds fixed, and its seeds: At equal width 64 (depth 8, last-step loss, image every step; 10 seeds)."""
    at = f"equal width {r['size']}" if r["scale"] == "width" else f"about {r['size']:,} parameters"
    image = "image every step" if r["inject"] == "every-step" else "image once"
    heads = "" if r["heads"] == "shared" else ", a head per step"
    supervised = f"{'last-step' if r['loss'] == 'last' else r['loss']} loss, " if loss else ""
    seeds = f"{int(r['n'])} seed{'s' if int(r['n']) != 1 else ''}"
    return f"At {at} (depth {r['depth']}, {supervised}{image}{heads}; {seeds})"


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
            points.append(f"{r['point']}: {100 * r['recovered']:.0f}% of that gain at {share} of the untied net's "
                          f"parameters ({moved})")  # fmt: skip
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
    judged = (f"ahead of the tied net (paired by seed, Holm over {family} in the data set): "
              f"{', '.join(ahead) if ahead else 'none'}")  # fmt: skip
    judged += f"; behind it: {', '.join(behind)}" if behind else ""
    return f"{head}: {found}; {judged}."


def interaction_verdict(r: pd.Series, family: int) -> str:
    """Recurrence x supervision for one shape: both supervision gains, their difference and what it supports."""
    head = where(r, loss=False)
    found = (f"every-step instead of last-step loss moved the untied net by {_pts(r['untied_gain'])} points and the "
             f"tied net by {_pts(r['tied_gain'])}, an interaction (untied minus tied) of {_pts(r['diff'])} points; "
             f"tying costs {_pts(r['tying_cost_last'])} points at last-step loss and {_pts(r['tying_cost_every'])} at "
             f"every-step")  # fmt: skip
    if r["interval"] != "ci":
        return (f"Recurrence x supervision {head[0].lower() + head[1:]}: {found}, seeds' range "
                f"[{_pts(r['ci_low'])}, {_pts(r['ci_high'])}] (too few seeds for intervals: descriptive only).")  # fmt: skip
    ci = f"95% CI [{_pts(r['ci_low'])}, {_pts(r['ci_high'])}]"
    if pd.notna(r["p"]) and r["p_holm"] < ALPHA:
        who = "untied" if r["diff"] > 0 else "tied"
        said = f"supervision helps the {who} net more (Holm p = {r['p_holm']:.3g} over {family} in the data set)"
    else:
        said = f"no interaction is distinguishable from zero (Holm over {family} in the data set)"
    return f"Recurrence x supervision {head[0].lower() + head[1:]}: {found}, {ci}: {said}."


def verdicts(found: dict[str, pd.DataFrame], dataset: str) -> list[str]:
    """Per curve of the data set, the lead sentence; per shape with the four cells, the interaction's."""
    out = []
    lead_table = found.get("lead", pd.DataFrame())
    mine = lead_table[lead_table["dataset"] == dataset] if len(lead_table) else lead_table
    for _, cell in mine.groupby([c for c in CELL if c != "dataset"], sort=False):
        out.append(lead_verdict(cell, len(mine)))
    inter = found.get("interaction", pd.DataFrame())
    mine = inter[inter["dataset"] == dataset] if len(inter) else inter
    out += [interaction_verdict(r, len(mine)) for _, r in mine.iterrows()]
    return out

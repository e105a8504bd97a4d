"""Recurrence as depth: anytime accuracy, the cost of tying weights, and every-step against last-step supervision.

For studies whose runs differ in `tied` (the unrolled family) or record every step's prediction
(`eval_steps`). Differences between two variants of one configuration are paired over seeds: seed i gives
both the same data order, so the per-seed difference removes what the order contributes. As everywhere in
the report, intervals and tests need MIN_SEEDS seeds; below that the seeds' range is shown and the verdicts
describe without inferring.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from itermap.analysis.aggregate import final_metrics
from itermap.analysis.intervals import LEVEL, MIN_SEEDS, spread
from itermap.analysis.measured import Measured
from itermap.analysis.paired import adjust_within, paired_by_seed

NAME = "depth"
TITLE = "Recurrence as depth: the cost of tying weights, and every-step supervision"
SHAPE = ["dataset", "depth", "hidden", "inject", "heads"]  # what a tied and an untied variant share
SHARING = ["blocks", "schedule", "relax"]  # between tied and untied (models/unrolled.py): never paired across


def shape(runs: pd.DataFrame) -> list[str]:
    """The fields two variants of one configuration share: SHAPE, and the sharing fields where the study has them, so
    that a net of k blocks is neither tied nor untied here."""
    return [*SHAPE, *(f for f in SHARING if f in runs)]


def final_accuracy(results: pd.DataFrame) -> pd.DataFrame:
    """One row per finished run: its final test accuracy (`accuracy`, from `final_metrics`) and its config columns."""
    finals = final_metrics(results)[["run_id", "test_accuracy"]].rename(columns={"test_accuracy": "accuracy"})
    runs = results.drop_duplicates("run_id").drop(
        columns=["epoch", "split", "metric", "value", "step"], errors="ignore"
    )
    return finals.dropna(subset=["accuracy"]).merge(runs, on="run_id")


def paired_differences(runs: pd.DataFrame, field: str, a: object, b: object, keys: list[str]) -> pd.DataFrame:
    """Per configuration `keys`: variant `field = a` minus `field = b` in final accuracy, paired over shared seeds."""
    rows = []
    for key, group in runs.groupby(keys, sort=True, dropna=False):
        x, y = group[group[field] == a], group[group[field] == b]
        lead = paired_by_seed(x, y)
        if lead["n"]:
            sizes = {"a_params": int(x["params"].iloc[0]), "b_params": int(y["params"].iloc[0])}
            rows.append({**dict(zip(keys, key)), **lead, **sizes})
    table = pd.DataFrame(rows)
    return adjust_within(table) if not table.empty else table


def tying_cost(results: pd.DataFrame) -> pd.DataFrame:
    """Untied minus tied final test accuracy at equal depth and width (same loss and inject), with the parameter ratio."""
    runs = final_accuracy(results)
    return paired_differences(runs, "tied", False, True, [*shape(runs), "loss"])


def supervision_gain(results: pd.DataFrame) -> pd.DataFrame:
    """Every-step minus last-step supervision in final test accuracy, per configuration, tied and untied alike."""
    runs = final_accuracy(results)
    return paired_differences(runs, "loss", "every-step", "last", [*shape(runs), "tied"])


def anytime(anytime_rows: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy of every step's prediction at the last epoch: per configuration and step, mean and t interval
    over seeds (the seeds' range below MIN_SEEDS)."""
    rows = anytime_rows[
        (anytime_rows["status"] == "done") & (anytime_rows["split"] == "test") & (anytime_rows["metric"] == "accuracy")
    ]
    last = rows[rows["epoch"] == rows.groupby("run_id")["epoch"].transform("max")]
    out = []
    for (dataset, group, arch, step), seeds in last.groupby(["dataset", "group", "arch", "step"], sort=True):
        v = seeds["value"].to_numpy(float)
        lo, hi, kind = spread(v)
        out.append(
            {
                "dataset": dataset,
                "group": group,
                "arch": arch,
                "step": int(step),
                "depth": int(seeds["depth"].iloc[0]),
                "budget": seeds["budget"].iloc[0],
                "n": len(v),
                "mean": v.mean(),
                "ci_low": lo,
                "ci_high": hi,
                "interval": kind,
            }
        )
    return pd.DataFrame(out)


def two_by_two(results: pd.DataFrame, anytime_table: pd.DataFrame) -> pd.DataFrame:
    """Final and step-1 test accuracy of each (tied, loss) variant of each shape: Zamir et al.'s Table 4, here per shape."""
    runs = final_accuracy(results)
    runs = runs[runs["tied"].notna()]  # the nets that have a tied and an untied form
    keys = [*SHAPE, "tied", "loss", "group", "arch"]
    table = runs.groupby(keys, dropna=False).agg(final=("accuracy", "mean"), n=("seed", "size")).reset_index()
    if len(anytime_table):
        first = anytime_table[anytime_table["step"] == 1][["dataset", "group", "arch", "mean"]]
        return table.merge(first.rename(columns={"mean": "step_1"}), on=["dataset", "group", "arch"], how="left")
    return table.assign(step_1=np.nan)


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def _descriptive(seeds: int) -> str:
    return f" (means of {seeds} seeds, too few for intervals: descriptive only)"


def tying_verdict(cost: pd.DataFrame) -> str:
    """What the equal-width pairs say about the cost of tying, and no more."""
    n, seeds = len(cost), int(cost["n"].min())
    sig = cost["p_holm"] < 1 - LEVEL
    ahead, behind = int((sig & (cost["diff"] > 0)).sum()), int((sig & (cost["diff"] < 0)).sum())
    ratio = cost["a_params"] / cost["b_params"]
    found = (
        f"untied minus tied ranges from {_pts(cost['diff'].min())} to {_pts(cost['diff'].max())} points "
        f"(median {_pts(cost['diff'].median())}) over {n} configurations at equal depth and width, where untying "
        f"costs {ratio.min():.1f}x to {ratio.max():.1f}x the parameters"
    )
    if seeds < MIN_SEEDS:
        return f"Tying{_descriptive(seeds)}: {found}."
    if not sig.any():
        return (
            f"Tying: {found}; no configuration's difference is significant (paired over {seeds}+ seeds, Holm over {n})."
        )
    return (
        f"Tying: {found}; significant (paired over {seeds}+ seeds, Holm over {n}) in {ahead + behind}: "
        f"{ahead} favouring untied, {behind} favouring tied."
    )


def supervision_verdict(gain: pd.DataFrame) -> str:
    """What the data say about every-step supervision for tied and for untied nets, side by side."""
    parts, seeds = [], int(gain["n"].min())
    for tied, rows in gain.groupby("tied", sort=False):
        sig = rows["p_holm"] < 1 - LEVEL
        better, worse = int((sig & (rows["diff"] > 0)).sum()), int((sig & (rows["diff"] < 0)).sum())
        judged = "" if seeds < MIN_SEEDS else f" ({better} significantly better, {worse} significantly worse)"
        kind = "tied" if tied else "untied"
        parts.append(
            f"{kind} nets {_pts(rows['diff'].mean())} points on average over {len(rows)} configurations{judged}"
        )
    basis = _descriptive(seeds) if seeds < MIN_SEEDS else f" (paired over {seeds}+ seeds, Holm within the study)"
    return f"Supervision: training every step instead of the last changed final test accuracy of {' and of '.join(parts)}{basis}."


def applies(data: Measured) -> bool:
    """Studies whose runs differ in `tied` or `loss`, or that recorded every step's prediction."""
    return bool(tables(data))


def tables(data: Measured) -> dict[str, pd.DataFrame]:
    """`anytime`, `tying`, `supervision`, `two_by_two`: those the study has what they need for."""
    return depth_tables(data.results, data.anytime)


def depth_tables(results: pd.DataFrame, anytime_rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The depth section's tables (empty when the study has neither tied variants nor anytime rows)."""
    has_tied = "tied" in results and results["tied"].dropna().nunique() > 1
    has_loss = "loss" in results and results["loss"].dropna().nunique() > 1
    steps = anytime(anytime_rows) if len(anytime_rows) else pd.DataFrame()
    tables = {"anytime": steps}
    if has_tied:
        tables["tying"] = tying_cost(results)
    if has_loss and "tied" in results:
        tables["supervision"] = supervision_gain(results)
    if has_tied and has_loss:
        tables["two_by_two"] = two_by_two(results, steps)
    return {k: v for k, v in tables.items() if len(v)}


def verdicts(found: dict[str, pd.DataFrame], dataset: str) -> list[str]:
    """The two claims' verdicts for one data set, where the study has what each needs."""
    pick = {k: t[t["dataset"] == dataset] for k, t in found.items()}
    out = [tying_verdict(pick["tying"])] if "tying" in pick and len(pick["tying"]) else []
    return out + (
        [supervision_verdict(pick["supervision"])] if "supervision" in pick and len(pick["supervision"]) else []
    )

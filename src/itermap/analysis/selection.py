"""Selection on a validation split: per configuration, the training setting of a tuned axis (any [grid.train] field that
varies, e.g. lr) with the best mean validation metric over seeds, and with `[analysis] select = "best-validation-epoch"`
each run's epoch of its best validation metric; the declared comparisons then answered on the chosen runs' test
numbers, and at every setting of the axis, so a reader sees whether the answer depends on the choice.

A configuration is a group less its tuned fields, at one size, on one data set. Its settings are ranked by their
diverged runs (fewest first: a setting that diverges is no safe choice), then by the mean over their finished seeds of
the validation metric at the epoch each run is read at: its last, or its best on validation (the earliest of ties).
Selection reads the validation split only; the test split gives the numbers the chosen runs are compared by.

Tables, over every data set:
- `chosen`: per configuration, the setting chosen, its mean validation metric, seeds and diverged runs, and the runner-up
  with the margin the choice won by;
- `selected`: the chosen runs, one row each: the epoch read, its validation, test (and, where evaluated, train) metrics;
- `comparisons`: budgets' equal-parameter (or multiply-add) comparisons of the declared pairs (`comparisons_of`,
  `compare_curves`) on the runs of each setting and on the selected runs (setting "tuned"), Holm within each setting;
- `robustness`: per pair, size axis and setting, what that comparison finds (`outcome`), and whether the answer is
  the same at every setting.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from itermap.analysis.aggregate import CONFIG_KEYS, FINAL_COLUMNS
from itermap.analysis.budgets import comparisons_of, unshared_row
from itermap.analysis.compare import AXES, apart, compare_curves, label
from itermap.analysis.measured import Measured
from itermap.analysis.metrics import METRICS, metric_of
from itermap.analysis.paired import adjust
from itermap.analysis.results import SEPARATOR, Group
from itermap.analysis.verdict import NAMES, curve_verdict
from itermap.train import TrainConfig

NAME = "selection"
TITLE = "Selection on the validation split: each configuration's tuned setting, and whether the answer depends on it"
TUNED = "tuned"  # the setting name of the selected runs in `comparisons` and `robustness`
RULES = {"final": "at the final epoch", "best-validation-epoch": "at each run's best validation epoch"}


def tuned_axes(data: Measured) -> list[str]:
    """The training fields that vary among the study's groups (its [grid.train] axes), in their order there."""
    return list(dict.fromkeys(k for g in data.groups.values() for k, _ in g.fields if k in TrainConfig.model_fields))


def configuration(group: Group, axes: list[str]) -> Group:
    """A group less its tuned fields: "rnn-1 · lr=0.001" -> "rnn-1"."""
    return Group(group.family, tuple((k, v) for k, v in group.fields if k not in axes))


def setting(group: Group, axes: list[str]) -> str:
    """A group's tuned fields as its name spells them: "rnn-1 · lr=0.001" -> "lr=0.001"."""
    return SEPARATOR.join(f"{k}={v}" for k, v in group.fields if k in axes)


def validation_column(metric: str) -> str:
    """The validation column of a compared metric: "test_accuracy" -> "validation_accuracy"."""
    return f"validation_{metric_of(metric).name}"


def scored(data: Measured, axes: list[str]) -> pd.DataFrame:
    """One row per finished run: its configuration (`group`), `setting`, size, seed, the `epoch` it is read at (its
    last, or its best validation epoch) and every split's metrics at that epoch (train's NaN where not evaluated)."""
    better = metric_of(data.metric)
    done = data.results[data.results["status"] == "done"]
    valid = done[(done["split"] == "validation") & (done["metric"] == better.name)]
    if data.select == "final":
        picked = valid.loc[valid.groupby("run_id")["epoch"].idxmax()]
    else:  # the best validation value, the earliest epoch among ties
        ranked = valid.sort_values(["run_id", "value", "epoch"], ascending=[True, not better.higher_is_better, True])
        picked = ranked.drop_duplicates("run_id")
    at = done.merge(picked[["run_id", "epoch"]], on=["run_id", "epoch"])
    wide = at.pivot_table(index="run_id", columns=["split", "metric"], values="value", aggfunc="first")
    wide.columns = [f"{split}_{metric}" for split, metric in wide.columns]
    columns = [*FINAL_COLUMNS, *(f"validation_{m}" for m in METRICS if f"validation_{m}" in wide)]
    carried = [*CONFIG_KEYS, "seed", "epoch", *axes, *(["budget"] if "budget" in picked else [])]
    runs = picked.set_index("run_id")[carried].join(wide.reindex(columns=columns)).reset_index()
    groups = [data.groups[g] for g in runs["group"]]
    runs["setting"] = [setting(g, axes) for g in groups]
    runs["group"] = [str(configuration(g, axes)) for g in groups]
    return runs.sort_values([*CONFIG_KEYS, *axes, "seed"], ignore_index=True)


def diverged_runs(data: Measured, axes: list[str]) -> pd.DataFrame:
    """Per configuration and setting, its runs that diverged (`diverged`)."""
    runs = data.results[data.results["status"] == "diverged"].drop_duplicates("run_id")
    groups = [data.groups[g] for g in runs["group"]]
    runs = runs.assign(group=[str(configuration(g, axes)) for g in groups], setting=[setting(g, axes) for g in groups])
    return runs.groupby([*CONFIG_KEYS, "setting"]).size().rename("diverged").reset_index()


def chosen(runs: pd.DataFrame, diverged: pd.DataFrame, metric: str, select: str) -> pd.DataFrame:
    """Per configuration: each setting ranked by diverged runs, then mean validation metric over finished seeds; the
    first is chosen (`setting`, `validation`, `seeds`, `diverged`, `epoch_mean`), the second is `runner_up`, and
    `margin` is how much better the chosen mean is (in the metric's better direction); `metric` the validation column
    compared, `select` the epoch rule."""
    column, better = validation_column(metric), metric_of(metric).higher_is_better
    per = runs.groupby([*CONFIG_KEYS, "setting"], sort=False).agg(
        validation=(column, "mean"), seeds=(column, "count"), epoch_mean=("epoch", "mean")
    )
    per = per.reset_index().merge(diverged, on=[*CONFIG_KEYS, "setting"], how="outer")
    per["diverged"] = per["diverged"].fillna(0).astype(int)
    per["seeds"] = per["seeds"].fillna(0).astype(int)
    ranked = per.sort_values(
        [*CONFIG_KEYS, "diverged", "validation"],
        ascending=[True] * (len(CONFIG_KEYS) + 1) + [not better],
        na_position="last",
        kind="stable",
    )
    rows = []
    for _, settings in ranked.groupby(CONFIG_KEYS, sort=True):
        first, rest = settings.iloc[0], settings.iloc[1:]
        second = rest.iloc[0] if len(rest) else None
        margin = np.nan if second is None else (1 if better else -1) * (first["validation"] - second["validation"])
        runner_up = "" if second is None else second["setting"]
        rows.append(
            {
                **first.to_dict(),
                "settings": len(settings),
                "runner_up": runner_up,
                "margin": margin,
                "metric": column,
                "select": select,
            }
        )
    return pd.DataFrame(rows)


def selected(runs: pd.DataFrame, choice: pd.DataFrame) -> pd.DataFrame:
    """The chosen setting's runs of each configuration (`scored` rows)."""
    return runs.merge(choice[[*CONFIG_KEYS, "setting"]], on=[*CONFIG_KEYS, "setting"]).reset_index(drop=True)


def compared(data: Measured, runs: pd.DataFrame, picked: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """`comparisons`: the declared pairs of configurations compared along their curves on the runs of each setting
    and on the selected ones (setting TUNED), Holm within each setting as budgets does within the study; `names`: how
    sentences name each pair (`verdict.NAMES`); `unshared`: the pairs whose selected runs share no size, their
    verdict."""
    axes = tuned_axes(data)
    groups = {str(c): c for c in (configuration(g, axes) for g in data.groups.values())}
    frames = {s: runs[runs["setting"] == s] for s in runs["setting"].unique()} | {TUNED: picked}
    found, names, unshared = [], {}, []
    for dataset in data.datasets:
        held = [groups[g] for g in runs.loc[runs["dataset"] == dataset, "group"].unique()]
        for ga, gb, at, head in comparisons_of(held, data.compare):
            a, b = str(ga), str(gb)
            names[a, b] = apart(ga, gb)
            for name, frame in frames.items():
                found.append(
                    compare_curves(frame, dataset, a, b, data.metric, at=at).assign(headline=head, setting=name)
                )
            if found[-1].empty:  # the selected runs share no size
                pa, pb = (picked.loc[(picked["dataset"] == dataset) & (picked["group"] == g), at] for g in (a, b))
                unshared.append(unshared_row(dataset, a, b, at, head, pa, pb, names[a, b]))
    said = pd.DataFrame([(a, b, *n) for (a, b), n in names.items()], columns=["a", "b", *NAMES])
    every = pd.concat([f for f in found if len(f)] or [pd.DataFrame()], ignore_index=True)
    if len(every):
        every = pd.concat([adjust(t, ["dataset", "a", "b", "at"]) for _, t in every.groupby("setting", sort=False)])
    return {"comparisons": every.reset_index(drop=True), "names": said, "unshared": pd.DataFrame(unshared)}


def outcome(cmp: pd.DataFrame) -> tuple[str, str]:
    """What one comparison (one pair, size axis, setting, data set) finds: a kind ("a", "b", "both", "none") and its
    words: who is ahead at how many budgets (band excluding zero, after Holm), or, below MIN_SEEDS seeds, who is above
    in the means (descriptive)."""
    n, first = len(cmp), cmp.iloc[0]
    a, b = label(first["a"]), label(first["b"])
    if first["interval"] == "band":
        said = cmp["excludes_zero"] & cmp["significant"]
        up, down = int((said & (cmp["diff"] > 0)).sum()), int((said & (cmp["diff"] < 0)).sum())
        how = "ahead"
    else:
        up, down = int((cmp["diff"] > 0).sum()), int((cmp["diff"] < 0).sum())
        how = "above (means only)"
    kind = "both" if up and down else "a" if up else "b" if down else "none"
    words = {
        "a": f"{a} {how} at {up} of {n} budgets",
        "b": f"{b} {how} at {down} of {n} budgets",
        "both": f"{a} {how} at {up}, {b} at {down} of {n} budgets",
        "none": "no clear difference" if how == "ahead" else f"level at all {n} budgets",
    }
    return kind, words[kind]


def robustness(every: pd.DataFrame) -> pd.DataFrame:
    """Per data set, pair, size axis and setting (TUNED last): seeds, budgets, the mean and range of A - B, what the
    comparison finds (`kind`, `found`), and `same` (whether every setting and the tuned one find the same kind)."""
    rows = []
    for (dataset, a, b, at, setting_), cmp in every.groupby(["dataset", "a", "b", "at", "setting"], sort=False):
        kind, found = outcome(cmp)
        rows.append(
            {
                "dataset": dataset,
                "a": a,
                "b": b,
                "at": at,
                "setting": setting_,
                "headline": bool(cmp["headline"].iloc[0]),
                "seeds": int(cmp["seeds"].min()),
                "design": cmp["design"].iloc[0],
                "budgets": len(cmp),
                "mean_diff": cmp["diff"].mean(),
                "min_diff": cmp["diff"].min(),
                "max_diff": cmp["diff"].max(),
                "p_holm": cmp["p_holm"].iloc[0],
                "kind": kind,
                "found": found,
            }
        )
    table = pd.DataFrame(rows)
    table["_tuned"] = table["setting"] == TUNED
    table = table.sort_values(
        ["dataset", "headline", "at", "a", "b", "_tuned"],
        ascending=[True, False, False, True, True, True],
        kind="stable",
        ignore_index=True,
    ).drop(columns="_tuned")
    table["same"] = table.groupby(["dataset", "a", "b", "at"])["kind"].transform("nunique") == 1
    return table


def applies(data: Measured) -> bool:
    """Studies with validation rows of the compared metric and a training field that takes several settings within a
    configuration."""
    results, axes = data.results, tuned_axes(data)
    valid = (results["split"] == "validation") & (results["metric"] == metric_of(data.metric).name)
    if not axes or not valid.any():
        return False
    groups = [data.groups[g] for g in results.loc[valid, "group"].unique()]
    settings = pd.DataFrame(
        {"config": [str(configuration(g, axes)) for g in groups], "setting": [setting(g, axes) for g in groups]}
    )
    return bool((settings.groupby("config")["setting"].nunique() > 1).any())


def tables(data: Measured) -> dict[str, pd.DataFrame]:
    """`chosen`, `selected`, `comparisons` (at each setting and tuned), `robustness` and `unshared`, and `names` (how
    sentences name each compared pair)."""
    axes = tuned_axes(data)
    runs = scored(data, axes)
    choice = chosen(runs, diverged_runs(data, axes), data.metric, data.select)
    picked = selected(runs, choice)
    found = {"chosen": choice, "selected": picked, **compared(data, runs, picked)}
    return found | ({"robustness": robustness(found["comparisons"])} if len(found["comparisons"]) else {})


def choice_verdict(choice: pd.DataFrame) -> str:
    """Which settings the validation split chose, and for how many configurations each."""
    counts = choice["setting"].value_counts()
    said = ", ".join(f"{s} for {n} of {len(choice)} configurations" for s, n in counts.items())
    return f"Chosen on the validation split ({RULES[choice['select'].iloc[0]]}; the test split was not read): {said}."


def robustness_verdict(table: pd.DataFrame) -> str:
    """One pair at one size axis: what each setting finds, and whether the answer depends on the choice."""
    first = table.iloc[0]
    fixed = "; ".join(f"{r['setting']}: {r['found']}" for _, r in table.iterrows())
    same = "the same answer at every setting" if first["same"] else "the answer depends on the setting"
    unit = AXES[first["at"]]
    return f"{label(first['a'])} - {label(first['b'])} at equal {unit}, setting by setting: {fixed}; {same}."


def verdicts(found: dict[str, pd.DataFrame], dataset: str) -> list[str]:
    """The choice; per declared pair (the headline first, equal parameters before equal multiply-adds) the tuned
    comparison's verdict, on the selected runs' test numbers, and the robustness of its answer; then the pairs whose
    selected runs share no size."""
    choice = found["chosen"][found["chosen"]["dataset"] == dataset]
    if choice.empty:
        return []
    out = [choice_verdict(choice)]
    every, table = found["comparisons"], found.get("robustness", pd.DataFrame())
    names = {(r.a, r.b): (r.shared, r.a_name, r.b_name) for r in found["names"].itertuples()}
    mine = table[table["dataset"] == dataset] if len(table) else table
    for _, r in mine[mine["setting"] == TUNED].iterrows() if len(mine) else []:
        pair = (mine["a"] == r["a"]) & (mine["b"] == r["b"]) & (mine["at"] == r["at"])
        tuned = (every["dataset"] == dataset) & (every["setting"] == TUNED)
        cmp = every[tuned & (every["a"] == r["a"]) & (every["b"] == r["b"]) & (every["at"] == r["at"])]
        out += [
            "Tuned on validation: " + curve_verdict(cmp, names.get((r["a"], r["b"]))),
            robustness_verdict(mine[pair]),
        ]
    unshared = found["unshared"]
    return out + (unshared.loc[unshared["dataset"] == dataset, "verdict"].tolist() if len(unshared) else [])

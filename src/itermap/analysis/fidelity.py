"""Fidelity of students to their teacher (a distillation study): per configuration, the final test agreement and
KL(teacher || student) over seeds, and the fewest parameters whose students agree with the teacher on 99% of test
images (Stanton et al. 2021, "Does knowledge distillation really work?").

Agreement of one student: the share of test images whose top-1 class is the teacher's. As everywhere in the report,
a configuration's spread is the t interval of the mean from MIN_SEEDS seeds on, else the seeds' range, and below
MIN_SEEDS seeds a sentence only describes.
"""

from __future__ import annotations

import pandas as pd

from itermap.analysis.intervals import MIN_SEEDS, spread
from itermap.analysis.measured import Measured
from itermap.analysis.verdict import params_text

NAME = "fidelity"
TITLE = "Distillation: the fewest student parameters that agree with the teacher"
LEVEL = 0.99  # the agreement asked for
KEYS = ["dataset", "group", "arch", "params", "teacher"]


def applies(data: Measured) -> bool:
    """Studies with students: runs trained on a teacher's logits."""
    return "teacher" in data.results and data.results["teacher"].notna().any()


def tables(data: Measured) -> dict[str, pd.DataFrame]:
    """`fidelity`: per student configuration, its agreement with the teacher (`fidelity_table`)."""
    return {"fidelity": fidelity_table(data.results)}


def verdicts(found: dict[str, pd.DataFrame], dataset: str) -> list[str]:
    """The fewest parameters at 99% agreement, per student group (`fewest_params_verdicts`)."""
    return fewest_params_verdicts(found["fidelity"], dataset)


def fidelity_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per student configuration: seeds, test agreement and teacher_kl (mean, spread) and test accuracy (mean)."""
    if "teacher" not in results or results["teacher"].isna().all():
        return pd.DataFrame()
    test = results[(results["status"] == "done") & (results["split"] == "test") & results["teacher"].notna()]
    last = test.loc[test.groupby(["run_id", "metric"])["epoch"].idxmax()]  # each run's final evaluation
    wide = last.pivot_table(index=[*KEYS, "run_id"], columns="metric", values="value").reset_index()
    rows = []
    for key, runs in wide.groupby(KEYS, sort=True):
        row = dict(zip(KEYS, key), seeds=len(runs), accuracy_mean=runs["accuracy"].mean())
        for metric in ("agreement", "teacher_kl"):
            values = runs[metric].dropna().to_numpy()
            row[f"{metric}_mean"] = values.mean()
            row[f"{metric}_low"], row[f"{metric}_high"], row[f"{metric}_interval"] = spread(values)
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["dataset", "group", "params"], ignore_index=True)


def _agreement(r: pd.Series) -> str:
    kind = "95% CI" if r["agreement_interval"] == "ci" else "seeds' range"
    return (
        f"{100 * r['agreement_mean']:.2f}% over {r['seeds']} seeds ({kind} "
        f"{100 * r['agreement_low']:.2f} to {100 * r['agreement_high']:.2f})"
    )


def fewest_params_verdicts(table: pd.DataFrame, dataset: str, level: float = LEVEL) -> list[str]:
    """Per student group, the fewest parameters whose mean test agreement with the teacher reaches `level`, or the
    bound "more than the largest student" when none does; with its seeds and interval."""
    if table.empty or dataset not in set(table["dataset"]):
        return []
    out = []
    for group, rows in table[table["dataset"] == dataset].groupby("group", sort=True):
        rows = rows.sort_values("params")
        reached = rows[rows["agreement_mean"] >= level]
        target = f"agree with the teacher ({rows['teacher'].iloc[0]}) on {100 * level:.0f}% of test images"
        if reached.empty:
            best, largest = rows.loc[rows["agreement_mean"].idxmax()], params_text(rows["params"].max())
            out.append(
                f"{group}: no student up to {largest} parameters reaches a mean test agreement of "
                f"{100 * level:.0f}% (best: {best['arch']}, {_agreement(best)}); to {target} takes more than "
                f"{largest} parameters, if any size does (a bound from the sizes tried)."
            )
            continue
        r = reached.iloc[0]
        if r["seeds"] < MIN_SEEDS:
            sure = f"descriptive only: fewer than {MIN_SEEDS} seeds"
        elif r["agreement_low"] >= level:
            sure = f"its 95% interval lies above {100 * level:.0f}%"
        else:
            sure = f"but its 95% interval reaches below {100 * level:.0f}%, so this is not established"
        out.append(
            f"{group}: the fewest parameters that {target} is {params_text(r['params'])} ({r['arch']}: "
            f"mean {_agreement(r)}; {sure})."
        )
    return out

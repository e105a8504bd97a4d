"""`itermap run depth-quick` and `itermap report`: the anytime figure and the depth tables, numbers recomputed from SQLite."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .conftest import itermap
from .test_summary_numbers import sections


@pytest.fixture(scope="module")
def depth_study(shared_data, tmp_path_factory) -> Path:
    """depth-quick with 2 seeds and 1 epoch (the preset's every configuration), run and reported by the CLI."""
    import os

    env = {**os.environ, "ITERMAP_DATA_DIR": str(shared_data), "COLUMNS": "200"}
    folder = tmp_path_factory.mktemp("depth") / "depth-quick"
    itermap(
        "run", "depth-quick", "--out", folder, "--device", "cpu", "--seeds", "2", "--epochs", "1", env=env, timeout=600
    )
    itermap("report", folder, env=env)
    return folder


def final_rows(folder: Path) -> pd.DataFrame:
    """Last-epoch test accuracy rows, every step's and the model's, with each run's model and train config."""
    with sqlite3.connect(folder / "results.sqlite") as db:
        runs = pd.read_sql_query("SELECT run_id, arch, seed, config FROM runs WHERE planned = 1", db)
        rows = pd.read_sql_query("SELECT * FROM metrics WHERE split = 'test' AND metric = 'accuracy'", db)
    config = runs.pop("config").map(json.loads)
    runs["loss"] = config.map(lambda c: c["train"]["loss"])
    runs["inject"] = config.map(lambda c: c["model"].get("inject"))
    rows = rows[rows["epoch"] == rows.groupby("run_id")["epoch"].transform("max")]
    return rows.merge(runs, on="run_id")


def test_depth_report(depth_study):
    figures = {p.name for p in (depth_study / "figures").iterdir()}
    assert {"fashion-mnist-mini-anytime.png", "fashion-mnist-mini-anytime.svg"} <= figures
    found = sections((depth_study / "summary.md").read_text())
    rows = final_rows(depth_study)
    model = rows[rows["step"].isna()]

    def seeds(arch: str, loss: str, step: int | None = None) -> np.ndarray:
        mine = rows[(rows["arch"] == arch) & (rows["loss"] == loss)]
        mine = mine[mine["step"].isna()] if step is None else mine[mine["step"] == step]
        return mine.sort_values("seed")["value"].to_numpy()

    # the anytime table: a tied net at step 1 and run on to 2d = 4
    anytime = next(v for k, v in found.items() if k.startswith("Anytime"))
    row = next(r for r in anytime if r["Architecture"] == "unrolled-tied-2x16" and "loss=last" in r["Group"])
    assert row["Step 1 (%)"] == f"{100 * seeds('unrolled-tied-2x16', 'last', 1).mean():.2f}"
    assert row["Last step (%)"] == f"{100 * seeds('unrolled-tied-2x16', 'last', 4).mean():.2f} (step 4)"
    assert row["Step d (%)"] == f"{100 * seeds('unrolled-tied-2x16', 'last').mean():.2f} (d = 2)"  # step d is the model

    # the tying cost: untied minus tied, paired over seeds, with its t interval
    tying = next(v for k, v in found.items() if k.startswith("Tying cost"))
    row = next(r for r in tying if (r["Depth"], r["Inject"], r["Loss"]) == ("2", "every-step", "last"))
    d = seeds("unrolled-untied-2x16", "last") - seeds("unrolled-tied-2x16", "last")
    assert row["Untied - tied (points)"] == f"{100 * d.mean():+.2f}"
    assert row["95% CI or range"] == f"range [{100 * d.min():+.2f}, {100 * d.max():+.2f}]"  # 2 seeds: no interval
    assert row["p (Holm)"] == "n/a"
    assert "descriptive only" in next(v for v in found["Verdicts"] if v.startswith("Tying"))

    # the 2x2: tied, last-step loss, image fed once; final accuracy (step-1 accuracy)
    table = next(v for k, v in found.items() if k.startswith("Tied or untied"))
    row = next(r for r in table if (r["Depth"], r["Width"], r["Inject"]) == ("2", "16", "first"))
    final, first = seeds("unrolled-tied-first-2x16", "last"), seeds("unrolled-tied-first-2x16", "last", 1)
    assert row["tied · last"] == f"{100 * final.mean():.2f} ({100 * first.mean():.2f})"
    assert len(model) == model["run_id"].nunique()  # one model row per run and metric at the last epoch


def test_an_unrolled_study_travels_as_one_file_and_its_groups_are_values(depth_study, tmp_path):
    """The unrolled family's `depth` is both a field and a derived column: read back from the exported Parquet and
    CSV, every run keeps its depth (its group, its arch), and the frame equals the folder's. Each group name is the
    printed form of one `Group` built from the runs' fields (results.groups), and the declared pairs of the tying
    question are found from those values, not by reading names apart."""
    from pandas.testing import assert_frame_equal

    from itermap.analysis.compare import apart, default_pairs
    from itermap.analysis.results import Group, groups, load_results

    folder = load_results(depth_study, unmeasured=True)
    for fmt in ("parquet", "csv"):
        itermap("export", depth_study, "--format", fmt, "--output", tmp_path / f"d.{fmt}", env=None)
        assert_frame_equal(load_results(tmp_path / f"d.{fmt}", unmeasured=True), folder, check_exact=True)
    held = groups(folder)
    assert set(held) == set(folder["group"]) and all(str(g) == name for name, g in held.items())
    tied = held["unrolled-4 · inject=every-step · tied=True · loss=last"]
    assert tied == Group("unrolled-4", (("inject", "every-step"), ("tied", "True"), ("loss", "last")))
    untied = held["unrolled-4 · inject=every-step · tied=False · loss=last"]
    assert (tied, untied) in default_pairs(held.values()) or (untied, tied) in default_pairs(held.values())
    assert apart(tied, untied) == ("UNROLLED-4 · inject=every-step · loss=last: ", "tied=True", "tied=False")

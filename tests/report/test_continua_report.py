"""`itermap run windows-quick` and `sparsity-quick`, then `itermap report`: the continua section, its numbers recomputed
from SQLite with pandas and numpy."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .test_summary_numbers import sections


def both(commands: list[list[object]], env: dict[str, str], timeout: float = 600) -> None:
    """`python -m itermap.cli ARGS` for each command at once (a 2-core machine runs the two side by side)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "itermap.cli", *map(str, args)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for args in commands
    ]
    for args, proc in zip(commands, procs):
        _, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, f"itermap {' '.join(map(str, args))} failed:\n{err}"


@pytest.fixture(scope="module")
def studies(shared_data, tmp_path_factory) -> dict[str, Path]:
    """Both quick presets with 2 seeds and 1 epoch (every configuration of each), run and reported by the CLI."""
    env = {**os.environ, "ITERMAP_DATA_DIR": str(shared_data), "COLUMNS": "200"}
    out = {preset: tmp_path_factory.mktemp("continua") / preset for preset in ("windows-quick", "sparsity-quick")}
    both([["run", p, "--out", f, "--device", "cpu", "--seeds", "2", "--epochs", "1"] for p, f in out.items()], env)
    both([["report", f] for f in out.values()], env)
    return out


def finals(folder: Path) -> pd.DataFrame:
    """Each planned run's last-epoch test accuracy with its seed, budget and model fields, straight from the store."""
    with sqlite3.connect(folder / "results.sqlite") as db:
        runs = pd.read_sql_query("SELECT run_id, seed, budget, config FROM runs WHERE planned = 1", db)
        rows = pd.read_sql_query(
            "SELECT run_id, epoch, value FROM metrics WHERE split = 'test' AND metric = 'accuracy' AND step IS NULL", db
        )
    model = runs.pop("config").map(lambda c: json.loads(c)["model"])
    for key in ("family", "window", "axis", "fraction", "layers"):
        runs[key] = model.map(lambda m, key=key: m.get(key))
    last = rows[rows["epoch"] == rows.groupby("run_id")["epoch"].transform("max")]
    return last.merge(runs, on="run_id")


def by_seed(rows: pd.DataFrame) -> np.ndarray:
    return rows.sort_values("seed")["value"].to_numpy()


def test_windows_section(studies):
    folder = studies["windows-quick"]
    figures = {p.name for p in (folder / "figures").iterdir()}
    assert {"fashion-mnist-mini-windows.png", "fashion-mnist-mini-windows.svg"} <= figures
    assert not any("sparsity" in name for name in figures)  # the section appears only where the data are
    found = sections((folder / "summary.md").read_text())
    runs = finals(folder)
    rnn, mlp = runs[(runs["family"] == "rnn") & (runs["budget"] == 8000)], runs[runs["family"] == "mlp"]
    means = rnn.groupby(["axis", "window"])["value"].mean()
    axis, window = means.idxmax()
    window = int(window)
    verdict = next(v for v in found["Verdicts"] if v.startswith("Windows at 8,000 parameters"))
    assert f"best is {window} {axis} per step ({100 * means.max():.2f}%)" in verdict
    d = by_seed(rnn[(rnn["axis"] == axis) & (rnn["window"] == window)]) - by_seed(mlp[mlp["budget"] == 8000])
    lead = re.search(r"over MLP-1 ([-+]\d+\.\d+) points \(seeds' range \[([-+]\d+\.\d+), ([-+]\d+\.\d+)\]\)", verdict)
    assert [float(g) for g in lead.groups()] == pytest.approx([100 * d.mean(), 100 * d.min(), 100 * d.max()], abs=0.006)
    assert "means of 2 seeds, too few for intervals: descriptive only" in verdict
    table = found["Windows: final test accuracy by window, per budget and reading direction"]
    row = next(r for r in table if (r["Budget"], r["Axis"], r["Window"]) == ("2,400", "rows", "7"))
    seven = by_seed(runs[(runs["budget"] == 2400) & (runs["axis"] == "rows") & (runs["window"] == 7)])
    assert row["Test accuracy (%)"] == f"{100 * seven.mean():.2f}" and row["Seeds"] == "2"
    assert row["95% CI or range"] == f"range [{100 * seven.min():.2f}, {100 * seven.max():.2f}]"
    assert "Windows: the best window per budget" in (folder / "report.html").read_text()


def test_sparsity_section(studies):
    folder = studies["sparsity-quick"]
    figures = {p.name for p in (folder / "figures").iterdir()}
    assert {"fashion-mnist-mini-sparsity.png", "fashion-mnist-mini-sparsity.svg"} <= figures
    assert not any("windows" in name for name in figures)
    found = sections((folder / "summary.md").read_text())
    runs = finals(folder)
    sparse = runs[(runs["family"] == "sparse") & (runs["budget"] == 2400)]
    assert sorted(sparse["fraction"].unique()) == [0.0, 0.25, 0.5, 0.75, 1.0]
    # the lead of f = 0.5 over the MLP end (f = 0), paired by seed
    table = found["Sparsity: each interior f against both ends of the continuum, paired by seed"]
    row = next(r for r in table if (r["Budget"], r["f"], r["End"]) == ("2,400", "0.5", "f = 0"))
    d = by_seed(sparse[sparse["fraction"] == 0.5]) - by_seed(sparse[sparse["fraction"] == 0.0])
    assert row["Lead (points)"] == f"{100 * d.mean():+.2f}" and row["p (Holm)"] == "n/a"
    assert row["95% CI or range"] == f"range [{100 * d.min():+.2f}, {100 * d.max():+.2f}]"
    # the verdict's best interior point and its accuracy
    inner = sparse[sparse["fraction"].between(0.01, 0.99)].groupby("fraction")["value"].mean()
    verdict = next(v for v in found["Verdicts"] if v.startswith("Sparsity at 2,400 parameters (2,407 non-zeros"))
    assert f"the best interior point f = {inner.idxmax():g} ({100 * inner.max():.2f}%)" in verdict
    assert "whether a band beats both ends is not judged" in verdict  # 2 seeds: descriptive only
    # f = 0 is MLP-2: the plain MLP-2 at the same budget has its count and its accuracy (up to float rounding: a
    # prediction or two of the 1,000 test images may flip)
    refs = found["Continua: the reference groups at the same budgets"]
    assert {r["Group"] for r in refs} == {"MLP-1", "MLP-2", "RNN-1"}
    same = next(r for r in refs if (r["Budget"], r["Group"]) == ("2,400", "MLP-2"))
    assert same["Params"] == "2,407"
    assert abs(float(same["Test accuracy (%)"]) - 100 * by_seed(sparse[sparse["fraction"] == 0.0]).mean()) <= 0.2

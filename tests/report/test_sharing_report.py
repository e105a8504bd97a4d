"""A tiny tying study (the factorial core, blocks in both schedules, a relaxed tied net; 5 seeds) run and reported by
the CLI: the trainer's `dynamics` rows in SQLite (tied and partly tied runs, last epoch, test split) equal
unrolled.dynamics recomputed from the kept weights; summary.md's factorial, past-depth and rank tables recomputed from
SQLite with pandas and scipy; the past-depth figure saved."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.torch import load_file
from scipy import stats

from itermap.data import load
from itermap.models import parse_config, unrolled
from itermap.train.config import TrainConfig
from itermap.train.trainer import prepare

from .conftest import itermap
from .test_summary_numbers import sections

SPEC = """
[study]
name = "tiny-tying"

[data]
datasets = ["fashion-mnist-mini"]
limit_train = 600
limit_test = 200

[train]
epochs = 2
batch_size = 50
lr = 3e-3
seeds = 5
keep_weights = true

[[grid]]
family = "unrolled"
hidden = 8
depth = 4
tied = [true, false]
inject = ["every-step", "first"]
train = { loss = ["last", "every-step"] }

[[grid]]
family = "unrolled"
hidden = 8
depth = 4
blocks = 2
schedule = ["cycle", "sequence"]

[[grid]]
family = "unrolled"
hidden = 8
depth = 4
tied = true
relax = 2
"""
DYNAMICS = ["spectral_norm", "spectral_radius", "residual_d", "residual_2d", "accuracy_2d", "accuracy_4d"]


@pytest.fixture(scope="module")
def tying_study(shared_data, tmp_path_factory) -> Path:
    env = {**os.environ, "ITERMAP_DATA_DIR": str(shared_data), "COLUMNS": "200"}
    folder = tmp_path_factory.mktemp("tying") / "tiny-tying"
    spec = folder.parent / "tiny-tying.toml"
    spec.write_text(SPEC)
    itermap("run", spec, "--out", folder, "--device", "cpu", env=env)
    itermap("report", folder, env=env)
    return folder


def stored(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs with their model and train config, every metric row) straight from SQLite."""
    with sqlite3.connect(folder / "results.sqlite") as db:
        runs = pd.read_sql_query("SELECT run_id, seed, config FROM runs", db)
        rows = pd.read_sql_query("SELECT run_id, epoch, split, metric, value FROM metrics", db)
    config = runs.pop("config").map(json.loads)
    runs["model"], runs["train"] = config.map(lambda c: c["model"]), config.map(lambda c: c["train"])
    return runs, rows


def test_dynamics_rows_are_the_models(tying_study):
    runs, rows = stored(tying_study)
    last = rows[(rows["epoch"] == 2) & (rows["split"] == "test")]
    assert not rows[(rows["epoch"] == 1) & rows["metric"].isin(DYNAMICS)].size  # the final epoch only
    data = load("fashion-mnist-mini")
    for run in runs.itertuples():
        cfg = parse_config(run.model)
        mine = last[last["run_id"] == run.run_id].set_index("metric")["value"]
        assert set(DYNAMICS) <= set(mine.index) if cfg.block_count < cfg.depth else not set(DYNAMICS) & set(mine.index)
        if cfg.block_count == cfg.depth or (cfg.relax == 0 and cfg.inject == "first" and run.seed > 0):
            continue  # recompute a sample: every sharing kind, and every seed of one
        params = {k: v[None] for k, v in load_file(tying_study / "weights" / f"{run.run_id}.safetensors").items()}
        x = prepare(cfg, TrainConfig(**run.train), data.test_images[:200], data, "cpu")[None]  # [1, 200, 784]
        got = unrolled.dynamics(cfg, params, x, data.test_labels[:200][None])
        for name in DYNAMICS:
            assert mine[name] == pytest.approx(got[name].item(), rel=1e-5, abs=1e-7), (cfg.arch, name)
        assert 0 <= mine["accuracy_4d"] <= 1 and mine["spectral_radius"] <= mine["spectral_norm"] * (1 + 1e-6)


def test_sharing_report_tables(tying_study):
    runs, rows = stored(tying_study)
    found = sections((tying_study / "summary.md").read_text())
    final = rows[(rows["epoch"] == 2) & (rows["split"] == "test")].pivot(index="run_id", columns="metric")["value"]
    model = runs.set_index("run_id")["model"]
    final = final.assign(
        seed=runs.set_index("run_id")["seed"],
        tied=model.map(lambda m: m.get("tied", True)),
        blocks=model.map(lambda m: m.get("blocks")),
        relax=model.map(lambda m: m.get("relax", 0)),
        inject=model.map(lambda m: m.get("inject", "every-step")),
        loss=runs.set_index("run_id")["train"].map(lambda t: t.get("loss", "last")),
    )

    # the factorial: untied minus tied, per seed over the eight cells' means, then over seeds
    core = final[final["blocks"].isna() & (final["relax"] == 0)]
    per_seed = core.groupby(["seed", "tied"])["accuracy"].mean().unstack()
    tying = per_seed[False] - per_seed[True]
    ci = stats.ttest_1samp(tying, 0.0).confidence_interval(0.95)
    table = next(v for k, v in found.items() if k.startswith("Tying x loss x injection"))
    row = next(r for r in table if r["Effect"] == "tying")
    assert (row["Seeds"], row["Measures"]) == ("5", "untied - tied")
    # printed to 2 decimals: the same numbers, summed in another order, may round the other way at a half
    assert float(row["Effect (points)"]) == pytest.approx(100 * tying.mean(), abs=0.005 + 1e-9)
    low, high = (float(v) for v in row["95% CI or range"].strip("[]").split(", "))
    assert (low, high) == pytest.approx((100 * ci.low, 100 * ci.high), abs=0.005 + 1e-9)
    assert len(table) == 7

    # past the depth: one row per tied or partly tied configuration, and the rank correlation over their runs
    shared = final[final["residual_2d"].notna()]
    assert len(shared) == 5 * (4 + 2 + 1)  # 4 tied core cells, 2 schedules, 1 relaxed
    past = next(v for k, v in found.items() if k.startswith("Past the trained depth"))
    relaxed = shared[shared["relax"] > 0]
    row = next(r for r in past if r["Point"] == "tied + rank 2")
    assert row["Residual at 2d"] == f"{relaxed['residual_2d'].median():.2g}"
    assert row["Spectral norm"] == f"{relaxed['spectral_norm'].mean():.3f}"
    assert row["Accuracy at d / 2d / 4d (%)"] == " / ".join(
        f"{100 * relaxed[m].mean():.2f}" for m in ("accuracy", "accuracy_2d", "accuracy_4d")
    )
    (rank,) = next(v for k, v in found.items() if k.startswith("Residual at 2d against"))
    test = stats.spearmanr(shared["residual_2d"], shared["accuracy"] - shared["accuracy_2d"])
    half = stats.norm.ppf(0.975) * np.sqrt(1.06 / (len(shared) - 3))
    low, high = np.tanh(np.arctanh(test.statistic) + np.array([-half, half]))
    assert (rank["Runs"], rank["Seeds"], rank["Spearman's rho"]) == (str(len(shared)), "5", f"{test.statistic:+.2f}")
    assert rank["95% CI"] == f"[{low:+.2f}, {high:+.2f}]"
    assert any(
        v.startswith(f"Past their depth ({len(shared)} tied and partly tied runs of 5 seeds") for v in found["Verdicts"]
    )
    assert any(v.startswith("Tying x loss x injection at equal width 8 (depth 4; 5 seeds)") for v in found["Verdicts"])

    assert {"fashion-mnist-mini-past-depth.png", "fashion-mnist-mini-past-depth.svg"} <= {
        p.name for p in (tying_study / "figures").iterdir()
    }
    assert "fixed-point residual at 2d steps" in (tying_study / "report.html").read_text()


def test_a_study_recorded_before_the_dynamics_metrics_still_reports(tying_study, tmp_path):
    """A copy of the study without its dynamics rows (as a study trained by an earlier itermap holds them): the
    report is written with the factorial and without the past-depth figure or its tables."""
    import shutil

    old = tmp_path / "old"
    shutil.copytree(tying_study, old, ignore=shutil.ignore_patterns("report*", "figures", "summary.md"))
    with sqlite3.connect(old / "results.sqlite") as db:
        deleted = db.execute(f"DELETE FROM metrics WHERE metric IN ({', '.join('?' * len(DYNAMICS))})", DYNAMICS)
        assert deleted.rowcount > 0
    itermap("report", old, env={**os.environ, "COLUMNS": "200"})
    found = sections((old / "summary.md").read_text())
    assert any(title.startswith("Tying x loss x injection") for title in found)
    assert not any("past" in title.lower() or "rank" in title.lower() for title in found)
    assert not list((old / "figures").glob("*past-depth*"))

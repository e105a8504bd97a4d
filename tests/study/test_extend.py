"""Training settings as axes, and studies extended in place: only what is new trains, nothing recorded is lost."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest
import torch

import itermap
import itermap.study.runner
from itermap.report import write_report
from itermap.study.plan import make_plan
from itermap.study.spec import load_spec, parse
from itermap.study.store import VERSION

FIXTURES = Path(__file__).parent / "fixtures"


def spec(seeds: int = 2, hidden: list = [[4], [8]], lr: list | float = 3e-3) -> dict:  # noqa: B006
    return {
        "study": {"name": "grow"},
        "data": {"datasets": ["fashion-mnist-mini"], "limit_train": 300, "limit_test": 100},
        "train": {"epochs": 2, "batch_size": 50, "seeds": seeds},
        "grid": [{"family": "mlp", "hidden": hidden, "train": {"lr": lr}}],
    }


@pytest.fixture
def trained(monkeypatch) -> list[list[int]]:
    """The seeds of every pack trained from here on, one list per pack."""
    packs, real = [], itermap.study.runner.pack_epochs

    def counting(pack, *args, **kw):
        packs.append(pack.seeds)
        return real(pack, *args, **kw)

    monkeypatch.setattr(itermap.study.runner, "pack_epochs", counting)
    return packs


def rows(folder: Path) -> list[tuple]:
    with sqlite3.connect(folder / "results.sqlite") as db:
        return sorted(db.execute("SELECT run_id, epoch, split, metric, value FROM metrics"))


def test_learning_rate_axis(cli, tmp_path):
    """lr = [1e-3, 1e-4] in [grid.train]: two packs per configuration, both rates exported, two groups reported."""
    path = tmp_path / "lr.toml"
    path.write_text(
        '[study]\nname = "lr"\n[data]\ndatasets = ["fashion-mnist-mini"]\nlimit_train = 300\nlimit_test = 100\n'
        "[train]\nepochs = 2\nbatch_size = 50\nseeds = 2\n"
        '[[grid]]\nfamily = "mlp"\nhidden = [[4], [8]]\n[grid.train]\nlr = [1e-3, 1e-4]\n'
    )
    plan = make_plan(load_spec(path))
    assert len(plan.packs) == 4 and {(p.first.cfg.arch, p.first.train.lr) for p in plan.packs} == {
        (a, lr) for a in ("mlp-4", "mlp-8") for lr in (1e-3, 1e-4)
    }
    out = tmp_path / "lr"
    assert cli("run", path, "--out", out, "--device", "cpu").returncode == 0
    assert cli("export", out, "--format", "parquet").returncode == 0
    frame = pd.read_parquet(out / "results.parquet")
    assert sorted(frame["lr"].unique()) == [1e-4, 1e-3]
    assert frame.groupby("lr")["run_id"].nunique().to_dict() == {1e-4: 4, 1e-3: 4}
    assert set(frame["group"]) == {"mlp-1 · lr=0.001", "mlp-1 · lr=0.0001"}
    assert cli("report", out).returncode == 0
    summary = (out / "summary.md").read_text()
    assert "| MLP-1 · lr=0.001 | mlp-4 |" in summary and "| MLP-1 · lr=0.0001 | mlp-4 |" in summary
    verdicts = summary.split("### Verdicts")[1].split("###")[0]
    assert "MLP-1: lr=0.0001 above lr=0.001" in verdicts  # the two rates compared, the shared group said once


def test_more_seeds_train_only_the_new_seed(trained, shared_data, tmp_path):
    out = tmp_path / "grow"
    itermap.run_study(parse(spec(seeds=2), "test"), out=out, device="cpu", quiet=True)
    assert sorted(trained) == [[0, 1], [0, 1]]
    before = rows(out)

    trained.clear()
    itermap.run_study(parse(spec(seeds=3), "test"), out=out, device="cpu", quiet=True)
    assert sorted(trained) == [[2], [2]]  # one new run per configuration, in a pack of its own
    after = rows(out)
    assert [r for r in after if r in before] == before  # the first two seeds' rows, identical
    assert len(after) == len(before) * 3 // 2
    frame = itermap.load_results(out)
    assert sorted(frame["seed"].unique()) == [0, 1, 2]

    # a seed-2 run trained alone equals the seed-2 run of a fresh 3-seed study (a run does not depend on its pack)
    fresh = itermap.run_study(parse(spec(seeds=3), "test"), out=tmp_path / "fresh", device="cpu", quiet=True)
    assert [r[:4] for r in rows(fresh)] == [r[:4] for r in after]  # same ids, epochs, splits, metrics
    assert max(abs(a[4] - b[4]) for a, b in zip(rows(fresh), after)) < 1e-6  # float32, up to rounding


def test_dropped_width_stays_in_the_store_out_of_the_report(trained, cli, shared_data, tmp_path):
    out = tmp_path / "grow"
    itermap.run_study(parse(spec(), "test"), out=out, device="cpu", quiet=True)
    trained.clear()
    narrow = tmp_path / "narrow.toml"
    narrow.write_text(
        '[study]\nname = "grow"\n[data]\ndatasets = ["fashion-mnist-mini"]\nlimit_train = 300\nlimit_test = 100\n'
        '[train]\nepochs = 2\nbatch_size = 50\nseeds = 2\n[[grid]]\nfamily = "mlp"\nhidden = [[4]]\n[grid.train]\nlr = 3e-3\n'
    )
    planned = cli("plan", narrow, "--no-calibrate", "--out", out)
    assert planned.returncode == 0 and "2 of 2 runs already finished there" in planned.stdout
    itermap.run_study(narrow, out=out, device="cpu", quiet=True)
    assert trained == []  # mlp-4 was already done; nothing to train
    assert set(itermap.load_results(out)["arch"]) == {"mlp-4"}
    assert set(itermap.load_results(out, all_runs=True)["arch"]) == {"mlp-4", "mlp-8"}
    assert itermap.study_info(out)["unplanned"] == 2
    write_report(out)
    assert "mlp-8" not in (out / "summary.md").read_text()
    status = cli("status", out)
    assert "2 done" in status.stdout and "2 more runs kept from earlier specs" in status.stdout


def test_a_version_1_folder_is_upgraded_in_place(trained, shared_data, tmp_path):
    """A folder written by itermap 0.1.0 (ids with defaults, `flops`): read as it is, then upgraded by `run`, nothing retrained."""
    folder = tmp_path / "v1"
    shutil.copytree(FIXTURES / "v1-study", folder)
    old = itermap.load_results(folder)  # read-only, still in version 1
    assert set(old["macs"]) == {3176, 2391}

    itermap.run_study(FIXTURES / "v1.toml", out=folder, device="cpu", quiet=True)
    assert trained == []  # every run kept its rows under its new id
    new = itermap.load_results(folder)
    plan = make_plan(load_spec(FIXTURES / "v1.toml"))
    assert set(new["run_id"]) == {r.run_id for r in plan.runs}
    key = ["arch", "seed", "epoch", "split", "metric"]
    pd.testing.assert_series_equal(
        old.sort_values(key)["value"].reset_index(drop=True), new.sort_values(key)["value"].reset_index(drop=True)
    )
    assert {p.stem for p in (folder / "weights").glob("*.safetensors")} == {r.run_id for r in plan.runs}
    with closing(sqlite3.connect(folder / "results.sqlite")) as db:
        assert dict(db.execute("SELECT key, value FROM meta"))["store_version"] == str(VERSION)
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone() == (0,)  # nothing trained: no session


def test_a_version_2_folder_gains_the_sessions_table(trained, tmp_path):
    """A folder written by store version 2 (no `sessions`): read as it is, upgraded by `run` keeping every row; the
    session that then trains more is recorded."""
    folder = tmp_path / "v2"
    shutil.copytree(FIXTURES / "v2-study", folder)
    old = rows(folder)
    assert len(old) == 4 * 6 and itermap.study_info(folder)["environment"] == []  # read-only: still version 2

    itermap.run_study(FIXTURES / "v2.toml", out=folder, device="cpu", quiet=True)
    assert trained == [] and rows(folder) == old
    with closing(sqlite3.connect(folder / "results.sqlite")) as db:
        assert dict(db.execute("SELECT key, value FROM meta"))["store_version"] == str(VERSION)
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone() == (0,)

    itermap.run_study(FIXTURES / "v2.toml", out=folder, device="cpu", quiet=True, seeds=3)
    assert trained == [[2], [2]] and set(old) < set(rows(folder))
    [session] = itermap.study_info(folder)["environment"]
    assert session["shard"] == "1/1" and session["executor"] == "local" and session["torch"] == torch.__version__


def test_keep_weights_on_a_finished_study_trains_again_to_keep_them(tmp_path, metric_rows):
    folder = itermap.run_study(parse(spec(), "test"), out=tmp_path / "s", device="cpu", quiet=True)
    rows = metric_rows(folder)
    kept = spec()
    kept["train"]["keep_weights"] = True
    itermap.run_study(parse(kept, "test"), out=folder, device="cpu", quiet=True)
    runs = {r.run_id for r in make_plan(parse(kept, "test")).runs}
    assert {p.stem for p in (folder / "weights").glob("*.safetensors")} == runs
    assert "keep_weights = true" in (folder / "study.toml").read_text()
    assert metric_rows(folder) == rows  # retrained to the same rows, none lost or twice
    assert itermap.study_info(folder)["counts"]["done"] == len(runs)

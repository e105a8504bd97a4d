"""`itermap export DIR --to mlflow`: the tiny study replayed into a real local MLflow store (SQLite) and read back
through `mlflow.MlflowClient`: runs, params and metric histories equal results.sqlite; exporting again adds nothing,
and an export of the study half-trained is completed, not duplicated."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from contextlib import closing

from mlflow import MlflowClient
from typer.testing import CliRunner

from itermap.cli import app


def leaves(config: dict, prefix: str = "") -> dict[str, object]:
    """{"train": {"lr": 0.003}} -> {"train.lr": 0.003}."""
    out = {}
    for k, v in config.items():
        out |= leaves(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v}
    return out


def export(folder, uri: str) -> str:
    result = CliRunner().invoke(app, ["export", str(folder), "--to", "mlflow", "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_mlflow_export_reads_back_equal_and_is_idempotent(tiny_study, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow's default artifact folder, should it make one
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with closing(sqlite3.connect(tiny_study / "results.sqlite")) as db:
        runs = {r[0]: r[1:] for r in db.execute("SELECT run_id, pack_id, config, params, macs, status FROM runs")}
        rows = db.execute("SELECT run_id, epoch, split, metric, value FROM metrics WHERE step IS NULL").fetchall()
    # The study with its last epoch not yet recorded, exported first: the full study's export completes those runs.
    half = shutil.copytree(tiny_study, tmp_path / "half", ignore=shutil.ignore_patterns("figures", "*.html", "*.md"))
    with closing(sqlite3.connect(half / "results.sqlite")) as db, db:
        db.execute("DELETE FROM metrics WHERE epoch = 2")
    assert export(half, uri).startswith(f"{len(runs)} created, 0 updated")
    assert export(tiny_study, uri).startswith(f"0 created, {len(runs)} updated")
    assert export(tiny_study, uri).startswith(f"0 created, 0 updated, {len(runs)} unchanged")

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("tiny-report")
    exported = client.search_runs([experiment.experiment_id], max_results=1000)
    assert len(exported) == len(runs) == 42  # one MLflow run per itermap run, none twice
    assert len(client.search_experiments()) == 2  # MLflow's Default, and the study's
    for run in exported:
        run_id = run.data.tags["itermap.run_id"]
        pack_id, config, params, macs, status = runs[run_id]
        assert run.data.tags["itermap.pack"] == pack_id and run.info.status == "FINISHED" and status == "done"
        expected = leaves(json.loads(config)) | {"params": params, "macs": macs}
        assert {k: v if isinstance(expected[k], str) else json.loads(v) for k, v in run.data.params.items()} == expected
        for split, metric in (("test", "accuracy"), ("train", "cross_entropy")):
            history = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, f"{split}_{metric}"))
            stored = sorted((e, v) for r, e, s, m, v in rows if (r, s, m) == (run_id, split, metric))
            assert history == stored and len(stored) >= 1
    packs = {}
    for run in exported:
        packs.setdefault(run.data.tags["itermap.pack"], set()).add(json.loads(run.data.params["seed"]))
    assert all(seeds == {0, 1, 2} for seeds in packs.values())  # the pack tag groups a configuration's seeds


def test_mlflow_export_without_mlflow_says_what_to_install(tiny_study, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if the extra were not installed: `import mlflow` fails
    result = CliRunner().invoke(app, ["export", str(tiny_study), "--to", "mlflow"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: `export --to mlflow` needs the MLflow client: pip install 'itermap[mlflow]'"

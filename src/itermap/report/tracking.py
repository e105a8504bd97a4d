"""A study replayed into MLflow: one MLflow run per itermap run, in an experiment named after the study.

An MLflow run holds its itermap run's config as params (`dataset`, `seed`, `model.hidden`, `train.lr`, ...: each
value as JSON, a string as it is; with `params` and `macs`), its metric rows as metric histories with step = epoch
(`test_accuracy`, `train_cross_entropy`; an anytime row of step s as `test_accuracy_step{s}`), and as tags its run
id, pack (seeds of one configuration share it), study, data set, architecture and group. Exporting again finds each
run by its `itermap.run_id` tag and adds only what is new (epochs after `itermap.epochs`, a changed status).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from itermap.analysis.results import load_results, open_store
from itermap.study.errors import StudyError

TAG = "itermap.run_id"
EPOCHS = "itermap.epochs"  # the last epoch whose rows are in MLflow
STATUS = {"done": "FINISHED", "diverged": "FAILED", "running": "RUNNING", "pending": "SCHEDULED"}
BATCH = 100  # entries of one log_batch: MLflow takes at most 100 params and 1,000 metrics per call


def flat(config: dict, prefix: str = "") -> dict[str, str]:
    """A nested config as MLflow params: {"model": {"hidden": [8, 8]}} -> {"model.hidden": "[8, 8]"}."""
    out: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out |= flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value if isinstance(value, str) else json.dumps(value)
    return out


def metric_key(split: str, metric: str, step: Any) -> str:
    """`test_accuracy`, or `test_accuracy_step3` for the prediction of step 3 (anytime rows)."""
    return f"{split}_{metric}" + ("" if pd.isna(step) else f"_step{int(step)}")


def millis(stamp: float | None) -> int:
    """A Unix time in seconds as MLflow's milliseconds (0 where the store has none)."""
    return int(1000 * stamp) if stamp else 0


def export_mlflow(folder: str | Path, tracking_uri: str | None = None) -> dict[str, int]:
    """Replay the study in `folder` into MLflow at `tracking_uri` (MLflow's default when None); return how many
    MLflow runs were created, updated and left unchanged."""
    try:
        from mlflow import MlflowClient
        from mlflow.entities import Metric, Param
        from mlflow.exceptions import MlflowException
    except ImportError:
        raise StudyError("`export --to mlflow` needs the MLflow client: pip install 'itermap[mlflow]'") from None
    results = load_results(folder, unmeasured=True)
    with open_store(folder) as store:
        study = store.meta().get("study") or Path(folder).name
        stored = {
            r["run_id"]: r for r in store.db.execute("SELECT run_id, pack_id, config, started, finished FROM runs")
        }
    counts = dict.fromkeys(("created", "updated", "unchanged"), 0)
    try:
        client = MlflowClient(tracking_uri)
        experiment = client.get_experiment_by_name(study)
        if experiment is not None and experiment.lifecycle_stage != "active":
            raise StudyError(
                f"MLflow experiment {study!r} is deleted; restore it (`mlflow experiments restore`) "
                "or delete it for good, then export again"
            )
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(study)
        existing = {
            r.data.tags[TAG]: r for r in client.search_runs([experiment_id], f"tags.`{TAG}` != ''", max_results=50_000)
        }
        for run_id, rows in results.groupby("run_id", sort=False):
            first, row = rows.iloc[0], stored[run_id]
            found = existing.get(run_id)
            status = STATUS[first["status"]]
            new = rows[rows["epoch"] > (int(found.data.tags.get(EPOCHS, 0)) if found else 0)]
            if found and new.empty and found.info.status == status:
                counts["unchanged"] += 1
                continue
            if found is None:
                tags = {
                    TAG: run_id,
                    "itermap.pack": row["pack_id"],
                    "itermap.study": study,
                    "itermap.dataset": first["dataset"],
                    "itermap.arch": first["arch"],
                    "itermap.group": first["group"],
                }
                name = f"{first['arch']} seed {first['seed']}"
                found = client.create_run(experiment_id, millis(row["started"]), tags, name)
            config = {**json.loads(row["config"]), "params": int(first["params"]), "macs": int(first["macs"])}
            params = [Param(k, v) for k, v in flat(config).items()] if EPOCHS not in found.data.tags else []
            stamp = millis(row["started"])
            metrics = [
                Metric(metric_key(r.split, r.metric, r.step), float(r.value), stamp, int(r.epoch))
                for r in new.itertuples()
            ]
            for i in range(0, max(len(params), len(metrics)), BATCH):
                client.log_batch(found.info.run_id, metrics[i : i + BATCH], params[i : i + BATCH])
            last = int(rows["epoch"].max()) if rows["epoch"].notna().any() else 0
            client.set_tag(found.info.run_id, EPOCHS, str(last))  # last: what is before it is all in MLflow
            if row["finished"]:
                client.set_terminated(found.info.run_id, status, millis(row["finished"]))
            else:
                client.update_run(found.info.run_id, status)
            counts["updated" if run_id in existing else "created"] += 1
    except MlflowException as e:
        raise StudyError(f"MLflow at {tracking_uri or 'its default tracking URI'}: {e.message}") from None
    return counts

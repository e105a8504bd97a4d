"""A study folder's results as a tidy pandas DataFrame (one row per measured number), and its metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from itermap.models import family_config
from itermap.study.errors import StudyError
from itermap.study.families import group_of, layers_of, width_of
from itermap.study.store import FILENAME, Store

RUN_COLUMNS = ["run_id", "study", "dataset", "family", "arch", "params", "budget", "seed", "status", "diverged_epoch"]
METRIC_COLUMNS = ["epoch", "split", "metric", "value"]


def open_store(folder: str | Path) -> Store:
    """The folder's results store, read-only; a clear error when there is none."""
    if not (Path(folder) / FILENAME).is_file():
        raise StudyError(f"{folder}: no {FILENAME} here; is it a study folder (runs/<name>)?")
    return Store(Path(folder), readonly=True)


def config_fields(config: dict) -> dict:
    """A run's config flattened into columns: group, hidden (JSON text), layers, width, other model fields, train fields."""
    cfg = family_config.validate_python(config["model"])
    model = {k: v for k, v in config["model"].items() if k not in ("family", "image", "classes", "hidden", "layers")}
    return {
        "group": group_of(cfg),
        "hidden": json.dumps(config["model"].get("hidden")),
        "layers": layers_of(cfg),
        "width": width_of(cfg),
        **model,
        **config["train"],
        "limit_train": config.get("limit_train"),
        "limit_test": config.get("limit_test"),
    }


def runs_frame(store: Store) -> pd.DataFrame:
    """One row per run: identity, group, parameters, status, and its flattened config."""
    rows = store.db.execute("SELECT * FROM runs ORDER BY rowid")
    records = [{**{k: row[k] for k in RUN_COLUMNS}, **config_fields(json.loads(row["config"]))} for row in rows]
    frame = pd.DataFrame.from_records(records)
    for col in ("budget", "diverged_epoch", "limit_train", "limit_test"):
        if col in frame:
            frame[col] = frame[col].astype("Int64")
    return frame


def load_results(folder: str | Path, unmeasured: bool = False) -> pd.DataFrame:
    """Tidy results of a study folder: run_id, study, dataset, family, arch, group, params, seed, epoch, split, metric, value, status, diverged_epoch, then config fields.

    `unmeasured=True` adds one metric-less row for each run with no metric rows yet, so a partial study's
    missing runs are still listed.
    """
    store = open_store(folder)
    try:
        runs = runs_frame(store)
        metrics = pd.read_sql_query("SELECT * FROM metrics ORDER BY rowid", store.db)
    finally:
        store.close()
    frame = metrics.merge(runs, on="run_id", how="right" if unmeasured else "inner", validate="many_to_one")
    first = ["run_id", "study", "dataset", "family", "arch", "group", "params", "seed", *METRIC_COLUMNS, "status", "diverged_epoch"]
    rest = [c for c in runs.columns if c not in first]
    return frame[first + rest].sort_values(["dataset", "group", "params", "seed", "epoch", "split", "metric"], ignore_index=True)


def study_info(folder: str | Path) -> dict:
    """A study's spec text, name, versions, device, wall time, last update and counts of runs by status."""
    store = open_store(folder)
    try:
        meta, counts = store.meta(), store.counts()
        total = sum(counts.values())
    finally:
        store.close()
    return {
        "study": meta.get("study"),
        "spec": meta.get("spec", ""),
        "notes": [n for n in meta.get("notes", "").splitlines() if n],
        "versions": {k.removesuffix("_version"): v for k, v in meta.items() if k.endswith("_version")},
        "device": meta.get("device"),
        "device_name": meta.get("device_name"),
        "wall_seconds": float(meta.get("wall_seconds", 0)),
        "created": float(meta["created"]) if "created" in meta else None,
        "updated": float(meta["updated"]) if "updated" in meta else None,
        "runs": total,
        "counts": {s: counts.get(s, 0) for s in ("done", "diverged", "running", "pending")},
    }

"""A study folder's results as a tidy pandas DataFrame (one row per measured number), and its metadata.

A run's `group` is the curve it lies on: its family's group ("rnn-1"), then every config field that
varies in the study and is not a size (`hidden`, `layers`), as "rnn-1 · lr=0.001 · window=7".
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from itermap.models import FamilyConfig, parse_config
from itermap.study.errors import StudyError
from itermap.study.store import FILENAME, Store

RUN_COLUMNS = ["run_id", "study", "dataset", "family", "arch", "params", "macs", "budget", "seed", "status",
               "diverged_epoch", "planned"]  # fmt: skip
METRIC_COLUMNS = ["epoch", "split", "metric", "value"]
SEPARATOR = " · "  # between a group's family part and each varying field


def open_store(folder: str | Path) -> Store:
    """The folder's results store, read-only; a clear error when there is none."""
    if not (Path(folder) / FILENAME).is_file():
        raise StudyError(f"{folder}: no {FILENAME} here; is it a study folder (runs/<name>)?")
    return Store(Path(folder), readonly=True)


def config_fields(config: dict) -> tuple[FamilyConfig, dict]:
    """A run's family config, and every field of its config as a column: model (less family and image), train, subset."""
    model = {k: v for k, v in config["model"].items() if k not in ("family", "image", "classes")}
    limits = {"limit_train": config.get("limit_train"), "limit_test": config.get("limit_test")}
    return parse_config(config["model"]), {**model, **config["train"], **limits}


def varying(runs: pd.DataFrame, fields: list[str]) -> list[str]:
    """The config fields that take more than one value among the runs that have them."""
    return [f for f in fields if runs[f].dropna().map(str).nunique() > 1]


def present(value: object) -> bool:
    """Whether a run has this field (a field of another family is None or NaN in its row)."""
    return value is not None and value == value


def one_type(column: pd.Series) -> pd.Series:
    """A field's values as they are when all of one kind, else as JSON text (an MLP's [64, 64] beside an RNN's 64)."""
    kinds = {type(v) for v in column.dropna()}
    return column if len(kinds) <= 1 and not kinds & {list, dict} else column.map(json.dumps, na_action="ignore")


def runs_frame(store: Store, all_runs: bool = False) -> pd.DataFrame:
    """One row per run of the current plan (or every stored run): identity, group, sizes, status, config fields."""
    records, fields, sizes = [], {}, {}
    for row in store.db.execute("SELECT * FROM runs ORDER BY rowid"):
        stored = {k: row[k] for k in RUN_COLUMNS if k in row.keys()}
        stored.setdefault("macs", row["flops"] if "flops" in row.keys() else None)  # a version-1 store read as it is
        stored.setdefault("planned", 1)
        if not (stored["planned"] or all_runs):
            continue
        cfg, config = config_fields(json.loads(row["config"]))
        fields.update(dict.fromkeys(config))
        sizes[row["run_id"]] = cfg.size_fields
        records.append({**stored, "group": cfg.group, "width": cfg.width, "depth": cfg.depth, **config})
    frame = pd.DataFrame.from_records(records, columns=[*RUN_COLUMNS, "group", "width", "depth", *fields])
    splits = varying(frame, list(fields))
    frame["group"] = [
        SEPARATOR.join([r["group"], *(f"{f}={r[f]}" for f in splits if f not in sizes[r["run_id"]] and present(r[f]))])
        for _, r in frame.iterrows()
    ]  # fmt: skip
    for col in fields:
        frame[col] = one_type(frame[col])
    for col in ("budget", "diverged_epoch", "limit_train", "limit_test"):
        frame[col] = frame[col].astype("Int64")
    return frame


def load_results(folder: str | Path, unmeasured: bool = False, all_runs: bool = False) -> pd.DataFrame:
    """Tidy results of a study folder: run_id, study, dataset, family, arch, group, params, macs, seed, epoch, split, metric, value, status, diverged_epoch, then config fields.

    `unmeasured=True` adds one metric-less row for each run with no metric rows yet, so a partial study's
    missing runs are still listed. `all_runs=True` includes runs that the study's current spec no longer plans.
    """
    store = open_store(folder)
    try:
        runs = runs_frame(store, all_runs)
        metrics = pd.read_sql_query("SELECT * FROM metrics ORDER BY rowid", store.db)
    finally:
        store.close()
    frame = metrics.merge(runs, on="run_id", how="right" if unmeasured else "inner", validate="many_to_one")
    first = ["run_id", "study", "dataset", "family", "arch", "group", "params", "macs", "seed", *METRIC_COLUMNS,
             "status", "diverged_epoch"]  # fmt: skip
    rest = [c for c in runs.columns if c not in first]
    return frame[first + rest].sort_values(
        ["dataset", "group", "params", "seed", "epoch", "split", "metric"], ignore_index=True
    )


def study_info(folder: str | Path) -> dict:
    """A study's spec text, name, versions, device, wall time, last update and counts of runs by status."""
    store = open_store(folder)
    try:
        meta, counts = store.meta(), store.counts()
        total = sum(n for s, n in counts.items() if s != "unplanned")
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
        "unplanned": counts.get("unplanned", 0),
    }

"""A study folder's results as a tidy pandas DataFrame (one row per measured number), and its metadata.

A run's `group` is the curve it lies on: its family's group ("rnn-1"), then every config field that
varies in the study and is not a size (`hidden`, `layers`), as "rnn-1 · lr=0.001 · window=7".

Several study folders read together are told apart by a `study` label: each study's name, or each
folder's name where two of the studies share a name. The label is then a varying field of every run
(its group ends in "· study=LABEL", so each study keeps its own curves), and prefixes its run id
("LABEL:run_id"), since the same config trained in two studies has the same id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from itermap.models import FamilyConfig, parse_config
from itermap.study.errors import StudyError
from itermap.study.lock import held
from itermap.study.store import FILENAME, Store

RUN_COLUMNS = ["run_id", "study", "dataset", "family", "arch", "params", "macs", "budget", "seed", "status",
               "diverged_epoch", "planned"]  # fmt: skip
METRIC_COLUMNS = ["epoch", "split", "metric", "value", "step"]  # step: 1..T for anytime rows, empty for the model's
SEPARATOR = " · "  # between a group's family part and each varying field


def open_store(folder: str | Path) -> Store:
    """The folder's results store, read-only (use it as a `with` block); a clear error when there is none."""
    if not (Path(folder) / FILENAME).is_file():
        raise StudyError(f"{folder}: no {FILENAME} here; is it a study folder (runs/<name>)?")
    return Store(Path(folder), readonly=True)


def config_fields(config: dict) -> tuple[FamilyConfig, dict]:
    """A run's family config, and every field of its config as a column: model (less family and image), train, subset."""
    model = {k: v for k, v in config["model"].items() if k not in ("family", "image", "classes")}
    limits = {"limit_train": config.get("limit_train"), "limit_test": config.get("limit_test")}
    return parse_config(config["model"]), {**model, **config["train"], **limits}


def column(values: list) -> pd.Series:
    """A config field's column: whole numbers as Int64, one kind as it is, mixed kinds (an MLP's [64, 64] beside an RNN's 64) as JSON text."""
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {int}:
        return pd.Series(values, dtype="Int64")
    if len(kinds) == 1 and not kinds & {list, dict}:
        return pd.Series(values)
    return pd.Series([None if v is None else json.dumps(v) for v in values], dtype=object)


def stored_runs(store: Store, all_runs: bool = False) -> list[tuple[dict, FamilyConfig, dict]]:
    """Each run of the current plan (or every stored run): its stored columns, family config and config fields."""
    found = []
    for row in store.db.execute("SELECT * FROM runs ORDER BY rowid"):
        stored = {k: row[k] for k in RUN_COLUMNS if k in row.keys()}
        stored.setdefault("macs", row["flops"] if "flops" in row.keys() else None)  # a version-1 store read as it is
        stored.setdefault("planned", 1)
        if not (stored["planned"] or all_runs):
            continue
        cfg, config = config_fields(json.loads(row["config"]))
        found.append((stored, cfg, config))
    return found


def runs_frame(found: list[tuple[dict, FamilyConfig, dict]]) -> pd.DataFrame:
    """One row per run (`stored_runs` of one or several stores): identity, group, sizes, status, config fields."""
    records, configs, fields = [], [], {}
    for stored, cfg, config in found:
        fields.update(dict.fromkeys(config))
        configs.append((cfg, config))
        records.append({**stored, "group": cfg.group, "width": cfg.width, "depth": cfg.depth, **config})
    # A group is the family's group plus every field that varies within a study and is not a size of the family,
    # and, among several studies, the study (which says the fields that differ only between studies).
    studies: dict[str | None, list[dict]] = {}
    for _, config in configs:
        studies.setdefault(config.get("study"), []).append(config)
    varies = lambda f, cs: len({json.dumps(c[f]) for c in cs if c.get(f) is not None}) > 1  # noqa: E731
    splits = [f for f in fields if f == "study" or any(varies(f, cs) for cs in studies.values())]
    for r, (cfg, config) in zip(records, configs):
        varied = [f"{f}={config[f]}" for f in splits if f not in cfg.size_fields and config.get(f) is not None]
        r["group"] = SEPARATOR.join([r["group"], *varied])
    frame = pd.DataFrame.from_records(records, columns=[*RUN_COLUMNS, "group", "width", "depth"])
    for f in fields:
        frame[f] = column([r.get(f) for r in records])
    for col in ("budget", "diverged_epoch"):
        frame[col] = frame[col].astype("Int64")
    return frame


def folder_list(folders: str | Path | Sequence[str | Path]) -> list[Path]:
    """One study folder or several, as a list of paths."""
    return [Path(folders)] if isinstance(folders, (str, Path)) else [Path(f) for f in folders]


def study_labels(folders: list[Path], names: list[str]) -> list[str]:
    """What tells several studies apart: their names, or their folders' names where two studies share a name."""
    for labels in (names, [f.resolve().name for f in folders]):
        if len(set(labels)) == len(labels):
            return labels
    first, second = [f for f, label in zip(folders, labels) if labels.count(label) > 1][:2]
    raise StudyError(
        f"{first} and {second}: studies of one name in folders of one name would mix their runs; "
        "give each folder a name of its own (rename or copy one) to compare them"
    )


def labelled(runs: list[tuple[dict, FamilyConfig, dict]], label: str) -> list[tuple[dict, FamilyConfig, dict]]:
    """A study's runs among several: `study` is its label, a config field, and prefixes each run id."""
    return [(s | {"study": label, "run_id": f"{label}:{s['run_id']}"}, cfg, c | {"study": label}) for s, cfg, c in runs]


def load_results(
    folders: str | Path | Sequence[str | Path], unmeasured: bool = False, all_runs: bool = False
) -> pd.DataFrame:
    """Tidy results of a study folder, or of several side by side: run_id, study, dataset, family, arch, group, params, macs, seed, epoch, split, metric, value, status, diverged_epoch, then config fields.

    `unmeasured=True` adds one metric-less row for each run with no metric rows yet, so a partial study's
    missing runs are still listed. `all_runs=True` includes runs that the study's current spec no longer plans.
    Several folders: each run's `study` is its study's label (module docstring), in its group and its run id.
    """
    folders = folder_list(folders)
    found, measured, names = [], [], []
    for folder in folders:
        with open_store(folder) as store:
            names.append(store.meta().get("study", folder.name))
            found.append(stored_runs(store, all_runs))
            metrics = pd.read_sql_query("SELECT * FROM metrics ORDER BY rowid", store.db)
            metrics["step"] = metrics.get("step", pd.Series(dtype="Int64")).astype("Int64")  # version 1 has none
            measured.append(metrics)
    if len(folders) > 1:
        labels = study_labels(folders, names)
        found = [labelled(runs, label) for runs, label in zip(found, labels)]
        measured = [m.assign(run_id=label + ":" + m["run_id"]) for m, label in zip(measured, labels)]
    runs = runs_frame([r for runs in found for r in runs])
    metrics = pd.concat(measured, ignore_index=True)
    frame = metrics.merge(runs, on="run_id", how="right" if unmeasured else "inner", validate="many_to_one")
    first = ["run_id", "study", "dataset", "family", "arch", "group", "params", "macs", "seed", *METRIC_COLUMNS,
             "status", "diverged_epoch"]  # fmt: skip
    rest = [c for c in runs.columns if c not in first]
    return frame[first + rest].sort_values(
        ["dataset", "group", "params", "seed", "epoch", "split", "metric"], ignore_index=True
    )


def study_info(folder: str | Path) -> dict:
    """A study's spec text, name, versions, device, wall time, last update, counts of runs by status, and the
    environment of each session that trained it.

    The store's `running` is counted as `interrupted` when no process holds the folder's lock (the run was killed).
    """
    with open_store(folder) as store:
        meta, counts, sessions = store.meta(), store.counts(), store.sessions()
    if not held(folder):  # a run the store calls running, whose process is gone (killed), is interrupted
        counts["interrupted"] = counts.pop("running", 0)
    total = sum(n for s, n in counts.items() if s != "unplanned")
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
        "counts": {s: counts.get(s, 0) for s in ("done", "diverged", "running", "interrupted", "pending")},
        "unplanned": counts.get("unplanned", 0),
        "environment": sessions,  # each training session's command, executor, device and versions, oldest first
    }

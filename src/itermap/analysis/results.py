"""A study folder's results as a tidy pandas DataFrame (one row per measured number), and its metadata.

A run's group is the curve it lies on, a `Group`: its family's group ("rnn-1"), then every config field that
varies in the study and is not a size (`hidden`, `layers`). It is built here, once, by `group_values`; the tidy
frame's `group` column holds its display name, "rnn-1 · lr=0.001 · window=7", and `groups` gives back the values
behind the names of a frame, so nothing downstream reads a name apart.

Several study folders read together are told apart by a `study` label: each study's name, or each
folder's name where two of the studies share a name. The label is then a varying field of every run
(its group ends in "· study=LABEL", so each study keeps its own curves), and prefixes its run id
("LABEL:run_id"), since the same config trained in two studies has the same id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd

from itermap.analysis.exported import is_export, json_columns, plain, read_export
from itermap.models import FAMILIES, FamilyConfig, parse_config
from itermap.study.errors import StudyError
from itermap.study.lock import held
from itermap.study.store import FILENAME, Store

RUN_COLUMNS = [
    "run_id",
    "study",
    "dataset",
    "family",
    "arch",
    "params",
    "macs",
    "budget",
    "seed",
    "status",
    "diverged_epoch",
    "planned",
]
METRIC_COLUMNS = ["epoch", "split", "metric", "value", "step"]  # step: 1..T for anytime rows, empty for the model's
SEPARATOR = " · "  # between a group's family part and each varying field
CROSSED = ["init_seed", "order_seed"]  # a crossed design's two seeds (its `seed` numbers their pairs: `crossed_seeds`)


def open_store(folder: str | Path) -> Store:
    """The folder's results store, read-only (use it as a `with` block); a clear error when there is none."""
    if Path(folder).is_file():
        raise StudyError(f"{folder}: not a study folder nor a .parquet or .csv file (`itermap export` writes those)")
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
        doc = json.loads(row["config"])
        stored |= {"order_seed": doc["order_seed"]} if doc.get("order_seed") is not None else {}
        cfg, config = config_fields(doc)
        found.append((stored, cfg, config))
    return found


@dataclass(frozen=True)
class Group:
    """The curve a run lies on: its family's group and the fields that vary in its study, as the name shows them."""

    family: str  # the family's group: "rnn-1"
    fields: tuple[tuple[str, str], ...] = ()  # each varying field and its value: (("lr", "0.001"), ("window", "7"))

    @property
    def settings(self) -> dict[str, str]:
        return dict(self.fields)

    def __str__(self) -> str:
        return SEPARATOR.join([self.family, *(f"{k}={v}" for k, v in self.fields)])


def group_values(found: list[tuple[dict, FamilyConfig, dict]]) -> list[Group]:
    """Each run's group (`stored_runs` of one or several stores): its family's group, then every field that varies
    within its study and is not a size of its family, and, among several studies, the study (which says the fields
    that differ only between studies)."""
    studies: dict[str | None, list[dict]] = {}
    for stored, _, config in found:
        studies.setdefault(stored.get("study"), []).append(config)
    fields = list(dict.fromkeys(f for _, _, config in found for f in config if f != "study"))
    varies = lambda f, cs: len({json.dumps(c[f]) for c in cs if c.get(f) is not None}) > 1  # noqa: E731
    splits = [f for f in fields if any(varies(f, cs) for cs in studies.values())]
    out = []
    for stored, cfg, config in found:
        varied = [(f, str(config[f])) for f in splits if f not in cfg.size_fields and config.get(f) is not None]
        out.append(Group(cfg.group, (*varied, *([("study", str(stored["study"]))] if len(studies) > 1 else []))))
    return out


def runs_frame(found: list[tuple[dict, FamilyConfig, dict]]) -> pd.DataFrame:
    """One row per run (`stored_runs` of one or several stores): identity, group, sizes, status, config fields."""
    records, fields = [], {}
    for (stored, cfg, config), group in zip(found, group_values(found)):
        fields.update(dict.fromkeys(config))
        records.append({**stored, "group": str(group), "width": cfg.width, "depth": cfg.depth, **config})
    frame = pd.DataFrame.from_records(records, columns=[*RUN_COLUMNS, "group", "width", "depth"])
    for f in fields:
        frame[f] = column([r.get(f) for r in records])
    for col in ("budget", "diverged_epoch"):
        frame[col] = frame[col].astype("Int64")
    orders = [stored.get("order_seed") for stored, _, _ in found]
    return crossed_seeds(frame, orders) if any(o is not None for o in orders) else frame


def crossed_seeds(frame: pd.DataFrame, orders: list[int | None]) -> pd.DataFrame:
    """Runs of crossed seeds (`seeds = { init = N, order = M }`) with `init_seed` and `order_seed`, and `seed` the
    number of their (init, order) pair, counted from 0 in that order (init x M + order for seeds 0..N-1 x 0..M-1):
    the same in every configuration, so what pairs runs by seed pairs those that share both seeds."""
    frame["init_seed"], frame["order_seed"] = frame["seed"].astype("Int64"), pd.Series(orders, dtype="Int64")
    crossed = frame["order_seed"].notna()
    pairs = list(zip(frame.loc[crossed, "init_seed"], frame.loc[crossed, "order_seed"]))
    number = {pair: i for i, pair in enumerate(sorted(set(pairs)))}
    frame.loc[crossed, "seed"] = [number[pair] for pair in pairs]
    return frame


Source: TypeAlias = str | Path | pd.DataFrame  # a study folder, a study file (`itermap export`), or its rows in memory


def source_list(sources: Source | Sequence[Source]) -> list[Path | pd.DataFrame]:
    """One study (folder, file or DataFrame) or several, as a list."""
    if isinstance(sources, (str, Path, pd.DataFrame)):
        sources = [sources]
    return [s if isinstance(s, pd.DataFrame) else Path(s) for s in sources]


def file_runs(frame: pd.DataFrame, all_runs: bool = False) -> list[tuple[dict, FamilyConfig, dict]]:
    """Each run of an exported table (`stored_runs` of the store it came from): its run columns, family config and
    config fields, with every cell the Python value the store held (JSON text decoded, gaps None)."""
    derived = {*RUN_COLUMNS, *METRIC_COLUMNS, *CROSSED, "group", "width", "depth"}
    fields = [c for c in frame.columns if c not in derived]
    runs = frame.drop_duplicates("run_id")  # a run's config repeats on each of its rows: read it once
    encoded = json_columns(runs, fields)
    found = []
    for row in runs.to_dict("records"):
        cells: dict[str, Any] = {k: plain(v) for k, v in row.items()}
        cells |= {c: json.loads(cells[c]) for c in encoded if cells[c] is not None}
        stored = {k: cells[k] for k in RUN_COLUMNS if k in cells} | {"planned": cells.get("planned", 1)}
        if cells.get("order_seed") is not None:  # crossed seeds: the stored seed is the init seed
            stored |= {"seed": cells["init_seed"], "order_seed": cells["order_seed"]}
        if not (stored["planned"] or all_runs):
            continue
        own = FAMILIES[stored["family"]].Config.model_fields if stored["family"] in FAMILIES else {}
        # A family field named like a derived column (the unrolled net's `depth`) is read from that column.
        config = {f: cells[f] for f in fields} | {f: cells[f] for f in ("width", "depth") if f in own}
        model = {f: v for f, v in config.items() if f in own and v is not None}
        found.append((stored, parse_config({"family": stored["family"], **model}), config))
    return found


def groups(frame: pd.DataFrame) -> dict[str, Group]:
    """The group behind each name in a tidy frame's `group` column (`load_results` of a whole study or several)."""
    runs = frame.drop_duplicates("run_id")
    found = dict(zip(runs["group"], group_values(file_runs(runs, all_runs=True))))
    wrong = [name for name, group in found.items() if name != str(group)]
    if wrong:
        raise StudyError(
            f"group {wrong[0]!r} is not the name its runs' fields give ({found[wrong[0]]}); analyze a study's whole "
            "results (load_results), not a part of them"
        )
    return found


def study_name(frame: pd.DataFrame, otherwise: str) -> str:
    """An exported table's study name: its `study` column, else `otherwise` (the file's name)."""
    names = frame["study"].dropna() if "study" in frame else pd.Series(dtype=object)
    return str(names.iloc[0]) if len(names) else otherwise


def read_source(source: Path | pd.DataFrame, all_runs: bool) -> tuple[str, list, pd.DataFrame]:
    """A study's name, runs (`stored_runs`) and metric rows, from its folder's store, its exported file or its rows."""
    if isinstance(source, Path) and not is_export(source):
        with open_store(source) as store:
            metrics = pd.read_sql_query("SELECT * FROM metrics ORDER BY rowid", store.db)
            metrics["step"] = metrics.get("step", pd.Series(dtype="Int64")).astype("Int64")  # version 1 has none
            return store.meta().get("study", source.name), stored_runs(store, all_runs), metrics
    frame = source if isinstance(source, pd.DataFrame) else read_export(source)[0]
    name = study_name(frame, source.stem if isinstance(source, Path) else "results")
    rows = frame[frame["metric"].notna()]
    metrics = pd.DataFrame(
        {
            "run_id": rows["run_id"].astype(str),
            "epoch": rows["epoch"].astype("int64"),
            "split": rows["split"].astype(str),
            "metric": rows["metric"].astype(str),
            "value": rows["value"].astype("float64"),
            "step": (rows["step"] if "step" in rows else pd.Series(pd.NA, index=rows.index)).astype("Int64"),
        }
    ).reset_index(drop=True)
    return str(name), file_runs(frame, all_runs), metrics


def study_labels(sources: list[Path | pd.DataFrame], names: list[str]) -> list[str]:
    """What tells several studies apart: their names, or the names of their folders or files (less the suffix; a
    DataFrame is `results-i`) where two studies share a name."""
    own = [
        f"results-{i}" if isinstance(s, pd.DataFrame) else s.resolve().stem if is_export(s) else s.resolve().name
        for i, s in enumerate(sources)
    ]
    for labels in (names, own):
        if len(set(labels)) == len(labels):
            return labels
    first, second = [s for s, label in zip(sources, labels) if labels.count(label) > 1][:2]
    first, second = ("a DataFrame" if isinstance(s, pd.DataFrame) else s for s in (first, second))
    raise StudyError(
        f"{first} and {second}: studies of one name in folders (or files) of one name would mix their runs; "
        "give each folder a name of its own (rename or copy one) to compare them"
    )


def labelled(runs: list[tuple[dict, FamilyConfig, dict]], label: str) -> list[tuple[dict, FamilyConfig, dict]]:
    """A study's runs among several: `study` is its label, a config field, and prefixes each run id."""
    return [(s | {"study": label, "run_id": f"{label}:{s['run_id']}"}, cfg, c | {"study": label}) for s, cfg, c in runs]


def load_results(sources: Source | Sequence[Source], unmeasured: bool = False, all_runs: bool = False) -> pd.DataFrame:
    """Tidy results of a study, or of several side by side: run_id, study, dataset, family, arch, group, params, macs, seed, epoch, split, metric, value, status, diverged_epoch, then config fields.

    A study is its folder, its file written by `itermap export` (Parquet or CSV), or that file's rows as a DataFrame;
    each gives the same table. `unmeasured=True` adds one metric-less row for each run with no metric rows yet, so a
    partial study's missing runs are still listed. `all_runs=True` includes runs that the study's current spec no
    longer plans. Several studies: each run's `study` is its study's label (module docstring), in its group and its
    run id.
    """
    sources = source_list(sources)
    names, found_each, measured_each = zip(*(read_source(s, all_runs) for s in sources))
    found, measured = list(found_each), list(measured_each)
    if len(sources) > 1:
        labels = study_labels(sources, list(names))
        found = [labelled(runs, label) for runs, label in zip(found, labels)]
        measured = [m.assign(run_id=label + ":" + m["run_id"]) for m, label in zip(measured, labels)]
    runs = runs_frame([r for runs in found for r in runs])
    metrics = pd.concat(measured, ignore_index=True)
    frame = metrics.merge(runs, on="run_id", how="right" if unmeasured else "inner", validate="many_to_one")
    first = [
        "run_id",
        "study",
        "dataset",
        "family",
        "arch",
        "group",
        "params",
        "macs",
        "seed",
        *METRIC_COLUMNS,
        "status",
        "diverged_epoch",
    ]
    rest = [c for c in runs.columns if c not in first]
    return frame[first + rest].sort_values(
        ["dataset", "group", "params", "seed", "epoch", "split", "metric"], ignore_index=True
    )


def study_info(source: str | Path) -> dict:
    """A study's spec text, name, versions, device, wall time, last update, counts of runs by status, and the
    environment of each session that trained it; from its folder, or from its exported file (what the file's
    metadata holds, the counts from its rows).

    The store's `running` is counted as `interrupted` when no process holds the folder's lock (the run was killed);
    in a file, always.
    """
    if is_export(source):
        frame, found = read_export(source)
        meta, sessions, lock_held = found["meta"], found["environment"], False
        meta.setdefault("study", study_name(frame, Path(source).stem))
        runs = frame.drop_duplicates("run_id")
        planned = runs["planned"].fillna(1).astype(bool) if "planned" in runs else pd.Series(True, index=runs.index)
        counts = {str(k): int(n) for k, n in runs.loc[planned, "status"].value_counts().items()}
        counts["unplanned"] = int((~planned).sum())
    else:
        with open_store(source) as store:
            meta, counts, sessions = store.meta(), store.counts(), store.sessions()
        lock_held = held(source)
    if not lock_held:  # a run the store calls running, whose process is gone (killed), is interrupted
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

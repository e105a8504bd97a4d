"""Joining shard folders (`itermap run --shard i/N`) into one study folder (`itermap merge OUT SHARDS...`).

Shards of one plan hold disjoint runs, so the merged store is the union of their runs, metric rows and
sessions; kept weights, the checkpoints of unfinished packs and a kept teacher are copied beside it. The merged folder is
a study of the whole plan: missing shards' runs are simply not there yet, and `itermap run SPEC --out OUT`
trains them (and finishes any pack a shard left unfinished). The store is written last, under a
temporary name, so an interrupted merge leaves no study in OUT and can be run again.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from itermap.study.errors import StudyError
from itermap.study.files import replacing
from itermap.study.lock import FolderLock, held
from itermap.study.shards import WHOLE, parse_shard
from itermap.study.store import FILENAME, VERSION, Store, put_meta

TABLES = ("runs", "metrics", "sessions")  # a shard's rows; its meta is merged below
FILES = ("weights", "checkpoints", "teacher")  # a shard's files, named by run or pack id: disjoint between shards,
# but for a kept teacher's copy (study/teacher.py), the same file in every shard


def shard_meta(folder: Path) -> dict[str, str]:
    """A shard folder's meta, refusing what is no shard of this itermap, or one still training."""
    if not (folder / FILENAME).is_file():
        raise StudyError(f"{folder}: no {FILENAME}; give the folders that `itermap run --shard i/N --out DIR` wrote")
    if held(folder):
        raise StudyError(f"{folder}: a run still trains it (its lock is held); merge once every shard has finished")
    with Store(folder, readonly=True) as store:
        meta, version = store.meta(), store.version()
    if version != VERSION or "plan_id" not in meta:
        raise StudyError(
            f"{folder}: a store of an older itermap (version {version}); run its `itermap run ... "
            "--shard i/N` command again with this one to upgrade it, then merge"
        )
    return meta


def check_shards(folders: list[Path]) -> list[dict[str, str]]:
    """Each folder's meta; refuse shards of different plans, of different splits, or one shard given twice."""
    metas = [shard_meta(f) for f in folders]
    first = metas[0]
    seen: dict[int, Path] = {}
    for folder, meta in zip(folders, metas):
        if meta["plan_id"] != first["plan_id"]:
            raise StudyError(
                f"{folder} holds a shard of another plan ({meta['study']!r}, plan {meta['plan_id']}) "
                f"than {folders[0]} ({first['study']!r}, plan {first['plan_id']}): merge only shards "
                "of one spec run with the same overrides"
            )
        index, count = parse_shard(meta.get("shard", WHOLE))
        if count != parse_shard(first.get("shard", WHOLE))[1]:
            raise StudyError(
                f"{folder} is shard {index}/{count} but {folders[0]} is shard {first['shard']}: their "
                "runs overlap; merge the shards of one split (the same N)"
            )
        if index in seen:
            raise StudyError(f"shard {index}/{count} given twice ({seen[index]} and {folder}); give each shard once")
        seen[index] = folder
    return metas


def merged_meta(metas: list[dict[str, str]]) -> dict[str, object]:
    """The merged study's meta: the first shard's, covering the whole plan, with times and counts summed."""
    stamps = [float(m["updated"]) for m in metas if "updated" in m]
    return {
        **metas[0],
        "shard": WHOLE,
        "runs": sum(int(m["runs"]) for m in metas),
        "created": min(float(m["created"]) for m in metas),
        "wall_seconds": sum(float(m.get("wall_seconds", 0)) for m in metas),
        **({"updated": max(stamps)} if stamps else {}),
    }


def copy_rows(source: Store, target: sqlite3.Connection, folder: Path) -> None:
    """Insert every row of `source`'s tables into `target`, by column name; a run found twice is an error."""
    for table in TABLES:
        columns = ", ".join(r[1] for r in target.execute(f"PRAGMA table_info({table})"))
        rows = source.db.execute(f"SELECT {columns} FROM {table}")
        try:
            target.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(rows.description))})", rows
            )
        except sqlite3.IntegrityError:
            raise StudyError(f"{folder}: holds runs another shard also holds; give shards of one split only") from None


def merge_shards(out: Path, folders: list[Path]) -> list[int]:
    """Join shard `folders` into study folder `out`; returns the shard numbers missing (their runs still to train)."""
    if not folders:
        raise StudyError("give at least one shard folder to merge")
    metas = check_shards(folders)
    if (out / FILENAME).exists():
        raise StudyError(f"{out} already holds a study; merge into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    with FolderLock(out):
        for folder in folders:
            for name in FILES:
                if (folder / name).is_dir():
                    shutil.copytree(folder / name, out / name, dirs_exist_ok=True)
        shutil.copyfile(folders[0] / "study.toml", out / "study.toml")
        with replacing(out / FILENAME) as tmp:
            with Store(folders[0], readonly=True) as first:
                target = sqlite3.connect(tmp, isolation_level=None)
                first.db.backup(target)  # schema, application id and first shard's rows
            try:
                target.execute("BEGIN")
                for folder in folders[1:]:
                    with Store(folder, readonly=True) as store:
                        copy_rows(store, target, folder)
                put_meta(target, merged_meta(metas))
                target.execute("COMMIT")
            finally:
                target.close()
    shards = [parse_shard(m["shard"]) for m in metas]
    return sorted(set(range(1, shards[0][1] + 1)) - {i for i, _ in shards})

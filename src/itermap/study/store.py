"""The results store: one SQLite file per study folder (WAL), schema in docs/store.md.

Every write is one transaction, so a process killed at any moment leaves the file at
the last committed epoch; `sqlite3` rolls back anything half-written on the next open.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from itermap.models import parse_config
from itermap.study.errors import StudyError
from itermap.study.plan import Plan, Run
from itermap.train import TrainConfig

FILENAME = "results.sqlite"
APPLICATION_ID = 0x69746D70  # "itmp" in the file's header (PRAGMA application_id): the proof itermap wrote it
VERSION = 3  # meta `store_version`: 1 (itermap 0.1.0) had a `flops` column and ids that hashed defaults; 2 no sessions

METRICS = """CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    epoch INTEGER NOT NULL,
    split TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    step INTEGER  -- the prediction of step 1..T (anytime metrics), NULL for the model's prediction
)"""

SESSIONS = """CREATE TABLE IF NOT EXISTS sessions (
    started REAL NOT NULL,
    command TEXT NOT NULL,  -- the command line of the process that trained
    executor TEXT NOT NULL,  -- local, or ray and its cluster's address
    workers INTEGER NOT NULL,  -- packs trained at once (local), or the cluster CPUs (ray)
    shard TEXT NOT NULL,  -- i/N: the part of the plan this session trained
    device TEXT NOT NULL,
    device_name TEXT NOT NULL,
    threads INTEGER NOT NULL,  -- PyTorch intra-op threads of each training
    git_commit TEXT,  -- of the working directory, when it is a git checkout
    python TEXT NOT NULL,
    itermap TEXT NOT NULL,
    torch TEXT NOT NULL,
    numpy TEXT NOT NULL,
    scipy TEXT NOT NULL,
    pandas TEXT NOT NULL,
    cuda TEXT,  -- CUDA and cuDNN versions, when training on a GPU
    cudnn TEXT
)"""
SESSION_COLUMNS = tuple(re.findall(r"^    (\w+) ", SESSIONS, re.MULTILINE))  # in the schema's order

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    pack_id TEXT NOT NULL,
    study TEXT NOT NULL,
    dataset TEXT NOT NULL,
    family TEXT NOT NULL,
    arch TEXT NOT NULL,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    params INTEGER NOT NULL,
    macs INTEGER NOT NULL,
    budget INTEGER,
    planned INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'diverged')),
    diverged_epoch INTEGER,
    epochs_done INTEGER NOT NULL DEFAULT 0,
    device TEXT,
    threads INTEGER,
    started REAL,
    finished REAL,
    seconds REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_pack ON runs (pack_id);
{METRICS};
CREATE UNIQUE INDEX IF NOT EXISTS metrics_key ON metrics (run_id, epoch, split, metric, IFNULL(step, 0));
{SESSIONS};
"""


def put_meta(db: sqlite3.Connection, values: dict[str, object]) -> None:
    """Insert or replace meta keys (stored as text), inside the caller's transaction."""
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in values.items()])


def connect(path: Path, readonly: bool) -> sqlite3.Connection:
    """A connection to the store at `path`; for reading, also on read-only storage.

    Reading a WAL database needs its `-shm` file; where that cannot be created (read-only storage) and there is
    no `-wal` file, every committed row is in the main file, and opening it as immutable reads them all.
    """
    if not readonly:
        return sqlite3.connect(path, isolation_level=None, timeout=30)
    uri = f"file:{quote(str(path.absolute()))}"
    try:
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        wal = path.with_name(path.name + "-wal")
        if not path.is_file() or (wal.exists() and wal.stat().st_size):
            raise
        return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)


def failure(path: Path, error: sqlite3.DatabaseError) -> StudyError:
    """SQLite's error as one line naming the file and what to do."""
    name, text = getattr(error, "sqlite_errorname", ""), str(error)
    if name == "SQLITE_FULL" or "disk is full" in text:
        return StudyError(
            f"{path}: the disk is full ({text}); free some space and run the same command again: "
            "every committed epoch is kept"
        )
    if name.startswith("SQLITE_READONLY") or "readonly" in text:
        return StudyError(
            f"{path}: cannot write ({text}); the folder is on read-only storage or not yours: "
            "use --out for a writable folder"
        )
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return StudyError(f"{path}: cannot open ({text}); check that the folder exists and can be read")
    return StudyError(
        f"{path}: not a readable itermap results database ({text}); move it aside to keep it "
        "(`sqlite3 FILE .recover` may save its rows), then run the study again, or use --out "
        "for a new folder"
    )


def run_of(row: sqlite3.Row) -> Run:
    """The planned run a stored row describes (its config rebuilt with today's defaults)."""
    config = json.loads(row["config"])
    return Run(
        config["dataset"],
        parse_config(config["model"]),
        TrainConfig.model_validate(config["train"]),
        config["seed"],
        config.get("limit_train"),
        config.get("limit_test"),
        row["budget"],
        validation=config.get("validation"),
        validation_seed=config.get("validation_seed", 0),
    )


def upgrade_v1(db: sqlite3.Connection) -> dict[str, str]:
    """Version 1 -> 2 inside the caller's transaction; returns {old run id: new run id}.

    Version 1 called multiply-adds `flops`, had no `planned` column nor metric `step`, and hashed run ids with
    defaults included. Each run's id is recomputed from its stored config; its rows move with it.
    """
    db.execute("ALTER TABLE runs RENAME COLUMN flops TO macs")
    db.execute("ALTER TABLE runs ADD COLUMN planned INTEGER NOT NULL DEFAULT 1")
    db.execute("ALTER TABLE metrics RENAME TO metrics_v1")  # its UNIQUE constraint has no step: rebuilt
    db.execute(METRICS)
    db.execute("INSERT INTO metrics (run_id, epoch, split, metric, value) SELECT * FROM metrics_v1")
    db.execute("DROP TABLE metrics_v1")
    renamed = {row["run_id"]: run_of(row).run_id for row in db.execute("SELECT * FROM runs")}
    for table in ("runs", "metrics"):
        db.executemany(f"UPDATE {table} SET run_id = ? WHERE run_id = ?", [(n, o) for o, n in renamed.items()])
    return renamed


class Store:
    """A study's results.sqlite: runs, their metric rows, and study metadata.

    Use it as a `with` block: SQLite's errors inside (disk full, read-only storage, a damaged file) leave it as
    one-line `StudyError`s naming the file. A writer checks before each transaction that its file is still the
    folder's store, so a store deleted or replaced under a running study stops it instead of writing nowhere.
    """

    def __init__(self, folder: Path, readonly: bool = False):
        self.path = Path(folder) / FILENAME
        try:
            self.db = connect(self.path, readonly)
            self.db.row_factory = sqlite3.Row
            self.inode = os.stat(self.path).st_ino
            owner = self.owner()
            if owner == "other":
                raise StudyError(
                    f"{self.path}: a SQLite database that itermap did not write; itermap leaves it and "
                    "the files beside it alone: move it aside, or use --out for another folder"
                )
            if readonly and owner == "none":
                raise StudyError(
                    f"{self.path}: holds no study yet (its creation was interrupted); `itermap run` creates it"
                )
            if not readonly:  # only once the file is known to be itermap's (or empty)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
            self.renamed = {} if readonly else self.upgrade()
        except sqlite3.DatabaseError as e:
            raise failure(self.path, e) from None

    def owner(self) -> str:
        """'itermap' for a store itermap wrote (marked, or a store of itermap 0.1.0), 'none' for an empty database, else 'other'."""
        if self.db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID:
            return "itermap"
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return "none"
        legacy = {"meta", "runs", "metrics"} <= tables and self.db.execute(
            "SELECT 1 FROM meta WHERE key = 'study'"
        ).fetchone()
        return "itermap" if legacy else "other"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, tb: object) -> None:
        self.close()
        if isinstance(error, sqlite3.DatabaseError):
            raise failure(self.path, error) from None

    def check_file(self) -> None:
        """Fail when this writer's file is no longer the folder's store (deleted or replaced since it was opened)."""
        try:
            same = os.stat(self.path).st_ino == self.inode
        except FileNotFoundError:
            same = False
        if not same:
            raise StudyError(
                f"{self.path} was deleted or replaced while this run wrote it, so what it recorded since "
                "is lost; run the same command again to train the study from what the folder holds"
            )

    def columns(self, table: str) -> set[str]:
        """Column names of `table` (empty when it does not exist)."""
        return {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}

    def version(self) -> int:
        """The store's version (this one's for a store not created yet)."""
        if "flops" in self.columns("runs"):  # itermap 0.1.0 wrote no store_version
            return 1
        return int(self.meta().get("store_version", VERSION))

    def upgrade(self) -> dict[str, str]:
        """Bring an older store to this version in one transaction; returns {old run id: new run id} (version 1).

        Version 2 adds the `sessions` table (empty: the environment of earlier sessions was not recorded).
        """
        version = self.version()
        if version >= VERSION:
            return {}
        with self.transaction() as db:
            renamed = upgrade_v1(db) if version == 1 else {}
            db.execute(SESSIONS)
            put_meta(db, {"store_version": VERSION})
        return renamed

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All statements inside commit together or not at all (into the file this store opened)."""
        self.check_file()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            if self.db.in_transaction:  # SQLite has already rolled back after some errors (a full disk)
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def meta(self) -> dict[str, str]:
        """The meta table as a dict (empty before the study is created)."""
        if not self.columns("meta"):
            return {}
        return {r["key"]: r["value"] for r in self.db.execute("SELECT key, value FROM meta")}

    def held_out(self) -> dict[str, list[int]]:
        """Each data set's training images that the current plan holds out for validation (their indices in its
        train split, `data.validation_split`); empty without a split."""
        return json.loads(self.meta().get("held_out", "{}"))

    def set_meta(self, **values: object) -> None:
        """Insert or replace meta keys (stored as text)."""
        with self.transaction() as db:
            put_meta(db, values)

    def plan(self, plan: Plan, **meta: object) -> None:
        """Record `plan` as the study's current plan: its new runs as pending, every other run as outside it, and meta.

        Runs already stored keep their status and rows, so a changed spec trains only what it adds.
        """
        study = plan.spec.study.name
        rows = [
            (
                r.run_id,
                p.pack_id,
                study,
                r.dataset,
                r.cfg.family,
                r.cfg.arch,
                json.dumps(r.config, sort_keys=True),
                r.seed,
                r.param_count,
                r.macs,
                r.budget,
            )
            for p in plan.packs
            for r in p.runs
        ]
        with self.transaction() as db:
            for statement in SCHEMA.split(";"):  # creating a study is this one transaction, tables included
                db.execute(statement)
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")  # marks the file as itermap's store
            db.executemany(
                "INSERT OR IGNORE INTO runs (run_id, pack_id, study, dataset, family, arch, config, seed, params, macs,"
                " budget) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.execute("UPDATE runs SET planned = 0")
            db.executemany(
                "UPDATE runs SET planned = 1, budget = ? WHERE run_id = ?", [(r.budget, r.run_id) for r in plan.runs]
            )
            if "held_out" not in meta:  # a plan without a validation split holds nothing out
                db.execute("DELETE FROM meta WHERE key = 'held_out'")
            put_meta(db, {"store_version": VERSION, **meta})

    def start_pack(
        self, pack_id: str, run_ids: list[str], epoch: int, diverged: list[int | None], device: str, threads: int
    ) -> None:
        """Resume or start a pack at `epoch`: drop its rows after that epoch and set statuses to match."""
        now = time.time()
        with self.transaction() as db:
            if "threads" not in self.columns("runs"):  # a store written before runs recorded their thread count
                db.execute("ALTER TABLE runs ADD COLUMN threads INTEGER")
            db.executemany("DELETE FROM metrics WHERE run_id = ? AND epoch > ?", [(r, epoch) for r in run_ids])
            db.executemany(
                "UPDATE runs SET pack_id = ?, status = ?, diverged_epoch = ?, epochs_done = ?, device = ?,"
                " threads = ?, started = COALESCE(started, ?), finished = NULL WHERE run_id = ?",
                [
                    (pack_id, "running" if d is None else "diverged", d, epoch, device, threads, now, r)
                    for r, d in zip(run_ids, diverged)
                ],
            )

    def commit_epoch(
        self,
        run_ids: list[str],
        epoch: int,
        rows: Iterable[tuple[str, int, str, str, float, int | None]],
        diverged: list[int | None],
        seconds: float,
        finished: bool,
        **meta: object,
    ) -> None:
        """One epoch of a pack: its metric rows, divergence marks, time spent, (at the end) final statuses, and meta keys."""
        now = time.time()
        final = "done" if finished else "running"
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO metrics (run_id, epoch, split, metric, value, step) VALUES (?, ?, ?, ?, ?, ?)", rows
            )
            db.executemany(
                "UPDATE runs SET status = ?, diverged_epoch = ?, epochs_done = ?, seconds = seconds + ?,"
                " finished = ? WHERE run_id = ?",
                [
                    ("diverged" if d is not None else final, d, epoch, seconds, now if finished else None, r)
                    for r, d in zip(run_ids, diverged)
                ],
            )
            put_meta(db, {"updated": now, **meta})

    def add_session(self, environment: dict[str, object]) -> None:
        """Record the environment of a session that trains (a row of `sessions`: a value for every column)."""
        if set(environment) != set(SESSION_COLUMNS):
            raise ValueError(f"a session's environment gives {sorted(environment)}, not the columns {SESSION_COLUMNS}")
        columns, values = ", ".join(SESSION_COLUMNS), ", ".join(f":{c}" for c in SESSION_COLUMNS)
        with self.transaction() as db:
            db.execute(f"INSERT INTO sessions ({columns}) VALUES ({values})", environment)

    def sessions(self) -> list[dict[str, object]]:
        """The recorded sessions, oldest first (none in a store older than version 3)."""
        if not self.columns("sessions"):
            return []
        return [dict(r) for r in self.db.execute("SELECT * FROM sessions ORDER BY started")]

    def epochs_done(self) -> dict[str, int]:
        """Each run's epochs committed so far."""
        return dict(self.db.execute("SELECT run_id, epochs_done FROM runs").fetchall())

    def finished_runs(self) -> set[str]:
        """Runs that have finished (done or diverged), planned or not."""
        return {r["run_id"] for r in self.db.execute("SELECT run_id FROM runs WHERE finished IS NOT NULL")}

    def counts(self) -> dict[str, int]:
        """Number of runs of the current plan by status, and of runs outside it as `unplanned`."""
        planned = "planned" if "planned" in self.columns("runs") else "1"  # a version-1 store read as it is
        query = f"SELECT IIF({planned}, status, 'unplanned') AS s, COUNT(*) AS n FROM runs GROUP BY s"
        return {r["s"]: r["n"] for r in self.db.execute(query)}

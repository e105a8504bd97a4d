"""The results store: one SQLite file per study folder (WAL), schema in docs/store.md.

Every write is one transaction, so a process killed at any moment leaves the file at
the last committed epoch; `sqlite3` rolls back anything half-written on the next open.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from itermap.models import parse_config
from itermap.study.errors import StudyError
from itermap.study.plan import Plan, Run
from itermap.train import TrainConfig

FILENAME = "results.sqlite"
VERSION = 2  # meta `store_version`: 1 (itermap 0.1.0) had a `flops` column and ids that hashed defaults

METRICS = """CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    epoch INTEGER NOT NULL,
    split TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    step INTEGER  -- the prediction of step 1..T (anytime metrics); NULL: the model's prediction
)"""

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
    started REAL,
    finished REAL,
    seconds REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_pack ON runs (pack_id);
{METRICS};
CREATE UNIQUE INDEX IF NOT EXISTS metrics_key ON metrics (run_id, epoch, split, metric, IFNULL(step, 0));
"""


def put_meta(db: sqlite3.Connection, values: dict[str, object]) -> None:
    """Insert or replace meta keys (stored as text), inside the caller's transaction."""
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in values.items()])


def run_of(row: sqlite3.Row) -> Run:
    """The planned run a stored row describes (its config rebuilt with today's defaults)."""
    config = json.loads(row["config"])
    return Run(config["dataset"], parse_config(config["model"]), TrainConfig.model_validate(config["train"]),
               config["seed"], config.get("limit_train"), config.get("limit_test"), row["budget"])  # fmt: skip


class Store:
    """A study's results.sqlite: runs, their metric rows, and study metadata."""

    def __init__(self, folder: Path, readonly: bool = False):
        self.path = Path(folder) / FILENAME
        try:
            if readonly:
                self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
                self.db.execute("SELECT count(*) FROM meta")  # a file that is not a study's store fails here
            else:
                self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
            self.db.row_factory = sqlite3.Row
            self.renamed = self.upgrade() if not readonly and "flops" in self.columns("runs") else {}
            if not readonly:
                self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as e:
            raise StudyError(f"{self.path}: not a readable itermap results database ({e}); move it aside to keep it, "
                             "then run the study again, or use --out for a new folder") from None  # fmt: skip

    def columns(self, table: str) -> set[str]:
        """Column names of `table` (empty when it does not exist)."""
        return {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}

    def upgrade(self) -> dict[str, str]:
        """Bring a version-1 store to this version in one transaction; returns {old run id: new run id}.

        Version 1 called multiply-adds `flops`, had no `planned` column nor metric `step`, and hashed run ids with
        defaults included. Each run's id is recomputed from its stored config; its rows move with it.
        """
        with self.transaction() as db:
            db.execute("ALTER TABLE runs RENAME COLUMN flops TO macs")
            db.execute("ALTER TABLE runs ADD COLUMN planned INTEGER NOT NULL DEFAULT 1")
            db.execute("ALTER TABLE metrics RENAME TO metrics_v1")  # its UNIQUE constraint has no step: rebuilt
            db.execute(METRICS)
            db.execute("INSERT INTO metrics (run_id, epoch, split, metric, value) SELECT * FROM metrics_v1")
            db.execute("DROP TABLE metrics_v1")
            renamed = {row["run_id"]: run_of(row).run_id for row in db.execute("SELECT * FROM runs")}
            for table in ("runs", "metrics"):
                db.executemany(f"UPDATE {table} SET run_id = ? WHERE run_id = ?", [(n, o) for o, n in renamed.items()])
            put_meta(db, {"store_version": VERSION})
        return renamed

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All statements inside commit together or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def meta(self) -> dict[str, str]:
        """The meta table as a dict."""
        return {r["key"]: r["value"] for r in self.db.execute("SELECT key, value FROM meta")}

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
            (r.run_id, p.pack_id, study, r.dataset, r.cfg.family, r.cfg.arch, json.dumps(r.config, sort_keys=True),
             r.seed, r.params, r.macs, r.budget)
            for p in plan.packs for r in p.runs
        ]  # fmt: skip
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO runs (run_id, pack_id, study, dataset, family, arch, config, seed, params, macs,"
                " budget) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.execute("UPDATE runs SET planned = 0")
            db.executemany(
                "UPDATE runs SET planned = 1, budget = ? WHERE run_id = ?", [(r.budget, r.run_id) for r in plan.runs]
            )
            put_meta(db, {"store_version": VERSION, **meta})

    def start_pack(self, pack_id: str, run_ids: list[str], epoch: int, diverged: list[int | None], device: str) -> None:
        """Resume or start a pack at `epoch`: drop its rows after that epoch and set statuses to match."""
        now = time.time()
        with self.transaction() as db:
            db.executemany("DELETE FROM metrics WHERE run_id = ? AND epoch > ?", [(r, epoch) for r in run_ids])
            db.executemany(
                "UPDATE runs SET pack_id = ?, status = ?, diverged_epoch = ?, epochs_done = ?, device = ?,"
                " started = COALESCE(started, ?), finished = NULL WHERE run_id = ?",
                [(pack_id, "running" if d is None else "diverged", d, epoch, device, now, r)
                 for r, d in zip(run_ids, diverged)],
            )  # fmt: skip

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

    def finished_runs(self) -> set[str]:
        """Runs that have finished (done or diverged), planned or not."""
        return {r["run_id"] for r in self.db.execute("SELECT run_id FROM runs WHERE finished IS NOT NULL")}

    def counts(self) -> dict[str, int]:
        """Number of runs of the current plan by status, and of runs outside it as `unplanned`."""
        planned = "planned" if "planned" in self.columns("runs") else "1"  # a version-1 store read as it is
        query = f"SELECT IIF({planned}, status, 'unplanned') AS s, COUNT(*) AS n FROM runs GROUP BY s"
        return {r["s"]: r["n"] for r in self.db.execute(query)}

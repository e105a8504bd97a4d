"""The results store: one SQLite file per study folder (WAL), schema in docs/store.md.

Every write is one transaction, so a process killed at any moment leaves the file at
the last committed epoch; `sqlite3` rolls back anything half-written on the next open.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from itermap.study.errors import StudyError
from itermap.study.plan import Plan

FILENAME = "results.sqlite"

SCHEMA = """
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
    flops INTEGER NOT NULL,
    budget INTEGER,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'diverged')),
    diverged_epoch INTEGER,
    epochs_done INTEGER NOT NULL DEFAULT 0,
    device TEXT,
    started REAL,
    finished REAL,
    seconds REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_pack ON runs (pack_id);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    epoch INTEGER NOT NULL,
    split TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    UNIQUE (run_id, epoch, split, metric)
);
"""


def put_meta(db: sqlite3.Connection, values: dict[str, object]) -> None:
    """Insert or replace meta keys (stored as text), inside the caller's transaction."""
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in values.items()])


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
                self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as e:
            raise StudyError(f"{self.path}: not a readable itermap results database ({e}); move it aside to keep it, "
                             "then run the study again, or use --out for a new folder") from None  # fmt: skip
        self.db.row_factory = sqlite3.Row

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

    def create(self, plan: Plan, **meta: object) -> None:
        """Record a new study: every run as pending, and its metadata."""
        study = plan.spec.study.name
        rows = [
            (r.run_id, p.pack_id, study, r.dataset, r.cfg.family, r.cfg.arch, json.dumps(r.config, sort_keys=True),
             r.seed, r.params, r.flops, r.budget)
            for p in plan.packs for r in p.runs
        ]  # fmt: skip
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO runs (run_id, pack_id, study, dataset, family, arch, config, seed, params, flops, budget)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            put_meta(db, meta)

    def start_pack(self, run_ids: list[str], epoch: int, diverged: list[int | None], device: str) -> None:
        """Resume or start a pack at `epoch`: drop its rows after that epoch and set statuses to match."""
        now = time.time()
        with self.transaction() as db:
            db.executemany("DELETE FROM metrics WHERE run_id = ? AND epoch > ?", [(r, epoch) for r in run_ids])
            db.executemany(
                "UPDATE runs SET status = ?, diverged_epoch = ?, epochs_done = ?, device = ?,"
                " started = COALESCE(started, ?), finished = NULL WHERE run_id = ?",
                [("running" if d is None else "diverged", d, epoch, device, now, r) for r, d in zip(run_ids, diverged)],
            )

    def commit_epoch(
        self,
        run_ids: list[str],
        epoch: int,
        rows: Iterable[tuple[str, int, str, str, float]],
        diverged: list[int | None],
        seconds: float,
        finished: bool,
        **meta: object,
    ) -> None:
        """One epoch of a pack: its metric rows, divergence marks, time spent, (at the end) final statuses, and meta keys."""
        now = time.time()
        final = "done" if finished else "running"
        with self.transaction() as db:
            db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", rows)
            db.executemany(
                "UPDATE runs SET status = ?, diverged_epoch = ?, epochs_done = ?, seconds = seconds + ?,"
                " finished = ? WHERE run_id = ?",
                [
                    ("diverged" if d is not None else final, d, epoch, seconds, now if finished else None, r)
                    for r, d in zip(run_ids, diverged)
                ],
            )
            put_meta(db, {"updated": now, **meta})

    def finished_packs(self) -> set[str]:
        """Packs whose every run has finished (done or diverged)."""
        query = "SELECT pack_id FROM runs GROUP BY pack_id HAVING COUNT(*) = COUNT(finished)"
        return {r["pack_id"] for r in self.db.execute(query)}

    def counts(self) -> dict[str, int]:
        """Number of runs by status."""
        return {r["status"]: r["n"] for r in self.db.execute("SELECT status, COUNT(*) AS n FROM runs GROUP BY status")}

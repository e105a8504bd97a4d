"""Kill -9 at a random moment, run again: the rows equal an uninterrupted run's, none missing, none twice."""

from __future__ import annotations

import random
import sqlite3
from contextlib import closing

import pytest

LONG = dict(epochs=5, limit_train=1500, mlp_hidden="[[16], [16, 16]]")


# Wide packs: two widths of MLP-1 (8 and 16) on two data sets of one size, 8 members in one padded pack.
WIDE = dict(LONG, mlp_hidden="[[8], [16], [16, 16]]", datasets='["fashion-mnist-mini", "fashion-mnist"]')


@pytest.mark.parametrize(
    ("setting", "packing", "runs", "largest"), [(LONG, "auto", 8, 2), (WIDE, "wide", 20, 8)], ids=["ordinary", "wide"]
)
def test_kill_and_resume_equals_uninterrupted(
    tiny_spec, start_itermap, cli, metric_rows, count_rows, kill_when, tmp_path, setting, packing, runs, largest
):
    spec, how = tiny_spec(**setting), ("--device", "cpu", "--packing", packing)
    reference = cli("run", spec, "--out", tmp_path / "reference", *how)  # same process setup as below
    assert reference.returncode == 0, reference.stderr
    want = metric_rows(tmp_path / "reference")
    assert len(want) == runs * (5 * 2 + 3 * 2)
    with closing(sqlite3.connect(tmp_path / "reference" / "results.sqlite")) as db:
        members = db.execute("SELECT COUNT(*) FROM runs GROUP BY pack_id").fetchall()
    assert max(n for (n,) in members) == largest  # runs in the largest pack

    out = tmp_path / "killed"
    k = random.Random().randint(1, len(want) // 2)  # a random moment: after k committed rows
    proc = start_itermap("run", spec, "--out", out, *how)
    kill_when(proc, lambda: count_rows(out) >= k)
    partial = metric_rows(out)
    assert k <= len(partial) < len(want)
    assert set(partial) <= set(want), "rows committed before the kill are final"

    resumed = cli("run", spec, "--out", out, *how)
    assert resumed.returncode == 0, resumed.stderr
    got = metric_rows(out)
    assert got == want  # every value equal as floats, none missing, none duplicated (the table is unique too)
    assert not list((out / "checkpoints").glob("*"))


def test_damaged_checkpoint_is_named_and_deleting_it_recovers(
    tiny_spec, start_itermap, cli, metric_rows, count_rows, kill_when, tmp_path
):
    spec = tiny_spec(**LONG)
    out = tmp_path / "damaged"
    proc = start_itermap("run", spec, "--out", out, "--device", "cpu")
    kill_when(proc, lambda: bool(list((out / "checkpoints").glob("*.pt"))))
    checkpoints = list((out / "checkpoints").glob("*.pt"))
    assert checkpoints
    for path in checkpoints:
        path.write_bytes(path.read_bytes()[:100])  # truncated, as a full disk might leave it
    kept = metric_rows(out)

    refused = cli("run", spec, "--out", out, "--device", "cpu")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("error: ") and "unreadable pack checkpoint" in refused.stderr
    assert any(p.name in refused.stderr for p in checkpoints)
    assert set(kept) <= set(metric_rows(out)), "nothing committed is lost by the refusal"

    for path in checkpoints:
        path.unlink()
    resumed = cli("run", spec, "--out", out, "--device", "cpu")
    assert resumed.returncode == 0, resumed.stderr
    reference = cli("run", spec, "--out", tmp_path / "reference", "--device", "cpu")
    assert reference.returncode == 0, reference.stderr
    assert metric_rows(out) == metric_rows(tmp_path / "reference")


def test_checkpoint_ahead_of_the_store_is_discarded(
    tiny_spec, start_itermap, cli, metric_rows, count_rows, kill_when, tmp_path
):
    """A deleted store, or a lost `-wal` after SQLite checkpointed part of it: checkpoints are then ahead of the
    store, and using them would leave the epochs before them unrecorded. They are discarded and the packs retrain."""
    spec = tiny_spec(**LONG)
    reference = cli("run", spec, "--out", tmp_path / "reference", "--device", "cpu")
    assert reference.returncode == 0, reference.stderr
    want = metric_rows(tmp_path / "reference")

    def checkpointed(out, rows: int):
        return lambda: count_rows(out) >= rows and bool(list((out / "checkpoints").glob("*.pt")))

    deleted = tmp_path / "deleted"
    kill_when(start_itermap("run", spec, "--out", deleted, "--device", "cpu"), checkpointed(deleted, 8))
    for name in ("results.sqlite", "results.sqlite-wal", "results.sqlite-shm"):
        (deleted / name).unlink(missing_ok=True)

    lost = tmp_path / "lost-wal"
    kill_when(start_itermap("run", spec, "--out", lost, "--device", "cpu"), checkpointed(lost, 8))
    with closing(sqlite3.connect(lost / "results.sqlite")) as db:  # SQLite moves the WAL's pages into the main file
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    kept = count_rows(lost)
    kill_when(start_itermap("run", spec, "--out", lost, "--device", "cpu"), checkpointed(lost, kept + 16))
    for name in ("results.sqlite-wal", "results.sqlite-shm"):
        (lost / name).unlink()
    assert count_rows(lost) == kept

    for out in (deleted, lost):
        resumed = cli("run", spec, "--out", out, "--device", "cpu")
        assert resumed.returncode == 0, resumed.stderr
        assert metric_rows(out) == want  # no epoch left unrecorded, none twice
        assert "is ahead of the store" in resumed.stdout

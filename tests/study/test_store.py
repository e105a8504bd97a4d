"""The store under faults: a database itermap did not write is left alone, a store deleted under a running study
stops it, and a study killed while being created is a whole study or none."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from contextlib import closing


def one_line_error(proc, text: str) -> None:
    """`proc` failed with exit code 2 and one `error:` line holding `text`, no traceback."""
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert text in proc.stderr


def test_a_database_itermap_did_not_write_is_left_alone(tiny_spec, cli, tmp_path):
    folder = tmp_path / "theirs"
    (folder / "figures").mkdir(parents=True)
    (folder / "weights").mkdir()
    with closing(sqlite3.connect(folder / "results.sqlite")) as db:
        db.execute("CREATE TABLE measurements (x REAL)")
        db.execute("INSERT INTO measurements VALUES (1.5)")
        db.commit()
    for name in ("report.html", "summary.md", "figures/a.png", "weights/w.safetensors"):
        (folder / name).write_text(name)
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    for force in ([], ["--force-new"]):
        refused = cli("run", tiny_spec(), "--out", folder, "--device", "cpu", *force)
        one_line_error(refused, "a SQLite database that itermap did not write")
        assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.name != ".lock"} == before


def test_store_deleted_while_a_run_writes_stops_it(tiny_spec, start_itermap, count_rows, tmp_path):
    out = tmp_path / "study"
    proc = start_itermap("run", tiny_spec(epochs=5, limit_train=1500), "--out", out, "--device", "cpu")
    deadline = time.time() + 90
    while count_rows(out) < 4:
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read()
        time.sleep(0.01)
    for name in ("results.sqlite", "results.sqlite-wal", "results.sqlite-shm"):
        (out / name).unlink(missing_ok=True)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "results:" not in stdout
    assert stderr.startswith("error: ") and len(stderr.strip().splitlines()) == 1, stderr
    assert "was deleted or replaced while this run wrote it" in stderr


def test_killed_while_creating_the_study_leaves_no_half_study(tmp_path, cli, start_itermap, tiny_spec):
    spec, out = tiny_spec(), tmp_path / "study"
    spec.write_text(spec.read_text().replace("seeds = 2", "seeds = 20000"))  # 80,000 runs: creating takes a while
    proc = start_itermap("run", spec, "--out", out, "--device", "cpu")
    deadline = time.time() + 120
    while not (out / "results.sqlite").exists():
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read()
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    status = cli("status", out)
    if status.returncode == 0:  # the kill came after the creating transaction: the whole study is there
        assert "80000 runs" in status.stdout and "incomplete" in status.stdout
    else:
        one_line_error(status, "holds no study yet")
        one_line_error(cli("export", out), "holds no study yet")
    resumed = cli("run", spec, "--out", out, "--device", "cpu", "--seeds", "2", "--epochs", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert "8 runs" in cli("status", out).stdout


def test_a_corrupt_page_gives_one_line(tmp_path, cli):
    """One damaged page (the runs table's) in an otherwise intact store: every command, and load_results, say so."""
    import pytest

    import itermap
    from itermap.study.errors import StudyError
    from itermap.study.spec import parse

    doc = {
        "study": {"name": "hurt"},
        "data": {"datasets": ["fashion-mnist-mini"], "limit_train": 100, "limit_test": 50},
        "train": {"epochs": 1, "seeds": 2},
        "grid": [{"family": "mlp", "hidden": [[4]]}],
    }
    folder = itermap.run_study(parse(doc, "test"), out=tmp_path / "s", device="cpu", quiet=True)
    store = folder / "results.sqlite"
    with closing(sqlite3.connect(store)) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'runs'").fetchone()[0]
    data = bytearray(store.read_bytes())
    data[(root - 1) * page_size : root * page_size] = b"\x5a" * page_size
    store.write_bytes(bytes(data))
    (folder / "study.toml").rename(tmp_path / "hurt.toml")
    for command in (
        ["status", folder],
        ["export", folder],
        ["report", folder],
        ["run", tmp_path / "hurt.toml", "--out", folder, "--device", "cpu"],
    ):
        one_line_error(cli(*command), "not a readable itermap results database")
    with pytest.raises(StudyError, match="not a readable itermap results database"):
        itermap.load_results(folder)
    assert store.read_bytes() == bytes(data)

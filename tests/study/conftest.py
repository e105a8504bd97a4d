"""Helpers for study tests: tiny spec files and the `itermap` command in a real subprocess."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

TINY = """
[study]
name = "{name}"

[data]
datasets = {datasets}
limit_train = {limit_train}
limit_test = 200

[train]
epochs = {epochs}
batch_size = 50
lr = 3e-3
seeds = 2
eval_train_every = 2
keep_weights = {keep_weights}

[[grid]]
family = "mlp"
hidden = {mlp_hidden}

[[grid]]
family = "rnn"
hidden = 4
layers = [1, 2]
window = 7
"""


@pytest.fixture
def tiny_spec(tmp_path):
    """Write a tiny two-family study spec (2 seeds, fashion-mnist-mini subset) and return its path."""

    def write(
        name: str = "tiny",
        epochs: int = 2,
        limit_train: int = 600,
        mlp_hidden: str = "[[8], [8, 8]]",
        keep_weights: bool = False,
        datasets: str = '["fashion-mnist-mini"]',
    ) -> Path:
        path = tmp_path / f"{name}.toml"
        text = TINY.format(
            name=name,
            epochs=epochs,
            limit_train=limit_train,
            mlp_hidden=mlp_hidden,
            keep_weights=str(keep_weights).lower(),
            datasets=datasets,
        )
        path.write_text(text)
        return path

    return write


@pytest.fixture
def cli_env(shared_data) -> dict[str, str]:
    """Environment for `itermap` subprocesses: the shared data folder, a plain (non-TTY) console, one thread.

    One intra-op thread: these models are tiny, and on a shared 2-core machine a second thread only spins.
    """
    return {**os.environ, "ITERMAP_DATA_DIR": str(shared_data), "COLUMNS": "200", "OMP_NUM_THREADS": "1"}


@pytest.fixture
def cli(cli_env):
    """Run `python -m itermap.cli ARGS` in a subprocess; returns the CompletedProcess."""

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "itermap.cli", *map(str, args)]
        return subprocess.run(cmd, env=cli_env, capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture
def start_itermap(cli_env):
    """Start `python -m itermap.cli ARGS` in the background; returns the Popen."""

    def start(*args: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "itermap.cli", *map(str, args)]
        return subprocess.Popen(cmd, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    return start


@pytest.fixture
def ctrl_c(cli_env):
    """f(args, out, rows, before=None) -> (returncode, stderr): `itermap ARGS` in its own session, sent SIGINT (as
    Ctrl-C sends the whole process group) once `rows` metric rows are committed in `out`; `before(pid)` runs just
    before the signal."""

    def interrupt(args: list, out: Path, rows: int = 10, before=None) -> tuple[int, str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "itermap.cli", *map(str, args)],
            env=cli_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.time() + 90
        while _count_rows(out) < rows:
            assert proc.poll() is None and time.time() < deadline, proc.stderr.read()
            time.sleep(0.01)
        if before is not None:
            before(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        return proc.returncode, stderr

    return interrupt


def _metric_rows(folder: Path) -> list[tuple]:
    with closing(sqlite3.connect(folder / "results.sqlite")) as db:  # closed now, not at the next garbage collection
        return sorted(db.execute("SELECT run_id, epoch, split, metric, value FROM metrics"))


def _same_weights(a: Path, b: Path, count: int) -> None:
    names = sorted(p.name for p in (a / "weights").iterdir())
    assert len(names) == count and names == sorted(p.name for p in (b / "weights").iterdir())
    for name in names:
        wa, wb = load_file(a / "weights" / name), load_file(b / "weights" / name)
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa), name


def _count_rows(folder: Path) -> int:
    if not (folder / "results.sqlite").exists():
        return 0
    try:
        with closing(sqlite3.connect(folder / "results.sqlite", timeout=1)) as db:
            return db.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0


@pytest.fixture
def metric_rows():
    """f(folder) -> every metric row of a study folder, sorted: (run_id, epoch, split, metric, value)."""
    return _metric_rows


@pytest.fixture
def same_weights():
    """f(a, b, count): folders a and b keep the same `count` weight files, every tensor equal."""
    return _same_weights


@pytest.fixture
def count_rows():
    """f(folder) -> metric rows committed so far (0 while the store does not exist yet)."""
    return _count_rows


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while not ready():
        assert proc.poll() is None, f"finished before the kill: {proc.stderr.read()}"
        assert time.time() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture
def kill_when():
    """f(proc, ready) -> SIGKILL `proc` as soon as `ready()` holds; fails if it ended first."""
    return _kill_when


@pytest.fixture
def isolated(cli_env):
    """f(script) runs a bash script in its own user and mount namespace, where it may mount a small tmpfs (a real
    full disk) or a read-only view of a folder without root; `$ITERMAP` runs the command. Skips where unavailable."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode:
        pytest.skip("needs unprivileged user and mount namespaces (unshare -rm)")

    def run(script: str, timeout: float = 180) -> subprocess.CompletedProcess:
        env = {**cli_env, "ITERMAP": f"{sys.executable} -m itermap.cli"}
        cmd = ["unshare", "-rm", "bash", "-c", f"set -u\n{script}"]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)

    return run

"""`--workers 2`: real worker processes give the rows of an in-process run, survive kill -9 of the driver
by resuming, and leave no process behind."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

LONG = dict(epochs=5, limit_train=1500, mlp_hidden="[[16], [16, 16]]")


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (read from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (name)": state, ppid, ...
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie (one whose parent has not reaped it yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def test_workers_give_the_rows_and_weights_of_one_process(tiny_spec, cli, metric_rows, same_weights, tmp_path):
    spec = tiny_spec(keep_weights=True)
    for workers in ("1", "2"):
        done = cli("run", spec, "--out", tmp_path / workers, "--device", "cpu", "--workers", workers)
        assert done.returncode == 0, done.stderr
    want, got = metric_rows(tmp_path / "1"), metric_rows(tmp_path / "2")
    assert len(want) == 8 * (2 * 2 + 2)  # 8 runs; test rows at epochs 1 and 2, train rows at epoch 2
    assert got == want  # every value equal as floats (both use one thread), none missing, none twice
    assert "runs 8/8" in done.stdout and not list((tmp_path / "2" / "checkpoints").glob("*"))
    same_weights(tmp_path / "1", tmp_path / "2", 8)


def test_a_worker_done_early_is_no_death(cli, tmp_path):
    """One worker stops (no packs left) while the other still trains a long pack: the study still ends complete."""
    spec = tmp_path / "uneven.toml"
    spec.write_text(
        '[study]\nname = "uneven"\n[data]\ndatasets = ["fashion-mnist-mini"]\nlimit_train = 2000\nlimit_test = 100\n'
        "[train]\nseeds = 2\nepochs = 1\n"
        '[[grid]]\nfamily = "mlp"\nhidden = [[4]]\n'
        '[[grid]]\nfamily = "rnn"\nhidden = 32\nlayers = 2\nwindow = 1\ntrain = { epochs = 8 }\n'
    )
    done = cli("run", spec, "--out", tmp_path / "out", "--device", "cpu", "--workers", "2")
    assert done.returncode == 0, done.stderr
    with closing(sqlite3.connect(tmp_path / "out" / "results.sqlite")) as db:
        assert db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall() == [("done", 4)]


def test_kill_driver_leaves_no_worker_and_resumes(
    tiny_spec, start_itermap, cli, metric_rows, count_rows, kill_when, tmp_path
):
    spec = tiny_spec(**LONG)
    reference = cli("run", spec, "--out", tmp_path / "reference", "--device", "cpu")
    assert reference.returncode == 0, reference.stderr
    want = metric_rows(tmp_path / "reference")

    out = tmp_path / "killed"
    k = random.Random().randint(1, len(want) // 2)
    proc = start_itermap("run", spec, "--out", out, "--device", "cpu", "--workers", "2")
    workers: list[int] = []

    def ready() -> bool:
        workers[:] = children(proc.pid)
        return count_rows(out) >= k

    kill_when(proc, ready)
    assert len(workers) >= 2, workers
    deadline = time.time() + 30
    while any(running(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if running(pid)], "a worker outlived its killed driver"
    partial = metric_rows(out)
    assert k <= len(partial) < len(want)
    assert set(partial) <= set(want), "rows committed before the kill are final"

    resumed = cli("run", spec, "--out", out, "--device", "cpu", "--workers", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert metric_rows(out) == want  # every value equal, none missing, none duplicated
    assert not list((out / "checkpoints").glob("*"))


def test_ctrl_c_stops_the_workers_and_resumes(tiny_spec, cli, ctrl_c, metric_rows, tmp_path):
    spec, out, workers = tiny_spec(**LONG), tmp_path / "interrupted", []
    args = ["run", spec, "--out", out, "--device", "cpu", "--workers", "2"]
    code, stderr = ctrl_c(args, out, before=lambda pid: workers.extend(children(pid)))
    assert code == 130
    assert stderr.strip() == "interrupted; run the same command again to resume"
    time.sleep(0.5)
    assert len(workers) >= 2 and not [pid for pid in workers if running(pid)]
    committed = metric_rows(out)
    assert len(committed) >= 10

    resumed = cli("run", spec, "--out", out, "--device", "cpu", "--workers", "2")
    assert resumed.returncode == 0, resumed.stderr
    rows = metric_rows(out)
    assert set(committed) <= set(rows) and len(rows) == 8 * (5 * 2 + 3 * 2)


def test_workers_refuse_cuda(tiny_spec, cli, tmp_path):
    refused = cli("run", tiny_spec(), "--out", tmp_path / "gpu", "--device", "cuda", "--workers", "2")
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: --device cuda with --workers 2") and refused.stderr.count("\n") == 1
    assert not (tmp_path / "gpu").exists()


def writing(pid: int) -> bool:
    """Whether a thread of `pid` is inside the write system call (blocked on a full pipe, when it stays there)."""
    for task in Path(f"/proc/{pid}/task").glob("*/syscall"):
        try:
            if task.read_text().split()[0] == "1":  # x86-64 and arm64 number write differently; see the skip below
                return True
        except (OSError, IndexError):
            continue
    return False


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="reads x86-64 system call numbers from /proc")
def test_a_worker_dying_halfway_through_a_message_stops_the_driver(tiny_spec, start_itermap, count_rows, tmp_path):
    spec = tiny_spec(epochs=5, mlp_hidden="[[512], [512, 8]]")  # checkpoints of megabytes: more than a pipe holds
    out = tmp_path / "study"
    proc = start_itermap("run", spec, "--out", out, "--device", "cpu", "--workers", "2")
    workers = []
    try:
        deadline = time.time() + 90
        while count_rows(out) < 1:
            assert proc.poll() is None and time.time() < deadline, proc.stderr.read()
            time.sleep(0.01)
        workers = children(proc.pid)
        os.kill(proc.pid, signal.SIGSTOP)  # the driver stops reading: a worker's next checkpoint fills its pipe
        while not (blocked := [pid for pid in workers if writing(pid)]):
            assert time.time() < deadline
            time.sleep(0.05)
        os.kill(blocked[0], signal.SIGKILL)  # halfway through a message
        os.kill(proc.pid, signal.SIGCONT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        for pid in [proc.pid, *workers]:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 2 and stderr.startswith("error: a worker process died") and stderr.count("\n") == 1
    assert "run the same command again to resume" in stderr
    time.sleep(0.5)
    assert not [pid for pid in workers if running(pid)], "a worker outlived the driver"


def test_rows_do_not_depend_on_the_threads_of_the_process(tiny_spec, cli_env, metric_rows, tmp_path):
    """`--workers 1` in a process whose PyTorch would use two threads, `--workers 2` of one thread each: every
    training uses one thread, records it with its runs, and gives the same rows."""
    spec = tiny_spec(mlp_hidden="[[256], [256, 256]]")  # matmuls large enough for PyTorch to split across threads
    for workers, threads in (("1", "2"), ("2", "1")):
        cmd = [sys.executable, "-m", "itermap.cli", "run", spec, "--out", tmp_path / workers, "--device", "cpu",
               "--workers", workers]  # fmt: skip
        env = {**cli_env, "OMP_NUM_THREADS": threads}
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        with closing(sqlite3.connect(tmp_path / workers / "results.sqlite")) as db:
            assert db.execute("SELECT DISTINCT threads FROM runs").fetchall() == [(1,)]
    assert metric_rows(tmp_path / "1") == metric_rows(tmp_path / "2")


def test_workers_are_capped_at_the_cores_and_checked(tiny_spec, cli, tmp_path):
    import itermap
    from itermap.study.errors import StudyError

    cores = len(os.sched_getaffinity(0))
    done = cli("run", tiny_spec(epochs=1), "--out", tmp_path / "s", "--device", "cpu", "--workers", "100")
    assert done.returncode == 0, done.stderr
    assert f"--workers 100: this machine gives itermap {cores} cores; using {cores} workers" in done.stdout
    with pytest.raises(StudyError, match="--workers 0: give a whole number of at least 1"):
        itermap.run_study(tiny_spec(), out=tmp_path / "t", workers=0, quiet=True)
    assert not (tmp_path / "t").exists()

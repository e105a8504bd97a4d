"""`--executor ray` on a real local Ray of 2 CPUs: the rows and weights of a local run; a driver killed with
SIGKILL resumes to the same rows; a lost task is retried, or reported once its retries are spent."""

from __future__ import annotations

import logging
import os
import random
import re
import signal
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
import ray

import itermap
import itermap.study.ray_executor
from itermap import run_study
from itermap.study.errors import StudyError


@pytest.fixture(scope="module")
def ray_address():
    """A local Ray of 2 CPUs for this module; its workers inherit this process's environment (ITERMAP_DATA_DIR,
    and the RAY_AUTH_MODE its start sets, which `itermap` subprocesses then need to connect to it)."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def runs(folder) -> list[tuple]:
    """Each run's id, pack, status, epochs done and thread count."""
    with closing(sqlite3.connect(folder / "results.sqlite")) as db:
        return sorted(db.execute("SELECT run_id, pack_id, status, epochs_done, threads FROM runs"))


def pack_workers() -> list[int]:
    """Ray worker processes training a pack now (Ray titles them after the task: `ray::pack_messages`)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().startswith(b"ray::pack_messages"):
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def study_losing_a_worker(spec: Path, out: Path, address: str, count_rows) -> tuple[int, BaseException | None]:
    """Run `spec` on Ray in a thread, SIGKILL the worker process of a pack task once rows are committed (so the
    task dies halfway through its stream); returns the killed pid and what the study raised."""
    raised: list[BaseException] = []

    def study() -> None:
        try:
            run_study(spec, out=out, device="cpu", quiet=True, executor="ray", address=address)
        except BaseException as e:
            raised.append(e)

    thread = threading.Thread(target=study)
    thread.start()
    try:
        while not (count_rows(out) >= 1 and (pids := pack_workers())):
            assert thread.is_alive(), f"the study ended before a worker could be killed: {raised}"
            time.sleep(0.01)
        os.kill(pids[0], signal.SIGKILL)
    finally:
        thread.join(timeout=300)
    return pids[0], raised[0] if raised else None


def test_ray_gives_the_rows_and_weights_of_a_local_run_and_retries_a_lost_task(
    ray_address, tiny_spec, metric_rows, count_rows, same_weights, tmp_path
):
    """Rows and weights equal a local run's, although one pack's worker process was killed mid-task (retried)."""
    spec = tiny_spec(keep_weights=True, epochs=3)
    local = run_study(spec, out=tmp_path / "local", device="cpu", quiet=True)
    on_ray = tmp_path / "ray"
    killed, raised = study_losing_a_worker(spec, on_ray, ray_address, count_rows)
    assert raised is None and killed not in pack_workers()
    want = metric_rows(local)
    assert len(want) == 8 * (3 * 2 + 2 * 2)  # 8 runs; test rows at epochs 1 to 3, train rows at epochs 2 and 3
    assert metric_rows(on_ray) == want  # every value equal as floats, none missing, none twice
    assert runs(on_ray) == runs(local) and {r[2] for r in runs(local)} == {"done"}
    same_weights(local, on_ray, 8)
    [session] = itermap.study_info(on_ray)["environment"]
    assert (session["executor"], session["workers"]) == (f"ray at {ray_address}", 2)


def test_a_killed_ray_driver_resumes_to_the_rows_of_a_local_run(
    ray_address, tiny_spec, start_itermap, count_rows, metric_rows, kill_when, tmp_path
):
    spec = tiny_spec(epochs=4)
    want = metric_rows(run_study(spec, out=tmp_path / "local", device="cpu", quiet=True))
    out = tmp_path / "killed"
    k = random.Random().randint(1, len(want) // 2)
    proc = start_itermap("run", spec, "--out", out, "--device", "cpu", "--executor", "ray", "--address", ray_address)
    kill_when(proc, lambda: count_rows(out) >= k, timeout=120)  # the driver, mid-study: its job's tasks end with it
    partial = metric_rows(out)
    assert k <= len(partial) < len(want)
    assert set(partial) <= set(want), "rows committed before the kill are final"

    run_study(spec, out=out, device="cpu", quiet=True, executor="ray", address=ray_address)
    assert metric_rows(out) == want  # every value equal, none missing, none duplicated
    assert not list((out / "checkpoints").glob("*"))


def test_a_task_lost_more_often_than_its_retries_stops_the_study(
    ray_address, tiny_spec, metric_rows, count_rows, monkeypatch, tmp_path
):
    monkeypatch.setattr(itermap.study.ray_executor, "RETRIES", 0)
    out = tmp_path / "lost"
    _, raised = study_losing_a_worker(tiny_spec(epochs=3), out, ray_address, count_rows)
    assert isinstance(raised, StudyError)
    assert str(raised).startswith("the Ray task training pack ") and "was lost after 0 retries" in str(raised)
    assert "run the same command again to resume" in str(raised)
    assert len(metric_rows(out)) >= 1  # what was recorded is kept


@pytest.mark.parametrize(
    "options, error",
    [
        ({"executor": "dask"}, "--executor 'dask': allowed: local, ray"),
        ({"address": "10.0.0.5:6379"}, "--address 10.0.0.5:6379: a Ray cluster's address needs --executor ray"),
        ({"executor": "ray", "workers": 2}, "--executor ray with --workers 2: Ray runs as many packs at once as its"),
        ({"executor": "ray", "device": "cuda:1"}, "--device 'cuda:1' with --executor ray: allowed: cpu, cuda, auto"),
    ],
)
def test_executor_options_are_checked_before_anything_starts(options, error, tiny_spec, tmp_path):
    with pytest.raises(StudyError, match=f"^{re.escape(error)}"):
        run_study(tiny_spec(), out=tmp_path / "s", quiet=True, **options)
    assert not (tmp_path / "s").exists()

"""One writer per folder: a second run is refused while the first lives; once it is killed, a new run proceeds."""

from __future__ import annotations

import os
import signal
import time


def wait_for_rows(proc, count_rows, out, more_than: int) -> int:
    """Wait until `proc` has committed more than `more_than` metric rows; returns the count."""
    deadline = time.time() + 90
    while (n := count_rows(out)) <= more_than:
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline
        time.sleep(0.02)
    return n


def test_second_run_refused_then_takes_over(tiny_spec, start_itermap, cli, count_rows, tmp_path):
    spec = tiny_spec(epochs=200, limit_train=3000)  # far longer than this test: both writers get killed
    out = tmp_path / "study"
    first = start_itermap("run", spec, "--out", out, "--device", "cpu")
    wait_for_rows(first, count_rows, out, 0)

    second = cli("run", spec, "--out", out, "--device", "cpu")
    assert first.poll() is None
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert f"being written by another itermap run (pid {first.pid})" in second.stderr

    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    left = count_rows(out)
    third = start_itermap("run", spec, "--out", out, "--device", "cpu")
    try:
        wait_for_rows(third, count_rows, out, left)  # it took the lock over and is training
    finally:
        os.kill(third.pid, signal.SIGKILL)
        third.wait()
    assert "being written" not in third.stderr.read()


def test_status_tells_running_from_interrupted(tiny_spec, start_itermap, cli, count_rows, tmp_path):
    out = tmp_path / "study"
    proc = start_itermap("run", tiny_spec(epochs=200, limit_train=3000), "--out", out, "--device", "cpu")
    try:
        wait_for_rows(proc, count_rows, out, 0)
        live = cli("status", out)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert "2 running, 0 interrupted" in live.stdout, live.stdout
    after = cli("status", out)
    assert "0 running, 2 interrupted" in after.stdout and "incomplete" in after.stdout, after.stdout

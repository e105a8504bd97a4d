"""`--concurrency N`: packs side by side in one process, a thread each (study/side_by_side.py): the rows and weights of
one pack at a time, kill -9 and resume, a failing pack's one-line error with every recorded row kept, bad values
refused; and the GC pause that captures in several threads share (train/capture.py)."""

from __future__ import annotations

import gc
import random
import threading

import pytest
import torch

from itermap.study.errors import StudyError
from itermap.study.estimate import pack_bytes
from itermap.study.plan import make_plan
from itermap.study.side_by_side import checked, device_bytes, fitting
from itermap.study.spec import load_spec
from itermap.train.capture import gc_paused

from .test_workers import LONG


def test_side_by_side_gives_the_rows_and_weights_of_one_pack_at_a_time(
    tiny_spec, cli, metric_rows, same_weights, tmp_path
):
    spec = tiny_spec(keep_weights=True)
    for n in ("1", "3"):
        done = cli("run", spec, "--out", tmp_path / n, "--device", "cpu", "--concurrency", n)
        assert done.returncode == 0, done.stderr
    want, got = metric_rows(tmp_path / "1"), metric_rows(tmp_path / "3")
    assert len(want) == 8 * (2 * 2 + 2) and got == want  # every value equal as floats, none missing, none twice
    same_weights(tmp_path / "1", tmp_path / "3", 8)


def test_killed_side_by_side_resumes_and_a_failing_pack_is_one_line(
    tiny_spec, start_itermap, cli, metric_rows, count_rows, kill_when, tmp_path
):
    """kill -9 halfway: the committed rows are final. A damaged checkpoint then fails its pack as it starts: one
    line naming the file, exit 2, no traceback, every recorded row kept; deleting the file, as the line says, resumes
    to the rows of one uninterrupted run."""
    spec = tiny_spec(**LONG)
    reference = cli("run", spec, "--out", tmp_path / "reference", "--device", "cpu")
    assert reference.returncode == 0, reference.stderr
    want = metric_rows(tmp_path / "reference")
    out, k = tmp_path / "killed", random.Random().randint(1, len(want) // 2)
    checkpoints = out / "checkpoints"
    proc = start_itermap("run", spec, "--out", out, "--device", "cpu", "--concurrency", "2")
    kill_when(proc, lambda: count_rows(out) >= k and any(checkpoints.glob("*.pt")))
    partial = metric_rows(out)
    assert k <= len(partial) < len(want) and set(partial) <= set(want)  # committed rows are final

    damaged = sorted(checkpoints.glob("*.pt"))
    for path in damaged:
        path.write_bytes(b"not a checkpoint")
    failed = cli("run", spec, "--out", out, "--device", "cpu", "--concurrency", "2")
    assert failed.returncode == 2 and failed.stderr.count("\n") == 1, failed.stderr
    assert "unreadable pack checkpoint" in failed.stderr and "Traceback" not in failed.stderr
    assert set(partial) <= set(metric_rows(out)) <= set(want)

    for path in damaged:
        path.unlink()
    resumed = cli("run", spec, "--out", out, "--device", "cpu", "--concurrency", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert metric_rows(out) == want and not list(checkpoints.glob("*"))


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--concurrency", "0"], "--concurrency 0: give a whole number of at least 1, or auto"),
        (["--concurrency", "two"], "--concurrency two: give a whole number of at least 1, or auto"),
        (["--concurrency", "2", "--workers", "2"], "packs side by side run in this process; leave out --workers"),
    ],
)
def test_bad_concurrency_is_one_line(tiny_spec, cli, tmp_path, args, said):
    done = cli("run", tiny_spec(), "--out", tmp_path / "out", "--device", "cpu", *args)
    assert done.returncode == 2 and said in done.stderr and done.stderr.count("\n") == 1, done.stderr


def test_how_many_at_once():
    """`auto` is one pack on the CPU (--workers is the CPU's way); a pack's device bytes bound at least its weights,
    gradients and Adam's state, and grow with its members."""
    packs = make_plan(load_spec("quick")).packs
    assert fitting(packs, "cpu") == 1 and checked("auto", packs, "cpu") == 1 and checked("3", packs, "cpu") == 3
    assert checked("40", packs, "cpu") == 40 and checked("32", packs, "cuda") == 32
    with pytest.raises(StudyError, match=r"--concurrency 33: at most 32 packs at once on CUDA \(a stream each\)"):
        checked("33", packs, "cuda")  # past PyTorch's 32 streams, two threads would share one
    for pack in packs:
        assert device_bytes(pack) > pack_bytes(pack) > 0
    big = max(packs, key=lambda p: len(p.runs))
    assert device_bytes(big) > device_bytes(type(big)(big.runs[:1]))


def test_gc_pause_is_shared_by_captures_in_several_threads():
    """Two threads' pauses overlap: the GC stays off until the last one ends, then is on again as it was."""
    was = gc.isenabled()
    gc.enable()
    try:
        entered, release = threading.Barrier(2), threading.Event()
        seen: list[bool] = []

        def capture() -> None:
            with gc_paused():
                entered.wait()
                release.wait()
                seen.append(gc.isenabled())

        other = threading.Thread(target=capture)
        other.start()
        with gc_paused():
            entered.wait()
            release.set()
            other.join()  # the other thread's pause ended first
            assert not gc.isenabled()  # ... and this one's is still open
        assert seen == [False] and gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


def test_ctrl_c_stops_side_by_side_and_resumes(tiny_spec, cli, ctrl_c, metric_rows, tmp_path):
    """SIGINT to the process group (what Ctrl-C does) while two packs train: exit 130 with the one resume line (no
    abort from a thread left inside PyTorch), the committed rows kept, and the same command again finishes it."""
    spec, out = tiny_spec(**LONG), tmp_path / "interrupted"
    code, stderr = ctrl_c(["run", spec, "--out", out, "--device", "cpu", "--concurrency", "2"], out)
    assert code == 130 and stderr.strip() == "interrupted; run the same command again to resume"
    committed = metric_rows(out)
    resumed = cli("run", spec, "--out", out, "--device", "cpu", "--concurrency", "2")
    assert resumed.returncode == 0, resumed.stderr
    rows = metric_rows(out)
    assert set(committed) <= set(rows) and len(rows) == 8 * (5 * 2 + 3 * 2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_a_packs_rows_alone_equal_its_rows_beside_others(tiny_spec, cli_env, metric_rows, tmp_path):
    """On a GPU, each pack on its own stream with its own captured graph: the rows of 3 packs at once equal those of
    one at a time (cuBLAS pinned to a fixed workspace, which multi-stream determinism asks for)."""
    import subprocess
    import sys

    env = {**cli_env, "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    spec = tiny_spec(**LONG)
    for n in ("1", "3"):
        cmd = [sys.executable, "-m", "itermap.cli", "run", spec, "--out", tmp_path / n, "--device", "cuda"]
        done = subprocess.run([*map(str, cmd), "--concurrency", n], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert metric_rows(tmp_path / "3") == metric_rows(tmp_path / "1")

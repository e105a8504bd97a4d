"""Training packs in a local pool of worker processes, recorded by the driver (`--workers N`).

Each worker is a spawned process (torch and fork do not mix) with one intra-op thread: these models
are too small for more threads to help, so N processes of one thread train up to N times faster.
A worker takes one pack at a time and sends every message of `pack_epochs` to the driver over a
queue; it writes nothing itself. It ignores Ctrl-C, which the driver handles by stopping it, and
exits at its next epoch if the driver is gone (its parent pid changed): a killed study leaves no
process training.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path

import torch

from itermap.data import DataError, load
from itermap.study.errors import StudyError
from itermap.study.plan import Pack
from itermap.study.training import EpochDone, PackData, PackStarted, checkpoint_path, pack_epochs


@dataclass
class Failed:
    """A worker's pack raised `error` (a user error as is, anything else as its traceback)."""

    pack_id: str
    error: Exception


def train_in_workers(
    todo: list[Pack],
    workers: int,
    folder: Path,
    data_dir: str | Path | None,
    checkpoint_every: int,
    keep_weights: bool,
    record: Callable[[PackStarted | EpochDone], None],
) -> None:
    """Train `todo` in `workers` processes, passing each of their messages to `record` here, in the driver."""
    for name in dict.fromkeys(p.first.dataset for p in todo):
        load(name, data_dir)  # a missing file is fetched (or reported) once, here, not by several workers at once
    ctx = multiprocessing.get_context("spawn")
    tasks, results = ctx.Queue(), ctx.Queue()
    tasks.cancel_join_thread()  # exiting early must not wait for packs no worker will take
    for pack in todo:
        tasks.put(pack)
    args = (os.getpid(), tasks, results, folder, data_dir, checkpoint_every, keep_weights)
    procs = [ctx.Process(target=work, args=args, daemon=True) for _ in range(min(workers, len(todo)))]
    for _ in procs:
        tasks.put(None)  # one stop sign per worker, after the packs
    with sigint_ignored():  # workers inherit the ignoring from birth: Ctrl-C is the driver's to handle
        for proc in procs:
            proc.start()
    try:
        left = len(todo)
        while left:
            message = receive(results, procs)
            if isinstance(message, Failed):
                raise message.error
            record(message)
            if isinstance(message, EpochDone) and message.finished:
                left -= 1
    except BaseException:  # an error, or Ctrl-C: stop every worker before the driver lets go of the folder
        for proc in procs:
            proc.terminate()
        raise
    finally:
        for proc in procs:
            proc.join()


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT in this block (when on the main thread: only it may set signal handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def receive(results: multiprocessing.Queue, procs: list[BaseProcess]) -> PackStarted | EpochDone | Failed:
    """The next message from any worker; a worker that died without reporting is an error."""
    while True:
        try:
            return results.get(timeout=1)
        except queue.Empty:
            for proc in procs:
                if proc.exitcode not in (None, 0):
                    raise StudyError(f"a worker process died (exit code {proc.exitcode}); "
                                     "run the same command again to resume") from None  # fmt: skip


def work(
    driver: int,
    tasks: multiprocessing.Queue,
    results: multiprocessing.Queue,
    folder: Path,
    data_dir: str | Path | None,
    checkpoint_every: int,
    keep_weights: bool,
) -> None:
    """A worker: train packs from `tasks` until a stop sign, sending their messages to `results`."""
    torch.set_num_threads(1)
    data = PackData(data_dir)
    while (pack := next_pack(tasks, driver)) is not None:
        try:
            for message in pack_epochs(pack, data(pack), "cpu", checkpoint_path(folder, pack), checkpoint_every,
                                       keep_weights):  # fmt: skip
                exit_if_orphaned(driver)
                results.put(message)
        except Exception as error:
            user_error = isinstance(error, (StudyError, DataError))
            results.put(Failed(pack.pack_id, error if user_error else RuntimeError(traceback.format_exc())))
            return


def next_pack(tasks: multiprocessing.Queue, driver: int) -> Pack | None:
    """The next pack to train, or None for the stop sign."""
    while True:
        exit_if_orphaned(driver)
        try:
            return tasks.get(timeout=1)
        except queue.Empty:
            pass


def exit_if_orphaned(driver: int) -> None:
    """Exit at once (sending nothing more) if the driver process is gone."""
    if os.getppid() != driver:
        os._exit(1)

"""Training packs in a local pool of worker processes, recorded by the driver (`--workers N`).

Each worker is a spawned process (torch and fork do not mix) with one intra-op thread (as every training
has, `training.one_thread`), joined to the
driver by its own pipe: the driver sends it one pack at a time, and it sends back every message of
`pack_epochs`; it writes nothing itself. Every death shows as the end of a pipe, never as a wait: a
worker that dies (even halfway through a message) ends its pipe, which the driver reads as an error
and stops the others; a driver that dies ends every pipe, and each worker exits at its next message.
Workers ignore Ctrl-C, which the driver handles by stopping them.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import cast

from itermap.data import DataError
from itermap.study.errors import StudyError
from itermap.study.plan import Pack
from itermap.study.training import (
    EpochDone,
    PackData,
    PackStart,
    PackStarted,
    Record,
    Task,
    Training,
    load_once,
    one_thread,
    pack_epochs,
)


@dataclass
class Failed:
    """A worker's pack raised `error` (a user error as is, anything else as its traceback)."""

    pack_id: str
    error: Exception


def train_in_workers(todo: list[Task], training: Training, record: Record, workers: int) -> None:
    """Train `todo` in `workers` processes, passing each of their messages to `record` here, in the driver."""
    load_once(todo, training.data_dir)
    ctx = multiprocessing.get_context("spawn")
    tasks = list(reversed(todo))  # popped from the end: in order
    pool: dict[Connection, BaseProcess] = {}
    try:
        with sigint_ignored():  # workers inherit the ignoring from birth: Ctrl-C is the driver's to handle
            for _ in range(min(workers, len(todo))):
                mine, theirs = ctx.Pipe()
                proc = ctx.Process(target=work, args=(theirs, training), daemon=True)
                proc.start()
                theirs.close()  # the worker's end lives only in the worker: its death ends the pipe
                pool[mine] = proc
        busy = set(pool)  # workers with a pack; one told to stop exits, and its pipe's end is no death
        for conn in pool:
            give_next(conn, pool[conn], tasks, busy)
        left = len(todo)
        while left:
            for conn in cast("list[Connection]", wait(list(busy))):  # wait gives back some of the connections given
                message = receive(conn, pool[conn])
                if isinstance(message, Failed):
                    raise message.error
                record(message)
                if isinstance(message, EpochDone) and message.finished:
                    left -= 1
                    give_next(conn, pool[conn], tasks, busy)
    except BaseException:  # an error, or Ctrl-C: stop every worker before the driver lets go of the folder
        for worker in pool.values():
            worker.terminate()
        raise
    finally:
        for conn, worker in pool.items():
            worker.join()
            conn.close()


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


def died(proc: BaseProcess) -> StudyError:
    """The error for a worker whose pipe ended without its pack's last message."""
    proc.join(timeout=5)
    return StudyError(f"a worker process died (exit code {proc.exitcode}); run the same command again to resume")


def give_next(conn: Connection, proc: BaseProcess, tasks: list[Task], busy: set[Connection]) -> None:
    """Send a worker the next pack, or None (stop) when there is none left; a stopped worker is no longer busy."""
    task = tasks.pop() if tasks else None
    try:
        conn.send(task)
    except OSError:
        raise died(proc) from None
    if task is None:
        busy.discard(conn)


def receive(conn: Connection, proc: BaseProcess) -> PackStarted | EpochDone | Failed:
    """A worker's next message; its pipe's end (the worker died, perhaps halfway through a message) is an error."""
    try:
        return conn.recv()
    except (EOFError, OSError):  # OSError: "got end of file during message"
        raise died(proc) from None


def work(conn: Connection, training: Training) -> None:
    """A worker: train the packs the driver sends until it sends None; exit at once when the driver is gone."""
    data = PackData(training.data_dir)
    try:
        with one_thread():
            while (task := conn.recv()) is not None:
                pack, recorded = task
                for message in messages(pack, data, training, PackStart.read(training, pack, recorded)):
                    conn.send(message)
    except (EOFError, OSError):  # the driver's end of the pipe is gone: nobody to report to
        os._exit(1)


def messages(
    pack: Pack, data: PackData, training: Training, start: PackStart
) -> Iterator[PackStarted | EpochDone | Failed]:
    """The messages of one pack's training from `start` (its checkpoint's contents, a student pack's teacher), ending
    with `Failed` if it raises."""
    try:
        yield from pack_epochs(pack, data(pack), training, start)
    except Exception as error:
        user_error = isinstance(error, (StudyError, DataError))
        yield Failed(pack.pack_id, error if user_error else RuntimeError(traceback.format_exc()))

"""Packs trained side by side in one process (`--concurrency N`): a thread per pack, each on its own CUDA stream.

A pack of small models is a long chain of tiny kernels (train/capture.py): one pack at a time leaves most of a GPU
idle, however busy nvidia-smi calls it. N packs in N threads, each launching on its own stream and replaying its own
CUDA graph from its own memory pool, let the GPU run their chains together, so a study's wall time approaches its
longest pack's instead of the sum of them. Each thread is its pack's host: its epoch-end sync (the divergence check,
the metrics brought to the host, a checkpoint's copy) waits for its own stream only, while the other threads go on
launching theirs. This thread, the driver, records every message from a queue as the worker pool's driver does
(study/workers.py): each pack's rows in its order, checkpoints, kill -9 and resume are those of one pack at a time,
and a run's numbers do not depend on N (each pack's kernels and their order are its own).

An error or Ctrl-C stops each thread after its current epoch (a thread cannot be killed, as a worker process can),
and the driver waits for them before it returns.

On the CPU the threads train as the worker processes do, each op on one intra-op thread (PyTorch releases the GIL
inside its ops), so N threads use N cores; --workers (processes) is the CPU's usual way, this its in-process twin.

How many at once (`fitting`): on CUDA, as many packs as fit in half the device's free memory by `device_bytes`, at
most MAX_SIDE_BY_SIDE and no more than there are packs; on the CPU, one (--workers is the CPU's choice).
"""

from __future__ import annotations

import queue
import threading
from contextlib import nullcontext

import torch

from itermap.study.errors import StudyError
from itermap.study.estimate import pack_bytes
from itermap.study.plan import Pack
from itermap.study.training import EpochDone, PackData, PackStart, Record, Task, Training, load_once, one_thread
from itermap.study.workers import Failed, messages
from itermap.train.trainer import EVAL_CHUNK

MAX_SIDE_BY_SIDE = 8  # packs at once at most: beyond it, one host's launch rate, not the GPU, is the limit
# PyTorch hands out 32 streams a device round robin: past them, two threads would share one, and a capture on it
# would record the other thread's kernels (train/capture.py)
MAX_STREAMS = 32
POLL = 0.2  # seconds the driver waits for a message before looking again (so that Ctrl-C is heard at once)


def device_bytes(pack: Pack) -> int:
    """A rough bound on the device memory one pack's training holds: weights, gradients and Adam's state; its data
    sets on the device; an evaluation chunk's activations (every member, every step, at its widest)."""
    run, cfg = pack.first, pack.cfg
    itemsize = run.train.torch_dtype.itemsize
    images = sum(run.sizes) + (run.validation or 0)  # train (after the held-out split), test and validation images
    data = len({r.dataset for r in pack.runs}) * images * cfg.image[0] * cfg.image[1] * itemsize
    activations = 4 * EVAL_CHUNK * len(pack.runs) * cfg.width * cfg.step_count * itemsize
    return pack_bytes(pack) + data + activations


def fitting(packs: list[Pack], device: str) -> int:
    """How many packs train at once by default: on CUDA, as many of the largest as fit in half the free memory (at
    most MAX_SIDE_BY_SIDE, at least 1); on the CPU, 1."""
    if not device.startswith("cuda") or not packs:
        return 1
    free, _ = torch.cuda.mem_get_info(torch.device(device))
    largest = max(device_bytes(p) for p in packs)
    return max(1, min(MAX_SIDE_BY_SIDE, len(packs), free // 2 // largest))


def first_products(device: str) -> None:
    """One of each batched and plain matrix product the packs make, in both dtypes, here, before their threads start.

    Without it, on the CPU about 1 fresh `--concurrency 2` run in 30 under load gave one pack rows that differ at the
    rounding level from the first epoch on (3 of 93 on a 2-core VM with two busy processes beside it; after these
    calls, 0 of 180): most likely the BLAS library sets itself up at its first call, and threads making their first
    calls at once race there. One pack at a time makes its first call alone."""
    for dtype in (torch.float32, torch.float64):
        a = torch.ones(2, 3, 3, dtype=dtype, device=device)
        torch.baddbmm(a, a, a)
        torch.bmm(a, a)
        torch.addmm(a[0], a[0], a[0])
        torch.mm(a[0], a[0])


def train_side_by_side(todo: list[Task], training: Training, record: Record, concurrency: int) -> None:
    """Train `todo` `concurrency` packs at once, a thread each, passing each of their messages to `record` here."""
    load_once(todo, training.data_dir)
    first_products(training.device)
    tasks = iter(todo)  # taken in order, under `taking`
    taking, stop = threading.Lock(), threading.Event()
    inbox: queue.Queue = queue.Queue()
    device = torch.device(training.device)

    def host() -> None:
        """One pack at a time, each message put in the inbox, until no pack is left or the driver stops."""
        data = PackData(training.data_dir)
        own = torch.cuda.stream(torch.cuda.Stream(device)) if device.type == "cuda" else nullcontext()
        with own:  # this thread's current stream: its packs' kernels queue here, beside the other threads'
            while not stop.is_set():
                with taking:
                    task = next(tasks, None)
                if task is None:
                    return
                pack, recorded = task
                try:
                    start = PackStart.read(training, pack, recorded)
                except Exception as error:  # its checkpoint or its teacher's weights: the driver raises it
                    inbox.put(Failed(pack.pack_id, error))
                    return
                for message in messages(pack, data, training, start):
                    inbox.put(message)
                    if stop.is_set() or isinstance(message, Failed):
                        return

    hosts = [threading.Thread(target=host, daemon=True) for _ in range(min(concurrency, len(todo)))]
    with one_thread():  # process-wide: every pack's ops on one intra-op thread, as in a worker process
        for thread in hosts:
            thread.start()
        try:
            left = len(todo)
            while left:
                try:
                    message = inbox.get(timeout=POLL)
                except queue.Empty:
                    if not any(t.is_alive() for t in hosts) and inbox.empty():
                        raise StudyError(
                            "every pack thread ended before its packs did; run the same command again"
                        ) from None
                    continue
                if isinstance(message, Failed):
                    raise message.error
                record(message)
                if isinstance(message, EpochDone) and message.finished:
                    left -= 1
        finally:
            # An error or Ctrl-C: each thread stops after its current epoch, whose message nobody records (its pack
            # resumes from its last recorded epoch), and is waited for: a thread left inside PyTorch when the
            # process exits aborts it.
            stop.set()
            for thread in hosts:
                thread.join()


def checked(concurrency: int | str, packs: list[Pack], device: str) -> int:
    """`--concurrency`: a whole number >= 1, or "auto" (`fitting`); a one-line error otherwise."""
    if concurrency == "auto":
        return fitting(packs, device)
    try:
        n = int(concurrency)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise StudyError(f"--concurrency {concurrency}: give a whole number of at least 1, or auto")
    if device.startswith("cuda") and n > MAX_STREAMS:
        raise StudyError(
            f"--concurrency {concurrency}: at most {MAX_STREAMS} packs at once on CUDA (a stream each), or auto"
        )
    return n

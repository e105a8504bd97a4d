"""Training packs as Ray tasks, on a local Ray or a cluster, recorded by the driver (`--executor ray`).

Each pack is one Ray generator task (one CPU; a share of a GPU on CUDA) that streams the messages of
`pack_epochs` back to the driver, which records them pack by pack in plan order: the order of an
in-process run, so the folder goes through the same states and a killed driver resumes as today. The
driver sends each task its pack's checkpoint contents, so the nodes need no shared file system; each
node reads the data set from its own data folder (ITERMAP_DATA_DIR, passed on from the driver).

A task whose worker process or node dies is retried by Ray (`RETRIES` times): it trains the pack again
from the same checkpoint, and Ray passes on only the messages the driver has not received yet (training
is deterministic, so the replay is the same stream). A task lost more often than that, or a pack that
raises, stops the study with a one-line error; what was recorded is kept.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterator
from typing import Any

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
    one_thread,
)
from itermap.study.workers import Failed, messages

RETRIES = 3  # Ray's max_retries of a pack's task: a dead worker process or node
GPU_SHARE = 0.25  # of one GPU per pack on CUDA: four small packs share a GPU
AHEAD = 2  # tasks submitted per CPU of the cluster: the others wait, so a huge plan is not all in flight


def connect(address: str | None) -> Any:
    """The `ray` module, connected to the cluster at `address`; a clear error without Ray.

    None means $RAY_ADDRESS where set (as in a job submitted to a cluster), else a new local Ray for this process
    (never a cluster `ray start` left on this machine: `--address auto` asks for that one).
    """
    try:
        import ray
    except ImportError:
        raise StudyError("--executor ray needs Ray: pip install 'itermap[ray]' (or pip install ray)") from None
    if not ray.is_initialized():
        address = address if address is not None else os.environ.get("RAY_ADDRESS", "local")
        env = {k: os.environ[k] for k in ("ITERMAP_DATA_DIR",) if k in os.environ}
        try:
            ray.init(
                address=address,
                runtime_env={"env_vars": env},
                include_dashboard=False,
                logging_level=logging.WARNING,
                log_to_driver=False,
            )
        except (ConnectionError, ValueError) as e:
            raise StudyError(
                f"--address {address}: cannot connect to a Ray cluster ({e}); start one with "
                "`ray start --head` and give the address it prints"
            ) from None
    return ray


def cluster(address: str | None) -> tuple[str, int, float]:
    """The address (of its GCS), CPUs and GPUs of the Ray cluster at `address` (a new local one when None)."""
    ray = connect(address)
    resources = ray.cluster_resources()
    return ray.get_runtime_context().gcs_address, int(resources.get("CPU", 0)), resources.get("GPU", 0.0)


def pack_messages(pack: Pack, training: Training, start: PackStart) -> Iterator[Any]:
    """The Ray task of one pack: its messages from `start` (its checkpoint's contents and a student pack's teacher,
    read by the driver), trained with one thread."""
    with one_thread():
        yield from messages(pack, PackData(training.data_dir), training, start)


def train_on_ray(todo: list[Task], training: Training, record: Record, address: str | None) -> None:
    """Train `todo` as Ray tasks on the cluster at `address`, passing each message to `record`, pack by pack."""
    ray = connect(address)
    gpus = GPU_SHARE if training.device.startswith("cuda") else 0
    remote = ray.remote(pack_messages).options(num_cpus=1, num_gpus=gpus, max_retries=RETRIES)
    window = max(1, AHEAD * int(ray.cluster_resources().get("CPU", 1)))
    waiting, running = deque(todo), deque[tuple[Pack, Any]]()

    def submit() -> None:
        while waiting and len(running) < window:
            pack, recorded = waiting.popleft()
            running.append((pack, remote.remote(pack, training, PackStart.read(training, pack, recorded))))

    try:
        submit()
        while running:
            pack, stream = running[0]  # the oldest pack: recorded whole before the next, as in plan order
            for ref in stream:
                message = received(ray, ref, pack)
                if isinstance(message, Failed):
                    raise message.error
                record(message)
            running.popleft()
            submit()
    except BaseException:  # an error, or Ctrl-C: cancel what still trains before the driver lets go of the folder
        for _, stream in running:
            ray.cancel(stream, force=True)
        raise


def received(ray: Any, ref: Any, pack: Pack) -> PackStarted | EpochDone | Failed:
    """A task's next message; a task Ray lost more than `RETRIES` times is an error."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as e:
        raise StudyError(
            f"the Ray task training pack {pack.pack_id} was lost after {RETRIES} retries "
            f"({type(e).__name__}); run the same command again to resume: every recorded epoch "
            "is kept"
        ) from None

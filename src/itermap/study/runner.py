"""Running a study: plan it, claim its folder, train each unfinished pack epoch by epoch into the store.

Crash safety: an epoch's metric rows commit in one transaction, and only then is the pack's
checkpoint replaced (atomically). A resumed pack continues from its checkpoint's epoch and first
deletes any rows after it, so whatever moment a study was killed at, no committed epoch is lost
and no row is written twice. With `workers` > 1 the packs train in worker processes
(`study/workers.py`), with `executor="ray"` as Ray tasks (`study/ray_executor.py`), but this process
still does every write, in the same order.

Extending: a folder that holds the same study (by name) takes a changed spec. Runs already finished
are kept and not trained again; a pack trains only its unfinished runs (a run's numbers do not depend
on its pack); runs the new spec no longer plans stay in the store, marked outside the plan.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import time
from functools import partial
from pathlib import Path

import torch

import itermap
from itermap.study.compose import Packing, packed
from itermap.study.environment import environment
from itermap.study.errors import StudyError
from itermap.study.estimate import check_memory
from itermap.study.files import write_bytes
from itermap.study.lock import FolderLock
from itermap.study.plan import Pack, Plan, make_plan
from itermap.study.progress import StudyProgress
from itermap.study.shards import WHOLE, parse_shard, plan_id, shard_of
from itermap.study.side_by_side import checked, train_side_by_side
from itermap.study.spec import Spec, load_spec
from itermap.study.store import FILENAME, Store
from itermap.study.teacher import copy_source
from itermap.study.training import (
    EpochDone,
    Executor,
    PackData,
    PackStart,
    PackStarted,
    Record,
    Task,
    Training,
    checkpoint_path,
    held_out,
    one_thread,
    pack_epochs,
)
from itermap.study.workers import train_in_workers

OWNED = (
    FILENAME,
    f"{FILENAME}-wal",
    f"{FILENAME}-shm",
    "study.toml",
    "checkpoints",
    "weights",
    "teacher",
    "report.html",
    "summary.md",
    "figures",
)  # what --force-new removes


LARGE = 100_000  # runs: a study this large says so before the seconds it takes to record its plan


def cores_given() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when a GPU is visible, else 'cpu'; 'cuda' without one is an error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise StudyError(f"--device {device}: no CUDA device is available (use cpu or auto)")
    if device != "cpu" and not device.startswith("cuda"):
        raise StudyError(f"--device {device!r}: allowed: cpu, cuda, auto")
    return device


def device_name(device: str) -> str:
    """A human name of the device: the GPU's model, or the CPU's with its core count."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu} ({os.cpu_count()} cores)"


def resolve_spec(study: str | Path | Spec, seeds: int | None, epochs: int | None, datasets: list[str] | None) -> Spec:
    """A spec from a preset name, TOML path or Spec, with overrides applied."""
    spec = study if isinstance(study, Spec) else load_spec(study)
    return spec.with_overrides(seeds=seeds, epochs=epochs, datasets=datasets)


def claim_folder(plan: Plan, folder: Path, force_new: bool, shard: str = WHOLE) -> None:
    """Make `folder` ready for `plan`'s study: refuse a folder holding another study (or another shard of it), or
    empty it with `force_new`.

    Only a store itermap wrote (`Store` refuses any other) is ever replaced, and only with `force_new`.
    """
    with Store(folder) as store:
        held = store.meta()
        rename_weights(folder, store.renamed)
    if held and (force_new or held.get("study") != plan.spec.study.name):
        if not force_new:
            raise StudyError(
                f"{folder} holds another study ({held.get('study')!r}, {held.get('runs')} runs, spec in "
                f"{folder / 'study.toml'}); use --force-new to replace it, or --out for another folder"
            )
        for name in OWNED:
            path = folder / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    elif held and held.get("shard", WHOLE) != shard:
        raise StudyError(
            f"{folder} holds shard {held.get('shard', WHOLE)} of {held.get('study')!r}, not {shard}; "
            "give each shard its own --out (then `itermap merge` joins them)"
        )


def record_plan(store: Store, plan: Plan, folder: Path, **meta: object) -> None:
    """Write the plan into the store (new runs, which runs are planned, spec, versions, `meta`) and study.toml."""
    store.plan(
        plan,
        **meta,
        study=plan.spec.study.name,
        runs=len(plan.runs),
        spec=plan.spec.to_toml(),
        notes="\n".join(plan.notes),
        itermap_version=itermap.__version__,
        torch_version=torch.__version__,
        python_version=platform.python_version(),
    )
    write_bytes(folder / "study.toml", plan.spec.to_toml().encode())


def rename_weights(folder: Path, renamed: dict[str, str]) -> None:
    """Kept weights follow their runs' new ids after a store upgrade."""
    for old, new in renamed.items():
        path = folder / "weights" / f"{old}.safetensors"
        if path.exists():
            path.rename(path.with_stem(new))


class Clock:
    """Study wall time: what earlier sessions recorded plus this session's."""

    def __init__(self, before: float):
        self.before, self.start = before, time.time()

    def total(self) -> float:
        return self.before + time.time() - self.start


class Recorder:
    """The driver's side of training: writes what `pack_epochs` reports into the store and the folder."""

    def __init__(
        self, packs: list[Pack], store: Store, folder: Path, device: str, progress: StudyProgress, wall: Clock
    ):
        self.packs = {p.pack_id: p for p in packs}
        self.store, self.folder, self.device, self.progress, self.wall = store, folder, device, progress, wall
        self.test_acc: dict[str, float | None] = {}

    def __call__(self, message: PackStarted | EpochDone) -> None:
        """Record one message of a pack (a pack's messages arrive in order; packs may interleave)."""
        pack = self.packs[message.pack_id]
        if isinstance(message, PackStarted):
            self.started(pack, message)
        else:
            self.epoch_done(pack, message)

    def started(self, pack: Pack, message: PackStarted) -> None:
        """A pack starts or resumes: drop its rows after the checkpoint's epoch (and a checkpoint ahead of the store)."""
        if message.discarded is not None:
            checkpoint_path(self.folder, pack).unlink(missing_ok=True)
            self.progress.say(
                f"{checkpoint_path(self.folder, pack)}: checkpoint at epoch {message.discarded} is ahead "
                "of the store (rows of earlier epochs are missing); discarded, the pack trains again "
                "from its first epoch"
            )
        self.store.start_pack(
            pack.pack_id, [r.run_id for r in pack.runs], message.epoch, message.diverged, self.device, message.threads
        )
        self.test_acc[pack.pack_id] = None
        self.progress.pack(pack.pack_id, pack.label, message.epoch, pack.first.train.epochs, len(pack.runs))

    def epoch_done(self, pack: Pack, message: EpochDone) -> None:
        """Final weights (if any), then the epoch's commit, then the checkpoint: the order crash safety rests on."""
        run_ids, members = [r.run_id for r in pack.runs], len(pack.runs)
        accs = [r.value for r in message.rows if r.split == "test" and r.metric == "accuracy"]
        if accs:
            self.test_acc[pack.pack_id] = sum(accs) / len(accs)
        if message.weights:
            (self.folder / "weights").mkdir(exist_ok=True)
            for run, data in zip(pack.runs, message.weights):
                write_bytes(self.folder / "weights" / f"{run.run_id}.safetensors", data)
        records = [(run_ids[r.member], r.epoch, r.split, r.metric, r.value, r.step) for r in message.rows]
        self.store.commit_epoch(
            run_ids,
            message.epoch,
            records,
            message.diverged,
            message.seconds,
            message.finished,
            wall_seconds=self.wall.total(),
        )
        checkpoint = checkpoint_path(self.folder, pack)
        if message.finished:
            checkpoint.unlink(missing_ok=True)
            skipped = (pack.first.train.epochs - message.epoch + 1) * members
            diverged = sum(d is not None for d in message.diverged)
            self.progress.pack_done(pack.pack_id, members, skipped, self.test_acc[pack.pack_id], diverged)
            return
        self.progress.epoch(pack.pack_id, message.epoch, members, self.test_acc[pack.pack_id])
        if message.checkpoint is not None:
            checkpoint.parent.mkdir(exist_ok=True)
            write_bytes(checkpoint, message.checkpoint)


def run_study(
    study: str | Path | Spec,
    out: str | Path | None = None,
    device: str = "auto",
    seeds: int | None = None,
    epochs: int | None = None,
    datasets: list[str] | None = None,
    force_new: bool = False,
    quiet: bool = False,
    progress: StudyProgress | None = None,
    workers: int = 1,
    executor: str = "local",
    address: str | None = None,
    shard: str = WHOLE,
    packing: Packing = "auto",
    concurrency: int | str = 1,
) -> Path:
    """Train a study (preset name, TOML path or Spec) into its folder, resuming what is there; returns the folder.

    `executor` 'local' trains here, or with `workers` > 1 that many packs at once in worker processes of one thread
    each, on the CPU; 'ray' trains each pack as a task on the Ray cluster at `address` (a new local one when None).
    `shard` 'i/N' trains only the i-th of N disjoint parts of the plan (see `shards`). `packing` says which runs
    train together (see `compose`): by the device's cost model, one configuration per pack, or as wide as can be.
    `concurrency` N > 1 trains N packs at once in this process, a thread each (on CUDA each on its own stream; see
    `side_by_side`); "auto" as many as fit in the GPU's memory.
    """
    if not isinstance(workers, int) or workers < 1:
        raise StudyError(f"--workers {workers}: give a whole number of at least 1")
    if executor not in ("local", "ray"):
        raise StudyError(f"--executor {executor!r}: allowed: local, ray")
    if executor == "ray" and workers > 1:
        raise StudyError(
            f"--executor ray with --workers {workers}: Ray runs as many packs at once as its cluster "
            "has CPUs; leave out --workers"
        )
    if concurrency not in (1, "1") and (workers > 1 or executor == "ray"):
        raise StudyError(
            f"--concurrency {concurrency}: packs side by side run in this process; leave out "
            + ("--workers" if workers > 1 else "--executor ray")
        )
    if address is not None and executor != "ray":
        raise StudyError(f"--address {address}: a Ray cluster's address needs --executor ray")
    if workers > 1 and device.startswith("cuda"):
        raise StudyError(
            f"--device {device} with --workers {workers}: worker processes train on the CPU only; "
            "use --workers 1 for the GPU, or --device cpu"
        )
    index, count = parse_shard(shard)
    spec = resolve_spec(study, seeds, epochs, datasets)
    planned = make_plan(spec)  # a spec's faults are reported before a device or cluster is sought
    if executor == "ray":
        device, name, cpus, label = ray_device(device, address)
    else:
        device = resolve_device("cpu" if workers > 1 and device == "auto" else device)
        name, label = device_name(device), "local"
    whole = packed(planned, device, packing)
    plan = shard_of(whole, index, count)
    if not plan.packs:
        raise StudyError(
            f"--shard {shard}: the plan has only {len(whole.packs)} packs, so shard {index} would be "
            f"empty; split it into at most {len(whole.packs)} shards"
        )
    if executor != "ray":
        check_memory(plan, device)
    at_once = checked(concurrency, plan.packs, device)
    folder = Path(out) if out is not None else Path("runs") / spec.study.name
    folder.mkdir(parents=True, exist_ok=True)
    progress = progress or StudyProgress(quiet=quiet)
    if workers > (cores := cores_given()):
        progress.say(
            f"--workers {workers}: this machine gives itermap {cores} cores; using {cores} workers (more "
            "would only share them, each holding its own copy of the data)"
        )
        workers = cores
    if len(plan.runs) >= LARGE:
        progress.say(f"recording {len(plan.runs):,} runs in {folder / FILENAME}")
    session = environment(
        label, max(workers, at_once) if executor == "local" else cpus, f"{index}/{count}", device, name
    )
    with FolderLock(folder):
        claim_folder(plan, folder, force_new, str(session["shard"]))
        with Store(folder) as store:  # a new study is created in one transaction: a folder holds a whole one or none
            new = {} if store.meta() else {"created": time.time(), "wall_seconds": 0.0}
            held = {"held_out": json.dumps(split)} if (split := held_out(plan, spec.data.data_dir)) else {}
            record_plan(store, plan, folder, **new, **held, plan_id=plan_id(whole), shard=session["shard"])
            for source in filter(None, plan.teachers.values()):
                copy_source(source, folder)
            try:
                execute = choose_executor(executor, workers, address, at_once)
                run_packs(plan, store, folder, progress, execute, session)
            finally:
                progress.stop()
            store.check_file()  # the results it names are still there
    return folder


def ray_device(device: str, address: str | None) -> tuple[str, str, int, str]:
    """For Ray: the device ('auto' -> 'cuda' when the cluster has a GPU), its name, the cluster's CPUs, a label."""
    from itermap.study.ray_executor import cluster

    if device not in ("auto", "cpu", "cuda"):
        raise StudyError(f"--device {device!r} with --executor ray: allowed: cpu, cuda, auto (each task gets its GPU)")
    gcs, cpus, gpus = cluster(address)
    if device == "cuda" and not gpus:
        raise StudyError("--device cuda: the Ray cluster has no GPU (use cpu or auto)")
    device = "cpu" if device == "cpu" or not gpus else "cuda"
    return device, f"Ray cluster ({cpus} CPUs, {gpus:g} GPUs)", cpus, f"ray at {gcs}"


def choose_executor(name: str, workers: int, address: str | None, concurrency: int = 1) -> Executor:
    """The executor that trains the packs: here (one at a time, or `concurrency` side by side), in `workers` local
    processes, or as Ray tasks."""
    if name == "ray":
        from itermap.study.ray_executor import train_on_ray  # Ray is an optional extra

        return partial(train_on_ray, address=address)
    if concurrency > 1:
        return partial(train_side_by_side, concurrency=concurrency)
    return partial(train_in_workers, workers=workers) if workers > 1 else in_process


def finished_in(plan: Plan, folder: Path) -> int:
    """How many of the plan's runs have finished in study folder `folder` (0 where there is no study)."""
    if not (Path(folder) / FILENAME).exists():
        return 0
    with Store(Path(folder), readonly=True) as store:
        return len(complete(store, Path(folder), plan) & {r.run_id for r in plan.runs})


def complete(store: Store, folder: Path, plan: Plan) -> set[str]:
    """Runs that need no more training: finished, and with their weights kept where they must be (every run where
    the spec keeps weights; a teacher the study trains itself, always: its students read it)."""
    finished = store.finished_runs()
    own_teachers = {t for t, source in plan.teachers.items() if source is None}
    must_keep = finished if plan.spec.train.keep_weights else finished & own_teachers
    return {r for r in finished if r not in must_keep or (folder / "weights" / f"{r}.safetensors").is_file()}


def unfinished(plan: Plan, finished: set[str]) -> list[Pack]:
    """The packs still to train: each planned pack cut down to its runs that have not finished."""
    packs = [Pack(tuple(r for r in p.runs if r.run_id not in finished)) for p in plan.packs]
    return [p for p in packs if p.runs]


def run_packs(
    plan: Plan, store: Store, folder: Path, progress: StudyProgress, execute: Executor, session: dict[str, object]
) -> None:
    """Train every pack not yet finished with `execute` (see `choose_executor`), recording each message here and
    the `session`'s environment."""
    done = complete(store, folder, plan)
    if unkept := (store.finished_runs() - done) & {r.run_id for r in plan.runs}:
        progress.say(
            f"{len(unkept)} finished runs have no kept weights, which keep_weights = true asks for: "
            "training them again to keep them (their rows are recomputed)"
        )
    todo = unfinished(plan, done)
    keep = {checkpoint_path(folder, p) for p in todo}
    for path in (folder / "checkpoints").glob("*.pt"):  # finished packs', or packs no plan trains any more
        if path not in keep:
            path.unlink()
    if not todo:
        progress.say(f"{plan.spec.study.name} in {folder} is already complete ({len(plan.runs)} runs); nothing to do")
        return
    for note in plan.notes:
        progress.say(f"note: {note}")
    meta = store.meta()
    device = str(session["device"])
    store.set_meta(device=device, device_name=session["device_name"])
    store.add_session(session)
    total = sum(r.train.epochs for r in plan.runs)  # progress units: member-epochs
    left = sum(len(p.runs) * p.first.train.epochs for p in todo)
    progress.start(len(plan.runs) - sum(len(p.runs) for p in todo), len(plan.runs), total - left, total)
    record = Recorder(todo, store, folder, device, progress, Clock(float(meta.get("wall_seconds", 0))))
    training = Training(
        folder, plan.spec.data.data_dir, device, plan.spec.train.checkpoint_every, plan.spec.train.keep_weights
    )
    epochs_done = store.epochs_done()
    tasks = [(p, min(epochs_done[r.run_id] for r in p.runs)) for p in todo]
    # A distillation study's teachers train first, their weights kept whatever keep_weights says: their students
    # read them (`teacher_of`) when they start.
    teachers = [t for t in tasks if t[0].first.run_id in plan.teachers]
    if teachers:
        execute(teachers, dataclasses.replace(training, keep_weights=True), record)
    execute([t for t in tasks if t not in teachers], training, record)


def in_process(todo: list[Task], training: Training, record: Record) -> None:
    """The local executor with one worker: train each pack here, one after another."""
    data = PackData(training.data_dir)
    with one_thread():  # as in a worker: a run's numbers do not depend on --workers
        for pack, recorded in todo:
            for message in pack_epochs(pack, data(pack), training, PackStart.read(training, pack, recorded)):
                record(message)

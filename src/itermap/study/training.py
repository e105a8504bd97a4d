"""Training one pack of a study, as a stream of messages for the process that records it.

`pack_epochs` writes nothing: it yields `PackStarted`, then one `EpochDone` per epoch carrying the
epoch's metric rows and, when due, the checkpoint and final weights as file contents. The runner
consumes it in-process (`--workers 1`) or receives the same messages from worker processes
(`study/workers.py`); either way only the driver writes the study folder.
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from safetensors.torch import save as safetensors_bytes

from itermap.convert.stored import load_run
from itermap.data import Dataset, hold_out, load, validation_split
from itermap.models import FamilyConfig
from itermap.models.stacked import Params
from itermap.study.errors import StudyError
from itermap.study.plan import Pack, Plan, Run
from itermap.study.teacher import teacher_file
from itermap.train import PackTrainer
from itermap.train.trainer import MetricRow

THREADS = 1  # PyTorch intra-op threads of every training, in-process or in a worker (see `one_thread`)


@contextmanager
def one_thread() -> Iterator[None]:
    """Train with `THREADS` intra-op threads: a thread count can change float rounding, so a run's numbers would
    otherwise depend on how many workers trained its study."""
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class PackStarted:
    """A pack starts, or resumes from its checkpoint at `epoch`; `discarded`: the epoch of a checkpoint not used."""

    pack_id: str
    epoch: int
    diverged: list[int | None]
    threads: int  # PyTorch intra-op threads it trains with
    discarded: int | None = None


@dataclass
class EpochDone:
    """One trained epoch of a pack, and what the driver must write for it."""

    pack_id: str
    epoch: int
    rows: list[MetricRow]
    diverged: list[int | None]
    seconds: float
    finished: bool
    checkpoint: bytes | None = None  # the trainer's state (torch.save format), when a checkpoint is due
    weights: list[bytes] | None = None  # each member's final params (safetensors format), when kept


@dataclass(frozen=True)
class Training:
    """What every executor needs to train a study's packs, besides the packs: where, on what, how often to save."""

    folder: Path  # the study folder (the driver's: only the driver writes it)
    data_dir: str | Path | None
    device: str
    checkpoint_every: int
    keep_weights: bool


Task = tuple[Pack, int]  # a pack, and the epochs the store holds for it
TeacherWeights = tuple[FamilyConfig, Params]  # a distillation student pack's trained teacher
Record = Callable[[PackStarted | EpochDone], None]  # the driver's writer of each message


def load_once(todo: list[Task], data_dir: str | Path | None) -> None:
    """Load every data set of `todo` here first: a missing file is fetched (or reported) once, not by several packs
    training at once."""
    for name in dict.fromkeys(r.dataset for p, _ in todo for r in p.runs):
        load(name, data_dir)


Executor = Callable[[list[Task], Training, Record], None]  # trains the tasks, passing every message to the writer


def checkpoint_path(folder: Path, pack: Pack) -> Path:
    """Where a pack's checkpoint lives while it trains."""
    return folder / "checkpoints" / f"{pack.pack_id}.pt"


def subset(data: Dataset, limit_train: int | None, limit_test: int | None) -> Dataset:
    """The first `limit_*` examples of each split (all when None)."""
    return dataclasses.replace(
        data,
        train_images=data.train_images[:limit_train],
        train_labels=data.train_labels[:limit_train],
        test_images=data.test_images[:limit_test],
        test_labels=data.test_labels[:limit_test],
    )


def as_trained(data: Dataset, run: Run) -> Dataset:
    """A data set as `run` sees it: its subset, then its validation images held out of the train images."""
    part = subset(data, run.limit_train, run.limit_test)
    return part if run.validation is None else hold_out(part, run.validation, run.validation_seed)


def held_out(plan: Plan, data_dir: str | Path | None) -> dict[str, list[int]]:
    """Each data set's training images the plan holds out for validation, by index in its train split (every run of
    a data set holds out the same); empty without a split."""
    found = {}
    for name, run in {r.dataset: r for r in plan.runs}.items():
        if run.validation is not None:
            labels = subset(load(name, data_dir), run.limit_train, None).train_labels
            found[name] = validation_split(labels, run.validation, run.validation_seed)[1].tolist()
    return found


class PackData:
    """Each member's data set (subset and validation split applied) of a pack, keeping only one pack's data sets in
    memory at a time."""

    def __init__(self, data_dir: str | Path | None):
        self.data_dir = data_dir
        self.loaded: dict[str, Dataset] = {}

    def __call__(self, pack: Pack) -> list[Dataset]:
        names = list(dict.fromkeys(r.dataset for r in pack.runs))
        self.loaded = {n: self.loaded[n] if n in self.loaded else load(n, self.data_dir) for n in names}
        run = pack.first  # the limits and the validation split are the same for all its runs
        subsets = {n: as_trained(self.loaded[n], run) for n in names}
        return [subsets[r.dataset] for r in pack.runs]


def saved_state(checkpoint: Path) -> bytes | None:
    """A pack checkpoint file's contents (None when there is none), read where the executor runs the pack."""
    return checkpoint.read_bytes() if checkpoint.exists() else None


def teacher_of(folder: Path, pack: Pack) -> TeacherWeights | None:
    """The trained teacher (config, params) of a pack of students, read from the study folder; None for other packs."""
    if pack.first.train.teacher is None:
        return None
    path = teacher_file(folder, pack.first.train.teacher)
    if not path.is_file():
        raise StudyError(
            f"{path}: the students' teacher has no kept weights; run the study again: it trains its teacher first"
        )
    try:
        cfg, params, _ = load_run(path)
    except ValueError as e:
        raise StudyError(str(e)) from None
    return cfg, params


@dataclass(frozen=True)
class PackStart:
    """Where a pack's training starts: its checkpoint's contents (None when there is none), the epochs its runs have
    committed to the store, and a student pack's trained teacher."""

    state: bytes | None
    recorded: int
    teacher: TeacherWeights | None = None

    @classmethod
    def read(cls, training: Training, pack: Pack, recorded: int) -> PackStart:
        """The pack's checkpoint and teacher, read from the study folder where the executor runs it."""
        return cls(saved_state(checkpoint_path(training.folder, pack)), recorded, teacher_of(training.folder, pack))


def pack_epochs(
    pack: Pack, data: list[Dataset], training: Training, start: PackStart
) -> Iterator[PackStarted | EpochDone]:
    """Train one pack on `data` (each member's data set) to the end from `start`, yielding its start and each epoch.

    The checkpoint is used only when the store holds every epoch before it (`start.recorded` is at least the
    checkpoint's); one ahead of the store (a store deleted or rolled back) is discarded and the pack trains from its
    first epoch, so no epoch goes unrecorded. Students get their `start.teacher` (`teacher_of`).
    """
    cfgs, run = [r.cfg for r in pack.runs], pack.first
    for d in {id(d): d for d in data}.values():
        if d.train_images.shape[1:] != run.cfg.image or d.classes != run.cfg.classes:
            raise StudyError(
                f"{d.name}: images {tuple(d.train_images.shape[1:])} with {d.classes} classes, "
                f"but {run.cfg.arch} expects {run.cfg.image} with {run.cfg.classes}"
            )
    device, teacher = training.device, start.teacher
    fresh = partial(PackTrainer, cfgs, run.train, pack.seeds, data, device, teacher, order_seeds=pack.order_seeds)
    trainer = fresh()
    if start.state is not None:
        try:
            trainer.load_state_dict(torch.load(io.BytesIO(start.state), map_location="cpu", weights_only=True))
        except Exception as e:  # torch.load raises many kinds for a damaged file
            raise StudyError(
                f"{checkpoint_path(training.folder, pack)}: unreadable pack checkpoint ({type(e).__name__}); delete "
                "it to train that pack again from its first epoch (its rows are recomputed)"
            ) from None
    discarded = None
    if trainer.epoch > start.recorded:
        discarded, trainer = trainer.epoch, fresh()
    yield PackStarted(pack.pack_id, trainer.epoch, list(trainer.diverged), torch.get_num_threads(), discarded)
    # cuda:N: the current device is where streams, graphs and Triton's launches go
    on_device = torch.cuda.device(device) if device.startswith("cuda") else nullcontext()
    finished = False
    try:
        with on_device:
            while not finished:
                started = time.time()
                rows = trainer.run_epoch()
                finished = trainer.done or all(d is not None for d in trainer.diverged)
                due = not finished and trainer.epoch % training.checkpoint_every == 0
                yield EpochDone(
                    pack.pack_id,
                    trainer.epoch,
                    rows,
                    list(trainer.diverged),
                    time.time() - started,
                    finished,
                    checkpoint=state_bytes(trainer) if due else None,
                    weights=weights_bytes(pack, trainer) if finished and training.keep_weights else None,
                )
    finally:
        if trainer.replay is not None:
            trainer.replay.release()  # its graph goes between captures of packs beside it (train/capture.py)


def state_bytes(trainer: PackTrainer) -> bytes:
    """The trainer's state_dict as the contents of a torch.save file."""
    buffer = io.BytesIO()
    torch.save(trainer.state_dict(), buffer)
    return buffer.getvalue()


def weights_bytes(pack: Pack, trainer: PackTrainer) -> list[bytes]:
    """Each member's final params as the contents of a safetensors file, with its run id and config in the metadata."""
    return [
        safetensors_bytes(
            {k: v.contiguous() for k, v in trainer.member_params(i).items()},
            metadata={"run_id": run.run_id, "config": json.dumps(run.config)},
        )
        for i, run in enumerate(pack.runs)
    ]

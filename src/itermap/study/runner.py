"""Running a study: plan it, claim its folder, train each unfinished pack epoch by epoch into the store.

Crash safety: an epoch's metric rows commit in one transaction, and only then is the pack's
checkpoint replaced (atomically). A resumed pack continues from its checkpoint's epoch and first
deletes any rows after it, so whatever moment a study was killed at, no committed epoch is lost
and no row is written twice.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

import itermap
from itermap.data import Dataset, load
from itermap.study.errors import StudyError
from itermap.study.lock import FolderLock
from itermap.study.plan import Pack, Plan, make_plan
from itermap.study.progress import StudyProgress
from itermap.study.spec import Spec, load_spec
from itermap.study.store import FILENAME, Store
from itermap.train import PackTrainer

OWNED = (FILENAME, f"{FILENAME}-wal", f"{FILENAME}-shm", "study.toml", "checkpoints", "weights",
         "report.html", "summary.md", "figures")  # fmt: skip  # what --force-new removes


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


def open_folder(plan: Plan, folder: Path, force_new: bool) -> Store:
    """The folder's store, created for `plan` if new; refuses a folder holding a different study."""
    if (folder / FILENAME).exists():
        store = Store(folder)
        held = store.meta()
        if held.get("plan_id") == plan.plan_id:
            return store
        store.close()
        if "plan_id" in held and not force_new:
            raise StudyError(
                f"{folder} holds another study ({held.get('study')!r}, {held.get('runs')} runs, spec in "
                f"{folder / 'study.toml'}); use --force-new to replace it, or --out for another folder"
            )
        for name in OWNED:
            path = folder / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    store = Store(folder)
    (folder / "study.toml").write_text(plan.spec.to_toml())
    store.create(
        plan,
        study=plan.spec.study.name,
        plan_id=plan.plan_id,
        runs=len(plan.runs),
        spec=plan.spec.to_toml(),
        notes="\n".join(plan.notes),
        created=time.time(),
        itermap_version=itermap.__version__,
        torch_version=torch.__version__,
        python_version=platform.python_version(),
        wall_seconds=0.0,
    )
    return store


def subset(data: Dataset, limit_train: int | None, limit_test: int | None) -> Dataset:
    """The first `limit_*` examples of each split (all when None)."""
    return dataclasses.replace(
        data,
        train_images=data.train_images[:limit_train],
        train_labels=data.train_labels[:limit_train],
        test_images=data.test_images[:limit_test],
        test_labels=data.test_labels[:limit_test],
    )


def atomic_save(obj: dict, path: Path) -> None:
    """torch.save to a temporary file, then rename over `path` (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_weights(pack: Pack, trainer: PackTrainer, folder: Path) -> None:
    """Each member's final params as weights/<run_id>.safetensors, with its config in the metadata."""
    (folder / "weights").mkdir(exist_ok=True)
    for i, run in enumerate(pack.runs):
        path = folder / "weights" / f"{run.run_id}.safetensors"
        tmp = path.with_name(path.name + ".tmp")
        tensors = {k: v.contiguous() for k, v in trainer.member_params(i).items()}
        save_file(tensors, str(tmp), metadata={"run_id": run.run_id, "config": json.dumps(run.config)})
        os.replace(tmp, path)


def train_pack(
    pack: Pack, data: Dataset, store: Store, folder: Path, spec: Spec, device: str, progress: StudyProgress, wall: "Clock"
) -> None:
    """Train one pack to the end, resuming from its checkpoint if there is one."""
    run = pack.first
    run_ids = [r.run_id for r in pack.runs]
    if data.train_images.shape[1:] != run.cfg.image or data.classes != run.cfg.classes:
        raise StudyError(f"{data.name}: images {tuple(data.train_images.shape[1:])} with {data.classes} classes, "
                         f"but {run.cfg.arch} expects {run.cfg.image} with {run.cfg.classes}")  # fmt: skip
    trainer = PackTrainer(run.cfg, run.train, pack.seeds, data, device)
    checkpoint = folder / "checkpoints" / f"{pack.pack_id}.pt"
    if checkpoint.exists():
        trainer.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True))
    store.start_pack(run_ids, trainer.epoch, trainer.diverged, device)
    members, label = len(pack.runs), f"{run.cfg.arch} on {run.dataset}"
    progress.pack(label, trainer.epoch, run.train.epochs, members)
    test_acc: float | None = None
    while True:
        started = time.time()
        rows = trainer.run_epoch()
        accs = [r.value for r in rows if r.split == "test" and r.metric == "accuracy"]
        test_acc = sum(accs) / len(accs) if accs else test_acc
        finished = trainer.done or all(d is not None for d in trainer.diverged)
        if finished and spec.train.keep_weights:
            save_weights(pack, trainer, folder)
        records = [(run_ids[r.member], r.epoch, r.split, r.metric, r.value) for r in rows]
        store.commit_epoch(run_ids, trainer.epoch, records, trainer.diverged, time.time() - started, finished,
                           wall_seconds=wall.total())  # fmt: skip
        if finished:
            break
        progress.epoch(trainer.epoch, members, test_acc)
        if trainer.epoch % spec.train.checkpoint_every == 0:
            checkpoint.parent.mkdir(exist_ok=True)
            atomic_save(trainer.state_dict(), checkpoint)
    checkpoint.unlink(missing_ok=True)
    skipped = (run.train.epochs - trainer.epoch + 1) * members
    progress.pack_done(members, skipped, test_acc, sum(d is not None for d in trainer.diverged))


class Clock:
    """Study wall time: what earlier sessions recorded plus this session's."""

    def __init__(self, before: float):
        self.before, self.start = before, time.time()

    def total(self) -> float:
        return self.before + time.time() - self.start


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
) -> Path:
    """Train a study (preset name, TOML path or Spec) into its folder, resuming what is there; returns the folder."""
    spec = resolve_spec(study, seeds, epochs, datasets)
    plan = make_plan(spec)
    device = resolve_device(device)
    folder = Path(out) if out is not None else Path("runs") / spec.study.name
    folder.mkdir(parents=True, exist_ok=True)
    progress = progress or StudyProgress(quiet=quiet)
    with FolderLock(folder):
        store = open_folder(plan, folder, force_new)
        try:
            run_packs(plan, store, folder, device, progress)
        finally:
            progress.stop()
            store.close()
    return folder


def run_packs(plan: Plan, store: Store, folder: Path, device: str, progress: StudyProgress) -> None:
    """Train every pack not yet finished, loading each data set once."""
    finished = store.finished_packs()
    for pack in plan.packs:  # a checkpoint left behind by a kill between the final commit and its removal
        if pack.pack_id in finished:
            (folder / "checkpoints" / f"{pack.pack_id}.pt").unlink(missing_ok=True)
    todo = [p for p in plan.packs if p.pack_id not in finished]
    if not todo:
        progress.say(f"{plan.spec.study.name} in {folder} is already complete ({len(plan.runs)} runs); nothing to do")
        return
    for note in plan.notes:
        progress.say(f"note: {note}")
    meta = store.meta()
    store.set_meta(device=device, device_name=device_name(device))
    units = {p.pack_id: len(p.runs) * p.first.train.epochs for p in plan.packs}
    done_units = sum(units[p] for p in finished)
    progress.start(len(plan.runs) - sum(len(p.runs) for p in todo), len(plan.runs), done_units, sum(units.values()))
    wall, loaded = Clock(float(meta.get("wall_seconds", 0))), {}
    for pack in todo:
        run = pack.first
        if run.dataset not in loaded:
            loaded = {run.dataset: load(run.dataset, plan.spec.data.data_dir)}  # keep one data set in memory
        data = subset(loaded[run.dataset], run.limit_train, run.limit_test)
        train_pack(pack, data, store, folder, plan.spec, device, progress, wall)

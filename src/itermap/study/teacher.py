"""The teacher of a distillation study: a `[teacher]` model trained first by the study itself, or a kept run of
another study (`study = DIR`, `run = ID`). Every [[grid]] and [[matched]] run of a study with a teacher is its
student: its `train.teacher` is the teacher's run id, it trains on the teacher's logits where its loss is `distill`,
and each evaluation measures its fidelity to the teacher (agreement, teacher_kl)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itermap.convert.stored import kept_weights, load_run
from itermap.study.errors import SpecError
from itermap.study.families import build, build_train
from itermap.study.spec import Spec
from itermap.train import TrainConfig

FOLDER = "teacher"  # DIR/teacher/<run_id>.safetensors: a copy of another study's kept run


@dataclass(frozen=True)
class Teacher:
    """A resolved teacher: its run id and either its config and training here, or the kept file it comes from."""

    run_id: str
    cfg: Any = None  # FamilyConfig of a teacher this study trains
    train: TrainConfig | None = None
    seed: int = 0
    source: Path | None = None  # another study's kept weights


def resolve(spec: Spec) -> Teacher | None:
    """The spec's [teacher]: None without one; a kept run of another study; or the config this study trains (as
    Teacher without run_id, which depends on the data set: see `Plan`)."""
    table = spec.teacher
    if table is None:
        return None
    if "study" in table or "run" in table:
        if set(table) != {"study", "run"}:
            raise SpecError("teacher: give `study` and `run` (a kept run of another study), or a model's table")
        try:
            path = kept_weights(Path(table["study"]), str(table["run"]))
            cfg, _, run = load_run(path)
        except ValueError as e:
            raise SpecError(f"teacher: {e}") from None
        if spec.data.datasets != [run["dataset"]]:
            raise SpecError(
                f"teacher: run {path.stem} was trained on {run['dataset']}; set [data] datasets = "
                f'["{run["dataset"]}"] to distil it'
            )
        if run["train"]["scaling"] != spec.train.scaling:
            raise SpecError(
                f"teacher: run {path.stem} read images scaled by {run['train']['scaling']!r}; set "
                f"[train] scaling = {run['train']['scaling']!r}"
            )
        return Teacher(path.stem, cfg, source=path)
    fields = {k: v for k, v in table.items() if k not in ("train", "seed")}
    overrides, seed = table.get("train", {}), table.get("seed", 0)
    if not isinstance(overrides, dict) or not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise SpecError("teacher: `train` is a table of [train] settings, `seed` a whole number >= 0")
    train = build_train(spec.train.trainer_fields(), overrides, "teacher.train")
    if train.loss == "distill":
        raise SpecError("teacher.train.loss: the teacher learns from labels; use 'last' or 'every-step'")
    if train.scaling != spec.train.scaling:
        raise SpecError(
            "teacher.train.scaling: the teacher must read images scaled as its students do; set it in [train] for both"
        )
    return Teacher("", build(fields, "teacher"), train, seed)


def with_kept_teacher(spec: Spec, folder: Path, run_id: str) -> Spec:
    """`spec` distilling a kept run of the study in `folder`, on the data set and scaling that run was trained with."""
    try:
        path = kept_weights(Path(folder), run_id)
        _, _, run = load_run(path)
    except ValueError as e:
        raise SpecError(f"--teacher: {e}") from None
    doc = spec.model_dump()
    doc["teacher"] = {"study": str(folder), "run": path.stem}
    doc["data"]["datasets"], doc["train"]["scaling"] = [run["dataset"]], run["train"]["scaling"]
    out = Spec.model_validate(doc)
    out._origin = spec.origin
    return out


def copy_source(teacher_source: Path, folder: Path) -> Path:
    """Another study's kept teacher copied into DIR/teacher/, so the study holds what its students learned from."""
    target = Path(folder) / FOLDER / teacher_source.name
    if not target.exists():
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(teacher_source, target)
    return target


def teacher_file(folder: Path, run_id: str) -> Path:
    """Where a study's teacher's weights are: kept by the study itself, or copied from another study."""
    own = Path(folder) / "weights" / f"{run_id}.safetensors"
    return own if own.exists() else Path(folder) / FOLDER / f"{run_id}.safetensors"

"""Cost of a plan: multiply-adds from the families' `macs`, and time from a short calibration.

Calibration trains a family's smallest and largest pack on 2,048 random images (the faster
of two epochs after a warm-up epoch) and fits seconds per example = a + b * (members x multiply-adds) for
that family. An evaluated example is counted as a third of a trained one (forward only).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict

import torch

from itermap.data import Dataset
from itermap.models import family_of
from itermap.study.errors import StudyError
from itermap.study.plan import Pack, Plan, Run
from itermap.study.training import TeacherWeights, one_thread
from itermap.train import PackTrainer

CALIBRATION_EXAMPLES = 2048


def example_units(pack: Pack) -> float:
    """Trained-example equivalents of the whole pack: epochs x (train + evaluations / 3); the validation images are
    evaluated with the test split."""
    train, (n_train, n_test) = pack.first.train, pack.first.sizes  # the same for all its runs
    evals = (n_test + (pack.first.validation or 0)) / train.eval_test_every + n_train / train.eval_train_every
    return train.epochs * (n_train + evals / 3)


def pack_macs(pack: Pack) -> float:
    """Multiply-adds to train the pack's runs (backward counted as twice the forward; a wide pack's padding not)."""
    return 3 * example_units(pack) * sum(r.macs for r in pack.runs)


def work(pack: Pack) -> int:
    """Multiply-adds of one example through every member, padding included: what a pack's step time grows with."""
    return len(pack.runs) * family_of(pack.cfg).macs(pack.cfg)


def pack_bytes(pack: Pack) -> int:
    """Memory a pack's training holds besides data and activations: each member's weights, gradients, Adam's moments."""
    return 4 * len(pack.runs) * family_of(pack.cfg).count_params(pack.cfg) * pack.first.train.torch_dtype.itemsize


def device_memory(device: str) -> int:
    """Bytes of memory on `device`: the GPU's, or the machine's."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_properties(torch.device(device)).total_memory
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(plan: Plan, device: str) -> None:
    """Refuse a plan whose largest pack could not fit in `device`'s memory, naming it and its size."""
    pack = max(plan.packs, key=pack_bytes)
    need, have = pack_bytes(pack), device_memory(device)
    if need > have:
        raise StudyError(
            f"{plan.spec.origin}: {pack.cfg.arch} has {family_of(pack.cfg).count_params(pack.cfg):,} "
            f"parameters; {len(pack.runs)} members of it need {need / 2**30:,.1f} GiB for weights, gradients and "
            f"Adam's state, more than the {have / 2**30:,.1f} GiB of {device}: use smaller models "
            "or fewer seeds"
        )


def stand_in(run: Run, n: int) -> tuple[Dataset, TeacherWeights | None]:
    """What a pack of `run`'s shape can train on to be timed: n random train and n test images of its size and
    classes, and for students a fresh member of their own shape as the teacher (a step's cost is not what it
    learns)."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (2 * n, *run.cfg.image), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, run.cfg.classes, (2 * n,), generator=g)
    data = Dataset("calibration", images[:n], labels[:n], images[n:], labels[n:], 0.5, 0.3, run.cfg.classes)
    return data, (run.cfg, family_of(run.cfg).init(run.cfg, 0)) if run.train.teacher else None


def calibrate(pack: Pack, device: str) -> float:
    """Measured seconds per trained example of this pack (all members together) on `device`."""
    run, n = pack.first, CALIBRATION_EXAMPLES
    data, teacher = stand_in(run, n)  # a student's stand-in teacher: its logits are computed once, untimed
    train = run.train.model_copy(update={"epochs": 3, "eval_train_every": 1, "eval_test_every": 1})
    trainer = PackTrainer([r.cfg for r in pack.runs], train, pack.seeds, data, device, teacher)
    trainer.run_epoch()  # warm-up
    times = []
    for _ in range(2):
        start = time.perf_counter()
        trainer.run_epoch()  # n trained + 2n evaluated examples; it syncs with the device to check for divergence
        times.append(time.perf_counter() - start)
    return min(times) / (n + 2 * n / 3)


def estimate_seconds(plan: Plan, device: str) -> dict[str, float]:
    """Estimated training seconds of every pack by pack id, from calibrating each family's extremes."""
    by_family: dict[str, list[Pack]] = defaultdict(list)
    for pack in plan.packs:
        by_family[pack.first.cfg.family].append(pack)
    out: dict[str, float] = {}
    with one_thread():  # as every training of a study runs
        calibrate(min(plan.packs, key=work), device)  # the first training in a process pays one-off setup costs
        for packs in by_family.values():
            small, large = min(packs, key=work), max(packs, key=work)
            c_small, c_large = calibrate(small, device), calibrate(large, device)
            slope = max(0.0, (c_large - c_small) / (work(large) - work(small))) if work(large) > work(small) else 0.0
            base = max(0.0, c_small - slope * work(small))
            out.update({p.pack_id: (base + slope * work(p)) * example_units(p) for p in packs})
    return out


def wall_seconds(plan: Plan, seconds: dict[str, float], workers: int) -> float:
    """The study's wall time when `workers` processes take its packs in plan order, each the next one free (as
    `--workers` does); its teachers first, as `run_packs` trains them."""
    teachers = [p for p in plan.packs if p.first.run_id in plan.teachers]
    free = [0.0] * workers  # when each worker is next free
    for group in (teachers, [p for p in plan.packs if p not in teachers]):
        for pack in group:
            free[free.index(min(free))] += seconds[pack.pack_id]
        free = [max(free)] * workers  # the students start once every teacher is trained
    return free[0]

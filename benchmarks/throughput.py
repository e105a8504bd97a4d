"""Training throughput of the reference grid: the loop a user would write against itermap's packs.

    python benchmarks/throughput.py [--grid reference|unrolled] [--steps 60] [--seeds 10] [--batch-sizes 64 128]
        [--threads N] [--device cpu|cuda] [--packings configs auto wide] [--repeats 3] [--workers N]

For every configuration of a grid (the seed2020 grid, or tied and untied unrolled nets of depth 4 and width
16 to 128) and each batch size, in one process:
  (a) naive: one model at a time, its to_torch module, DataLoader(TensorDataset, shuffle=True),
      torch.optim.Adam; (b) a PackTrainer of `seeds` members. Both run `steps` Adam steps after warm-up.
Prints model-samples/s for both, the pack's achieved GFLOP/s against the fp32 matmul rate measured here,
and last `speedup: X.XX`: total naive time over total pack time for the whole protocol (every
configuration trains the same number of samples there, so each is weighted by its naive time), with the
speedup that packs running at the matmul peak would reach against the same naive times (a ceiling).
Training FLOPs are counted as 3 x 2 x forward multiply-adds per sample (forward + two backward matmuls).

With `--packings configs wide` (reference grid) it then times one step of every run of seed2020 (both data sets,
10 seeds: 420 runs) in the packs each packing of `study/compose.py` makes, against the naive loop's 420 steps,
`--repeats` times with the packings interleaved, and prints the median protocol step and its speedup for each.

With `--workers N` it times seed2020 on N processes of one thread, as `itermap run --workers N` trains it, against
the naive loop in one process with PyTorch's default threads and in N processes of one thread (`cores`).
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import platform
import statistics
import time
from collections import Counter

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from itermap.data import load
from itermap.models import MLPConfig, RNNConfig, UnrolledConfig, family_of
from itermap.study.compose import FIXED_MACS, packed
from itermap.study.estimate import wall_seconds
from itermap.study.plan import make_plan
from itermap.study.spec import load_spec
from itermap.train import PackTrainer, TrainConfig, batches
from itermap.train.trainer import prepare

GRID = [MLPConfig(hidden=[])]
GRID += [MLPConfig(hidden=[w] * d) for d in (1, 2) for w in (2, 8, 16, 32, 64)]
GRID += [RNNConfig(hidden=h, layers=l, window=3) for l in (1, 2) for h in (2, 8, 16, 32, 64)]
GRIDS = {
    "reference": GRID,
    "unrolled": [UnrolledConfig(hidden=h, depth=4, tied=t) for t in (True, False) for h in (16, 32, 64, 128)],
}


def now(device: str) -> float:
    """perf_counter once the device has finished its queued work."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter()


def matmul_gflops(device: str, n: int = 1024, reps: int = 20) -> float:
    """Best fp32 GFLOP/s of an n x n matmul on the device (the peak that the packs are held against)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(reps):
        t = now(device)
        a @ b
        best = min(best, now(device) - t)
    return 2 * n**3 / best / 1e9


def naive_seconds(cfg, data, train: TrainConfig, steps: int, warmup: int, device: str) -> float:
    """Seconds per step of one model trained the way a user would write it (batches moved to the device)."""
    fam = family_of(cfg)
    module = fam.to_torch(cfg, fam.init(cfg, 0)).to(device)
    opt = torch.optim.Adam(module.parameters(), lr=train.lr)
    x = prepare(cfg, train, data.train_images, data, "cpu")
    loader = DataLoader(TensorDataset(x, data.train_labels), batch_size=train.batch_size, shuffle=True)
    it, t0 = iter(loader), 0.0
    for i in range(warmup + steps):
        if i == warmup:
            t0 = now(device)
        try:
            xb, yb = next(it)
        except StopIteration:
            it = iter(loader)
            xb, yb = next(it)
        loss = F.cross_entropy(module(xb.to(device)), yb.to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (now(device) - t0) / steps


def pack_seconds(cfgs: list, seeds: list[int], datas: list, train: TrainConfig, args) -> float:
    """Seconds per step of one pack: member m of config cfgs[m], seed seeds[m], on data set datas[m]."""
    trainer = PackTrainer(cfgs, train, seeds, datas, args.device)
    order = batches(trainer.orders(1), train.batch_size)
    for i in range(args.warmup):  # on CUDA this includes the step's capture
        trainer.step(order[i % len(order)])
    t0 = now(args.device)
    for i in range(args.steps):
        trainer.step(order[i % len(order)])
    return (now(args.device) - t0) / args.steps


def protocol(data, train: TrainConfig, packings: list[str], naive: dict[str, float], args) -> None:
    """seed2020's 420 runs, one step each: the naive loop against the packs of each packing, interleaved."""
    plan = make_plan(load_spec("seed2020"))
    # Both data sets' stand-ins: the mini set under two names, so that a wide pack stacks and offsets two of them.
    sources = {"mnist": dataclasses.replace(data, name="mnist"), "fashion-mnist": data}
    compositions = {k: packed(plan, args.device, k).packs for k in packings}
    naive_step = sum(naive[r.cfg.arch] * train.batch_size for r in plan.runs)
    steps: dict[str, list[float]] = {k: [] for k in packings}
    for _ in range(args.repeats):
        for k, packs in compositions.items():
            steps[k].append(
                sum(
                    pack_seconds([r.cfg for r in p.runs], p.seeds, [sources[r.dataset] for r in p.runs], train, args)
                    for p in packs
                )
            )
    print(
        f"\nseed2020, 420 runs, one step of batch {train.batch_size} each ({args.repeats} interleaved repeats, median):"
    )
    print(f"  naive loop            {1e3 * naive_step:9.1f} ms")
    for k, times in steps.items():
        step = statistics.median(times)
        print(
            f"  packing {k:<8} {len(compositions[k]):3} packs {1e3 * step:9.1f} ms  speedup {naive_step / step:6.2f}"
            f"  (repeats: {', '.join(f'{1e3 * t:.0f}' for t in times)} ms)"
        )


WORKER: dict = {}  # in a worker process: its data stand-ins and settings


def start_worker(args, train: TrainConfig) -> None:
    """A worker of `cores`: one intra-op thread, as `itermap run --workers N` gives each of its processes."""
    torch.set_num_threads(1)
    data = load("fashion-mnist-mini")
    WORKER.update(
        args=args,
        train=train,
        data=data,
        sources={"mnist": dataclasses.replace(data, name="mnist"), "fashion-mnist": data},
    )


def timed(task: tuple) -> float:
    """In a worker: seconds per step of one naive model ("naive", cfg) or of one planned pack ("pack", pack)."""
    kind, what = task
    w = WORKER
    if kind == "naive":
        return naive_seconds(what, w["data"], w["train"], w["args"].steps, w["args"].warmup, "cpu")
    datas = [w["sources"][r.dataset] for r in what.runs]
    return pack_seconds([r.cfg for r in what.runs], what.seeds, datas, w["train"], w["args"])


def cores(train: TrainConfig, args) -> None:
    """seed2020 on all of this machine's cores, as each side would use them: the naive loop in this one process with
    PyTorch's default threads (the loop a user writes) or in `workers` processes of one thread; itermap's packs (auto
    packing) in `workers` processes of one thread (`itermap run --workers N`). Each worker times one model's or one
    pack's steps while the others run theirs; a protocol step is the per-model times summed over the 420 runs over the
    workers (naive), or the packs' times scheduled on the workers in plan order (packs, `estimate.wall_seconds`)."""
    plan = packed(make_plan(load_spec("seed2020")), "cpu", "auto")
    data, runs_of = load("fashion-mnist-mini"), Counter(r.cfg.arch for r in plan.runs)
    archs = {r.cfg.arch: r.cfg for r in plan.runs}
    ctx = multiprocessing.get_context("spawn")
    results: dict[str, list[float]] = {"naive, 1 process": [], "naive, workers": [], "packs, workers": []}
    for _ in range(args.repeats):
        # Timed while no worker exists: a worker still starting (importing torch, loading data) would slow this
        # process's threads many times over (docs/performance.md, "Known limits").
        one = {a: naive_seconds(c, data, train, args.steps, args.warmup, "cpu") for a, c in archs.items()}
        results["naive, 1 process"].append(sum(runs_of[a] * t for a, t in one.items()))
        with ctx.Pool(args.workers, initializer=start_worker, initargs=(args, train)) as pool:
            pool.map(time.sleep, [2.0] * args.workers, chunksize=1)  # the workers started before their timings
            many = dict(zip(archs, pool.map(timed, [("naive", c) for c in archs.values()], chunksize=1)))
            results["naive, workers"].append(sum(runs_of[a] * t for a, t in many.items()) / args.workers)
            times = pool.map(timed, [("pack", p) for p in plan.packs], chunksize=1)
            seconds = {p.pack_id: t for p, t in zip(plan.packs, times)}
            results["packs, workers"].append(wall_seconds(plan, seconds, args.workers))
    step = {k: statistics.median(v) for k, v in results.items()}
    print(
        f"\nseed2020 on {args.workers} worker processes of 1 thread (this process: {torch.get_num_threads()} threads),"
        f" one step of batch {train.batch_size} for all 420 runs ({args.repeats} interleaved repeats, median):"
    )
    for k, v in results.items():
        print(f"  {k:<18} {1e3 * step[k]:9.1f} ms  (repeats: {', '.join(f'{1e3 * t:.0f}' for t in v)} ms)")
    print(
        f"  packs on {args.workers} workers against the naive loop in 1 process: "
        f"{step['naive, 1 process'] / step['packs, workers']:.2f}x; against it on {args.workers} workers: "
        f"{step['naive, workers'] / step['packs, workers']:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", choices=sorted(GRIDS), default="reference")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--packings", nargs="*", default=[], choices=["configs", "wide", "auto"])
    parser.add_argument("--fixed-macs", type=float, default=None, help="the cost model's F / c for --packings auto")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=0, help="then time seed2020 on N processes (CPU)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load("fashion-mnist-mini")
    if args.fixed_macs is not None:
        FIXED_MACS["cuda" if args.device.startswith("cuda") else "cpu"] = args.fixed_macs
    peak = matmul_gflops(args.device)
    where = (
        torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or platform.machine()
    )
    print(f"machine: {where}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"fp32 matmul peak (1024^3): {peak:.1f} GFLOP/s")
    totals = {}
    for b in args.batch_sizes:
        train = TrainConfig(batch_size=b)
        print(
            f"\nbatch {b}: {'config':<22} {'params':>7} {'naive s/s':>11} {'pack s/s':>11} {'speedup':>8} {'GFLOP/s':>8} {'% peak':>7}"
        )
        naive_total = pack_total = ideal_total = 0.0  # ideal: every pack at the matmul peak
        naive = {}  # s per model-sample, by arch
        for cfg in GRIDS[args.grid]:
            fam = family_of(cfg)
            t_naive = naive[cfg.arch] = naive_seconds(cfg, data, train, args.steps, args.warmup, args.device) / b
            members = list(range(args.seeds))
            t_pack = pack_seconds([cfg] * args.seeds, members, [data] * args.seeds, train, args) / (b * args.seeds)
            gflops = 6 * fam.macs(cfg) / t_pack / 1e9
            naive_total, pack_total = naive_total + t_naive, pack_total + t_pack
            ideal_total += 6 * fam.macs(cfg) / (peak * 1e9)
            print(
                f"{'':9}{cfg.arch:<22} {fam.count_params(cfg):>7,} {1 / t_naive:>11,.0f} {1 / t_pack:>11,.0f}"
                f" {t_naive / t_pack:>8.2f} {gflops:>8.1f} {100 * gflops / peak:>6.1f}%"
            )
        totals[b] = naive_total / pack_total
        print(
            f"batch {b}: protocol-weighted speedup {totals[b]:.2f} (every pack at the matmul peak would give "
            f"{naive_total / ideal_total:.2f}, at 70% of it {0.7 * naive_total / ideal_total:.2f})"
        )
        if args.packings and args.grid == "reference":
            protocol(data, train, args.packings, naive, args)
        if args.workers and args.grid == "reference":
            cores(train, args)
    print(f"speedup: {totals[args.batch_sizes[0]]:.2f}")


if __name__ == "__main__":
    main()

"""The cost model's F / c (`study/compose.py`, `FIXED_MACS`) measured on a device.

    python benchmarks/fixed_cost.py [--device cpu|cuda] [--threads N] [--steps 20] [--warmup 5] [--repeats 3]
        [--members 1 4 16 64 100] [--batch-size 64]

For each configuration of a small list spanning the seed2020 grid's shapes (and the `windows` preset's heaviest, an
RNN of 160 units reading one column a step, where padding costs most), times one Adam step of a PackTrainer
of M members of that configuration (M in `--members`, on the fashion-mnist-mini stand-in data) after warm-up,
`--repeats` times interleaved (repeat -> configuration -> members), median per point. Then fits by least squares,
per configuration, the cost model of compose.py for a step of batch B:

    t_step = F + c * sum_m macs(m) = F + c * M * macs(cfg)      (macs: forward multiply-adds of one example)

so c is seconds per multiply-add of one example through one member in a step of B examples (c = B x the seconds
of one multiply-add), and F / c is in multiply-adds per example: the unit compose.py compares padding against.
Prints the machine line, each configuration's median step per M, then per configuration F (us), c / B (ps per
multiply-add), F / c (multiply-adds per example) and the fit's R^2, and last `fixed_macs: X`: the median of F / c
over the configurations (the number for FIXED_MACS). F / c is "inf" where c <= 0 (the step does not grow with its
members at these sizes); a negative F is printed as it is.
"""

from __future__ import annotations

import argparse
import platform
import statistics

import numpy as np
import torch
from throughput import matmul_gflops, pack_seconds  # benchmarks/throughput.py, next to this script

from itermap.data import load
from itermap.models import MLPConfig, RNNConfig, family_of
from itermap.train import TrainConfig

CONFIGS = [
    MLPConfig(hidden=[]),
    MLPConfig(hidden=[64]),
    MLPConfig(hidden=[64, 64]),
    RNNConfig(hidden=64, layers=1, window=3),
    RNNConfig(hidden=64, layers=2, window=3),
    RNNConfig(hidden=160, layers=1, window=1),
]


def measure(args) -> dict[str, dict[int, list[float]]]:
    """Seconds per step by arch and members, `repeats` each, interleaved: repeat -> configuration -> members."""
    data, train = load("fashion-mnist-mini"), TrainConfig(batch_size=args.batch_size)
    times: dict[str, dict[int, list[float]]] = {c.arch: {m: [] for m in args.members} for c in CONFIGS}
    for _ in range(args.repeats):
        for cfg in CONFIGS:
            for m in args.members:
                times[cfg.arch][m].append(pack_seconds([cfg] * m, list(range(m)), [data] * m, train, args))
    return times


def fit(x: np.ndarray, t: np.ndarray) -> tuple[float, float, float]:
    """Least-squares t = F + c x: (F, c, R^2)."""
    c, f = np.polyfit(x, t, 1)
    ss_res, ss_tot = float(np.sum((t - (f + c * x)) ** 2)), float(np.sum((t - t.mean()) ** 2))
    return float(f), float(c), 1 - ss_res / ss_tot if ss_tot > 0 else float("nan")


def report(times: dict[str, dict[int, list[float]]], args) -> list[float]:
    """Print the median steps and each configuration's fit; return F / c by configuration."""
    b, ratios, why = args.batch_size, [], []
    print(f"\nmedian step (ms) of a pack of M members, batch {b}, {args.repeats} interleaved repeats:")
    print(f"{'config':<11} {'macs':>7} " + " ".join(f"{f'M={m}':>8}" for m in args.members))
    for cfg in CONFIGS:
        row = [statistics.median(times[cfg.arch][m]) for m in args.members]
        print(f"{cfg.arch:<11} {family_of(cfg).macs(cfg):>7,} " + " ".join(f"{1e3 * t:>8.2f}" for t in row))
    print(f"\n{'config':<11} {'F (us)':>9} {'c/B (ps/MAC)':>13} {'F/c (MAC/ex)':>13} {'R^2':>6}")
    for cfg in CONFIGS:
        # x: multiply-adds of one example through all M members, [len(members)]; t: median seconds per step.
        x = np.array([m * family_of(cfg).macs(cfg) for m in args.members], dtype=float)
        t = np.array([statistics.median(times[cfg.arch][m]) for m in args.members])
        f, c, r2 = fit(x, t)
        ratio = f / c if c > 0 else float("inf")
        if c <= 0:
            why.append(f"{cfg.arch}: c <= 0, the step does not grow with its members at these sizes")
        ratios.append(ratio)
        # c is seconds per (multiply-add per example) in a step of b examples; c / b is seconds per multiply-add.
        print(f"{cfg.arch:<11} {1e6 * f:>9.1f} {1e12 * c / b:>13.3f} {ratio:>13.4g} {r2:>6.3f}")
    for line in why:
        print(f"  F/c = inf for {line}")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--members", type=int, nargs="+", default=[1, 4, 16, 64, 100])
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    if len(set(args.members)) < 2:
        parser.error("--members: at least two different sizes to fit a line")
    if args.threads:
        torch.set_num_threads(args.threads)
    peak = matmul_gflops(args.device)
    where = (
        torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or platform.machine()
    )
    print(f"machine: {where}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"fp32 matmul peak (1024^3): {peak:.1f} GFLOP/s")
    ratios = report(measure(args), args)
    print(f"fixed_macs: {statistics.median(ratios):.4g}")


if __name__ == "__main__":
    main()

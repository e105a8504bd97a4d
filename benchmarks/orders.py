"""A pack's forward and backward in each order its family offers: an RNN's layered, wavefront and fused (Triton)
steps, an iterative map's blocks or one matrix.

    python benchmarks/orders.py [--device cuda] [--members 100] [--batch-size 64] [--steps 50] [--repeats 5]
        [--blocks 32x32 32x16 16x16 32x32x32 32x16x32]

For rnn-1x64 and rnn-2x64 reading 3 columns a step (9 steps, as in seed2020) and 1 column (28 steps, as the
`windows` preset's narrowest), rnn-1x160 reading 1 (the `windows` preset's widest), and sparse-2x38 at f = 0.5 (the
`sparsity` preset's larger budget), times forward + backward of a pack of `members` members on one batch (the
loss: the last step's logits summed), in each order, the orders interleaved `repeats` times; prints the median
milliseconds and each order's speedup over the first (the CPU's). On CUDA each order's pass is captured once as a
CUDA graph and replayed, as training replays its step (train/capture.py): what remains is the chain of dependent
kernels, which the orders shorten (an RNN: layered T L steps, wavefront T + L - 1 ticks, fused one kernel per layer
each way; an iterative map: a matmul per block an iteration, or one). The fused order runs only on CUDA (on the
CPU, Triton would run in its interpreter), once for each of `--blocks`: batch rows x units a slice of the recurrent
product (fused.BLOCK_B x fused.BLOCK_K), and with a third number the units of h_t computed at once
(fused.BLOCK_N; without, all of them: the width rounded up to a power of 2); the first is the default. Compiled for
Hopper, 32 x 32 spills registers from 256 units of state up and 16 units a slice does not, and tiles of 32 leave out
the padding (160 units in 5 tiles, not one of 256; benchmarks/kernels.py): which runs faster is this benchmark's to
say.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

import torch
from throughput import now  # benchmarks/throughput.py, next to this script

from itermap.models import FamilyConfig, RNNConfig, SparseConfig, family_of, fused
from itermap.models.stacked import stack

RNNS = [RNNConfig(hidden=64, layers=l, window=w) for w in (3, 1) for l in (1, 2)] + [
    RNNConfig(hidden=160, layers=1, window=1)
]
MAPS = [SparseConfig(hidden=38, fraction=0.5)]


def pass_of(cfg: FamilyConfig, order: str, args: argparse.Namespace) -> Callable[[], None]:
    """One forward + backward of the pack in `order`, as a callable (on CUDA: a captured graph's replay, which keeps
    the fused kernels' blocks of the moment of capture)."""
    fam = family_of(cfg)
    params = {
        k: v.to(args.device).requires_grad_() for k, v in stack([fam.init(cfg, s) for s in range(args.members)]).items()
    }
    g = torch.Generator().manual_seed(0)
    images = torch.randn(args.members, args.batch_size, 28, 28, generator=g)
    x = torch.stack([fam.view(cfg, im) for im in images]).to(args.device)  # [M, B, T, I] or [M, B, H*W]

    def step() -> None:
        for p in params.values():
            p.grad = None
        fam.forward(cfg, params, x, order=order).sum().backward()

    if not args.device.startswith("cuda"):
        return step
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):  # warm-up: Triton compiles, autograd and cuBLAS set up, before the capture
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph.replay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--blocks", nargs="+", default=["32x32", "32x16", "16x16", "32x32x32", "32x16x32"])
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    where = torch.cuda.get_device_name() if cuda else "cpu"
    print(f"machine: {where}, torch {torch.__version__}; {args.members} members, batch {args.batch_size}")
    blocks = [[int(n) for n in b.split("x")] for b in args.blocks] if cuda else []
    for cfg in RNNS + MAPS:
        if isinstance(cfg, RNNConfig):
            passes = {o: pass_of(cfg, o, args) for o in ("layered", "wavefront")}
            for rows, units, *tile in blocks:
                # read at each launch; a graph keeps those of its capture
                fused.BLOCK_B, fused.BLOCK_K, fused.BLOCK_N = rows, units, tile[0] if tile else None
                passes[f"fused {'x'.join(map(str, [rows, units, *tile]))}"] = pass_of(cfg, "fused", args)
        else:
            passes = {o: pass_of(cfg, o, args) for o in ("blocks", "matrix")}
        times: dict[str, list[float]] = {o: [] for o in passes}
        for _ in range(args.repeats):
            for o, run in passes.items():
                run()
                t0 = now(args.device)
                for _ in range(args.steps):
                    run()
                times[o].append((now(args.device) - t0) / args.steps)
        base = statistics.median(next(iter(times.values())))
        cells = "  ".join(
            f"{o} {1e3 * statistics.median(t):7.3f} ms ({base / statistics.median(t):4.2f}x)" for o, t in times.items()
        )
        print(f"{cfg.arch} ({cfg.step_count} steps): {cells}")


if __name__ == "__main__":
    main()

"""The operations a training step dispatches, for each pack of the long presets packed for CUDA, counted on a CPU.

    python benchmarks/chains.py [--presets seed2020 matched depth windows sparsity distill] [--us-per-op 6.4]
        [--orders cuda|cpu] [--packs 3]

On a GPU a small pack's step is a chain of tiny dependent kernels (train/capture.py), so its time is about its
operations times a few microseconds, whatever its arithmetic. This counts them without a GPU: one Adam step of a
2-member stand-in of each pack (the count does not depend on the members or their widths) under a
TorchDispatchMode, views, allocations and profiler markers left out, the models taking the orders they take on
CUDA (rnn.default_order, itermap.default_order; `--orders cpu`: those of the CPU, for comparison), a fused
recurrence counted as its one kernel (run here in Triton's interpreter, uncounted). Prints, per preset, its packs,
the longest chains, and at `--us-per-op` the seconds their launches take, over all packs and for the longest.

The default, 6.4 us, is seed2020's mlp-0 pack on the H200 (21.6 s for 187,600 steps of 18 operations, its
evaluations included). With the CPU's orders, which that run (itermap 0.1.0) stepped in, the same rate gives its
RNN packs within 13% (rnn-2x64 170 s against 186.3 measured, rnn-1x64 91 s against 104.4) and its 100-member MLP
packs at about half (36 s against 59.9, 29 against 54.9): a rough model of the chains, not of the arithmetic.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from contextlib import contextmanager, nullcontext
from typing import Any

os.environ["TRITON_INTERPRET"] = "1"  # the fused kernels run on CPU tensors; read when they are defined

import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

from itermap.models import fused, itermap, rnn  # noqa: E402
from itermap.study.compose import packed  # noqa: E402
from itermap.study.estimate import stand_in  # noqa: E402
from itermap.study.plan import Pack, make_plan  # noqa: E402
from itermap.study.spec import load_spec  # noqa: E402
from itermap.train import PackTrainer  # noqa: E402
from itermap.train.trainer import batches  # noqa: E402

PRESETS = ["seed2020", "matched", "depth", "windows", "sparsity", "distill"]
NOT_KERNELS = {  # what launches nothing: views, allocations
    "aten.view", "aten._unsafe_view", "aten.empty", "aten.empty_strided", "aten.empty_like", "aten.new_empty",
    "aten.new_empty_strided", "aten.t", "aten.transpose", "aten.expand", "aten.as_strided", "aten.unsqueeze",
    "aten.squeeze", "aten.select", "aten.slice", "aten.permute", "aten.detach", "aten.unbind", "aten.split",
    "aten.split_with_sizes", "aten.alias", "aten.reshape", "aten._reshape_alias", "aten.lift_fresh", "aten.diagonal",
}  # fmt: skip


class Operations(TorchDispatchMode):
    """Counts the operations dispatched while it is on, by name; `kernel()` counts one and hides what it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()
        self.hidden = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        name = func.overloadpacket._qualified_op_name.replace("::", ".")
        if not self.hidden and name not in NOT_KERNELS and not name.startswith("profiler."):
            self.counts[name] += 1
        return func(*args, **(kwargs or {}))

    @contextmanager
    def kernel(self, name: str):
        """One operation `name`, however many the code inside dispatches (Triton's interpreter copies tensors)."""
        self.counts[name] += 1
        self.hidden += 1
        try:
            yield
        finally:
            self.hidden -= 1


def step_operations(pack: Pack, orders: str) -> int:
    """Operations of one training step of a 2-member stand-in of `pack`, in the orders `orders` ("cuda" or "cpu")
    takes."""
    run, cfgs = pack.first, [r.cfg for r in pack.runs[:2]]
    data, teacher = stand_in(run, 128)
    trainer = PackTrainer(cfgs, run.train, list(range(len(cfgs))), data, "cpu", teacher)
    first, second = batches(trainer.orders(1), run.train.batch_size)[:2]
    ops = Operations()
    with as_on_cuda(ops) if orders == "cuda" else nullcontext():
        trainer.step(first)  # Adam's state and the models' cached masks made: what a graph replays comes after
        ops.counts.clear()
        with ops:
            trainer.step(second)
    return sum(ops.counts.values())


@contextmanager
def as_on_cuda(ops: Operations):
    """The models' default orders as on CUDA, and each fused kernel launch counted as one operation."""
    rnn_order, map_order, launch = rnn.default_order, itermap.default_order, fused._launch

    def counted(kernel: Any, states: torch.Tensor, *args: Any) -> None:
        with ops.kernel(f"fused{kernel.__name__}"):
            launch(kernel, states, *args)

    rnn.default_order = lambda cfg, device, dtype: rnn_order(cfg, "cuda", dtype)
    itermap.default_order = lambda cfg, device: map_order(cfg, "cuda")
    fused._launch = counted
    try:
        yield
    finally:
        rnn.default_order, itermap.default_order, fused._launch = rnn_order, map_order, launch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=PRESETS)
    parser.add_argument("--us-per-op", type=float, default=6.4)
    parser.add_argument("--orders", choices=["cuda", "cpu"], default="cuda", help="the models' orders on this device")
    parser.add_argument("--packs", type=int, default=3, help="the longest packs to list for each preset")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for preset in args.presets:
        plan = packed(make_plan(load_spec(preset)), "cuda")
        rows = []
        for pack in plan.packs:
            train = pack.first.train
            steps = train.epochs * -(-pack.first.sizes[0] // train.batch_size)  # every batch, the last short one too
            ops = step_operations(pack, args.orders)
            rows.append((ops * steps * args.us_per_op * 1e-6, ops, steps, len(pack.runs), pack.cfg.arch))
        rows.sort(reverse=True)
        total = sum(r[0] for r in rows)
        print(f"{preset}: {len(rows)} packs on CUDA; launches at {args.us_per_op} us an operation: {total:,.0f} s in "
              f"all, {rows[0][0]:,.0f} s for the longest pack")  # fmt: skip
        for seconds, ops, steps, members, arch in rows[: args.packs]:
            print(f"  {arch:<28} {members:>4} members  {ops:>4} operations x {steps:,} steps  {seconds:,.0f} s")


if __name__ == "__main__":
    main()

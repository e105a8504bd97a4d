"""The fused recurrence's kernels compiled for a GPU that need not be here: registers, spills, shared memory.

    python benchmarks/kernels.py [--arch 90] [--widths 3 20 64 100 137 160 256]

Triton compiles ahead of time for any NVIDIA target with the ptxas it ships, so this runs on a machine without a
GPU. It is the check that Triton's interpreter, which runs the kernels in the tests (TRITON_INTERPRET=1), cannot
make: the interpreter runs code that the compiler would refuse. For each width, `models/fused.py`'s forward and
backward kernel at the block shape its launcher picks (fused.blocks), compiled for `--arch` (90: Hopper, the H200),
and what the binary uses per thread: registers (at most 255; past them the compiler spills to local memory, the
"stack" column) and the block's shared memory.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile

os.environ["TRITON_INTERPRET"] = "0"  # compile the kernels, even where the tests' conftest asked for the interpreter

import triton  # noqa: E402
from triton import knobs  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

from itermap.models import fused  # noqa: E402

# The kernels' run-time arguments by type (the rest are constexpr): pointers to fp32, integers.
KERNELS = {
    "forward": (fused._forward, {"a": "*fp32", "w": "*fp32", "h": "*fp32", "T": "i32", "B": "i32"}),
    "backward": (
        fused._backward,
        {"g": "*fp32", "g_m": "i32", "g_t": "i32", "h": "*fp32", "w": "*fp32", "dz": "*fp32", "T": "i32", "B": "i32"},
    ),
}


def resources(kernel: triton.JITFunction, signature: dict[str, str], hidden: int, arch: int) -> dict[str, int]:
    """Registers, stack (spilled) bytes and shared bytes per thread block of `kernel` for `hidden` units on `arch`."""
    nb, warps = fused.blocks(hidden)
    constexprs = {"H": hidden, "NB": nb, "BB": fused.BLOCK_B, "KB": fused.BLOCK_K}
    signature = {**signature, **dict.fromkeys(constexprs, "constexpr")}
    compiled = triton.compile(
        ASTSource(fn=kernel, signature=signature, constexprs=constexprs),
        target=GPUTarget("cuda", arch, 32),
        options={"num_warps": warps},
    )
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:  # cuobjdump reads a file
        f.write(compiled.asm["cubin"])
        f.flush()
        dump = subprocess.run(
            [knobs.nvidia.cuobjdump.path, "--dump-resource-usage", f.name], capture_output=True, text=True, check=True
        ).stdout
    found = re.search(r"REG:(\d+) STACK:(\d+)", dump)
    if found is None:
        raise RuntimeError(f"no resource usage in cuobjdump's output:\n{dump}")
    shared = compiled.metadata.shared  # what the launch allocates for the layouts Triton chose
    return {"registers": int(found[1]), "stack": int(found[2]), "shared": shared, "nb": nb, "warps": warps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", type=int, default=90, help="compute capability x 10: 90 for the H100/H200")
    parser.add_argument("--widths", type=int, nargs="+", default=[3, 20, 64, 100, 137, 160, 256])
    args = parser.parse_args()
    tiles = "all units" if fused.BLOCK_N is None else f"{fused.BLOCK_N} units"
    print(
        f"triton {triton.__version__}, sm_{args.arch}; blocks of {fused.BLOCK_B} rows, {fused.BLOCK_K} units a slice, "
        f"tiles of {tiles}"
    )
    for name, (kernel, signature) in KERNELS.items():
        for hidden in args.widths:
            r = resources(kernel, signature, hidden, args.arch)
            print(
                f"{name:<8} hidden {hidden:>3} (tile {r['nb']:>3}, {r['warps']} warps): registers {r['registers']:>3}"
                f"  stack {r['stack']:>3} B  shared {r['shared']:>5} B"
            )


if __name__ == "__main__":
    main()

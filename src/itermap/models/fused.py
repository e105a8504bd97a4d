"""The tanh recurrence of one RNN layer as one Triton kernel forward and one backward, for every member at once.

    h_t = tanh(a_t + h_{t-1} W^T),  h_{-1} = 0,  a_t = W_ih x_t + b_ih + b_hh (computed before, in one matmul)

On a GPU a pack of small RNNs is latency-bound: autograd runs each step as a matmul, an add and a tanh, forward and
backward, so a 2-layer net over 9 steps is a chain of ~150 dependent kernels of a few microseconds each. Here a
program owns one member and a block of its batch and loops over the steps: the layer is one kernel forward and one
backward, whatever T. Each step stores its states and reads them back, 32 units at a time, for the next step's
product with W (read from cache each step): no register block has to hold W, so any width up to
rnn.FUSED_MAX_HIDDEN works (the `windows` preset's 160 among them), and the tile of h_t being computed, [32, NB],
is the only block sized by the width (NB: by default the width rounded up to a power of 2, one tile; BLOCK_N sets
smaller tiles).

Backward, from the output's gradient g_t = dL/dh_t (what the readout and the layer above send back):

    dz_t = (g_t + dz_{t+1} W) * (1 - h_t^2),  dz_T = 0      (z_t = a_t + h_{t-1} W^T, dh_t/dz_t = 1 - h_t^2)

The kernel walks t backward holding dz_{t+1} W, and writes every dz_t: that is dL/da_t. The weight's gradient
dL/dW = sum_{t>=1} dz_t^T h_{t-1} is then one batched matmul over all steps, outside the loop.

fp32 only, with `input_precision="ieee"` (never TF32): the products are those of the autograd path, summed in
another order. tanh is computed from exp, tanh(z) = sign(z) (1 - e) / (1 + e) with e = exp(-2|z|) (within about
1e-7 of torch.tanh): libdevice's tanh has no counterpart in Triton's interpreter, which runs these kernels on the
CPU in the tests (TRITON_INTERPRET=1).
"""

from __future__ import annotations

import threading
from contextlib import nullcontext

import torch
import triton
import triton.language as tl

BLOCK_B = 32  # batch rows per program: for a training batch of 64, 2 programs per member
BLOCK_K = 32  # hidden units per slice of the recurrent product (tl.dot wants each side at least 16)
# Units of h_t computed at once: None for all (one tile of the width rounded up to a power of 2: 256 for 160 units,
# a third of them padding), or a power of 2 >= 16 for tiles of that many (no padding past the last tile, fewer
# registers, more loop turns). benchmarks/orders.py --blocks times both on the GPU.
BLOCK_N: int | None = None
# Packs side by side (study/side_by_side.py) launch from several threads; Triton's launcher compiles a kernel on
# its first call and its caches are not made for concurrent callers, so launches take turns (a captured step
# replays its kernels without calling back here).
_launching = threading.Lock()


@triton.jit
def _tanh(z):
    e = tl.exp(-2.0 * tl.abs(z))
    t = (1.0 - e) / (1.0 + e)
    return tl.where(z >= 0, t, -t)


@triton.jit
def _plus_times(out, v, w, at, rows, cols, B, H: tl.constexpr, KB: tl.constexpr, transpose: tl.constexpr):
    """out + v_t W^T (transpose) or out + v_t W for one member, out [BB, NB] the units `cols`: v_t [BB, H] read back
    from memory at row starts `at`, W [H, H] from memory, a slice of KB units at a time."""
    for k0 in range(0, H, KB):
        ks = k0 + tl.arange(0, KB)
        vk = tl.load(v + at[:, None] + ks[None, :], mask=(rows[:, None] < B) & (ks[None, :] < H), other=0.0)
        if transpose:  # W^T[k, j] = W[j, k]
            wk = tl.load(w + cols[None, :] * H + ks[:, None], mask=(ks[:, None] < H) & (cols[None, :] < H), other=0.0)
        else:
            wk = tl.load(w + ks[:, None] * H + cols[None, :], mask=(ks[:, None] < H) & (cols[None, :] < H), other=0.0)
        out += tl.dot(vk, wk, input_precision="ieee")  # [BB, KB] @ [KB, NB]
    return out


@triton.jit
def _forward(a, w, h, T, B, H: tl.constexpr, NB: tl.constexpr, BB: tl.constexpr, KB: tl.constexpr):
    # m in int64: offsets into [M, T, B, H] pass 2**31 for large evaluation chunks (400 x 28 x 2,048 x 128)
    m, rows = tl.program_id(0).to(tl.int64), tl.program_id(1) * BB + tl.arange(0, BB)
    w += m * H * H
    for t in range(T):
        at = ((m * T + t) * B + rows) * H  # where each row's step-t state starts in [M, T, B, H]
        for n0 in range(0, H, NB):  # h_t's units, NB at a time (by default all: one tile)
            cols = n0 + tl.arange(0, NB)
            block = (rows[:, None] < B) & (cols[None, :] < H)  # [BB, NB]: this program's rows, the real units
            z = tl.load(a + at[:, None] + cols[None, :], mask=block, other=0.0)
            if t > 0:  # h_{-1} = 0
                z = _plus_times(z, h, w, at - B * H, rows, cols, B, H, KB, True)  # + h_{t-1} W^T
            tl.store(h + at[:, None] + cols[None, :], _tanh(z), mask=block)  # padded units: tanh(0 + 0) = 0
        tl.debug_barrier()  # every thread's part of h_t is stored before any reads it back whole at t + 1


@triton.jit
def _backward(g, g_m, g_t, h, w, dz, T, B, H: tl.constexpr, NB: tl.constexpr, BB: tl.constexpr, KB: tl.constexpr):
    m, rows = tl.program_id(0).to(tl.int64), tl.program_id(1) * BB + tl.arange(0, BB)
    w += m * H * H
    for i in range(T):
        t = T - 1 - i
        at = ((m * T + t) * B + rows) * H
        g_at = m * g_m + t * g_t + rows * H  # g's [B, H] are dense, its M and T strided
        for n0 in range(0, H, NB):
            cols = n0 + tl.arange(0, NB)
            block = (rows[:, None] < B) & (cols[None, :] < H)
            ht = tl.load(h + at[:, None] + cols[None, :], mask=block, other=0.0)
            d = tl.load(g + g_at[:, None] + cols[None, :], mask=block, other=0.0)
            if i > 0:  # + dz_{t+1} W
                d = _plus_times(d, dz, w, at + B * H, rows, cols, B, H, KB, False)
            tl.store(dz + at[:, None] + cols[None, :], d * (1.0 - ht * ht), mask=block)  # dz_t
        tl.debug_barrier()


def blocks(hidden: int) -> tuple[int, int]:
    """The tile of h_t a program computes at once, NB units (all of them by default: the width rounded up to a power
    of 2, at least 16; at most BLOCK_N where that is set), and the warps, for a layer of `hidden` units."""
    hp = max(16, triton.next_power_of_2(hidden))
    nb = hp if BLOCK_N is None else min(BLOCK_N, hp)
    return nb, 4 if nb <= 64 else 8


def _launch(kernel: triton.JITFunction, states: torch.Tensor, *args: torch.Tensor | int) -> None:
    """`kernel` on `args` over every member and batch block of the states [M, T, B, H], on their device."""
    m, t, b, h = states.shape
    nb, warps = blocks(h)
    cuda = states.device.type == "cuda"  # Triton launches on the current device: make it theirs (cuda:N)
    with _launching, torch.cuda.device(states.device) if cuda else nullcontext():
        kernel[(m, triton.cdiv(b, BLOCK_B))](*args, t, b, h, nb, BLOCK_B, BLOCK_K, num_warps=warps)


class Recurrence(torch.autograd.Function):
    """h = recurrence(a [M, T, B, H], W [M, H, H]) -> [M, T, B, H], differentiable in both."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        a, w = a.contiguous(), w.contiguous()
        h = torch.empty_like(a)
        _launch(_forward, h, a, w, h)
        ctx.save_for_backward(h, w)
        return h

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = ctx.saved_tensors
        m, t, b, n = h.shape
        if g.stride()[2:] != (n, 1):  # the kernel reads g's steps and members by stride, each step's [B, H] dense
            g = g.contiguous()
        dz = torch.empty_like(h)
        _launch(_backward, h, g, g.stride(0), g.stride(1), h, w, dz)
        # dL/dW = sum_{t>=1} dz_t^T h_{t-1}: [M, H, (T-1)*B] @ [M, (T-1)*B, H], the steps as views of the rows
        dw = torch.bmm(dz.view(m, t * b, n)[:, b:].transpose(1, 2), h.view(m, t * b, n)[:, : (t - 1) * b])
        return dz, dw


def recurrence(a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Every step's state h_t = tanh(a_t + h_{t-1} W^T): a [M, T, B, H], W [M, H, H] -> h [M, T, B, H]."""
    return Recurrence.apply(a, w)

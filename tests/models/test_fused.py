"""The fused tanh recurrence (one Triton kernel per layer) against autograd; without a GPU in Triton's interpreter.

Fused and autograd sum in different orders, so neither is exact in fp32: each is held against the float64 autograd
result, and the fused one must be as close to it as autograd's own fp32 result is, within a small factor (or
within 1e-6 of the values' scale, where autograd's fp32 happens to be closer still).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from itermap.models import RNNConfig, family_of, fused, rnn
from itermap.models.stacked import stack

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
REPO = Path(__file__).resolve().parents[2]


def loop(a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """h_t = tanh(a_t + h_{t-1} W^T) step by step in plain torch: a [M, T, B, H], W [M, H, H] -> [M, T, B, H]."""
    h, hs = torch.zeros_like(a[:, 0]), []
    for t in range(a.shape[1]):
        h = torch.tanh(a[:, t] + h @ w.transpose(1, 2))
        hs.append(h)
    return torch.stack(hs, dim=1)


def assert_as_close(fused_: torch.Tensor, torch32: torch.Tensor, truth: torch.Tensor, name: str) -> None:
    """The fused fp32 result within 8x autograd's fp32 error of the float64 truth, or within 1e-6 of its scale."""
    own = (torch32.double() - truth).abs().max().item()
    err = (fused_.double() - truth).abs().max().item()
    assert err <= max(8 * own, 1e-6 * max(1.0, truth.abs().max().item())), (name, err, own)


def results(f: Callable[..., torch.Tensor], inputs: dict[str, torch.Tensor], dtype: torch.dtype) -> list:
    """f's output and every input's gradient under a fixed random weighting of the output."""
    leaves = {k: v.to(DEVICE, dtype).clone().requires_grad_() for k, v in inputs.items()}
    out = f(leaves)
    weights = torch.randn(out.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    (out * weights.to(DEVICE, dtype)).sum().backward()
    return [out.detach()] + [v.grad for v in leaves.values()]


def check_recurrence(steps: int, batch: int, hidden: int) -> None:
    """The fused recurrence's states and both gradients against autograd's, on random a [3, steps, batch, hidden]
    and W, the upstream gradient reaching every step (as a readout of every step and a layer above send it)."""
    g = torch.Generator().manual_seed(steps)
    inputs = {"a": torch.randn(3, steps, batch, hidden, generator=g), "w": torch.randn(3, hidden, hidden, generator=g)}
    inputs["w"] /= hidden**0.5
    truth = results(lambda p: loop(p["a"], p["w"]), inputs, torch.float64)
    torch32 = results(lambda p: loop(p["a"], p["w"]), inputs, torch.float32)
    got = results(lambda p: fused.recurrence(p["a"], p["w"]), inputs, torch.float32)
    for name, f, t, want in zip(["h", "dL/da", "dL/dW"], got, torch32, truth):
        assert f.shape == want.shape
        assert_as_close(f, t, want, name)


@pytest.mark.parametrize(
    ("steps", "batch", "hidden"), [(1, 5, 3), (9, 37, 20), (28, 64, 64), (4, 70, 128), (3, 33, 160)]
)
def test_recurrence_and_its_gradients_equal_autograd(steps, batch, hidden):
    # Batches that do not fill a block (37, 70, 33 rows against blocks of 32), widths rounded up to 16, 32, 64, 128
    # and 256 (160: the `windows` preset's widest).
    check_recurrence(steps, batch, hidden)


@pytest.mark.parametrize(
    ("rows", "units", "tile"), [(16, 16, None), (32, 16, None), (32, 32, 32), (32, 16, 32), (32, 16, 16)]
)
def test_other_blocks_give_the_same_recurrence(monkeypatch, rows, units, tile):
    # The blocks benchmarks/orders.py offers besides the default, should the GPU find one faster: fewer batch rows,
    # 16 units a slice (no spilled registers on Hopper at 256 units of state, benchmarks/kernels.py), h_t in tiles
    # (160 units in 5 of 32, or 20 in 16 + 4, where one tile would pad them to 256 or 32).
    monkeypatch.setattr(fused, "BLOCK_B", rows)
    monkeypatch.setattr(fused, "BLOCK_K", units)
    monkeypatch.setattr(fused, "BLOCK_N", tile)
    check_recurrence(9, 37, 20)
    check_recurrence(3, 33, 160)


def test_kernels_compile_for_the_h200():
    # Triton's interpreter, which runs the kernels above, checks neither what the compiler refuses nor what a GPU
    # can hold: compile both kernels for Hopper (sm_90, the H200) at each state block the launcher picks (16 to 256
    # units), with the ptxas Triton ships, no GPU needed.
    widths = [3, 20, 64, 100, 160]
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "kernels.py"), "--arch", "90", "--widths", *map(str, widths)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [line.split() for line in out.stdout.splitlines() if "registers" in line]
    assert [(line[0], int(line[2])) for line in lines] == [(k, w) for k in ("forward", "backward") for w in widths]
    # what a thread block may hold on Hopper: 255 registers a thread, 227 KiB of shared memory
    assert all(0 < int(line[line.index("registers") + 1]) <= 255 for line in lines), out.stdout
    assert all(0 < int(line[line.index("shared") + 1]) <= 227 * 1024 for line in lines), out.stdout


@pytest.mark.parametrize("steps", [False, True])
@pytest.mark.parametrize(("layers", "window"), [(1, 3), (2, 3), (3, 7), (2, 1)])
def test_fused_rnn_is_the_layered_rnn(layers, window, steps):
    # The whole RNN (input projections, fused layers, readout of the last or of every step) against the layered
    # order: logits and every parameter's gradient.
    cfg = RNNConfig(hidden=16, layers=layers, window=window)
    fam = family_of(cfg)
    params = stack([fam.init(cfg, seed, torch.float64) for seed in (1, 2)])
    images = torch.randn(2, 19, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    inputs = {"x": torch.stack([fam.view(cfg, im) for im in images]), **params}  # x [M, B, T, I]

    def run(order: rnn.Order) -> Callable[[dict[str, torch.Tensor]], torch.Tensor]:
        return lambda p: fam.forward(cfg, {k: v for k, v in p.items() if k != "x"}, p["x"], steps=steps, order=order)

    truth = results(run("layered"), inputs, torch.float64)
    torch32 = results(run("layered"), inputs, torch.float32)
    got = results(run("fused"), inputs, torch.float32)
    assert got[0].shape == ((2, cfg.window_count, 19, 10) if steps else (2, 19, 10))
    for name, f, t, want in zip(["logits", *inputs], got, torch32, truth):
        assert_as_close(f, t, want, name)


def test_cuda_runs_fp32_layers_of_up_to_256_units_fused():
    def order(hidden: int, layers: int, dtype: torch.dtype, device: str = "cuda") -> str:
        return rnn.default_order(RNNConfig(hidden=hidden, layers=layers), device, dtype)

    assert order(64, 1, torch.float32) == order(256, 2, torch.float32) == "fused"
    assert order(257, 2, torch.float32) == order(64, 2, torch.float64) == "wavefront"
    assert order(64, 1, torch.float64) == "layered"
    assert order(64, 2, torch.float32, "cpu") == "layered"  # the CPU's numbers are the reference

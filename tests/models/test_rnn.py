"""The window continuum's ends and its reading direction: window 28 is MLP-1, rows are transposed columns."""

from __future__ import annotations

import pytest
import torch

from itermap.data import views
from itermap.models import FamilyConfig, MLPConfig, RNNConfig, family_of, rnn
from itermap.models.stacked import Params, stack


def images(n: int = 6) -> torch.Tensor:
    """Standardised-looking random images [N, 28, 28] in float64."""
    return torch.randn(n, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(7))


def logits_and_grads(
    cfg: FamilyConfig, params: Params, x: torch.Tensor, steps: bool, order: str
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The family's logits in `order` and every param's gradient under a fixed random weighting of them (zeros for a
    param they do not reach): what two orders of one family must agree on."""
    p = {k: v.clone().requires_grad_() for k, v in params.items()}
    out = family_of(cfg).forward(cfg, p, x, steps=steps, order=order)
    weights = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(5))
    (out * weights).sum().backward()
    return out.detach(), {k: torch.zeros_like(v) if v.grad is None else v.grad for k, v in p.items()}


@pytest.mark.parametrize("axis", ["columns", "rows"])
def test_window_28_rnn_is_the_one_hidden_layer_mlp(axis):
    # One step (h_0 = 0): h = tanh(W_ih x + b_ih + b_hh), logits = W_out h + b_out, which is MLP-1 with
    # w0 = W_ih (its inputs put in the flat image's row-major order), b0 = b_ih + b_hh, w1 = W_out, b1 = b_out.
    rnn = RNNConfig(hidden=12, window=28, axis=axis)
    assert rnn.window_count == 1 and rnn.inputs == 784
    p = family_of(rnn).init(rnn, 3, torch.float64)
    # The window's element k reads flat pixel order[k]: column-major for columns, row-major (identity) for rows.
    order = views.windows(torch.arange(784).view(1, 28, 28), 28, axis)[0, 0]  # [784]
    w0 = torch.empty_like(p["w_ih0"])
    w0[:, order] = p["w_ih0"]
    mlp = MLPConfig(hidden=[12])
    q = {"w0": w0, "b0": p["b_ih0"] + p["b_hh0"], "w1": p["w_out"], "b1": p["b_out"]}
    x = images()
    got = family_of(rnn).forward(rnn, stack([p]), family_of(rnn).view(rnn, x)[None])  # [1, B, 10]
    want = family_of(mlp).forward(mlp, stack([q]), family_of(mlp).view(mlp, x)[None])
    ref = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 12), torch.nn.Tanh(), torch.nn.Linear(12, 10))
    ref = ref.double()
    with torch.no_grad():
        ref[1].weight.copy_(w0), ref[1].bias.copy_(q["b0"]), ref[3].weight.copy_(q["w1"]), ref[3].bias.copy_(q["b1"])
        torch_mlp = ref(x)
    assert (got - want).abs().max() <= 1e-12
    assert (got[0] - torch_mlp).abs().max() <= 1e-12
    if axis == "rows":
        assert torch.equal(order, torch.arange(784))  # rows of 28 are the flat image itself: W_ih is w0 unchanged


@pytest.mark.parametrize("window", [1, 2, 3, 4, 7, 14, 28])
def test_rows_are_the_transposed_image_read_by_columns(window):
    x = images()
    rows, cols = RNNConfig(hidden=5, window=window, axis="rows"), RNNConfig(hidden=5, window=window)
    assert torch.equal(family_of(rows).view(rows, x), family_of(cols).view(cols, x.transpose(1, 2)))
    p = stack([family_of(rows).init(rows, 1, torch.float64)])
    got = family_of(rows).forward(rows, p, family_of(rows).view(rows, x)[None])
    want = family_of(cols).forward(cols, p, family_of(cols).view(cols, x.transpose(1, 2))[None])
    assert torch.equal(got, want)


@pytest.mark.parametrize("window", [1, 2, 3, 4, 7, 14, 28])
@pytest.mark.parametrize("axis", ["columns", "rows"])
def test_rnn_count_by_hand_and_torch(window, axis):
    # P = h (28 w + h + 2) + 10 (h + 1): W_ih, W_hh, b_ih, b_hh, then the readout.
    cfg = RNNConfig(hidden=9, window=window, axis=axis)
    module = family_of(cfg).to_torch(cfg, family_of(cfg).init(cfg, 0))
    assert (
        family_of(cfg).count_params(cfg)
        == 9 * (28 * window + 9 + 2) + 10 * 10
        == sum(p.numel() for p in module.parameters())
    )
    assert cfg.window_count == 28 // window


@pytest.mark.parametrize("steps", [False, True])
@pytest.mark.parametrize("axis", ["columns", "rows"])
@pytest.mark.parametrize("window", [1, 3, 7])
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_wavefront_is_the_layered_forward_and_backward(layers, window, axis, steps):
    # The wavefront (CUDA's order for 2+ layers) and the layer-by-layer order (the CPU's) compute the same sums
    # in another order: logits and every gradient agree to rounding, here on the CPU.
    cfg = RNNConfig(hidden=7, layers=layers, window=window, axis=axis)
    fam = family_of(cfg)
    for dtype, tol in [(torch.float64, 1e-12), (torch.float32, 1e-6)]:
        params = stack([fam.init(cfg, seed, dtype) for seed in (1, 2, 3)])  # M = 3
        x = torch.stack([fam.view(cfg, images(5).to(dtype)) for _ in range(3)])  # [M, B, T, I]
        x = x + 0.1 * torch.randn(x.shape, dtype=dtype, generator=torch.Generator().manual_seed(11))
        want, want_grads = logits_and_grads(cfg, params, x, steps, "layered")
        got, got_grads = logits_and_grads(cfg, params, x, steps, "wavefront")
        assert got.shape == want.shape == ((3, cfg.window_count, 5, 10) if steps else (3, 5, 10))
        assert (got - want).abs().max() <= tol
        assert want_grads.keys() == got_grads.keys()
        for k in want_grads:  # to rounding at the gradient's scale (up to 10 here: 1e-6 is an fp32 ulp there)
            scale = max(1.0, want_grads[k].abs().max().item())
            assert (got_grads[k] - want_grads[k]).abs().max() <= tol * scale, k


def test_the_cpu_steps_layer_by_layer():
    # By default the CPU keeps the layer-by-layer order, bit for bit what it computed before the other orders.
    cfg = RNNConfig(hidden=6, layers=2)
    fam = family_of(cfg)
    params = stack([fam.init(cfg, 0)])
    x = fam.view(cfg, images(4).float())[None]
    assert rnn.default_order(cfg, "cpu", torch.float32) == "layered"
    assert torch.equal(fam.forward(cfg, params, x), fam.forward(cfg, params, x, order="layered"))
    assert not torch.equal(fam.forward(cfg, params, x), fam.forward(cfg, params, x, order="wavefront"))

"""MLP and RNN families against their standard torch.nn modules: forward, counts, init distributions."""

from __future__ import annotations

import math

import pytest
import torch

from itermap.data import views
from itermap.models import MLPConfig, RNNConfig, family_of
from itermap.models.stacked import member, stack

CONFIGS = [
    MLPConfig(hidden=[]),
    MLPConfig(hidden=[16]),
    MLPConfig(hidden=[8, 32]),
    RNNConfig(hidden=16, layers=1, window=3),
    RNNConfig(hidden=8, layers=2, window=3),
    RNNConfig(hidden=5, layers=2, window=7),
    RNNConfig(hidden=6, layers=1, window=4, axis="rows"),
]

# DESIGN.md's table: 784 inputs, 10 classes, nn.RNN's two biases per layer.
DESIGN_COUNTS = {
    (): 7850,
    **{(h,): n for h, n in zip([2, 8, 16, 32, 64], [1600, 6370, 12730, 25450, 50890])},
    **{(h, h): n for h, n in zip([2, 8, 16, 32, 64], [1606, 6442, 13002, 26506, 55050])},
}
DESIGN_RNN = {
    1: dict(zip([2, 8, 16, 32, 64], [206, 842, 1802, 4106, 10250])),
    2: dict(zip([2, 8, 16, 32, 64], [218, 986, 2346, 6218, 18570])),
}


def stacked_and_reference(cfg, dtype, m=3, b=5, seed=0):
    """Logits of M members from the stacked forward and from each member's to_torch module."""
    fam = family_of(cfg)
    params = stack([fam.init(cfg, 100 + i, dtype) for i in range(m)])
    images = torch.randn(b, *cfg.image, dtype=dtype, generator=torch.Generator().manual_seed(seed))
    x = fam.view(cfg, images)  # [B, ...]
    got = fam.forward(cfg, params, x.expand(m, *x.shape))  # [M, B, C]
    ref_input = images if cfg.family == "mlp" else x
    want = torch.stack([fam.to_torch(cfg, member(params, i))(ref_input) for i in range(m)])
    return got, want


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.arch)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_stacked_forward_equals_torch_module(cfg, dtype, tol):
    got, want = stacked_and_reference(cfg, dtype)
    assert got.shape == (3, 5, cfg.classes)
    rel = (got - want).abs().max() / want.abs().max()
    assert rel <= tol


@pytest.mark.parametrize("hidden,count", DESIGN_COUNTS.items())
def test_mlp_counts_match_design_and_torch(hidden, count):
    cfg = MLPConfig(hidden=list(hidden))
    module = family_of(cfg).to_torch(cfg, family_of(cfg).init(cfg, 0))
    assert family_of(cfg).count_params(cfg) == count == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("hidden", [2, 8, 16, 32, 64])
def test_rnn_counts_match_design_and_torch(layers, hidden):
    cfg = RNNConfig(hidden=hidden, layers=layers, window=3)
    module = family_of(cfg).to_torch(cfg, family_of(cfg).init(cfg, 0))
    count = sum(p.numel() for p in module.parameters())
    assert family_of(cfg).count_params(cfg) == DESIGN_RNN[layers][hidden] == count
    assert isinstance(module.rnn, torch.nn.RNN) and module.rnn.num_layers == layers


def test_per_step_logits_end_with_last_step_logits():
    cfg = RNNConfig(hidden=6, layers=2, window=4)
    fam = family_of(cfg)
    params = stack([fam.init(cfg, s, torch.float64) for s in (1, 2)])
    x = fam.view(cfg, torch.randn(3, 28, 28, dtype=torch.float64)).expand(2, -1, -1, -1)
    steps = fam.forward(cfg, params, x, steps=True)  # [M, T, B, C]
    assert steps.shape == (2, 7, 3, 10)
    torch.testing.assert_close(steps[:, -1], fam.forward(cfg, params, x), rtol=0, atol=1e-14)
    # Step t's logits depend only on windows 0..t: changing the last window leaves earlier steps alone.
    x2 = x.clone()
    x2[:, :, -1] += 1.0
    changed = fam.forward(cfg, params, x2, steps=True)
    torch.testing.assert_close(changed[:, :-1], steps[:, :-1], rtol=0, atol=0)
    assert (changed[:, -1] - steps[:, -1]).abs().max() > 1e-3


@pytest.mark.parametrize("cfg", [MLPConfig(hidden=[64]), RNNConfig(hidden=64, layers=2)], ids=lambda c: c.arch)
def test_init_follows_pytorch_default_bounds(cfg):
    """Each tensor is U(-1/sqrt(fan), 1/sqrt(fan)) with fan = fan_in (Linear) or hidden (RNN)."""
    params = family_of(cfg).init(cfg, 7, torch.float64)
    for name, p in params.items():
        fan = cfg.hidden if cfg.family == "rnn" and name != "w_out" and name != "b_out" else None
        if fan is None:
            fan = p.shape[-1] if p.dim() == 2 else params[name.replace("b", "w", 1)].shape[-1]
        bound = 1 / math.sqrt(fan)
        assert p.abs().max() <= bound
        # A uniform on [-a, a] has std a/sqrt(3); with >= 640 draws the estimate is within 15%.
        if p.numel() >= 640:
            assert abs(p.std().item() - bound / math.sqrt(3)) < 0.15 * bound / math.sqrt(3)


def test_init_depends_on_seed_only():
    cfg = MLPConfig(hidden=[8])
    a, b, c = (family_of(cfg).init(cfg, s) for s in (3, 3, 4))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["w0"], c["w0"])


def test_view_matches_windows():
    cfg = RNNConfig(hidden=4, window=3)
    x = torch.randn(2, 28, 28)
    assert torch.equal(family_of(cfg).view(cfg, x), views.windows(x, 3))
    assert family_of(cfg).view(cfg, x).shape == (2, 9, 84)

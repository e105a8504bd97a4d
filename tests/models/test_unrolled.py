"""The unrolled family against standard torch.nn: its own modules, a plain nn.RNN, and the mlp family."""

from __future__ import annotations

import itertools

import pytest
import torch

from itermap.data import views
from itermap.models import MLPConfig, UnrolledConfig, family_of
from itermap.models.stacked import stack

KINDS = list(itertools.product([True, False], ["every-step", "first"], ["shared", "separate"]))


@pytest.mark.parametrize("tied, inject, heads", KINDS)
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_forward_equals_to_torch(tied, inject, heads, dtype, tol):
    cfg = UnrolledConfig(hidden=7, depth=3, tied=tied, inject=inject, heads=heads)
    fam, seeds = family_of(cfg), [0, 1, 2]
    members = [fam.init(cfg, s, dtype) for s in seeds]
    x = torch.randn(len(seeds), 11, 784, dtype=dtype)
    steps = fam.forward(cfg, stack(members), x, steps=True, through=cfg.anytime_steps)  # [M, T, B, C]
    final = fam.forward(cfg, stack(members), x)  # [M, B, C]
    assert steps.shape == (3, 6 if tied else 3, 11, 10)
    for i, params in enumerate(members):
        module = fam.to_torch(cfg, params)
        assert sum(p.numel() for p in module.parameters()) == fam.count_params(cfg)
        want = module.step_logits(x[i], cfg.anytime_steps)  # [B, T, C]
        assert ((steps[i].transpose(0, 1) - want).abs().max() / want.abs().max()).item() <= tol
        assert ((final[i] - module(x[i])).abs().max() / want.abs().max()).item() <= tol
        assert torch.equal(final[i], steps[i, cfg.depth - 1])  # the prediction is step d's


@pytest.mark.parametrize("inject", ["every-step", "first"])
def test_tied_is_a_plain_rnn(inject):
    """Tied: nn.RNN(784, H) fed the image at every step (views.repeat), or the image and then zeros."""
    cfg = UnrolledConfig(hidden=6, depth=4, tied=True, inject=inject)
    params = family_of(cfg).init(cfg, 3, torch.float64)
    rnn = torch.nn.RNN(784, 6, nonlinearity="tanh", batch_first=True, dtype=torch.float64)
    readout = torch.nn.Linear(6, 10, dtype=torch.float64)
    with torch.no_grad():
        for mine, theirs in (
            ("w_ih", "weight_ih_l0"),
            ("w_hh", "weight_hh_l0"),
            ("b_ih", "bias_ih_l0"),
            ("b_hh", "bias_hh_l0"),
        ):
            getattr(rnn, theirs).copy_(params[mine])
        readout.weight.copy_(params["w_out"])
        readout.bias.copy_(params["b_out"])
    images = torch.randn(9, 28, 28, dtype=torch.float64)
    seq = views.repeat(images, 4)  # [B, 4, 784]
    if inject == "first":
        seq = torch.cat([seq[:, :1], torch.zeros_like(seq[:, 1:])], dim=1)
    states, _ = rnn(seq)
    got = family_of(cfg).forward(cfg, {k: v[None] for k, v in params.items()}, views.flat(images)[None])[0]
    torch.testing.assert_close(got, readout(states[:, -1]), rtol=0, atol=1e-12)
    assert family_of(cfg).count_params(cfg) == sum(p.numel() for p in (*rnn.parameters(), *readout.parameters()))


def test_untied_first_is_the_mlp():
    """Untied + first, last step: the mlp family with d hidden layers of H, from the very same init draws."""
    cfg, mlp = UnrolledConfig(hidden=8, depth=3, tied=False, inject="first"), MLPConfig(hidden=[8, 8, 8])
    ours, theirs = family_of(cfg).init(cfg, 5, torch.float64), family_of(mlp).init(mlp, 5, torch.float64)
    as_mlp = {"w0": ours["u"][0], "b0": ours["b"][0], "w1": ours["w"][0], "b1": ours["b"][1], "w2": ours["w"][1],
              "b2": ours["b"][2], "w3": ours["w_out"], "b3": ours["b_out"]}  # fmt: skip
    for k, v in as_mlp.items():
        assert torch.equal(v, theirs[k]), k
    x = torch.randn(1, 13, 784, dtype=torch.float64)
    got = family_of(cfg).forward(cfg, {k: v[None] for k, v in ours.items()}, x)
    want = family_of(mlp).forward(mlp, {k: v[None] for k, v in theirs.items()}, x)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    assert family_of(cfg).count_params(cfg) == family_of(mlp).count_params(mlp)
    assert family_of(cfg).macs(cfg) == family_of(mlp).macs(mlp)


def test_counts_by_hand():
    h, d, p, c = 16, 4, 784, 10

    def count(**kw) -> int:
        cfg = UnrolledConfig(hidden=h, depth=d, **kw)
        return family_of(cfg).count_params(cfg)

    assert count(tied=True) == p * h + h * h + 2 * h + (h + 1) * c  # nn.RNN's, once, however often used
    assert count(tied=False) == d * p * h + (d - 1) * h * h + d * h + (h + 1) * c
    assert count(tied=False, inject="first") == p * h + (d - 1) * h * h + d * h + (h + 1) * c
    assert count(tied=True, heads="separate") == p * h + h * h + 2 * h + d * (h + 1) * c
    with pytest.raises(ValueError, match="runs at most 4 steps"):
        cfg = UnrolledConfig(hidden=h, depth=d, tied=False)
        family_of(cfg).forward(cfg, stack([family_of(cfg).init(cfg, 0)]), torch.zeros(1, 2, p), steps=True, through=5)

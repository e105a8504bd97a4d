"""The unrolled family against standard torch.nn: its own modules, a plain nn.RNN, and the mlp family."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from itermap.data import views
from itermap.models import MLPConfig, UnrolledConfig, family_of
from itermap.models.stacked import stack
from itermap.models.unrolled import TiedNet

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


# Between tied and untied: k weight blocks over the d steps (schedule cycle or sequence), each step's rank-r update.

SHARING = [
    (blocks, schedule, relax)
    for blocks, schedule, relax in itertools.product([1, 2, 4], ["cycle", "sequence"], [0, 2])
    if not (blocks == 4 and relax)
]


@pytest.mark.parametrize("blocks, schedule, relax", SHARING)
@pytest.mark.parametrize("inject", ["every-step", "first"])
def test_sharing_forward_equals_to_torch(blocks, schedule, relax, inject):
    cfg = UnrolledConfig(hidden=5, depth=4, blocks=blocks, schedule=schedule, relax=relax, inject=inject)
    fam, seeds = family_of(cfg), [0, 1, 2]
    members = [fam.init(cfg, s, torch.float64) for s in seeds]
    if relax:  # U_t starts at 0: move it, so that the update is tested
        for params in members:
            params["ru"] = torch.randn_like(params["ru"])
    x = torch.randn(len(seeds), 11, 784, dtype=torch.float64)
    steps = fam.forward(cfg, stack(members), x, steps=True, through=cfg.anytime_steps)
    final = fam.forward(cfg, stack(members), x)
    assert steps.shape == (3, cfg.anytime_steps, 11, 10)
    for i, params in enumerate(members):
        module = fam.to_torch(cfg, params)
        assert (
            sum(p.numel() for p in module.parameters())
            == fam.count_params(cfg)
            == sum(v.numel() for v in params.values())
        )
        want = module.step_logits(x[i], cfg.anytime_steps)
        assert ((steps[i].transpose(0, 1) - want).abs().max() / want.abs().max()).item() <= 1e-12
        assert ((final[i] - module(x[i])).abs().max() / want.abs().max()).item() <= 1e-12
        assert torch.equal(final[i], steps[i, cfg.depth - 1])


@pytest.mark.parametrize("schedule, used", [("cycle", [0, 1, 0, 1, 0, 1]), ("sequence", [0, 0, 0, 1, 1, 1])])
def test_schedules(schedule, used):
    cfg = UnrolledConfig(hidden=3, depth=6, blocks=2, schedule=schedule)
    assert [cfg.block_of(t) for t in range(6)] == used
    three = UnrolledConfig(hidden=3, depth=6, blocks=3, schedule=schedule)
    assert [three.block_of(t) for t in range(6)] == ([0, 1, 2] * 2 if schedule == "cycle" else [0, 0, 1, 1, 2, 2])


def test_shared_block_is_one_module():
    """Two blocks over four steps: two nn.Linear modules (steps reuse them), each parameter counted once."""
    cfg = UnrolledConfig(hidden=4, depth=4, blocks=2)
    module = family_of(cfg).to_torch(cfg, family_of(cfg).init(cfg, 0, torch.float64))
    assert len(module.layers) == 2 and len(module.relax) == 0
    assert sum(p.numel() for p in module.parameters()) == family_of(cfg).count_params(cfg)


@pytest.mark.parametrize("inject", ["every-step", "first"])
@pytest.mark.parametrize("heads", ["shared", "separate"])
def test_endpoints_are_tied_and_untied(inject, heads):
    """blocks = 1 is the tied net, blocks = d the untied one (either schedule): the same params, numbers and counts."""
    x = torch.randn(1, 7, 784, dtype=torch.float64)
    for tied, blocks in ((True, 1), (False, 4)):
        old = UnrolledConfig(hidden=5, depth=4, tied=tied, inject=inject, heads=heads)
        for schedule in ("cycle", "sequence"):
            new = UnrolledConfig(hidden=5, depth=4, blocks=blocks, schedule=schedule, inject=inject, heads=heads)
            assert new.tied == tied and new.block_count == old.block_count == blocks
            fam = family_of(new)
            a, b = fam.init(old, 3, torch.float64), fam.init(new, 3, torch.float64)
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
            a1, b1 = {k: v[None] for k, v in a.items()}, {k: v[None] for k, v in b.items()}
            t = old.anytime_steps
            assert new.anytime_steps == t
            assert torch.equal(
                fam.forward(old, a1, x, steps=True, through=t), fam.forward(new, b1, x, steps=True, through=t)
            )
            assert fam.count_params(old) == fam.count_params(new) and fam.macs(old) == fam.macs(new)
            assert type(fam.to_torch(old, a)) is type(fam.to_torch(new, b))


def test_relax_starts_as_the_shared_net():
    """U_t = 0 and every other draw the relax = 0 net's: the relaxed net starts as the very same function."""
    x = torch.randn(1, 7, 784, dtype=torch.float64)
    for blocks in (1, 2):
        plain, relaxed = (UnrolledConfig(hidden=5, depth=4, blocks=blocks, relax=r) for r in (0, 3))
        fam = family_of(plain)
        a, b = fam.init(plain, 8, torch.float64), fam.init(relaxed, 8, torch.float64)
        assert all(torch.equal(a[k], b[k]) for k in a) and b.keys() - a.keys() == {"ru", "rv"}
        assert b["ru"].shape == b["rv"].shape == (3, 5, 3) and not b["ru"].any() and b["rv"].abs().max() <= 5**-0.5
        got = fam.forward(relaxed, {k: v[None] for k, v in b.items()}, x, steps=True)
        assert torch.equal(got, fam.forward(plain, {k: v[None] for k, v in a.items()}, x, steps=True))


def test_old_configs_unchanged():
    """New fields at their defaults: the canonical dict (run ids), arch and group of today's configs are as before."""
    from itermap.study.plan import canonical

    cfg = UnrolledConfig(hidden=16, depth=4, tied=False, inject="first")
    assert canonical(cfg) == {"family": "unrolled", "hidden": 16, "depth": 4, "tied": False, "inject": "first"}
    assert canonical(UnrolledConfig(hidden=16)) == {"family": "unrolled", "hidden": 16}
    assert (cfg.arch, cfg.group) == ("unrolled-untied-first-4x16", "unrolled-4")
    assert UnrolledConfig(hidden=16, depth=3, heads="separate").arch == "unrolled-tied-heads-3x16"
    assert canonical(UnrolledConfig(hidden=16, blocks=1)) == {"family": "unrolled", "hidden": 16, "blocks": 1}
    assert canonical(UnrolledConfig(hidden=16, depth=4, blocks=2)) == {
        "family": "unrolled", "hidden": 16, "depth": 4, "tied": False, "blocks": 2
    }  # fmt: skip


def test_sharing_names():
    def names(**kw):
        cfg = UnrolledConfig(hidden=64, depth=4, **kw)
        return cfg.arch, cfg.group

    assert names(blocks=2) == ("unrolled-b2cycle-4x64", "unrolled-b2cycle-4")
    assert names(blocks=2, schedule="sequence", relax=4, inject="first") == (
        "unrolled-b2sequence-r4-first-4x64", "unrolled-b2sequence-r4-4"
    )  # fmt: skip
    assert names(relax=2, heads="separate") == ("unrolled-tied-r2-heads-4x64", "unrolled-r2-4")
    assert names(blocks=4) == ("unrolled-b4cycle-4x64", "unrolled-b4cycle-4")


def test_sharing_counts_by_hand():
    h, d, p, c, r = 16, 4, 784, 10, 3

    def count(**kw) -> int:
        cfg = UnrolledConfig(hidden=h, depth=d, **kw)
        return family_of(cfg).count_params(cfg)

    head = (h + 1) * c
    relax = (d - 1) * (h * r + h * r)  # U_t and V_t of steps 2..d
    assert count(blocks=1) == p * h + h * h + 2 * h + head
    assert count(blocks=1, relax=r) == p * h + h * h + 2 * h + head + relax
    assert count(blocks=2) == 2 * p * h + 2 * h * h + 2 * h + head  # two blocks: A, W, c each
    assert count(blocks=2, schedule="sequence", relax=r) == 2 * p * h + 2 * h * h + 2 * h + head + relax
    assert count(blocks=2, inject="first") == p * h + 2 * h * h + 2 * h + head  # one A, read at step 1 only
    assert count(blocks=3, inject="first", heads="separate") == p * h + 3 * h * h + 3 * h + d * head
    assert count(blocks=4) == count(tied=False) == d * p * h + (d - 1) * h * h + d * h + head
    for kw, want in (({"blocks": 2, "relax": r}, 2 * p * h + 3 * h * h + 3 * 2 * h * r + h * c),
                     ({"blocks": 3, "inject": "first"}, p * h + 3 * h * h + h * c)):  # fmt: skip
        cfg = UnrolledConfig(hidden=h, depth=d, **kw)
        assert family_of(cfg).macs(cfg) == want


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"blocks": 5}, "at most one block per step"),
        ({"blocks": 2, "tied": True}, "tied = true is one block for every step"),
        ({"blocks": 1, "tied": False}, "tied = false asks for more than one block"),
        ({"blocks": 4, "relax": 2}, "relax = 2 needs blocks < depth"),
        ({"tied": False, "relax": 2}, "relax = 2 needs blocks < depth"),
        ({"relax": -1}, "greater than or equal to 0"),
        ({"blocks": 0}, "greater than 0"),
    ],
)
def test_sharing_validation(kw, message):
    with pytest.raises(ValueError, match=message):
        UnrolledConfig(hidden=4, depth=4, **kw)


def test_past_the_depth_a_net_repeats_its_last_period():
    """Past d: cycled blocks go on t mod k (the last k steps' maps again), blocks in sequence keep the last block, and
    a relaxed step reuses the update of the trained step it repeats."""
    four = UnrolledConfig(hidden=3, depth=6, blocks=4)  # k does not divide d: steps 2..5 (blocks 2 3 0 1) repeat
    assert [four.block_of(t) for t in range(6, 12)] == [2, 3, 0, 1, 2, 3]
    assert [four.step_of(t) for t in range(6, 12)] == [2, 3, 4, 5, 2, 3] and four.period == 4
    seq = UnrolledConfig(hidden=3, depth=6, blocks=3, schedule="sequence", relax=1)
    assert [seq.block_of(t) for t in range(6, 10)] == [2] * 4 and [seq.step_of(t) for t in range(6, 10)] == [5] * 4
    tied = UnrolledConfig(hidden=3, depth=6, relax=2)
    assert [tied.step_of(t) for t in range(4, 10)] == [4, 5, 5, 5, 5, 5] and tied.period == 1


DYNAMIC = [
    {"tied": True},
    {"tied": True, "inject": "first"},
    {"blocks": 2},
    {"blocks": 2, "schedule": "sequence", "inject": "first"},
    {"tied": True, "relax": 2},
    {"blocks": 2, "relax": 1, "heads": "separate"},
]


def reference_dynamics(cfg: UnrolledConfig, module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict:
    """`dynamics` of one member from its standard modules: numpy's norm and eigenvalues of the nn.Linear / nn.RNN
    weights each step t = 1..d-1 applies, and the states of a plain loop over the modules for 4d steps."""
    d, h = cfg.depth, cfg.hidden
    mats = []
    for t in range(1, d):
        if isinstance(module, TiedNet):
            w = module.rnn.weight_hh_l0
        else:  # BlockNet: w_hh is the second nn.Linear when k = 1, else the h part of block b(t)'s [h; x] weight
            w = module.layers[1].weight if cfg.block_count == 1 else module.layers[cfg.block_of(t)].weight[:, :h]
            if cfg.relax:
                down, up = module.relax[t - 1]
                w = w + up.weight @ down.weight  # U_t V_t^T
        mats.append(w.detach().numpy())
    if isinstance(module, TiedNet):  # nn.RNN over 4d steps of the image (or the image, then zeros)
        seq = x.unsqueeze(1).expand(-1, 4 * d, -1).clone()
        if cfg.inject == "first":
            seq[:, 1:] = 0
        hs = list(module.rnn(seq)[0].unbind(1))
    else:
        hs, state = [], x.new_zeros(len(x), h)
        for t in range(4 * d):
            state = torch.tanh(module.pre(t, state, x))
            hs.append(state)
    p = cfg.block_count if cfg.schedule == "cycle" else 1

    def residual(t: int) -> float:  # h_t is hs[t - 1]
        return ((hs[t + p - 1] - hs[t - 1]).norm(dim=1) / hs[t - 1].norm(dim=1)).mean().item()

    def accuracy(t: int) -> float:
        return (module.heads[-1](hs[t - 1]).argmax(1) == y).double().mean().item()

    return {
        "spectral_norm": max(np.linalg.norm(m, 2) for m in mats),
        "spectral_radius": max(np.abs(np.linalg.eigvals(m)).max() for m in mats),
        "residual_d": residual(d),
        "residual_2d": residual(2 * d),
        "accuracy_2d": accuracy(2 * d),
        "accuracy_4d": accuracy(4 * d),
        "residual": [residual(t) for t in range(1, 3 * d + 1)],  # at every step 1..3d
    }


@pytest.mark.parametrize("kw", DYNAMIC, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_dynamics_equal_standard_modules(kw):
    """`dynamics` of a pack against each member's to_torch modules: numpy's spectra of their weights, and residuals
    and accuracies from a plain loop run to 4d steps; weights moved off their init so that steps differ and some
    spectra exceed 1."""
    cfg = UnrolledConfig(hidden=6, depth=4, **kw)
    fam, gen = family_of(cfg), torch.Generator().manual_seed(0)
    members = [
        {
            k: v + 0.4 * torch.randn(v.shape, generator=gen, dtype=v.dtype)
            for k, v in fam.init(cfg, s, torch.float64).items()
        }
        for s in range(3)
    ]
    x = torch.randn(3, 40, 784, dtype=torch.float64, generator=gen)
    y = torch.randint(0, 10, (3, 40), generator=gen)
    got = fam.dynamics(cfg, stack(members), x, y)
    assert set(got) == {"spectral_norm", "spectral_radius", "residual_d", "residual_2d", "accuracy_2d", "accuracy_4d"}
    per_step = fam.dynamics(cfg, stack(members), x, y, steps=3 * cfg.depth)["residual"]  # [M, 3d]
    for i, params in enumerate(members):
        want = reference_dynamics(cfg, fam.to_torch(cfg, params), x[i], y[i])
        assert per_step[i].tolist() == pytest.approx(want.pop("residual"), rel=1e-10, abs=1e-12)
        for name, value in want.items():
            assert got[name][i].item() == pytest.approx(value, rel=1e-10, abs=1e-12), name
    assert max(got["spectral_norm"]) > 1  # moved weights: the test sees expanding maps too


def test_dynamics_untied_none_and_non_finite_member():
    """The untied net has no step past d: no dynamics. A member with a NaN weight gets NaN spectra (LAPACK would
    refuse it), the others theirs."""
    untied = UnrolledConfig(hidden=4, depth=3, tied=False)
    x, y = torch.randn(2, 5, 784), torch.zeros(2, 5, dtype=torch.long)
    assert family_of(untied).dynamics(untied, stack([family_of(untied).init(untied, s) for s in (0, 1)]), x, y) == {}
    cfg = UnrolledConfig(hidden=4, depth=3, blocks=2)
    members = [family_of(cfg).init(cfg, s) for s in (0, 1)]
    clean = family_of(cfg).dynamics(cfg, stack(members), x, y)
    members[1]["w"][0, 1, 2] = float("nan")
    got = family_of(cfg).dynamics(cfg, stack(members), x, y)
    assert got["spectral_norm"][1].isnan() and got["spectral_radius"][1].isnan()
    assert all(torch.equal(got[k][0], clean[k][0]) for k in clean)

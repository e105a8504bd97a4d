"""The iterative-map family: stacked forward against its torch module, schedule, masks, counts, config checks."""

from __future__ import annotations

import random

import pytest
import torch
from pydantic import ValidationError

from itermap.models import MLPConfig, family_of, parse_config
from itermap.models import itermap as im
from itermap.models.itermap import Block, IterMapConfig, Slot
from itermap.models.sparse import SparseConfig, pattern
from itermap.models.stacked import member, stack

from .test_rnn import logits_and_grads

# A pattern that is neither MLP nor RNN: skip connection x -> h2, masked recurrence, feedback from y.
MIXED = IterMapConfig(
    slots=(Slot(name="a", size=6), Slot(name="b", size=5, activation="relu", start=2)),
    blocks=(
        Block(dst="a", src="x", mask="random", density=0.3, seed=4),
        Block(dst="a", src="a", mask="diagonal"),
        Block(dst="a", src="y"),
        Block(dst="b", src="a"),
        Block(dst="b", src="x"),
        Block(dst="y", src="b"),
        Block(dst="y", src="a", mask="random", density=0.5),
    ),
    iterations=4,
    output_start=2,
)
CONFIGS = [
    MIXED,
    IterMapConfig(
        slots=(Slot(name="h", size=7),), blocks=(Block(dst="h", src="x"), Block(dst="y", src="h")), iterations=2
    ),
    IterMapConfig(
        slots=(Slot(name="h1", size=4), Slot(name="h2", size=3, start=2)),
        blocks=tuple(
            Block(dst=d, src=s) for d, s in (("h1", "x"), ("h1", "h1"), ("h2", "h1"), ("h2", "h2"), ("y", "h2"))
        ),
        iterations=6,  # more iterations than the 4 windows: the input slot is zero after the last one
        input="windows",
        window=7,
        output_start=3,
    ),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.arch}-{c.input}")
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_stacked_forward_equals_torch_module(cfg, dtype, tol):
    m, b = 3, 5
    params = stack([im.init(cfg, 10 + i, dtype) for i in range(m)])
    x = im.view(cfg, torch.randn(b, 28, 28, dtype=dtype, generator=torch.Generator().manual_seed(1)))
    got = im.forward(cfg, params, x.expand(m, *x.shape))  # [M, B, C]
    want = torch.stack([im.to_torch(cfg, member(params, i))(x) for i in range(m)])
    assert got.shape == (m, b, 10)
    assert (got - want).abs().max() <= tol * want.abs().max()
    steps = im.forward(cfg, params, x.expand(m, *x.shape), steps=True)  # [M, T, B, C]
    assert steps.shape == (m, cfg.iterations, b, 10) and torch.equal(steps[:, -1], got)
    assert torch.all(steps[:, : cfg.output_start - 1] == 0)  # y is held at zero before its start


SPARSE = [SparseConfig(hidden=9, fraction=f) for f in (0.0, 0.5, 1.0)]  # no block, all, only the other blocks random
BIAS_ONLY = IterMapConfig(blocks=(), iterations=2)  # no slot, no block: y = b_y


@pytest.mark.parametrize("steps", [False, True])
@pytest.mark.parametrize(
    "cfg", CONFIGS + SPARSE + [BIAS_ONLY], ids=lambda c: f"{c.arch}-{getattr(c, 'input', 'static')}"
)
def test_matrix_is_the_block_forward_and_backward(cfg, steps):
    # W as one matrix (CUDA's order) and block by block (the CPU's) compute the same sums in another order: logits
    # and every gradient agree to rounding, here on the CPU; with schedules (MIXED), windows that run out, relu, and
    # diagonal and random masks (whose masked entries get no gradient either way).
    fam = family_of(cfg)
    for dtype, tol in [(torch.float64, 1e-12), (torch.float32, 1e-6)]:
        params = stack([fam.init(cfg, seed, dtype) for seed in (1, 2, 3)])  # M = 3
        images = torch.randn(5, 28, 28, dtype=dtype, generator=torch.Generator().manual_seed(2))
        x = fam.view(cfg, images).expand(3, *fam.view(cfg, images).shape)  # [M, B, ...]
        # a block whose every use is off y's path (f = 1: h2 <- h2) gets no gradient block by block, zeros as a matrix
        want, want_grads = logits_and_grads(cfg, params, x, steps, "blocks")
        got, got_grads = logits_and_grads(cfg, params, x, steps, "matrix")
        assert got.shape == want.shape == ((3, cfg.step_count, 5, 10) if steps else (3, 5, 10))
        assert (got - want).abs().max() <= tol * max(1.0, want.abs().max().item())
        assert want_grads.keys() == got_grads.keys() == params.keys()
        for k in want_grads:
            scale = max(1.0, want_grads[k].abs().max().item())
            assert (got_grads[k] - want_grads[k]).abs().max() <= tol * scale, k
            assert torch.equal(got_grads[k] == 0, want_grads[k] == 0), k  # masked entries: exactly no gradient


def random_map(rng: random.Random) -> IterMapConfig:
    """An iterative map drawn at random: 0-3 slots of any activation and start, any blocks (dense, random or
    diagonal), static or windowed input, any output start."""
    t, windows = rng.randint(1, 7), rng.random() < 0.5
    slots = tuple(
        Slot(name=f"h{i}", size=rng.randint(1, 7), activation=rng.choice(["tanh", "relu", "identity"]), start=s)
        for i, s in enumerate(rng.randint(1, t) for _ in range(rng.randint(0, 3)))
    )
    size = {s.name: s.size for s in slots} | {"y": 10}
    pairs = [(d, s) for d in [*size] for s in ["x", *size] if rng.random() < 0.4] or [("y", "x")]
    blocks = []
    for dst, src in pairs:
        mask = rng.choice(
            ["dense", "random", "diagonal"] if src != "x" and size[dst] == size[src] else ["dense", "random"]
        )
        density = rng.choice([0.3, 0.7]) if mask == "random" else 1.0
        blocks.append(Block(dst=dst, src=src, mask=mask, density=density, seed=rng.randint(0, 5)))
    return IterMapConfig(
        slots=slots,
        blocks=tuple(blocks),
        iterations=t,
        input="windows" if windows else "static",
        window=rng.choice([4, 7, 14, 28]),
        output_start=rng.randint(1, t),
    )


def test_matrix_is_the_block_order_on_random_maps():
    # 100 maps drawn at random (schedules, windows that run out, any mix of activations, masks and absent blocks):
    # logits and gradients agree in float64, and the gradients are zero at the same entries.
    rng = random.Random(0)
    for trial in range(100):
        cfg = random_map(rng)
        params = stack([im.init(cfg, seed, torch.float64) for seed in (1, 2)])
        view = im.view(cfg, torch.randn(3, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(trial)))
        x = torch.stack([view, view + 0.1])
        want, want_grads = logits_and_grads(cfg, params, x, True, "blocks")
        got, got_grads = logits_and_grads(cfg, params, x, True, "matrix")
        assert (got - want).abs().max() <= 1e-12 * max(1.0, want.abs().max().item()), cfg
        for k in want_grads:
            assert (got_grads[k] - want_grads[k]).abs().max() <= 1e-12 * max(1.0, want_grads[k].abs().max()), (k, cfg)
            assert torch.equal(got_grads[k] == 0, want_grads[k] == 0), (k, cfg)


def test_the_cpu_applies_w_block_by_block_and_cuda_as_one_matrix_where_blocks_between_slots_outnumber_them():
    # By default the CPU keeps the block order, bit for bit what it computed before the matrix order; CUDA takes the
    # matrix where the blocks between slots outnumber the slots, so an MLP's pattern stays block by block there.
    params = stack([im.init(MIXED, 0)])
    x = torch.randn(1, 4, 784, generator=torch.Generator().manual_seed(0))
    assert im.default_order(MIXED, "cpu") == "blocks"
    assert torch.equal(im.forward(MIXED, params, x), im.forward(MIXED, params, x, order="blocks"))
    assert not torch.equal(im.forward(MIXED, params, x), im.forward(MIXED, params, x, order="matrix"))
    assert im.default_order(pattern(SparseConfig(hidden=9, fraction=0.5)), "cuda") == "matrix"
    assert im.default_order(pattern(SparseConfig(hidden=9, fraction=0.0)), "cuda") == "blocks"  # one block a slot


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_applies_w_as_one_matrix():
    # CUDA's default order, on the device, against the CPU's block by block in float64.
    cfg = SparseConfig(hidden=9, fraction=0.5)
    params = stack([family_of(cfg).init(cfg, seed, torch.float64) for seed in (1, 2)])
    x = torch.randn(2, 6, 784, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    got = family_of(cfg).forward(cfg, {k: v.cuda() for k, v in params.items()}, x.cuda(), steps=True).cpu()
    assert (got - family_of(cfg).forward(cfg, params, x, steps=True)).abs().max() <= 1e-12


def test_masked_entries_are_zero_fixed_and_get_no_gradient():
    params = im.init(MIXED, 0, torch.float64)
    mask = im.block_mask(MIXED.blocks[0], 6, 784)
    assert int(mask.sum()) == round(0.3 * 6 * 784) and torch.all(params["w_a_x"][~mask] == 0)
    assert torch.equal(im.block_mask(MIXED.blocks[0], 6, 784), mask)  # the same pattern every call
    stacked = {k: v.unsqueeze(0).requires_grad_() for k, v in params.items()}
    im.forward(MIXED, stacked, torch.randn(1, 2, 784, dtype=torch.float64)).sum().backward()
    assert torch.all(stacked["w_a_x"].grad[0][~mask] == 0) and stacked["w_a_x"].grad[0][mask].abs().sum() > 0
    assert torch.all(stacked["w_a_a"].grad[0][~torch.eye(6, dtype=torch.bool)] == 0)


def test_count_params_and_macs_by_hand():
    cfg = IterMapConfig(
        slots=(Slot(name="h", size=3),),
        blocks=(
            Block(dst="h", src="x", mask="random", density=0.25),
            Block(dst="h", src="h", mask="diagonal"),
            Block(dst="y", src="h"),
        ),
        iterations=3,
        output_start=2,
        image=(2, 4),
        classes=2,
    )
    # Blocks: h <- x keeps round(0.25 * 3 * 8) = 6 of 24; h <- h diagonal: 3; y <- h dense 2 * 3 = 6.
    # Biases: h 3, y 2. Parameters: 6 + 3 + 6 + 3 + 2 = 20.
    assert im.count_params(cfg) == 20
    # Multiply-adds: h <- x once (static input, reused): 6; h <- h at iterations 2, 3 (h is zero before): 2 * 3 = 6;
    # y <- h at iterations 2, 3 (y starts at 2): 2 * 6 = 12. Total 24.
    assert im.macs(cfg) == 24
    module = im.to_torch(cfg, im.init(cfg, 0))
    blocks = module.blocks.values()
    trainable = sum(int(b.weight_mask.sum()) if hasattr(b, "weight_mask") else b.weight.numel() for b in blocks)
    assert trainable + sum(p.numel() for p in module.bias.values()) == 20


def test_init_of_an_mlp_pattern_draws_what_mlp_init_draws():
    cfg = IterMapConfig(
        slots=(Slot(name="h1", size=8), Slot(name="h2", size=4)),
        blocks=(Block(dst="h1", src="x"), Block(dst="h2", src="h1"), Block(dst="y", src="h2")),
        iterations=3,
    )
    mlp_cfg = MLPConfig(hidden=[8, 4])
    got, want = im.init(cfg, 7), family_of(mlp_cfg).init(mlp_cfg, 7)
    names = {"w_h1_x": "w0", "b_h1": "b0", "w_h2_h1": "w1", "b_h2": "b1", "w_y_h2": "w2", "b_y": "b2"}
    assert got.keys() == names.keys() and all(torch.equal(got[k], want[v]) for k, v in names.items())


def test_registered_as_a_family():
    cfg = parse_config(MIXED.model_dump(mode="json"))
    assert cfg == MIXED and family_of(cfg) is im
    assert hash(cfg) == hash(MIXED)  # frozen and hashable: masks are cached per block


@pytest.mark.parametrize(
    "slots,blocks,message",
    [
        ((Slot(name="x", size=2),), (), "slot name"),
        ((Slot(name="h", size=2), Slot(name="h", size=3)), (), "unique"),
        ((Slot(name="h", size=2),), (Block(dst="x", src="h"),), "dst must be"),
        ((Slot(name="h", size=2),), (Block(dst="h", src="z"),), "dst must be"),
        ((Slot(name="h", size=2),), (Block(dst="h", src="x", mask="diagonal"),), "diagonal"),
        ((Slot(name="h", size=2),), (Block(dst="y", src="h"), Block(dst="y", src="h")), "once"),
    ],
)
def test_config_errors(slots, blocks, message):
    with pytest.raises(ValidationError, match=message):
        IterMapConfig(slots=slots, blocks=blocks, iterations=2)

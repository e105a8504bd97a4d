"""The sparsity continuum: mask construction by hand, exact non-zeros along f, masks fixed through training, f = 0 is MLP-2."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from itermap.data import load
from itermap.models import MLPConfig, SparseConfig, family_of
from itermap.models.itermap import Block, IterMapConfig, Slot, block_mask, nonzeros, wname
from itermap.models.sparse import pattern
from itermap.models.stacked import stack
from itermap.study.plan import make_plan
from itermap.study.spec import load_spec
from itermap.train import PackTrainer, TrainConfig


def test_a_blocks_parameters_are_its_masks_nonzeros_by_hand():
    cfg = IterMapConfig(
        slots=(Slot(name="h", size=4),),
        blocks=(
            Block(dst="h", src="x", mask="random", density=0.25, seed=3),  # 0.25 * 784 * 4 = 784 entries
            Block(dst="h", src="h", mask="diagonal"),  # 4
            Block(dst="y", src="h"),  # dense 10 * 4 = 40
        ),
        iterations=3,
    )
    assert [nonzeros(cfg, b) for b in cfg.blocks] == [784, 4, 40]
    assert family_of(cfg).count_params(cfg) == 784 + 4 + 40 + 4 + 10  # and the biases of h and y
    params = family_of(cfg).init(cfg, 0)
    assert [int((params[wname(b)] != 0).sum()) for b in cfg.blocks] == [784, 4, 40]


def test_continuum_allocation_by_hand():
    # hidden 10, f = 0.5. S: h1<-x 7840 keeps 3920, h2<-h1 100 keeps 50, y<-h2 100 keeps 50; M = 4020 moved.
    # O: seven blocks of 100 and h2<-x, y<-x of 7840 (C = 16,380). Quotas 4020 |o| / C: 24.54 and 1924.25; floors
    # sum to 4016, the 4 left go to the largest remainders (.54), the first four 100-blocks in O's order.
    cfg = SparseConfig(hidden=10, fraction=0.5)
    want = {("h1", "x"): 3920, ("h2", "h1"): 50, ("y", "h2"): 50, ("h1", "h1"): 25, ("h1", "h2"): 25,
            ("h1", "y"): 25, ("h2", "x"): 1924, ("h2", "h2"): 25, ("h2", "y"): 24, ("y", "x"): 1924,
            ("y", "h1"): 24, ("y", "y"): 24}  # fmt: skip
    maps = pattern(cfg)
    got = {(b.dst, b.src): int(block_mask(b, maps.size(b.dst), maps.size(b.src)).sum()) for b in maps.blocks}
    assert got == want
    params = family_of(cfg).init(cfg, 1)
    assert {(b.dst, b.src): int((params[wname(b)] != 0).sum()) for b in maps.blocks} == want
    mlp2 = MLPConfig(hidden=[10, 10])
    assert family_of(cfg).count_params(cfg) == sum(want.values()) + 30 == family_of(mlp2).count_params(mlp2) == 8070


def test_masks_are_seeded_and_nested_along_f():
    def kept(f: float, seed: int = 0) -> torch.Tensor:
        maps = pattern(SparseConfig(hidden=6, fraction=f, mask_seed=seed))
        b = next(b for b in maps.blocks if (b.dst, b.src) == ("h1", "x"))
        return block_mask(b, 6, 784)

    assert torch.equal(kept(0.5), kept(0.5))  # the same config, the same masks
    assert not torch.equal(kept(0.5), kept(0.5, seed=1))
    assert bool((kept(0.75) <= kept(0.5)).all()) and bool((kept(0.5) <= kept(0.25)).all())


@pytest.mark.parametrize("preset", ["sparsity", "sparsity-quick"])
def test_nonzeros_are_equal_along_each_budgets_continuum(preset):
    # Tolerance 0: every point of a budget's continuum holds exactly MLP-2's non-zeros plus biases, counted here
    # from the to_torch module's pruning masks, independently of count_params.
    plan = make_plan(load_spec(preset))
    points = {}
    for run in plan.runs:
        if run.cfg.family == "sparse":
            points.setdefault(run.budget, {})[run.cfg.fraction] = run.cfg
    assert len(points) >= 2 and all(len(p) >= 5 for p in points.values())
    for budget, by_f in points.items():
        counts = set()
        for cfg in by_f.values():
            module = family_of(cfg).to_torch(cfg, family_of(cfg).init(cfg, 0))
            masks = dict(module.named_buffers())
            weights = sum(
                int(masks[f"blocks.{n}.weight_mask"].sum())
                if f"blocks.{n}.weight_mask" in masks
                else lin.weight.numel()
                for n, lin in module.blocks.items()
            )
            counts.add(weights + sum(b.numel() for b in module.bias.values()))
            assert family_of(cfg).count_params(cfg) in counts
        mlp2 = MLPConfig(hidden=[cfg.hidden] * 2)
        assert counts == {family_of(mlp2).count_params(mlp2)}
        assert abs(counts.pop() - budget) <= 0.03 * budget


def test_masked_weights_stay_zero_after_20_adam_steps():
    mini = load("fashion-mnist-mini")
    data = replace(
        mini,
        train_images=mini.train_images[:1280],
        train_labels=mini.train_labels[:1280],
        test_images=mini.test_images[:200],
        test_labels=mini.test_labels[:200],
    )
    cfg = SparseConfig(hidden=8, fraction=0.5)
    train = TrainConfig(epochs=1, batch_size=64, lr=1e-2)  # 1280 / 64 = 20 Adam steps
    trainer = PackTrainer(cfg, train, [0, 1], data)
    before = trainer.member_params(0)
    trainer.run_epoch()
    maps = pattern(cfg)
    for i in range(2):
        after = trainer.member_params(i)
        for b in maps.blocks:
            mask = block_mask(b, maps.size(b.dst), maps.size(b.src))
            w = after[wname(b)]
            if mask is not None:
                assert int((w[~mask] != 0).sum()) == 0  # exactly zero, not small
                assert bool((w[mask] != 0).all())
    moved = before[wname(maps.blocks[0])] != trainer.member_params(0)[wname(maps.blocks[0])]
    assert int(moved.sum()) > 0.9 * nonzeros(maps, maps.blocks[0])  # the kept entries did train


def test_fraction_zero_is_mlp_2():
    cfg, mlp = SparseConfig(hidden=7, fraction=0.0), MLPConfig(hidden=[7, 7])
    p, q = family_of(cfg).init(cfg, 5, torch.float64), family_of(mlp).init(mlp, 5, torch.float64)
    assert all(torch.equal(a, b) for a, b in zip(p.values(), q.values()))  # the same draws in the same order
    x = torch.randn(1, 9, 784, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    got = family_of(cfg).forward(cfg, stack([p]), x)
    assert (got - family_of(mlp).forward(mlp, stack([q]), x)).abs().max() <= 1e-12


def test_a_fraction_that_does_not_fit_is_refused():
    with pytest.raises(ValueError, match="moves 31,760 weights, more than the 9,940 entries"):
        SparseConfig(hidden=40, layers=1, fraction=1.0)

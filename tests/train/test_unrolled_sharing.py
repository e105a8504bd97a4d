"""Unrolled nets between tied and untied (blocks, schedule, relax): a pack's training equals torch.optim.Adam on each
member's to_torch module."""

from __future__ import annotations

import pytest
import torch

from itermap.models import UnrolledConfig, family_of
from itermap.train import PackTrainer, TrainConfig

from .test_losses import every_step_alone
from .test_trainer import toy_data, train_alone

CONFIGS = [
    UnrolledConfig(hidden=5, depth=4, blocks=2, relax=2),
    UnrolledConfig(hidden=5, depth=4, blocks=2, schedule="sequence", inject="first", heads="separate"),
    UnrolledConfig(hidden=5, depth=4, blocks=1, relax=2, inject="first"),
    UnrolledConfig(hidden=5, depth=4, blocks=3, schedule="sequence", relax=1),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.arch)
@pytest.mark.parametrize("loss", ["last", "every-step"])
def test_pack_equals_torch_adam(cfg, loss):
    """A pack of 3, 20 Adam steps, float64: each member's params equal its to_torch module's after torch.optim.Adam."""
    data, seeds = toy_data(), [3, 4, 5]
    train = TrainConfig(epochs=1, batch_size=16, lr=1e-2, dtype="float64", loss=loss)
    trainer = PackTrainer(cfg, train, seeds, data)
    trainer.run_epoch()  # 320 / 16 = 20 steps
    for i, seed in enumerate(seeds):
        got = family_of(cfg).to_torch(cfg, trainer.member_params(i)).state_dict()
        alone = (train_alone if loss == "last" else every_step_alone)(cfg, train, seed, data)
        want = alone.state_dict()
        assert got.keys() == want.keys()
        init = family_of(cfg).to_torch(cfg, family_of(cfg).init(cfg, seed, torch.float64)).state_dict()
        for k in want:
            unused = (
                loss == "last" and cfg.heads == "separate" and k.startswith("heads.") and k[6] != str(cfg.depth - 1)
            )
            assert torch.equal(want[k], init[k]) == unused, f"{k} did not move"  # the last loss reaches only head d
            rel = (got[k] - want[k]).abs().max() / want[k].abs().max()
            assert rel <= 1e-12, (k, rel.item())

"""GRU and LSTM packs trained against torch.optim.Adam on nn.GRU / nn.LSTM, the every-step loss, and wide packs."""

from __future__ import annotations

import pytest
import torch

from itermap.models import GRUConfig, LSTMConfig, family_of
from itermap.train import PackTrainer, TrainConfig

from .test_losses import every_step_alone
from .test_trainer import assert_member_trained_alone, toy_data, train_alone

CONFIGS = [
    GRUConfig(hidden=8, layers=2, window=3),
    GRUConfig(hidden=6, layers=1, window=7, axis="rows"),
    LSTMConfig(hidden=8, layers=2, window=3),
    LSTMConfig(hidden=6, layers=1, window=7, axis="rows"),
]


def assert_same_weights(cfg, got: dict[str, torch.Tensor], module: torch.nn.Module, init: dict[str, torch.Tensor]):
    """Params trained in a pack against a trained to_torch module, compared as torch's tensors, to 1e-9 relative."""
    fam = family_of(cfg)
    mine, want = fam.to_torch(cfg, got).state_dict(), module.state_dict()
    start = fam.to_torch(cfg, init).state_dict()
    assert mine.keys() == want.keys()
    for k in want:
        assert not torch.allclose(mine[k], start[k]), f"{k} did not move"
        rel = (mine[k] - want[k]).abs().max() / want[k].abs().max()
        assert rel <= 1e-9, (k, rel.item())


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.arch)
@pytest.mark.parametrize("order", ["per-seed", "shared"])
def test_pack_equals_members_trained_alone(cfg, order):
    """M = 4 members, 20 Adam steps, float64: each equals its own nn.GRU / nn.LSTM training to 1e-9 relative."""
    data = toy_data()
    train = TrainConfig(epochs=1, batch_size=16, lr=1e-2, dtype="float64", data_order=order, data_seed=5)
    seeds = [11, 12, 13, 14]
    trainer = PackTrainer(cfg, train, seeds, data)
    trainer.run_epoch()  # 320 / 16 = 20 steps
    for i, seed in enumerate(seeds):
        init = family_of(cfg).init(cfg, seed, torch.float64)
        assert_same_weights(cfg, trainer.member_params(i), train_alone(cfg, train, seed, data), init)


@pytest.mark.parametrize("cfg", CONFIGS[::2], ids=lambda c: c.arch)
@pytest.mark.parametrize("weights", ["uniform", "linear"])
def test_every_step_equals_torch_nn(cfg, weights):
    """The every-step loss (sum_k w_k CE(logits_k, y) over the steps, written out in test_losses) on a pack of 3."""
    data, seeds = toy_data(), [3, 4, 5]
    train = TrainConfig(epochs=1, batch_size=16, lr=1e-2, dtype="float64", loss="every-step", step_weights=weights)
    trainer = PackTrainer(cfg, train, seeds, data)
    trainer.run_epoch()  # 320 / 16 = 20 steps
    for i, seed in enumerate(seeds):
        init = family_of(cfg).init(cfg, seed, torch.float64)
        assert_same_weights(cfg, trainer.member_params(i), every_step_alone(cfg, train, seed, data), init)
    last = PackTrainer(cfg, train.model_copy(update={"loss": "last"}), seeds[:1], data)
    last.run_epoch()
    assert not torch.allclose(last.member_params(0)["w_out"], trainer.member_params(0)["w_out"])  # another loss


WIDE = {
    "gru": [GRUConfig(hidden=h, layers=2, window=4) for h in (2, 5, 7)],
    "lstm": [LSTMConfig(hidden=h, layers=2, window=4) for h in (2, 5, 7)],
}


@pytest.mark.parametrize("kind", sorted(WIDE))
def test_wide_pack_equals_ordinary_packs(kind):
    """Three widths in one padded pack, 20 steps, float64, every-step loss and anytime rows: each member's params and
    metrics equal its own pack's to 1e-9, and every padded entry (gate rows, state columns, readout) stays exactly 0."""
    cfgs, data = WIDE[kind], toy_data()
    train = TrainConfig(epochs=1, batch_size=16, lr=1e-2, dtype="float64", loss="every-step", eval_steps=True)
    members = [(cfg, seed) for cfg in cfgs for seed in (4, 5)]
    wide = PackTrainer([c for c, _ in members], train, [s for _, s in members], data)
    assert wide.cfg == cfgs[-1]
    wide_rows = wide.run_epoch()
    for i, (cfg, seed) in enumerate(members):
        alone = PackTrainer(cfg, train, [seed], data)
        rows = alone.run_epoch()
        assert_member_trained_alone(wide, wide_rows, i, alone, rows)

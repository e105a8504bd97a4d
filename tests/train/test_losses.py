"""Losses by name: `every-step` trains an RNN exactly as torch.nn does with the mean cross-entropy over its steps."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from itermap.models import MLPConfig, RNNConfig, family
from itermap.train import PackTrainer, TrainConfig, batches, epoch_order
from itermap.train.trainer import prepare

from .test_trainer import torch_params, toy_data


def every_step_alone(cfg: RNNConfig, train: TrainConfig, seed: int, data) -> torch.nn.Module:
    """nn.RNN + nn.Linear on every step's state, loss = mean over steps of the cross-entropy, torch.optim.Adam."""
    fam = family(cfg)
    module = fam.to_torch(cfg, fam.init(cfg, seed, train.torch_dtype))
    opt = torch.optim.Adam(module.parameters(), lr=train.lr)
    x, y = prepare(cfg, train, data.train_images, data, "cpu"), data.train_labels
    for idx in batches(epoch_order(seed, 1, len(y)), train.batch_size):
        states, _ = module.rnn(x[idx])  # [B, T, H]
        logits = module.readout(states)  # [B, T, C]
        loss = torch.stack([F.cross_entropy(logits[:, t], y[idx]) for t in range(cfg.steps)]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return module


def test_every_step_equals_torch_nn():
    cfg, data = RNNConfig(hidden=6, layers=2, window=7), toy_data()
    train = TrainConfig(epochs=1, batch_size=32, lr=1e-2, dtype="float64", loss="every-step")
    trainer = PackTrainer(cfg, train, [3, 4], data)
    trainer.run_epoch()
    for i, seed in enumerate([3, 4]):
        want = torch_params(cfg, every_step_alone(cfg, train, seed, data))
        for k, v in trainer.member_params(i).items():
            assert (v - want[k]).abs().max() / want[k].abs().max() <= 1e-9, k
    last = PackTrainer(cfg, train.model_copy(update={"loss": "last"}), [3], data)
    last.run_epoch()
    assert not torch.allclose(last.member_params(0)["w_hh0"], trainer.member_params(0)["w_hh0"])  # it is another loss


def test_every_step_needs_steps():
    with pytest.raises(ValueError, match="'every-step' needs per-step logits, which family 'mlp'"):
        PackTrainer(MLPConfig(hidden=[4]), TrainConfig(loss="every-step"), [0], toy_data())
    with pytest.raises(ValueError, match="unknown loss 'sum'; allowed: last, every-step"):
        TrainConfig(loss="sum")

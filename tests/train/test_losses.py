"""Losses by name: `every-step` trains exactly as torch.nn does with the per-step cross-entropies written out."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from itermap.models import MLPConfig, RNNConfig, UnrolledConfig, family_of
from itermap.study.training import one_thread
from itermap.train import PackTrainer, TrainConfig, batches, epoch_order
from itermap.train.trainer import prepare

from .test_trainer import toy_data

CONFIGS = [
    RNNConfig(hidden=6, layers=2, window=7),  # each window's state supervised
    UnrolledConfig(hidden=6, depth=3, tied=True),
    UnrolledConfig(hidden=6, depth=3, tied=False, inject="first", heads="separate"),
]


def step_logits(cfg, module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Every step's logits [B, T, C] of a to_torch module."""
    if isinstance(cfg, RNNConfig):
        states, _ = module.rnn(x)  # [B, T, H]
        return module.readout(states)
    return module.step_logits(x)


def every_step_alone(cfg, train: TrainConfig, seed: int, data) -> torch.nn.Module:
    """The member's to_torch module, torch.optim.Adam, and L = sum_k w_k CE(logits_k, y) written out here."""
    fam = family_of(cfg)
    module = fam.to_torch(cfg, fam.init(cfg, seed, train.torch_dtype))
    opt = torch.optim.Adam(module.parameters(), lr=train.lr)
    x, y = prepare(cfg, train, data.train_images, data, "cpu"), data.train_labels
    for idx in batches(epoch_order(seed, 1, len(y)), train.batch_size):
        logits = step_logits(cfg, module, x[idx])
        t = logits.shape[1]
        w = [1 / t] * t if train.step_weights == "uniform" else [k / (t * (t + 1) / 2) for k in range(1, t + 1)]
        loss = sum(w[k] * F.cross_entropy(logits[:, k], y[idx]) for k in range(t))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return module


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.arch)
@pytest.mark.parametrize("weights", ["uniform", "linear"])
def test_every_step_equals_torch_nn(cfg, weights):
    """A pack of 4, 20 Adam steps, float64: each member equals its own torch.nn training to 1e-9 relative."""
    data, seeds = toy_data(), [3, 4, 5, 6]
    train = TrainConfig(epochs=1, batch_size=16, lr=1e-2, dtype="float64", loss="every-step", step_weights=weights)
    trainer = PackTrainer(cfg, train, seeds, data)
    trainer.run_epoch()  # 320 / 16 = 20 steps
    for i, seed in enumerate(seeds):
        got = family_of(cfg).to_torch(cfg, trainer.member_params(i)).state_dict()
        want = every_step_alone(cfg, train, seed, data).state_dict()
        for k in want:
            assert (got[k] - want[k]).abs().max() / want[k].abs().max() <= 1e-9, k
    last = PackTrainer(cfg, train.model_copy(update={"loss": "last"}), seeds[:1], data)
    last.run_epoch()
    assert not torch.allclose(last.member_params(0)["w_out"], trainer.member_params(0)["w_out"])  # another loss


def test_every_step_needs_steps():
    with pytest.raises(ValueError, match="'every-step' needs per-step logits, which family 'mlp'"):
        PackTrainer(MLPConfig(hidden=[4]), TrainConfig(loss="every-step"), [0], toy_data())
    with pytest.raises(ValueError, match="unknown loss 'sum'; allowed: last, every-step"):
        TrainConfig(loss="sum")


@pytest.mark.parametrize("tied", [True, False])
def test_anytime_rows(tied):
    """Every step's prediction at each test evaluation: step d equals the model's row; a tied net also runs to 2d."""
    cfg = UnrolledConfig(hidden=5, depth=3, tied=tied)
    trainer = PackTrainer(cfg, TrainConfig(epochs=2, lr=1e-2, eval_steps=True, eval_train_every=2), [0, 1], toy_data())
    rows = trainer.run_epoch() + trainer.run_epoch()
    test = [r for r in rows if r.split == "test"]
    for member in (0, 1):
        for epoch in (1, 2):
            mine = {(r.metric, r.step): r.value for r in test if r.member == member and r.epoch == epoch}
            assert {s for _, s in mine} == {None, *range(1, (6 if tied else 3) + 1)}
            for metric in ("accuracy", "cross_entropy"):
                assert mine[metric, 3] == mine[metric, None]
    assert all(r.step is None for r in rows if r.split == "train")  # anytime rows on the test split only


# Distillation: students trained on a teacher's logits, and their fidelity to it (one intra-op thread: tiny matmuls,
# where a second thread on a shared 2-core machine only spins).


@pytest.fixture
def single_thread():
    with one_thread():
        yield


TEACHER = RNNConfig(hidden=8, layers=1, window=7)


def teacher_of(data, train: TrainConfig):
    """A random RNN as the teacher (config, params), and its logits on both splits from its nn.RNN module."""
    params = family_of(TEACHER).init(TEACHER, 11, train.torch_dtype)
    module = family_of(TEACHER).to_torch(TEACHER, params)
    with torch.no_grad():
        logits = [
            module(prepare(TEACHER, train, images, data, "cpu")) for images in (data.train_images, data.test_images)
        ]
    return (TEACHER, params), logits


def distill_alone(cfg, train: TrainConfig, seed: int, data, teacher: torch.Tensor) -> torch.nn.Module:
    """The student's nn.Sequential, torch.optim.Adam, and the distillation loss written out here:
    L = alpha tau^2 mean_b sum_c p_bc (log p_bc - log q_bc) + (1 - alpha) CE(s, y), p = softmax(t/tau), q = softmax(s/tau)."""
    fam = family_of(cfg)
    module = fam.to_torch(cfg, fam.init(cfg, seed, train.torch_dtype))
    opt = torch.optim.Adam(module.parameters(), lr=train.lr)
    x, y = prepare(cfg, train, data.train_images, data, "cpu"), data.train_labels
    tau, alpha = train.tau, train.alpha
    for idx in batches(epoch_order(seed, 1, len(y)), train.batch_size):
        s = module(x[idx])
        p, log_q = torch.softmax(teacher[idx] / tau, 1), torch.log_softmax(s / tau, 1)
        kl = (p * (p.log() - log_q)).sum(1).mean()
        loss = alpha * tau**2 * kl + (1 - alpha) * F.cross_entropy(s, y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return module


@pytest.mark.parametrize("tau,alpha", [(4.0, 0.7), (1.0, 1.0), (2.0, 0.0)])
def test_distill_equals_torch_nn(tau, alpha, single_thread):
    """A pack of 3 MLP students, 20 Adam steps, float64: each equals its own torch.nn training to 1e-9 relative."""
    data, seeds, cfg = toy_data(), [3, 4, 5], MLPConfig(hidden=[7])
    train = TrainConfig(epochs=1, batch_size=16, lr=1e-2, dtype="float64", loss="distill", tau=tau, alpha=alpha)
    teacher, (t_train, _) = teacher_of(data, train)
    trainer = PackTrainer(cfg, train, seeds, data, teacher=teacher)
    trainer.run_epoch()  # 320 / 16 = 20 steps
    for i, seed in enumerate(seeds):
        got = family_of(cfg).to_torch(cfg, trainer.member_params(i)).state_dict()
        want = distill_alone(cfg, train, seed, data, t_train).state_dict()
        for k in want:
            assert (got[k] - want[k]).abs().max() / want[k].abs().max() <= 1e-9, k
    if alpha == 0.0:  # labels alone: the same as the `last` loss
        last = PackTrainer(cfg, train.model_copy(update={"loss": "last"}), seeds[:1], data)
        last.run_epoch()
        assert torch.allclose(last.member_params(0)["w0"], trainer.member_params(0)["w0"], rtol=0, atol=1e-12)


def test_fidelity_metrics_recomputed_from_logits(single_thread):
    """Agreement and KL(teacher || student) of each evaluation equal plain torch on the saved logits of both nets."""
    data, cfg = toy_data(), MLPConfig(hidden=[5])
    train = TrainConfig(epochs=2, batch_size=32, lr=1e-2, loss="distill", eval_train_every=1)
    teacher, (t_train, t_test) = teacher_of(data, train)
    trainer = PackTrainer(cfg, train, [0, 1], data, teacher=teacher)
    rows = trainer.run_epoch()
    for member in (0, 1):
        module = family_of(cfg).to_torch(cfg, trainer.member_params(member))
        for split, images, t in (("train", data.train_images, t_train), ("test", data.test_images, t_test)):
            with torch.no_grad():
                s = module(prepare(cfg, train, images, data, "cpu"))
            p = torch.softmax(t.double(), 1)
            want = {
                "agreement": (s.argmax(1) == t.argmax(1)).double().mean().item(),
                "teacher_kl": (p * (p.log() - torch.log_softmax(s.double(), 1))).sum(1).mean().item(),
            }
            got = {r.metric: r.value for r in rows if r.member == member and r.split == split}
            assert got["agreement"] == pytest.approx(want["agreement"], abs=1e-12)
            assert got["teacher_kl"] == pytest.approx(want["teacher_kl"], rel=1e-4)
            assert 0 < got["agreement"] < 1 and got["teacher_kl"] > 0
    label_only = PackTrainer(cfg, train.model_copy(update={"loss": "last"}), [0], data, teacher=teacher)
    assert {r.metric for r in label_only.run_epoch()} >= {"agreement", "teacher_kl"}  # measured without training on it
    with pytest.raises(ValueError, match="'distill' trains on a teacher's logits"):
        PackTrainer(cfg, train, [0], data)

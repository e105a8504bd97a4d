"""The pack trainer against standard PyTorch training, one member at a time."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from itermap.data import Dataset
from itermap.models import MLPConfig, RNNConfig, family_of
from itermap.train import PackTrainer, TrainConfig, batches, epoch_order
from itermap.train.trainer import prepare

CONFIGS = [MLPConfig(hidden=[8, 8]), RNNConfig(hidden=8, layers=2, window=3)]


def toy_data(n_train: int = 320, n_test: int = 100, seed: int = 0) -> Dataset:
    """Random 28x28 uint8 images whose label is a function of the pixels (so training has signal)."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n_train + n_test, 28, 28), dtype=torch.uint8, generator=g)
    labels = (images[:, :, :14].float().mean((1, 2)) > images[:, :, 14:].float().mean((1, 2))).long()
    labels += 2 * (images[:, :14].float().mean((1, 2)) > 127.5).long()
    return Dataset("toy", images[:n_train], labels[:n_train], images[n_train:], labels[n_train:], 0.5, 0.29)


def torch_params(cfg, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A to_torch module's weights under itermap's param names."""
    if cfg.family == "mlp":
        linears = [m for m in module if isinstance(m, torch.nn.Linear)]
        return {
            f"{k}{i}": getattr(lin, n) for i, lin in enumerate(linears) for k, n in (("w", "weight"), ("b", "bias"))
        }
    out = {"w_out": module.readout.weight, "b_out": module.readout.bias}
    for l in range(cfg.layers):
        for k, n in (("w_ih", "weight_ih"), ("w_hh", "weight_hh"), ("b_ih", "bias_ih"), ("b_hh", "bias_hh")):
            out[f"{k}{l}"] = getattr(module.rnn, f"{n}_l{l}")
    return out


def train_alone(cfg, train: TrainConfig, seed: int, data: Dataset) -> torch.nn.Module:
    """The loop a user writes: the member's to_torch module, torch.optim.Adam, the same batches."""
    fam = family_of(cfg)
    module = fam.to_torch(cfg, fam.init(cfg, seed, train.torch_dtype))
    opt = torch.optim.Adam(module.parameters(), lr=train.lr)
    x, y = prepare(cfg, train, data.train_images, data, "cpu"), data.train_labels
    order_seed = seed if train.data_order == "per-seed" else train.data_seed
    for epoch in range(1, train.epochs + 1):
        for idx in batches(epoch_order(order_seed, epoch, len(y)), train.batch_size):
            loss = F.cross_entropy(module(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return module


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.arch)
@pytest.mark.parametrize("order", ["per-seed", "shared"])
def test_pack_equals_members_trained_alone(cfg, order):
    """M = 4 members, 20 Adam steps, float64: each equals its own torch.nn training to 1e-9 relative."""
    data = toy_data()
    train = TrainConfig(epochs=1, batch_size=16, lr=1e-2, dtype="float64", data_order=order, data_seed=5)
    seeds = [11, 12, 13, 14]
    trainer = PackTrainer(cfg, train, seeds, data)
    trainer.run_epoch()  # 320 / 16 = 20 steps
    for i, seed in enumerate(seeds):
        got = trainer.member_params(i)
        want = torch_params(cfg, train_alone(cfg, train, seed, data))
        init = family_of(cfg).init(cfg, seed, torch.float64)
        for k in got:
            assert not torch.allclose(got[k], init[k]), f"{k} did not move"
            rel = (got[k] - want[k]).abs().max() / want[k].abs().max()
            assert rel <= 1e-9, (k, rel.item())


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.arch)
def test_run_does_not_depend_on_its_pack(cfg):
    data = toy_data()
    train = TrainConfig(epochs=2, batch_size=32, lr=1e-2, dtype="float64")
    a = PackTrainer(cfg, train, [1, 2, 3], data)
    b = PackTrainer(cfg, train, [9, 2], data)
    rows_a = [r for _ in range(2) for r in a.run_epoch()]
    rows_b = [r for _ in range(2) for r in b.run_epoch()]
    pa, pb = a.member_params(1), b.member_params(1)
    for k in pa:
        torch.testing.assert_close(pa[k], pb[k], rtol=1e-12, atol=0)
    va = {(r.epoch, r.split, r.metric): r.value for r in rows_a if r.member == 1}
    vb = {(r.epoch, r.split, r.metric): r.value for r in rows_b if r.member == 1}
    assert va.keys() == vb.keys() and va == pytest.approx(vb, rel=1e-12)


def test_evaluation_matches_torch_module():
    cfg, data = RNNConfig(hidden=6, layers=1, window=4), toy_data(n_test=3000)  # > one eval chunk
    trainer = PackTrainer(cfg, TrainConfig(epochs=1, dtype="float64"), [0, 1], data)
    metrics, _ = trainer.evaluate("test")
    x = prepare(cfg, trainer.train, data.test_images, data, "cpu")
    for i in range(2):
        logits = family_of(cfg).to_torch(cfg, trainer.member_params(i))(x)
        acc = (logits.argmax(1) == data.test_labels).double().mean()
        assert metrics["accuracy"][i].item() == pytest.approx(acc.item(), abs=1e-12)
        ce = F.cross_entropy(logits, data.test_labels)
        assert metrics["cross_entropy"][i].item() == pytest.approx(ce.item(), rel=1e-10)


def test_schedule_and_resume_from_state_dict(tmp_path):
    cfg, data = MLPConfig(hidden=[4]), toy_data()
    train = TrainConfig(epochs=3, batch_size=64, eval_train_every=2, lr=1e-3)
    straight = PackTrainer(cfg, train, [0, 1], data)
    rows = [straight.run_epoch() for _ in range(3)]
    assert straight.done
    assert [sorted({r.split for r in epoch}) for epoch in rows] == [["test"], ["test", "train"], ["test", "train"]]
    assert all(len(epoch) == 2 * 2 * len({r.split for r in epoch}) for epoch in rows)

    first = PackTrainer(cfg, train, [0, 1], data)
    first.run_epoch()
    torch.save(first.state_dict(), tmp_path / "pack.pt")
    resumed = PackTrainer(cfg, train, [0, 1], data)
    resumed.load_state_dict(torch.load(tmp_path / "pack.pt"))
    later = [resumed.run_epoch() for _ in range(2)]
    assert later == rows[1:]  # identical floats, not just close
    for k, v in straight.params.items():
        assert torch.equal(v, resumed.params[k])


def test_diverged_member_is_marked_and_isolated():
    cfg, data = MLPConfig(hidden=[4]), toy_data()
    train = TrainConfig(epochs=2, batch_size=64, lr=1e-3, dtype="float64")
    sick = PackTrainer(cfg, train, [0, 1, 2], data)
    with torch.no_grad():
        sick.params["w0"][1, 0, 0] = float("nan")
    healthy = PackTrainer(cfg, train, [0, 2], data)
    rows = sick.run_epoch() + sick.run_epoch()
    healthy.run_epoch(), healthy.run_epoch()
    assert sick.diverged == [None, 1, None]
    assert {r.member for r in rows} == {0, 2}
    for k in healthy.params:
        torch.testing.assert_close(sick.params[k][[0, 2]], healthy.params[k], rtol=1e-12, atol=0)


WIDE = {
    "mlp": [MLPConfig(hidden=[w, w]) for w in (3, 5, 8)],
    "rnn": [RNNConfig(hidden=h, layers=2, window=4) for h in (2, 5, 7)],
}


def assert_member_trained_alone(wide: PackTrainer, wide_rows: list, i: int, alone: PackTrainer, rows: list) -> None:
    """Member i of a wide pack against the same run in a pack of its own: params and rows within float64 rounding,
    and every entry outside its own corner exactly zero after Adam moved the rest."""
    got, want = wide.member_params(i), alone.member_params(0)
    assert got.keys() == want.keys()
    for k in want:
        assert got[k].shape == want[k].shape
        torch.testing.assert_close(got[k], want[k], rtol=1e-9, atol=1e-12)
    mine = {(r.split, r.metric, r.step): r.value for r in wide_rows if r.member == i}
    assert mine == pytest.approx({(r.split, r.metric, r.step): r.value for r in rows}, rel=1e-9, abs=1e-12)
    for k, v in wide.params.items():
        padded = v[i].detach().clone()
        padded[tuple(slice(0, n) for n in want[k].shape)] = 0
        assert torch.count_nonzero(padded) == 0, k


@pytest.mark.parametrize("kind", sorted(WIDE))
@pytest.mark.parametrize("order", ["per-seed", "shared"])
def test_wide_pack_equals_ordinary_packs(kind, order):
    """Three widths on two data sets in one padded pack, 20 steps, float64: every member's params and metrics equal
    those of its configuration's own pack on its own data set to 1e-9, and every padded entry stays exactly 0."""
    cfgs, datas = WIDE[kind], [toy_data(seed=0), toy_data(seed=1)]
    datas[1] = dataclasses.replace(datas[1], name="toy-b", mean=0.4, std=0.3)  # standardized with its own stats
    train = TrainConfig(
        epochs=1, batch_size=16, lr=1e-2, dtype="float64", data_order=order, data_seed=3, eval_steps=True
    )
    members = [(cfg, d, seed) for cfg in cfgs for d in (0, 1) for seed in (4, 5)]
    wide = PackTrainer([c for c, _, _ in members], train, [s for *_, s in members], [datas[d] for _, d, _ in members])
    assert wide.cfg == cfgs[-1] and wide.source is not None
    wide_rows = wide.run_epoch()  # 320 / 16 = 20 steps, then the test and train evaluations
    for i, (cfg, d, seed) in enumerate(members):
        alone = PackTrainer(cfg, train, [seed], datas[d])
        rows = alone.run_epoch()
        assert_member_trained_alone(wide, wide_rows, i, alone, rows)


def test_capture_needs_cuda():
    with pytest.raises(ValueError, match="CUDA graphs need a CUDA device, not 'cpu'"):
        PackTrainer(MLPConfig(hidden=[4]), TrainConfig(), [0], toy_data(), capture=True)


def test_tied_net_records_its_residual_at_every_step_where_eval_steps_is_on():
    """With `eval_steps`, a tied net's last test evaluation holds its fixed-point residual at each step 1..2d (rows
    with a `step`), equal to unrolled.dynamics on the member's own weights; without it, only the [M] dynamics."""
    from itermap.models import UnrolledConfig, unrolled

    cfg, data = UnrolledConfig(hidden=8, depth=3), toy_data()
    for steps in (True, False):
        train = TrainConfig(epochs=1, batch_size=64, lr=1e-2, eval_steps=steps, dtype="float64")
        trainer = PackTrainer(cfg, train, [0, 1], data)
        rows = [r for r in trainer.run_epoch() if r.metric == "residual"]
        if not steps:
            assert rows == [] and trainer.done
            continue
        x = prepare(cfg, train, data.test_images, data, "cpu").expand(2, -1, -1)  # [M, N, 784]
        want = unrolled.dynamics(cfg, trainer.params, x, data.test_labels.expand(2, -1), steps=2 * cfg.depth)
        assert sorted({r.step for r in rows}) == list(range(1, 2 * cfg.depth + 1)) and len(rows) == 2 * 2 * cfg.depth
        for r in rows:
            assert r.value == pytest.approx(want["residual"][r.member, r.step - 1].item(), rel=1e-10)

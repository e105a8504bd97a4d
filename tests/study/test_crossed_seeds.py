"""Crossed seeds, `seeds = { init = N, order = M }`: N x M runs per configuration in one pack, run (i, j) initialised
by init seed i and shuffled by order seed j, both recorded and read back; the plain integer keeps its meaning."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from itermap import cli
from itermap.analysis.overview import analyze
from itermap.analysis.results import load_results
from itermap.cli import app
from itermap.data import Dataset
from itermap.models import MLPConfig, RNNConfig, family_of
from itermap.study.errors import SpecError
from itermap.study.plan import make_plan
from itermap.study.runner import run_study
from itermap.study.spec import parse_text
from itermap.train import PackTrainer, TrainConfig, batches, epoch_order
from itermap.train.trainer import prepare

SPEC = """
[study]
name = "crossed"
[data]
datasets = ["fashion-mnist-mini"]
limit_train = 200
limit_test = 100
[train]
epochs = 1
lr = 1e-2
batch_size = 50
seeds = {seeds}
[[grid]]
family = "mlp"
hidden = [[8]]
[[matched]]
budgets = [3200]
families = [{{ family = "mlp", layers = 1 }}, {{ family = "rnn", layers = 1 }}]
"""


def spec_of(seeds: str, extra: str = ""):
    return parse_text(SPEC.format(seeds=seeds) + extra, "crossed.toml")


def test_plan_crosses_every_init_seed_with_every_order_seed_in_one_pack_per_configuration():
    crossed, plain = make_plan(spec_of("{ init = 3, order = 2 }")), make_plan(spec_of("3"))
    assert len(plain.packs) == len(crossed.packs) == 3  # mlp-8 (grid); mlp-4 and an RNN solved for 3,200 (matched)
    assert len(crossed.runs) == 3 * 3 * 2 and len(plain.runs) == 3 * 3
    for pack in crossed.packs:
        assert len({r.cfg.arch for r in pack.runs}) == 1  # one configuration, every seed pair in it
        assert sorted((r.seed, r.order_seed) for r in pack.runs) == [(i, j) for i in range(3) for j in range(2)]
        assert pack.order_seeds == [r.order_seed for r in pack.runs] and pack.seeds == [r.seed for r in pack.runs]
        assert all(r.config["order_seed"] == r.order_seed for r in pack.runs)
    assert {r.cfg.family for r in crossed.runs if r.budget == 3200} == {"mlp", "rnn"}
    # the plain integer: one seed draws both, nothing recorded beside it, and no id shared with the crossed runs
    assert all(r.order_seed is None and "order_seed" not in r.config for r in plain.runs)
    assert [p.order_seeds for p in plain.packs] == [p.seeds for p in plain.packs]
    ids = [r.run_id for r in crossed.runs]
    assert len(set(ids)) == len(ids) and not set(ids) & {r.run_id for r in plain.runs}


@pytest.mark.parametrize(
    "seeds",
    [
        "{ init = 0, order = 2 }",
        "{ init = 2, order = 0 }",
        "{ init = 2.5, order = 2 }",
        "{ init = true, order = 2 }",
        '{ init = "2", order = 2 }',
        "{ init = 2 }",
        "{ init = 2, order = 2, extra = 1 }",
    ],
)
def test_bad_crossed_seeds_are_one_line_errors(seeds):
    with pytest.raises(SpecError) as e:
        spec_of(seeds)
    message = str(e.value)
    assert "\n" not in message and "train.seeds" in message and "{ init = N, order = M }" in message


@pytest.mark.parametrize("where", ["seeds =", "[[matched]]"])  # in [train], or in one entry's train table
def test_crossed_seeds_refuse_one_shared_order(where):
    setting = 'data_order = "shared"\n' if where == "seeds =" else '[grid.train]\ndata_order = "shared"\n'
    text = SPEC.format(seeds="{ init = 2, order = 2 }").replace(where, setting + where)
    with pytest.raises(SpecError, match="data_order = 'shared' gives every run one order"):
        make_plan(parse_text(text, "crossed.toml"))


def test_cli_plan_counts_the_crossed_runs_and_refuses_bad_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(cli.console, "width", 200)
    path = tmp_path / "crossed.toml"
    path.write_text(SPEC.format(seeds="{ init = 3, order = 2 }"))
    shown = CliRunner().invoke(app, ["plan", str(path), "--no-calibrate", "--device", "cpu"])
    assert shown.exit_code == 0, shown.stderr
    assert "crossed: 18 runs in 3 packs" in shown.stdout and shown.stdout.count("6 (3 init x 2 order)") == 3
    path.write_text(SPEC.format(seeds="{ init = 3, order = 0 }"))
    refused = CliRunner().invoke(app, ["plan", str(path), "--no-calibrate", "--device", "cpu"])
    assert refused.exit_code == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "train.seeds" in refused.stderr


def toy_data(n: int = 256) -> Dataset:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n + 64, 28, 28), dtype=torch.uint8, generator=g)
    labels = (images[:, :, :14].float().mean((1, 2)) > images[:, :, 14:].float().mean((1, 2))).long()
    return Dataset("toy", images[:n], labels[:n], images[n:], labels[n:], 0.5, 0.29)


def trained_alone(cfg, train: TrainConfig, init_seed: int, order_seed: int, data: Dataset) -> dict:
    """The loop a user writes: the to_torch module of init seed i, torch.optim.Adam, the batches of order seed j."""
    fam = family_of(cfg)
    module = fam.to_torch(cfg, fam.init(cfg, init_seed, train.torch_dtype))
    opt = torch.optim.Adam(module.parameters(), lr=train.lr)
    x, y = prepare(cfg, train, data.train_images, data, "cpu"), data.train_labels
    for epoch in range(1, train.epochs + 1):
        for idx in batches(epoch_order(order_seed, epoch, len(y)), train.batch_size):
            opt.zero_grad()
            F.cross_entropy(module(x[idx]), y[idx]).backward()
            opt.step()
    return {n: p.detach() for n, p in module.named_parameters()}


@pytest.mark.parametrize("cfg", [MLPConfig(hidden=[6]), RNNConfig(hidden=5, window=7)], ids=lambda c: c.arch)
def test_a_crossed_member_trains_as_its_init_seed_and_order_seed_say(cfg):
    """A pack of (init, order) = (0, 0), (0, 1), (1, 0), (1, 1): each member equals its own torch.nn training."""
    data, train = toy_data(), TrainConfig(epochs=2, batch_size=32, lr=1e-2, dtype="float64")
    inits, orders = [0, 0, 1, 1], [0, 1, 0, 1]
    trainer = PackTrainer(cfg, train, inits, data, order_seeds=orders)
    trainer.run_epoch(), trainer.run_epoch()
    got = [torch.cat([p.flatten() for p in family_of(cfg).to_torch(cfg, trainer.member_params(m)).parameters()])
           for m in range(4)]  # fmt: skip
    for m, (i, j) in enumerate(zip(inits, orders)):
        want = torch.cat([p.flatten() for p in trained_alone(cfg, train, i, j, data).values()])
        assert (got[m] - want).abs().max() <= 1e-9 * want.abs().max(), (i, j)
    assert not torch.allclose(got[0], got[1]) and not torch.allclose(got[0], got[2])  # both seeds matter
    with pytest.raises(ValueError, match="order seeds"):
        PackTrainer(cfg, train, inits, data, order_seeds=[0, 1])


def test_a_crossed_study_runs_records_both_seeds_and_pairs_runs_by_both(tmp_path, shared_data, monkeypatch):
    """A grid and a matched design, 2 x 2 crossed, trained for real; beside it the plain `seeds = 2` study."""
    monkeypatch.setenv("ITERMAP_DATA_DIR", str(shared_data))
    crossed = run_study(spec_of("{ init = 2, order = 2 }"), tmp_path / "crossed", device="cpu", quiet=True)
    plain = run_study(spec_of("2"), tmp_path / "plain", device="cpu", quiet=True)
    rows, alone = load_results(crossed), load_results(plain)
    assert "order_seed" not in alone and "init_seed" not in alone  # uncrossed results are as they were
    runs = rows.drop_duplicates("run_id")
    assert len(runs) == 3 * 4
    # `seed` numbers each (init, order) pair alike in every configuration: init x 2 + order
    assert (runs["seed"] == 2 * runs["init_seed"] + runs["order_seed"]).all()
    got, same = (d[(d["split"] == "test") & (d["metric"] == "accuracy")].set_index(["arch", "seed"])["value"]
                 for d in (rows, alone))  # fmt: skip
    # run (i, i) has the init and the order of the plain study's seed i: the same numbers
    for i in (0, 1):
        assert got.xs(3 * i, level="seed").to_dict() == same.xs(i, level="seed").to_dict()
    assert got.xs(1, level="seed").to_dict() != got.xs(0, level="seed").to_dict()  # order seed 1 is another run
    # an export reads back the same seeds
    out = tmp_path / "crossed.parquet"
    exported = CliRunner().invoke(app, ["export", str(crossed), "--format", "parquet", "--output", str(out)])
    assert exported.exit_code == 0, exported.stderr
    back = load_results(out).drop_duplicates("run_id").set_index("run_id")
    cols = ["seed", "init_seed", "order_seed", "group"]
    assert back.loc[runs["run_id"], cols].equals(runs.set_index("run_id")[cols])
    # the variance question applies to the crossed study only
    found = analyze(rows).found
    assert "variance" not in analyze(alone).found
    table = found["variance"]["variance"]
    assert len(table) == 3 and (table["n_init"] == 2).all() and (table["n_order"] == 2).all()
    matched = found["budgets"]["matched"]
    assert len(matched) and (matched["seeds"] == 4).all()  # the matched pair is paired over the 4 seed pairs

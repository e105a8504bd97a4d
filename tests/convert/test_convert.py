"""Exact conversions between MLP, RNN, iterative-map and unrolled forms, and their parameter accounting."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from itermap import convert as C
from itermap.data import load, views
from itermap.models import MLPConfig, RNNConfig, family_of
from itermap.models import itermap as im
from itermap.models.stacked import stack
from itermap.train import PackTrainer, TrainConfig

MLPS = [MLPConfig(hidden=h) for h in ([], [16], [8, 32])] + [MLPConfig(hidden=[5, 7, 6], activation="relu")]
RNNS = [
    RNNConfig(hidden=h, layers=layers, window=window)
    for layers in (1, 2)
    for window, h in ((1, 4), (3, 8), (7, 16), (28, 5))
]
RNN_FORMS = ("itermap", "unrolled-tied", "unrolled-untied")
CASES = [(cfg, "itermap") for cfg in MLPS] + [(cfg, to) for cfg in RNNS for to in RNN_FORMS]
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def random_images(n: int = 64, seed: int = 0) -> torch.Tensor:
    """Standardised-looking images [N, 28, 28] in float64."""
    return torch.randn(n, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def name(v) -> str:
    """Test id of a config or a form."""
    return v if isinstance(v, str) else f"{v.arch}-w{v.window}" if v.family == "rnn" else v.arch


@pytest.mark.parametrize("cfg,to", CASES, ids=name)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_conversion_of_random_member_is_exact(cfg, to, dtype):
    params = family_of(cfg).init(cfg, 3, dtype)
    check = C.verify(C.family_form(cfg, params), C.convert(cfg, params, to), random_images())
    assert check.max_abs_diff <= TOL[dtype]
    assert check.agreement == 1.0


@pytest.mark.parametrize("cfg", RNNS, ids=name)
def test_stacked_itermap_gives_every_steps_rnn_logits(cfg):
    """The family forward of the converted members (not only the module): iterations L+1..T+L are steps 1..T."""
    fam = family_of(cfg)
    members = [fam.init(cfg, s, torch.float64) for s in (1, 2)]
    converted = [C.rnn_to_itermap(cfg, p) for p in members]
    target = converted[0][0]
    x = fam.view(cfg, random_images(8)).expand(2, -1, -1, -1)  # [M, B, T, I]: the same windows itermap reads
    want = fam.forward(cfg, stack(members), x, steps=True)  # [M, T, B, C]
    got = im.forward(target, stack([p for _, p in converted]), x, steps=True)  # [M, T + L, B, C]
    assert (got[:, cfg.layers :] - want).abs().max() <= 1e-12
    assert torch.all(got[:, : cfg.layers] == 0)


def test_two_layer_rnn_needs_the_schedule():
    """Without holding h2 at zero for its first iteration, tanh(b2) leaks into the recurrence: not equal."""
    cfg = RNNConfig(hidden=8, layers=2, window=7)
    params = family_of(cfg).init(cfg, 0, torch.float64)
    target, p = C.rnn_to_itermap(cfg, params)
    unscheduled = target.model_copy(update={"slots": tuple(s.model_copy(update={"start": 1}) for s in target.slots)})
    rnn, images = C.family_form(cfg, params), random_images()
    assert C.verify(rnn, C.family_form(target, p), images).max_abs_diff <= 1e-12
    assert C.verify(rnn, C.family_form(unscheduled, p), images).max_abs_diff > 1e-3


@pytest.mark.parametrize("cfg", MLPS, ids=name)
def test_mlp_itermap_mlp_round_trip_gives_identical_weights(cfg):
    params = family_of(cfg).init(cfg, 5, torch.float32)
    back_cfg, back = C.itermap_to_mlp(*C.mlp_to_itermap(cfg, params))
    assert back_cfg == cfg
    assert back.keys() == params.keys() and all(torch.equal(back[k], params[k]) for k in params)


def test_itermap_that_is_not_an_mlp_refuses_to_become_one():
    cfg = RNNConfig(hidden=4, layers=1, window=7)
    with pytest.raises(ValueError, match="MLP pattern"):
        C.convert(*C.rnn_to_itermap(cfg, family_of(cfg).init(cfg, 0)), "mlp")
    with pytest.raises(ValueError, match="no exact conversion"):
        C.convert(
            MLPConfig(hidden=[4]), family_of(MLPConfig(hidden=[4])).init(MLPConfig(hidden=[4]), 0), "unrolled-tied"
        )


def test_parameter_accounting_by_hand():
    """A 1-layer RNN with 2 units on 4x6 images, 2 columns per step (T = 3 steps of 8 inputs), 3 classes."""
    cfg = RNNConfig(hidden=2, layers=1, window=2, image=(4, 6), classes=3)
    params = family_of(cfg).init(cfg, 0, torch.float64)
    images = random_images(16)[:, :4, :6]
    costs = {to: C.verify(C.family_form(cfg, params), C.convert(cfg, params, to), images) for to in RNN_FORMS}
    assert all(v.max_abs_diff <= 1e-12 for v in costs.values())
    rnn, itermap = costs["itermap"].source, costs["itermap"].target
    tied, untied = costs["unrolled-tied"].target, costs["unrolled-untied"].target
    # RNN: w_ih 2*8 = 16, w_hh 2*2 = 4, b_ih 2, b_hh 2, w_out 3*2 = 6, b_out 3 -> 33.
    # Multiply-adds: 3 steps * 16 + 2 recurrent steps (h_0 = 0) * 4 + readout 6 = 62. Depth: 3 steps + 1 readout.
    assert (rnn.stored, rnn.distinct, rnn.nonzero, rnn.macs, rnn.depth) == (33, 33, 33, 62, 4)
    # Iterative map: blocks h<-x 16, h<-h 4, y<-h 6; one bias per slot: h 2 (= b_ih + b_hh), y 3 -> 31.
    # T = 3 + 1 = 4 iterations. h<-x once per window: 3 * 16; h<-h at iterations 2..4: 3 * 4;
    # y<-h at iterations 2..4 (y starts at L + 1 = 2): 3 * 6. 48 + 12 + 18 = 78.
    assert (itermap.stored, itermap.distinct, itermap.nonzero, itermap.macs, itermap.depth) == (31, 31, 31, 78, 4)
    # Tied: one Linear(8 + 2 -> 2) = 20 weights + 2 bias, readout 9 -> 31.
    # Applied 3 times (zeros as h_0): 3 * 20 + 6 = 66.
    assert (tied.stored, tied.distinct, tied.nonzero, tied.macs, tied.depth) == (31, 31, 31, 66, 4)
    # Untied: step 1 Linear(24 -> 2) = 48 + 2; steps 2, 3 Linear(24 + 2 -> 2) = 52 + 2 each; readout 9.
    # Stored 50 + 2 * 54 + 9 = 167. Non-zero: step 1 16 + 2; steps 2, 3 16 + 4 + 2 each; readout 9 -> 18 + 44 + 9 = 71.
    # Multiply-adds: every weight once: 48 + 2 * 52 + 6 = 158.
    assert (untied.stored, untied.distinct, untied.nonzero, untied.macs, untied.depth) == (167, 167, 71, 158, 4)


@pytest.fixture(scope="module")
def mnist_small(shared_data):
    """MNIST with the first 6,000 training images and the whole test split."""
    data = load("mnist", data_dir=shared_data)
    return dataclasses.replace(data, train_images=data.train_images[:6000], train_labels=data.train_labels[:6000])


@pytest.mark.parametrize(
    "cfg,targets",
    [(RNNConfig(hidden=16, layers=2, window=7), RNN_FORMS), (MLPConfig(hidden=[16]), ("itermap",))],
    ids=lambda v: v.arch if hasattr(v, "arch") else "",
)
def test_trained_member_converts_with_full_agreement_on_mnist_test(mnist_small, cfg, targets):
    trainer = PackTrainer(cfg, TrainConfig(epochs=2, batch_size=64, lr=3e-3, eval_train_every=2), [0], mnist_small)
    rows = [row for _ in range(2) for row in trainer.run_epoch()]
    accuracy = next(r.value for r in rows if r.epoch == 2 and r.split == "test" and r.metric == "accuracy")
    assert accuracy > 0.8  # it learned something, so the logits are not near-uniform
    params = trainer.member_params(0)
    images = views.scale(mnist_small.test_images, mnist_small.mean, mnist_small.std)
    for to in targets:
        check = C.verify(C.family_form(cfg, params), C.convert(cfg, params, to), images)
        assert check.agreement == 1.0 and check.examples == 10_000 and check.max_abs_diff <= 1e-5, to


def test_itermap_mlp_pattern_trains_like_the_mlp(mnist_small):
    """The pack trainer, float64, 20 Adam steps, 2 members: the MLP pattern's weights equal the MLP's."""
    mlp_cfg = MLPConfig(hidden=[12, 8])
    n = 320  # 20 batches of 16
    data = dataclasses.replace(
        mnist_small, train_images=mnist_small.train_images[:n], train_labels=mnist_small.train_labels[:n]
    )
    train = TrainConfig(epochs=1, batch_size=16, lr=1e-2, dtype="float64")
    trainers = [PackTrainer(cfg, train, [3, 4], data) for cfg in (mlp_cfg, C.mlp_pattern(mlp_cfg))]
    for t in trainers:
        t.run_epoch()
    mlp, itermap = trainers
    for i in range(2):
        start = C.mlp_to_itermap(mlp_cfg, family_of(mlp_cfg).init(mlp_cfg, 3 + i, torch.float64))[1]
        want = C.mlp_to_itermap(mlp_cfg, mlp.member_params(i))[1]
        got = itermap.member_params(i)
        assert all((got[k] - want[k]).abs().max() <= 1e-10 for k in want)
        assert all((got[k] - start[k]).abs().max() > 1e-3 for k in want)  # and they did move


def test_cli_converts_a_kept_run_and_saves_its_weights(tmp_path):
    """`itermap run` with keep_weights, then `itermap convert DIR --run PREFIX --to FORM` for an RNN and an MLP."""
    from safetensors import safe_open
    from typer.testing import CliRunner

    from itermap.cli import app

    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[study]\nname = "cv"\n[data]\ndatasets = ["fashion-mnist-mini"]\nlimit_train = 300\nlimit_test = 100\n'
        "[train]\nepochs = 1\nseeds = 1\nkeep_weights = true\n"
        '[[grid]]\nfamily = "rnn"\nhidden = [4]\nlayers = [2]\nwindow = 7\n[[grid]]\nfamily = "mlp"\nhidden = [[6]]\n'
    )
    runner, folder = CliRunner(), tmp_path / "study"
    assert runner.invoke(app, ["run", str(spec), "--out", str(folder), "--device", "cpu", "-q"]).exit_code == 0
    kept = {C.load_run(p)[0].family: p.stem for p in (folder / "weights").glob("*.safetensors")}
    for family_name, to in (
        ("rnn", "mlp"),
        ("rnn", "itermap"),
        ("mlp", "itermap"),
        ("mlp", "rnn"),
        ("mlp", "tanh-rnn"),
    ):
        result = runner.invoke(app, ["convert", str(folder), "--run", kept[family_name][:6], "--to", to])
        assert result.exit_code == 0, result.output
        assert "100.00%" in result.output and "1,000 images" in result.output
        with safe_open(str(folder / "converted" / f"{kept[family_name]}-{to}.safetensors"), "pt") as f:
            assert f.metadata()["form"] == ("unrolled-untied" if to == "mlp" else to) and len(f.keys()) > 0
    both = runner.invoke(app, ["convert", str(folder), "--run", kept["mlp"], "--to", "rnn", "--to", "tanh-rnn"])
    assert both.exit_code == 0 and both.output.count("100.00%") == 2, both.output  # the MLP-in-RNN table
    refused = runner.invoke(app, ["convert", str(folder), "--run", kept["mlp"], "--to", "unrolled-tied"])
    assert refused.exit_code == 2 and "no exact conversion" in refused.output
    missing = runner.invoke(app, ["convert", str(folder), "--run", "zzz", "--to", "itermap"])
    assert missing.exit_code == 2 and "no kept weights" in missing.output
    weights = folder / "weights" / f"{kept['mlp']}.safetensors"
    for damage in (b"", weights.read_bytes()[:200]):  # empty, and cut short
        weights.write_bytes(damage)
        damaged = runner.invoke(app, ["convert", str(folder), "--run", kept["mlp"], "--to", "itermap"])
        assert damaged.exit_code == 2 and damaged.exception.__class__ is SystemExit
        assert damaged.stderr.startswith(f"error: {weights}: not readable as a run's kept weights")


def test_cli_demo_prints_every_conversion_exact():
    from typer.testing import CliRunner

    from itermap.cli import app

    result = CliRunner().invoke(app, ["convert", "--demo"])
    assert result.exit_code == 0, result.output
    assert result.output.count("100.00%") == 7 and "unrolled-untied" in result.output

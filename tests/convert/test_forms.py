"""An MLP in recurrent forms: exactly as an iterative map reading column windows, approximately as a tanh nn.RNN."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from itermap import convert as C
from itermap.data import load, views
from itermap.models import MLPConfig, family_of
from itermap.models import itermap as im
from itermap.models.stacked import stack
from itermap.study.training import one_thread
from itermap.train import PackTrainer, TrainConfig

MLPS = [MLPConfig(hidden=h) for h in ([], [16], [8, 32])] + [MLPConfig(hidden=[5, 7, 6], activation="relu")]
WINDOWS = (3, 7, 28)  # 3 leaves a column over: read in a zero-padded tenth window
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def random_images(n: int = 16, seed: int = 0) -> torch.Tensor:
    """Standardised-looking images [N, 28, 28] in float64."""
    return torch.randn(n, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def reference_logits(cfg: MLPConfig, params, images: torch.Tensor) -> torch.Tensor:
    """The MLP as plain torch: nn.Linear layers with its weights, on the flat image."""
    x = images.flatten(1).to(params["w0"].dtype)
    for i in range(len(cfg.hidden) + 1):
        x = torch.nn.functional.linear(x, params[f"w{i}"], params[f"b{i}"])
        if i < len(cfg.hidden):
            x = torch.tanh(x) if cfg.activation == "tanh" else torch.relu(x)
    return x


@pytest.mark.parametrize("cfg", MLPS, ids=lambda c: f"{c.arch}-{c.activation}")
@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_random_mlp_as_windowed_map_is_exact(cfg, window, dtype):
    params = family_of(cfg).init(cfg, 3, dtype)
    target, mapped = C.mlp_to_windows(cfg, params, window)
    images = random_images()
    form = C.family_form(target, mapped)
    got = C.logits(form, images)
    assert (got - reference_logits(cfg, params, images)).abs().max() <= TOL[dtype]
    # the stacked family forward (what a pack trains) gives the same as the module
    stacked = im.forward(target, stack([mapped]), form.view(images.to(dtype))[None])[0]
    assert (stacked - got).abs().max() <= TOL[dtype]
    steps = -(-28 // window)
    assert target.iterations == steps + len(cfg.hidden) and target.window_count == steps


def test_windowed_map_accounting_by_hand():
    """mlp-4 on 28x28, window 7: T = 4 windows of 196; accumulators p1..p3 of 4 units."""
    cfg = MLPConfig(hidden=[4])
    params = family_of(cfg).init(cfg, 0, torch.float64)
    check = C.verify(C.family_form(cfg, params), C.convert(cfg, params, "rnn"), random_images(8))
    mlp, rnn = check.source, check.target
    assert (mlp.stored, mlp.macs, mlp.steps) == (784 * 4 + 4 + 4 * 10 + 10, 784 * 4 + 40, 1)
    # window 3 (`--to rnn`): T = 10 windows of 84 (the last padded), p1..p9; blocks p_j <- x 9 * 4 * 84, identity
    # blocks p_j <- p_{j-1} and h1 <- p9: 9 * 16 stored (9 * 4 on the diagonal), h1 <- x 4 * 84, y <- h1 40;
    # biases: 9 * 4 zeros, h1 4, y 10.
    stored = 10 * 4 * 84 + 9 * 16 + 40 + 9 * 4 + 4 + 10
    assert (rnn.form, rnn.stored, rnn.distinct, rnn.steps, rnn.depth) == ("rnn", stored, stored - 9 * 12, 11, 11)
    # non-zero: the MLP's weights and biases (the padded 56 columns of the last window are zero) plus 9 * 4 ones
    assert rnn.nonzero == mlp.nonzero + 9 * 4
    assert check.max_abs_diff <= 1e-12 and check.agreement == 1.0


@pytest.fixture(scope="module")
def fashion_small(shared_data):
    """Fashion-MNIST with the first 2,000 training images and the whole test split."""
    data = load("fashion-mnist", data_dir=shared_data)
    return dataclasses.replace(data, train_images=data.train_images[:2000], train_labels=data.train_labels[:2000])


def test_trained_mlp_as_windowed_map_agrees_on_the_whole_test_split(fashion_small):
    cfg = MLPConfig(hidden=[32])
    train = TrainConfig(epochs=2, batch_size=32, lr=3e-3, eval_train_every=2, eval_test_every=2)
    with one_thread():  # tiny matmuls: a second thread on a shared 2-core machine only spins
        trainer = PackTrainer(cfg, train, [0], fashion_small)
        rows = [row for _ in range(2) for row in trainer.run_epoch()]
    accuracy = next(r.value for r in rows if r.epoch == 2 and r.split == "test" and r.metric == "accuracy")
    assert accuracy > 0.7  # it learned, so the logits are far from uniform
    params = trainer.member_params(0)
    images = views.scale(fashion_small.test_images, fashion_small.mean, fashion_small.std, train.torch_dtype)
    with one_thread():
        check = C.verify(C.family_form(cfg, params), C.convert(cfg, params, "rnn"), images)
    assert check.examples == 10_000 and check.agreement == 1.0
    assert check.max_abs_diff <= TOL[train.torch_dtype]


@pytest.mark.parametrize("cfg", MLPS[:3], ids=lambda c: c.arch)
def test_tanh_rnn_error_falls_with_the_scale(cfg):
    """nn.RNN (tanh everywhere) approximating the MLP: max |logit error| shrinks monotonically, about as scale^2."""
    params = family_of(cfg).init(cfg, 1, torch.float64)
    images = random_images(32, seed=1)
    want = reference_logits(cfg, params, images)
    errors = []
    for scale in (1e-1, 1e-2, 1e-3):
        target, weights = C.mlp_to_tanh_rnn(cfg, params, window=7, scale=scale)
        module = family_of(target).to_torch(target, weights)
        assert isinstance(module[0] if isinstance(module, torch.nn.Sequential) else module, torch.nn.Module)
        errors.append((C.logits(C.family_form(target, weights), images) - want).abs().max().item())
    assert errors[0] > errors[1] > errors[2] > 0
    assert errors[2] < 1e-3 and errors[1] / errors[2] > 50  # quadratic: 100x per decade, up to the cubic's constants


def test_tanh_rnn_refuses_what_it_cannot_approximate():
    relu = MLPConfig(hidden=[4], activation="relu")
    with pytest.raises(ValueError, match="tanh MLP"):
        C.mlp_to_tanh_rnn(relu, family_of(relu).init(relu, 0))
    cfg = MLPConfig(hidden=[4])
    with pytest.raises(ValueError, match="use one of 1, 2, 4, 7, 14, 28"):
        C.mlp_to_tanh_rnn(cfg, family_of(cfg).init(cfg, 0), window=3)

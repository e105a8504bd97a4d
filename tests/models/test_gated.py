"""GRU and LSTM families against nn.GRU / nn.LSTM + nn.Linear: forward (last step and every step), counts, init."""

from __future__ import annotations

import math

import pytest
import torch

from itermap.models import FAMILIES, GRUConfig, LSTMConfig, cover, family_of, parse_config
from itermap.models.stacked import member, stack

KINDS = {"gru": GRUConfig, "lstm": LSTMConfig}


def members_and_images(cfg, m=3, b=5, dtype=torch.float64):
    """M members' stacked params and the windows [B, T, I] of B random images."""
    fam = family_of(cfg)
    params = stack([fam.init(cfg, 100 + i, dtype) for i in range(m)])
    images = torch.randn(b, *cfg.image, dtype=dtype, generator=torch.Generator().manual_seed(0))
    return params, fam.view(cfg, images)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("window", [1, 3, 7])
@pytest.mark.parametrize("axis", ["columns", "rows"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_stacked_forward_equals_torch_module(kind, axis, window, layers):
    """A pack of 3 in float64: last-step logits equal each member's module to 1e-9, and every step's logits equal
    the readout of the module's top-layer state after that step."""
    cfg = KINDS[kind](hidden=6, layers=layers, window=window, axis=axis)
    fam = family_of(cfg)
    params, x = members_and_images(cfg)
    got = fam.forward(cfg, params, x.expand(3, *x.shape))  # [M, B, C]
    steps = fam.forward(cfg, params, x.expand(3, *x.shape), steps=True)  # [M, T, B, C]
    assert got.shape == (3, 5, 10) and steps.shape == (3, cfg.step_count, 5, 10)
    for i in range(3):
        module = fam.to_torch(cfg, member(params, i))
        assert isinstance(module.rnn, {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[kind])
        assert module.rnn.num_layers == layers
        with torch.no_grad():
            want = module(x)  # [B, C]
            out, _ = module.rnn(x)  # [B, T, H]: the top layer's state after every step
            want_steps = module.readout(out).transpose(0, 1)  # [T, B, C]
        assert (got[i] - want).abs().max() <= 1e-9
        assert (steps[i] - want_steps).abs().max() <= 1e-9
    torch.testing.assert_close(steps[:, -1], got, rtol=0, atol=1e-14)  # the prediction is the last step's


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_float32_forward_close_to_torch_module(kind):
    cfg = KINDS[kind](hidden=8, layers=2, window=4)
    fam = family_of(cfg)
    params, x = members_and_images(cfg, dtype=torch.float32)
    got = fam.forward(cfg, params, x.expand(3, *x.shape))
    with torch.no_grad():
        want = torch.stack([fam.to_torch(cfg, member(params, i))(x) for i in range(3)])
    assert (got - want).abs().max() / want.abs().max() <= 1e-5


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("window", [1, 3, 7, 28])
@pytest.mark.parametrize("kind,gates", [("gru", 3), ("lstm", 4)])
def test_count_by_hand_and_torch(kind, gates, window, layers):
    # P = G h (28 w + h + 2) + (L - 1) G (2 h^2 + 2 h) + 10 (h + 1): gate blocks of W_ih, W_hh, b_ih, b_hh, readout.
    h = 9
    cfg = KINDS[kind](hidden=h, layers=layers, window=window, axis="rows" if window == 3 else "columns")
    module = family_of(cfg).to_torch(cfg, family_of(cfg).init(cfg, 0))
    by_hand = gates * h * (28 * window + h + 2) + (layers - 1) * gates * (2 * h * h + 2 * h) + 10 * (h + 1)
    assert family_of(cfg).count_params(cfg) == by_hand == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("kind,gates", [("gru", 3), ("lstm", 4)])
def test_macs(kind, gates):
    # 2 layers, window 7: T = 4 steps of I = 196 inputs; h_0 = 0, so step 1 has no recurrent product.
    cfg, h = KINDS[kind](hidden=5, layers=2, window=7), 5
    want = 4 * gates * h * 196 + 4 * gates * h * h + 2 * 3 * gates * h * h + h * 10
    assert family_of(cfg).macs(cfg) == want


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_init_follows_pytorch_default_bounds_and_seed(kind):
    """Every recurrent tensor is U(-1/sqrt(hidden), 1/sqrt(hidden)), the readout nn.Linear's; drawn from the seed."""
    cfg = KINDS[kind](hidden=64, layers=2)
    fam = family_of(cfg)
    params = fam.init(cfg, 7, torch.float64)
    for name, p in params.items():
        bound = 1 / math.sqrt(64)  # the readout's fan-in is `hidden` too
        assert p.abs().max() <= bound
        if p.numel() >= 640:
            assert abs(p.std().item() - bound / math.sqrt(3)) < 0.15 * bound / math.sqrt(3), name
    again, other = fam.init(cfg, 7, torch.float64), fam.init(cfg, 8, torch.float64)
    assert all(torch.equal(params[k], again[k]) for k in params)
    assert not torch.equal(params["w_ih0"], other["w_ih0"])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_config_names_and_registry(kind):
    cfg = KINDS[kind](hidden=16, layers=2, window=4)
    assert FAMILIES[kind] is family_of(cfg) and parse_config(cfg.model_dump()) == cfg
    assert (cfg.arch, cfg.group, cfg.width, cfg.depth) == (f"{kind}-2x16", f"{kind}-2", 16, 2)
    assert (cfg.step_count, cfg.path, cfg.inputs, cfg.has_steps) == (7, 9, 112, True)
    assert KINDS[kind](hidden=32, axis="rows").arch == f"{kind}-rows-1x32"
    assert KINDS[kind].sized({"family": kind, "layers": 2}, 12) == {"family": kind, "layers": 2, "hidden": 12}
    # Wide packs: a narrower configuration pads to a wider one of the same shape, never across families or layers.
    narrow = KINDS[kind](hidden=4, layers=2, window=4)
    assert cover([narrow, cfg]) == cfg and narrow.padded(3) is None
    with pytest.raises(ValueError, match="differ in more than width"):
        cover([KINDS[kind](hidden=4, layers=1, window=4), cfg])

"""The formal presets plan what they say: seed2020's grid (formal) plus one-layer GRU and LSTM at the RNN's hidden sizes,
each at three learning rates, less a validation split, selection on it, each recurrent family against MLP-1 and MLP-2
at equal parameters and multiply-adds; `formal` within one GPU call's multiply-adds."""

from __future__ import annotations

from collections import Counter

import pytest

from itermap.study.estimate import pack_macs
from itermap.study.plan import make_plan
from itermap.study.spec import load_spec

SEED2020_MACS = 4.6e14  # `itermap presets`: seed2020's training compute, the bound of one GPU call
LRS = {3e-4, 1e-3, 3e-3}
PAIRS = {(a, b, at) for a in ("rnn-1", "gru-1", "lstm-1") for b in ("mlp-1", "mlp-2") for at in ("params", "macs")}


@pytest.mark.parametrize(
    ("preset", "configs", "validation", "train_size"),
    [("formal", {"mlp": 11, "rnn": 10, "gru": 5, "lstm": 5}, 10000, 50000),
     ("formal-quick", {"mlp": 6, "rnn": 3, "gru": 3, "lstm": 3}, 1000, 5000)],
)  # fmt: skip
def test_formal_presets_plan_every_configuration_at_every_rate_less_the_split(preset, configs, validation, train_size):
    spec = load_spec(preset)
    plan = make_plan(spec)
    per = len(spec.data.datasets) * len(spec.train.seed_list)
    assert Counter(r.cfg.family for r in plan.runs) == Counter({f: n * len(LRS) * per for f, n in configs.items()})
    assert {r.train.lr for r in plan.runs} == LRS
    assert all(r.validation == validation and r.sizes[0] == train_size for r in plan.runs)
    if preset == "formal":
        recurrent = [r.cfg for r in plan.runs if r.cfg.family != "mlp"]
        sizes = {f: {c.hidden for c in recurrent if c.family == f and c.layers == 1} for f in ("rnn", "gru", "lstm")}
        assert sizes["gru"] == sizes["lstm"] == sizes["rnn"] == {2, 8, 16, 32, 64}
        assert spec.data.datasets == ["mnist", "fashion-mnist"] and len(spec.train.seed_list) == 10
    assert spec.analysis.select == "best-validation-epoch"
    declared = {(c.a, c.b, at) for c in spec.compare for at in c.at}
    assert declared == PAIRS
    assert [(c.a, c.b) for c in spec.compare if c.headline] == [("rnn-1", "mlp-1")]


def test_formal_fits_one_gpu_call():
    plan = make_plan(load_spec("formal"))
    assert len(plan.runs) == 1860
    assert sum(pack_macs(p) for p in plan.packs) < SEED2020_MACS

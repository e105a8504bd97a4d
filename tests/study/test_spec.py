"""A spec written as study.toml reads back as the same spec, whatever its text holds."""

from __future__ import annotations

import pytest

from itermap.study.errors import SpecError
from itermap.study.spec import load_spec, parse, parse_text


def test_study_toml_round_trips():
    doc = {
        "study": {"name": "round", "description": 'emoji 🦉, quotes " and \\\\, a tab\\t, BMP ü'},
        "data": {"datasets": ["fashion-mnist-mini"], "limit_train": 100},
        "train": {"epochs": 2, "lr": 1e-3, "seeds": [0, 5]},
        "grid": [{"family": "mlp", "hidden": [[], [8, 8]], "train": {"lr": [1e-3, 3e-4]}}],
        "matched": [{"budgets": [1000], "families": [{"family": "rnn", "layers": 1}]}],
        "compare": [{"a": {"group": "rnn-1", "lr": 0.001}, "b": "mlp-2", "at": ["params", "macs"]}],
    }
    spec = parse(doc, "test")
    text = spec.to_toml()
    assert "🦉" in text  # as itself, not as a surrogate pair (which TOML forbids)
    assert parse_text(text, "study.toml").model_dump() == spec.model_dump()
    for name in ("quick", "seed2020", "matched"):
        preset = load_spec(name)
        assert parse_text(preset.to_toml(), "study.toml").model_dump() == preset.model_dump()


@pytest.mark.parametrize("key", ["effect", "margin"])
def test_compare_effect_and_margin_are_positive_gaps(key):
    """`[[compare]] effect` (the gap worth detecting) and `margin` (the equivalence margin), display units, optional;
    zero or negative is refused."""
    base = '[study]\nname = "e"\n[data]\ndatasets = ["fashion-mnist-mini"]\n[[grid]]\nfamily = "mlp"\nhidden = [[4]]\n'
    spec = parse_text(base + f'[[compare]]\na = "mlp-1"\nb = "mlp-1"\n{key} = 0.5\n', key)
    assert getattr(spec.compare[0], key) == 0.5 and parse_text(base, "none").compare == []
    with pytest.raises(SpecError, match=rf"compare\[0\]\.{key}"):
        parse_text(base + f'[[compare]]\na = "mlp-1"\nb = "mlp-1"\n{key} = 0\n', "zero")

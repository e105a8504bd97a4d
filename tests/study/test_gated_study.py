"""GRU and LSTM grids through a real study: plan, training, store and load_results."""

from __future__ import annotations

import itermap
from itermap.models import GRUConfig, LSTMConfig, family_of
from itermap.study.spec import parse

SPEC = {
    "study": {"name": "gated"},
    "data": {"datasets": ["fashion-mnist-mini"], "limit_train": 300, "limit_test": 100},
    "train": {"epochs": 2, "batch_size": 50, "lr": 3e-3, "seeds": 2},
    "grid": [
        {"family": "gru", "hidden": [3, 5], "window": 7},
        {"family": "lstm", "hidden": 4, "layers": [1, 2], "window": 7},
    ],
}


def test_gated_grids_run_and_load(shared_data, tmp_path):
    folder = itermap.run_study(parse(SPEC, "test"), out=tmp_path / "gated", device="cpu", quiet=True)
    frame = itermap.load_results(folder)
    assert set(frame["arch"]) == {"gru-1x3", "gru-1x5", "lstm-1x4", "lstm-2x4"}
    assert set(frame["group"]) == {"gru-1", "lstm-1", "lstm-2"}
    assert frame["run_id"].nunique() == 4 * 2 and (frame.groupby("run_id")["epoch"].max() == 2).all()
    cfgs = [GRUConfig(hidden=h, window=7) for h in (3, 5)]
    cfgs += [LSTMConfig(hidden=4, layers=l, window=7) for l in (1, 2)]
    assert set(frame["params"]) == {family_of(c).count_params(c) for c in cfgs}
    accuracy = frame[(frame["split"] == "test") & (frame["metric"] == "accuracy")]
    assert accuracy["value"].between(0, 1).all() and len(accuracy) == 8 * 2

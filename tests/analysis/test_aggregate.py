"""The order of configurations: numbers in group names sort as numbers."""

from __future__ import annotations

import pandas as pd

from itermap.analysis.aggregate import natural


def test_groups_sort_by_their_numbers():
    groups = ["rnn-1 · window=14", "rnn-1 · window=2", "mlp-1", "rnn-1 · lr=0.001", "rnn-1 · lr=1e-05", "mlp-10"]
    frame = pd.DataFrame({"dataset": "mnist", "group": groups, "params": range(len(groups))})
    ordered = frame.sort_values(["dataset", "group"], key=natural)["group"].tolist()
    assert ordered == [
        "mlp-1", "mlp-10", "rnn-1 · lr=1e-05", "rnn-1 · lr=0.001", "rnn-1 · window=2", "rnn-1 · window=14"
    ]  # fmt: skip
    assert natural(frame["params"]).equals(frame["params"])  # other columns sort as they are

"""Verdict sentences and the choice of compared pairs."""

from __future__ import annotations

import pandas as pd

from itermap.analysis.compare import declared_pairs, default_pairs, headline_pair
from itermap.analysis.verdict import curve_verdict, no_overlap_verdict


def comparison(
    diffs: list[float], excludes: list[bool], params: list[int], a: str = "rnn-1", b: str = "mlp-1"
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": a,
            "b": b,
            "at": "params",
            "x": params,
            "diff": diffs,
            "excludes_zero": excludes,
            "multiplier": 4.2,
            "multiplier_bound": "",
        }
    )


def test_every_budget_ahead():
    cmp = comparison([0.01, 0.031, 0.02, 0.015, 0.012], [True] * 5, [1600, 1802, 4106, 6370, 10250])
    assert curve_verdict(cmp) == (
        "RNN-1 ahead of MLP-1 at every budget from 1,600 to 10,250 parameters; the 95% CI excludes zero at 5 of 5 "
        "budgets; largest gap +3.1 points (RNN-1 - MLP-1) at 1,802 parameters, where MLP-1 needs 4.20x the "
        "parameters to match RNN-1."
    )


def test_mixed_and_behind():
    crossing = curve_verdict(comparison([0.2, 0.16, -0.01, -0.04], [True, True, False, True], [1600, 1802, 4106, 6370]))
    assert crossing.startswith(
        "RNN-1 ahead of MLP-1 from 1,600 to 1,802 parameters, MLP-1 ahead from 4,106 to 6,370; "
        "the 95% CI excludes zero at 3 of 4 budgets (2 favouring RNN-1); largest gap +20.0 points"
    )
    late = curve_verdict(comparison([0.3, 0.2, -0.01], [True, True, False], [1606, 6442, 18570], b="mlp-2"))
    assert late.startswith("RNN-1 ahead of MLP-2 from 1,606 to 6,442 parameters, MLP-2 ahead at 18,570; ")
    mixed = curve_verdict(comparison([0.02, -0.005, 0.01], [True, False, False], [1000, 2000, 4000]))
    assert mixed.startswith(
        "RNN-1 ahead of MLP-1 at 2 of 3 budgets from 1,000 to 4,000 parameters (MLP-1 ahead at 1); "
        "the 95% CI excludes zero at 1 of 3 budgets;"
    )
    behind = curve_verdict(comparison([-0.02, -0.04], [True, True], [1000, 2000]))
    assert behind.startswith("MLP-1 ahead of RNN-1 at every budget from 1,000 to 2,000 parameters;")
    assert "largest gap -4.0 points (RNN-1 - MLP-1) at 2,000 parameters" in behind


def test_single_budget_and_no_overlap():
    one = curve_verdict(comparison([0.03], [True], [7850], b="mlp-0"))
    assert one.startswith(
        "RNN-1 ahead of MLP-0 at the one shared budget, 7,850 parameters; the 95% CI excludes zero there;"
    )
    apart = no_overlap_verdict("rnn-2", "mlp-0", pd.Series([218, 986]), pd.Series([7850]))
    assert (
        apart
        == "RNN-2 and MLP-0 share no parameter range (RNN-2: 218 to 986; MLP-0: 7,850): no equal-parameter comparison."
    )


def test_equal_macs_wording():
    cmp = comparison([0.01, 0.02], [True, True], [20000, 50000]).assign(at="macs")
    assert curve_verdict(cmp).startswith("RNN-1 ahead of MLP-1 at every budget from 20,000 to 50,000 multiply-adds;")
    assert "needs 4.20x the multiply-adds to match RNN-1" in curve_verdict(cmp)


def test_declared_pairs_hold_everything_else_equal():
    groups = ["mlp-1 · lr=0.001", "mlp-1 · lr=0.0001", "rnn-1 · lr=0.001", "rnn-1 · lr=0.0001", "mlp-2 · lr=0.001"]
    assert declared_pairs(groups, "rnn-1", "mlp-1") == [
        ("rnn-1 · lr=0.0001", "mlp-1 · lr=0.0001"),
        ("rnn-1 · lr=0.001", "mlp-1 · lr=0.001"),
    ]
    # a field one side fixes is free on the other: the RNN at lr 0.001 against the MLP at each of its rates
    assert declared_pairs(groups, {"group": "rnn-1", "lr": 0.001}, "mlp-1") == [
        ("rnn-1 · lr=0.001", "mlp-1 · lr=0.0001"),
        ("rnn-1 · lr=0.001", "mlp-1 · lr=0.001"),
    ]
    assert declared_pairs(groups, {"group": "rnn-1", "lr": 0.001}, {"group": "mlp-1", "lr": 0.001}) == [
        ("rnn-1 · lr=0.001", "mlp-1 · lr=0.001")
    ]
    # fixing the field on both sides compares across it
    assert declared_pairs(groups, {"group": "rnn-1", "lr": 0.001}, {"group": "rnn-1", "lr": 0.0001}) == [
        ("rnn-1 · lr=0.001", "rnn-1 · lr=0.0001")
    ]
    assert declared_pairs(["rnn-1 · window=7", "mlp-1"], "rnn-1", "mlp-1") == [("rnn-1 · window=7", "mlp-1")]


def test_default_pairs_differ_in_one_respect():
    assert default_pairs(["mlp-1", "rnn-1", "mlp-2"]) == [("mlp-1", "mlp-2"), ("mlp-1", "rnn-1"), ("mlp-2", "rnn-1")]
    groups = ["mlp-1 · lr=0.001", "mlp-1 · lr=0.0001", "rnn-1 · lr=0.001", "rnn-1 · lr=0.0001"]
    assert default_pairs(groups) == [
        ("mlp-1 · lr=0.0001", "mlp-1 · lr=0.001"),
        ("mlp-1 · lr=0.0001", "rnn-1 · lr=0.0001"),
        ("mlp-1 · lr=0.001", "rnn-1 · lr=0.001"),
        ("rnn-1 · lr=0.0001", "rnn-1 · lr=0.001"),
    ]


def test_headline():
    # the reference grid's overlaps: rnn-2 against mlp-1 shares the most budgets, but rnn-1 against mlp-1 is depth-matched
    rows = [("rnn-1", "mlp-1", p) for p in (1600, 1802, 4106, 6370, 10250)]
    rows += [("rnn-2", "mlp-1", p) for p in (1600, 2346, 6218, 6370, 12730, 18570)]
    rows += [("rnn-2", "mlp-2", p) for p in (1606, 2346, 6218, 6442, 13002, 18570)]
    rows += [("rnn-1", "mlp-0", 7850)]
    assert headline_pair(pd.DataFrame(rows, columns=["a", "b", "params"])) == ("rnn-1", "mlp-1")

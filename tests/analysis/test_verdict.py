"""Verdict sentences and the choice of compared pairs."""

from __future__ import annotations

import pandas as pd

from itermap.analysis.budgets import comparisons_of
from itermap.analysis.compare import declared_pairs, default_pairs, selected
from itermap.analysis.results import Group
from itermap.analysis.verdict import curve_verdict, no_overlap_verdict
from itermap.study.spec import CompareSection


def pairs_of(find, names: list[str], *sides) -> list[tuple[str, ...]]:
    """`find` (declared_pairs, default_pairs, comparisons_of) on the groups these names print, its answer by name."""
    return [
        tuple(str(x) if isinstance(x, Group) else x for x in found)
        for found in find([selected(n) for n in names], *sides)
    ]


INFERENTIAL = ("CI", "band", "ahead", "significant", "clear difference", "excludes", "Holm")


def comparison(
    diffs: list[float],
    excludes: list[bool],
    params: list[int],
    a: str = "rnn-1",
    b: str = "mlp-1",
    seeds: int = 10,
    p_holm: float = 0.001,
    headline: bool = True,
) -> pd.DataFrame:
    """A comparison table as compare_curves and adjust leave it: a band of ±1 point around each difference unless it
    must exclude zero (then ±half the difference)."""
    half = [abs(d) / 2 if e else max(abs(d), 0.0) + 0.01 for d, e in zip(diffs, excludes)]
    return pd.DataFrame(
        {
            "a": a,
            "b": b,
            "at": "params",
            "x": params,
            "diff": diffs,
            "seeds": seeds,
            "design": "paired",
            "interval": "band" if seeds >= 5 else "range",
            "low": [d - h for d, h in zip(diffs, half)],
            "high": [d + h for d, h in zip(diffs, half)],
            "excludes_zero": excludes if seeds >= 5 else False,
            "headline": headline,
            "family_size": 2,
            "p_holm": p_holm if seeds >= 5 else float("nan"),
            "significant": p_holm < 0.05 and seeds >= 5,
            "multiplier": 4.2,
            "multiplier_bound": "",
            "multiplier_low": 2.1,
            "multiplier_low_bound": "",
            "multiplier_high": 6.3,
            "multiplier_high_bound": ">",
        }
    )


def test_every_budget_ahead():
    cmp = comparison([0.01, 0.031, 0.02, 0.015, 0.012], [True] * 5, [1600, 1802, 4106, 6370, 10250])
    assert curve_verdict(cmp) == (
        "RNN-1 ahead of MLP-1 from 1,600 to 10,250 parameters, every budget of 5 (10 seeds, paired; simultaneous 95% "
        "band, Holm-adjusted p = 0.001 over 2 headline comparisons); largest gap +3.1 points (RNN-1 - MLP-1) at 1,802 "
        "parameters, where MLP-1 needs 4.20x the parameters (95% interval 2.10x to >6.30x) to match RNN-1."
    )


def test_every_significant_stretch_and_its_direction():
    """One budget favouring each side and one in between: both directions named, the rest said unclear."""
    crossing = curve_verdict(comparison([0.2, 0.16, -0.01, -0.04], [True, True, False, True], [1600, 1802, 4106, 6370]))
    assert crossing.startswith(
        "RNN-1 ahead of MLP-1 from 1,600 to 1,802 parameters; MLP-1 ahead of RNN-1 at 6,370 parameters; "
        "no clear difference at the other 1 of 4 budgets (10 seeds, paired;"
    )
    lone = curve_verdict(comparison([0.02, -0.005, -0.03], [False, False, True], [1000, 2000, 4000]))
    assert lone.startswith("MLP-1 ahead of RNN-1 at 4,000 parameters; no clear difference at the other 2 of 3 budgets")
    assert "RNN-1 ahead" not in lone  # the point estimate at 1,000 favours RNN-1; the band does not


def test_no_clear_difference_says_what_is_still_possible():
    none = curve_verdict(comparison([0.01, -0.005], [False, False], [1000, 2000]))
    assert none.startswith(
        "No clear difference between RNN-1 and MLP-1 from 1,000 to 2,000 parameters (10 seeds, paired): the "
        "simultaneous 95% band includes zero at every budget; RNN-1 - MLP-1 between -2.0 and +3.0 points is still possible;"
    )
    after = curve_verdict(comparison([0.03, 0.01], [True, False], [1000, 2000], p_holm=0.08))
    assert after.startswith("No clear difference between RNN-1 and MLP-1")
    assert "excludes zero at 1 of 2 budgets, but not after correction (Holm-adjusted p = 0.080 over 2 headline" in after
    assert "ahead" not in after


def test_below_five_seeds_nothing_is_inferred():
    few = curve_verdict(comparison([0.03, 0.02, -0.01], [True, True, False], [1000, 2000, 4000], seeds=3))
    assert few.startswith(
        "RNN-1 above MLP-1 at 2 of 3 budgets from 1,000 to 4,000 parameters, below at 1 (means of 3 seeds, too few for "
        "intervals: descriptive only); largest gap +3.0 points"
    )
    assert not any(word in few for word in INFERENTIAL) and "interval 2.10x" not in few


def test_one_shared_budget_and_a_censored_interval_read_plainly():
    one = curve_verdict(comparison([-0.02], [True], [5000], seeds=3))
    assert one.startswith(
        "RNN-1 below MLP-1 at the one shared budget, 5,000 parameters (means of 3 seeds, too few for intervals"
    )
    censored = comparison([0.03], [True], [5000]).assign(multiplier_low=6.3, multiplier_low_bound=">")
    assert "needs 4.20x the parameters (95% interval >6.30x) to match RNN-1" in curve_verdict(censored)


def test_exploratory_pairs_are_labelled():
    cmp = comparison([0.03], [True], [7850], b="mlp-0", headline=False)
    assert curve_verdict(cmp).startswith(
        "Exploratory: RNN-1 ahead of MLP-0 at 7,850 parameters, the one shared budget (10 seeds"
    )
    apart = no_overlap_verdict("rnn-2", "mlp-0", pd.Series([218, 986]), pd.Series([7850]))
    assert (
        apart
        == "RNN-2 and MLP-0 share no parameter range (RNN-2: 218 to 986; MLP-0: 7,850): no equal-parameter comparison."
    )


def test_equal_macs_wording():
    cmp = comparison([0.01, 0.02], [True, True], [20000, 50000]).assign(at="macs")
    assert curve_verdict(cmp).startswith("RNN-1 ahead of MLP-1 from 20,000 to 50,000 multiply-adds")
    assert "needs 4.20x the multiply-adds (95% interval 2.10x to >6.30x) to match RNN-1" in curve_verdict(cmp)


def test_declared_pairs_hold_everything_else_equal():
    groups = ["mlp-1 · lr=0.001", "mlp-1 · lr=0.0001", "rnn-1 · lr=0.001", "rnn-1 · lr=0.0001", "mlp-2 · lr=0.001"]
    assert pairs_of(declared_pairs, groups, "rnn-1", "mlp-1") == [
        ("rnn-1 · lr=0.0001", "mlp-1 · lr=0.0001"),
        ("rnn-1 · lr=0.001", "mlp-1 · lr=0.001"),
    ]
    # a field one side fixes is free on the other: the RNN at lr 0.001 against the MLP at each of its rates
    assert pairs_of(declared_pairs, groups, {"group": "rnn-1", "lr": 0.001}, "mlp-1") == [
        ("rnn-1 · lr=0.001", "mlp-1 · lr=0.0001"),
        ("rnn-1 · lr=0.001", "mlp-1 · lr=0.001"),
    ]
    assert pairs_of(declared_pairs, groups, {"group": "rnn-1", "lr": 0.001}, {"group": "mlp-1", "lr": 0.001}) == [
        ("rnn-1 · lr=0.001", "mlp-1 · lr=0.001")
    ]
    # fixing the field on both sides compares across it
    assert pairs_of(declared_pairs, groups, {"group": "rnn-1", "lr": 0.001}, {"group": "rnn-1", "lr": 0.0001}) == [
        ("rnn-1 · lr=0.001", "rnn-1 · lr=0.0001")
    ]
    assert pairs_of(declared_pairs, ["rnn-1 · window=7", "mlp-1"], "rnn-1", "mlp-1") == [("rnn-1 · window=7", "mlp-1")]


def test_default_pairs_differ_in_one_respect():
    assert pairs_of(default_pairs, ["mlp-1", "rnn-1", "mlp-2"]) == [
        ("mlp-1", "mlp-2"),
        ("mlp-1", "rnn-1"),
        ("mlp-2", "rnn-1"),
    ]
    groups = ["mlp-1 · lr=0.001", "mlp-1 · lr=0.0001", "rnn-1 · lr=0.001", "rnn-1 · lr=0.0001"]
    assert pairs_of(default_pairs, groups) == [
        ("mlp-1 · lr=0.0001", "mlp-1 · lr=0.001"),
        ("mlp-1 · lr=0.0001", "rnn-1 · lr=0.0001"),
        ("mlp-1 · lr=0.001", "rnn-1 · lr=0.001"),
        ("rnn-1 · lr=0.0001", "rnn-1 · lr=0.001"),
    ]


def test_headline_is_declared():
    groups = ["mlp-1", "rnn-1", "mlp-2"]
    compare = [
        CompareSection(a="rnn-1", b="mlp-1", at=["params", "macs"], headline=True),
        CompareSection(a="rnn-1", b="mlp-2"),
    ]
    assert pairs_of(comparisons_of, groups, compare) == [
        ("rnn-1", "mlp-1", "params", True),
        ("rnn-1", "mlp-1", "macs", True),
        ("rnn-1", "mlp-2", "params", False),
    ]
    assert all(
        not head for *_, head in comparisons_of([selected(n) for n in groups], [])
    )  # nothing declared: all exploratory

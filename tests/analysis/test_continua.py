"""Continua verdicts on constructed results with a shared per-seed effect: paired leads against scipy, Holm by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from itermap.analysis.continua import continua_tables, verdicts


def tidy(runs: list[dict], truth: list[float], seeds: int, rng_seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """load_results-shaped rows, one test accuracy per run = truth + a seed's effect (shared by every run) + small noise;
    returns the rows and the accuracies [run, seed]."""
    rng = np.random.default_rng(rng_seed)
    effect = rng.normal(0, 0.02, seeds)  # what a seed's data order does to every configuration alike
    acc = np.array([[t + effect[s] + rng.normal(0, 0.002) for s in range(seeds)] for t in truth])
    rows = []
    for i, run in enumerate(runs):
        for s in range(seeds):
            rows.append({"run_id": f"r{i}-s{s}", "dataset": "toy", "arch": f"a{i}", "macs": 1, "seed": s, "epoch": 1,
                         "split": "test", "metric": "accuracy", "value": acc[i, s], "status": "done", "step": pd.NA,
                         **run})  # fmt: skip
    return pd.DataFrame(rows), acc


def rnn(window: int, budget: int = 1000) -> dict:
    return {"family": "rnn", "group": f"rnn-1 · window={window}", "depth": 1, "budget": budget, "params": budget,
            "window": window, "axis": "columns", "fraction": np.nan}  # fmt: skip


def mlp(budget: int = 1000) -> dict:
    return {"family": "mlp", "group": "mlp-1", "depth": 1, "budget": budget, "params": budget, "window": pd.NA,
            "axis": None, "fraction": np.nan}  # fmt: skip


def sparse(f: float, budget: int = 1000) -> dict:
    return {"family": "sparse", "group": f"sparse-2 · fraction={f}", "depth": 2, "budget": budget, "params": budget,
            "window": pd.NA, "axis": None, "fraction": f}  # fmt: skip


def pts(x: float) -> str:
    return f"{100 * x:+.2f}"


def test_window_verdict_pairs_by_seed_and_holm_by_hand():
    runs = [rnn(1), rnn(3), rnn(7), rnn(28), mlp()]
    results, acc = tidy(runs, [0.70, 0.78, 0.80, 0.70, 0.80], seeds=6)
    (verdict,) = verdicts(continua_tables(results), "toy")
    assert verdict.startswith("Windows at 1,000 parameters: best is 7 columns per step")
    tests = [stats.ttest_rel(acc[2], acc[1]), stats.ttest_rel(acc[2], acc[4])]  # over window 3, over MLP-1
    p = np.array([t.pvalue for t in tests])
    holm = np.minimum(1, np.maximum.accumulate(np.sort(p) * [2, 1]))[np.argsort(np.argsort(p))]
    for name, t, ph, d in zip(["3 columns", "MLP-1"], tests, holm, [acc[2] - acc[1], acc[2] - acc[4]]):
        ci = t.confidence_interval()
        holds = "holds up" if ph < 0.05 and d.mean() > 0 else "does not hold up"
        want = f"over {name} {pts(d.mean())} points (95% CI [{pts(ci.low)}, {pts(ci.high)}], p Holm {ph:.3f}: {holds})"
        assert want in verdict
    assert (
        "over 3 columns +2." in verdict and ": holds up)" in verdict.split("; over MLP-1")[0]
    )  # paired: 2 points hold
    assert "paired over 6 seeds, Holm over 2 leads" in verdict
    # unpaired, the seeds' shared effect (sd 2 points) would swamp the 2-point lead; paired it is removed
    assert stats.ttest_ind(acc[2], acc[1]).pvalue > tests[0].pvalue


def test_sparsity_band_beats_both_ends():
    runs = [sparse(0.0), sparse(0.25), sparse(0.5), sparse(1.0), mlp()]
    results, acc = tidy(runs, [0.70, 0.78, 0.77, 0.72, 0.71], seeds=6, rng_seed=1)
    tables = continua_tables(results)
    (verdict,) = verdicts(tables, "toy")
    assert "f = 0.25, 0.5 beat both ends; the best interior point f = 0.25" in verdict
    d = acc[1] - acc[0]
    lead = tables["sparsity_leads"].set_index(["fraction", "end"]).loc[(0.25, 0.0)]
    assert np.isclose(lead["diff"], d.mean()) and np.isclose(lead["p"], stats.ttest_rel(acc[1], acc[0]).pvalue)
    assert set(tables["reference"]["group"]) == {"mlp-1"}


def test_below_five_seeds_the_verdicts_only_describe():
    runs = [sparse(0.0), sparse(0.5), sparse(1.0), rnn(3), rnn(28), mlp()]
    results, acc = tidy(runs, [0.70, 0.78, 0.72, 0.75, 0.70, 0.74], seeds=3)
    window, sparsity = verdicts(continua_tables(results), "toy")
    assert "the 2020 choice itself" in window and "descriptive only" in window and "CI" not in window
    d = acc[3] - acc[5]  # window 3 over MLP-1
    assert f"over MLP-1 {pts(d.mean())} points (seeds' range [{pts(d.min())}, {pts(d.max())}])" in window
    assert "whether a band beats both ends is not judged" in sparsity and "CI" not in sparsity


def gru(window: int, budget: int = 1000) -> dict:
    return {**rnn(window, budget), "family": "gru", "group": f"gru-1 · window={window}"}


def test_gated_readers_are_curves_of_their_own_on_the_window_continuum():
    """A GRU reading the same windows beside the tanh RNN: each reader's best window is found among its own runs
    and leads over its own window 3 and over MLP-1, all four leads Holm-adjusted together (recomputed with scipy)."""
    runs = [rnn(1), rnn(3), rnn(7), gru(1), gru(3), gru(7), mlp()]
    results, acc = tidy(runs, [0.70, 0.78, 0.80, 0.83, 0.78, 0.75, 0.79], seeds=6)
    tables = continua_tables(results)
    assert sorted(tables["windows"]["reader"].unique()) == ["GRU-1", "RNN-1"]
    gru_line, rnn_line = verdicts(tables, "toy")
    assert gru_line.startswith("Windows at 1,000 parameters, GRU-1: best is 1 columns per step")
    assert rnn_line.startswith("Windows at 1,000 parameters, RNN-1: best is 7 columns per step")
    pairs = [(3, 4), (3, 6), (2, 1), (2, 6)]  # GRU 1 over GRU 3 and MLP-1, RNN 7 over RNN 3 and MLP-1
    p = np.array([stats.ttest_rel(acc[a], acc[b]).pvalue for a, b in pairs])
    holm = np.minimum(1, np.maximum.accumulate(np.sort(p) * [4, 3, 2, 1]))[np.argsort(np.argsort(p))]
    for (a, b), ph, line in zip(pairs, holm, [gru_line, gru_line, rnn_line, rnn_line]):
        assert f"{pts((acc[a] - acc[b]).mean())} points (95% CI" in line and f"p Holm {ph:.3f}" in line

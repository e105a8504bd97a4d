"""Variance components of a crossed design: recovered from simulation, against least squares, and by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from itermap.analysis.overview import analyze
from itermap.analysis.variance import components
from itermap.report.variance import variance_table


def test_known_components_are_recovered_within_15_percent():
    """y_ij = a_i + b_j + e_ij, sd 2, 1 and 0.5, N = M = 20: the mean estimates over 400 designs recover 4, 1, 0.25."""
    rng, reps, n, m = np.random.default_rng(0), 400, 20, 20
    y = (
        2.0 * rng.standard_normal((reps, n, 1))
        + 1.0 * rng.standard_normal((reps, 1, m))
        + 0.5 * rng.standard_normal((reps, n, m))
    )  # [reps, N, M]
    got = components(y).mean(axis=0)
    assert got == pytest.approx([4.0, 1.0, 0.25], rel=0.15)
    assert components(y[0]) == pytest.approx(components(y)[0])  # one table as many


def rss(y: np.ndarray, columns: list[np.ndarray]) -> float:
    """Residual sum of squares of y's least-squares fit on an intercept and these columns."""
    x = np.column_stack([np.ones(y.size), *columns])
    fit = np.linalg.lstsq(x, y.ravel(), rcond=None)[0]
    return float(((y.ravel() - x @ fit) ** 2).sum())


def test_mean_squares_agree_with_least_squares_fits():
    """The sums of squares as the drop in residual sum of squares from adding the init or the order factor."""
    rng, n, m = np.random.default_rng(1), 5, 4
    y = rng.normal(size=(n, 1)) + 0.5 * rng.normal(size=(1, m)) + 0.3 * rng.normal(size=(n, m))
    rows = [np.repeat(np.eye(n)[:, k], m) for k in range(1, n)]  # init dummies, row-major cells
    cols = [np.tile(np.eye(m)[:, k], n) for k in range(1, m)]
    full = rss(y, rows + cols)
    ms_init, ms_order = (rss(y, cols) - full) / (n - 1), (rss(y, rows) - full) / (m - 1)
    ms_rest = full / ((n - 1) * (m - 1))
    want = [max((ms_init - ms_rest) / m, 0), max((ms_order - ms_rest) / n, 0), ms_rest]
    assert components(y) == pytest.approx(want, rel=1e-10)
    flat = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])  # row means all 0.5: MS_init = 0 < MS_rest
    assert components(flat)[0] == 0.0


def crossed_rows(values: np.ndarray, dataset: str, limit_test: int | None, arch: str = "mlp-4") -> pd.DataFrame:
    """load_results' rows of one configuration's crossed runs: values [N, M] the final test accuracy of (i, j)."""
    n, m = values.shape
    rows = []
    for i in range(n):
        for j in range(m):
            run = dict(run_id=f"{dataset}-{arch}-{i}-{j}", study="s", dataset=dataset, family="mlp", arch=arch,
                       group="mlp-1", hidden="[4]", params=3190, macs=3176, seed=i * m + j, init_seed=i, order_seed=j,
                       status="done", diverged_epoch=pd.NA, limit_test=limit_test, epoch=1, split="test")  # fmt: skip
            rows.append({**run, "metric": "accuracy", "value": values[i, j]})
            rows.append({**run, "metric": "cross_entropy", "value": 1 - values[i, j]})
    return pd.DataFrame(rows)


def test_the_variance_table_and_its_test_sampling_part_by_hand():
    limited = np.array([[0.80, 0.82, 0.84], [0.70, 0.74, 0.72]])  # 2 init x 3 order seeds, scored on 100 examples
    whole = np.array([[0.5, 0.6], [0.7, 0.6]])  # no limit_test: Fashion-MNIST's whole test split, 10,000 examples
    results = pd.concat([crossed_rows(limited, "fashion-mnist-mini", 100), crossed_rows(whole, "fashion-mnist", None)])
    an = analyze(results)
    table = an.table("variance", "variance").set_index("dataset")

    r = mini = table.loc["fashion-mnist-mini"]
    p = (0.80 + 0.82 + 0.84 + 0.70 + 0.74 + 0.72) / 6  # 0.77
    assert r["mean"] == pytest.approx(0.77) and r["n_test"] == 100
    assert r["var_test"] == pytest.approx(p * (1 - p) / 100)  # 0.77 x 0.23 / 100 = 0.001771
    # by hand: row means 0.82, 0.72; column means 0.75, 0.78, 0.78; grand 0.77; residuals 0, -0.01, +0.01 and
    # 0, +0.01, -0.01. MS_init = 3 (0.05^2 + 0.05^2) / 1 = 0.015, MS_order = 2 (0.02^2 + 0.01^2 + 0.01^2) / 2 = 0.0006,
    # MS_rest = 4 x 0.01^2 / 2 = 0.0002
    want = {"var_init": (0.015 - 0.0002) / 3, "var_order": (0.0006 - 0.0002) / 2, "var_rest": 0.0002}
    assert r[list(want)].to_dict() == pytest.approx(want)
    assert r["var_total"] == pytest.approx(sum(want.values()))
    assert r[["share_init", "share_order", "share_rest"]].sum() == pytest.approx(1.0)
    assert r["share_test"] == pytest.approx(r["var_test"] / r["var_total"])
    assert r["share_order"] == pytest.approx(want["var_order"] / sum(want.values()))  # 0.0002 / 0.005333 = 3.75%

    r = table.loc["fashion-mnist"]
    assert r["n_test"] == 10_000 and r["var_test"] == pytest.approx(0.6 * 0.4 / 10_000)

    said = an.answers["fashion-mnist-mini"]["variance"][0]
    assert "2 init x 3 order seeds" in said
    assert f"initialisation gives a median {100 * mini['share_init']:.0f}% of the seed-to-seed variance" in said
    assert "scoring on 100 test examples" in said

    shown = variance_table(an.table("variance", "variance"), "fashion-mnist-mini").iloc[0]
    assert shown["Test sampling"] == f"{100 * np.sqrt(p * (1 - p) / 100):.2f} ({100 * mini['share_test']:.0f}%)"
    assert (
        shown["Seeds (init x order)"] == "2 x 3" and shown["Data order"] == f"1.41 ({100 * mini['share_order']:.0f}%)"
    )


def test_cross_entropy_has_no_binomial_part_and_uncrossed_studies_no_table():
    values = np.array([[0.5, 0.6], [0.7, 0.6]])
    crossed = crossed_rows(values, "fashion-mnist-mini", None)
    table = analyze(crossed, metric="test_cross_entropy").table("variance", "variance")
    assert len(table) == 1 and table["var_test"].isna().all() and table["var_total"].iloc[0] > 0
    plain = crossed.drop(columns=["init_seed", "order_seed"])
    assert "variance" not in analyze(plain).found
    one_order = crossed[crossed["order_seed"] == 0]  # 2 x 1: no order to tell apart
    assert analyze(one_order).table("variance", "variance").empty

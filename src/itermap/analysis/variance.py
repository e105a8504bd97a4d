"""Where a crossed study's spread comes from: initialisation, data order, their remainder, and test-set sampling.

A crossed study (`seeds = { init = N, order = M }`) gives each configuration one final value y_ij per init seed i and
order seed j: a two-way random-effects layout without replication (Bouthillier et al. 2021 vary each source apart),

    y_ij = mu + a_i + b_j + e_ij,   a_i ~ (0, s2_init),  b_j ~ (0, s2_order),  e_ij ~ (0, s2_rest),

where e holds what neither seed explains alone: their interaction and what else varies between runs (with one run per
cell the two cannot be told apart). The mean squares of the rows, the columns and the residual have expectations

    MS_init  = M sum_i (ybar_i. - ybar)^2 / (N - 1)                           E = s2_rest + M s2_init
    MS_order = N sum_j (ybar_.j - ybar)^2 / (M - 1)                           E = s2_rest + N s2_order
    MS_rest  = sum_ij (y_ij - ybar_i. - ybar_.j + ybar)^2 / ((N - 1)(M - 1))  E = s2_rest

so the method-of-moments estimates are s2_init = (MS_init - MS_rest) / M and s2_order = (MS_order - MS_rest) / N,
each truncated at 0, and s2_rest = MS_rest. Their sum is the seed-to-seed variance of one run on this test set, and
each part's share is of that sum.

Test sampling: a model whose accuracy on the data's distribution is p, scored on n_test examples drawn independently,
scores with variance p(1 - p) / n_test (binomial; p the configuration's mean, n_test its test split's size). It is
not a fourth part to add: scoring every run on one fixed test set, the seed-to-seed spread already holds the test
examples' noise, and Jordan (2024) finds that spread close to what independent errors on the examples would give,
which p(1 - p) / n_test bounds. Its share (of the seeds' sum; it may exceed 1) says how the spread compares with
the noise of a test set of this size; near 1 or above, the runs' accuracies on the distribution barely differ.
Test-split proportions only (accuracy, agreement); NaN otherwise.

Uncrossed studies, where one seed draws both the init and the order, confound the two parts: the question does not
apply to them (their total variance and binomial part would add nothing their summary does not show).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from itermap.analysis.aggregate import CONFIG_KEYS
from itermap.analysis.measured import Measured
from itermap.analysis.metrics import metric_of
from itermap.data.datasets import DATASETS

NAME = "variance"
TITLE = "Where the spread comes from: initialisation, data order, their remainder, and test-set sampling"
PARTS = ["init", "order", "rest"]  # the seed-to-seed parts, in `components`' order
PROPORTIONS = ("accuracy", "agreement")  # metrics that are a share of test examples: a binomial test-sampling part


def components(y: np.ndarray) -> np.ndarray:
    """Method-of-moments variance components (s2_init, s2_order, s2_rest) of tables y [..., N, M] (init seeds x order
    seeds, N, M >= 2): [..., 3], the first two truncated at 0."""
    y = np.asarray(y, float)
    n, m = y.shape[-2:]
    grand = y.mean(axis=(-2, -1), keepdims=True)  # [..., 1, 1]
    rows, cols = y.mean(axis=-1, keepdims=True), y.mean(axis=-2, keepdims=True)  # [..., N, 1], [..., 1, M]
    ms_init = m * ((rows - grand) ** 2).sum(axis=(-2, -1)) / (n - 1)
    ms_order = n * ((cols - grand) ** 2).sum(axis=(-2, -1)) / (m - 1)
    ms_rest = ((y - rows - cols + grand) ** 2).sum(axis=(-2, -1)) / ((n - 1) * (m - 1))
    init, order = np.maximum((ms_init - ms_rest) / m, 0), np.maximum((ms_order - ms_rest) / n, 0)
    return np.stack([init, order, ms_rest], axis=-1)


def scored_on(dataset: str, limit_test: float | None) -> float:
    """The examples a run of `dataset` is scored on: its test split, capped by the study's `limit_test` (NaN for a
    data set outside the registry)."""
    if dataset not in DATASETS:
        return np.nan
    n = DATASETS[dataset].sizes[1]
    return float(n) if limit_test is None or pd.isna(limit_test) else float(min(n, limit_test))


def crossed_finals(data: Measured) -> pd.DataFrame:
    """Each finished run's final `data.metric` with its init and order seeds and the study's `limit_test`."""
    runs = data.results.drop_duplicates("run_id").set_index("run_id")
    seeds = runs.reindex(columns=["init_seed", "order_seed", "limit_test"])  # limit_test: NaN where not recorded
    return data.finals.join(seeds, on="run_id").dropna(subset=[data.metric, "order_seed"])


def table(data: Measured) -> pd.DataFrame:
    """Per configuration of a crossed study: the init and order seeds used (those of complete rows: every init seed
    that finished with every order seed), the mean, each part's variance and share, the seeds' total, and the
    binomial test-sampling part with n_test."""
    finals = crossed_finals(data)
    proportion = data.metric.startswith("test_") and metric_of(data.metric).name in PROPORTIONS
    out = []
    for key, runs in finals.groupby(CONFIG_KEYS, sort=False, dropna=False):
        grid = runs.pivot_table(index="init_seed", columns="order_seed", values=data.metric, aggfunc="first")
        grid = grid.dropna(axis=1, how="all").dropna(axis=0)  # [N, M]: only init seeds with every order seed
        if min(grid.shape) < 2:
            continue
        parts = components(grid.to_numpy())
        total, mean = parts.sum(), float(grid.to_numpy().mean())
        at = dict(zip(CONFIG_KEYS, key))
        n_test = scored_on(at["dataset"], runs["limit_test"].iloc[0])
        test = mean * (1 - mean) / n_test if proportion else np.nan
        out.append(
            {
                **at,
                "metric": data.metric,
                "n_init": grid.shape[0],
                "n_order": grid.shape[1],
                "mean": mean,
                **{f"var_{p}": v for p, v in zip(PARTS, parts)},
                "var_total": total,
                **{f"share_{p}": v / total if total > 0 else np.nan for p, v in zip(PARTS, parts)},
                "n_test": n_test,
                "var_test": test,
                "share_test": test / total if total > 0 else np.nan,
            }
        )
    return pd.DataFrame(out)


def applies(data: Measured) -> bool:
    """Crossed studies: runs with an `order_seed` (`seeds = { init = N, order = M }`)."""
    return "order_seed" in data.results and bool(data.results["order_seed"].notna().any())


def tables(data: Measured) -> dict[str, pd.DataFrame]:
    """`variance`: per configuration, the parts of its seed-to-seed variance and the test-sampling part."""
    return {"variance": table(data)}


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def verdicts(found: dict[str, pd.DataFrame], dataset: str) -> list[str]:
    """One sentence per data set: the median share of each part over its configurations, and the test-sampling one."""
    t = found.get("variance", pd.DataFrame())
    mine = t[t["dataset"] == dataset] if len(t) else t
    if mine.empty:
        return []
    design = f"{int(mine['n_init'].max())} init x {int(mine['n_order'].max())} order seeds"
    said = (
        f"Across {len(mine)} configuration{'s' if len(mine) > 1 else ''} ({design}), initialisation gives a median "
        f"{_pct(mine['share_init'].median())} of the seed-to-seed variance, data order "
        f"{_pct(mine['share_order'].median())} and their remainder {_pct(mine['share_rest'].median())}"
    )
    if mine["share_test"].notna().any():
        n_test = int(mine["n_test"].median())
        said += (
            f"; scoring on {n_test:,} test examples alone would give {_pct(mine['share_test'].median())} of it "
            "(binomial p(1 - p) / n)"
        )
    return [said + "."]

"""Constructed results in load_results' tidy shape, with known true values."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

Truth = Callable[[str, int], float]  # (group, params) -> true final test accuracy


def tidy(
    configs: list[tuple[str, int]],
    truth: Truth,
    seeds: int = 10,
    noise: float = 0.01,
    rng_seed: int = 0,
    dataset: str = "toy",
    epochs: int = 3,
    status: dict[tuple[str, int, int], str] | None = None,
    budgets: dict[tuple[str, int], int] | None = None,
) -> pd.DataFrame:
    """Rows of load_results for configs (group, params): test metrics every epoch, train at the last; final test
    accuracy = truth + N(0, noise); cross-entropy = 1 - accuracy; train = test + 0.05. `status` overrides per
    (group, params, seed) ("diverged", "pending", ...); non-done runs have no metric rows (pending) or NaN (diverged)."""
    rng, rows = np.random.default_rng(rng_seed), []
    for group, params in configs:
        family, depth = group.split("-")
        arch = f"{family}-{depth}x{params}"
        for seed in range(seeds):
            state = (status or {}).get((group, params, seed), "done")
            final = truth(group, params) + rng.normal(0, noise)
            base = dict(
                run_id=f"{arch}-s{seed}",
                study="synthetic",
                dataset=dataset,
                family=family,
                arch=arch,
                group=group,
                params=params,
                macs=params,
                seed=seed,
                status=state,
                budget=(budgets or {}).get((group, params)),
                diverged_epoch=2 if state == "diverged" else np.nan,
            )
            if state in ("pending", "running"):
                rows.append({**base, "epoch": np.nan, "split": None, "metric": None, "value": np.nan})
                continue
            for epoch in range(1, epochs + 1):
                acc = np.nan if state == "diverged" and epoch >= 2 else final - 0.1 * (epochs - epoch)
                splits = [("test", acc)] + ([("train", acc + 0.05)] if epoch == epochs else [])
                for split, value in splits:
                    rows.append({**base, "epoch": epoch, "split": split, "metric": "accuracy", "value": value})
                    rows.append({**base, "epoch": epoch, "split": split, "metric": "cross_entropy", "value": 1 - value})
    return pd.DataFrame(rows)


@pytest.fixture
def make_results() -> Callable[..., pd.DataFrame]:
    """The `tidy` builder."""
    return tidy

"""Paired differences (analysis/paired.py) against scipy: an interval and a test from MIN_SEEDS seeds, a range below."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from itermap.analysis.intervals import MIN_SEEDS
from itermap.analysis.paired import seed_difference


def test_paired_from_min_seeds_is_a_paired_t():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.8, 0.02, MIN_SEEDS + 3), rng.normal(0.78, 0.02, MIN_SEEDS + 3)
    got, want = seed_difference(a, b), stats.ttest_rel(a, b)
    ci = want.confidence_interval(0.95)
    assert got["interval"] == "ci" and got["diff"] == pytest.approx(np.mean(a - b))
    assert (got["ci_low"], got["ci_high"], got["p"]) == pytest.approx((ci.low, ci.high, want.pvalue))


def test_paired_below_min_seeds_describes_only():
    a, b = np.array([0.80, 0.70, 0.75]), np.array([0.70, 0.72, 0.70])
    got = seed_difference(a, b)
    assert got["interval"] == "range" and (got["ci_low"], got["ci_high"]) == pytest.approx((-0.02, 0.10))
    assert np.isnan(got["p"])
    assert np.isnan(seed_difference(np.full(6, 0.9), np.full(6, 0.8))["p"])  # every seed moved alike: nothing to test

"""The seeds a study needs (`itermap plan SPEC --effect E`): each declared comparison's, from a pilot's spread.

A finished pilot study (or, where the project publishes one, the preset's full run: docs/results/<name>/) is
analysed with the spec's [[compare]] pairs; each pair's comparison at each shared size gives the sd of the paired
seed differences, and `budgets.with_power` the seeds that detect `effect` with 80% power at Holm's first-step alpha,
as the report's comparisons say it. A pair needs the most seeds any of its sizes needs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from itermap.analysis.budgets import with_power
from itermap.analysis.paired import ALPHA
from itermap.analysis.results import Source
from itermap.analysis.studies import analyze_studies
from itermap.study.errors import StudyError
from itermap.study.spec import Spec

PUBLISHED = Path(__file__).resolve().parents[3] / "docs" / "results"  # in a source checkout: the published runs


def published(name: str) -> Path | None:
    """The published full run of study `name` (docs/results/<name>/<name>.parquet), where this checkout has it."""
    path = PUBLISHED / name / f"{name}.parquet"
    return path if path.is_file() else None


def seeds_for_effect(
    spec: Spec, effect: float, pilot: Source | None = None, metric: str = "test_accuracy"
) -> pd.DataFrame:
    """Per declared comparison (data set, A, B, at; at = "matched" for its matched budgets): the sizes compared, the pilot's seeds, the largest sd of the
    paired differences (stored units), the alpha of Holm's first step and the seeds needed to detect `effect` (display
    units: accuracy points) at every size (NaN where no size has a paired spread, inf beyond power.MAX_SEEDS)."""
    if not effect > 0:
        raise StudyError(f"--effect {effect}: give the gap worth detecting, > 0 (accuracy: in points)")
    source = pilot if pilot is not None else published(spec.study.name)
    if source is None:
        raise StudyError(
            f"{spec.origin}: no recorded spread for study {spec.study.name!r}; pass --pilot DIR, a finished pilot "
            "run of this spec (e.g. `itermap run SPEC --seeds 5 --out DIR`)"
        )
    found = analyze_studies(source, metric=metric, spec=spec)
    curves, matched = found.table("budgets", "comparisons"), found.table("budgets", "matched")
    if curves.empty and matched.empty:
        raise StudyError(f"{source}: its groups share no size to compare the pairs of {spec.origin} at")
    # Along the curves at each `at`, and at the matched budgets (at = "matched"), each size or budget a test.
    both = [t for t in (curves, matched.assign(at="matched") if len(matched) else matched) if len(t)]
    powered = with_power(pd.concat(both, ignore_index=True).assign(effect=effect))
    rows = []
    for (dataset, a, b, at), c in powered.groupby(["dataset", "a", "b", "at"], sort=False):
        rows.append(
            {
                "dataset": dataset,
                "a": a,
                "b": b,
                "at": at,
                "sizes": len(c),
                "seeds": int(c["seeds"].max()),
                "sd_diff": c["sd_diff"].max(),
                "alpha": ALPHA / c["family_size"].max(),
                "needed": c["seeds_for_effect"].max() if c["seeds_for_effect"].notna().any() else np.nan,
                "metric": metric,
                "source": str(source),
            }
        )
    return pd.DataFrame(rows)

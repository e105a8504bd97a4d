"""Study folders analysed as the report analyses them: one study, or several side by side."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from itermap.analysis.overview import Analysis, analyze
from itermap.analysis.results import folder_list, load_results, study_info
from itermap.study.spec import parse_text


def analyze_studies(folders: str | Path | Sequence[str | Path], metric: str = "test_accuracy") -> Analysis:
    """Every table of one study folder or several (`load_results`), its spec's [[compare]] pairs compared on `metric`.

    The tables are DataFrames: `finals` (one row per finished run), `summary` (per configuration), `comparisons`
    (equal parameters or multiply-adds), `matched`, `convergence`, with `results` the tidy rows they come from.
    Several studies compare each one's declared pairs within it, and, with no pair declared, groups across studies.
    """
    compare = []
    for folder in folder_list(folders):
        spec = study_info(folder)["spec"]
        compare += parse_text(spec, f"{folder}: the study's spec").compare if spec else []
    return analyze(load_results(folders, unmeasured=True), metric=metric, compare=compare)

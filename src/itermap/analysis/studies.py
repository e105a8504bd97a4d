"""Studies analysed as the report analyses them: one study (folder, exported file or DataFrame), or several side by
side, with the [[compare]] pairs their specs declare."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from itermap.analysis.compare import selects
from itermap.analysis.overview import Analysis, analyze
from itermap.analysis.results import Source, groups, load_results, source_list, study_info
from itermap.study.errors import StudyError
from itermap.study.spec import Spec, load_spec, parse_text


def declared_compare(
    sources: Source | Sequence[Source], spec: str | Spec | None = None, infos: Sequence[dict] | None = None
) -> tuple[list[Any], str]:
    """The [[compare]] tables to analyse, and one line saying where they come from: `spec` (a preset name, a TOML
    file or a Spec) where given, else each study's own spec (its folder's, or its exported file's metadata: `infos`,
    the sources' `study_info` where the caller has them, else read here), else none (the default pairs: each two
    groups that differ in one respect)."""
    if spec is not None:
        spec = spec if isinstance(spec, Spec) else load_spec(spec)
        said = f"comparing the pairs declared in {spec.origin}"
        return spec.compare, said if spec.compare else f"{spec.origin} declares no pairs: comparing default pairs"
    compare, bare = [], []
    sources = source_list(sources)
    for i, source in enumerate(sources):
        text = "" if isinstance(source, pd.DataFrame) else (infos[i] if infos else study_info(source))["spec"]
        compare += parse_text(text, f"{source}: the study's spec").compare if text else []
        bare += [] if text else ["a DataFrame" if isinstance(source, pd.DataFrame) else str(source)]
    if not bare:
        return (
            compare,
            "comparing the pairs declared in the studies' specs"
            if compare
            else "no pairs declared: comparing default pairs",
        )
    return compare, f"{', '.join(bare)}: no spec recorded; comparing " + (
        "the other studies' pairs" if compare else "default pairs (--spec NAME_OR_TOML gives a study's own)"
    )


def declared_select(
    sources: Source | Sequence[Source], spec: str | Spec | None = None, infos: Sequence[dict] | None = None
) -> str:
    """The [analysis] select to analyse with: `spec`'s where given, else the first of the studies' own specs that
    sets one other than "final", else "final"."""
    if spec is not None:
        return (spec if isinstance(spec, Spec) else load_spec(spec)).analysis.select
    for i, source in enumerate(source_list(sources)):
        text = "" if isinstance(source, pd.DataFrame) else (infos[i] if infos else study_info(source))["spec"]
        chosen = parse_text(text, f"{source}: the study's spec").analysis.select if text else "final"
        if chosen != "final":
            return chosen
    return "final"


def check_groups(results: pd.DataFrame, compare: Sequence[Any], origin: str) -> None:
    """A one-line StudyError when a [[compare]] side selects no group of the results (a spec meant for other data)."""
    held = groups(results)
    for c in compare:
        for side in (c.a, c.b):
            if not any(selects(side, g) for g in held.values()):
                raise StudyError(
                    f"{origin}: [[compare]] {side!r} names no group of these results; they hold {', '.join(sorted(held))}"
                )


def analyze_studies(
    sources: Source | Sequence[Source],
    metric: str = "test_accuracy",
    spec: str | Spec | None = None,
    infos: Sequence[dict] | None = None,
    say: Callable[[str], None] | None = None,
) -> Analysis:
    """Every table of one study or several (`load_results`: folders, exported files, DataFrames), the declared
    [[compare]] pairs (`declared_compare`: `spec`, else the studies' own) compared on `metric`.

    The tables are DataFrames: `finals` (one row per finished run), `summary` (per configuration), `comparisons`
    (equal parameters or multiply-adds), `matched`, `convergence`, with `results` the tidy rows they come from.
    Several studies compare each one's declared pairs within it, and, with no pair declared, groups across studies.
    `infos`: the sources' `study_info`, where the caller has read them; `say` is told where the pairs come from. The
    selection question reads their [analysis] select (`declared_select`).
    """
    results = load_results(sources, unmeasured=True)
    compare, said = declared_compare(sources, spec, infos)
    if spec is not None:
        check_groups(results, compare, f"--spec {spec if isinstance(spec, str) else spec.origin}")
    if say is not None:
        say(said)
    return analyze(results, metric=metric, compare=compare, select=declared_select(sources, spec, infos))

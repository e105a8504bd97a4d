"""The published answers in docs/results/: each folder's summary.md is what today's code computes from the folder's
committed Parquet, and the file is the whole preset (every planned run finished at its last epoch, every data set)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import itermap
from itermap.report.summary import summary_markdown
from itermap.study.plan import make_plan
from itermap.study.spec import load_spec

RESULTS = Path(__file__).parents[2] / "docs" / "results"
PUBLISHED = {  # preset: (file, its sha256 as ../shared/results/README.md records it)
    "seed2020": ("seed2020.parquet", "6f5935f5b30179456771e28f8a676e540d1e227928f493aa5bf9a8b82c190934"),
}


@pytest.mark.parametrize("preset", sorted(PUBLISHED))
def test_published_summary_is_rebuilt_from_the_committed_file(preset):
    """The text cannot drift from the code: summary.md equals what `itermap report FILE --spec PRESET` writes."""
    name, sha256 = PUBLISHED[preset]
    file = RESULTS / preset / name
    assert hashlib.sha256(file.read_bytes()).hexdigest() == sha256
    info = itermap.study_info(file)
    analysis = itermap.analyze(file, spec=None if info["spec"] else preset)  # the file's own pairs where it has them
    text = summary_markdown(analysis, str(info["study"]), info["environment"])
    assert text == (RESULTS / preset / "summary.md").read_text()


@pytest.mark.parametrize("preset", sorted(PUBLISHED))
def test_published_file_is_the_whole_preset(preset):
    """Every run the preset plans, on every data set, finished, with test accuracy at its last epoch."""
    spec = load_spec(preset)
    plan = make_plan(spec)
    results = itermap.load_results(RESULTS / preset / PUBLISHED[preset][0])
    runs = results.drop_duplicates("run_id").set_index("run_id")
    assert {r.run_id for r in plan.runs} == set(runs.index)
    assert set(runs["dataset"]) == set(spec.data.datasets) and set(runs["status"]) == {"done"}
    last = results[(results["split"] == "test") & (results["metric"] == "accuracy") & results["step"].isna()]
    last = last[last["epoch"] == spec.train.epochs]
    assert set(last["run_id"]) == set(runs.index) and len(last) == len(plan.runs)
    assert results["epoch"].max() == spec.train.epochs

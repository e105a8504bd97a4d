"""Run ids hash the canonical config without defaults: adding a defaulted field keeps every id and study folder."""

from __future__ import annotations

from pydantic import create_model

import itermap.study.families
from itermap.models import BUILTIN
from itermap.study.plan import make_plan, stable_id
from itermap.study.spec import load_spec, preset_names
from itermap.train import TrainConfig


def preset_runs() -> dict[str, list]:
    return {name: make_plan(load_spec(name)).runs for name in preset_names()}


def test_a_new_defaulted_field_keeps_every_preset_id(monkeypatch):
    before = preset_runs()
    for module in BUILTIN:  # a new field with a default on every family and on TrainConfig
        monkeypatch.setattr(
            module, "Config", create_model(module.Config.__name__, __base__=module.Config, knob=(int, 0))
        )
    monkeypatch.setattr(
        itermap.study.families, "TrainConfig", create_model("TrainConfig", __base__=TrainConfig, knob=(int, 0))
    )
    after = preset_runs()

    for name in before:
        runs = after[name]
        assert all("knob" in r.cfg.model_dump() and "knob" in r.train.model_dump() for r in runs)  # really there
        assert [r.run_id for r in runs] == [r.run_id for r in before[name]], name
        # the full config (what the store records) did change: an id over it would have changed too
        assert stable_id(runs[0].config) != stable_id(before[name][0].config)


def test_ids_change_with_a_non_default_value():
    spec = load_spec("quick")
    base = {r.run_id for r in make_plan(spec).runs}
    other = spec.model_copy(update={"train": spec.train.model_copy(update={"lr": 3e-3})})
    assert not base & {r.run_id for r in make_plan(other).runs}


def test_creating_a_study_hashes_each_run_once(tmp_path, monkeypatch):
    """Planning and recording a study is linear in its runs: each run id and pack id is computed once."""
    from itermap.study import plan as planning
    from itermap.study.store import Store

    calls = []
    monkeypatch.setattr(planning, "stable_id", lambda obj: calls.append(obj) or stable_id(obj))
    made = make_plan(load_spec("quick").with_overrides(seeds=200))
    with Store(tmp_path) as store:
        store.plan(made)
    assert len(made.runs) == 200 * len(made.packs) and len(calls) == len(made.runs) + len(made.packs)

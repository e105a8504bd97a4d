"""The selection question on a small real study (embedded data, tiny nets, two learning rates, a validation split)
whose test numbers are then turned against its validation numbers, so that the test-best and the validation-best
settings differ: the validation one is chosen, the chosen runs are recomputed with plain pandas, the comparisons reuse
budgets' on them, and the report shows the choice and its robustness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import itermap
from itermap.analysis.compare import compare_curves
from itermap.analysis.overview import analyze
from itermap.report import sections
from itermap.study.spec import parse

DATASET = "fashion-mnist-mini"
SPEC = {
    "study": {"name": "tuned"},
    "data": {"datasets": [DATASET], "limit_train": 600, "limit_test": 200, "validation": 100},
    "train": {"epochs": 3, "batch_size": 50, "seeds": 2},
    "grid": [
        {"family": "mlp", "hidden": [[2], [8]], "train": {"lr": [1e-3, 1e-2]}},
        {"family": "rnn", "hidden": [4, 8], "window": 7, "train": {"lr": [1e-3, 1e-2]}},
    ],
    "compare": [{"a": "rnn-1", "b": "mlp-1", "at": ["params"]}],
    "analysis": {"select": "best-validation-epoch"},
}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    spec = parse(SPEC, "test")
    folder = itermap.run_study(spec, out=tmp_path_factory.mktemp("tuned") / "s", device="cpu", quiet=True)
    return itermap.load_results(folder), spec, folder


def turned(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every test accuracy replaced by 1 - the validation accuracy of its run and epoch: the setting
    best on validation is then the worst on test."""
    valid = frame[(frame["split"] == "validation") & (frame["metric"] == "accuracy")]
    at = valid.set_index(["run_id", "epoch"])["value"]
    out = frame.copy()
    test = (out["split"] == "test") & (out["metric"] == "accuracy")
    out.loc[test, "value"] = 1 - at.reindex(pd.MultiIndex.from_frame(out.loc[test, ["run_id", "epoch"]])).to_numpy()
    return out


def reference(frame: pd.DataFrame, best_epoch: bool) -> pd.DataFrame:
    """Plain pandas: each run's validation accuracy at its last (or best, earliest of ties) epoch, the learning rate
    with the best mean per configuration (data set, family group, architecture), and its runs' test accuracy there."""
    done = frame[frame["status"] == "done"]
    valid = done[(done["split"] == "validation") & (done["metric"] == "accuracy")]
    rows = valid.loc[valid.groupby("run_id")["value" if best_epoch else "epoch"].idxmax()]
    rows = rows.assign(config=rows["family"] + "-" + rows["arch"])
    best = rows.groupby(["config", "lr"])["value"].mean().groupby("config").idxmax().map(lambda key: key[1])
    chosen = rows[rows["lr"] == rows["config"].map(best)]
    test = done[(done["split"] == "test") & (done["metric"] == "accuracy")].set_index(["run_id", "epoch"])["value"]
    picked = chosen.set_index(["run_id", "epoch"]).index
    return chosen.assign(test_accuracy=test.reindex(picked).to_numpy()).sort_values("run_id", ignore_index=True)


@pytest.mark.parametrize("select", ["final", "best-validation-epoch"])
def test_the_validation_best_setting_is_chosen_and_its_runs_selected(study, select):
    frame, spec, _ = study
    test_turned = turned(frame)
    an = analyze(test_turned, compare=spec.compare, select=select)
    chosen, picked = an.table("selection", "chosen"), an.table("selection", "selected")
    ref = reference(test_turned, best_epoch=select == "best-validation-epoch")
    assert set(chosen["setting"]) <= {"lr=0.001", "lr=0.01"} and len(chosen) == 4
    by_arch = dict(zip(chosen["arch"], chosen["setting"]))
    assert by_arch == {arch: f"lr={lr:g}" for arch, lr in zip(ref["arch"], ref["lr"])}
    # The premise: on the test split the other setting of each configuration is the better one.
    tests = test_turned[(test_turned["split"] == "test") & (test_turned["metric"] == "accuracy")]
    last = tests.loc[tests.groupby("run_id")["epoch"].idxmax()]
    test_best = last.groupby(["arch", "lr"])["value"].mean().groupby("arch").idxmax()
    assert all(by_arch[arch] != f"lr={lr:g}" for arch, lr in test_best)
    got = picked.sort_values("run_id", ignore_index=True)
    assert got["run_id"].tolist() == ref["run_id"].tolist()
    assert got["epoch"].tolist() == ref["epoch"].tolist()
    np.testing.assert_allclose(got["test_accuracy"], ref["test_accuracy"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["validation_accuracy"], ref["value"], rtol=0, atol=1e-12)
    assert set(got["group"]) == {"mlp-1", "rnn-1"}
    # The choice reads the validation split only: the untouched test numbers choose the same.
    plain = analyze(frame, compare=spec.compare, select=select).table("selection", "chosen")
    pd.testing.assert_frame_equal(plain, chosen)


def test_the_comparisons_are_budgets_on_the_selected_runs_and_on_each_setting(study):
    frame, spec, _ = study
    an = analyze(frame, compare=spec.compare)
    every = an.table("selection", "comparisons")
    assert sorted(every["setting"].unique()) == ["lr=0.001", "lr=0.01", "tuned"]
    picked = an.table("selection", "selected")
    tuned = every[every["setting"] == "tuned"].reset_index(drop=True)
    expected = compare_curves(picked, DATASET, "rnn-1", "mlp-1", "test_accuracy", at="params")
    pd.testing.assert_frame_equal(tuned[expected.columns], expected)
    budgets = an.table("budgets", "comparisons")
    for lr in ("0.001", "0.01"):
        fixed = every[every["setting"] == f"lr={lr}"]
        pair = budgets[(budgets["a"] == f"rnn-1 · lr={lr}") & (budgets["b"] == "mlp-1 · lr=" + lr)]
        np.testing.assert_allclose(fixed["diff"], pair["diff"], rtol=0, atol=1e-12)
    robust = an.table("selection", "robustness")
    assert robust["setting"].tolist() == ["lr=0.001", "lr=0.01", "tuned"]
    signs = {np.sign(d) for d in robust["mean_diff"]}
    assert robust["same"].all() == (len(signs) == 1 and robust["kind"].nunique() == 1)
    said = an.answers[DATASET]["selection"]
    assert said[0].startswith("Chosen on the validation split (at the final epoch; the test split was not read)")
    assert said[1].startswith("Tuned on validation: ") and said[2].startswith("RNN-1 - MLP-1 at equal parameters")


def test_a_setting_with_a_diverged_run_loses_to_one_without(study):
    frame, spec, _ = study
    chosen = analyze(frame, compare=spec.compare).table("selection", "chosen")
    arch, won = chosen.iloc[0]["arch"], chosen.iloc[0]["setting"]
    run = frame.loc[(frame["arch"] == arch) & (frame["lr"] == float(won.split("=")[1])), "run_id"].iloc[0]
    hit = frame.copy()
    hit.loc[hit["run_id"] == run, "status"] = "diverged"
    again = analyze(hit, compare=spec.compare).table("selection", "chosen").set_index("arch")
    assert again.loc[arch, "setting"] != won and again.loc[arch, "runner_up"] == won
    assert again.loc[arch, "diverged"] == 0


def test_no_selection_without_validation_rows_or_a_tuned_axis(study):
    frame, spec, _ = study
    assert "selection" not in analyze(frame[frame["split"] != "validation"], compare=spec.compare).found
    one_lr = frame[frame["lr"] == 1e-3]  # as a study of one learning rate reads: no lr in its groups
    one_lr = one_lr.assign(group=one_lr["group"].str.split(" · ").str[0])
    assert "selection" not in analyze(one_lr, compare=spec.compare).found


def test_the_report_shows_the_choice_and_its_robustness(study):
    frame, spec, _ = study
    an = analyze(frame, compare=spec.compare, select="best-validation-epoch")
    shown = dict(sections.tables(an, DATASET))
    chosen = shown["Chosen on the validation split (at each run's best validation epoch): each configuration's setting"]
    assert chosen.columns[:4].tolist() == ["Group", "Architecture", "Parameters", "Chosen"] and len(chosen) == 4
    assert any(t.startswith("Tuned on validation: equal-parameter comparison") for t in shown)
    robust = next(table for title, table in shown.items() if title.startswith("Robustness: "))
    assert robust["Setting"].tolist() == ["lr=0.001", "lr=0.01", "tuned"]
    stems = [d.stem for s in sections.shown(an) if s.QUESTION == "selection" for d in s.figures(an, DATASET)]
    assert stems == ["selection"]


def test_a_study_is_selected_by_its_own_spec_or_by_the_one_given(study):
    _, spec, folder = study
    final = parse({k: v for k, v in SPEC.items() if k != "analysis"}, "final.toml")
    assert set(itermap.analyze(folder).table("selection", "chosen")["select"]) == {"best-validation-epoch"}
    assert set(itermap.analyze(folder, spec=final).table("selection", "chosen")["select"]) == {"final"}

"""Study folders analysed from Python (`itermap.analyze`), one or several side by side, and `export --table`;
every number checked against the store read with plain sqlite3 and NumPy."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import itermap
from itermap.cli import app
from itermap.study.errors import StudyError

SPEC = """
[study]
name = "{name}"

[data]
datasets = ["fashion-mnist-mini"]
limit_train = 300
limit_test = 100

[train]
epochs = 2
batch_size = 50
lr = {lr}
seeds = 2

[[grid]]
family = "mlp"
hidden = [[4], [8]]

[[grid]]
family = "rnn"
hidden = 4
window = 7
"""


@pytest.fixture(scope="module")
def studies(tmp_path_factory, shared_data) -> tuple[Path, Path]:
    """Two small real studies, `alpha` and `beta` (another learning rate), each in a folder of its name."""
    root = tmp_path_factory.mktemp("studies")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ITERMAP_DATA_DIR", str(shared_data))
        for name, lr in (("alpha", 3e-3), ("beta", 1e-2)):
            (root / f"{name}.toml").write_text(SPEC.format(name=name, lr=lr))
            itermap.run_study(root / f"{name}.toml", out=root / name, device="cpu", quiet=True)
    return root / "alpha", root / "beta"


def final_test_accuracy(folder: Path, arch: str) -> np.ndarray:
    """Per seed (in seed order), the test accuracy at the last epoch of the runs of `arch`, straight from SQLite."""
    query = """SELECT r.seed, m.value FROM metrics m JOIN runs r USING (run_id)
               WHERE r.arch = ? AND m.split = 'test' AND m.metric = 'accuracy' AND m.step IS NULL
               AND m.epoch = (SELECT MAX(epoch) FROM metrics WHERE run_id = m.run_id) ORDER BY r.seed"""
    with closing(sqlite3.connect(folder / "results.sqlite")) as db:
        return np.array([v for _, v in db.execute(query, (arch,))])


def test_analyze_tables_equal_a_numpy_recomputation(studies):
    alpha, beta = studies
    one = itermap.analyze(alpha)
    values = final_test_accuracy(alpha, "mlp-8")
    row = one.summary.set_index("arch").loc["mlp-8"]
    assert len(values) == 2 and row["done"] == 2
    assert row["test_accuracy_mean"] == pytest.approx(values.mean(), abs=1e-12)
    assert row["test_accuracy_std"] == pytest.approx(values.std(ddof=1), abs=1e-12)
    finals = one.finals[one.finals["arch"] == "mlp-8"].sort_values("seed")
    np.testing.assert_allclose(finals["test_accuracy"], values, atol=1e-12)
    # Two studies: the same configuration of each is compared at its (equal) parameter count, seed by seed.
    both = itermap.analyze([alpha, beta])
    comparisons = both.table("budgets", "comparisons")
    pair = comparisons[(comparisons["x"] == row["params"]) & comparisons["a"].str.startswith("mlp-1")]
    assert list(pair[["a", "b"]].iloc[0]) == ["mlp-1 · study=alpha", "mlp-1 · study=beta"]
    expected = values.mean() - final_test_accuracy(beta, "mlp-8").mean()
    assert pair["diff"].iloc[0] == pytest.approx(expected, abs=1e-12) and pair["seeds"].iloc[0] == 2


def test_several_folders_keep_each_study_apart(studies):
    alpha, beta = studies
    both = itermap.load_results([alpha, beta])
    alone = {f.name: itermap.load_results(f) for f in studies}
    assert len(both) == sum(len(f) for f in alone.values())
    for name, frame in alone.items():
        mine = both[both["study"] == name]
        assert sorted(mine["run_id"].unique()) == sorted(f"{name}:{r}" for r in frame["run_id"].unique())
        assert set(mine["group"]) == {f"{g} · study={name}" for g in frame["group"]}
        assert mine["value"].sum() == pytest.approx(frame["value"].sum())
    # The learning rate differs only between the studies: the study label says it, the groups do not repeat it.
    assert set(both["lr"]) == {3e-3, 1e-2} and not both["group"].str.contains("lr=").any()


def test_studies_of_one_name_are_told_apart_by_folder_or_refused(studies, tmp_path):
    alpha, _ = studies
    again = tmp_path / "alpha-again"
    shutil.copytree(alpha, again)
    assert set(itermap.load_results([alpha, again])["study"]) == {"alpha", "alpha-again"}
    (tmp_path / "elsewhere").mkdir()
    clash = shutil.copytree(alpha, tmp_path / "elsewhere" / "alpha")
    with pytest.raises(StudyError, match="give each folder a name of its own"):
        itermap.load_results([alpha, clash])


def test_export_table_writes_the_analysis_table(studies, tmp_path):
    alpha, _ = studies
    out = tmp_path / "summary.csv"
    result = CliRunner().invoke(
        app, ["export", str(alpha), "--table", "summary", "--format", "csv", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    written, summary = pd.read_csv(out), itermap.analyze(alpha).summary
    assert list(written.columns) == list(summary.columns) and len(written) == len(summary) == 3
    np.testing.assert_allclose(written["test_accuracy_mean"], summary["test_accuracy_mean"])
    refused = CliRunner().invoke(app, ["export", str(alpha), "--to", "mlflow", "--table", "finals"])
    assert refused.exit_code == 2 and "--to mlflow replays the whole study" in refused.stderr

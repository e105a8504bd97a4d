"""A study travels as one file: `itermap export` to Parquet (the spec, environment and version in its metadata) or
CSV, and everything read back from the file equals what the study's folder gives: the tidy rows, every table, the
summary text; bad files get one line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal
from typer.testing import CliRunner

import itermap
from itermap.cli import app
from itermap.report import write_report

SPEC = """
[study]
name = "travels"

[data]
datasets = ["fashion-mnist-mini"]
limit_train = 300
limit_test = 100

[train]
epochs = 2
batch_size = 50
lr = 3e-3
seeds = 5
eval_train_every = 2

[[grid]]
family = "mlp"
hidden = [[4], [8], [16], [4, 4]]

[[grid]]
family = "rnn"
hidden = [4, 8, 16]
window = 7

[[compare]]
a = "rnn-1"
b = "mlp-1"
at = ["params", "macs"]
headline = true

[[compare]]
a = "rnn-1"
b = "mlp-2"
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory, shared_data) -> Path:
    """A small real study (two declared pairs, 5 seeds: inferential comparisons), exported as Parquet and as CSV."""
    root = tmp_path_factory.mktemp("travels")
    (root / "travels.toml").write_text(SPEC)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ITERMAP_DATA_DIR", str(shared_data))
        itermap.run_study(root / "travels.toml", out=root / "travels", device="cpu", quiet=True)
    for fmt in ("parquet", "csv"):
        done = CliRunner().invoke(app, ["export", str(root / "travels"), "--format", fmt])
        assert done.exit_code == 0, done.output
    return root / "travels"


def cli(*args: object) -> subprocess.CompletedProcess:
    """The real `itermap` command in a subprocess."""
    return subprocess.run([sys.executable, "-m", "itermap", *map(str, args)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200"})  # fmt: skip


def test_parquet_metadata_holds_the_spec_environment_and_version(study):
    meta = {k.decode(): v.decode() for k, v in pq.read_schema(study / "results.parquet").metadata.items()}
    assert meta["itermap.spec"] == (study / "study.toml").read_text()
    assert meta["itermap.version"] == itermap.__version__
    [session] = json.loads(meta["itermap.environment"])
    assert session == itermap.study_info(study)["environment"][0]
    store_meta = json.loads(meta["itermap.meta"])  # the store's meta table, less the spec (a key of its own)
    assert store_meta["study"] == "travels" and "spec" not in store_meta and "wall_seconds" in store_meta


@pytest.mark.parametrize("name", ["results.parquet", "results.csv"])
def test_a_file_reads_back_as_its_folder(study, name):
    """The tidy rows, dtypes and column order included, and the study's metadata, from either file."""
    assert_frame_equal(itermap.load_results(study / name), itermap.load_results(study))
    folder, file = itermap.study_info(study), itermap.study_info(study / name)
    same = ["study", "runs", "counts", "unplanned"] + (
        ["spec", "versions", "device", "wall_seconds", "created", "updated", "environment"]
        if name.endswith("t")
        else []
    )
    assert {k: file[k] for k in same} == {k: folder[k] for k in same}


def test_report_from_the_parquet_equals_the_report_from_the_folder(study, tmp_path):
    """summary.md's text and every table of the analysis, with the pairs from the file's metadata."""
    for out, source in ((tmp_path / "folder", study), (tmp_path / "file", study / "results.parquet")):
        write_report(source, out)
    summary = (tmp_path / "file" / "summary.md").read_text()
    assert summary == (tmp_path / "folder" / "summary.md").read_text() and "### Environment" in summary
    from_folder, from_file = itermap.analyze(study), itermap.analyze(study / "results.parquet")
    for table in ("results", "finals", "summary"):
        assert_frame_equal(getattr(from_file, table), getattr(from_folder, table), obj=table)
    assert from_file.found.keys() == from_folder.found.keys()
    for question, tables in from_folder.found.items():
        for name, table in tables.items():
            assert_frame_equal(from_file.found[question][name], table, obj=f"{question}: {name}")
    assert from_file.verdicts == from_folder.verdicts and len(from_file.table("budgets", "comparisons")) > 0
    assert set(from_file.table("budgets", "comparisons")[["a", "b"]].itertuples(index=False)) == {
        ("rnn-1", "mlp-1"),
        ("rnn-1", "mlp-2"),
    }


def test_csv_without_metadata_and_spec_gives_the_same_comparisons(study, tmp_path):
    """A CSV carries no spec: with --spec the study's own pairs; without, the default pairs, said in one info line."""
    from_folder = itermap.analyze(study)
    with_spec = itermap.analyze(study / "results.csv", spec=str(study / "study.toml"))
    assert_frame_equal(with_spec.table("budgets", "comparisons"), from_folder.table("budgets", "comparisons"))
    frame = pd.read_csv(study / "results.csv")  # the same rows handed over as a DataFrame
    assert_frame_equal(
        itermap.analyze(frame, spec=str(study / "study.toml")).table("budgets", "comparisons"),
        from_folder.table("budgets", "comparisons"),
    )
    done = cli("report", study / "results.csv", "--out", tmp_path / "default")
    assert done.returncode == 0, done.stderr
    assert "no spec recorded; comparing default pairs" in done.stdout
    default = itermap.analyze(study / "results.csv")
    pairs = set(default.table("budgets", "comparisons")[["a", "b"]].itertuples(index=False))
    assert ("mlp-1", "mlp-2") in pairs and ("mlp-1", "rnn-1") in pairs  # default pairs: every two groups, sorted
    done = cli("report", study / "results.csv", "--spec", study / "study.toml", "--out", tmp_path / "spec")
    assert done.returncode == 0, done.stderr
    assert f"comparing the pairs declared in {study / 'study.toml'}" in done.stdout
    write_report(study, tmp_path / "folder")
    # The same text but for the environment, which a CSV does not carry.
    folder_text = (tmp_path / "folder" / "summary.md").read_text()
    assert (tmp_path / "spec" / "summary.md").read_text() == folder_text.split("\n\n## Study\n")[0] + "\n"


def test_default_report_folder_of_a_file_is_beside_it(study, tmp_path):
    file = tmp_path / "shared.parquet"
    file.write_bytes((study / "results.parquet").read_bytes())
    done = cli("report", file)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "shared" / "summary.md").is_file() and (tmp_path / "shared" / "report.html").is_file()
    assert "comparing the pairs declared in the studies' specs" in done.stdout


def test_several_files_side_by_side_as_several_folders(study, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "results.parquet").write_bytes((study / "results.parquet").read_bytes())
    # Two copies of one study: labelled by their folders' names for folders, by their files' names for files.
    (tmp_path / "a.parquet").write_bytes((study / "results.parquet").read_bytes())
    (tmp_path / "b.parquet").write_bytes((study / "results.parquet").read_bytes())
    two = itermap.load_results([tmp_path / "a.parquet", tmp_path / "b.parquet"])
    assert set(two["study"]) == {"a", "b"} and len(two) == 2 * len(itermap.load_results(study))
    assert set(two["group"]) == {f"{g} · study={s}" for g in ("mlp-1", "mlp-2", "rnn-1") for s in "ab"}
    mixed = itermap.load_results([study, tmp_path / "b.parquet"])
    assert set(mixed["study"]) == {"travels", "b"}
    done = cli("report", study, tmp_path / "b.parquet", "--out", tmp_path / "both")
    assert done.returncode == 0, done.stderr
    assert "study=b" in (tmp_path / "both" / "summary.md").read_text()


def error_of(*args: object) -> str:
    done = cli(*args)
    assert done.returncode == 2 and done.stdout == "", (done.returncode, done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    return done.stderr


def test_bad_files_get_one_line_and_exit_2(study, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert "not a study folder nor a .parquet or .csv file" in error_of("report", text)
    assert "no such file" in error_of("report", tmp_path / "gone.parquet")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    assert "cannot be read as parquet" in error_of("report", broken)
    frame = pd.read_csv(study / "results.csv")
    frame.drop(columns=["seed", "value"]).to_csv(tmp_path / "cut.csv", index=False)
    assert "missing columns seed, value" in error_of("report", tmp_path / "cut.csv")
    other = tmp_path / "other.toml"
    other.write_text(SPEC.replace('a = "rnn-1"\nb = "mlp-2"', 'a = "rnn-2"\nb = "mlp-2"'))
    message = error_of("report", study / "results.csv", "--spec", other)
    assert "'rnn-2' names no group of these results" in message and "mlp-1, mlp-2, rnn-1" in message
    folder = tmp_path / "folder.parquet"
    folder.mkdir()  # a folder, whatever its name: a study folder without a store
    assert "no results.sqlite here" in error_of("report", folder)

"""Shards (`run --shard i/N`) and `itermap merge`: two shards merged equal the unsharded study row for row, and a
missing shard is trained by a later run; shards of another plan, of another split, or given twice are refused."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

import itermap
from itermap import run_study
from itermap.study.errors import StudyError
from itermap.study.merge import merge_shards
from itermap.study.plan import make_plan
from itermap.study.shards import parse_shard, shard_of
from itermap.study.spec import load_spec


def runs(folder: Path) -> list[tuple]:
    """Each run as the store holds it, but for its timing."""
    with closing(sqlite3.connect(folder / "results.sqlite")) as db:
        return sorted(
            db.execute(
                "SELECT run_id, pack_id, study, config, planned, status, diverged_epoch, epochs_done,"
                " device, threads FROM runs"
            )
        )


def one_line_error(proc, text: str) -> None:
    """`proc` failed with exit code 2 and one `error:` line holding `text`."""
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert text in proc.stderr


@pytest.fixture
def sharded(tiny_spec, tmp_path):
    """A tiny spec (4 packs, kept weights) trained as shards 1/2 and 2/2 into their own folders."""
    spec = tiny_spec(keep_weights=True)
    return spec, [run_study(spec, out=tmp_path / f"shard{i}", device="cpu", quiet=True, shard=f"{i}/2") for i in (1, 2)]


def test_two_shards_merged_equal_the_unsharded_study(sharded, cli, metric_rows, same_weights, tmp_path):
    spec, shards = sharded
    whole = run_study(spec, out=tmp_path / "whole", device="cpu", quiet=True)
    planned = {r.run_id for r in make_plan(load_spec(spec)).runs}
    parts = [{r[0] for r in runs(s)} for s in shards]
    assert parts[0] and parts[1] and not parts[0] & parts[1] and parts[0] | parts[1] == planned  # disjoint halves

    merged = tmp_path / "merged"
    done = cli("merge", merged, *shards)
    assert done.returncode == 0, done.stderr
    assert metric_rows(merged) == metric_rows(whole)  # every value equal, none missing, none twice
    assert runs(merged) == runs(whole)
    same_weights(whole, merged, 8)
    info = itermap.study_info(merged)
    assert info["runs"] == 8 and info["counts"]["done"] == 8
    assert sorted(s["shard"] for s in info["environment"]) == ["1/2", "2/2"]  # each shard's session, kept
    run_study(spec, out=merged, device="cpu", quiet=True)  # a complete study: nothing trains, no session added
    assert metric_rows(merged) == metric_rows(whole) and len(itermap.study_info(merged)["environment"]) == 2

    half = tmp_path / "half"  # shard 1 missing: a later run trains its runs
    done = cli("merge", half, shards[1])
    assert done.returncode == 0, done.stderr
    assert f"shards 1 are missing: `itermap run SPEC --out {half}` trains their runs" in done.stdout
    run_study(spec, out=half, device="cpu", quiet=True)
    assert metric_rows(half) == metric_rows(whole) and runs(half) == runs(whole)


def test_merge_refuses_shards_that_do_not_belong_together(sharded, cli, tmp_path):
    spec, shards = sharded
    other = run_study(spec, out=tmp_path / "other", device="cpu", quiet=True, shard="2/2", seeds=1)  # another plan
    refused = cli("merge", tmp_path / "m1", shards[0], other)
    one_line_error(refused, f"{other} holds a shard of another plan")
    assert "merge only shards of one spec run with the same overrides" in refused.stderr

    third = run_study(spec, out=tmp_path / "third", device="cpu", quiet=True, shard="3/3")
    for out, given, error in [
        (tmp_path / "m2", [shards[0], shards[0]], "shard 1/2 given twice"),
        (tmp_path / "m3", [shards[0], third], f"{third} is shard 3/3 but {shards[0]} is shard 1/2: their runs overlap"),
        (shards[1], [shards[0]], f"{shards[1]} already holds a study; merge into a new folder"),
    ]:
        with pytest.raises(StudyError, match=f"^{re.escape(error)}"):
            merge_shards(out, given)
    for name in ("m1", "m2", "m3"):
        assert not (tmp_path / name / "results.sqlite").exists()
    with pytest.raises(StudyError, match=f"^{re.escape(f'{shards[0]} holds shard 1/2 of')} 'tiny', not 2/2; give each"):
        run_study(spec, out=shards[0], device="cpu", quiet=True, shard="2/2")


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_a_shard_is_i_of_n(text):
    with pytest.raises(StudyError, match=rf"^--shard {text}: give i/N with 1 <= i <= N"):
        parse_shard(text)


def test_a_shard_beyond_the_packs_is_refused(tiny_spec, tmp_path):
    assert parse_shard(" 2 / 5 ") == (2, 5)
    with pytest.raises(StudyError, match=r"^--shard 5/5: the plan has only 4 packs, so shard 5 would be empty"):
        run_study(tiny_spec(), out=tmp_path / "s", device="cpu", quiet=True, shard="5/5")
    assert not (tmp_path / "s").exists()


def test_a_study_training_its_own_teacher_is_not_sharded():
    plan = make_plan(load_spec("distill-quick"))
    assert shard_of(plan, 1, 1).teachers == plan.teachers  # the whole plan keeps its teacher
    with pytest.raises(StudyError, match=r"--shard 1/2: this study trains its own \[teacher\]"):
        shard_of(plan, 1, 2)

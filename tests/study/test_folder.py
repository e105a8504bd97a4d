"""Study folders: divergence is recorded and the study goes on; another study's folder is refused unless --force-new."""

from __future__ import annotations

import sqlite3

import pytest

import itermap
from itermap.study.errors import StudyError

DIVERGING = """
[study]
name = "diverging"
[data]
datasets = ["fashion-mnist-mini"]
limit_train = 200
limit_test = 100
[train]
epochs = 3
lr = {lr}
seeds = 2
[[grid]]
family = "mlp"
hidden = [[]]
[[grid]]
family = "rnn"
hidden = 2
window = 14
"""


def test_divergence_is_recorded_and_the_study_goes_on(tmp_path):
    spec = tmp_path / "d.toml"
    spec.write_text(DIVERGING.format(lr=1e36))  # one Adam step of 1e36 overflows a linear classifier's logits
    folder = itermap.run_study(spec, out=tmp_path / "d", device="cpu", quiet=True)
    with sqlite3.connect(folder / "results.sqlite") as db:
        runs = dict(db.execute("SELECT arch || ':' || seed, status || ':' || IFNULL(diverged_epoch, '-') FROM runs"))
        rows = db.execute(
            "SELECT COUNT(*) FROM metrics m JOIN runs r USING (run_id) WHERE r.arch = 'mlp-0'"
        ).fetchone()[0]
        unfinished = db.execute("SELECT COUNT(*) FROM runs WHERE finished IS NULL").fetchone()[0]
    assert runs["mlp-0:0"] == "diverged:1" and runs["mlp-0:1"] == "diverged:1"
    assert rows == 0  # no rows after divergence (it diverged in the first epoch)
    assert unfinished == 0  # the other pack still trained to its end
    frame = itermap.load_results(folder)
    assert set(frame.arch) == {"rnn-1x2"} and frame.epoch.max() == 3
    assert itermap.study_info(folder)["counts"] == {
        "done": 2,
        "diverged": 2,
        "running": 0,
        "interrupted": 0,
        "pending": 0,
    }


def test_other_study_refused_unless_force_new(tmp_path):
    spec, other = tmp_path / "d.toml", tmp_path / "other.toml"
    spec.write_text(DIVERGING.format(lr=1e-3))
    other.write_text(DIVERGING.format(lr=1e-3).replace('name = "diverging"', 'name = "other"'))
    folder = itermap.run_study(spec, out=tmp_path / "f", device="cpu", quiet=True)
    (folder / "report.html").write_text("stale")
    with pytest.raises(StudyError, match="holds another study .'diverging', 4 runs.*--force-new"):
        itermap.run_study(other, out=folder, quiet=True)
    itermap.run_study(spec, out=folder, epochs=4, force_new=True, device="cpu", quiet=True)
    assert not (folder / "report.html").exists()
    frame = itermap.load_results(folder, all_runs=True)  # started over: the 3-epoch runs are gone
    assert frame.epoch.max() == 4 and set(frame.epochs) == {4}
    assert "epochs = 4" in (folder / "study.toml").read_text()


@pytest.mark.parametrize("command", [["status"], ["export", "--format", "csv"], ["report"], ["run", "quick", "--out"]])
def test_corrupt_store_gives_one_line_and_is_left_alone(tmp_path, command):
    """A results.sqlite that is not a database: exit 2, one `error:` line naming the file, the file untouched."""
    import subprocess
    import sys

    store = tmp_path / "results.sqlite"
    store.write_bytes(b"not a database, but somebody's file" * 100)
    before = store.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "itermap.cli", *command, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: {store}: not a readable itermap results database")
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert store.read_bytes() == before

"""A real tiny study (grid and matched design, 3 seeds) trained and reported through the `itermap` command once per
session, and the same study extended to 5 seeds (intervals and verdicts of the inferential kind)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SPEC = """
[study]
name = "tiny-report"

[data]
datasets = ["fashion-mnist-mini"]
limit_train = 600
limit_test = 200

[train]
epochs = 2
batch_size = 50
lr = 3e-3
seeds = 3
eval_train_every = 2

[[grid]]
family = "mlp"
hidden = [[], [2], [4], [8], [16]]

[[grid]]
family = "mlp"
hidden = [[4, 4], [8, 8]]

[[grid]]
family = "rnn"
hidden = [8, 16, 32]
layers = 1
window = 7

[[matched]]
budgets = [2500, 5000]
families = [{ family = "mlp", layers = 1 }, { family = "rnn", layers = 1, window = 7 }]
tolerance = 0.05

[[compare]]
a = "rnn-1"
b = "mlp-1"
at = ["params", "macs"]
headline = true

[[compare]]
a = "rnn-1"
b = "mlp-2"

[[compare]]
a = "rnn-1"
b = "mlp-0"
"""


def itermap(*args: object, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m itermap.cli ARGS` in a subprocess; fails the test with its stderr when it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "itermap.cli", *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"itermap {' '.join(map(str, args))} failed:\n{done.stderr}"
    return done


@pytest.fixture(scope="session")
def tiny_study(shared_data, tmp_path_factory) -> Path:
    """Folder of the tiny study after `itermap run` and `itermap report`."""
    env = {**os.environ, "ITERMAP_DATA_DIR": str(shared_data), "COLUMNS": "200"}
    folder = tmp_path_factory.mktemp("report") / "tiny-report"
    spec = folder.parent / "tiny-report.toml"
    spec.write_text(SPEC)
    itermap("run", spec, "--out", folder, "--device", "cpu", env=env)
    printed = itermap("report", folder, env=env).stdout
    assert str(folder / "report.html") in printed and str(folder / "summary.md") in printed
    return folder


@pytest.fixture(scope="session")
def tiny_study_5(tiny_study, shared_data) -> Path:
    """The tiny study copied and extended to seeds 0..4 (`itermap run --seeds 5` trains only the new seeds), reported."""
    env = {**os.environ, "ITERMAP_DATA_DIR": str(shared_data), "COLUMNS": "200"}
    folder = tiny_study.parent / "tiny-report-5"
    shutil.copytree(tiny_study, folder, ignore=shutil.ignore_patterns("figures", "*.html", "*.md"))
    itermap("run", tiny_study.parent / "tiny-report.toml", "--out", folder, "--seeds", 5, "--device", "cpu", env=env)
    itermap("report", folder, env=env)
    return folder

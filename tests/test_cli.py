"""The `itermap` command's surface: help on every command, presets, plan."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from itermap.cli import app

COMMANDS = ["presets", "plan", "run", "status", "export"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help(command):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.stdout


def test_main_help_in_a_subprocess():
    done = subprocess.run([sys.executable, "-m", "itermap.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert all(c in done.stdout for c in COMMANDS)


def test_presets_lists_the_shipped_presets():
    result = CliRunner().invoke(app, ["presets"])
    assert result.exit_code == 0
    assert "quick: 63 runs in 21 packs" in result.stdout
    assert "seed2020: 420 runs in 42 packs, 200 epochs" in result.stdout
    assert "batch size was not" in result.stdout and "matched:" in result.stdout


def test_plan_with_calibration(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('[study]\nname = "s"\n[data]\ndatasets = ["fashion-mnist-mini"]\n[train]\nepochs = 2\nseeds = 2\n'
                    '[[grid]]\nfamily = "mlp"\nhidden = [[4], [8]]\n[[grid]]\nfamily = "rnn"\nhidden = 4\n')  # fmt: skip
    result = CliRunner().invoke(app, ["plan", str(spec), "--device", "cpu"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert "s: 6 runs in 3 packs" in result.stdout
    assert "3,190" in result.stdout and "6,370" in result.stdout  # mlp-4 and mlp-8 parameter counts
    assert "estimated time on" in result.stdout

"""The `itermap` command's surface: help on every command, presets, plan, `python -m itermap`, --version, completion,
--json, the global -q and the ITERMAP_* defaults."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from itermap import cli
from itermap.cli import app
from itermap.study.plan import make_plan
from itermap.study.spec import load_spec, preset_names

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


def small_spec(tmp_path: Path, seeds: int) -> Path:
    """A spec file: MLP-1 of 4 and 8 units and an RNN 1x4 on the mini data, 2 epochs, `seeds` seeds."""
    spec = tmp_path / "s.toml"
    spec.write_text(
        '[study]\nname = "s"\n[data]\ndatasets = ["fashion-mnist-mini"]\n[train]\nepochs = 2\n'
        f'seeds = {seeds}\n[[grid]]\nfamily = "mlp"\nhidden = [[4], [8]]\n[[grid]]\nfamily = "rnn"\n'
        "hidden = 4\n"
    )
    return spec


def test_plan_with_calibration(tmp_path):
    spec = small_spec(tmp_path, seeds=2)
    result = CliRunner().invoke(app, ["plan", str(spec), "--device", "cpu"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert "s: 6 runs in 3 packs" in result.stdout
    assert "3,190" in result.stdout and "6,370" in result.stdout  # mlp-4 and mlp-8 parameter counts
    assert "estimated time on" in result.stdout


def test_plan_side_by_side_schedules_the_calibrated_packs(tmp_path):
    """`plan --concurrency 2`: the study's estimate is its calibrated packs scheduled two at a time in plan order
    (estimate.wall_seconds), said to be a lower bound; with --workers it is refused in one line."""
    from itermap.study.compose import packed
    from itermap.study.estimate import wall_seconds

    spec = small_spec(tmp_path, seeds=2)
    result = CliRunner().invoke(app, ["plan", str(spec), "--device", "cpu", "--json", "--concurrency", "2"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    seconds = {p["pack_id"]: p["estimated_seconds"] for p in document["packs"]}
    the_plan = packed(make_plan(load_spec(str(spec))), "cpu", "auto")
    assert sorted(seconds) == sorted(p.pack_id for p in the_plan.packs) and all(v > 0 for v in seconds.values())
    assert document["estimated_seconds"] == pytest.approx(wall_seconds(the_plan, seconds, 2))
    assert document["estimated_seconds"] < sum(seconds.values())  # 3 packs, 2 at a time
    text = CliRunner().invoke(app, ["plan", str(spec), "--device", "cpu", "--concurrency", "2"], env={"COLUMNS": "200"})
    assert "with 2 packs side by side (if they overlap fully: a lower bound)" in text.stdout
    refused = CliRunner().invoke(app, ["plan", str(spec), "--concurrency", "2", "--workers", "2"])
    assert refused.exit_code == 2 and "leave out --workers" in refused.stderr


def itermap_module(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m itermap ARGS` in a subprocess."""
    return subprocess.run([sys.executable, "-m", "itermap", *args], capture_output=True, text=True, timeout=60, env=env)


def test_python_m_itermap_version_is_the_installed_distributions():
    done = itermap_module("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"itermap {importlib.metadata.version('itermap')}"


def test_shell_completion_is_enabled():
    done = itermap_module("--show-completion", "bash")
    assert done.returncode == 0, done.stderr
    assert "_ITERMAP_COMPLETE=complete_bash" in done.stdout and "complete -o default -F" in done.stdout


def test_plan_json_names_every_run(tmp_path):
    spec = small_spec(tmp_path, seeds=3)
    result = CliRunner().invoke(app, ["plan", str(spec), "--json", "--no-calibrate"], env={"ITERMAP_DEVICE": "cpu"})
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    planned = make_plan(load_spec(str(spec)))
    assert sorted(r["run_id"] for r in document["runs"]) == sorted(r.run_id for r in planned.runs)
    assert {(r["arch"], r["seed"], r["params"]) for r in document["runs"]} == {
        (a, s, p) for a, p in (("mlp-4", 3190), ("mlp-8", 6370), ("rnn-1x4", 410)) for s in range(3)
    }
    assert document["device"] == "cpu" and document["estimated_seconds"] is None and len(document["packs"]) == 3


def test_plan_for_a_gpu_this_machine_lacks(monkeypatch):
    """`plan formal --device cuda` without a GPU: packed as a GPU run packs it (whole families join), its
    multiply-adds said, its time and memory left unestimated, exit 0; the multiply-adds equal the plan's own sum."""
    from itermap.study.compose import packed
    from itermap.study.estimate import pack_macs

    monkeypatch.setattr(cli.console, "width", 200)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    result = CliRunner().invoke(app, ["plan", "formal", "--device", "cuda"])
    assert result.exit_code == 0, result.stderr
    the_plan = packed(make_plan(load_spec("formal")), "cuda", "auto")
    macs = sum(pack_macs(p) for p in the_plan.packs)
    said = f"formal: {len(the_plan.runs)} runs in {len(the_plan.packs)} packs, {macs:.2g} multiply-adds of training"
    assert said in result.stdout and len(the_plan.packs) < len(
        packed(make_plan(load_spec("formal")), "cpu", "auto").packs
    )
    assert "--device cuda: no CUDA device here; packed for it, its time and memory not estimated" in result.stdout


def test_verbose_plan_lists_every_run(tmp_path, monkeypatch):
    monkeypatch.setattr(cli.console, "width", 200)
    spec = tmp_path / "s.toml"
    spec.write_text(
        '[study]\nname = "s"\n[data]\ndatasets = ["fashion-mnist-mini"]\n[train]\nseeds = 2\n'
        '[[grid]]\nfamily = "mlp"\nhidden = [[4], [8]]\n'
    )
    ids = [r.run_id for r in make_plan(load_spec(str(spec))).runs]
    plain, verbose = (
        CliRunner().invoke(app, [*v, "plan", str(spec), "--no-calibrate", "--device", "cpu"]) for v in ([], ["-v"])
    )
    assert plain.exit_code == verbose.exit_code == 0
    assert len(ids) == 4 and all(i in verbose.stdout and i not in plain.stdout for i in ids)


def test_presets_json_matches_the_plans():
    result = CliRunner().invoke(app, ["presets", "--json"])
    assert result.exit_code == 0, result.stderr
    found = {p["name"]: p for p in json.loads(result.stdout)}
    assert set(found) == set(preset_names())
    assert (found["quick"]["runs"], found["quick"]["packs"]) == (63, 21)


def test_quiet_run_from_environment_defaults_then_status_json(tmp_path, shared_data, monkeypatch):
    monkeypatch.setattr(cli.console, "width", 1000)  # long temporary paths on one line
    spec = tmp_path / "t.toml"
    spec.write_text(
        '[study]\nname = "t"\n[data]\ndatasets = ["fashion-mnist-mini"]\nlimit_train = 100\n'
        'limit_test = 50\n[train]\nepochs = 1\nseeds = 2\n[[grid]]\nfamily = "mlp"\nhidden = [[4]]\n'
    )
    env = {"ITERMAP_DATA_DIR": str(shared_data), "ITERMAP_DEVICE": "cpu", "ITERMAP_WORKERS": "0"}
    refused = CliRunner().invoke(app, ["run", str(spec), "--out", str(tmp_path / "t")], env=env)
    assert refused.exit_code == 2 and "--workers" in refused.stderr  # ITERMAP_WORKERS is read (0 is below the minimum)
    env["ITERMAP_WORKERS"] = "1"
    result = CliRunner().invoke(app, ["-q", "run", str(spec), "--out", str(tmp_path / "t")], env=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"results: {tmp_path / 't' / 'results.sqlite'}",
        f"report:  itermap report {tmp_path / 't'}",
    ]
    status = CliRunner().invoke(app, ["status", str(tmp_path / "t"), "--json"])
    document = json.loads(status.stdout)
    assert document["complete"] and document["counts"]["done"] == document["runs"] == 2
    assert document["device"] == "cpu" and document["study"] == "t"


PILOT = """[study]
name = "pilot"
[data]
datasets = ["fashion-mnist-mini"]
limit_train = 300
limit_test = 200
[train]
epochs = 2
lr = 0.01
seeds = 5
[[grid]]
family = "mlp"
hidden = [[4], [16]]
[[grid]]
family = "rnn"
hidden = [32, 64]
[[compare]]
a = "rnn-1"
b = "mlp-1"
headline = true
"""


def test_plan_effect_gives_the_seeds_each_declared_pair_needs_from_a_real_pilot(tmp_path, shared_data, monkeypatch):
    """A 5-seed pilot trained by `itermap run`; `plan --effect 3 --pilot` in a subprocess, against power.seeds_needed
    on the pilot's paired spread at each shared size, at Holm's first-step alpha."""
    import itermap
    from itermap.analysis.power import seeds_needed

    spec, out = tmp_path / "pilot.toml", tmp_path / "pilot"
    spec.write_text(PILOT)
    env = {**os.environ, "ITERMAP_DATA_DIR": str(shared_data), "ITERMAP_DEVICE": "cpu", "COLUMNS": "200"}
    trained = itermap_module("-q", "run", str(spec), "--out", str(out), env=env)
    assert trained.returncode == 0, trained.stderr
    done = itermap_module("plan", str(spec), "--effect", "3", "--pilot", str(out), "--json", env=env)
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    cmp = itermap.analyze(out).table("budgets", "comparisons")
    assert len(cmp) == row["sizes"] >= 2 and row["seeds"] == 5 and (row["a"], row["b"]) == ("rnn-1", "mlp-1")
    want = max(seeds_needed(0.03, sd, alpha=0.05 / k) for sd, k in zip(cmp["sd_diff"], cmp["family_size"]))
    assert row["needed"] == want and row["sd_diff"] == pytest.approx(cmp["sd_diff"].max())
    monkeypatch.setattr(cli.console, "width", 200)
    shown = CliRunner().invoke(app, ["plan", str(spec), "--effect", "3", "--pilot", str(out)])
    assert shown.exit_code == 0 and f"│ {want}" in shown.stdout and "seeds for 3" in shown.stdout
    unrecorded = CliRunner().invoke(app, ["plan", str(spec), "--effect", "3"])
    assert unrecorded.exit_code == 2 and "pass --pilot" in unrecorded.stderr
    assert len(unrecorded.stderr.strip().splitlines()) == 1

"""Malformed specs: one line naming the file, the key and what is allowed; exit code 2; no traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from itermap.cli import app
from itermap.study.spec import preset_names

GOOD = {
    "study": '[study]\nname = "bad"\n',
    "data": '[data]\ndatasets = ["fashion-mnist-mini"]\n',
    "train": "[train]\nepochs = 1\n",
    "grid": '[[grid]]\nfamily = "mlp"\nhidden = [[4]]\n',
}


def spec(**tables: str) -> str:
    """The good spec with some tables replaced ('' drops one)."""
    return "\n".join({**GOOD, **tables}.values())


# (name, spec text, fragments the one-line message must contain)
CASES = [
    (
        "unknown-key",
        spec(train="[train]\nepochs = 1\nlearning_rate = 0.1\n"),
        ["train.learning_rate", "unknown key", "lr"],
    ),
    ("unknown-table", spec() + "[optimizer]\nname = 'sgd'\n", ["optimizer", "unknown key", "study, data, train"]),
    ("wrong-type", spec(train='[train]\nbatch_size = "big"\n'), ["train.batch_size", "valid integer", "'big'"]),
    ("empty-grid-list", spec(grid='[[grid]]\nfamily = "rnn"\nhidden = []\n'), ["grid[0].hidden", "empty list"]),
    ("no-grid", spec(grid=""), ["no runs", "[[grid]]"]),
    (
        "unknown-dataset",
        spec(data='[data]\ndatasets = ["cifar10"]\n'),
        ["data.datasets", "cifar10", "fashion-mnist-mini"],
    ),
    ("no-datasets", spec(data="[data]\ndatasets = []\n"), ["data.datasets", "at least 1"]),
    ("unknown-family", spec(grid='[[grid]]\nfamily = "cnn"\nhidden = 4\n'), ["grid[0].family", "cnn", "mlp, rnn"]),
    ("zero-width", spec(grid='[[grid]]\nfamily = "mlp"\nhidden = [[4], [0]]\n'), ["grid[0].hidden", "greater than 0"]),
    (
        "zero-layers",
        spec(grid='[[grid]]\nfamily = "mlp"\nhidden = [[4]]\n[[grid]]\nfamily = "rnn"\nhidden = 4\nlayers = [1, 0]\n'),
        ["grid[1].layers", "greater than 0"],
    ),
    (
        "mlp-hidden-flat",
        spec(grid='[[grid]]\nfamily = "mlp"\nhidden = [64, 64]\n'),
        ["grid[0].hidden", "list of lists"],
    ),
    ("bad-toml", spec() + "[train\n", ["invalid TOML", "line"]),
    ("negative-lr", spec(train="[train]\nlr = -0.001\n"), ["train.lr", "greater than 0", "-0.001"]),
    (
        "unknown-data-order",
        spec(train='[train]\ndata_order = "random"\n'),
        ["train.data_order", "'per-seed' or 'shared'"],
    ),
    ("zero-seeds", spec(train="[train]\nseeds = 0\n"), ["train.seeds", "number of seeds >= 1"]),
    ("duplicate-seeds", spec(train="[train]\nseeds = [1, 1]\n"), ["train.seeds", "distinct"]),
    (
        "empty-budgets",
        spec(grid='[[matched]]\nbudgets = []\nfamilies = [{ family = "rnn" }]\n'),
        ["matched[0].budgets", "at least 1"],
    ),
    (
        "tolerance-range",
        spec(grid='[[matched]]\nbudgets = [1000]\nfamilies = [{ family = "rnn" }]\ntolerance = 1.5\n'),
        ["matched[0].tolerance", "less than 1"],
    ),
    (
        "matched-width-given",
        spec(grid='[[matched]]\nbudgets = [1000]\nfamilies = [{ family = "rnn", hidden = 8 }]\n'),
        ["matched[0].families[0].hidden", "solved from the budget"],
    ),
    (
        "matched-mlp-no-layers",
        spec(grid='[[matched]]\nbudgets = [1000]\nfamilies = [{ family = "mlp", layers = 0 }]\n'),
        ["matched[0].families[0].layers", ">= 1"],
    ),
    (
        "window-too-wide",
        spec(grid='[[grid]]\nfamily = "rnn"\nhidden = 4\nwindow = 30\n'),
        ["grid[0]", "window width", "28"],
    ),
    (
        "image-from-data",
        spec(grid='[[grid]]\nfamily = "mlp"\nimage = [14, 14]\n'),
        ["grid[0].image", "set by the data set"],
    ),
    (
        "grid-train-unknown",
        spec(grid='[[grid]]\nfamily = "mlp"\nhidden = [[4]]\n[grid.train]\nrate = 0.1\n'),
        ["grid[0].train.rate", "unknown key", "lr"],
    ),
    (
        "grid-train-bad-value",
        spec(grid='[[grid]]\nfamily = "mlp"\nhidden = [[4]]\n[grid.train]\nlr = [1e-3, -1]\n'),
        ["grid[0].train.lr", "greater than 0"],
    ),
    (
        "grid-train-seeds",
        spec(grid='[[grid]]\nfamily = "mlp"\nhidden = [[4]]\n[grid.train]\nseeds = 5\n'),
        ["grid[0].train.seeds", "whole study", "[train]"],
    ),
    (
        "loss-needs-steps",
        spec(train='[train]\nloss = "every-step"\n'),
        ["grid[0]", "'every-step' needs per-step logits", "'mlp'", 'loss = "last"'],
    ),
    ("unknown-loss", spec(train='[train]\nloss = "sum"\n'), ["train.loss", "unknown loss 'sum'", "every-step"]),
    (
        "compare-unknown-group",
        spec() + '[[compare]]\na = "rnn-1"\nb = "mlp-1"\n',
        ["compare[0].a", "no group 'rnn-1'", "mlp-1"],
    ),
    (
        "compare-bad-at",
        spec() + '[[compare]]\na = "mlp-1"\nb = "mlp-1"\nat = "flops"\n',
        ["compare[0].at", "params", "macs"],
    ),
    (
        "matched-no-width",
        spec(grid='[[matched]]\nbudgets = [1000]\nfamilies = [{ family = "itermap" }]\n'),
        ["matched[0].families[0].family", "no width to solve"],
    ),
    (
        "matched-out-of-reach",
        spec(grid='[[matched]]\nbudgets = [10, 20]\nfamilies = [{ family = "mlp", layers = 1 }]\n'),
        ["no runs: mlp-1 cannot reach 10 parameters", "; mlp-1 cannot reach 20 parameters"],
    ),
    (
        "data-dir-missing",
        spec(data='[data]\ndatasets = ["fashion-mnist-mini"]\ndata_dir = "nowhere"\n'),
        ["data.data_dir: not a folder", "nowhere"],
    ),
    (
        "data-dir-a-file",
        spec(data='[data]\ndatasets = ["fashion-mnist-mini"]\ndata_dir = "data-dir-a-file.toml"\n'),
        ["data.data_dir: not a folder", "data-dir-a-file.toml"],
    ),
    ("seed-too-large", spec(train="[train]\nseeds = [0, 9223372036854775808]\n"), ["train.seeds", "2**63 - 1"]),
    (
        "batch-too-large",
        spec(train="[train]\nbatch_size = 9223372036854775808\n"),
        ["train.batch_size", "less than 9223372036854775808"],
    ),
    (
        "negative-data-seed",
        spec(train='[train]\ndata_order = "shared"\ndata_seed = -1\n'),
        ["train.data_seed", "greater than or equal to 0"],
    ),
    (
        "model-too-large",
        spec(grid='[[grid]]\nfamily = "mlp"\nhidden = [[1000000000]]\n'),
        ["mlp-1000000000 has 795,000,000,010 parameters", "GiB", "fewer seeds"],
    ),
    (
        "sparse-fraction-too-large",
        spec(grid='[[grid]]\nfamily = "sparse"\nhidden = 40\nlayers = 1\nfraction = [0.1, 0.5]\n'),
        ["grid[0]: fraction 0.5 moves 15,880 weights, more than the 9,940 entries", "use more layers"],
    ),
    (
        "matched-axis-unknown",
        spec(
            grid='[[matched]]\nbudgets = [2400]\nfamilies = [{ family = "rnn", window = [3, 28], axis = "diagonal" }]\n'
        ),
        ["matched[0].families[0].axis", "'columns' or 'rows'"],
    ),
    ("missing-study", spec(study=""), ["study", "missing"]),
    ("bad-study-name", spec(study='[study]\nname = "../x"\n'), ["study.name", "pattern"]),
]
SUBPROCESS = {"unknown-key", "bad-toml", "unknown-dataset", "window-too-wide", "zero-seeds"}


def check(code: int, stderr: str, path, fragments: list[str]) -> None:
    assert code == 2, stderr
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}:"), stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.mark.parametrize("name, text, fragments", CASES, ids=[c[0] for c in CASES])
def test_malformed_spec(name, text, fragments, tmp_path, cli):
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    if name in SUBPROCESS:  # a real process: exit code and stderr as a shell sees them
        done = cli("plan", path, "--no-calibrate")
        check(done.returncode, done.stderr, path, fragments)
    else:
        result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
        check(result.exit_code, result.stderr, path, fragments)
        assert not (tmp_path / "out").exists(), "nothing is created for a malformed spec"


def test_missing_file(cli, tmp_path):
    done = cli("run", tmp_path / "nope.toml")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"error: {tmp_path / 'nope.toml'}: no such file"


# name: (command line, {tmp} the test's folder; the message, which starts stderr when it is an "error: " line)
COMMAND_LINES = {
    "unknown-preset": (["plan", "quik"], f"presets: {', '.join(preset_names())}"),
    "bad-override": (
        ["plan", "quick", "--datasets", "mnist,svhn", "--no-calibrate"],
        "error: command line: data.datasets: unknown data set 'svhn'",
    ),
    "status-without-study": (["status", "{tmp}"], "no results.sqlite"),
    "spec-a-folder": (["run", "{tmp}", "--out", "{tmp}/out"], "error: {tmp}: a folder; give a spec's TOML file"),
    "spec-a-device": (
        ["run", "/dev/null", "--out", "{tmp}/out"],
        "error: /dev/null: not a regular file; give a spec's TOML file",
    ),
}


@pytest.mark.parametrize("args, message", COMMAND_LINES.values(), ids=COMMAND_LINES.keys())
def test_bad_command_line(args, message, tmp_path):
    result, message = CliRunner().invoke(app, [a.format(tmp=tmp_path) for a in args]), message.format(tmp=tmp_path)
    starts = message.startswith("error: ")
    assert result.exit_code == 2 and (result.stderr.startswith(message) if starts else message in result.stderr)


def test_a_byte_order_mark_is_read_past(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_text("\ufeff" + spec(), encoding="utf-8")
    result = CliRunner().invoke(app, ["plan", str(path), "--no-calibrate"])
    assert result.exit_code == 0, result.stderr


def test_plan_refuses_a_model_that_cannot_fit(cli, tmp_path):
    path = tmp_path / "huge.toml"
    path.write_text(spec(grid='[[grid]]\nfamily = "mlp"\nhidden = [[1000000000]]\n'))
    done = cli("plan", path, "--device", "cpu")  # with calibration, which would allocate it
    check(done.returncode, done.stderr, path, ["mlp-1000000000 has 795,000,000,010 parameters", "GiB"])

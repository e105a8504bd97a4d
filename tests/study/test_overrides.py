"""`--set KEY=VALUE`: one key of a spec changed from the command line, validated exactly as the file is, and the
study it plans is the study of the edited file (the same run ids)."""

from __future__ import annotations

import pytest

from itermap.study.errors import SpecError
from itermap.study.plan import make_plan
from itermap.study.spec import load_spec

SPEC = """
[study]
name = "overrides"

[data]
datasets = ["fashion-mnist-mini"]
limit_train = 300

[train]
epochs = 2
lr = 1e-3
seeds = 2

[[grid]]
family = "mlp"
hidden = [[4], [8]]

[[grid]]
family = "rnn"
hidden = [4]
window = 7
"""


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "overrides.toml"
    path.write_text(SPEC)
    return path


def test_sets_change_the_document_before_validation(spec_file):
    spec = load_spec(spec_file, ["train.lr=3e-4", 'data.datasets=["mnist"]', "grid[1].hidden=[8, 16]",
                                 "train.loss=every-step", "grid[0].activation=relu"])  # fmt: skip
    assert spec.train.lr == 3e-4 and spec.data.datasets == ["mnist"] and spec.train.loss == "every-step"
    assert spec.grid[1]["hidden"] == [8, 16] and spec.grid[0]["activation"] == "relu"
    assert "lr = 0.0003" in spec.to_toml()  # what study.toml records


def test_a_set_plans_the_runs_of_the_edited_file(spec_file, tmp_path):
    edited = tmp_path / "edited.toml"
    edited.write_text(SPEC.replace("lr = 1e-3", "lr = 3e-4").replace("hidden = [4]\n", "hidden = [4, 16]\n"))
    ids = lambda spec: sorted(r.run_id for r in make_plan(spec).runs)  # noqa: E731
    assert ids(load_spec(spec_file, ["train.lr=3e-4", "grid[1].hidden=[4, 16]"])) == ids(load_spec(edited))
    assert ids(load_spec(spec_file, ["train.lr=3e-4"])) != ids(load_spec(spec_file))


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("train.lrr=1", "with --set train.lrr=1: train.lrr: unknown key; allowed: epochs"),
        ("train.lr=fast", "train.lr: Input should be a valid number"),
        ("grid[2].hidden=[8]", "--set grid[2].hidden=[8]: the spec has 2 [[grid]] tables (0 to 1)"),
        ("compare[0].a=rnn-1", "--set compare[0].a=rnn-1: the spec has 0 [[compare]] tables"),
        ("train.lr.x=1", "--set train.lr.x=1: train.lr is a value, not a table"),
        ("train.lr", "--set train.lr: give KEY=VALUE with a dotted KEY"),
        ("train lr=1", "--set train lr=1: give KEY=VALUE"),
        ('data.datasets=["nope"]', "data.datasets"),
    ],
)
def test_bad_sets_name_the_problem(spec_file, assignment, message):
    with pytest.raises(SpecError) as e:
        load_spec(spec_file, [assignment])
    assert message in str(e.value) and "\n" not in str(e.value)


def test_the_file_own_mistakes_are_said_as_the_file_s(spec_file):
    spec_file.write_text(SPEC.replace("lr = 1e-3", "lr = -1"))
    with pytest.raises(SpecError, match=r"overrides\.toml: train\.lr"):
        load_spec(spec_file, ["train.epochs=1"])


def test_set_on_the_command_line(cli, spec_file, tmp_path):
    """A real `itermap run --set`: the study folder's study.toml holds the overridden value; a bad one exits 2."""
    out = tmp_path / "study"
    done = cli("-q", "run", str(spec_file), "--set", "train.epochs=1", "--set", "grid[0].hidden=[[4]]",
               "--out", str(out), "--device", "cpu")  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = (out / "study.toml").read_text()
    assert "epochs = 1" in text and "epochs = 2" not in text
    bad = cli("plan", str(spec_file), "--set", "train.lrr=1", "--no-calibrate")
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1

"""Distillation studies: a [teacher] trained first by the study, or a kept run of another study, and its students."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from itermap.analysis.results import load_results
from itermap.cli import app
from itermap.convert import load_run, scaled_test_split
from itermap.models import family_of
from itermap.study.errors import SpecError
from itermap.study.plan import make_plan
from itermap.study.runner import run_study
from itermap.study.spec import parse

# The reverse direction: an MLP teacher, RNN students trained on its logits or on the labels.
REVERSE = {
    "study": {"name": "reverse"},
    "data": {"datasets": ["fashion-mnist-mini"], "limit_train": 300, "limit_test": 100},
    "train": {"epochs": 1, "batch_size": 50, "lr": 3e-3, "seeds": 2, "keep_weights": True, "tau": 2.0, "alpha": 0.5},
    "teacher": {"family": "mlp", "hidden": [16], "train": {"epochs": 2}},
    "grid": [{"family": "rnn", "hidden": [4, 8], "window": 7, "train": {"loss": ["distill", "last"]}}],
}


@pytest.fixture(scope="module")
def reverse(tmp_path_factory):
    """The reverse study trained in-process: the MLP teacher first, then 8 RNN students."""
    return run_study(parse(REVERSE, "test"), tmp_path_factory.mktemp("reverse") / "study", device="cpu", quiet=True)


def test_teacher_trains_first_and_its_students_learn_from_it(reverse):
    plan = make_plan(parse(REVERSE, "test"))
    teacher_id = next(iter(plan.teachers))
    assert plan.packs[0].first.run_id == teacher_id and plan.packs[0].first.train.epochs == 2
    assert all(r.train.teacher == teacher_id for r in plan.runs[1:]) and len(plan.runs) == 9
    df = load_results(reverse)
    students = df[df["teacher"] == teacher_id]
    assert set(students["status"]) == {"done"} and students["run_id"].nunique() == 8
    assert {"agreement", "teacher_kl"} <= set(students["metric"])
    assert "agreement" not in set(df.loc[df["run_id"] == teacher_id, "metric"])
    # a student's stored agreement and KL, recomputed with plain torch from both kept weights
    t_cfg, t_params, run = load_run(reverse / "weights" / f"{teacher_id}.safetensors")
    images = scaled_test_split("fashion-mnist-mini", "standardize", torch.float32)[:100]
    t_module = family_of(t_cfg).to_torch(t_cfg, t_params)
    student_id = students.loc[students["loss"] == "distill", "run_id"].iloc[0]
    s_cfg, s_params, _ = load_run(reverse / "weights" / f"{student_id}.safetensors")
    s_module = family_of(s_cfg).to_torch(s_cfg, s_params)
    with torch.no_grad():
        t = t_module(images.flatten(1))
        s = s_module(images.transpose(1, 2).reshape(100, 4, 7 * 28))  # 4 windows of 7 columns, column-major
    p = torch.softmax(t.double(), 1)
    want = {
        "agreement": (s.argmax(1) == t.argmax(1)).double().mean().item(),
        "teacher_kl": (p * (p.log() - torch.log_softmax(s.double(), 1))).sum(1).mean().item(),
    }
    rows = students[(students["run_id"] == student_id) & (students["split"] == "test")]
    got = dict(zip(rows["metric"], rows["value"]))
    assert got["agreement"] == pytest.approx(want["agreement"], abs=1e-9)
    assert got["teacher_kl"] == pytest.approx(want["teacher_kl"], rel=1e-4)


def test_distill_a_kept_run_of_another_study(reverse, tmp_path):
    """`itermap distill SPEC --teacher DIR --run PREFIX`: the kept teacher copied in, the data set taken from it."""
    teacher_id = next(iter(make_plan(parse(REVERSE, "test")).teachers))
    spec = tmp_path / "students.toml"
    spec.write_text(
        '[study]\nname = "students"\n[data]\ndatasets = ["mnist"]\nlimit_train = 200\nlimit_test = 100\n'
        '[train]\nepochs = 1\nseeds = 1\n[[grid]]\nfamily = "mlp"\nhidden = [[4]]\ntrain = { loss = "distill" }\n'
    )
    out = tmp_path / "students"
    args = ["distill", str(spec), "--teacher", str(reverse), "--run", teacher_id[:6], "--out", str(out), "-q"]
    result = CliRunner().invoke(app, [*args, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert (out / "teacher" / f"{teacher_id}.safetensors").is_file()
    df = load_results(out)
    assert set(df["dataset"]) == {"fashion-mnist-mini"} and set(df["teacher"]) == {teacher_id}
    assert {"agreement", "teacher_kl"} <= set(df["metric"])


@pytest.mark.parametrize(
    "change,message",
    [
        ({"teacher": None}, "loss 'distill' trains on a teacher's logits: add a [teacher] table"),
        ({"teacher": {"study": "nowhere"}}, "teacher: give `study` and `run`"),
        (
            {"teacher": {"study": "nowhere", "run": "abc"}},
            "teacher: no kept weights in nowhere/weights match run 'abc'",
        ),
        ({"teacher": {"family": "mlp", "hidden": [4], "train": {"loss": "distill"}}}, "the teacher learns from labels"),
        ({"teacher": {"family": "mlp", "hidden": [4], "train": {"scaling": "unit"}}}, "teacher.train.scaling"),
        ({"teacher": {"family": "mlp", "width": 4}}, "teacher.width: unknown key"),
    ],
)
def test_bad_teacher_is_a_one_line_spec_error(change, message):
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make_plan(parse({**REVERSE, **change}, "test"))


def test_distill_command_needs_a_teacher(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('[study]\nname = "s"\n[data]\ndatasets = ["fashion-mnist-mini"]\n[[grid]]\nfamily = "mlp"\n')
    runner = CliRunner()
    no_teacher = runner.invoke(app, ["distill", str(spec)])
    assert (
        no_teacher.exit_code == 2
        and "no [teacher] table; give a kept run as --teacher DIR --run ID" in no_teacher.stderr
    )
    half = runner.invoke(app, ["distill", str(spec), "--teacher", str(tmp_path)])
    assert half.exit_code == 2 and "--teacher DIR --run ID (both)" in half.stderr


def test_plan_calibrates_a_student_pack():
    """`itermap plan` times a few steps of each family's packs: a distill student needs a (stand-in) teacher."""
    from itermap.study.estimate import calibrate
    from itermap.study.training import one_thread

    plan = make_plan(parse(REVERSE, "test"))
    student = next(p for p in plan.packs if p.first.train.loss == "distill")
    with one_thread():  # tiny matmuls: a second thread on a shared 2-core machine only spins
        assert calibrate(student, "cpu") > 0

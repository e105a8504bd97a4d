"""Which runs train together: the cost model's packs against the plan's packs of one configuration."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from itermap.cli import app
from itermap.models import MLPConfig, family_of
from itermap.study import compose
from itermap.study.compose import packed
from itermap.study.errors import StudyError
from itermap.study.plan import Pack, Run, make_plan
from itermap.study.spec import Spec, load_spec
from itermap.train import TrainConfig


def same_runs(a, b) -> bool:
    return sorted(r.run_id for r in a.runs) == sorted(r.run_id for r in b.runs)


def test_cpu_plans_keep_one_configuration_per_pack():
    plan = make_plan(load_spec("seed2020"))
    cpu = packed(plan, "cpu")
    assert [p.pack_id for p in cpu.packs] == [p.pack_id for p in plan.packs] and len(cpu.packs) == 42


@pytest.mark.parametrize(("device", "packing"), [("cuda", "auto"), ("cpu", "wide")])
def test_gpu_plans_join_every_width_and_both_data_sets(device, packing):
    plan = make_plan(load_spec("seed2020"))
    wide = packed(plan, device, packing)
    assert same_runs(wide, plan) and len({r.run_id for r in wide.runs}) == 420
    assert [p.label for p in wide.packs] == [
        "mlp-0 on mnist, fashion-mnist",
        "mlp-2, mlp-8, mlp-16, mlp-32, mlp-64 on mnist, fashion-mnist",
        "mlp-2-2, mlp-8-8, mlp-16-16, mlp-32-32, mlp-64-64 on mnist, fashion-mnist",
        "rnn-1x2, rnn-1x8, rnn-1x16, rnn-1x32, rnn-1x64 on mnist, fashion-mnist",
        "rnn-2x2, rnn-2x8, rnn-2x16, rnn-2x32, rnn-2x64 on mnist, fashion-mnist",
    ]
    assert [p.cfg.arch for p in wide.packs] == ["mlp-0", "mlp-64", "mlp-64-64", "rnn-1x64", "rnn-2x64"]
    assert [len(p.runs) for p in wide.packs] == [20, 100, 100, 100, 100]


def test_padding_joins_only_below_the_fixed_cost(monkeypatch):
    """Widths 2, 4 and 64, one seed: joining 4 to 2 pads mlp-2 by 1,588 multiply-adds; joining 64 then pads both by
    47,640 more. With a fixed cost worth 2,000 the first join pays and the second does not."""
    train = TrainConfig(epochs=1)
    packs = [Pack((Run("mnist", MLPConfig(hidden=[w]), train, 0),)) for w in (2, 4, 64)]
    macs = {w: family_of(MLPConfig(hidden=[w])).macs(MLPConfig(hidden=[w])) for w in (2, 4, 64)}
    assert macs[4] - macs[2] == 1588 and 2 * (macs[64] - macs[4]) == 95280
    monkeypatch.setitem(compose.FIXED_MACS, "cpu", 2000.0)
    joined = compose.compose(packs, "cpu")
    assert [[r.cfg.arch for r in p.runs] for p in joined] == [["mlp-2", "mlp-4"], ["mlp-64"]]
    monkeypatch.setitem(compose.FIXED_MACS, "cpu", 95280.0 + 1)
    assert len(compose.compose(packs, "cpu")) == 1


def test_only_what_can_share_a_pack_joins():
    """Other training settings, other depths, other windows and data sets of other sizes stay apart; a teacher the
    study trains stays alone, first, as it trains before its students."""
    spec = Spec.model_validate(
        {
            "study": {"name": "apart"},
            "data": {"datasets": ["fashion-mnist-mini", "mnist"]},
            "train": {"epochs": 1, "seeds": 2},
            "grid": [
                {"family": "mlp", "hidden": [[4], [8], [8, 8]], "train": {"lr": [1e-3, 1e-4]}},
                {"family": "rnn", "hidden": [4, 8], "window": [4, 7]},
            ],
        }
    )
    wide = packed(make_plan(spec), "cpu", "wide")
    each = ["mlp-4, mlp-8", "mlp-4, mlp-8", "mlp-8-8", "mlp-8-8", "rnn-1x4, rnn-1x8", "rnn-1x4, rnn-1x8"]
    assert [p.label for p in wide.packs] == [f"{a} on {d}" for d in ("fashion-mnist-mini", "mnist") for a in each]
    for p in wide.packs:
        assert len({(r.train.lr, r.cfg.padded(8).model_dump_json()) for r in p.runs}) == 1

    distill = make_plan(load_spec("distill-quick"))
    joined = packed(distill, "cuda")
    teacher = next(iter(distill.teachers))
    assert joined.packs[0].runs == distill.packs[0].runs and joined.packs[0].first.run_id == teacher
    assert all(teacher not in {r.run_id for r in p.runs} for p in joined.packs[1:]) and same_runs(joined, distill)


def test_packing_is_checked_and_shown_by_plan(tmp_path):
    with pytest.raises(StudyError, match="--packing 'tall': allowed: auto, configs, wide"):
        packed(make_plan(load_spec("quick")), "cpu", "tall")  # type: ignore[arg-type]
    spec = tmp_path / "s.toml"
    spec.write_text(
        '[study]\nname = "s"\n[data]\ndatasets = ["fashion-mnist-mini"]\n[train]\nepochs = 2\nseeds = 2\n'
        '[[grid]]\nfamily = "mlp"\nhidden = [[4], [8]]\n'
    )
    result = CliRunner().invoke(
        app, ["plan", str(spec), "--json", "--no-calibrate", "--device", "cpu", "--packing", "wide"]
    )
    assert result.exit_code == 0, result.stderr
    (pack,) = json.loads(result.stdout)["packs"]
    assert [(c["arch"], c["seeds"]) for c in pack["configurations"]] == [("mlp-4", [0, 1]), ("mlp-8", [0, 1])]
    refused = CliRunner().invoke(app, ["plan", str(spec), "--no-calibrate", "--packing", "tall"])
    assert refused.exit_code == 2 and "--packing 'tall'" in refused.stderr

"""A family defined here, registered with one call, goes through plan, training, store, load_results and the report."""

from __future__ import annotations

import types
from typing import Any, ClassVar, Literal

import pytest
import torch
from pydantic import PositiveInt

import itermap
from itermap.data import views
from itermap.models import FamilyConfig, register, unregister
from itermap.models.stacked import generator, init_linear, linear
from itermap.report import write_report
from itermap.study.plan import make_plan
from itermap.study.spec import parse


class ToyConfig(FamilyConfig):
    """A linear bottleneck: logits = W2 (W1 x + b1) + b2, `units` wide."""

    family: Literal["toy"] = "toy"
    units: PositiveInt

    size_fields: ClassVar[tuple[str, ...]] = ("units",)

    @property
    def arch(self) -> str:
        return f"toy-{self.units}"

    @property
    def width(self) -> int:
        return self.units

    @property
    def depth(self) -> int:
        return 1

    @classmethod
    def sized(cls, fields: dict[str, Any], width: int) -> dict[str, Any]:
        return {**fields, "units": width}


def _init(cfg, seed, dtype=torch.float32):
    gen, pixels = generator(seed), cfg.image[0] * cfg.image[1]
    w1, b1 = init_linear(gen, pixels, cfg.units, dtype)
    w2, b2 = init_linear(gen, cfg.units, cfg.classes, dtype)
    return {"w1": w1, "b1": b1, "w2": w2, "b2": b2}


def _to_torch(cfg, params):
    module = torch.nn.Sequential(torch.nn.Linear(*params["w1"].shape[::-1]), torch.nn.Linear(*params["w2"].shape[::-1]))
    with torch.no_grad():
        for lin, i in zip(module, "12"):
            lin.weight.copy_(params[f"w{i}"])
            lin.bias.copy_(params[f"b{i}"])
    return module


TOY = types.SimpleNamespace(
    Config=ToyConfig,
    view=lambda cfg, x: views.flat(x),
    init=_init,
    forward=lambda cfg, p, x: linear(linear(x, p["w1"], p["b1"]), p["w2"], p["b2"]),
    count_params=lambda cfg: (cfg.image[0] * cfg.image[1] + 1) * cfg.units + (cfg.units + 1) * cfg.classes,
    macs=lambda cfg: cfg.image[0] * cfg.image[1] * cfg.units + cfg.units * cfg.classes,
    to_torch=_to_torch,
)

SPEC = {
    "study": {"name": "toy"},
    "data": {"datasets": ["fashion-mnist-mini"], "limit_train": 300, "limit_test": 100},
    "train": {"epochs": 2, "batch_size": 50, "lr": 3e-3, "seeds": 2},
    "grid": [{"family": "toy", "units": [2, 6]}, {"family": "mlp", "hidden": [[2], [6]]}],
    "matched": [{"budgets": [3200], "families": [{"family": "toy"}], "tolerance": 0.05}],
    "compare": [{"a": "toy-1", "b": "mlp-1"}],
}


@pytest.fixture
def toy_family():
    register(TOY)
    yield TOY
    unregister("toy")


def test_a_family_needs_the_whole_contract():
    with pytest.raises(TypeError, match="needs macs"):
        register(types.SimpleNamespace(**{k: v for k, v in vars(TOY).items() if k != "macs"}))


def test_toy_family_end_to_end(toy_family, shared_data, tmp_path):
    plan = make_plan(parse(SPEC, "test"))
    solved = [r for r in plan.runs if r.budget]
    assert {r.cfg.arch for r in plan.runs} == {"toy-2", "toy-6", "toy-4", "mlp-2", "mlp-6"}
    assert solved and all(abs(r.param_count - 3200) <= 0.05 * 3200 for r in solved)

    folder = itermap.run_study(parse(SPEC, "test"), out=tmp_path / "toy", device="cpu", quiet=True)
    frame = itermap.load_results(folder)
    assert set(frame["group"]) == {"toy-1", "mlp-1"} and frame["run_id"].nunique() == len(plan.runs)
    toy = frame[frame["family"] == "toy"]
    assert set(toy["units"].dropna()) == {2, 4, 6} and set(toy["params"]) == {
        TOY.count_params(r.cfg) for r in solved
    } | {TOY.count_params(ToyConfig(units=u)) for u in (2, 6)}
    assert (frame.groupby("run_id")["epoch"].max() == 2).all()

    write_report(folder)
    summary = (folder / "summary.md").read_text()
    assert "| TOY-1 | toy-6 |" in summary
    assert (
        "TOY-1 above MLP-1 at" in summary  # the declared pair, described: too few seeds to infer
    )
    assert (folder / "figures" / "fashion-mnist-mini-test-accuracy.png").stat().st_size > 0

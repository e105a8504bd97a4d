"""A study's validation split: images held out of training, evaluated on the test schedule, recorded in the store and
disjoint from every batch a run trained on; without `[data] validation` nothing changes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import itermap
from itermap.convert import load_run
from itermap.data import load
from itermap.models import family_of
from itermap.study.errors import SpecError
from itermap.study.plan import make_plan
from itermap.study.spec import load_spec, parse
from itermap.study.store import Store
from itermap.study.training import PackData
from itermap.train import PackTrainer
from itermap.train.order import batches
from itermap.train.trainer import prepare

SPEC = {
    "study": {"name": "held"},
    "data": {"datasets": ["fashion-mnist-mini"], "limit_train": 300, "limit_test": 100, "validation": 60,
             "validation_seed": 5},
    "train": {"epochs": 3, "batch_size": 50, "lr": 3e-3, "seeds": 2, "eval_test_every": 2, "keep_weights": True},
    "grid": [{"family": "mlp", "hidden": [[6]]}],
}  # fmt: skip


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return itermap.run_study(parse(SPEC, "test"), out=tmp_path_factory.mktemp("held") / "s", device="cpu", quiet=True)


def test_held_out_images_are_recorded_and_no_batch_of_any_run_reads_them(study):
    with Store(study, readonly=True) as store:
        held = np.array(store.held_out()["fashion-mnist-mini"])
    assert len(held) == 60 and len(set(held)) == 60 and held.max() < 300
    rest = np.setdiff1d(np.arange(300), held)  # the store's word alone says which images trained
    plan = make_plan(parse(SPEC, "test"))
    images = load("fashion-mnist-mini").train_images[:300]
    for pack in plan.packs:  # rebuilt as the runner trains it
        run = pack.first
        trainer = PackTrainer(run.cfg, run.train, pack.seeds, PackData(None)(pack), "cpu")
        data = PackData(None)(pack)[0]
        assert torch.equal(trainer.x_train, prepare(run.cfg, run.train, images[rest], data, "cpu"))
        assert torch.equal(trainer.x_val, prepare(run.cfg, run.train, images[held], data, "cpu"))
        for epoch in range(1, run.train.epochs + 1):
            order = trainer.orders(epoch)  # [M, N]: each member's order into the images that remain
            trained = torch.cat(batches(order, run.train.batch_size), dim=-1)
            for member in trained:
                originals = rest[member.numpy()]
                assert not set(originals) & set(held)
                assert np.array_equal(np.sort(originals), rest)  # every remaining image, once an epoch


def test_validation_rows_follow_the_test_schedule_and_score_the_held_images(study):
    frame = itermap.load_results(study)
    epochs = lambda split: sorted(frame.loc[frame["split"] == split, "epoch"].unique())  # noqa: E731
    assert epochs("validation") == epochs("test") == [2, 3]
    with Store(study, readonly=True) as store:
        held = torch.tensor(store.held_out()["fashion-mnist-mini"])
    data = load("fashion-mnist-mini")
    for path in (study / "weights").glob("*.safetensors"):
        cfg, params, run = load_run(path)
        module = family_of(cfg).to_torch(cfg, params)  # the reference: torch.nn on the held images
        x = ((data.train_images[held].float() / 255 - data.mean) / data.std).flatten(1)
        expected = (module(x).argmax(1) == data.train_labels[held]).double().mean().item()
        rows = frame[(frame["run_id"] == path.stem) & (frame["split"] == "validation") & (frame["epoch"] == 3)]
        assert rows.set_index("metric").loc["accuracy", "value"] == pytest.approx(expected, abs=1e-12)


def test_without_the_key_nothing_changes_and_with_it_every_id_does():
    quick = load_spec("quick")
    assert "validation" not in quick.to_toml() and "analysis" not in quick.to_toml()
    base = make_plan(quick)
    held = quick.model_copy(update={"data": quick.data.model_copy(update={"validation": 600})})
    moved = make_plan(held)
    assert [r.validation for r in base.runs] == [None] * len(base.runs)
    assert not {r.run_id for r in base.runs} & {r.run_id for r in moved.runs}
    assert all(r.sizes == (5400, 1000) and r.config["validation"] == 600 for r in moved.runs)
    text = held.to_toml()
    assert "validation = 600" in text and "validation_seed = 0" in text


@pytest.mark.parametrize(
    ("validation", "message"),
    [(9, "hold out at least one image of each of fashion-mnist-mini's 10 classes"),
     (300, "fashion-mnist-mini has 300 training images (after limit_train); hold out fewer")],
)  # fmt: skip
def test_a_split_too_small_or_too_large_is_one_clear_line(validation, message):
    spec = parse({**SPEC, "data": {**SPEC["data"], "validation": validation}}, "spec.toml")
    with pytest.raises(SpecError, match=r"^spec.toml: data.validation = \d+: ") as caught:
        make_plan(spec)
    assert message in str(caught.value) and "\n" not in str(caught.value)

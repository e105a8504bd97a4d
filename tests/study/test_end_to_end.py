"""A tiny study through the real command line: every expected row lands in the store and in exports."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
from safetensors.torch import load_file

import itermap
from itermap.study.plan import make_plan
from itermap.study.spec import load_spec


def expected_keys(spec_path) -> set[tuple]:
    """(run_id, epoch, split, metric) the schedule promises: test every epoch, train every 2nd and at the end."""
    plan = make_plan(load_spec(spec_path))
    keys = set()
    for run in plan.runs:
        for epoch in range(1, run.train.epochs + 1):
            splits = ["test"] + (["train"] if epoch % 2 == 0 or epoch == run.train.epochs else [])
            keys |= {(run.run_id, epoch, s, m) for s in splits for m in ("accuracy", "cross_entropy")}
    return keys


def test_cli_end_to_end(tiny_spec, cli, metric_rows, tmp_path):
    spec = tiny_spec(epochs=3, keep_weights=True)
    out = tmp_path / "study"
    done = cli("run", spec, "--out", out, "--device", "cpu")
    assert done.returncode == 0, done.stderr
    assert f"itermap report {out}" in done.stdout
    assert "Traceback" not in done.stderr

    rows = metric_rows(out)
    want = expected_keys(spec)
    assert len(want) == 8 * (3 * 2 + 2 * 2)  # 2 families x 2 shapes x 2 seeds; 3 test + 2 train evaluations
    assert [r[:4] for r in rows] == sorted(want)  # all there, none twice
    assert all(0 <= v <= 1 for r in rows if r[3] == "accuracy" for v in [r[4]])

    with sqlite3.connect(out / "results.sqlite") as db:
        runs = db.execute("SELECT run_id, status, epochs_done, params, config, device FROM runs").fetchall()
        meta = dict(db.execute("SELECT key, value FROM meta"))
    assert {r[1] for r in runs} == {"done"} and {r[2] for r in runs} == {3} and {r[5] for r in runs} == {"cpu"}
    assert meta["study"] == "tiny" and "[[grid]]" in meta["spec"] and float(meta["wall_seconds"]) > 0
    assert not list((out / "checkpoints").glob("*")), "checkpoints of finished packs are removed"
    for run_id, _, _, params, config, _ in runs:
        weights = load_file(out / "weights" / f"{run_id}.safetensors")
        assert sum(t.numel() for t in weights.values()) == params
        assert json.loads(config)["seed"] in (0, 1)

    for fmt in ("csv", "parquet"):
        exported = cli("export", out, "--format", fmt)
        assert exported.returncode == 0, exported.stderr
        path = out / f"results.{fmt}"
        frame = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
        got = sorted(zip(frame.run_id, frame.epoch, frame.split, frame.metric, frame.value))
        assert [g[:4] for g in got] == [r[:4] for r in rows]
        if fmt == "parquet":
            assert [g[4] for g in got] == [r[4] for r in rows]
        else:  # CSV keeps 17 significant digits at most
            assert max(abs(g[4] - r[4]) for g, r in zip(got, rows)) < 1e-12

    frame = itermap.load_results(out)
    assert set(frame.group) == {"mlp-1", "mlp-2", "rnn-1", "rnn-2"}
    assert {"run_id", "arch", "params", "seed", "lr", "batch_size", "hidden", "layers", "window"} <= set(frame.columns)

    again = cli("run", spec, "--out", out)
    assert again.returncode == 0 and "already complete" in again.stdout
    assert metric_rows(out) == rows

    status = cli("status", out)
    assert status.returncode == 0 and "8 done" in status.stdout and "complete" in status.stdout

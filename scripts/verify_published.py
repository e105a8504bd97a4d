"""Check published GPU results by retraining a few of their configurations on the CPU for a few epochs.

    python scripts/verify_published.py RESULTS.parquet [--configs mlp-8 mlp-32-32 rnn-1x16 rnn-2x32]
        [--dataset mnist] [--seeds 10] [--epochs 3] [--out DIR]

RESULTS.parquet is a study exported by `itermap export --format parquet` (the tidy table of `itermap.load_results`),
trained elsewhere, e.g. on a GPU. A run's numbers depend only on its configuration, training settings and seed: its
init and data order come from its seed alone, and its pack changes only float rounding. So the same configurations
retrained here with itermap's own API (`run_study`), with the study's training settings read from the file's columns
(batch size, lr, optimizer, data order and seed, scaling, dtype, evaluation schedule, loss) and the same seeds
0..N-1, must reach the published test accuracy at each epoch up to float rounding. The settings read back are checked
first: at the published epochs they must plan exactly the published run ids (a hash of every setting). The retraining
stops early by setting `epochs` = N: nothing in training depends on `epochs` (no schedule; it only makes the last
epoch also evaluate the train split).

Rounding makes single runs drift apart, so a run is not expected to match exactly; what must hold is that the
differences (here minus published) have no systematic part. Per configuration the script reports the largest
|difference| in test accuracy over seeds and the mean difference against 3 standard errors over seeds, and exits 1
when any mean lies outside them (or when a configuration cannot be compared). Per-seed differences of test accuracy
and cross-entropy are written to DIR/verify_published.csv. Test cross-entropy on the CPU is expected to sit about
1e-6 nats above CUDA's: PyTorch's CPU fused Adam rounds beta2 and 1 - beta2 to float32 separately (their sum exceeds 1
by 1.3e-8), so its steps are a few 1e-6 smaller than those of the CUDA kernel, which uses the double coefficients.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pandas as pd

import itermap
from itermap.analysis.results import file_runs
from itermap.models import FAMILIES
from itermap.study.plan import make_plan
from itermap.study.runner import cores_given
from itermap.study.spec import parse
from itermap.train import TrainConfig

KEYS = ["arch", "seed", "metric"]
NOT_SETTINGS = ("epochs", "teacher")  # set here, or a distillation (not supported)


def decoded(frame: pd.DataFrame) -> list[dict]:
    """Each run of a tidy table: its run columns and config fields as Python values (`file_runs`)."""
    return [stored | config for stored, _, config in file_runs(frame)]


def one_value(runs: list[dict], field: str):
    """The one value a field takes over `runs` (None when absent or empty); several is an error."""
    values = {json.dumps(r.get(field)) for r in runs} - {"null"}
    if len(values) > 1:
        sys.exit(f"{field}: the published runs differ ({', '.join(sorted(values))}); compare one setting at a time")
    return json.loads(values.pop()) if values else None


def make_spec(runs: list[dict], dataset: str, seeds: int, epochs: int):
    """A spec that retrains the published runs' configurations with their training settings, for `epochs`."""
    if one_value(runs, "teacher") is not None:
        sys.exit("the published runs are distilled from a teacher; this check retrains runs that learn from labels")
    settings = {f: one_value(runs, f) for f in TrainConfig.model_fields if f not in NOT_SETTINGS}
    grid = []
    for run in {r["arch"]: r for r in runs}.values():
        fields = set(FAMILIES[run["family"]].Config.model_fields) - {"family", "image", "classes"}
        values = {f: run.get(f) for f in sorted(fields)}
        grid.append({"family": run["family"]} | {f: [v] for f, v in values.items() if v is not None})  # one config
    limits = {f: one_value(runs, f) for f in ("limit_train", "limit_test")}
    doc = {
        "study": {"name": f"verify-{one_value(runs, 'study') or 'published'}"},
        "data": {"datasets": [dataset]} | {k: v for k, v in limits.items() if v is not None},
        "train": {k: v for k, v in settings.items() if v is not None} | {"epochs": epochs, "seeds": seeds},
        "grid": grid,
    }
    return parse(doc, "verify_published")


def planned_ids(spec) -> set[str]:
    """The run ids a spec plans: a hash of every setting, so with the published epochs they are the published ids
    exactly when the settings read back are the published ones."""
    return {run.run_id for run in make_plan(spec).runs}


def test_rows(frame: pd.DataFrame, epoch: int, metrics: list[str]) -> pd.DataFrame:
    """The model's test `metrics` at `epoch` (no per-step rows), with the run's params."""
    rows = frame[(frame["epoch"] == epoch) & (frame["split"] == "test") & frame["step"].isna()]
    rows = rows[rows["metric"].isin(metrics)]
    return rows[[*KEYS, "params", "value"]]


def summary(acc: pd.DataFrame, archs: list[str]) -> pd.DataFrame:
    """Per configuration: seeds, largest |difference|, mean difference, 3 standard errors (points), within."""
    rows = []
    for arch in archs:
        # Rounded far below one test example (1e-4 points per 1e6 examples): the devices spell k/n differently at
        # 1e-16 (CUDA divides by multiplying with 1/n), which is not a difference.
        diff = (100 * acc.loc[acc["arch"] == arch, "diff"]).round(9)
        se = diff.std(ddof=1) / math.sqrt(len(diff)) if len(diff) > 1 else math.nan
        within = abs(diff.mean()) < 3 * se or not diff.any()
        rows.append([arch, len(diff), diff.abs().max(), diff.mean(), 3 * se, within])
    return pd.DataFrame(rows, columns=["arch", "seeds", "max", "mean", "three_se", "within"])


def markdown(table: pd.DataFrame) -> str:
    head = "| arch | seeds | max \\|diff\\| (points) | mean diff (points) | 3 SE (points) | within |"
    lines = [head, "|---|---:|---:|---:|---:|---|"]
    for r in table.itertuples():
        within = "yes" if r.within else "**no**"
        lines.append(f"| {r.arch} | {r.seeds} | {r.max:.3f} | {r.mean + 0.0:+.3f} | {r.three_se:.3f} | {within} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path, help="the published study, `itermap export --format parquet`")
    parser.add_argument("--configs", nargs="+", default=["mlp-8", "mlp-32-32", "rnn-1x16", "rnn-2x32"])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--seeds", type=int, default=10, help="retrain seeds 0..N-1")
    parser.add_argument("--epochs", type=int, default=3, help="retrain this many epochs and compare at the last")
    parser.add_argument("--out", type=Path, default=Path("runs/verify-published"), help="the retrained study's folder")
    args = parser.parse_args()

    published = itermap.load_results(args.results)
    chosen = published[(published["dataset"] == args.dataset) & published["arch"].isin(args.configs)]
    chosen = chosen[chosen["seed"].isin(range(args.seeds))]
    missing = set(args.configs) - set(chosen["arch"])
    if missing:
        sys.exit(f"{args.results}: no {args.dataset} runs of {', '.join(sorted(missing))}")
    runs = decoded(chosen)
    if planned_ids(make_spec(runs, args.dataset, args.seeds, one_value(runs, "epochs"))) != {r["run_id"] for r in runs}:
        sys.exit("the settings read from the file do not plan the published run ids; the spec would train other runs")
    spec = make_spec(runs, args.dataset, args.seeds, args.epochs)
    folder = itermap.run_study(spec, out=args.out, device="cpu", workers=cores_given(), quiet=True)

    metrics = [m for m in ("accuracy", "cross_entropy") if m in set(chosen["metric"])]
    ours = test_rows(itermap.load_results(folder), args.epochs, metrics)
    both = test_rows(chosen, args.epochs, metrics).merge(
        ours, on=KEYS, how="outer", suffixes=("_published", "_here"), indicator=True
    )
    if not (both["_merge"] == "both").all() or not (both["params_published"] == both["params_here"]).all():
        print(both[(both["_merge"] != "both") | (both["params_published"] != both["params_here"])].to_string())
        sys.exit("the retrained runs do not match the published ones one to one (configuration, seed, parameters)")
    both["diff"] = both["value_here"] - both["value_published"]
    both = both.sort_values(["metric", "arch", "seed"])
    both[[*KEYS, "value_published", "value_here", "diff"]].to_csv(folder / "verify_published.csv", index=False)

    table = summary(both[both["metric"] == "accuracy"], args.configs)
    print(markdown(table))
    print()
    ce = both.loc[both["metric"] == "cross_entropy", "diff"].abs()
    ce_note = f"; largest |cross-entropy diff| {ce.max():.2g} nats" if len(ce) else ""
    outside = table.loc[~table["within"], "arch"].tolist()
    verdict = f"outside 3 SE: {', '.join(outside)}" if outside else "every mean difference within 3 SE"
    print(
        f"Test accuracy at epoch {args.epochs}, here (CPU) minus published, {args.dataset}: {verdict}{ce_note}; "
        f"per seed in {folder / 'verify_published.csv'}."
    )
    return 1 if outside else 0


if __name__ == "__main__":
    sys.exit(main())

"""Every number in summary.md, recomputed from results.sqlite with plain sqlite3, pandas, NumPy and SciPy.

The expected values follow docs/statistics.md step by step and use none of itermap's analysis code.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.interpolate import PchipInterpolator

from itermap.report import write_report

B = 9999
METRICS = [("test", "accuracy"), ("test", "cross_entropy"), ("train", "accuracy"), ("train", "cross_entropy")]


# ---- reading the database ------------------------------------------------------------------------------------


def database(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs with their group, final metric per finished run and split/metric) straight from SQLite."""
    with sqlite3.connect(folder / "results.sqlite") as db:
        runs = pd.read_sql_query(
            "SELECT run_id, arch, params, macs, seed, status, budget, diverged_epoch, config FROM runs", db
        )
        metrics = pd.read_sql_query("SELECT run_id, epoch, split, metric, value FROM metrics", db)
    model = runs["config"].map(lambda c: json.loads(c)["model"])
    runs["group"] = model.map(lambda m: f"mlp-{len(m['hidden'])}" if m["family"] == "mlp" else f"rnn-{m['layers']}")
    done = metrics[metrics["run_id"].isin(runs.loc[runs["status"] == "done", "run_id"])]
    last = done[done["epoch"] == done.groupby(["run_id", "split", "metric"])["epoch"].transform("max")]
    finals = last.merge(runs, on="run_id").sort_values(["params", "seed"])
    return runs, finals


def seed_values(finals: pd.DataFrame, arch: str, split: str = "test", metric: str = "accuracy") -> np.ndarray:
    rows = finals[(finals["arch"] == arch) & (finals["split"] == split) & (finals["metric"] == metric)]
    return rows.sort_values("seed")["value"].to_numpy()


# ---- formatting as documented ----------------------------------------------------------------------------------


def fmt(x: float, metric: str) -> str:
    return f"{100 * x:.2f}" if metric == "accuracy" else f"{x:.4f}"


def pts(x: float) -> str:
    return f"{100 * x:+.2f}"


def count(n: float) -> str:
    return f"{n:,.0f}"


def percentile_ci(data: tuple, statistic) -> tuple[float, float]:
    ci = stats.bootstrap(
        data, statistic, n_resamples=B, confidence_level=0.95, method="percentile", rng=np.random.default_rng(0)
    ).confidence_interval
    return ci.low, ci.high


# ---- reading summary.md ---------------------------------------------------------------------------------------


def sections(text: str) -> dict[str, list[dict[str, str]] | list[str]]:
    """'### Title' -> its table as row dicts, or its bullet lines."""
    out = {}
    for block in text.split("\n### ")[1:]:
        title, _, body = block.partition("\n")
        lines = [line for line in body.strip().splitlines() if line.strip() and not line.startswith("## ")]
        if lines and lines[0].startswith("|"):
            header = [c.strip() for c in lines[0].strip("|").split("|")]
            out[title] = [dict(zip(header, (c.strip() for c in line.strip("|").split("|")))) for line in lines[2:]]
        else:
            out[title] = [line.removeprefix("- ") for line in lines]
    return out


def numbers(sentence: str) -> list[float]:
    """Numbers in a verdict, after group names (RNN-1) and "95%" are taken out."""
    text = re.sub(r"\b(RNN|MLP)-\d+\b", "G", sentence).replace("95%", "")
    return [float(n.replace(",", "")) for n in re.findall(r"[-+]?\d[\d,]*\.?\d*", text)]


# ---- the checks -----------------------------------------------------------------------------------------------


def check_configurations(rows: list[dict], runs: pd.DataFrame, finals: pd.DataFrame) -> None:
    assert sorted(r["Architecture"] for r in rows) == sorted(runs["arch"].unique())
    for row in rows:
        mine = runs[runs["arch"] == row["Architecture"]]
        done = int((mine["status"] == "done").sum())
        assert row["Parameters"] == count(mine["params"].iloc[0])
        assert row["Seeds done"] == f"{done}/{len(mine)}"
        assert row["Diverged"] == str(int((mine["status"] == "diverged").sum()))
        for split, metric in METRICS:
            header = f"{split.capitalize()} {'accuracy (%)' if metric == 'accuracy' else 'cross-entropy'}"
            x = seed_values(finals, row["Architecture"], split, metric)
            if done == 0:
                assert row[header] == row[f"{header} CI"] == "missing"
                continue
            std = f" ± {fmt(x.std(ddof=1), metric)}" if len(x) > 1 else ""
            assert row[header] == fmt(x.mean(), metric) + std, (row["Architecture"], header)
            lo, hi = percentile_ci((x,), np.mean) if len(x) > 1 else (None, None)
            assert row[f"{header} CI"] == (f"[{fmt(lo, metric)}, {fmt(hi, metric)}]" if lo is not None else "n/a")


def curve_comparison(finals: pd.DataFrame, a: str, b: str, at: str = "params") -> pd.DataFrame:
    """The documented comparison of test accuracy at equal `at` (params, or macs: multiply-adds), recomputed."""
    test = finals[(finals["split"] == "test") & (finals["metric"] == "accuracy")]
    configs = {
        g: [
            (p, seed_values(finals, arch))
            for p, arch in test[test["group"] == g][[at, "arch"]].drop_duplicates().sort_values(at).to_numpy()
        ]
        for g in (a, b)
    }
    p = {g: np.array([c[0] for c in configs[g]], float) for g in (a, b)}
    means = {g: np.array([c[1].mean() for c in configs[g]]) for g in (a, b)}
    lo, hi = max(p[a].min(), p[b].min()), min(p[a].max(), p[b].max())
    budgets = np.array(sorted({x for g in (a, b) for x in p[g] if lo <= x <= hi}))
    curve = {g: PchipInterpolator(np.log10(p[g]), means[g]) for g in (a, b)}
    rng = np.random.default_rng(0)
    boot = {}
    for g in (a, b):
        resampled = np.stack([v[rng.integers(0, len(v), size=(B, len(v)))].mean(axis=1) for _, v in configs[g]])
        boot[g] = PchipInterpolator(np.log10(p[g]), resampled, axis=0)(np.log10(budgets))
    diffs = boot[a] - boot[b]
    rows = []
    for i, x in enumerate(budgets):
        va, vb = curve[a](np.log10(x)), curve[b](np.log10(x))
        roots = PchipInterpolator(np.log10(p[b]), means[b]).solve(float(va), extrapolate=False)
        if means[b].max() < va:
            need, bound = p[b][-1], ">"
        elif means[b][0] >= va:
            need, bound = p[b][0], "<"
        else:
            need, bound = 10 ** roots.min(), ""
        rows.append(
            {
                "params": x,
                "a": float(va),
                "b": float(vb),
                "diff": float(va - vb),
                "a_measured": x in p[a],
                "b_measured": x in p[b],
                "lo": np.percentile(diffs[i], 2.5),
                "hi": np.percentile(diffs[i], 97.5),
                "need": need,
                "bound": bound,
            }
        )
    return pd.DataFrame(rows)


def check_comparison(rows: list[dict], finals: pd.DataFrame, at: str = "params") -> dict[tuple[str, str], pd.DataFrame]:
    label = {"RNN-1": "rnn-1", "MLP-1": "mlp-1", "MLP-0": "mlp-0"}
    size, short = {"params": ("Parameters", "params"), "macs": ("MACs", "MACs")}[at]
    expected = {}
    for pair in dict.fromkeys((label[r["A"]], label[r["B"]]) for r in rows):
        got = [r for r in rows if (label[r["A"]], label[r["B"]]) == pair]
        want = expected[pair] = curve_comparison(finals, *pair, at)
        assert len(got) == len(want)
        for g, w in zip(got, want.itertuples()):
            assert g[size] == count(w.params)
            assert g["A test acc. (%)"] == fmt(w.a, "accuracy") + ("" if w.a_measured else "*")
            assert g["B test acc. (%)"] == fmt(w.b, "accuracy") + ("" if w.b_measured else "*")
            assert g["A - B (points)"] == pts(w.diff)
            assert g["95% CI (points)"] == f"[{pts(w.lo)}, {pts(w.hi)}]"
            assert g["CI excludes 0"] == ("yes" if w.lo > 0 or w.hi < 0 else "no")
            assert g[f"B {short} to match A"] == w.bound + count(w.need)
            assert g["Multiplier"] == f"{w.bound}{w.need / w.params:.2f}x"
    return expected


def check_matched(rows: list[dict], finals: pd.DataFrame) -> pd.DataFrame:
    test = finals[(finals["split"] == "test") & (finals["metric"] == "accuracy") & finals["budget"].notna()]
    want = []
    for budget, runs in test.groupby("budget"):
        x = runs[runs["group"] == "rnn-1"].sort_values("seed")["value"].to_numpy()
        y = runs[runs["group"] == "mlp-1"].sort_values("seed")["value"].to_numpy()
        diff = lambda u, v, axis=-1: u.mean(axis=axis) - v.mean(axis=axis)  # noqa: E731
        lo, hi = percentile_ci((x, y), diff)
        p = stats.permutation_test(
            (x, y), diff, permutation_type="independent", n_resamples=B, rng=np.random.default_rng(0)
        ).pvalue
        wins = sum((u > v) + 0.5 * (u == v) for u in x for v in y) / (len(x) * len(y))
        want.append(
            {
                "budget": budget,
                "x": x,
                "y": y,
                "lo": lo,
                "hi": hi,
                "p": p,
                "wins": wins,
                "a_params": runs.loc[runs["group"] == "rnn-1", "params"].iloc[0],
                "b_params": runs.loc[runs["group"] == "mlp-1", "params"].iloc[0],
            }
        )
    order = np.argsort([w["p"] for w in want])
    running = 0.0
    for rank, i in enumerate(order):  # Holm by hand
        running = max(running, (len(want) - rank) * want[i]["p"])
        want[i]["holm"] = min(running, 1.0)
    assert len(rows) == len(want)
    for g, w in zip(rows, want):
        assert (g["Budget"], g["A params"], g["B params"]) == (
            count(w["budget"]),
            count(w["a_params"]),
            count(w["b_params"]),
        )
        assert g["Seeds A/B"] == f"{len(w['x'])}/{len(w['y'])}"
        assert (g["A test acc. (%)"], g["B test acc. (%)"]) == (
            fmt(w["x"].mean(), "accuracy"),
            fmt(w["y"].mean(), "accuracy"),
        )
        assert g["A - B (points)"] == pts(w["x"].mean() - w["y"].mean())
        assert g["95% CI (points)"] == f"[{pts(w['lo'])}, {pts(w['hi'])}]"
        assert (g["p (permutation)"], g["p (Holm)"]) == (f"{w['p']:.4f}", f"{w['holm']:.4f}")
        assert g["P(A beats B)"] == f"{w['wins']:.2f}"
    return pd.DataFrame(want)


def check_verdicts(lines: list[str], curves: dict, matched: pd.DataFrame, equal_macs: dict) -> None:
    head = curves[("rnn-1", "mlp-1")]
    line = next(v for v in lines if "multiply-adds" in v)  # the equal-MACs verdict names its unit
    macs = equal_macs[("rnn-1", "mlp-1")]
    assert {macs["params"].min(), macs["params"].max()} <= set(numbers(line)), line
    sig = (head["lo"] > 0) | (head["hi"] < 0)
    top = head.loc[head["diff"].abs().idxmax()]
    allowed = {
        head["params"].min(),
        head["params"].max(),
        len(head),
        sig.sum(),
        (head["diff"] > 0).sum(),
        (head["diff"] < 0).sum(),
        (sig & (head["diff"] > 0)).sum(),
        round(100 * top["diff"], 1),
        top["params"],
        round(top["need"] / top["params"], 2),
        *head["params"],
    }
    got = numbers(lines[0])
    assert {head["params"].min(), head["params"].max(), round(100 * top["diff"], 1), top["params"]} <= set(got)
    assert set(got) <= allowed, lines[0]
    if len(matched):
        line = next(v for v in lines if v.startswith("Matched budgets"))
        gaps = matched["x"].map(np.mean) - matched["y"].map(np.mean)
        i = gaps.abs().idxmax()
        allowed = {
            matched["budget"].min(),
            matched["budget"].max(),
            (gaps > 0).sum(),
            len(matched),
            (matched["holm"] < 0.05).sum(),
            ((matched["holm"] < 0.05) & (gaps > 0)).sum(),
            round(100 * gaps[i], 1),
            matched["budget"][i],
            round(matched["wins"][i], 2),
        }
        assert set(numbers(line)) <= allowed and round(100 * gaps[i], 1) in numbers(line), line


def check_summary(folder: Path) -> None:
    runs, finals = database(folder)
    text = (folder / "summary.md").read_text()
    status = runs["status"].value_counts()
    missing = status.get("pending", 0) + status.get("running", 0)
    assert (
        f"Runs: {len(runs)} planned, {status.get('done', 0)} done, {status.get('diverged', 0)} diverged, "
        f"{missing} missing."
    ) in text
    found = sections(text)
    check_configurations(found["Configurations"], runs, finals)
    curves = check_comparison(found["Equal-parameter comparison of test accuracy (* interpolated)"], finals)
    macs = found["Equal-MACs comparison of test accuracy (multiply-adds per example; * interpolated)"]
    assert {(r["A"], r["B"]) for r in macs} == {("RNN-1", "MLP-1")}  # as the spec's [[compare]] declares
    equal_macs = check_comparison(macs, finals, "macs")
    matched = check_matched(found.get("Matched budgets: direct comparisons of test accuracy", []), finals)
    check_verdicts(found["Verdicts"], curves, matched, equal_macs)
    diverged = runs[runs["status"] == "diverged"]
    assert [(r["Architecture"], r["Seed"], r["Diverged at epoch"]) for r in found.get("Diverged runs", [])] == [
        (r.arch, str(r.seed), str(int(r.diverged_epoch))) for r in diverged.itertuples()
    ]


def test_summary_numbers_match_the_database(tiny_study):
    check_summary(tiny_study)
    figures = {p.name for p in (tiny_study / "figures").iterdir()}
    for stem in ("test-accuracy", "test-cross-entropy", "capacity", "efficiency", "difference", "learning-curves"):
        assert {f"fashion-mnist-mini-{stem}.png", f"fashion-mnist-mini-{stem}.svg"} <= figures


def test_partial_study_with_diverged_runs(tiny_study, tmp_path):
    """Runs set back to pending and one marked diverged: shown as missing and diverged, left out, numbers still right."""
    folder = tmp_path / "partial"
    shutil.copytree(tiny_study, folder, ignore=shutil.ignore_patterns("figures", "*.html", "*.md"))
    with sqlite3.connect(folder / "results.sqlite") as db:
        ids = lambda arch: [r for (r,) in db.execute("SELECT run_id FROM runs WHERE arch = ? ORDER BY seed", (arch,))]  # noqa: E731
        pending = ids("mlp-8") + ids("rnn-1x8")[1:2]
        diverged = ids("rnn-1x8")[0]
        db.executemany("UPDATE runs SET status = 'pending' WHERE run_id = ?", [(r,) for r in pending])
        db.executemany("DELETE FROM metrics WHERE run_id = ?", [(r,) for r in pending])
        db.execute("UPDATE runs SET status = 'diverged', diverged_epoch = 2 WHERE run_id = ?", (diverged,))
        db.execute("DELETE FROM metrics WHERE run_id = ? AND epoch = 2", (diverged,))
    write_report(folder)
    check_summary(folder)
    text = (folder / "summary.md").read_text()
    assert "Runs: 36 planned, 31 done, 1 diverged, 4 missing." in text and "**Partial study**" in text
    assert "| MLP-1 | mlp-8 | 6,370 | 0/3 | 0 | missing |" in text
    assert "| RNN-1 | rnn-1x8 | 1,738 | 1/3 | 1 |" in text
    assert "Partial study" in (folder / "report.html").read_text()


def test_report_is_identical_on_rerun(tiny_study, tmp_path):
    folder = tmp_path / "again"
    shutil.copytree(tiny_study, folder)
    write_report(folder)
    for name in ("summary.md", "report.html", "figures/fashion-mnist-mini-test-accuracy.svg"):
        assert (folder / name).read_bytes() == (tiny_study / name).read_bytes(), name


@pytest.mark.parametrize(
    "sentence, want",
    [("RNN-1 ahead of MLP-2 at 3 of 5 budgets from 1,600 to 10,250; +3.1 points", [3, 5, 1600, 10250, 3.1])],
)
def test_number_parser(sentence, want):
    assert numbers(sentence) == want

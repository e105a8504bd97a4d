"""Every number in summary.md, recomputed from results.sqlite with plain sqlite3, pandas, NumPy and SciPy.

The expected values follow docs/statistics.md step by step and use none of itermap's analysis code. Two studies: the
tiny study at 3 seeds (the descriptive path, as the `quick` preset: ranges, no inference) and the same study extended
to 5 seeds (t intervals, simultaneous bands, Holm, paired t, intervals of the multiplier and of P(improvement)).
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
MIN_SEEDS = 5
HEADLINE = {("rnn-1", "mlp-1")}  # as the spec declares
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


def t_interval(x: np.ndarray) -> tuple[float, float]:
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return x.mean() - half, x.mean() + half


def spread_text(x: np.ndarray, f) -> str:
    """The documented per-configuration interval: the t interval from 5 seeds, else the seeds' range."""
    if len(x) >= MIN_SEEDS:
        lo, hi = t_interval(x)
        return f"[{f(lo)}, {f(hi)}]"
    return f"range [{f(x.min())}, {f(x.max())}]"


def holm_by_hand(p: list[float]) -> list[float]:
    order, out, running = np.argsort(p), [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, (len(p) - rank) * p[i])
        out[i] = min(running, 1.0)
    return out


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
            out[title] = [line.removeprefix("- ") for line in lines if not line.startswith("**")]  # less titles
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
        done, diverged = int((mine["status"] == "done").sum()), int((mine["status"] == "diverged").sum())
        assert row["Parameters"] == count(mine["params"].iloc[0])
        assert row["Seeds done"] == f"{done}/{len(mine)}"
        ended = done + diverged
        rate = f"{diverged}/{ended}"
        if ended >= MIN_SEEDS:
            ci = stats.binomtest(diverged, ended).proportion_ci(method="exact")
            rate += f" ({100 * diverged / ended:.0f}% [{100 * ci.low:.0f}, {100 * ci.high:.0f}])"
        assert row["Diverged"] == rate
        for split, metric in METRICS:
            header = f"{split.capitalize()} {'accuracy (%)' if metric == 'accuracy' else 'cross-entropy'}"
            x = seed_values(finals, row["Architecture"], split, metric)
            if done == 0:
                assert row[header] == row[f"{header} CI or range"] == "missing"
                continue
            std = f" ± {fmt(x.std(ddof=1), metric)}" if len(x) > 1 else ""
            assert row[header] == fmt(x.mean(), metric) + std, (row["Architecture"], header)
            assert row[f"{header} CI or range"] == spread_text(x, lambda v, m=metric: fmt(v, m))
            if (split, metric) == ("test", "accuracy"):
                assert row["Test IQM (%)"] == fmt(stats.trim_mean(x, 0.25), metric)


def reach(params: np.ndarray, curves: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """First crossing of each column's PCHIP curve over its target, on a 4,001-point grid (linear between points):
    +inf when never reached, 0 when the smallest configuration is already there."""
    grid = np.linspace(np.log10(params[0]), np.log10(params[-1]), 4001)
    values = PchipInterpolator(np.log10(params), curves, axis=0)(grid)
    out = np.empty(len(targets))
    for j, t in enumerate(targets):
        hit = np.flatnonzero(values[:, j] >= t)
        if curves[0, j] > t:
            out[j] = 0.0
        elif not len(hit):
            out[j] = np.inf
        else:
            i = hit[0]
            g = np.interp(t, values[i - 1 : i + 1, j], grid[i - 1 : i + 1])
            out[j] = 10**g
    return out


def curve_comparison(finals: pd.DataFrame, a: str, b: str, at: str = "params") -> pd.DataFrame:
    """The documented comparison of test accuracy at equal `at` (params, or macs: multiply-adds), recomputed."""
    test = finals[(finals["split"] == "test") & (finals["metric"] == "accuracy")]
    configs = {}
    for g in (a, b):
        mine = test[test["group"] == g].sort_values([at, "seed"])
        configs[g] = [(p, rows["seed"].to_numpy(), rows["value"].to_numpy()) for p, rows in mine.groupby(at)]
    p = {g: np.array([c[0] for c in configs[g]], float) for g in (a, b)}
    means = {g: np.array([c[2].mean() for c in configs[g]]) for g in (a, b)}
    lo, hi = max(p[a].min(), p[b].min()), min(p[a].max(), p[b].max())
    budgets = np.array(sorted({x for g in (a, b) for x in p[g] if lo <= x <= hi}))
    curve = {g: PchipInterpolator(np.log10(p[g]), means[g]) for g in (a, b)}
    seed_sets = [c[1] for g in (a, b) for c in configs[g]]
    paired = len(seed_sets[0]) > 1 and all(np.array_equal(s, seed_sets[0]) for s in seed_sets)
    n = min(len(s) for s in seed_sets)
    rng = np.random.default_rng(0)
    shared = rng.integers(0, n, size=(B, n)) if paired else None
    boot, nodes = {}, {}
    for g in (a, b):
        resampled = np.stack(
            [v[shared if paired else rng.integers(0, len(v), size=(B, len(v)))].mean(axis=1) for _, _, v in configs[g]]
        )
        nodes[g] = resampled
        boot[g] = PchipInterpolator(np.log10(p[g]), resampled, axis=0)(np.log10(budgets))
        for i, x in enumerate(budgets):  # a measured size takes its own resampled means
            if x in p[g]:
                boot[g][i] = resampled[list(p[g]).index(x)]
    va = np.array([means[a][list(p[a]).index(x)] if x in p[a] else curve[a](np.log10(x)) for x in budgets])
    vb = np.array([means[b][list(p[b]).index(x)] if x in p[b] else curve[b](np.log10(x)) for x in budgets])
    diff = va - vb
    low = high = np.full(len(budgets), np.nan)
    pvalue = np.nan
    if n >= MIN_SEEDS:  # the simultaneous max-|t| band
        draws = boot[a] - boot[b]
        sd = draws.std(axis=1, ddof=1)
        t = np.max(
            np.abs(draws - diff[:, None]) / sd[:, None] / np.sqrt(rng.chisquare(n - 1, draws.shape) / (n - 1)), axis=0
        )
        se = sd * np.sqrt(n / (n - 1))
        low, high = diff - np.quantile(t, 0.95) * se, diff + np.quantile(t, 0.95) * se
        pvalue = np.mean(t >= np.max(np.abs(diff) / se))
    elif paired:
        per_seed = {g: PchipInterpolator(np.log10(p[g]), np.stack([c[2] for c in configs[g]]), axis=0) for g in (a, b)}
        d = per_seed[a](np.log10(budgets)) - per_seed[b](np.log10(budgets))
        low, high = d.min(axis=1), d.max(axis=1)
    rows = []
    for i, x in enumerate(budgets):
        roots = curve[b].solve(float(va[i]), extrapolate=False)
        if means[b].max() < va[i]:
            need, bound = p[b][-1], ">"
        elif means[b][0] >= va[i]:
            need, bound = p[b][0], "<"
        else:
            need, bound = 10 ** roots.min(), ""
        rows.append(
            {
                "params": x, "a": va[i], "b": vb[i], "diff": diff[i], "a_measured": x in p[a], "b_measured": x in p[b],
                "lo": low[i], "hi": high[i], "need": need, "bound": bound, "seeds": n, "paired": paired, "p": pvalue,
            }
        )  # fmt: skip
    out = pd.DataFrame(rows)
    if n >= MIN_SEEDS and len(p[b]) > 1:  # the multiplier's interval, from the same resamples
        out["ratios"] = [reach(p[b], nodes[b], boot[a][i]) / x for i, x in enumerate(budgets)]
    return out


def ratio_interval(ratios: np.ndarray, x: float, p_b: np.ndarray) -> tuple[tuple[float, str], tuple[float, str]]:
    """The multiplier's 2.5% and 97.5% order statistics, censored below at B's smallest and above at its largest."""
    ends = []
    for q, method in ((0.025, "lower"), (0.975, "higher")):
        v = np.quantile(ratios, q, method=method)
        ends.append((p_b.min() / x, "<") if v == 0 else (p_b.max() / x, ">") if np.isinf(v) else (v, ""))
    return ends[0], ends[1]


def parse_ratio(text: str) -> tuple[float, str]:
    bound = text[0] if text[0] in "<>" else ""
    return float(text.lstrip("<>").rstrip("x")), bound


def check_comparison(rows: list[dict], finals: pd.DataFrame, at: str = "params") -> dict[tuple[str, str], pd.DataFrame]:
    size, short = {"params": ("Parameters", "params"), "macs": ("MACs", "MACs")}[at]
    expected = {}
    for pair in dict.fromkeys((r["A"].lower(), r["B"].lower()) for r in rows):
        got = [r for r in rows if (r["A"].lower(), r["B"].lower()) == pair]
        want = expected[pair] = curve_comparison(finals, *pair, at)
        assert len(got) == len(want)
        for g, w in zip(got, want.itertuples()):
            assert g["Family"] == ("headline" if pair in HEADLINE else "exploratory")
            assert g[size] == count(w.params)
            assert g["Seeds"] == f"{w.seeds} {'paired' if w.paired else 'independent'}"
            assert g["A test acc. (%)"] == fmt(w.a, "accuracy") + ("" if w.a_measured else "*")
            assert g["B test acc. (%)"] == fmt(w.b, "accuracy") + ("" if w.b_measured else "*")
            assert g["A - B (points)"] == pts(w.diff)
            if w.seeds >= MIN_SEEDS:
                assert g["95% band or range (points)"] == f"[{pts(w.lo)}, {pts(w.hi)}]"
            elif w.paired:
                assert g["95% band or range (points)"] == f"range [{pts(w.lo)}, {pts(w.hi)}]"
                assert g["Band excludes 0 (after Holm)"] == f"n/a ({w.seeds} seeds)" and g["Holm p"] == "n/a"
            assert g[f"B {short} to match A"] == w.bound + count(w.need)
            assert g["Multiplier"] == f"{w.bound}{w.need / w.params:.2f}x"
            if w.seeds >= MIN_SEEDS:
                (lo, lo_bound), (hi, hi_bound) = ratio_interval(w.ratios, w.params, want_sizes(finals, pair[1], at))
                got_lo, got_hi = (parse_ratio(t) for t in g["Multiplier 95% interval"].split(" to "))
                assert (got_lo[1], got_hi[1]) == (lo_bound, hi_bound)
                assert got_lo[0] == pytest.approx(lo, abs=0.011) and got_hi[0] == pytest.approx(hi, abs=0.011)
            else:
                assert g["Multiplier 95% interval"] == "n/a"
    return expected


def want_sizes(finals: pd.DataFrame, group: str, at: str) -> np.ndarray:
    return np.sort(finals.loc[finals["group"] == group, at].unique().astype(float))


def add_holm(curves: dict[tuple[str, str, str], pd.DataFrame]) -> None:
    """Holm over each family's comparisons (headline or exploratory): a column `holm` on each comparison's frame."""
    for head in (True, False):
        keys = [k for k, c in curves.items() if ((k[0], k[1]) in HEADLINE) == head and c["seeds"].iloc[0] >= MIN_SEEDS]
        for k, adjusted in zip(keys, holm_by_hand([curves[k]["p"].iloc[0] for k in keys])):
            curves[k]["holm"] = adjusted
            curves[k]["family"] = len(keys)


def check_curve_verdict(line: str, want: pd.DataFrame, a: str, b: str) -> None:
    """The sentence: descriptive below 5 seeds; else "ahead" exactly over the stretches the band excludes zero in."""
    assert line.startswith("" if (a.lower(), b.lower()) in HEADLINE else "Exploratory: ")
    top = want.loc[want["diff"].abs().idxmax()]
    assert f"largest gap {100 * top['diff']:+.1f} points ({a} - {b}) at {count(top['params'])}" in line
    n = want["seeds"].iloc[0]
    if n < MIN_SEEDS:
        assert f"(means of {n} seeds, too few for intervals: descriptive only)" in line
        for word in ("CI", "band", "ahead", "significant", "clear difference", "excludes"):
            assert word not in line, (word, line)
        return
    assert f"{n} seeds, {'paired' if want['paired'].iloc[0] else 'independent'}" in line
    excl = (want["lo"] > 0) | (want["hi"] < 0)
    if not (want["holm"].iloc[0] < 0.05 and excl.any()):
        assert "No clear difference" in line and "ahead" not in line
        assert f"between {100 * want['lo'].min():+.1f} and {100 * want['hi'].max():+.1f} points" in line
        return
    stretches, current = [], None
    for x, e, d in zip(want["params"], excl, want["diff"]):
        s = np.sign(d) if e else 0
        if s and current and current[0] == s:
            current[2] = x
        elif s:
            current = [s, x, x]
            stretches.append(current)
        else:
            current = None
    for s, lo, hi in stretches:
        span = f"at {count(lo)}" if lo == hi else f"from {count(lo)} to {count(hi)}"
        assert f"{a if s > 0 else b} ahead of {b if s > 0 else a} {span}" in line, line
    assert line.count(" ahead of ") == len(stretches)
    assert f"Holm-adjusted p = {want['holm'].iloc[0]:.3f} over {want['family'].iloc[0]}" in line


def check_matched(rows: list[dict], finals: pd.DataFrame) -> pd.DataFrame:
    test = finals[(finals["split"] == "test") & (finals["metric"] == "accuracy") & finals["budget"].notna()]
    want = []
    for budget, runs in test.groupby("budget"):
        side = {g: runs[runs["group"] == g].set_index("seed")["value"].sort_index() for g in ("rnn-1", "mlp-1")}
        common = side["rnn-1"].index.intersection(side["mlp-1"].index)
        x, y = side["rnn-1"][common].to_numpy(), side["mlp-1"][common].to_numpy()
        wins = lambda u, v, axis=-1: np.mean(  # noqa: E731
            (np.moveaxis(u, axis, -1)[..., :, None] > np.moveaxis(v, axis, -1)[..., None, :])
            + 0.5 * (np.moveaxis(u, axis, -1)[..., :, None] == np.moveaxis(v, axis, -1)[..., None, :]),
            axis=(-2, -1),
        )
        poi = stats.bootstrap(
            (x, y), wins, paired=True, n_resamples=B, method="percentile", rng=np.random.default_rng(0)
        ).confidence_interval
        res = stats.ttest_rel(x, y)
        want.append(
            {
                "budget": budget, "x": x, "y": y, "ci": res.confidence_interval(), "p": res.pvalue,
                "wins": float(wins(x, y)), "poi": poi, "d": x - y,
                "a_params": runs.loc[runs["group"] == "rnn-1", "params"].iloc[0],
                "b_params": runs.loc[runs["group"] == "mlp-1", "params"].iloc[0],
            }
        )  # fmt: skip
    n = min(len(w["x"]) for w in want)
    for w, adjusted in zip(want, holm_by_hand([w["p"] for w in want])):
        w["holm"] = adjusted
    assert len(rows) == len(want)
    for g, w in zip(rows, want):
        assert (g["Family"], g["Budget"], g["A params"], g["B params"]) == (
            "headline", count(w["budget"]), count(w["a_params"]), count(w["b_params"])
        )  # fmt: skip
        assert g["Seeds A/B"] == f"{len(w['x'])}/{len(w['y'])} paired"
        assert (g["A test acc. (%)"], g["B test acc. (%)"]) == (
            fmt(w["x"].mean(), "accuracy"),
            fmt(w["y"].mean(), "accuracy"),
        )
        assert g["A - B (points)"] == pts(w["x"].mean() - w["y"].mean())
        if n >= MIN_SEEDS:
            assert g["95% CI or range (points)"] == f"[{pts(w['ci'].low)}, {pts(w['ci'].high)}]"
            assert (g["p (t test)"], g["p (Holm)"]) == (f"{w['p']:.4f}", f"{w['holm']:.4f}")
            assert g["P(A beats B)"] == f"{w['wins']:.2f} [{w['poi'].low:.2f}, {w['poi'].high:.2f}]"
        else:
            assert g["95% CI or range (points)"] == f"range [{pts(w['d'].min())}, {pts(w['d'].max())}]"
            assert (g["p (t test)"], g["p (Holm)"], g["P(A beats B)"]) == ("n/a", "n/a", f"{w['wins']:.2f}")
    return pd.DataFrame(want)


def check_matched_verdict(line: str, matched: pd.DataFrame) -> None:
    gaps = matched["x"].map(np.mean) - matched["y"].map(np.mean)
    i = gaps.abs().idxmax()
    assert f"largest gap {100 * gaps[i]:+.1f} points at {count(matched['budget'][i])} parameters" in line
    n = min(len(x) for x in matched["x"])
    if n < MIN_SEEDS:
        assert f"(means of {n} seeds, too few for intervals: descriptive only)" in line and "CI" not in line
        assert f"in {matched['wins'][i]:.2f} of the pairings" in line
        return
    assert f"{n} seeds, paired t, Holm over {len(matched)} headline budget tests" in line
    sig = matched[matched["holm"] < 0.05]
    assert line.count(" ahead at ") == len(sig)
    for _, r in sig.iterrows():
        assert f"ahead at {count(r['budget'])} ({100 * (r['x'].mean() - r['y'].mean()):+.1f} points" in line
    poi = matched["poi"][i]
    assert f"probability {matched['wins'][i]:.2f} (95% interval {poi.low:.2f} to {poi.high:.2f})" in line


def check_convergence(rows: list[dict], notes: list[str], runs: pd.DataFrame, folder: Path) -> None:
    with sqlite3.connect(folder / "results.sqlite") as db:
        series = pd.read_sql_query(
            "SELECT run_id, epoch, value FROM metrics WHERE split = 'test' AND metric = 'accuracy' ORDER BY epoch", db
        )
    done = runs[runs["status"] == "done"]
    assert sorted(r["Architecture"] for r in rows) == sorted(done["arch"].unique())
    rising = []
    for row in rows:
        late, slopes = [], []
        for run_id in done.loc[done["arch"] == row["Architecture"], "run_id"]:
            s = series[series["run_id"] == run_id]
            e, v = s["epoch"].to_numpy(float), s["value"].to_numpy()
            keep = (e > 0.8 * e.max()) | (np.arange(len(e)) >= len(e) - 2)
            late.append(v[-5:].mean())
            slopes.append(stats.linregress(e[keep], v[keep]).slope)
        slopes = np.array(slopes)
        assert row["Seeds"] == str(len(slopes)) and row["Last epoch"] == str(int(series["epoch"].max()))
        assert row["Mean of last 5 test acc. (%)"] == fmt(np.mean(late), "accuracy")
        per10 = lambda x: f"{1000 * x:+.2f}"  # noqa: E731
        assert row["Late slope (points / 10 epochs)"] == per10(slopes.mean())
        assert row["95% CI or range"] == spread_text(slopes, per10)
        low = t_interval(slopes)[0] if len(slopes) >= MIN_SEEDS else slopes.min()
        assert row["Still improving"] == ("yes" if low > 0 else "no")
        if low > 0:
            rising.append(row["Architecture"])
    line = next((n for n in notes if n.startswith("Still improving")), "")
    assert (f"({len(rising)} of {len(rows)} configurations)" in line) if rising else not line


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
    params = found["Equal-parameter comparison of test accuracy (* interpolated)"]
    macs = found["Equal-MACs comparison of test accuracy (multiply-adds per example; * interpolated)"]
    assert {(r["A"], r["B"]) for r in params} == {("RNN-1", "MLP-1"), ("RNN-1", "MLP-2")}  # as [[compare]] declares
    assert {(r["A"], r["B"]) for r in macs} == {("RNN-1", "MLP-1")}
    curves = {(a, b, "params"): c for (a, b), c in check_comparison(params, finals).items()}
    curves |= {(a, b, "macs"): c for (a, b), c in check_comparison(macs, finals, "macs").items()}
    add_holm(curves)
    answer, *verdicts = found["Verdicts"]  # the question's answer in counts opens its verdicts
    curve_lines = [v for v in verdicts if "Matched" not in v and "share no" not in v]
    assert len(curve_lines) == len(curves) == 3
    assert answer.startswith(f"{len(curves)} comparisons along the curves")
    assert "multiply-adds" not in curve_lines[0] and "Exploratory" not in curve_lines[0]  # the headline leads
    for (a, b, at), want in curves.items():
        unit = "parameters" if at == "params" else "multiply-adds"
        line = next(v for v in curve_lines if f"{a.upper()} - {b.upper()}) at" in v and f" {unit}" in v.split(";")[0])
        check_curve_verdict(line, want, a.upper(), b.upper())
    matched = check_matched(found.get("Matched budgets: direct comparisons of test accuracy", []), finals)
    check_matched_verdict(next(v for v in verdicts if v.startswith("Matched budgets")), matched)
    assert f"; {len(matched)} comparisons at matched budgets" in answer
    notes = found.get("Convergence and divergence notes", [])
    check_convergence(found["Convergence of test accuracy"], notes, runs, folder)
    diverged = runs[runs["status"] == "diverged"]
    assert [(r["Architecture"], r["Seed"], r["Diverged at epoch"]) for r in found.get("Diverged runs", [])] == [
        (r.arch, str(r.seed), str(int(r.diverged_epoch))) for r in diverged.itertuples()
    ]
    assert any(n.startswith("Sensitivity: counting diverged runs at chance accuracy (10%)") for n in notes) == bool(
        len(diverged)
    )


def test_summary_numbers_match_the_database(tiny_study):
    """3 seeds (as the `quick` preset): ranges, and no verdict infers anything."""
    check_summary(tiny_study)
    assert "CI excludes" not in (tiny_study / "summary.md").read_text()
    figures = {p.name for p in (tiny_study / "figures").iterdir()}
    for stem in (
        "test-accuracy",
        "test-cross-entropy",
        "capacity",
        "efficiency",
        "difference",
        "profiles",
        "learning-curves",
    ):
        assert {f"fashion-mnist-mini-{stem}.png", f"fashion-mnist-mini-{stem}.svg"} <= figures


def test_summary_numbers_at_five_seeds(tiny_study_5):
    """5 seeds: t intervals, the simultaneous band and Holm, paired t, the multiplier's and P(improvement)'s intervals."""
    check_summary(tiny_study_5)
    answer, *verdicts = sections((tiny_study_5 / "summary.md").read_text())["Verdicts"]
    assert all("5 seeds, paired" in v for v in verdicts if "share no" not in v)
    assert not any("descriptive only" in v for v in [answer, *verdicts])


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
    assert "Runs: 42 planned, 37 done, 1 diverged, 4 missing." in text and "**Partial study**" in text
    assert "| MLP-1 | mlp-8 | 6,370 | 0/3 | 0/0 | missing |" in text
    assert "| RNN-1 | rnn-1x8 | 1,738 | 1/3 | 1/2 |" in text
    assert "rnn-1x8 1/2: " in text  # the sensitivity line
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

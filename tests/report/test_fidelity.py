"""`itermap run distill-quick` then `itermap report` in real subprocesses: the fidelity curve, its 99% line, the table
and the fewest-parameters sentence with its seeds."""

from __future__ import annotations

import os
import subprocess
import sys

from itermap.analysis.results import load_results


def itermap(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "itermap.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_distill_quick_run_and_report(tmp_path, shared_data):
    env = {**os.environ, "ITERMAP_DATA_DIR": str(shared_data), "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    folder = tmp_path / "dq"
    ran = itermap("run", "distill-quick", "--epochs", "1", "--seeds", "2", "--out", str(folder), "--device", "cpu",
                  "-q", env=env)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    reported = itermap("report", str(folder), env=env)
    assert reported.returncode == 0, reported.stderr
    df = load_results(folder)
    teacher = df.loc[df["family"] == "rnn", "run_id"].unique()
    assert len(teacher) == 1 and set(df.loc[df["family"] == "mlp", "teacher"]) == {teacher[0]}
    summary = (folder / "summary.md").read_text()
    assert "### Fidelity to the teacher" in summary and "| ≥ 99% |" in summary
    for loss in ("distill", "last"):  # the answer for each student group, with its seeds
        line = next(s for s in summary.splitlines() if s.startswith(f"- mlp-1 · loss={loss}: "))
        assert "99%" in line and "over 2 seeds" in line and ("fewest parameters" in line or "more than" in line)
    html = (folder / "report.html").read_text()
    assert "the dashed line marks 99% agreement" in html and "Fidelity to the teacher" in html
    figure = folder / "figures" / "fashion-mnist-mini-fidelity.svg"
    assert figure.is_file() and figure.stat().st_size > 10_000
    assert "<!-- 99% agreement -->" in figure.read_text()  # the dashed 99% line's legend entry (SVG text comment)

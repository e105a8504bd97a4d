"""The report's footer (report.html's Study section, summary.md's `## Study`) lists the recorded environment of
each session that trained the study, as the store holds it and as this machine says it is."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from html import unescape
from importlib.metadata import version

import torch


def test_the_footer_lists_the_recorded_environment(tiny_study_5):
    folder = tiny_study_5
    with closing(sqlite3.connect(folder / "results.sqlite")) as db:
        db.row_factory = sqlite3.Row
        sessions = [dict(r) for r in db.execute("SELECT * FROM sessions ORDER BY started")]
    assert [s["command"].split(" --out ")[1].split()[0] for s in sessions] == [str(folder.parent / "tiny-report"),
                                                                              str(folder)]  # fmt: skip
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)  # the runs' working directory
    in_git = head.returncode == 0
    versions = {"numpy": version("numpy"), "scipy": version("scipy"), "pandas": version("pandas"),
                "torch": torch.__version__, "python": sys.version.split()[0]}  # fmt: skip
    html, summary = unescape((folder / "report.html").read_text()), (folder / "summary.md").read_text()
    footer = summary[summary.index("## Study\n\n### Environment") :]
    for session in sessions:
        assert {k: session[k] for k in versions} == versions
        assert (session["device"], session["threads"], session["executor"], session["workers"], session["shard"]) == (
            "cpu", 1, "local", 1, "1/1")  # fmt: skip
        assert session["cuda"] is None and session["cudnn"] is None
        commit = session["git_commit"]
        if in_git:  # the commit checked out when the session ran: HEAD, or one before it (HEAD may have moved since)
            ancestor = subprocess.run(["git", "merge-base", "--is-ancestor", commit, "HEAD"], capture_output=True)
            assert len(commit) == 40 and ancestor.returncode == 0, commit
        else:
            assert commit is None
        assert f" run {folder.parent / 'tiny-report.toml'} --out " in session["command"]
        for text in (html, footer):
            assert session["command"] in text
            assert "local, 1 at once, shard 1/1" in text
            assert f"cpu ({session['device_name']}), 1 thread(s) per training" in text
            assert (
                ", ".join(f"{k} {session[k]}" for k in ("python", "itermap", "torch", "numpy", "scipy", "pandas"))
                in text
            )
            assert (commit or "none") in text

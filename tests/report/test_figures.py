"""The report's figures leave a notebook's matplotlib alone: importing `itermap.report` keeps the chosen backend, and
figures still render (to PNG and SVG) without it."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from pathlib import Path

import matplotlib
matplotlib.use("pdf")
import itermap.report
from itermap.report.figures import save
from matplotlib.figure import Figure
fig = Figure()
fig.add_subplot().plot([1, 2, 3])
png = save(fig, Path(sys.argv[1]), "line")
print(matplotlib.get_backend(), png[:8] == b"\\x89PNG\\r\\n\\x1a\\n")
"""


def test_importing_the_report_keeps_the_backend(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["pdf", "True"]
    assert (tmp_path / "line.svg").read_text().startswith("<?xml")

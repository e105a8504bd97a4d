"""The study report: figures, summary.md and a self-contained report.html."""

from itermap.report.write import render, write_report

__all__ = ["render", "write_report"]

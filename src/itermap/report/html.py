"""report.html: one self-contained page (inline CSS, figures as base64 PNG), readable offline."""

from __future__ import annotations

import base64
import time
from html import escape

import pandas as pd

from itermap.analysis.overview import Analysis
from itermap.analysis.questions import title
from itermap.report import sections, tables

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
h1, h2, h3 { line-height: 1.2; } h2 { border-bottom: 2px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 13px; margin: .5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; white-space: nowrap; }
.wide { overflow-x: auto; } th { background: #f2f2f2; }
td:first-child, th:first-child { text-align: left; }
th { white-space: normal; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 13px; color: #555; } .verdicts li { margin: .4em 0; }
.banner { background: #fff3cd; border: 1px solid #e0c060; padding: .6em 1em; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 12px; }
"""


def _table(table: pd.DataFrame) -> str:
    return f'<div class="wide">{table.to_html(index=False, escape=True, border=0)}</div>'


def _when(stamp: float | None) -> str:
    return "n/a" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp))


def _info(info: dict) -> str:
    """The study's metadata (study_info): device, versions, wall time, run counts, the environment of each training
    session, planning notes and spec."""
    wall = info.get("wall_seconds") or 0.0  # 0 and no device: a file exported without metadata (a CSV)
    rows = {
        "Study": info.get("study"),
        "Device": f"{info.get('device') or 'not recorded'}"
        + (f" ({info['device_name']})" if info.get("device_name") else ""),
        "Versions": ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items()),
        "Wall time": "not recorded" if not wall else f"{wall:.1f} s" if wall < 120 else f"{wall / 60:.1f} min",
        "Created": _when(info.get("created")),
        "Last update": _when(info.get("updated")),
        "Runs": f"{info.get('runs')} (" + ", ".join(f"{n} {k}" for k, n in info.get("counts", {}).items()) + ")",
    }
    html = "<table>" + "".join(f"<tr><th>{k}</th><td>{escape(str(v))}</td></tr>" for k, v in rows.items()) + "</table>"
    if info.get("environment"):
        html += "<h3>Environment</h3>" + _table(tables.environment(info["environment"]))
    if info.get("notes"):
        html += "<h3>Planning notes</h3><ul>" + "".join(f"<li>{escape(n)}</li>" for n in info["notes"]) + "</ul>"
    return html + f"<h3>Spec (resolved)</h3><pre>{escape(info.get('spec') or 'not recorded')}</pre>"


def _figure(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<figure><img src="data:image/png;base64,{data}" alt="{escape(caption)}"><figcaption>{escape(caption)}</figcaption></figure>'


def report_html(an: Analysis, study: str, info: dict, pngs: dict[str, list[tuple[bytes, str]]]) -> str:
    """The page: run totals, per data set its verdicts, its sections' figures (`pngs`: each PNG and its caption)
    and tables, then the study's metadata."""
    totals = tables.run_totals(an.summary)
    body = [
        f"<h1>itermap study <code>{escape(study)}</code></h1>",
        f"<p>{escape(tables.NOTE)}</p>",
        "<p>Runs: {planned} planned, {done} done, {diverged} diverged, {missing} missing.</p>".format(**totals),
    ]
    if totals["missing"]:
        body.append(
            f'<p class="banner"><b>Partial study</b>: {totals["missing"]} runs not finished; '
            "configurations without a finished run are marked <i>missing</i>.</p>"
        )
    for dataset in an.datasets:
        answers = an.answers.get(dataset, {})
        body += [f"<h2>{escape(dataset)}</h2>", "<h3>Verdicts</h3>"]
        body += [
            f"<p><b>{escape(title(name))}</b></p>"
            + '<ul class="verdicts">'
            + "".join(f"<li>{escape(v)}</li>" for v in said)
            + "</ul>"
            for name, said in answers.items()
        ]
        body += [] if answers else ["<p>No pair of groups with finished runs to compare.</p>"]
        if an.notes.get(dataset):
            body.append(
                "<h3>Convergence and divergence notes</h3><ul>"
                + "".join(f"<li>{escape(n)}</li>" for n in an.notes[dataset])
                + "</ul>"
            )
        body += [_figure(png, caption) for png, caption in pngs[dataset]]
        body += [f"<h3>{escape(title)}</h3>{_table(table)}" for title, table in sections.tables(an, dataset)]
    body += ["<h2>Study</h2>", _info(info)]
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>itermap: {escape(study)}</title>'
        f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )

"""`itermap report`: analyse a study folder and write report.html, summary.md and figures/ into it."""

from __future__ import annotations

from pathlib import Path

from itermap.analysis.overview import Analysis, analyze
from itermap.analysis.results import load_results, study_info
from itermap.report.continua import continua_figures
from itermap.report.depth import anytime_figure
from itermap.report.figures import figures, save
from itermap.report.html import report_html
from itermap.report.summary import summary_markdown
from itermap.study.spec import parse_text


def render(an: Analysis, folder: Path, study: str, info: dict) -> Path:
    """Write the figures, summary.md and report.html of an analysed study into `folder`; return report.html's path."""
    folder = Path(folder)
    pngs = {}
    for dataset in an.datasets:
        drawn = figures(an, dataset)
        if (fig := anytime_figure(an, dataset)) is not None:
            drawn[f"{dataset}-anytime"] = fig
        drawn |= continua_figures(an, dataset)
        pngs[dataset] = {stem: save(fig, folder / "figures", stem) for stem, fig in drawn.items()}
    (folder / "summary.md").write_text(summary_markdown(an, study))
    path = folder / "report.html"
    path.write_text(report_html(an, study, info, pngs))
    return path


def write_report(folder: str | Path) -> Path:
    """Analyse the study in `folder` and write its report there; return report.html's path."""
    info = study_info(folder)
    compare = parse_text(info["spec"], f"{folder}: the study's spec").compare if info["spec"] else []
    analysis = analyze(load_results(folder, unmeasured=True), compare=compare)
    return render(analysis, Path(folder), str(info["study"]), info)

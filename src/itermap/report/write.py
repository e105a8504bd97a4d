"""`itermap report`: analyse a study folder and write report.html, summary.md and figures/ into it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from itermap.analysis.exported import is_export
from itermap.analysis.overview import Analysis
from itermap.analysis.results import source_list, study_info, study_labels
from itermap.analysis.studies import analyze_studies
from itermap.report import sections
from itermap.report.figures import save
from itermap.report.html import report_html
from itermap.report.summary import summary_markdown
from itermap.study.errors import StudyError
from itermap.study.spec import Spec


def render(an: Analysis, folder: Path, study: str, info: dict) -> Path:
    """Write the figures, summary.md and report.html of an analysed study into `folder`; return report.html's path."""
    folder = Path(folder)
    pngs = {}
    for dataset in an.datasets:
        drawn = sections.figures(an, dataset)
        pngs[dataset] = [(save(d.figure, folder / "figures", f"{dataset}-{d.stem}"), d.caption) for d in drawn]
    (folder / "summary.md").write_text(summary_markdown(an, study, info.get("environment")))
    path = folder / "report.html"
    path.write_text(report_html(an, study, info, pngs))
    return path


def combined_info(infos: list[dict], labels: list[str]) -> dict:
    """Several studies' metadata (study_info) and labels (`study_labels`) as one: labels, specs and notes one after
    another, runs and wall time summed, a device or version given once where all agree, else each in turn."""
    each = lambda values: "; ".join(dict.fromkeys(str(v) for v in values))  # noqa: E731
    stamps = lambda key: [i[key] for i in infos if i.get(key) is not None]  # noqa: E731
    return {
        "study": " + ".join(labels),
        "spec": "\n".join(f"# {label}\n{i['spec']}" for i, label in zip(infos, labels)),
        "notes": [n for i in infos for n in i["notes"]],
        "versions": {
            k: each(i["versions"].get(k) for i in infos) for k in dict.fromkeys(k for i in infos for k in i["versions"])
        },
        "device": each(i["device"] for i in infos),
        "device_name": each(i["device_name"] for i in infos),
        "wall_seconds": sum(i["wall_seconds"] for i in infos),
        "created": min(stamps("created"), default=None),
        "updated": max(stamps("updated"), default=None),
        "runs": sum(i["runs"] for i in infos),
        "counts": {k: sum(i["counts"][k] for i in infos) for k in infos[0]["counts"]},
        "unplanned": sum(i["unplanned"] for i in infos),
        "environment": [e for i in infos for e in i.get("environment", [])],  # each study's training sessions
    }


def default_out(source: Path) -> Path:
    """Where a study's report goes by default: its folder, or for an exported file a folder of the file's name
    beside it (results.parquet -> results/)."""
    return source.with_suffix("") if is_export(source) else source


def write_report(
    sources: str | Path | Sequence[str | Path],
    out: str | Path | None = None,
    spec: str | Spec | None = None,
    say: Callable[[str], None] | None = None,
) -> Path:
    """Analyse a study (its folder or exported file), or several side by side, and write the report into `out` (by
    default `default_out`; needed for several); `spec` gives the [[compare]] pairs (`declared_compare`), `say` is
    told where they come from. Returns report.html's path."""
    sources = source_list(sources)
    if out is None and len(sources) > 1:
        raise StudyError(f"a report of {len(sources)} studies needs a folder of its own: add `--out DIR`")
    infos = [study_info(s) for s in sources]
    analysis = analyze_studies(sources, spec=spec, infos=infos, say=say)
    info = infos[0] if len(infos) == 1 else combined_info(infos, study_labels(sources, [i["study"] for i in infos]))
    out = Path(out or default_out(sources[0]))
    out.mkdir(parents=True, exist_ok=True)
    return render(analysis, out, str(info["study"]), info)

"""`itermap report` of several study folders: one report beside them, each study's configurations with the numbers of
its own report, told apart by a `study=` label (here the folders' names: both studies are named tiny-report)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from itermap.cli import app


def configurations(summary: Path) -> dict[tuple[str, str], dict[str, str]]:
    """summary.md's Configurations table: (group, architecture) -> its row."""
    block = summary.read_text().split("### Configurations\n\n")[1].split("\n\n")[0].splitlines()
    header = [c.strip() for c in block[0].strip("|").split("|")]
    rows = [dict(zip(header, (c.strip() for c in line.strip("|").split("|")))) for line in block[2:]]
    return {(r["Group"], r["Architecture"]): r for r in rows}


def test_report_of_several_folders(tiny_study, tiny_study_5, tmp_path):
    out = tmp_path / "both"
    refused = CliRunner().invoke(app, ["report", str(tiny_study), str(tiny_study_5)])
    assert refused.exit_code == 2 and "add `--out DIR`" in refused.stderr
    result = CliRunner().invoke(app, ["report", str(tiny_study), str(tiny_study_5), "--out", str(out)])
    assert result.exit_code == 0, result.output
    both = configurations(out / "summary.md")
    for folder, seeds in ((tiny_study, 3), (tiny_study_5, 5)):
        own = configurations(folder / "summary.md")
        for (group, arch), row in own.items():
            shown = both[f"{group} · study={folder.name}", arch]
            assert shown["Seeds done"] == f"{seeds}/{seeds}"
            assert shown["Test accuracy (%)"] == row["Test accuracy (%)"] and shown["Parameters"] == row["Parameters"]
    assert len(both) == 2 * len(configurations(tiny_study / "summary.md"))
    html = (out / "report.html").read_text()
    assert "tiny-report + tiny-report-5" in html and html.count("[study]") == 2  # both specs in the footer

"""The example notebooks (docs/examples): stored without outputs, and each runs top to bottom in a fresh kernel."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "docs" / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))

# What each notebook must print: a sign that it got as far as its answer, not only that no cell raised.
EXPECTED = {
    "quick-study.ipynb": ["fashion-mnist-mini", "RNN-1", "MLP-1"],
    "published-seed2020.ipynb": ["== fashion-mnist", "== mnist", "RNN-1 ahead of MLP-1", "201,600 rows, 420 runs"],
}
KERNEL = "itermap-test"  # a kernelspec written for the test: this interpreter, whatever else is installed


def test_the_examples_are_there() -> None:
    assert {path.name for path in NOTEBOOKS} == set(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: cell {i} has outputs; clear them before committing"
            assert cell.execution_count is None, f"{path.name}: cell {i} has an execution count"
        assert "execution" not in cell.metadata, f"{path.name}: cell {i} has execution timings in its metadata"


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec running ipykernel in this interpreter, found first through JUPYTER_PATH."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return KERNEL


def text_of(nb: nbformat.NotebookNode) -> str:
    """Everything the cells printed or displayed as text."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                parts.append(output.text)
            elif "data" in output:
                parts.append(output.data.get("text/plain", ""))
    return "\n".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs(path: Path, kernel: str) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=600,  # per cell; the whole notebook takes well under a minute
        resources={"metadata": {"path": str(EXAMPLES)}},  # the kernel's working folder, as Jupyter would start it
    )
    client.execute()  # a cell that raises fails the test with its traceback (CellExecutionError)
    printed = text_of(nb)
    for expected in EXPECTED[path.name]:
        assert expected in printed, f"{path.name}: {expected!r} not in its output"
    images = [o for cell in nb.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, f"{path.name}: drew no figure"

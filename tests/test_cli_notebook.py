"""``examples/walkthrough.py`` opens as a notebook: jupytext converts it, nbclient runs every cell.

``tests/test_plots.py`` runs the same file as a script; this proves the notebook form a reader opens in
Jupyter works too (cells in order, one kernel, no cell relying on running as ``__main__``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="jupytext is not installed (the dev or test extra)")
nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (the dev or test extra)")
pytest.importorskip("ipykernel", reason="ipykernel is not installed (the dev or test extra)")

ROOT = Path(__file__).resolve().parents[1]


def test_walkthrough_runs_as_a_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER_OPS_PLOTS_DIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = jupytext.read(ROOT / "examples" / "walkthrough.py")
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    markdown_cells = [cell for cell in notebook.cells if cell.cell_type == "markdown"]
    assert len(code_cells) >= 10 and len(markdown_cells) >= 10
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()  # raises CellExecutionError naming the cell if any cell fails
    errors = [out for cell in code_cells for out in cell.get("outputs", []) if out.output_type == "error"]
    assert errors == []
    printed = "".join(
        out.get("text", "")
        for cell in code_cells
        for out in cell.get("outputs", [])
        if out.output_type == "stream"
    )
    assert "saved " in printed and sorted(tmp_path.glob("*.png")), printed[-2000:]
    assert os.environ["USER_OPS_PLOTS_DIR"] == str(tmp_path)

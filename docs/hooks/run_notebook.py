"""Run a jupytext percent-format script cell by cell, recording each cell's output and figures.

The docs build (``docs/hooks/gallery.py``) runs this in a child process, one per example, so the
examples' imports, warnings filters and matplotlib state never leak into the mkdocs process:

    python docs/hooks/run_notebook.py examples/walkthrough.py FIGURE_DIR > cells.json

Each cell of the script runs in one shared namespace, as in a notebook. The cell's standard output
is recorded; PNG files that appear in ``FIGURE_DIR`` while a cell runs are that cell's figures (the
examples save their figures into the folder named by ``USER_OPS_PLOTS_DIR``, which is set to it).
A cell that raises ``SystemExit`` ends the run there, on purpose: an example that cannot go on
(its data is absent) prints why and stops, and the page shows the rest as code only. Any other
exception is a broken example: the traceback goes to stderr and the exit status is 1.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_CELL = re.compile(r"^# %%(?P<rest>.*)$")


@dataclass
class Cell:
    """One cell of a percent-format script, and what running it gave."""

    kind: str  # "markdown" or "code"
    source: str
    ran: bool = False
    stdout: str = ""
    figures: list[str] = field(default_factory=list)


def parse_cells(text: str) -> list[Cell]:
    """Split a percent-format script into its cells (the jupytext header is left out)."""
    cells: list[Cell] = []
    kind: str | None = None
    lines: list[str] = []

    def close() -> None:
        if kind is not None:
            source = "\n".join(lines).strip("\n")
            if source.strip():
                cells.append(Cell(kind=kind, source=source))

    for line in text.splitlines():
        marker = _CELL.match(line)
        if marker:
            close()
            kind = "markdown" if "[markdown]" in marker.group("rest") else "code"
            lines = []
        elif kind == "markdown":
            lines.append(re.sub(r"^# ?", "", line))
        elif kind == "code":
            lines.append(line)
    close()
    return cells


def _new_figures(folder: Path, seen: set[str]) -> list[str]:
    fresh = [path for path in folder.glob("*.png") if path.name not in seen]
    fresh.sort(key=lambda path: (path.stat().st_mtime_ns, path.name))
    seen.update(path.name for path in fresh)
    return [path.name for path in fresh]


def run(script: Path, figures: Path) -> list[Cell]:
    """Run the code cells of ``script`` in order; stop after a cell that raises ``SystemExit``."""
    cells = parse_cells(script.read_text(encoding="utf-8"))
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": str(script)}
    seen = {path.name for path in figures.glob("*.png")}
    for number, cell in enumerate(cells):
        if cell.kind != "code":
            cell.ran = True
            continue
        captured = io.StringIO()
        code = compile(cell.source, f"{script} (cell {number})", "exec")
        stopped = False
        with contextlib.redirect_stdout(captured):
            try:
                exec(code, namespace)
            except SystemExit:
                stopped = True
        cell.ran = True
        cell.stdout = captured.getvalue()
        cell.figures = _new_figures(figures, seen)
        if stopped:
            break
    return cells


def main(argv: list[str]) -> int:
    script, figures = Path(argv[0]), Path(argv[1])
    figures.mkdir(parents=True, exist_ok=True)
    os.environ["USER_OPS_PLOTS_DIR"] = str(figures)
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        cells = run(script, figures)
    except Exception:
        traceback.print_exc()
        return 1
    json.dump([asdict(cell) for cell in cells], sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""mkdocs hook: the example notebooks in examples/ become executed pages, with their figures.

Every build runs each script of ``EXAMPLES`` (jupytext percent format) cell by cell in a child
process (``run_notebook.py`` beside this file) and adds to the site, without writing into ``docs/``:

- ``gallery/<slug>.md``: the script's markdown cells as prose, each code cell as a code block
  followed by what it printed and the figures it saved;
- ``gallery/<slug>/<name>.png``: those figures, which other pages embed too
  (``![...](gallery/walkthrough/shop_rfm_grid.png)`` from a page at the top of ``docs/``).

The scripts run in parallel, started when the configuration is read, and the build waits for them
when it collects the files. A script that fails fails the build (the error names the script and
shows its traceback). A script that stops on purpose (``SystemExit``: the CDNOW quick start
without the CDNOW file) gives a page whose remaining cells are shown as code, under a note saying
why they did not run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("run_notebook.py")

# script in examples/ -> the page's slug under gallery/
EXAMPLES = {
    "walkthrough.py": "walkthrough",
    "cdnow_quickstart.py": "cdnow-quickstart",
}
TIMEOUT_S = 600


@dataclass
class _Run:
    script: Path
    slug: str
    figures: Path
    process: subprocess.Popen[str]


_runs: list[_Run] = []


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Start every example at once: they run while mkdocs reads the docs."""
    _cleanup()
    env = {
        **os.environ,
        # The examples import the user_ops of this tree, whatever the environment has installed.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "MPLBACKEND": "Agg",
        "PYTHONIOENCODING": "utf-8",
    }
    for name, slug in EXAMPLES.items():
        script = ROOT / "examples" / name
        figures = Path(tempfile.mkdtemp(prefix=f"user_ops_docs_{slug}_"))
        process = subprocess.Popen(
            [sys.executable, str(RUNNER), str(script), str(figures)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        _runs.append(_Run(script=script, slug=slug, figures=figures, process=process))
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Wait for the examples and add their pages and figures to the site."""
    try:
        for run in _runs:
            try:
                stdout, stderr = run.process.communicate(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                run.process.kill()
                raise PluginError(f"examples/{run.script.name} ran longer than {TIMEOUT_S} s") from None
            if run.process.returncode != 0:
                raise PluginError(f"examples/{run.script.name} failed while building the docs:\n{stderr}")
            cells = json.loads(stdout)
            page = render(cells, script=run.script, slug=run.slug, figures=run.figures, config=config)
            files.append(File.generated(config, f"gallery/{run.slug}.md", content=page))
            for cell in cells:
                for name in cell["figures"]:
                    image = (run.figures / name).read_bytes()
                    files.append(File.generated(config, f"gallery/{run.slug}/{name}", content=image))
    finally:
        _cleanup()
    return files


def _cleanup() -> None:
    for run in _runs:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
        shutil.rmtree(run.figures, ignore_errors=True)
    _runs.clear()


def render(cells: list[dict[str, Any]], *, script: Path, slug: str, figures: Path, config: Any) -> str:
    """The markdown of one executed example: prose, code, output and figures, in cell order."""
    blocks: list[str] = []
    stopped = False
    for cell in cells:
        if cell["kind"] == "markdown":
            blocks.append(cell["source"])
            if not blocks[1:]:  # right after the title: where the page comes from
                blocks.append(_provenance(script, config))
            continue
        if not cell["ran"] and not stopped:
            stopped = True
            blocks.append(
                '!!! warning "The cells below did not run when this site was built"\n\n'
                "    The example stopped at the cell above; its output says why. The rest of the\n"
                "    example is shown as code."
            )
        blocks.append(f"```python\n{cell['source']}\n```")
        output = cell["stdout"].replace(str(figures), f"gallery/{slug}").rstrip()
        if output:
            blocks.append(f"```text\n{output}\n```")
        for name in cell["figures"]:
            alt = Path(name).stem.replace("_", " ")
            blocks.append(f"![{alt}]({slug}/{name})")
    return "\n\n".join(blocks) + "\n"


def _provenance(script: Path, config: Any) -> str:
    source = f"`examples/{script.name}`"
    repo = (config.get("repo_url") or "").rstrip("/")
    if repo:
        source = f"[{source}]({repo}/blob/main/examples/{script.name})"
    return (
        f'!!! info "An executed example"\n\n'
        f"    This page is {source}, run cell by cell when the site was built: each code block is\n"
        f"    followed by what it printed and the figures it drew. Run it yourself with\n"
        f"    `python examples/{script.name}` from the repository root, or open it as a notebook\n"
        f"    with jupytext."
    )

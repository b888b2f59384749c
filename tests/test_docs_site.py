"""The documentation site builds with ``--strict``: no broken links, no missing pages, clean API reference."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_docs_site_builds_strictly(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    api_page = (tmp_path / "site" / "reference" / "rules" / "index.html").read_text(encoding="utf-8")
    assert 'id="user_ops.rules.Rule.evaluate_one"' in api_page  # mkdocstrings rendered the docstrings
    for page in ("cookbook", "glossary", "performance", "changelog"):
        assert (tmp_path / "site" / page / "index.html").stat().st_size > 0

"""Packaging: the wheel and the sdist build, and the wheel works in a fresh virtual environment.

Runs in CI with the rest of the suite (about 15 s, nearly all of it pip installing numpy and pydantic
into the fresh environment). The build is hatchling's own command (offline, no build isolation: hatchling
is in the dev extra). The runtime dependencies come from wherever pip is configured to look (PyPI in CI).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from user_ops import __version__

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import bench_import  # noqa: E402

RUNTIME_DEPENDENCIES = {"pydantic", "numpy", "python-dateutil"}
SDIST_MUST_HAVE = (
    "user_ops/__init__.py",
    "user_ops/py.typed",
    "tests/",
    "docs/",
    "README.md",
    "CHANGELOG.md",
    "pyproject.toml",
)
JUNK = re.compile(
    r"(^|/)(\.venv|\.git|__pycache__|\.pytest_cache|\.mypy_cache|\.ruff_cache|\.hypothesis|site|dist|build)/|\.pyc$"
)


def _pip_version() -> tuple[int, ...]:
    output = _run([sys.executable, "-m", "pip", "--version"], cwd=REPO_ROOT)
    return tuple(int(part) for part in re.findall(r"\d+", output.split()[1])[:2])


def _run(argv: list[str], *, cwd: Path, timeout: float = 300) -> str:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, timeout=timeout, check=False)
    output = result.stdout.decode("utf-8", "replace")
    assert result.returncode == 0, f"{argv} failed:\n{output}\n{result.stderr.decode('utf-8', 'replace')}"
    return output


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A wheel and an sdist built from the checkout."""
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "hatchling", "build", "--directory", str(out)], cwd=REPO_ROOT)
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0], "folder": out}


@pytest.fixture(scope="module")
def venv(dist: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the built wheel and its dependencies installed; its bin folder."""
    root = tmp_path_factory.mktemp("venv") / "env"
    bin_dir = root / ("Scripts" if sys.platform == "win32" else "bin")
    python = bin_dir / ("python.exe" if sys.platform == "win32" else "python")
    if _pip_version() >= (22, 3):
        # This environment's pip installs into the new one: no ensurepip, no byte-compiling (both slow).
        _run([sys.executable, "-m", "venv", "--without-pip", str(root)], cwd=root.parent)
        install = [sys.executable, "-m", "pip", "--python", str(python), "install"]
    else:  # an old pip cannot target another interpreter: give the new environment its own
        _run([sys.executable, "-m", "venv", str(root)], cwd=root.parent)
        install = [str(python), "-m", "pip", "install"]
    options = ["--no-compile", "--disable-pip-version-check", "-q"]
    _run([*install, *options, str(dist["wheel"])], cwd=root.parent, timeout=600)
    return bin_dir


def test_wheel_holds_the_package_and_its_metadata(dist: dict[str, Path]) -> None:
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = wheel.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = wheel.read(info).decode("utf-8")
        entry_points = wheel.read(next(n for n in names if n.endswith("entry_points.txt"))).decode("utf-8")
    assert f"user_ops-{__version__}-py3-none-any.whl" == dist["wheel"].name
    assert {
        "user_ops/__init__.py",
        "user_ops/py.typed",
        "user_ops/cli/__init__.py",
        "user_ops/__main__.py",
    } <= set(names)
    top_level = {n.split("/")[0] for n in names}
    assert top_level == {"user_ops", f"user_ops-{__version__}.dist-info"}  # no tests, docs, benchmarks
    assert not [n for n in names if JUNK.search(n)]
    required = {
        re.split(r"[<>=!~ ;\[]", line.removeprefix("Requires-Dist: "))[0]
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist: ") and "extra ==" not in line
    }
    assert required == RUNTIME_DEPENDENCIES
    assert "user-ops = user_ops.cli:main" in entry_points


def test_sdist_holds_sources_tests_and_docs_and_no_junk(dist: dict[str, Path]) -> None:
    with tarfile.open(dist["sdist"]) as sdist:
        names = [name.split("/", 1)[1] for name in sdist.getnames() if "/" in name]
    for wanted in SDIST_MUST_HAVE:
        assert any(name == wanted or name.startswith(wanted) for name in names), wanted
    assert not [name for name in names if JUNK.search(name)]


def test_the_sdist_builds_the_same_wheel(dist: dict[str, Path], tmp_path: Path) -> None:
    with tarfile.open(dist["sdist"]) as sdist:
        sdist.extractall(tmp_path, filter="data")
    (source,) = tmp_path.iterdir()
    out = tmp_path / "rebuilt"
    _run(
        [sys.executable, "-m", "hatchling", "build", "--target", "wheel", "--directory", str(out)], cwd=source
    )
    (rebuilt,) = out.glob("*.whl")
    with zipfile.ZipFile(rebuilt) as again, zipfile.ZipFile(dist["wheel"]) as first:
        assert sorted(again.namelist()) == sorted(first.namelist())


def test_the_installed_wheel_runs_the_demo(venv: Path, tmp_path: Path) -> None:
    python = venv / ("python.exe" if sys.platform == "win32" else "python")
    # Run outside the checkout, so the source tree cannot stand in for the installed package.
    where = _run([str(python), "-c", "import user_ops; print(user_ops.__file__)"], cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(venv.parent)
    by_module = _run([str(python), "-m", "user_ops", "demo", "--customers", "200"], cwd=tmp_path)
    script = venv / ("user-ops.exe" if sys.platform == "win32" else "user-ops")
    by_script = _run([str(script), "demo", "--customers", "200"], cwd=tmp_path)
    assert by_module == by_script
    assert by_module.startswith(f"user_ops {__version__} demo: synthetic shop 合成店铺数据\n")
    assert re.search(r"^  rows 行数 +200$", by_module, flags=re.MULTILINE)
    expected = subprocess.run(
        [sys.executable, "-m", "user_ops", "demo", "--customers", "200"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    assert by_module == expected  # the installed package computes what the checkout computes


def test_the_installed_wheel_has_only_the_runtime_dependencies(venv: Path, tmp_path: Path) -> None:
    python = venv / ("python.exe" if sys.platform == "win32" else "python")
    names = "sorted(d.metadata['Name'].lower().replace('_', '-') for d in m.distributions())"
    listing = _run(
        [str(python), "-c", f"import importlib.metadata as m; print(*{names})"], cwd=tmp_path
    ).split()
    assert set(listing) >= RUNTIME_DEPENDENCIES | {"user-ops"}
    for heavy in ("pandas", "polars", "pyarrow", "scipy", "matplotlib"):
        assert heavy not in listing
    # Without the extras, asking for Parquet is a one-line error, not a traceback.
    result = subprocess.run(
        [str(venv / "user-ops"), "metrics", "x.parquet", "--as-of", "2024-06-30T00:00:00+08:00"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 1
    assert (
        result.stderr.decode()
        == "user-ops: error: Parquet files need the arrow extra: pip install 'user_ops[arrow]'\n"
    )


def test_import_user_ops_loads_no_optional_library() -> None:
    importable = bench_import.check()
    assert (
        "pandas" in importable and "pyarrow" in importable
    )  # the dev extra has them: the check meant something


def test_the_runtime_dependency_closure_is_small() -> None:
    closure = {name.lower().replace("_", "-") for name in bench_import.dependency_closure()}
    assert closure >= RUNTIME_DEPENDENCIES
    assert not closure & {"pandas", "polars", "pyarrow", "scipy", "matplotlib"}
    assert bench_import.installed_bytes("numpy") > 1_000_000

"""Import cost: ``import user_ops`` against ``import numpy, pydantic, dateutil``, and install size.

Run ``python benchmarks/bench_import.py [--repeat N] [--top N]``. In one run it reports:

* the time of ``import user_ops`` and of ``import numpy, pydantic, dateutil`` (its runtime dependencies
  alone), each in a fresh interpreter (``-c``, timed inside the process so interpreter start-up is
  left out), repeated, best and median; their ratio against the target of at most 1.5x. The time is
  the process's CPU time (``time.process_time``): on a shared machine wall time mostly measures the
  neighbours. Byte-code is cached first (in a temporary ``PYTHONPYCACHEPREFIX``, so the checkout stays
  clean), as it is for an installed wheel; ``--no-bytecode`` measures with every ``.py`` compiled on
  import instead (what ``PYTHONDONTWRITEBYTECODE=1`` costs a source checkout);
* ``import numpy, pydantic, dateutil`` plus one pydantic model class (``import pydantic`` alone is lazy:
  the model machinery loads on first use, and every policy of user_ops is a model);
* ``from user_ops import`` every public name (the same as ``import user_ops`` while the door imports
  its rooms eagerly) and ``import user_ops.cli`` (what ``python -m user_ops`` pays before working);
* the modules of ``user_ops`` that cost most to import, from ``python -X importtime`` (self time);
* the installed size of the runtime dependencies: the files of each distribution, found through
  ``importlib.metadata``, over the whole dependency closure (pydantic brings pydantic-core,
  annotated-types, typing-extensions, ...).

``check()`` asserts that ``import user_ops`` and ``import user_ops.cli`` load none of pandas, polars,
pyarrow, scipy or matplotlib; ``tests/test_packaging.py`` runs it.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine_description, print_table

REPO_ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ("pydantic", "numpy", "python-dateutil")
HEAVY = ("pandas", "polars", "pyarrow", "scipy", "matplotlib")
TARGET = 1.5

_TIMED = "import time\nstart = time.process_time()\n{statement}\nprint(time.process_time() - start)"


def child_environment(*, bytecode: bool = True) -> dict[str, str]:
    """The environment of the measured interpreters: byte-code cached in a temporary folder, or never."""
    env = dict(os.environ)
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="bench_import_pyc_")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="bench_import_empty_")  # no cache to read
    return env


def import_seconds(
    statement: str, *, repeat: int = 7, env: dict[str, str] | None = None
) -> tuple[float, float]:
    """Best and median CPU seconds of ``statement`` (an import) in ``repeat`` fresh interpreters,
    after one unmeasured run (which writes the byte-code cache when ``env`` allows it)."""
    env = env if env is not None else child_environment()
    command = [sys.executable, "-c", _TIMED.format(statement=statement)]
    subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, check=True)
    times = []
    for _ in range(repeat):
        result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, check=True, text=True)
        times.append(float(result.stdout.strip().splitlines()[-1]))
    return min(times), statistics.median(times)


def slowest_modules(
    statement: str = "import user_ops", *, top: int = 15, env: dict[str, str] | None = None
) -> list[tuple[str, float, float]]:
    """``(module, self ms, cumulative ms)`` of the ``user_ops`` modules by ``-X importtime`` self time."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        check=True,
        text=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if match and match.group(4).startswith("user_ops"):
            rows.append((match.group(4), int(match.group(1)) / 1000, int(match.group(2)) / 1000))
    return sorted(rows, key=lambda row: -row[1])[:top]


def dependency_closure(names: tuple[str, ...] = RUNTIME) -> list[str]:
    """The distributions ``names`` need when installed, themselves included (no extras), sorted."""
    seen: dict[str, str] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        key = _normalize(name)
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[key] = dist.metadata["Name"]
        for requirement in dist.requires or []:
            if "extra ==" in requirement:
                continue
            if ";" in requirement and not _marker_applies(requirement.split(";", 1)[1]):
                continue
            todo.append(re.split(r"[<>=!~ ;\[(]", requirement.strip(), maxsplit=1)[0])
    return sorted(seen.values(), key=str.lower)


def _marker_applies(marker: str) -> bool:
    try:
        from packaging.markers import Marker
    except ImportError:  # without `packaging`, count the conditional dependency: an upper bound
        return True
    return bool(Marker(marker).evaluate())


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_bytes(name: str) -> int:
    """Bytes of the files a distribution installed (its RECORD), byte-code caches included."""
    dist = metadata.distribution(name)
    total = 0
    for file in dist.files or []:
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total


def check() -> list[str]:
    """Assert that importing ``user_ops`` (and its command line) loads no optional heavy library.

    Returns the heavy modules that are importable here (so the check meant something).

    Examples
    --------
    >>> "pandas" in check() or True
    True
    """
    probe = f"import sys, user_ops, user_ops.cli\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, check=True, text=True
    )
    loaded = [m for m in result.stdout.strip().split(",") if m]
    assert not loaded, f"import user_ops loads {loaded}"
    importable = []
    for module in HEAVY:
        try:
            metadata.distribution(module)
        except metadata.PackageNotFoundError:
            continue
        importable.append(module)
    return importable


def public_names() -> list[str]:
    """The names in ``user_ops.__all__`` (read from the source: importing would load it here)."""
    source = (REPO_ROOT / "user_ops" / "__init__.py").read_text(encoding="utf-8")
    block = source.split("__all__ = [", 1)[1].split("]", 1)[0]
    return re.findall(r'"([^"]+)"', block)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="fresh interpreters per measurement (9)")
    parser.add_argument("--top", type=int, default=12, help="slowest user_ops modules to list (12)")
    parser.add_argument("--no-bytecode", action="store_true", help="compile every .py on import")
    args = parser.parse_args()
    check()
    env = child_environment(bytecode=not args.no_bytecode)
    print(machine_description())
    statements = {
        "import numpy, pydantic, dateutil": "import numpy, pydantic, dateutil",
        "  ... and define one pydantic model": "import numpy, pydantic, dateutil\n"
        "class M(pydantic.BaseModel):\n    x: int = 0",
        "import user_ops": "import user_ops",
        "from user_ops import (every public name)": f"from user_ops import {', '.join(public_names())}",
        "import user_ops.cli": "import user_ops.cli",
    }
    times = {label: import_seconds(code, repeat=args.repeat, env=env) for label, code in statements.items()}
    base_best, base_median = times["import numpy, pydantic, dateutil"]
    rows = [
        (
            label,
            f"{1000 * best:.0f} ms",
            f"{1000 * median:.0f} ms",
            f"{best / base_best:.2f}x",
            f"{median / base_median:.2f}x",
        )
        for label, (best, median) in times.items()
    ]
    cache = "compiled on every import" if args.no_bytecode else "byte-code cached"
    print(f"\nImport CPU time, {args.repeat} fresh interpreters, {cache} (target: user_ops <= {TARGET}x)")
    print_table(("statement", "best", "median", "ratio (best)", "ratio (median)"), rows)
    ours = times["import user_ops"][0] / base_best
    print(
        f"import user_ops {'meets' if ours <= TARGET else 'misses'} the {TARGET}x target ({ours:.2f}x, best)"
    )

    print("\nSlowest user_ops modules (python -X importtime, self time)")
    print_table(
        ("module", "self ms", "cumulative ms"),
        [
            (name, f"{own:.1f}", f"{cumulative:.1f}")
            for name, own, cumulative in slowest_modules(top=args.top, env=env)
        ],
    )

    closure = dependency_closure()
    sizes = [(name, installed_bytes(name)) for name in closure]
    total = sum(size for _, size in sizes)
    print("\nInstalled size of the runtime dependencies (their files, byte-code included)")
    print_table(
        ("distribution", "version", "MB"),
        [(name, metadata.version(name), f"{size / 1e6:.1f}") for name, size in sizes]
        + [("total", "", f"{total / 1e6:.1f}")],
    )


if __name__ == "__main__":
    main()

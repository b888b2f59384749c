"""Small helpers shared by the benchmark scripts: best-of-N timing, a machine line, a table printer."""

from __future__ import annotations

import gc
import os
import platform
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["best_of", "machine_description", "print_table"]


def best_of(fn: Callable[[], Any], *, repeat: int = 3) -> tuple[float, Any]:
    """Best wall-clock seconds of ``repeat`` calls of ``fn`` (garbage collected before each), and
    the result of the last call.

    The minimum is the least noisy estimate of what the code costs; the rest is other load.

    Examples
    --------
    >>> seconds, value = best_of(lambda: sum(range(10)), repeat=2)
    >>> value, seconds >= 0
    (45, True)
    """
    best = float("inf")
    result: Any = None
    for _ in range(repeat):
        result = None  # free the previous result before timing the next call
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024**2:.0f} GiB RAM"
    except OSError:
        pass
    return "RAM unknown"


def machine_description(extra: Sequence[str] = ()) -> str:
    """One line naming the CPU, cores, RAM, Python and numpy (plus ``extra`` library versions).

    Examples
    --------
    >>> "Python" in machine_description()
    True
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = [
        _cpu_model(),
        f"{cores} cores",
        _ram_gib(),
        f"{platform.system()} {platform.release()}",
        f"Python {platform.python_version()}",
        f"numpy {np.__version__}",
        *extra,
    ]
    return ", ".join(parts)


def print_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print rows as a GitHub-flavoured Markdown table (pastes straight into the docs).

    Examples
    --------
    >>> print_table(["a", "b"], [[1, "x"]])
    | a | b |
    |---|---|
    | 1 | x |
    """
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print(line(row))

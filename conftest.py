"""Doctests that need a scale-out engine skip, saying why, when its extra is not installed.

The ``test`` extra leaves out Spark (~0.5 GB) and Dask; the tests under ``tests/scale`` skip by
themselves, and this does the same for the engines' own doctests and the doc page that runs them.
"""

from __future__ import annotations

import importlib
from functools import cache

import pytest

# where the doctests live → the modules they import, and the extra that installs them
_NEEDS = {
    ("user_ops", "dask"): (("dask.dataframe", "distributed"), "dask"),
    ("user_ops", "spark"): (("pyspark",), "spark"),
    ("docs", "scaling.md"): (("dask.dataframe", "distributed", "pyspark"), "dev"),
}


@cache
def _missing(modules: tuple[str, ...]) -> str | None:
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            return module
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.parts[-3:]
        for (folder, name), (modules, extra) in _NEEDS.items():
            if (folder, name) in (parts[-3:-1], parts[-2:]):
                missing = _missing(modules)
                if missing is not None:
                    reason = f"{missing} is not installed (pip install 'user_ops[{extra}]')"
                    item.add_marker(pytest.mark.skip(reason=reason))

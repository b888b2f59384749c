"""Doc pages whose examples read the real CDNOW data skip, saying why, when ``../shared/data`` is absent."""

from __future__ import annotations

import pytest

from user_ops.datasets import load_cdnow
from user_ops.exceptions import DataError

NEEDS_CDNOW = {"bgnbd.md", "metrics.md"}


def _cdnow_missing() -> str | None:
    try:
        load_cdnow()
    except DataError as missing:
        return str(missing)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    for item in items:
        if item.path.name in NEEDS_CDNOW and item.path.parent.name == "docs":
            reason = reason or _cdnow_missing()
            if reason is None:
                return
            item.add_marker(pytest.mark.skip(reason=f"this page's examples read CDNOW: {reason}"))

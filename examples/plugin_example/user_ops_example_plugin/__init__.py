"""An example user_ops plugin: ``safe_ratio(a, b)`` (scalar + batch) and ``email_domain(s)`` (scalar only)."""

from __future__ import annotations

from typing import Any

import numpy as np

from user_ops.plugins import register_function

__all__ = ["register"]


def _safe_ratio(a: float, b: float) -> float | None:
    return None if b == 0 else a / b


def _safe_ratio_batch(a: Any, b: Any) -> Any:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    out = np.full(a.shape, np.nan)  # NaN means null in a float result
    np.divide(a, b, out=out, where=b != 0)
    return out


def _email_domain(email: str) -> str | None:
    _, at, domain = email.rpartition("@")
    return domain.lower() if at else None


def register() -> None:
    """Entry point: register this plugin's functions (called by ``user_ops.plugins.load_entry_points``)."""
    register_function(
        "safe_ratio",
        _safe_ratio,
        batch=_safe_ratio_batch,
        params=["int|float", "int|float"],
        returns="float",
        replace=True,
        doc="a / b, null when b is 0",
    )
    register_function(
        "email_domain",
        _email_domain,
        params=["str"],
        returns="str",
        replace=True,
        doc="the domain of an e-mail address, lower-cased",
    )

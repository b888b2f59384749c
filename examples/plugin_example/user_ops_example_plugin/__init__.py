"""An example user_ops plugin.

Two rule functions, ``safe_ratio(a, b)`` (scalar + batch) and ``email_domain(s)`` (scalar only), and
one membership benefit type, ``lounge`` (airport-lounge visits a year).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from user_ops.plugins import register_benefit_type, register_function

__all__ = ["Lounge", "register"]


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


class Lounge(BaseModel):
    """The parameters of a ``lounge`` benefit: how many lounge visits a year the tier grants."""

    visits_per_year: int = Field(ge=1)


def _lounge_label(params: Lounge) -> tuple[str, str]:
    visits = params.visits_per_year
    return f"{visits} airport lounge visits a year", f"机场贵宾厅每年{visits}次"


def register() -> None:
    """Entry point: register this plugin's rule functions and benefit type.

    Called by ``user_ops.plugins.load_entry_points``; ``replace=True`` makes a second load harmless.
    """
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
    register_benefit_type("lounge", Lounge, label=_lounge_label, replace=True)

"""Implicit conversions between rule types, identical in both paths (decided once when compiling).

Numbers meet as follows: ``int`` with ``float`` becomes ``float``; ``int`` with ``decimal`` becomes
``decimal`` (exact); ``decimal`` with ``float`` becomes ``float``. A ``date`` that meets a
``datetime`` becomes the instant its day starts in the business time zone.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from user_ops._time import as_utc_us, local_midnight
from user_ops.rules._runtime import BatchContext, ScalarContext

__all__ = ["NUMERIC", "cast_batch", "cast_scalar", "join_numeric", "unify"]

NUMERIC = frozenset({"int", "float", "decimal"})
_TEMPORAL = frozenset({"date", "datetime"})
_to_decimal = np.frompyfunc(Decimal, 1, 1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def join_numeric(left: str, right: str) -> str:
    """The common type of two numeric types."""
    if "float" in (left, right):
        return "float"
    if "decimal" in (left, right):
        return "decimal"
    return "int"


def unify(left: str, right: str) -> str | None:
    """The common type two values are compared or combined in, or ``None`` when they do not meet."""
    if left == "null":
        return right
    if right == "null" or left == right:
        return left
    if left in NUMERIC and right in NUMERIC:
        return join_numeric(left, right)
    if {left, right} == _TEMPORAL:
        return "datetime"
    return None


def cast_scalar(value: Any, source: str, target: str, ctx: ScalarContext) -> Any:
    """Convert one non-null value from ``source`` to ``target``."""
    if value is None or source == target or source == "null":
        return value
    if target == "float":
        return float(value)
    if target == "decimal":
        return Decimal(value)
    if target == "datetime" and source == "date":
        return local_midnight(value, ctx.tz)
    raise AssertionError(f"no cast from {source} to {target}")


def cast_batch(
    values: np.ndarray[Any, Any], source: str, target: str, ctx: BatchContext
) -> np.ndarray[Any, Any]:
    """Convert a batch of values from ``source`` to ``target`` (null slots may hold anything)."""
    if source == target or source == "null":
        return values
    if target == "float":
        return np.asarray(values).astype(np.float64)
    if target == "decimal":
        return np.asarray(_to_decimal(values), dtype=object)
    if target == "datetime" and source == "date":
        return _midnights_us(np.asarray(values, dtype=np.int64), ctx)
    raise AssertionError(f"no cast from {source} to {target}")


def _midnights_us(days: np.ndarray[Any, Any], ctx: BatchContext) -> np.ndarray[Any, Any]:
    # Few distinct days even in big tables: convert each once with the scalar path's own function.
    unique, inverse = np.unique(days, return_inverse=True)
    starts = np.fromiter(
        (as_utc_us(local_midnight(date.fromordinal(int(d) + _EPOCH_ORDINAL), ctx.tz)) for d in unique),
        dtype=np.int64,
        count=len(unique),
    )
    out: np.ndarray[Any, Any] = starts[inverse].reshape(days.shape)
    return out

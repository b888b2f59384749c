"""Peak memory of ``customer_metrics`` stays a small multiple of its input (the benchmark's target).

The batch path keeps few row-long temporaries: one scratch buffer for every masked sum, sorted
copies made one at a time, the row arrays dropped before the order-level metrics. tracemalloc traces
numpy's allocations, so a regression (a stray full-length ``np.where`` or copy) shows up here at a
size small enough for the test suite.
"""

from __future__ import annotations

import tracemalloc
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pytest

from user_ops.metrics import Transactions, customer_metrics

AS_OF = datetime(2024, 7, 1, tzinfo=timezone.utc)
_AS_OF_US = int(np.datetime64("2024-07-01T00:00:00", "us").view(np.int64))
_TWO_YEARS_US = 2 * 365 * 86_400 * 1_000_000


def _log(rows: int, customers: int, *, order_ids: bool) -> dict[str, Any]:
    """Like the benchmark's log: time-ordered, ~3 % refunds, promo flags, prices, 2 % after as_of."""
    rng = np.random.default_rng(7)
    offsets = np.sort(rng.integers(0, _TWO_YEARS_US, rows))
    amount = np.round(rng.lognormal(4.5, 0.8, rows), 2)
    amount[rng.random(rows) < 0.03] *= -1
    data = {
        "customer_id": rng.integers(1, customers + 1, rows),
        "ordered_at": (_AS_OF_US - int(_TWO_YEARS_US * 0.98) + offsets).view("datetime64[us]"),
        "amount": amount,
        "is_promo": rng.random(rows) < 0.3,
        "unit_price": np.round(rng.lognormal(3.5, 1.0, rows), 2),
    }
    if order_ids:
        data["order_id"] = np.arange(rows) // 2  # two lines per order
    return data


def _peak(fn: Any) -> int:
    tracemalloc.start()
    try:
        result = fn()
        del result
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("order_ids", "tz", "limit"),
    [(False, None, 3.0), (False, "America/New_York", 3.0), (True, "Asia/Shanghai", 4.0)],
)
def test_peak_memory_is_a_small_multiple_of_the_input(order_ids: bool, tz: str | None, limit: float) -> None:
    data = _log(200_000, 20_000, order_ids=order_ids)
    input_bytes = sum(column.nbytes for column in data.values())
    tx = Transactions(data, tz="UTC")
    peak = _peak(lambda: customer_metrics(tx, as_of=AS_OF, tz=tz))
    assert peak <= limit * input_bytes, f"peak {peak / input_bytes:.2f}x the input"

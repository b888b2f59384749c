"""Batch and scalar agree: every customer's row of ``customer_metrics`` equals ``customer_metrics_one``.

Generated logs mix customers (int or str ids), multi-line orders, refunds, zero amounts, same-day and
same-instant orders, promo flags and discounts, unit prices with nulls, rows after ``as_of``, input
times in several zones, and business zones with DST. The floats must agree exactly (both paths add
the same numbers in the same order), so the comparison is ``==``, not "close". Some logs hold amounts
near float64's limit whose sums overflow: both paths then refuse the same customer with the same
DataError.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import event, given, settings
from hypothesis import strategies as st

from user_ops import DataError
from user_ops.metrics import Transactions, customer_metrics, customer_metrics_one

UTC = timezone.utc
ZONES = [
    UTC,
    ZoneInfo("Asia/Shanghai"),
    ZoneInfo("America/New_York"),
    timezone(timedelta(hours=-3, minutes=-30)),
]
BUSINESS_ZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Shanghai"]
# as_of close to DST changes in the business zones, so windows and days cross them.
AMOUNTS = [0.0, 0.1, 0.2, 0.3, 9.99, 100.0, 1e6, -0.1, -5.0, 33.33]
# Two of these of one sign overflow float64 (about 1.8e308); one of them, or 9e307 twice, does not.
HUGE_AMOUNTS = [1e308, -1e308, 9e307, -9e307, 1.7976931348623157e308]
AS_OFS = [
    datetime(2024, 3, 10, 12, tzinfo=UTC),
    datetime(2024, 11, 3, 6, 30, tzinfo=UTC),
    datetime(2024, 4, 7, tzinfo=ZoneInfo("Australia/Lord_Howe")),
    datetime(2024, 6, 30, tzinfo=ZoneInfo("Asia/Shanghai")),
]


@st.composite
def logs(draw: st.DrawFn) -> dict[str, Any]:
    as_of = draw(st.sampled_from(AS_OFS))
    string_ids = draw(st.booleans())
    customers = draw(st.integers(1, 5))
    n = draw(st.integers(0, 40))
    amounts = AMOUNTS + 2 * HUGE_AMOUNTS if draw(st.integers(0, 3)) == 0 else AMOUNTS  # huge: a quarter
    options = draw(
        st.fixed_dictionaries(
            {}, optional={k: st.just(True) for k in ("order_id", "is_promo", "discount", "unit_price")}
        )
    )
    rows = []
    for _ in range(n):
        customer = draw(st.integers(0, customers - 1))
        # Minutes before as_of; some after it, many on the same few days.
        minutes = draw(
            st.one_of(st.integers(-3 * 1440, 400 * 1440), st.sampled_from([0, 1, 30, 1440, 1441, 43200]))
        )
        instant = as_of - timedelta(minutes=minutes)
        zone = draw(st.sampled_from(ZONES))
        row: dict[str, Any] = {
            "customer_id": f"c{customer}" if string_ids else customer * 7 - 3,
            "ordered_at": instant.astimezone(zone),
            "amount": draw(st.sampled_from(amounts)),
        }
        if "order_id" in options:
            row["order_id"] = draw(st.sampled_from(["A", "B", "C", "D"]))
        if "is_promo" in options:
            row["is_promo"] = draw(st.sampled_from([True, False, None]))
        if "discount" in options:
            row["discount"] = draw(st.sampled_from([0.0, 0.0, 1.5]))
        if "unit_price" in options:
            row["unit_price"] = draw(st.sampled_from([None, 1.0, 5.0, 20.0, 99.0]))
        rows.append(row)
    return {
        "rows": rows,
        "as_of": as_of,
        "tz": draw(st.sampled_from([None, *BUSINESS_ZONES])),
        "windows": draw(st.sampled_from([("30d",), ("1d", "12h", "1mo", "2w"), ("365d", "90d")])),
        "btyd_period": draw(st.sampled_from(["D", "W"])),
        "btyd_multiplier": draw(st.sampled_from([1, 7, 0.5])),
        "btyd_end_days": draw(st.sampled_from([0, 0, 10, 100])),
        "quantile": draw(st.sampled_from([0.0, 0.5, 0.9, 1.0])),
        "registered": draw(st.booleans()),
    }


@settings(max_examples=300, deadline=None)
@given(logs())
def test_every_row_equals_the_scalar_answer(log: dict[str, Any]) -> None:
    rows, as_of = log["rows"], log["as_of"]
    options = {
        "as_of": as_of,
        "tz": log["tz"],
        "windows": log["windows"],
        "btyd_period": log["btyd_period"],
        "btyd_multiplier": log["btyd_multiplier"],
        "btyd_end": as_of - timedelta(days=log["btyd_end_days"]),
    }
    ids = sorted({row["customer_id"] for row in rows}, key=str)
    registered = {cid: as_of - timedelta(days=400 - 37 * i) for i, cid in enumerate(ids)}
    customers = None
    if log["registered"] and rows:
        customers = {"customer_id": list(registered), "registered_at": list(registered.values())}
    if not rows:
        return
    tx = Transactions.from_records(rows)
    try:
        batch = customer_metrics(tx, customers=customers, top_price_quantile=log["quantile"], **options)
    except DataError as exc:
        event("refused: a sum overflows")
        _same_customer_refused(str(exc), rows, options)
        return
    threshold = batch.report.top_price_threshold
    assert batch.report.rows == len(rows)
    seen = 0
    for i in range(len(batch)):
        row = batch.row(i)
        mine = [r for r in rows if r["customer_id"] == row["customer_id"]]
        one = customer_metrics_one(
            Transactions.from_records(mine) if mine else [],
            top_price_threshold=threshold,
            registered_at=registered[row["customer_id"]] if customers else None,
            **options,
        )
        if not mine:
            one["customer_id"] = row["customer_id"]
        assert row == one, {k: (row[k], one[k]) for k in row if row[k] != one[k]}
        seen += len([r for r in mine if r["ordered_at"] < as_of])
    assert seen == batch.report.rows_used


def _same_customer_refused(error: str, rows: list[dict[str, Any]], options: dict[str, Any]) -> None:
    """The batch refused the log: the scalar path refuses the first customer (in id order) it refuses,
    with the same message, and accepts every customer before it."""
    assert "overflows" in error, error
    for customer in sorted({row["customer_id"] for row in rows}):
        mine = [r for r in rows if r["customer_id"] == customer]
        try:
            customer_metrics_one(Transactions.from_records(mine), **options)
        except DataError as exc:
            assert str(exc) == error
            return
    raise AssertionError(f"the batch refused the log ({error}) but every customer alone was accepted")

"""``customer_metrics_one``: the metrics of one customer, in plain Python (the per-request path).

Each sum is accumulated in the order the batch path accumulates it (rows by time, ties in input
order, starting from 0.0), so both paths give the same floats bit for bit, not just close ones.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

import numpy as np

from user_ops._table import Table
from user_ops._time import TzLike, as_utc_us, require_aware
from user_ops.exceptions import DataError, value_repr
from user_ops.metrics._options import (
    DEFAULT_WINDOWS,
    Options,
    btyd_period_index,
    column_names,
    make_options,
    overflow_error,
)
from user_ops.metrics._transactions import Transactions

__all__ = ["customer_metrics_one"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ORDINAL_1970 = 719_163  # date(1970, 1, 1).toordinal()


@dataclass
class _Row:
    us: int
    amount: float
    order: Any
    promo: bool
    top: bool


def customer_metrics_one(
    orders: Any,
    *,
    as_of: datetime,
    windows: Sequence[str] = DEFAULT_WINDOWS,
    tz: TzLike | None = None,
    registered_at: datetime | None = None,
    top_price_threshold: float | None = None,
    btyd_period: str = "D",
    btyd_multiplier: float = 1,
    btyd_end: datetime | None = None,
) -> dict[str, Any]:
    """The metrics of one customer from their order lines and refunds, as a dict.

    Gives the same values as the customer's row of [`customer_metrics`][] (the
    same keys, nulls as ``None``, datetimes as aware UTC datetimes); hypothesis tests prove it.

    Parameters
    ----------
    orders:
        The customer's rows: a sequence of mappings (``ordered_at``, ``amount`` and any optional
        transaction column; ``customer_id`` may be left out but, when given, must be one id), a
        [`Table`][] or a [`Transactions`][]. Naive times need a
        zone: build ``Transactions.from_records(rows, tz=...)`` first.
    as_of, windows, tz, btyd_period, btyd_multiplier, btyd_end:
        As for [`customer_metrics`][].
    registered_at:
        When the customer registered (aware), for ``registered_at`` and ``first_order_cycle_days``.
    top_price_threshold:
        The unit price from which a line is top-priced (the batch run's
        ``report.top_price_threshold``); without it ``top_price_share`` is null.

    Raises
    ------
    DataError
        For the same bad input as [`Transactions`][] and
        [`customer_metrics`][], or rows of more than one customer.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> rows = [
    ...     {"ordered_at": "2024-06-01T10:00:00Z", "amount": 100.0, "is_promo": True},
    ...     {"ordered_at": "2024-06-15T10:00:00Z", "amount": 60.0, "is_promo": False},
    ...     {"ordered_at": "2024-06-20T10:00:00Z", "amount": -10.0},
    ... ]
    >>> m = customer_metrics_one(rows, as_of=datetime(2024, 7, 1, tzinfo=timezone.utc))
    >>> m["frequency"], m["monetary"], m["recency_days"], m["repurchase_cycle_days"]
    (2, 150.0, 16, 14.0)
    >>> m["promo_spend_share"], m["orders_30d"], m["spend_30d"]
    (0.625, 2, 150.0)
    """
    options = make_options(
        as_of=as_of,
        windows=windows,
        tz=tz,
        btyd_period=btyd_period,
        btyd_multiplier=btyd_multiplier,
        btyd_end=btyd_end,
    )
    table, customer_id = _one_customer(orders)
    registered = None if registered_at is None else require_aware(registered_at, name="registered_at")
    threshold = _threshold(top_price_threshold)
    rows = _rows(table, options, threshold)
    return _metrics(rows, table, options, customer_id, registered, threshold)


def _threshold(value: float | None) -> float | None:
    if value is None:
        return None
    try:
        infinite = isinstance(value, bool) or not isinstance(value, (int, float)) or math.isinf(value)
    except OverflowError:  # an int beyond float's range
        infinite = True
    if infinite:
        raise DataError(f"top_price_threshold must be a finite number or None, got {value_repr(value)}")
    if math.isnan(value):  # as in customer_metrics: NaN is not "no threshold", pass None for that
        raise DataError("top_price_threshold must be a finite number or None, got nan")
    return float(value)


def _one_customer(orders: Any) -> tuple[Table, Any]:
    if isinstance(orders, Transactions):
        table = orders.table
    else:
        data = orders if isinstance(orders, Table) else _records_table(_records(orders))
        if "customer_id" not in data:
            data = data.with_columns({"customer_id": np.zeros(len(data), dtype=np.int64)})
            table = Transactions(data).table
            return table, None
        table = Transactions(data).table
    ids = table["customer_id"]
    if len(ids) == 0:
        return table, None
    first = ids[0].item() if isinstance(ids[0], np.generic) else ids[0]
    different = np.flatnonzero(ids != ids[0])
    if len(different):
        row = int(different[0])
        raise DataError(
            f"customer_metrics_one() takes one customer's rows; row {row} has customer_id "
            f"{ids[row].item() if isinstance(ids[row], np.generic) else ids[row]!r}, row 0 has {first!r}"
        )
    return table, first


def _records_table(rows: list[Mapping[str, Any]]) -> Table:
    if rows:
        return Table.from_records(rows)
    # No rows: a customer who never bought (or whose rows were all filtered out upstream).
    empty = {"ordered_at": np.zeros(0, "datetime64[us]"), "amount": np.zeros(0, np.float64)}
    return Table._trusted(empty)


def _records(orders: Any) -> list[Mapping[str, Any]]:
    if isinstance(orders, (Mapping, str)) or not isinstance(orders, Sequence):
        raise DataError(
            f"orders must be a sequence of mappings, a Table or Transactions, got {type(orders).__name__}"
        )
    return list(orders)


def _rows(table: Table, options: Options, threshold: float | None) -> list[_Row]:
    """The customer's rows before ``as_of``, in time order (ties: input order)."""
    n = len(table)
    us = table["ordered_at"].view(np.int64).tolist()
    amounts = table["amount"].tolist()
    orders = table["order_id"].tolist() if "order_id" in table else list(range(n))
    promo = [False] * n
    if "is_promo" in table:
        promo = [p or False for p in table["is_promo"].tolist()]
    if "discount" in table:
        promo = [p or d > 0 for p, d in zip(promo, table["discount"].tolist())]
    top = [False] * n
    if threshold is not None and "unit_price" in table:
        top = [price >= threshold for price in table["unit_price"].tolist()]  # NaN >= x is False
    picked = [i for i in range(n) if us[i] < options.as_of_us]
    picked.sort(key=lambda i: us[i])  # stable: ties keep input order, as in the batch sort
    return [_Row(us[i], amounts[i], orders[i], promo[i], top[i]) for i in picked]


def _local_day(us: int, zone: tzinfo) -> int:
    return (_EPOCH + timedelta(microseconds=us)).astimezone(zone).date().toordinal() - _ORDINAL_1970


def _instant(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _metrics(
    rows: list[_Row],
    table: Table,
    options: Options,
    customer_id: Any,
    registered: datetime | None,
    threshold: float | None,
) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(column_names(options.windows))
    out["customer_id"] = customer_id
    out["registered_at"] = None if registered is None else registered.astimezone(timezone.utc)

    # Orders: lines (amount >= 0) sharing an order id; the order's time is its earliest line's.
    order_time: dict[Any, int] = {}
    order_value: dict[Any, float] = {}
    for row in rows:
        if row.amount >= 0:
            order_time.setdefault(row.order, row.us)
            order_value[row.order] = order_value.get(row.order, 0.0) + row.amount
    times = sorted(order_time.values())

    monetary = gross = promo = top = 0.0
    for row in rows:
        line = row.amount >= 0
        monetary += row.amount
        gross += row.amount if line else 0.0
        promo += row.amount if line and row.promo else 0.0
        top += row.amount if line and row.top else 0.0
    frequency = len(times)
    out["frequency"] = frequency
    out["monetary"] = monetary
    _windows(out, rows, order_time, options)
    has_promo = "is_promo" in table or "discount" in table
    out["promo_spend_share"] = promo / gross if has_promo and gross > 0 else None
    has_top = threshold is not None and "unit_price" in table
    out["top_price_share"] = top / gross if has_top and gross > 0 else None
    if frequency:
        _order_columns(out, times, order_value, gross, options, registered)
    _btyd(out, rows, order_time, options)
    column = next((k for k, v in out.items() if isinstance(v, float) and math.isinf(v)), None)
    if column is not None:
        raise overflow_error(customer_id, column)
    return out


def _windows(out: dict[str, Any], rows: list[_Row], order_time: dict[Any, int], options: Options) -> None:
    for text, start in zip(options.windows, options.window_starts_us):
        out[f"orders_{text}"] = sum(1 for t in order_time.values() if t >= start)
        spend = 0.0
        for row in rows:
            # A line counts when its order was placed in the window; a refund when it was made there.
            when = order_time[row.order] if row.amount >= 0 else row.us
            spend += row.amount if when >= start else 0.0
        out[f"spend_{text}"] = spend


def _order_columns(
    out: dict[str, Any],
    times: list[int],
    order_value: dict[Any, float],
    gross: float,
    options: Options,
    registered: datetime | None,
) -> None:
    zone = options.zone
    today = _local_day(options.as_of_us, zone)
    first_day, last_day = _local_day(times[0], zone), _local_day(times[-1], zone)
    out["first_order_at"] = _instant(times[0])
    out["last_order_at"] = _instant(times[-1])
    out["recency_days"] = today - last_day
    out["tenure_days"] = today - first_day
    out["avg_order_value"] = gross / len(times)
    out["max_order_value"] = max(order_value.values())
    days = sorted({_local_day(t, zone) for t in times})
    gaps = sorted(b - a for a, b in itertools.pairwise(days))
    if gaps:
        cycle = (gaps[(len(gaps) - 1) // 2] + gaps[len(gaps) // 2]) / 2.0
        out["repurchase_cycle_days"] = cycle
        out["days_overdue"] = out["recency_days"] - cycle
    if registered is not None:
        out["first_order_cycle_days"] = first_day - _local_day(as_utc_us(registered), zone)


def _btyd(out: dict[str, Any], rows: list[_Row], order_time: dict[Any, int], options: Options) -> None:
    """lifetimes' ``summary_data_from_transaction_data`` over the orders before ``btyd_end``."""
    end, zone, unit = options.btyd_end_us, options.zone, options.btyd_period
    period_of = {
        order: btyd_period_index(_local_day(t, zone), unit) for order, t in order_time.items() if t < end
    }
    if not period_of:
        return
    spend: dict[int, float] = {}
    for row in rows:
        if row.amount >= 0 and row.order in period_of:
            period = period_of[row.order]
            spend[period] = spend.get(period, 0.0) + row.amount
    periods = sorted(spend)
    last = btyd_period_index(_local_day(end - 1, zone), unit)
    repeats = len(periods) - 1
    out["repeat_frequency"] = repeats
    out["recency_age"] = float(periods[-1] - periods[0]) / options.btyd_multiplier
    out["T"] = float(last - periods[0]) / options.btyd_multiplier
    total = 0.0
    for period in periods[1:]:
        total += spend[period]
    out["mean_repeat_spend"] = total / repeats if repeats else 0.0

"""What both paths share: checked options, the output column names, and the run report."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Literal, cast

import numpy as np

from user_ops._table import Table
from user_ops._time import Duration, TzLike, as_utc_us, get_tz, parse_duration, require_aware
from user_ops.exceptions import DataError, value_repr

__all__ = [
    "BTYD_COLUMNS",
    "MetricsReport",
    "Options",
    "column_names",
    "counts_table",
    "make_options",
    "overflow_error",
]

BtydPeriod = Literal["D", "W"]
#: The trailing windows ``customer_metrics`` counts orders and spend in by default (``orders_30d``, ...).
DEFAULT_WINDOWS = ("30d", "90d", "365d")
_US_PER_DAY = 86_400_000_000

#: The "buy till you die" summary columns, in lifetimes / PyMC-Marketing terms:
#: frequency, recency, T, monetary_value.
BTYD_COLUMNS = ("repeat_frequency", "recency_age", "T", "mean_repeat_spend")


@dataclass(frozen=True)
class Options:
    """Checked options of one metrics run (the same object drives the batch and the scalar path)."""

    as_of: datetime
    as_of_us: int
    zone: tzinfo
    windows: tuple[str, ...]
    window_starts_us: tuple[int, ...]
    btyd_period: BtydPeriod
    btyd_multiplier: float
    btyd_end: datetime
    btyd_end_us: int


def make_options(
    *,
    as_of: Any,
    windows: Any,
    tz: TzLike | None,
    btyd_period: Any,
    btyd_multiplier: Any,
    btyd_end: Any,
) -> Options:
    """Validate the options both entry points take (``DataError`` naming the bad one)."""
    aware = require_aware(as_of, name="as_of")
    zone = get_tz(tz) if tz is not None else _zone_of(aware)
    texts = _windows(windows)
    starts = tuple(as_utc_us(parse_duration(w).subtract_from(aware, zone)) for w in texts)
    end = aware if btyd_end is None else require_aware(btyd_end, name="btyd_end")
    if end > aware:
        raise DataError(f"btyd_end ({end.isoformat()}) must not be after as_of ({aware.isoformat()})")
    if not isinstance(btyd_period, str) or btyd_period not in ("D", "W"):
        raise DataError(f"btyd_period must be 'D' (days) or 'W' (weeks), got {btyd_period!r}")
    if isinstance(btyd_multiplier, bool) or not isinstance(btyd_multiplier, (int, float)):
        raise DataError(f"btyd_multiplier must be a positive number, got {btyd_multiplier!r}")
    if not 0 < btyd_multiplier <= sys.float_info.max:  # exact for ints: 10**400 has no float
        raise DataError(f"btyd_multiplier must be a positive number, got {btyd_multiplier!r}")
    return Options(
        as_of=aware,
        as_of_us=as_utc_us(aware),
        zone=zone,
        windows=texts,
        window_starts_us=starts,
        btyd_period=cast(BtydPeriod, btyd_period),
        btyd_multiplier=float(btyd_multiplier),
        btyd_end=end,
        btyd_end_us=as_utc_us(end),
    )


def _zone_of(as_of: datetime) -> tzinfo:
    zone = as_of.tzinfo
    assert zone is not None  # require_aware checked it
    return zone


def _windows(windows: Any) -> tuple[str, ...]:
    if isinstance(windows, (str, bytes)) or not isinstance(windows, Sequence):
        raise DataError(f"windows must be a list of durations like ['30d', '90d'], got {value_repr(windows)}")
    texts = tuple(windows)
    for text in texts:
        if not isinstance(text, str):
            raise DataError(
                f"windows must be durations like '30d', got {type(text).__name__}: {value_repr(text)}"
            )
        duration: Duration = parse_duration(text)
        if duration == Duration():
            raise DataError(f"window {text!r} is empty; use a positive duration like '30d'")
    if len(set(texts)) != len(texts):
        twice = next(t for t in texts if texts.count(t) > 1)
        raise DataError(f"window {twice!r} is given twice")
    return texts


def column_names(windows: Sequence[str]) -> tuple[str, ...]:
    """The output columns of [`customer_metrics`][], in order, for these windows.

    Parameters
    ----------
    windows:
        Durations such as ``["30d", "90d"]``; each adds an ``orders_<w>`` and a ``spend_<w>`` column.

    Returns
    -------
    tuple of str
        The column names, ``customer_id`` first and the [`BTYD_COLUMNS`][] last.

    Examples
    --------
    >>> columns = column_names(["7d"])
    >>> columns[:2], [c for c in columns if c.endswith("_7d")]
    (('customer_id', 'registered_at'), ['orders_7d', 'spend_7d'])
    >>> columns[-4:] == BTYD_COLUMNS
    True
    """
    windows = _windows(windows)
    return (
        "customer_id",
        "registered_at",
        "first_order_at",
        "last_order_at",
        "recency_days",
        "frequency",
        "monetary",
        "avg_order_value",
        "max_order_value",
        "tenure_days",
        *(f"orders_{w}" for w in windows),
        *(f"spend_{w}" for w in windows),
        "repurchase_cycle_days",
        "days_overdue",
        "promo_spend_share",
        "top_price_share",
        "first_order_cycle_days",
        *BTYD_COLUMNS,
    )


def overflow_error(customer_id: Any, column: str) -> DataError:
    """The error for a metric whose sum of amounts went past float64's range (about ±1.8e308).

    Both paths raise it for the first customer (in id order) with an infinite metric, naming the first
    such column in output order: an infinite spend is no answer, and the amounts were finite.
    """
    who = "the customer" if customer_id is None else f"customer {customer_id!r}"
    return DataError(
        f"{who}: {column} overflows: its amounts add up beyond the float range (about ±1.8e308); "
        "check the amounts' unit"
    )


def btyd_period_index(day: int, period: BtydPeriod) -> int:
    """The period (day, or Monday-started week) a local day (days since 1970-01-01) falls in."""
    # 1970-01-01 was a Thursday: shifting by 3 puts every Monday at a multiple of 7, as pandas'
    # "W" periods (weeks ending on Sunday) that lifetimes uses.
    return day if period == "D" else (day + 3) // 7


@dataclass(frozen=True)
class MetricsReport:
    """What a [`customer_metrics`][] run read, left out and decided.

    Attributes
    ----------
    rows:
        Transaction rows given.
    rows_used:
        Rows strictly before ``as_of`` (the ones the metrics read).
    rows_after_as_of:
        Rows at or after ``as_of``, left out (windows are ``[start, as_of)``).
    refund_rows:
        Used rows with a negative amount (refunds: they reduce spend, they are not orders).
    orders:
        Orders among the used rows (lines sharing a customer and ``order_id`` are one order).
    customers:
        Rows of the result (customers with a used row, plus customers from ``customers=``).
    customers_without_orders:
        Result rows with no order (only refunds, or registered and never bought).
    customers_registered_after_as_of:
        Customers from ``customers=`` registered at or after ``as_of`` with no used row: left out.
    top_price_threshold:
        The unit price from which a line is top-priced, ``None`` without ``unit_price``.
    as_of, tz, windows:
        The run's ``as_of``, business time zone (its name) and windows.
    btyd_end, btyd_period, btyd_multiplier:
        The "buy till you die" observation end and unit.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops.metrics import Transactions, customer_metrics
    >>> tx = Transactions({"customer_id": [1, 1, 2, 2], "amount": [30.0, -10.0, 5.0, 8.0],
    ...                    "ordered_at": ["2024-06-01", "2024-06-09", "2024-06-20", "2024-07-02"]}, tz="UTC")
    >>> report = customer_metrics(tx, as_of=datetime(2024, 7, 1, tzinfo=timezone.utc)).report
    >>> report.rows_used, report.rows_after_as_of, report.refund_rows, report.orders
    (3, 1, 1, 2)
    >>> report.describe()
    '4 rows: 3 used, 1 at or after as_of (left out), 1 refunds; 2 orders; 2 customers (0 without orders)'
    >>> report.summary().to_dicts()[:2]
    [{'measure': 'rows', 'value': 4}, {'measure': 'rows_used', 'value': 3}]
    """

    rows: int
    rows_used: int
    rows_after_as_of: int
    refund_rows: int
    orders: int
    customers: int
    customers_without_orders: int
    customers_registered_after_as_of: int
    top_price_threshold: float | None
    as_of: datetime
    tz: str
    windows: tuple[str, ...]
    btyd_end: datetime
    btyd_period: str
    btyd_multiplier: float

    def summary(self) -> Table:
        """The run's counts as a [`Table`][user_ops.Table]: ``measure`` (the field's name) and ``value``."""
        return counts_table(
            self,
            (
                "rows",
                "rows_used",
                "rows_after_as_of",
                "refund_rows",
                "orders",
                "customers",
                "customers_without_orders",
                "customers_registered_after_as_of",
            ),
        )

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        """One line for logs, e.g. ``"1,000 rows: 990 used, 10 at or after as_of (left out) ..."``."""
        return (
            f"{self.rows:,} rows: {self.rows_used:,} used, {self.rows_after_as_of:,} at or after as_of "
            f"(left out), {self.refund_rows:,} refunds; {self.orders:,} orders; {self.customers:,} "
            f"customers ({self.customers_without_orders:,} without orders)"
        )


def counts_table(report: object, names: tuple[str, ...], extra: dict[str, int] | None = None) -> Table:
    """A report's integer fields (and ``extra`` counts) as a two-column Table: ``measure``, ``value``."""
    measures = list(names) + list(extra or {})
    values = [int(getattr(report, name)) for name in names] + list((extra or {}).values())
    return Table({"measure": np.array(measures, dtype=object), "value": np.array(values, dtype=np.int64)})


def zone_name(zone: tzinfo) -> str:
    """A readable name of a zone (IANA key when there is one)."""
    key = getattr(zone, "key", None)
    return str(key) if key else str(zone)


US_PER_DAY = _US_PER_DAY

"""``customer_metrics``: every customer's metrics at once, vectorized with numpy.

The plan: keep the rows before ``as_of``; sort them once by (customer, time, input position); find
the orders (their first lines, "heads", in the same order); then every metric is a ``bincount`` (sums
and counts, accumulated in row order so the scalar path can repeat them exactly), a ``reduceat``
(maxima), or an index into per-customer group boundaries. No Python loop runs per customer or row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from user_ops._table import Table, parse_instants
from user_ops._time import TzLike, local_days
from user_ops.exceptions import DataError, value_repr
from user_ops.metrics._options import (
    DEFAULT_WINDOWS,
    MetricsReport,
    Options,
    column_names,
    make_options,
    overflow_error,
    zone_name,
)
from user_ops.metrics._transactions import Transactions

__all__ = ["CustomerMetrics", "customer_metrics"]

Array = np.ndarray[Any, Any]
_NAT = np.datetime64("NaT", "us")


class CustomerMetrics(Table):
    """The result of [`customer_metrics`][]: a [`Table`][] that also carries its
    [`MetricsReport`][] (``.report``): rows used and left out, refunds, the top-price threshold.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> m = customer_metrics({"customer_id": [1], "amount": [5.0],
    ...                       "ordered_at": [datetime(2024, 6, 1, tzinfo=timezone.utc)]},
    ...                      as_of=datetime(2024, 6, 2, tzinfo=timezone.utc))
    >>> m.report.rows_used, m["frequency"]
    (1, array([1]))
    """

    __slots__ = ("_report",)
    _report: MetricsReport

    @classmethod
    def _build(cls, columns: dict[str, Array], report: MetricsReport) -> CustomerMetrics:
        table = cls.__new__(cls)
        table._adopt(columns)
        table._report = report
        return table

    @property
    def report(self) -> MetricsReport:
        """What the run read, left out and decided."""
        report: MetricsReport = self._report
        return report

    def __repr__(self) -> str:
        return f"CustomerMetrics({len(self)} customers; {self._report.describe()})"


def customer_metrics(
    transactions: Any,
    *,
    as_of: datetime,
    windows: Sequence[str] = DEFAULT_WINDOWS,
    tz: TzLike | None = None,
    customers: Any = None,
    top_price_quantile: float = 0.9,
    top_price_threshold: float | None = None,
    btyd_period: str = "D",
    btyd_multiplier: float = 1,
    btyd_end: datetime | None = None,
) -> CustomerMetrics:
    """Per-customer purchase metrics (R, F, M, windows, repurchase cycle, shares, BTYD summary).

    Every column is defined in ``docs/metrics.md``; in short, with days counted on the calendar of
    the business zone ``tz`` and windows half-open ``[as_of - w, as_of)``:

    ``customer_id``, ``registered_at``, ``first_order_at``, ``last_order_at``, ``recency_days``,
    ``frequency`` (orders), ``monetary`` (spend net of refunds), ``avg_order_value``,
    ``max_order_value``, ``tenure_days``, ``orders_<w>`` and ``spend_<w>`` per window,
    ``repurchase_cycle_days`` (median gap between purchase days), ``days_overdue``,
    ``promo_spend_share``, ``top_price_share``, ``first_order_cycle_days``, and the lifetimes /
    PyMC-Marketing summary ``repeat_frequency``, ``recency_age``, ``T``, ``mean_repeat_spend``.

    Parameters
    ----------
    transactions:
        A [`Transactions`][], or data it accepts (canonical column names).
    as_of:
        Timezone-aware end of the observation: rows at or after it are left out (and counted in
        ``report.rows_after_as_of``).
    windows:
        Durations (``"30d"``, ``"3mo"``, ...); each gives ``orders_<w>`` and ``spend_<w>`` named by the
        text as given.
    tz:
        Business time zone whose calendar counts days and calendar windows (default: the zone of
        ``as_of``, as everywhere in ``user_ops``).
    customers:
        Optional customers (``customer_id`` and optionally ``registered_at``; a Table, mapping, records
        or frame): adds ``registered_at`` and rows for customers who never bought.
    top_price_quantile:
        Quantile of all order lines' unit prices from which a line is top-priced (default 0.9).
    top_price_threshold:
        A fixed unit price instead of the quantile (to score periods alike).
    btyd_period, btyd_multiplier, btyd_end:
        "Buy till you die" unit (``"D"`` days or ``"W"`` weeks, divided by ``btyd_multiplier``,
        lifetimes' ``freq`` and ``freq_multiplier``) and end of the observation (default ``as_of``).

    Returns
    -------
    CustomerMetrics
        A Table, one row per customer, sorted by ``customer_id``, with ``.report``.

    Raises
    ------
    DataError
        For bad transactions or customers, a naive ``as_of``, a bad window or option.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> tx = Transactions({
    ...     "customer_id": ["ann", "ann", "ann", "bob"],
    ...     "ordered_at": ["2024-06-01T09:00Z", "2024-06-11T09:00Z", "2024-06-12T09:00Z",
    ...                    "2024-07-02T09:00Z"],
    ...     "amount": [50.0, 30.0, -5.0, 99.0],
    ... })
    >>> m = customer_metrics(tx, as_of=datetime(2024, 7, 1, tzinfo=timezone.utc), windows=["30d"])
    >>> m["customer_id"], m["frequency"], m["monetary"], m["recency_days"]
    (array(['ann'], dtype=object), array([2]), array([75.]), array([20]))
    >>> m.report.rows_after_as_of
    1
    """
    tx = transactions if isinstance(transactions, Transactions) else Transactions(transactions)
    options = make_options(
        as_of=as_of,
        windows=windows,
        tz=tz,
        btyd_period=btyd_period,
        btyd_multiplier=btyd_multiplier,
        btyd_end=btyd_end,
    )
    rows, threshold = _sorted_rows(tx.table, options, top_price_quantile, top_price_threshold)
    orders = _orders(rows)
    rows_used, refund_rows, ids = rows.n, int(rows.n - np.count_nonzero(rows.line)), rows.ids
    order_count = len(orders.time)
    columns, line_amount = _row_columns(rows, orders, options)
    del rows  # the row-long arrays go before the order-level metrics: they need only the orders
    columns.update(_order_columns(orders, ids, line_amount, options))
    del orders, line_amount
    extra = None if customers is None else _read_customers(customers, tx)
    columns, registered_after = _with_customers(columns, ids, extra, options)
    ordered = {name: columns[name] for name in column_names(options.windows)}
    _refuse_overflow(ordered)
    frequency = ordered["frequency"]
    report = MetricsReport(
        rows=len(tx),
        rows_used=rows_used,
        rows_after_as_of=len(tx) - rows_used,
        refund_rows=refund_rows,
        orders=order_count,
        customers=len(frequency),
        customers_without_orders=int(np.count_nonzero(frequency == 0)),
        customers_registered_after_as_of=registered_after,
        top_price_threshold=threshold,
        as_of=options.as_of,
        tz=zone_name(options.zone),
        windows=options.windows,
        btyd_end=options.btyd_end,
        btyd_period=options.btyd_period,
        btyd_multiplier=options.btyd_multiplier,
    )
    return CustomerMetrics._build(ordered, report)


def _refuse_overflow(columns: dict[str, Array]) -> None:
    """Raise for the first customer with a sum past the float range, naming its first such column."""
    infinite = {}
    for name, values in columns.items():
        if values.dtype.kind == "f":
            mask = np.isinf(values)  # NaN is a null, not an overflow
            if mask.any():
                infinite[name] = mask
    if not infinite:
        return
    first = min(int(np.argmax(mask)) for mask in infinite.values())
    column = next(name for name, mask in infinite.items() if mask[first])
    customer = columns["customer_id"][first]
    raise overflow_error(customer.item() if isinstance(customer, np.generic) else customer, column)


# -- rows ---------------------------------------------------------------------------------------------
@dataclass
class _Rows:
    """The rows before ``as_of`` sorted by (customer, time, input position)."""

    n: int
    ids: Array  # distinct customer ids, sorted (one per customer code)
    code: Array  # customer code per row (intp, nondecreasing)
    time: Array  # UTC microseconds (int64)
    amount: Array  # float64
    line: Array  # amount >= 0: an order line (else a refund)
    order_id: Array | None
    promo: Array | None  # promo flag per row, None when the log has no promo information
    top: Array | None  # unit price at or above the threshold, None without prices or threshold

    @property
    def customers(self) -> int:
        return len(self.ids)


def _sorted_rows(table: Table, options: Options, quantile: Any, fixed: Any) -> tuple[_Rows, float | None]:
    time = table["ordered_at"].view(np.int64)
    keep = time < options.as_of_us
    everything = bool(keep.all())

    def used(name: str) -> Array | None:
        if name not in table:
            return None
        column: Array = table[name]
        return column if everything else column[keep]

    # Each filtered column lives only until its sorted copy is made (peak memory follows the log).
    amount = used("amount")
    assert amount is not None
    threshold, top = _top_flags(used("unit_price"), amount, quantile, fixed)
    time = time if everything else time[keep]
    ids, code, order = _customer_order(used("customer_id"), time)

    def sort(column: Array | None) -> Array | None:
        return None if column is None else column[order]

    time = time[order]
    amount = amount[order]
    top = sort(top)
    promo = sort(_promo_flags(used("is_promo"), used("discount")))
    rows = _Rows(
        n=len(time),
        ids=ids,
        code=code,
        time=time,
        amount=amount,
        line=amount >= 0,
        order_id=sort(used("order_id")),
        promo=promo,
        top=top,
    )
    return rows, threshold


def _promo_flags(is_promo: Array | None, discount: Array | None) -> Array | None:
    if is_promo is None and discount is None:
        return None
    if discount is None:
        return is_promo
    flagged: Array = discount > 0
    return flagged if is_promo is None else is_promo | flagged


def _customer_order(customer_id: Array | None, time: Array) -> tuple[Array, Array, Array]:
    """Distinct ids, each sorted row's customer code, and the sorting permutation.

    One ``argsort`` of a combined integer key ``customer * n + time rank`` puts rows in (customer,
    time, input position) order; when the log is already in time order (the usual case) the rank is
    the row number and no time sort is needed. Row-long temporaries are built in chunks.
    """
    assert customer_id is not None
    n = len(time)
    if n == 0:
        return customer_id[:0], np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    direct = customer_id.dtype.kind == "i" and _fits(customer_id, n)
    if direct:
        # Integer ids with a small enough range sort directly: no separate factorizing sort.
        key = customer_id - customer_id.min()
    else:
        distinct, codes = _factorize(customer_id)
        key = codes.astype(np.int64)
        del codes
    key *= n
    if n > 1 and _nondecreasing(time):
        for start in range(0, n, _CHUNK):  # already in time order: the rank is the row number
            stop = min(start + _CHUNK, n)
            key[start:stop] += np.arange(start, stop, dtype=np.int64)
    else:
        rank = np.empty(n, dtype=np.int64)
        rank[np.argsort(time, kind="stable")] = np.arange(n, dtype=np.int64)
        key += rank
        del rank
    order = np.argsort(key)  # keys are distinct, so any sort is stable here
    del key
    new = np.empty(n, dtype=np.bool_)
    new[0] = True
    for start in range(1, n, _CHUNK):  # a customer starts where the sorted id changes
        stop = min(start + _CHUNK, n)
        sorted_ids = customer_id[order[start - 1 : stop]]
        np.not_equal(sorted_ids[1:], sorted_ids[:-1], out=new[start:stop])
    ids = customer_id[order[new]] if direct else distinct
    code = np.cumsum(new, dtype=np.intp)
    code -= 1
    return ids, code, order


_CHUNK = 1 << 20


def _nondecreasing(values: Array) -> bool:
    for start in range(1, len(values), _CHUNK):
        stop = min(start + _CHUNK, len(values))
        if not bool((values[start:stop] >= values[start - 1 : stop - 1]).all()):
            return False
    return True


def _fits(ids: Array, n: int) -> bool:
    span = int(ids.max()) - int(ids.min()) + 1
    return span * n < 2**62


def _factorize(ids: Array) -> tuple[Array, Array]:
    """Sorted distinct values and each value's index among them (strings through a dict, not a sort)."""
    if ids.dtype.kind != "O":
        distinct, codes = np.unique(ids, return_inverse=True)
        return distinct, codes.reshape(-1)
    seen: dict[Any, int] = {}
    first = np.fromiter(map(seen.setdefault, ids.tolist(), range(len(ids))), dtype=np.int64, count=len(ids))
    # Row numbers of first occurrences -> dense codes in order of first appearance.
    first_rows = np.fromiter(seen.values(), dtype=np.int64, count=len(seen))
    dense = np.empty(len(ids), dtype=np.int64)
    dense[first_rows] = np.arange(len(first_rows))
    appearance = dense[first]
    values = np.empty(len(first_rows), dtype=object)
    values[:] = list(seen)
    by_value = np.argsort(values)
    rank = np.empty(len(values), dtype=np.int64)
    rank[by_value] = np.arange(len(values))
    return values[by_value], rank[appearance]


# -- orders ---------------------------------------------------------------------------------------
@dataclass
class _Orders:
    """Orders in (customer, time) order, and which order each line row belongs to."""

    code: Array  # customer code per order
    time: Array  # UTC microseconds of the order's earliest line
    value: Array  # sum of the order's lines, accumulated in row order
    of_line: Array | None  # per line row (in row order): index of its order; None: each line is one
    start: Array  # per customer: index of the first order
    count: Array  # per customer: number of orders


def _orders(rows: _Rows) -> _Orders:
    if rows.order_id is None:
        line = rows.line
        code = rows.code[line]
        order = _Orders(code, rows.time[line], rows.amount[line], None, code, code)
    else:
        line_rows = np.flatnonzero(rows.line)
        order = _grouped_orders(rows, line_rows, rows.code[line_rows])
        del line_rows
    count = np.bincount(order.code, minlength=rows.customers)
    order.count = count
    order.start = np.cumsum(count) - count
    return order


def _grouped_orders(rows: _Rows, line_rows: Array, code: Array) -> _Orders:
    """Lines sharing (customer, order_id) are one order, placed at its earliest line."""
    assert rows.order_id is not None
    _, oid = _factorize(rows.order_id[line_rows])
    _, group = np.unique(code.astype(np.int64) * (int(oid.max(initial=0)) + 1) + oid, return_inverse=True)
    group = group.reshape(-1)
    # Rows are in time order within a customer, so an order's first row is its earliest line.
    first = np.full(int(group.max(initial=-1)) + 1, len(line_rows), dtype=np.intp)
    np.minimum.at(first, group, np.arange(len(line_rows), dtype=np.intp))
    is_head = np.zeros(len(line_rows), dtype=np.bool_)
    is_head[first] = True
    head_index = np.cumsum(is_head, dtype=np.intp) - 1  # order number (time order) of head rows
    of_group = head_index[first]
    of_line = of_group[group]
    value = np.bincount(of_line, weights=rows.amount[line_rows], minlength=len(first))
    heads = line_rows[is_head]
    return _Orders(rows.code[heads], rows.time[heads], value, of_line, code, code)


# -- metrics --------------------------------------------------------------------------------------
def _row_columns(rows: _Rows, orders: _Orders, options: Options) -> tuple[dict[str, Array], Array | None]:
    """The metrics that read the rows (sums over lines and refunds, windows, shares), and the line
    amounts in row order when orders group several lines (the BTYD spend needs them)."""
    k = rows.customers
    has = orders.count > 0
    out: dict[str, Array] = {"customer_id": rows.ids}
    out["frequency"] = orders.count.astype(np.int64)
    out["monetary"] = _sum(rows.code, rows.amount, k)
    # One row-long scratch buffer holds the weights of every masked sum (gross, windows, shares).
    scratch = np.empty(rows.n, dtype=np.float64)
    gross = _masked_sum(rows, rows.line, scratch)
    out["avg_order_value"] = np.where(has, gross / np.maximum(orders.count, 1), np.nan)
    out.update(_window_columns(rows, orders, options, scratch))
    out["promo_spend_share"] = _share(rows, rows.promo, gross, scratch)
    out["top_price_share"] = _share(rows, rows.top, gross, scratch)
    del scratch
    line_amount = None if orders.of_line is None else rows.amount[rows.line]
    return out, line_amount


def _order_columns(
    orders: _Orders, ids: Array, line_amount: Array | None, options: Options
) -> dict[str, Array]:
    """The metrics that read only the orders: first / last, recency, tenure, cycle, BTYD."""
    k = len(ids)
    has = orders.count > 0
    out: dict[str, Array] = {}
    day = local_days(orders.time, options.zone)
    today = int(local_days(np.array([options.as_of_us], dtype=np.int64), options.zone)[0])
    first, last = orders.start[has], orders.start[has] + orders.count[has] - 1
    out["first_order_at"] = _fill_times(k, has, orders.time[first])
    out["last_order_at"] = _fill_times(k, has, orders.time[last])
    out["recency_days"] = _fill_ints(k, has, today - day[last])
    out["tenure_days"] = _fill_ints(k, has, today - day[first])
    out["max_order_value"] = _fill_floats(k, has, np.maximum.reduceat(orders.value, orders.start[has]))
    cycle = _median_gaps(orders.code, day, k)
    out["repurchase_cycle_days"] = cycle
    out["days_overdue"] = np.ma.getdata(out["recency_days"]) - cycle  # NaN wherever the cycle is null
    out.update(_btyd_columns(orders, k, line_amount, day, options))
    return out


def _sum(code: Array, weights: Array, k: int) -> Array:
    # bincount adds in array order: the scalar path repeats the same additions in the same order.
    return np.bincount(code, weights=weights, minlength=k).astype(np.float64)


def _masked_sum(rows: _Rows, mask: Array, scratch: Array) -> Array:
    """Per customer, the sum of the amounts of the rows in ``mask`` (the others add 0.0)."""
    scratch.fill(0.0)
    np.copyto(scratch, rows.amount, where=mask)
    return _sum(rows.code, scratch, rows.customers)


def _share(rows: _Rows, flag: Array | None, gross: Array, scratch: Array) -> Array:
    if flag is None:
        return np.full(rows.customers, np.nan)
    part = _masked_sum(rows, rows.line & flag, scratch)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(gross > 0, part / gross, np.nan)


def _window_columns(rows: _Rows, orders: _Orders, options: Options, scratch: Array) -> dict[str, Array]:
    k = rows.customers
    # A line counts in a window when its order was placed there; a refund when it was made there.
    when = rows.time
    if orders.of_line is not None:
        when = rows.time.copy()
        when[rows.line] = orders.time[orders.of_line]
    out: dict[str, Array] = {}
    for text, start in zip(options.windows, options.window_starts_us):
        out[f"orders_{text}"] = np.bincount(orders.code[orders.time >= start], minlength=k).astype(np.int64)
        out[f"spend_{text}"] = _masked_sum(rows, when >= start, scratch)
    return out


def _median_gaps(code: Array, day: Array, k: int) -> Array:
    """Median gap in days between a customer's consecutive distinct purchase days (NaN: < 2 days)."""
    out = np.full(k, np.nan)
    if len(day) < 2:
        return out
    # A customer's day is constant between its distinct days, so each gap between consecutive
    # distinct days is the step from the previous order's day where the day changes.
    step = day[1:] - day[:-1]
    at = step != 0
    at &= code[1:] == code[:-1]
    gaps = step[at]
    del step
    key = code[1:][at].astype(np.int64, copy=False)  # the owner of each gap, then the sort key
    del at
    if len(gaps) == 0:
        return out
    count = np.bincount(key, minlength=k)
    # One sort of (customer, gap) keys orders each customer's gaps; owners are already grouped, so
    # after the sort position i still belongs to the same owner. Built and sorted in place.
    width = int(gaps.max()) + 1
    key *= width
    key += gaps
    del gaps
    key.sort()
    with_gaps = count > 0
    start = (np.cumsum(count) - count)[with_gaps]
    size = count[with_gaps]
    base = np.flatnonzero(with_gaps).astype(np.int64) * width
    low, high = key[start + (size - 1) // 2] - base, key[start + size // 2] - base
    out[with_gaps] = (low + high) / 2.0
    return out


def _btyd_columns(
    orders: _Orders, k: int, line_amount: Array | None, day: Array, options: Options
) -> dict[str, Array]:
    """lifetimes' ``summary_data_from_transaction_data`` (orders as transactions, order values as money).

    ``line_amount``: the lines' amounts in row order, when orders group several lines.
    """
    seen = orders.time < options.btyd_end_us
    all_seen = bool(seen.all())
    period = day if options.btyd_period == "D" else (day + 3) // 7
    end_day = int(local_days(np.array([options.btyd_end_us - 1], dtype=np.int64), options.zone)[0])
    last_period = end_day if options.btyd_period == "D" else (end_day + 3) // 7
    code = orders.code if all_seen else orders.code[seen]
    per = period if all_seen else period[seen]
    del period
    # (customer, period) groups of the seen orders, in order.
    new = np.ones(len(per), dtype=np.bool_)
    np.not_equal(code[1:], code[:-1], out=new[1:])
    new[1:] |= per[1:] != per[:-1]
    group = np.cumsum(new, dtype=np.intp)
    group -= 1
    groups = int(group[-1]) + 1 if len(group) else 0
    # Period spend: the lines of the period's orders, summed in row order like every other sum.
    if orders.of_line is None:  # one line per order: the order values are the line amounts
        spend = np.bincount(group, weights=orders.value if all_seen else orders.value[seen], minlength=groups)
        del group
    else:
        assert line_amount is not None
        order_group = np.full(len(orders.time), -1, dtype=np.intp)
        order_group[seen] = group
        del group
        line_group = order_group[orders.of_line]
        del order_group
        counted = line_group >= 0
        spend = np.bincount(line_group[counted], weights=line_amount[counted], minlength=groups)
        del line_group, counted
    owner = code[new]
    del new
    first_of_customer = np.ones(len(owner), dtype=np.bool_)
    np.not_equal(owner[1:], owner[:-1], out=first_of_customer[1:])
    periods = np.bincount(owner, minlength=k)
    spend[first_of_customer] = 0.0  # a customer's first period is not a repeat
    repeat_spend = _sum(owner, spend, k)
    del owner, spend, first_of_customer
    has = periods > 0
    repeats = periods - 1
    # A customer's first and last groups hold their first and last seen orders.
    seen_count = orders.count if all_seen else np.bincount(code, minlength=k)
    seen_start = (np.cumsum(seen_count) - seen_count)[has]
    first_period = per[seen_start]
    last_of_period = per[seen_start + seen_count[has] - 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(repeats > 0, repeat_spend / np.maximum(repeats, 1), 0.0)
    multiplier = options.btyd_multiplier
    return {
        "repeat_frequency": _fill_ints(k, has, repeats[has]),
        "recency_age": _fill_floats(k, has, (last_of_period - first_period) / multiplier),
        "T": _fill_floats(k, has, (last_period - first_period) / multiplier),
        "mean_repeat_spend": np.where(has, mean, np.nan),
    }


# -- filling nulls ------------------------------------------------------------------------------------
def _fill_ints(k: int, has: Array, values: Array) -> Array:
    out = np.zeros(k, dtype=np.int64)
    out[has] = values
    if bool(has.all()):
        return out
    return np.ma.MaskedArray(out, mask=~has)


def _fill_floats(k: int, has: Array, values: Array) -> Array:
    out = np.full(k, np.nan)
    out[has] = values
    return out


def _fill_times(k: int, has: Array, us: Array) -> Array:
    out = np.full(k, _NAT)
    out[has] = us.view("datetime64[us]")
    return out


def _top_flags(
    unit_price: Array | None, amount: Array, quantile: Any, fixed: Any
) -> tuple[float | None, Array | None]:
    """The top-price threshold and, per row, whether the line's unit price reaches it."""
    if fixed is not None:
        if isinstance(fixed, bool) or not isinstance(fixed, (int, float)) or not _finite(fixed):
            raise DataError(f"top_price_threshold must be a finite number, got {value_repr(fixed)}")
    elif isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or not 0 <= quantile <= 1:
        raise DataError(f"top_price_quantile must be a number from 0 to 1, got {quantile!r}")
    if unit_price is None:
        return None, None
    if fixed is not None:
        threshold = float(fixed)
    else:
        prices = unit_price[(amount >= 0) & ~np.isnan(unit_price)]
        if len(prices) == 0:
            return None, None
        threshold = float(np.quantile(prices, quantile))
    return threshold, unit_price >= threshold  # NaN (an unknown price) is never top-priced


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float's range
        return False


# -- customers ----------------------------------------------------------------------------------------
@dataclass
class _Customers:
    ids: Array
    registered_us: Array  # int64, NaT's integer where unknown
    known: Array  # registered_at given


def _read_customers(customers: Any, tx: Transactions) -> _Customers:
    table = Table.coerce(customers, tz=tx.tz)
    if "customer_id" not in table:
        raise DataError(f"customers need a 'customer_id' column (got {', '.join(table.columns) or 'none'})")
    null = table.null_mask("customer_id")
    if null is not None:
        row = int(np.argmax(null))
        raise DataError(f"customers column 'customer_id' row {row} is null")
    ids = np.ma.getdata(table["customer_id"])
    kind = table.kind("customer_id")
    tx_kind = tx.table.kind("customer_id")
    if len(table) and kind != tx_kind and len(tx):
        raise DataError(f"customers' customer_id holds {kind} values but the transactions' hold {tx_kind}")
    if kind not in ("int", "str") and len(table):
        raise DataError(f"customers column 'customer_id' must hold ints or strings, got {kind}")
    _check_unique(ids)
    registered = _registered_us(table, tx)
    return _Customers(ids, registered, ~np.isnat(registered.view("datetime64[us]")))


def _check_unique(ids: Array) -> None:
    if len(ids) < 2:
        return
    distinct, _first, counts = np.unique(ids, return_index=True, return_counts=True)
    if (counts > 1).any():
        value = distinct[np.argmax(counts > 1)]
        value = value.item() if isinstance(value, np.generic) else value
        rows = np.flatnonzero(ids == value)[:2].tolist()
        raise DataError(f"customers column 'customer_id' has {value!r} twice (rows {rows[0]} and {rows[1]})")


def _registered_us(table: Table, tx: Transactions) -> Array:
    if "registered_at" not in table:
        return np.full(len(table), _NAT).view(np.int64)
    kind = table.kind("registered_at")
    column = table["registered_at"]
    if kind == "null":
        return np.full(len(table), _NAT).view(np.int64)
    if kind == "str":
        known = table.null_mask("registered_at")
        out = np.full(len(table), _NAT)
        present = np.flatnonzero(~known) if known is not None else np.arange(len(table))
        out[present] = parse_instants(column[present], name="registered_at", tz=tx.tz)
        return out.view(np.int64)
    if kind != "datetime":
        raise DataError(f"customers column 'registered_at' must hold datetimes, got {kind}")
    result: Array = column.view(np.int64)
    return result


def _with_customers(
    columns: dict[str, Array], buyers: Array, extra: _Customers | None, options: Options
) -> tuple[dict[str, Array], int]:
    """Add ``registered_at``, ``first_order_cycle_days`` and rows for customers who never bought
    (``buyers``: the ids of the customers with rows, one per row of ``columns``)."""
    k = len(buyers)
    if extra is None:
        columns["registered_at"] = np.full(k, _NAT)
        columns["first_order_cycle_days"] = _fill_ints(k, np.zeros(k, dtype=np.bool_), np.zeros(0, np.int64))
        return columns, 0
    known_ids = np.isin(extra.ids, buyers) if k else np.zeros(len(extra.ids), dtype=np.bool_)
    registered = extra.registered_us.view("datetime64[us]")
    late = extra.known & (extra.registered_us >= options.as_of_us) & ~known_ids
    kept = ~late
    ids = extra.ids[kept]
    all_ids = np.union1d(buyers, ids) if k else np.sort(ids)
    if all_ids.dtype.kind == "O" or buyers.dtype.kind == "O":
        all_ids = all_ids.astype(object)
    at = np.searchsorted(all_ids, buyers)
    out = {name: _spread(values, at, len(all_ids), name) for name, values in columns.items()}
    out["customer_id"] = all_ids
    reg = np.full(len(all_ids), _NAT)
    reg[np.searchsorted(all_ids, ids)] = registered[kept]
    out["registered_at"] = reg
    out["first_order_cycle_days"] = _first_order_cycle(out["first_order_at"], reg, options)
    return out, int(np.count_nonzero(late))


def _spread(values: Array, at: Array, size: int, name: str) -> Array:
    """Values of the buying customers placed at ``at``; never-bought customers get the empty value."""
    if name == "customer_id":
        return values
    mask = np.ma.getmaskarray(values) if isinstance(values, np.ma.MaskedArray) else None
    data = np.ma.getdata(values)
    empty: Any
    if name == "frequency" or name.startswith("orders_"):
        empty = 0
    elif name == "monetary" or name.startswith("spend_"):
        empty = 0.0
    elif data.dtype.kind == "M":
        empty = _NAT
    elif data.dtype.kind == "f":
        empty = np.nan
    else:  # a nullable int: null
        out = np.zeros(size, dtype=np.int64)
        null = np.ones(size, dtype=np.bool_)
        out[at] = data
        null[at] = False if mask is None else mask
        return np.ma.MaskedArray(out, mask=null) if null.any() else out
    out = np.full(size, empty, dtype=data.dtype)
    out[at] = data
    return out


def _first_order_cycle(first_order_at: Array, registered: Array, options: Options) -> Array:
    both = ~np.isnat(first_order_at) & ~np.isnat(registered)
    k = len(both)
    if not both.any():
        return _fill_ints(k, both, np.zeros(0, dtype=np.int64))
    first = local_days(first_order_at[both].view(np.int64), options.zone)
    reg = local_days(registered[both].view(np.int64), options.zone)
    return _fill_ints(k, both, first - reg)

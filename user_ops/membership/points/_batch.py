"""``balances``: points balances of many customers at once from a ledger table (the batch path of replay).

The common ledger — customers earning (with the policy's pending period and expiry) and redeeming —
is computed with numpy over all customers at once, no Python loop per row or per customer:

* With dates from the policy, a lot's ``available_at`` and ``expires_at`` grow with its earning time,
  so redemption order (soonest-expiring or FIFO) is earning order and every redemption and expiry
  consumes a **prefix** of the lots. The consumed level after a lot expires is
  ``max(level, cumulative earned through that lot)``; written relative to the redeemed total this is a
  running maximum of ``cumE_i - R(before x_i)`` over expiry instants ``x_i`` (``np.maximum.accumulate``
  within each customer), and the points expired by ``as_of`` are its last value.
* Whether every redemption was covered by spendable points (no overdraft) is checked the same way: the
  level after each redemption must not exceed the points available by then.

Customers whose ledgers need more — refunds, reverts, adjustments, explicit expiry records, event
rewards (daily caps), per-entry date overrides, repeated idempotency keys, an overdraft, point totals
of 2**40 or more (beyond the exact range of the vectorized sums) — are replayed one by one with
[`replay`][] (a loop per such customer, not per row), and the ``via_replay``
column says which. Both paths give identical numbers, and refuse the same ledgers with the same
message (prefixed with the customer): property tests check it.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

import numpy as np
import numpy.typing as npt

from user_ops._table import Table, _is_none
from user_ops._time import as_utc_us, parse_duration, require_aware
from user_ops.exceptions import DataError
from user_ops.membership.points._entry import KIND_ORDER, coerce_entry
from user_ops.membership.points._ledger import replay_summary
from user_ops.membership.points._policy import PointsPolicy, add_duration, lot_dates_us

__all__ = ["BALANCE_COLUMNS", "balances"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Columns of [`balances`][] output, after ``customer_id``.
BALANCE_COLUMNS: tuple[str, ...] = (
    "spendable",
    "pending",
    "debt",
    "balance",
    "lifetime_earned",
    "net_earned",
    "net_redeemed",
    "lifetime_expired",
    "expiring",
    "via_replay",
)
_ENTRY_COLUMNS = (
    "key",
    "kind",
    "points",
    "at",
    "ref",
    "order_id",
    "event",
    "available_at",
    "expires_at",
    "note",
)
_LIMIT = 2**40  # per-customer sums of |points| from here on leave the exact range of the fast path
# The running maximum lifts each customer 2**43 above the previous one; this many customers per pass
# keep the lift inside int64.
_CUSTOMERS_PER_PASS = 2**19


def balances(
    entries: Any,
    *,
    as_of: datetime,
    policy: PointsPolicy | None = None,
    horizon: str | None = None,
) -> Table:
    """Points balances of every customer in a ledger table at ``as_of``.

    Parameters
    ----------
    entries:
        A [`Table`][] (or anything ``Table.coerce`` reads: dict of columns, records, pandas,
        polars, pyarrow) with ``customer_id``, ``key``, ``kind``, ``points`` (int) and ``at`` (datetime)
        columns, and optionally ``ref``, ``event``, ``order_id``, ``available_at``, ``expires_at``,
        ``note`` — the [`LedgerEntry`][] fields.
    as_of:
        Evaluation instant (timezone-aware); same semantics as [`replay`][].
    policy:
        The [`PointsPolicy`][] (default ``PointsPolicy()``).
    horizon:
        Duration for the ``expiring`` column (points expiring in ``[as_of, as_of + horizon)``); without
        it the column is 0.

    Returns
    -------
    Table
        One row per customer (sorted by id): ``customer_id`` and [`BALANCE_COLUMNS`][].

    Raises
    ------
    DataError
        For missing columns, a non-integer ``points`` column (naming the first bad row), or any error
        [`replay`][] raises for a customer's entries (in the table's order): the same message, after
        ``customer <id>:``. Entries after ``as_of`` are checked too, as [`replay`][] checks them.

    Examples
    --------
    >>> from datetime import timezone
    >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> ledger = {"customer_id": [1, 1, 2], "key": ["e1", "r1", "e1"], "kind": ["earn", "redeem", "earn"],
    ...           "points": [100, 30, 50], "at": [t, t, t]}
    >>> out = balances(ledger, as_of=t)
    >>> out["customer_id"].tolist(), out["spendable"].tolist(), out["via_replay"].tolist()
    ([1, 2], [70, 50], [False, False])
    """
    as_of = require_aware(as_of)
    policy = PointsPolicy() if policy is None else policy
    if not isinstance(policy, PointsPolicy):
        raise DataError(f"policy must be a PointsPolicy, got {type(policy).__name__}")
    table = Table.coerce(entries)
    for name in ("customer_id", "key", "kind", "points", "at"):
        table[name]  # raises a DataError naming the missing column
    tz = policy.zone(as_of)
    as_of_us = as_utc_us(as_of)
    points = _points_column(table)
    at_us = _instants(table, "at")
    ids, customer = _customer_codes(table["customer_id"])
    kinds = np.asarray(table["kind"], dtype=object)
    kind_rank = _kind_ranks(kinds)
    groups = len(ids)

    keep = at_us <= as_of_us  # later entries are left out, as replay does
    simple = (kind_rank == KIND_ORDER["earn"]) | (kind_rank == KIND_ORDER["redeem"])
    for name in ("ref", "event", "available_at", "expires_at"):
        if name in table.columns:
            simple &= _is_null(table[name])
    text = np.asarray(table["key"], dtype=object).astype(str)  # fixed-width text: compared in C
    needs_replay = np.zeros(groups, dtype=bool)
    needs_replay[customer[keep & ~simple]] = True
    needs_replay[customer[_repeated_keys(customer, text)]] = True
    # Large totals are summed exactly by replay (Python ints), which refuses any beyond int64.
    magnitude = np.bincount(customer[keep], weights=np.abs(points[keep].astype(np.float64)), minlength=groups)
    needs_replay |= magnitude >= _LIMIT
    # Replay checks its customers' entries; the others' are checked here, by the same rules.
    _check_entries(table, customer, ids, ~needs_replay[customer] & ~(simple & _plain(table, text, points)))

    # The policy dates of every order lot, in one pass over all customers (both paths use them).
    plain_earn = keep & simple & (kind_rank == KIND_ORDER["earn"])
    available = np.zeros(len(at_us), dtype=np.int64)
    expires = np.zeros(len(at_us), dtype=np.int64)
    available[plain_earn], expires[plain_earn] = lot_dates_us(
        at_us[plain_earn], np.ones(int(plain_earn.sum()), dtype=bool), policy, tz
    )
    fast = keep & ~needs_replay[customer]
    result = _fast_path(
        customer[fast],
        at_us[fast],
        kind_rank[fast],
        points[fast],
        (available[fast], expires[fast]),
        groups,
        as_of,
        as_of_us,
        tz,
        horizon,
    )
    needs_replay |= result.pop("overdrawn").astype(bool)
    dates = (plain_earn, available, expires)
    _replay_each(table, customer, np.flatnonzero(needs_replay), ids, result, policy, as_of, horizon, dates)
    columns: dict[str, Any] = {"customer_id": ids}
    for name in BALANCE_COLUMNS[:-1]:
        columns[name] = result[name]
    columns["via_replay"] = needs_replay
    return Table._trusted(columns)


# -- input ------------------------------------------------------------------------------------------------
def _points_column(table: Table) -> IntArray:
    column = table["points"]
    if table.kind("points") != "int":
        values = np.asarray(np.ma.getdata(column))
        bad = next(
            (i for i, v in enumerate(values.tolist()) if isinstance(v, bool) or not isinstance(v, int)), 0
        )
        raise DataError(
            f"points must be whole numbers (an int column), got a {table.kind('points')} column; first bad "
            f"value at row {bad}: {values[bad]!r}"
        )
    mask = np.ma.getmaskarray(column)
    if mask.any():
        raise DataError(f"points: null at row {int(np.flatnonzero(mask)[0])}")
    data: IntArray = np.asarray(np.ma.getdata(column), dtype=np.int64)
    return data


def _instants(table: Table, name: str) -> IntArray:
    if table.kind(name) != "datetime":
        raise DataError(f"{name} must be a datetime column, got {table.kind(name)}")
    values = table[name]
    if np.isnat(values).any():
        raise DataError(f"{name}: null at row {int(np.flatnonzero(np.isnat(values))[0])}")
    instants: IntArray = values.view(np.int64)
    return instants


def _customer_codes(column: Any) -> tuple[Any, IntArray]:
    values = np.asarray(np.ma.getdata(column))
    if np.ma.getmaskarray(column).any() or (values.dtype == object and _is_none(values).any()):
        raise DataError("customer_id: null ids cannot be grouped")
    if values.dtype == object:
        values = values.astype(str)
    ids, inverse = np.unique(values, return_inverse=True)
    if ids.dtype.kind == "U":
        ids = ids.astype(object)
    return ids, inverse.reshape(-1).astype(np.int64)


def _kind_ranks(kinds: Any) -> IntArray:
    """Each row's kind rank; -1 for an unknown kind (not a plain row: refused as replay refuses it)."""
    text = np.asarray(kinds, dtype=object).astype(str)  # fixed-width text: compared in C
    ranks = np.full(len(text), -1, dtype=np.int64)
    for kind, rank in KIND_ORDER.items():
        ranks[text == kind] = rank
    return ranks


def _plain(table: Table, text: Any, points: IntArray) -> BoolArray:
    """Rows whose key is a non-empty string and whose points are positive: all a plain earn or redeem
    needs to be a valid entry (int64 points and UTC instants hold by the column types)."""
    if table.kind("key") != "str":
        return np.zeros(len(points), dtype=bool)  # not strings: every row fails the key check
    ok: BoolArray = (points > 0) & (text != "")
    nulls = table.null_mask("key")
    if nulls is not None:
        ok &= ~nulls
    return ok


def _check_entries(table: Table, customer: IntArray, ids: Any, suspect: BoolArray) -> None:
    """Raise the error replay gives for the first ``suspect`` row that is not a valid entry, after
    ``customer <id>:`` (the position is the row's among its customer's rows, as replay counts)."""
    if not suspect.any():
        return
    rows = np.flatnonzero(suspect)
    order = np.argsort(customer, kind="stable")
    first = np.searchsorted(customer[order], customer[order])  # each row's customer's first slot
    position = np.empty(len(customer), dtype=np.int64)
    position[order] = np.arange(len(customer)) - first
    names = [name for name in _ENTRY_COLUMNS if name in table.columns]
    records = Table._trusted({name: table[name][rows] for name in names}).to_dicts()
    for row, record in zip(rows.tolist(), records):
        try:
            coerce_entry({k: v for k, v in record.items() if v is not None}, position=int(position[row]))
        except DataError as exc:
            raise DataError(f"customer {_customer_name(ids, int(customer[row]))!r}: {exc}") from None


def _customer_name(ids: Any, group: int) -> Any:
    value = ids[group]
    return value.item() if isinstance(value, np.generic) else value


def _is_null(column: Any) -> BoolArray:
    nulls: BoolArray
    if column.dtype == object:
        nulls = _is_none(column)
    elif column.dtype.kind == "M":
        nulls = np.isnat(column)
    else:
        nulls = np.ma.getmaskarray(column).copy()
    return nulls


def _repeated_keys(customer: IntArray, text: Any) -> BoolArray:
    """Rows whose (customer, key) pair occurs more than once: replay decides (duplicate or conflict)."""
    order = np.lexsort((text, customer))
    same = (customer[order][1:] == customer[order][:-1]) & (text[order][1:] == text[order][:-1])
    repeated = np.zeros(len(text), dtype=bool)
    repeated[order[1:][same]] = True
    repeated[order[:-1][same]] = True
    return repeated


# -- the fast path ----------------------------------------------------------------------------------------
def _sort_order(group: IntArray, time: IntArray, rank: IntArray) -> npt.NDArray[np.intp]:
    """Order by (group, time, rank): one argsort of a packed int64 key (instants replaced by their
    dense rank when the raw span does not fit), lexsort only when even that does not fit."""
    if len(group) == 0:
        return np.zeros(0, dtype=np.intp)
    groups, ranks = int(group.max()) + 1, int(rank.max()) + 1
    low = int(time.min())
    span = int(time.max()) - low + 1
    if groups * span * ranks >= 2**62:
        distinct, inverse = np.unique(time, return_inverse=True)
        time, low, span = inverse.reshape(-1).astype(np.int64), 0, len(distinct)
    if groups * span * ranks < 2**62:
        key = (group * np.int64(span) + (time - np.int64(low))) * np.int64(ranks) + rank
        return np.argsort(key)  # equal keys are equal (group, time, rank): interchangeable
    return np.lexsort((rank, time, group))


def _group_cumsum(values: IntArray, group: IntArray) -> IntArray:
    """Cumulative sum restarting at each group (rows sorted by group)."""
    total = np.cumsum(values)
    if len(values) == 0:
        return total
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    before = np.r_[0, total[starts[1:] - 1]] if len(starts) > 1 else np.zeros(1, dtype=np.int64)
    run = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(values)]))
    result: IntArray = total - before[run]
    return result


def _group_running_max(values: IntArray, group: IntArray) -> IntArray:
    """Running maximum restarting at each group (rows sorted by group; |values| < 2**41)."""
    result: IntArray = np.empty_like(values)
    if len(values) == 0:
        return result
    # Each group is lifted 2**43 above the one before, so one accumulate never carries a maximum
    # across groups; groups are numbered densely and taken a bounded number at a time so the lift
    # stays inside int64 however many customers there are.
    dense = np.cumsum(np.r_[0, (group[1:] != group[:-1]).astype(np.int64)])
    starts = np.searchsorted(dense, np.arange(0, int(dense[-1]) + 1, _CUSTOMERS_PER_PASS)).tolist()
    for lo, hi in zip(starts, [*starts[1:], len(values)]):
        lift = (dense[lo:hi] - dense[lo]) * np.int64(2**43)
        result[lo:hi] = np.maximum.accumulate(values[lo:hi] + lift) - lift
    return result


def _fast_path(
    customer: IntArray,
    at_us: IntArray,
    kind_rank: IntArray,
    points: IntArray,
    dates: tuple[IntArray, IntArray],
    groups: int,
    as_of: datetime,
    as_of_us: int,
    tz: tzinfo,
    horizon: str | None,
) -> dict[str, IntArray]:
    order = _sort_order(customer, at_us, kind_rank)
    customer, at_us, kind_rank, points = customer[order], at_us[order], kind_rank[order], points[order]
    is_earn = kind_rank == KIND_ORDER["earn"]
    lot_customer, lot_points = customer[is_earn], points[is_earn]
    available, expires = dates[0][order][is_earn], dates[1][order][is_earn]
    cum_earned = _group_cumsum(lot_points, lot_customer)
    redeem_customer, redeem_time, redeem_points = customer[~is_earn], at_us[~is_earn], points[~is_earn]

    # One timeline per customer: lots becoming available (0), lots expiring (1), redemptions (2); at one
    # instant expiry comes before a redemption, as in replay.
    shown = available <= as_of_us
    gone = expires <= as_of_us
    floor = np.int64(-_LIMIT)
    event_customer = np.concatenate([lot_customer[shown], lot_customer[gone], redeem_customer])
    event_time = np.concatenate([available[shown], expires[gone], redeem_time])
    event_type = np.concatenate(
        [
            np.zeros(int(shown.sum()), np.int64),
            np.ones(int(gone.sum()), np.int64),
            np.full(len(redeem_customer), 2, np.int64),
        ]
    )
    gained = np.concatenate([lot_points[shown], np.zeros(int(gone.sum()) + len(redeem_customer), np.int64)])
    spent = np.concatenate([np.zeros(int(shown.sum()) + int(gone.sum()), np.int64), redeem_points])
    reach = np.concatenate(
        [np.full(int(shown.sum()), floor), cum_earned[gone], np.full(len(redeem_customer), floor)]
    )
    timeline = _sort_order(event_customer, event_time, event_type)
    event_customer, event_type = event_customer[timeline], event_type[timeline]
    available_total = _group_cumsum(gained[timeline], event_customer)
    redeemed_total = _group_cumsum(spent[timeline], event_customer)
    reach = reach[timeline]
    candidate = np.where(event_type == 1, reach - redeemed_total, floor)
    expired_level = np.maximum(_group_running_max(candidate, event_customer), 0)
    overdraft = (event_type == 2) & (redeemed_total + expired_level > available_total)
    overdrawn = np.zeros(groups, dtype=np.int64)
    overdrawn[event_customer[overdraft]] = 1

    expired = np.zeros(groups, dtype=np.int64)
    if len(event_customer):
        last = np.flatnonzero(np.r_[event_customer[1:] != event_customer[:-1], True])
        expired[event_customer[last]] = expired_level[last]
    # Exact: every customer here has a sum of |points| below 2**40 (larger ones are replayed).
    earned = np.bincount(lot_customer, weights=lot_points, minlength=groups).astype(np.int64)
    redeemed = np.bincount(redeem_customer, weights=redeem_points, minlength=groups).astype(np.int64)
    level = (redeemed + expired)[lot_customer]
    remaining = np.maximum(cum_earned - np.maximum(level, cum_earned - lot_points), 0)
    pending_lot = available > as_of_us
    spendable = np.bincount(lot_customer, weights=np.where(pending_lot, 0, remaining), minlength=groups)
    pending = np.bincount(lot_customer, weights=np.where(pending_lot, remaining, 0), minlength=groups)
    expiring = np.zeros(groups, dtype=np.int64)
    if horizon is not None:
        end = as_utc_us(add_duration(as_of, parse_duration(horizon), tz))
        soon = np.where(expires < end, remaining, 0)
        expiring = np.bincount(lot_customer, weights=soon, minlength=groups).astype(np.int64)
    spendable_int = spendable.astype(np.int64)
    pending_int = pending.astype(np.int64)
    return {
        "spendable": spendable_int,
        "pending": pending_int,
        "debt": np.zeros(groups, dtype=np.int64),
        "balance": spendable_int + pending_int,
        "lifetime_earned": earned,
        "net_earned": earned.copy(),
        "net_redeemed": redeemed,
        "lifetime_expired": expired,
        "expiring": expiring,
        "overdrawn": overdrawn,
    }


# -- the per-customer path --------------------------------------------------------------------------------
def _replay_each(
    table: Table,
    customer: IntArray,
    which: IntArray,
    ids: Any,
    result: dict[str, IntArray],
    policy: PointsPolicy,
    as_of: datetime,
    horizon: str | None,
    dates: tuple[BoolArray, IntArray, IntArray],
) -> None:
    if len(which) == 0:
        return
    plain_earn, available, expires = dates
    chosen = np.zeros(len(ids), dtype=bool)
    chosen[which] = True
    rows = np.flatnonzero(chosen[customer])
    rows = rows[np.argsort(customer[rows], kind="stable")]
    names = [name for name in _ENTRY_COLUMNS if name in table.columns]
    subset = Table._trusted({name: table[name][rows] for name in names})
    records = subset.to_dicts()
    bounds = np.flatnonzero(np.r_[True, customer[rows][1:] != customer[rows][:-1], True])
    horizon_end = None
    if horizon is not None:
        horizon_end = as_utc_us(add_duration(as_of, parse_duration(horizon), policy.zone(as_of)))
    for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        group = int(customer[rows[start]])
        # The customer's rows as replay would get them (same positions, so the same messages).
        entries = [{k: v for k, v in record.items() if v is not None} for record in records[start:stop]]
        span = rows[start:stop]
        known = np.flatnonzero(plain_earn[span]).tolist()
        lot_dates = {
            entries[i]["key"]: pair
            for i, pair in zip(known, zip(available[span[known]].tolist(), expires[span[known]].tolist()))
        }
        try:
            values = replay_summary(
                entries, as_of=as_of, policy=policy, dates=lot_dates, horizon_end_us=horizon_end
            )
        except DataError as exc:
            raise DataError(f"customer {_customer_name(ids, group)!r}: {exc}") from None
        for column, value in values.items():
            result[column][group] = value

"""Engagement events (曝光/浏览, 点击, 收藏, 加购, 购买, 入会) aggregated per customer, in both paths.

[`engagement_metrics`][] turns an events log (``customer_id``, ``event``, ``occurred_at``) into one
row per customer, vectorized: events are coded once (customer code × event code), and every count is a
``bincount``, every first / last time a ``reduceat`` over the rows sorted by that code. No Python loop
runs per customer. [`engagement_metrics_one`][] gives the same values for one customer's events in
plain Python, for a request. The AIPL policy ([`aipl_policy`][]) reads these
columns; ``docs/aipl.md`` documents the vocabulary and how a host maps its own event names to it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from itertools import repeat
from typing import Any

import numpy as np

from user_ops._table import (
    Array,
    Table,
    _missing_column_message,
    normalize_column,
    parse_instants,
    record_list,
    wall_clock_to_utc,
)
from user_ops._time import Duration, TzLike, as_utc_us, get_tz, parse_duration, require_aware
from user_ops.exceptions import DataError, value_repr
from user_ops.metrics._options import counts_table

__all__ = [
    "DEFAULT_EVENT_WINDOWS",
    "EVENT_COLUMNS",
    "EVENT_LABELS",
    "EVENT_TYPES",
    "EngagementMetrics",
    "EngagementReport",
    "engagement_columns",
    "engagement_metrics",
    "engagement_metrics_one",
]

#: The event vocabulary, in funnel order: what a host's own event names are mapped to.
EVENT_TYPES: tuple[str, ...] = ("view", "click", "favorite", "add_to_cart", "purchase", "member_join")

#: English and Chinese labels of each event type: ``{event: (label_en, label_zh)}``.
EVENT_LABELS: dict[str, tuple[str, str]] = {
    "view": ("Exposure / view", "曝光/浏览"),
    "click": ("Click", "点击"),
    "favorite": ("Favourite", "收藏"),
    "add_to_cart": ("Add to cart", "加购"),
    "purchase": ("Purchase", "购买"),
    "member_join": ("Membership join", "入会"),
}

#: The columns of an events log (rename yours with ``columns=``; any other column is ignored).
EVENT_COLUMNS: tuple[str, ...] = ("customer_id", "event", "occurred_at")

#: The trailing windows [`engagement_metrics`][] counts each event type in by default (``view_30d``, ...).
DEFAULT_EVENT_WINDOWS: tuple[str, ...] = ("30d", "90d")

_E = len(EVENT_TYPES)
_CODE = {name: code for code, name in enumerate(EVENT_TYPES)}
_IGNORED = -1  # an event the vocabulary maps to None
_UNKNOWN = -2  # an event name neither in the vocabulary nor mapped
_PURCHASE, _MEMBER_JOIN = _CODE["purchase"], _CODE["member_join"]
_NAT = np.iinfo(np.int64).min  # int64 view of NaT
_INT64_MAX = np.iinfo(np.int64).max
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def engagement_columns(windows: Sequence[str] = DEFAULT_EVENT_WINDOWS) -> tuple[str, ...]:
    """The output columns of [`engagement_metrics`][], in order, for these windows.

    Examples
    --------
    >>> engagement_columns(["7d"])[:7]
    ('customer_id', 'first_event_at', 'last_event_at', 'purchases', 'is_member', 'view_count', 'view_7d')
    """
    windows = _windows(windows)
    columns = ["customer_id", "first_event_at", "last_event_at", "purchases", "is_member"]
    for event in EVENT_TYPES:
        columns += [f"{event}_count", *(f"{event}_{w}" for w in windows), f"last_{event}_at"]
    return tuple(columns)


# -- options ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Options:
    """Checked options of one run (the same object drives the batch and the scalar path)."""

    as_of: datetime
    as_of_us: int
    zone: tzinfo
    read_zone: tzinfo | None
    windows: tuple[str, ...]
    window_starts_us: tuple[int, ...]
    lookup: dict[str, int]
    columns: dict[str, str] | None


def _options(*, as_of: Any, windows: Any, tz: TzLike | None, vocabulary: Any, columns: Any) -> _Options:
    aware = require_aware(as_of, name="as_of")
    read_zone = None if tz is None else get_tz(tz)
    zone = read_zone if read_zone is not None else aware.tzinfo
    assert zone is not None  # require_aware checked it
    texts = _windows(windows)
    starts = tuple(as_utc_us(parse_duration(w).subtract_from(aware, zone)) for w in texts)
    return _Options(
        as_of=aware,
        as_of_us=as_utc_us(aware),
        zone=zone,
        read_zone=read_zone,
        windows=texts,
        window_starts_us=starts,
        lookup=_lookup(vocabulary),
        columns=_column_mapping(columns),
    )


def _windows(windows: Any) -> tuple[str, ...]:
    if isinstance(windows, (str, bytes)) or not isinstance(windows, Sequence):
        raise DataError(f"windows must be a list of durations like ['30d', '90d'], got {value_repr(windows)}")
    texts = tuple(windows)
    for text in texts:
        if not isinstance(text, str):
            raise DataError(
                f"windows must be durations like '30d', got {type(text).__name__}: {value_repr(text)}"
            )
        if parse_duration(text) == Duration():
            raise DataError(f"window {text!r} is empty; use a positive duration like '30d'")
    if len(set(texts)) != len(texts):
        twice = next(t for t in texts if texts.count(t) > 1)
        raise DataError(f"window {twice!r} is given twice")
    return texts


def _lookup(vocabulary: Any) -> dict[str, int]:
    """Event name -> event code (or ``_IGNORED``): the canonical names, then the host's mapping."""
    lookup = dict(_CODE)
    if vocabulary is None:
        return lookup
    if not isinstance(vocabulary, Mapping):
        raise DataError(
            "vocabulary must map your event names to ours, e.g. {'浏览': 'view', '加购': 'add_to_cart'}, "
            f"got {type(vocabulary).__name__}"
        )
    for theirs, ours in vocabulary.items():
        if not isinstance(theirs, str) or not theirs:
            raise DataError(f"vocabulary keys must be non-empty event names (strings), got {theirs!r}")
        if ours is None:
            lookup[theirs] = _IGNORED
        elif isinstance(ours, str) and ours in _CODE:
            lookup[theirs] = _CODE[ours]
        else:
            raise DataError(
                f"vocabulary maps {theirs!r} to {ours!r}, which is not an event type; map it to one of "
                f"{', '.join(EVENT_TYPES)}{_did_you_mean(ours)}, or to None to ignore it"
            )
    return lookup


def _column_mapping(columns: Any) -> dict[str, str] | None:
    if columns is None:
        return None
    if not isinstance(columns, Mapping):
        raise DataError(
            "columns= takes {our_name: your_name}, e.g. {'customer_id': 'user_id', 'occurred_at': 'ts'}, "
            f"got {columns!r}"
        )
    for ours, theirs in columns.items():
        if ours not in EVENT_COLUMNS:
            hint = _did_you_mean(ours, EVENT_COLUMNS)
            raise DataError(
                f"columns= renames to {ours!r}, which is not an events column{hint} "
                f"(columns: {', '.join(EVENT_COLUMNS)})"
            )
        if not isinstance(theirs, str):
            raise DataError(f"columns= maps {ours!r} to {theirs!r}; give your column's name")
    return dict(columns)


def _did_you_mean(name: Any, choices: Sequence[str] = EVENT_TYPES) -> str:
    close = difflib.get_close_matches(str(name), choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- reading the log --------------------------------------------------------------------------------
@dataclass
class _Log:
    """A validated events log: customer ids, event codes (``_IGNORED`` allowed) and UTC microseconds."""

    ids: Array  # int64, or object of str
    event: Array  # int8 codes
    time: Array  # int64 UTC microseconds

    def __len__(self) -> int:
        return len(self.time)


def _read(data: Any, options: _Options, *, what: str = "events") -> _Log:
    if isinstance(data, (list, tuple)) and not data:  # no records: no columns to check
        return _Log(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8), np.zeros(0, dtype=np.int64))
    table = _as_table(data, options.read_zone, what)
    table = _renamed(table, options.columns)
    for name in EVENT_COLUMNS:
        if name not in table:
            raise DataError(
                f"{what} need a {name!r} column (got {', '.join(map(repr, table.columns)) or 'none'})"
                f"{_did_you_mean(name, [c for c in table.columns if c not in EVENT_COLUMNS])}; "
                "rename yours with columns={" + f"{name!r}: 'your_name'" + "}"
            )
    if len(table) == 0:
        ids = table["customer_id"]
        empty_ids = ids if table.kind("customer_id") == "str" else np.zeros(0, dtype=np.int64)
        return _Log(empty_ids, np.zeros(0, dtype=np.int8), np.zeros(0, dtype=np.int64))
    return _Log(
        ids=_ids(table, "customer_id"),
        event=_events(table, "event", options.lookup),
        time=_instants(table, "occurred_at", options.read_zone),
    )


def _as_table(data: Any, zone: tzinfo | None, what: str) -> Table:
    if isinstance(data, Table):
        return data
    if isinstance(data, (str, bytes)):
        raise DataError(f"{what} must be a table, a mapping of columns or a list of records, got a string")
    if isinstance(data, Mapping):
        return Table(data, tz=zone)
    if isinstance(data, (list, tuple)):
        return Table.from_records(list(data), tz=zone)
    return Table.from_frame(data, tz=zone)


def _renamed(table: Table, mapping: dict[str, str] | None) -> Table:
    if mapping is None:
        return table
    picked: dict[str, Array] = {}
    for ours, theirs in mapping.items():
        if theirs not in table:
            raise DataError(_missing_column_message(theirs, table.columns) + f" (mapped to {ours!r})")
        picked[ours] = table[theirs]
    rest = {name: table[name] for name in EVENT_COLUMNS if name in table and name not in picked}
    return Table._trusted({**rest, **picked})


def _value(column: Array, row: int) -> str:
    value = column[row]
    if isinstance(value, np.datetime64):
        return str(value)
    return repr(value.item() if isinstance(value, np.generic) else value)


def _first(mask: Array) -> int:
    return int(np.argmax(mask))


def _ids(table: Table, name: str) -> Array:
    null = table.null_mask(name)
    if null is not None:
        raise DataError(f"column {name!r} row {_first(null)} is null; every event needs a customer id")
    kind = table.kind(name)
    if kind not in ("int", "str"):
        raise DataError(
            f"column {name!r} must hold ints or strings, got {kind} (row 0: {_value(table[name], 0)})"
        )
    column = table[name]
    return np.asarray(np.ma.getdata(column)) if kind == "int" else column


def _events(table: Table, name: str, lookup: dict[str, int]) -> Array:
    column = table[name]
    null = table.null_mask(name)
    if null is not None:
        raise DataError(f"column {name!r} row {_first(null)} is null; every row needs an event name")
    kind = table.kind(name)
    if kind != "str":
        raise DataError(
            f"column {name!r} must hold event names (strings), got {kind} (row 0: {_value(column, 0)})"
        )
    values = column.tolist()
    codes = np.fromiter(map(lookup.get, values, repeat(_UNKNOWN)), dtype=np.int8, count=len(values))
    unknown = codes == _UNKNOWN
    if unknown.any():
        row = _first(unknown)
        text = values[row]
        raise DataError(
            f"column {name!r} row {row}: unknown event {text!r}{_did_you_mean(text)}; the event types are "
            f"{', '.join(EVENT_TYPES)}; map your own names with vocabulary={{{text!r}: 'view'}} "
            "(or None to ignore them)"
        )
    return codes


def _instants(table: Table, name: str, zone: tzinfo | None) -> Array:
    kind = table.kind(name)
    column = table[name]
    null = table.null_mask(name)
    if null is not None:
        raise DataError(f"column {name!r} row {_first(null)} is null; every event needs a time")
    if kind == "datetime":
        return column.view(np.int64)
    if kind == "date":
        if zone is None:
            raise DataError(
                f"column {name!r} holds dates without a time zone (row 0: {column[0]}); pass tz= to "
                "read each date as midnight in that zone"
            )
        return wall_clock_to_utc(column.astype("datetime64[us]"), zone, name=name).view(np.int64)
    if kind == "str":
        return parse_instants(column, name=name, tz=zone).view(np.int64)
    raise DataError(
        f"column {name!r} must hold datetimes or ISO 8601 strings, got {kind} (row 0: {_value(column, 0)})"
    )


def _read_customers(customers: Any, log: _Log) -> Array:
    """Customer ids from ``customers=``: a list / array of ids, or a table with a ``customer_id`` column."""
    if isinstance(customers, (str, bytes)):
        raise DataError("customers= takes a list of customer ids or a table with 'customer_id', got a string")
    if isinstance(customers, (Table, Mapping)) or hasattr(customers, "columns"):  # a table or a frame
        table = Table.coerce(customers)
        if "customer_id" not in table:
            raise DataError(_missing_column_message("customer_id", table.columns) + " (in customers=)")
        ids: Array = table["customer_id"]
    else:  # a list, range, array or Series of ids
        ids = normalize_column(customers, name="customers")
    table = Table._trusted({"customer_id": ids})
    if len(table) == 0:
        return log.ids[:0]
    ids = _ids(table, "customer_id")
    if len(log) and (ids.dtype.kind == "O") != (log.ids.dtype.kind == "O"):
        raise DataError(
            f"customers= holds {'string' if ids.dtype.kind == 'O' else 'integer'} ids but the events' "
            f"customer_id holds {'string' if log.ids.dtype.kind == 'O' else 'integer'} ids"
        )
    return ids


# -- the report and the result ------------------------------------------------------------------------
@dataclass(frozen=True)
class EngagementReport:
    """What an [`engagement_metrics`][] run read, left out and decided.

    Attributes
    ----------
    rows:
        Event rows given.
    rows_used:
        Rows strictly before ``as_of`` whose event is in the vocabulary (the ones counted).
    rows_after_as_of:
        Rows at or after ``as_of``: left out (windows are ``[as_of - w, as_of)``).
    rows_ignored:
        Rows before ``as_of`` whose event the vocabulary maps to ``None``: left out.
    customers:
        Rows of the result (customers with a used row, plus those given in ``customers=``).
    customers_without_events:
        Result rows with no used event (from ``customers=``).
    events:
        Used rows per event type.
    as_of, tz, windows:
        The run's ``as_of``, business time zone (its name) and windows.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> log = {"customer_id": [1, 1, 2, 2], "event": ["view", "purchase", "view", "客服"],
    ...        "occurred_at": ["2024-06-01", "2024-07-02", "2024-06-03", "2024-06-05"]}
    >>> report = engagement_metrics(log, as_of=datetime(2024, 7, 1, tzinfo=timezone.utc), tz="UTC",
    ...                             vocabulary={"客服": None}).report
    >>> report.rows_used, report.rows_after_as_of, report.rows_ignored, report.events["view"]
    (2, 1, 1, 2)
    >>> report.describe()
    '4 rows: 2 used, 1 at or after as_of (left out), 1 ignored; 2 customers (0 without events)'
    >>> report.summary().to_dicts()[6]
    {'measure': 'events_view', 'value': 2}
    """

    rows: int
    rows_used: int
    rows_after_as_of: int
    rows_ignored: int
    customers: int
    customers_without_events: int
    events: dict[str, int]
    as_of: datetime
    tz: str
    windows: tuple[str, ...]

    def summary(self) -> Table:
        """The run's counts as a [`Table`][user_ops.Table] (``measure``, ``value``), ``events_*`` last."""
        names = ("rows", "rows_used", "rows_after_as_of", "rows_ignored", "customers")
        extra = {"customers_without_events": self.customers_without_events}
        extra.update({f"events_{event}": count for event, count in self.events.items()})
        return counts_table(self, names, extra)

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        """One line for logs: rows used, left out and ignored, and customers."""
        return (
            f"{self.rows:,} rows: {self.rows_used:,} used, {self.rows_after_as_of:,} at or after as_of "
            f"(left out), {self.rows_ignored:,} ignored; {self.customers:,} customers "
            f"({self.customers_without_events:,} without events)"
        )


class EngagementMetrics(Table):
    """The result of [`engagement_metrics`][]: a [`Table`][] with a ``.report``.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> m = engagement_metrics({"customer_id": [1, 1], "event": ["view", "purchase"],
    ...                         "occurred_at": ["2024-06-01", "2024-07-02"]},
    ...                        as_of=datetime(2024, 7, 1, tzinfo=timezone.utc), tz="UTC")
    >>> m.report.rows_used, m.report.rows_after_as_of, m["purchases"]
    (1, 1, array([0]))
    """

    __slots__ = ("_report",)
    _report: EngagementReport

    @classmethod
    def _build(cls, columns: dict[str, Array], report: EngagementReport) -> EngagementMetrics:
        table = cls.__new__(cls)
        table._adopt(columns)
        table._report = report
        return table

    @property
    def report(self) -> EngagementReport:
        """What the run read, left out and decided."""
        report: EngagementReport = self._report
        return report

    def __repr__(self) -> str:
        return f"EngagementMetrics({len(self)} customers; {self._report.describe()})"


# -- batch ------------------------------------------------------------------------------------------
def engagement_metrics(
    events: Any,
    *,
    as_of: datetime,
    windows: Sequence[str] = DEFAULT_EVENT_WINDOWS,
    tz: TzLike | None = None,
    vocabulary: Mapping[str, str | None] | None = None,
    columns: Mapping[str, str] | None = None,
    customers: Any = None,
) -> EngagementMetrics:
    """Per-customer engagement counts and times from an events log (the input of the AIPL policy).

    Columns (``<e>`` for each event type of [`EVENT_TYPES`][], ``<w>`` for each window as given):

    ``customer_id``; ``first_event_at``, ``last_event_at`` (first / last used event of any type);
    ``purchases`` (= ``purchase_count``; 2 or more is a repeat purchase, 复购); ``is_member``
    (a ``member_join`` was seen); ``<e>_count`` (lifetime count before ``as_of``); ``<e>_<w>`` (count
    in ``[as_of - w, as_of)``); ``last_<e>_at`` (null when never). Counts are ``int``, times UTC
    ``datetime`` (null: ``NaT``).

    Parameters
    ----------
    events:
        The log: a [`Table`][], a mapping of columns, a list of records or a DataFrame
        with ``customer_id`` (int or str), ``event`` (str) and ``occurred_at`` (aware datetimes,
        ``datetime64`` / naive datetimes / dates with ``tz=``, or ISO 8601 strings). Other columns are
        ignored.
    as_of:
        Timezone-aware end of the observation: events at or after it are left out (counted in
        ``report.rows_after_as_of``).
    windows:
        Durations (``"30d"``, ``"2w"``, ``"1mo"``, ...), each giving a ``<e>_<w>`` column per event.
    tz:
        Time zone of naive times and offset-less strings in the log, and the business zone whose wall
        clock calendar windows count on (default: the zone of ``as_of``; naive input is then rejected).
    vocabulary:
        The host's event names mapped to the event types, e.g. ``{"浏览": "view", "加购":
        "add_to_cart"}``; map a name to ``None`` to ignore those rows (``report.rows_ignored``). The
        canonical names are always understood.
    columns:
        ``{our_name: your_name}`` to read the log's columns under other names, e.g.
        ``{"customer_id": "user_id", "occurred_at": "ts"}``.
    customers:
        Optional customer ids (a list / array, or a table with ``customer_id``): adds a row of zero
        counts for each one without events (the AIPL stage ``unaware``).

    Returns
    -------
    EngagementMetrics
        A Table, one row per customer, sorted by ``customer_id``, with ``.report``.

    Raises
    ------
    DataError
        For a missing column, a null or ill-typed value, an unreadable or naive time, an event name
        outside the vocabulary (listing it), a naive ``as_of`` or a bad window, naming the column, row
        and value.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> log = {"customer_id": [1, 1, 1, 2],
    ...        "event": ["page_view", "加购", "purchase", "page_view"],
    ...        "occurred_at": ["2024-05-20T10:00Z", "2024-06-20T10:00Z", "2024-06-21T10:00Z",
    ...                        "2024-05-01T10:00Z"]}
    >>> m = engagement_metrics(log, as_of=datetime(2024, 7, 1, tzinfo=timezone.utc), windows=["30d"],
    ...                        vocabulary={"page_view": "view", "加购": "add_to_cart"})
    >>> m["view_count"], m["add_to_cart_30d"], m["purchases"], m["view_30d"]
    (array([1, 1]), array([1, 0]), array([1, 0]), array([0, 0]))
    >>> m.row(1)["last_view_at"].isoformat()
    '2024-05-01T10:00:00+00:00'
    """
    options = _options(as_of=as_of, windows=windows, tz=tz, vocabulary=vocabulary, columns=columns)
    log = _read(events, options)
    extra = None if customers is None else _read_customers(customers, log)
    before = log.time < options.as_of_us
    used = before & (log.event >= 0)
    ids, code = _factorize(log.ids[used], extra)
    event = log.event[used].astype(np.int64)
    time = log.time[used]
    out = _aggregate(ids, code, event, time, options)
    counts = np.bincount(event, minlength=_E)
    report = EngagementReport(
        rows=len(log),
        rows_used=int(used.sum()),
        rows_after_as_of=int(len(log) - before.sum()),
        rows_ignored=int(before.sum() - used.sum()),
        customers=len(ids),
        customers_without_events=int(np.count_nonzero(np.isnat(out["first_event_at"]))),
        events={name: int(counts[i]) for i, name in enumerate(EVENT_TYPES)},
        as_of=options.as_of,
        tz=_zone_name(options.zone),
        windows=options.windows,
    )
    return EngagementMetrics._build(out, report)


def _factorize(ids: Array, extra: Array | None) -> tuple[Array, Array]:
    """Sorted distinct ids (with ``extra`` ones) and each used row's code among them."""
    if extra is not None and len(extra):
        every = np.concatenate([ids, extra]) if len(ids) else extra
        if every.dtype.kind == "O":
            distinct, inverse = _factorize_objects(every)
        else:
            distinct, inverse = np.unique(every, return_inverse=True)
        return distinct, inverse.reshape(-1)[: len(ids)]
    if ids.dtype.kind == "O":
        return _factorize_objects(ids)
    distinct, inverse = np.unique(ids, return_inverse=True)
    return distinct, inverse.reshape(-1)


def _factorize_objects(ids: Array) -> tuple[Array, Array]:
    """Sorted distinct strings and each value's index among them (through a dict: one sort of the few)."""
    seen: dict[Any, int] = {}
    first = np.fromiter(map(seen.setdefault, ids.tolist(), range(len(ids))), dtype=np.int64, count=len(ids))
    first_rows = np.fromiter(seen.values(), dtype=np.int64, count=len(seen))
    dense = np.empty(len(ids), dtype=np.int64)
    dense[first_rows] = np.arange(len(first_rows))
    values = np.empty(len(first_rows), dtype=object)
    values[:] = list(seen)
    by_value = np.argsort(values, kind="stable")
    rank = np.empty(len(values), dtype=np.int64)
    rank[by_value] = np.arange(len(values))
    return values[by_value], rank[dense[first]]


def _aggregate(ids: Array, code: Array, event: Array, time: Array, options: _Options) -> dict[str, Array]:
    k = len(ids)
    key = code.astype(np.int64) * _E + event  # one cell per (customer, event type)
    cells = k * _E
    counts = np.bincount(key, minlength=cells).reshape(k, _E)
    in_window = [
        np.bincount(key[time >= start], minlength=cells).reshape(k, _E) for start in options.window_starts_us
    ]
    first = np.full(cells, _INT64_MAX, dtype=np.int64)
    last = np.full(cells, _NAT, dtype=np.int64)
    if len(key):
        order = np.argsort(key, kind="stable")
        sorted_key, sorted_time = key[order], time[order]
        starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
        cell = sorted_key[starts]
        first[cell] = np.minimum.reduceat(sorted_time, starts)
        last[cell] = np.maximum.reduceat(sorted_time, starts)
    first_cells, last_cells = first.reshape(k, _E), last.reshape(k, _E)
    earliest = first_cells.min(axis=1, initial=_INT64_MAX)
    earliest[earliest == _INT64_MAX] = _NAT

    def instants(us: Array) -> Array:
        return np.ascontiguousarray(us).view("datetime64[us]")

    out: dict[str, Array] = {
        "customer_id": ids,
        "first_event_at": instants(earliest),
        "last_event_at": instants(last_cells.max(axis=1, initial=_NAT)),
        "purchases": np.ascontiguousarray(counts[:, _PURCHASE]),
        "is_member": counts[:, _MEMBER_JOIN] > 0,
    }
    for e, name in enumerate(EVENT_TYPES):
        out[f"{name}_count"] = np.ascontiguousarray(counts[:, e])
        for text, window in zip(options.windows, in_window):
            out[f"{name}_{text}"] = np.ascontiguousarray(window[:, e])
        out[f"last_{name}_at"] = instants(last_cells[:, e])
    return out


def _zone_name(zone: tzinfo) -> str:
    key = getattr(zone, "key", None)
    return str(key) if key else str(zone)


# -- one customer -----------------------------------------------------------------------------------
def engagement_metrics_one(
    events: Any,
    *,
    as_of: datetime,
    windows: Sequence[str] = DEFAULT_EVENT_WINDOWS,
    tz: TzLike | None = None,
    vocabulary: Mapping[str, str | None] | None = None,
    columns: Mapping[str, str] | None = None,
    customer_id: Any = None,
) -> dict[str, Any]:
    """The engagement metrics of one customer from their events, as a dict (the per-request path).

    Gives the same values as the customer's row of [`engagement_metrics`][] (same keys, nulls as
    ``None``, times as aware UTC datetimes); hypothesis tests prove it.

    Parameters
    ----------
    events:
        The customer's events: a sequence of mappings with ``event`` and ``occurred_at`` (and, when
        given, one ``customer_id``), or a Table / mapping of columns. An empty sequence is a customer
        with no events.
    as_of, windows, tz, vocabulary, columns:
        As for [`engagement_metrics`][].
    customer_id:
        The id to report when the events carry none (default: the events' own, else ``None``).

    Raises
    ------
    DataError
        For the same bad input as [`engagement_metrics`][], or rows of more than one customer.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> one = engagement_metrics_one(
    ...     [{"event": "click", "occurred_at": "2024-06-28T09:00:00+08:00"},
    ...      {"event": "purchase", "occurred_at": "2024-06-29T09:00:00+08:00"}],
    ...     as_of=datetime(2024, 7, 1, tzinfo=timezone.utc), windows=["30d"], customer_id="ann")
    >>> one["customer_id"], one["click_30d"], one["purchases"], one["is_member"]
    ('ann', 1, 1, False)
    >>> one["last_purchase_at"].isoformat()
    '2024-06-29T01:00:00+00:00'
    """
    options = _options(as_of=as_of, windows=windows, tz=tz, vocabulary=vocabulary, columns=columns)
    if customer_id is not None and (isinstance(customer_id, bool) or not isinstance(customer_id, (int, str))):
        raise DataError(
            "customer_id must be an int or a str, got "
            f"{type(customer_id).__name__}: {value_repr(customer_id)}"
        )
    table, has_ids = _one_table(events, options)
    log = _read(table, options)
    ids = log.ids.tolist()
    if has_ids and ids:
        different = [row for row, value in enumerate(ids) if value != ids[0]]
        if different:
            row = different[0]
            raise DataError(
                f"engagement_metrics_one() takes one customer's events; row {row} has customer_id "
                f"{ids[row]!r}, row 0 has {ids[0]!r}"
            )
        if customer_id is None:
            customer_id = ids[0]
        elif customer_id != ids[0]:
            raise DataError(f"customer_id={customer_id!r} but the events are customer {ids[0]!r}'s")
    return _one(customer_id, log.event.tolist(), log.time.tolist(), options)


def _one_table(events: Any, options: _Options) -> tuple[Table, bool]:
    """The events as a Table for ``_read``, and whether they carry customer ids (else a placeholder)."""
    if isinstance(events, (str, bytes)) or not isinstance(events, (Table, Mapping, Iterable)):
        raise DataError(
            "events must be a sequence of mappings, a Table or a mapping of columns, "
            f"got {type(events).__name__}"
        )
    if isinstance(events, Table):
        table = events
    elif isinstance(events, Mapping):
        table = Table(events, tz=options.read_zone)
    else:
        rows = record_list(events, what="events")
        if not rows:
            empty = {
                "customer_id": np.zeros(0, dtype=np.int64),
                "event": np.zeros(0, dtype=object),
                "occurred_at": np.zeros(0, dtype="datetime64[us]"),
            }
            return Table._trusted(empty), False
        table = Table.from_records(rows, tz=options.read_zone)
    id_name = (options.columns or {}).get("customer_id", "customer_id")
    if id_name in table:
        return table, True
    return table.with_columns({id_name: np.zeros(len(table), dtype=np.int64)}), False


def _one(customer_id: Any, events: list[int], times: list[int], options: _Options) -> dict[str, Any]:
    counts = [0] * _E
    windows = [[0] * _E for _ in options.windows]
    first: list[int | None] = [None] * _E
    last: list[int | None] = [None] * _E
    for e, us in zip(events, times):
        if e < 0 or us >= options.as_of_us:
            continue
        counts[e] += 1
        for w, start in enumerate(options.window_starts_us):
            if us >= start:
                windows[w][e] += 1
        previous_first, previous_last = first[e], last[e]
        first[e] = us if previous_first is None else min(previous_first, us)
        last[e] = us if previous_last is None else max(previous_last, us)
    seen_first = [t for t in first if t is not None]
    seen_last = [t for t in last if t is not None]
    out: dict[str, Any] = {
        "customer_id": customer_id,
        "first_event_at": _instant(min(seen_first)) if seen_first else None,
        "last_event_at": _instant(max(seen_last)) if seen_last else None,
        "purchases": counts[_PURCHASE],
        "is_member": counts[_MEMBER_JOIN] > 0,
    }
    for e, name in enumerate(EVENT_TYPES):
        out[f"{name}_count"] = counts[e]
        for w, text in enumerate(options.windows):
            out[f"{name}_{text}"] = windows[w][e]
        stamp = last[e]
        out[f"last_{name}_at"] = None if stamp is None else _instant(stamp)
    return out


def _instant(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)

"""``Transactions``: a validated purchase log with canonical column names, and its checks.

Every check names the column, the first offending row and its value; see ``docs/metrics.md`` for the
rules. Instants end up as UTC ``datetime64[us]``, amounts as ``float64``, customer and order ids as
``int64`` or ``str`` objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timezone, tzinfo
from typing import Any

import numpy as np

from user_ops._table import (
    Array,
    Table,
    _missing_column_message,
    parse_instants,
    wall_clock_to_utc,
)
from user_ops._time import TzLike, get_tz
from user_ops.exceptions import DataError, value_repr

__all__ = ["OPTIONAL_COLUMNS", "REQUIRED_COLUMNS", "Transactions"]

#: Columns every transaction log must have (rename yours with ``columns=``).
REQUIRED_COLUMNS = ("customer_id", "ordered_at", "amount")
#: Optional columns; ``quantity``, ``category``, ``channel``, ``sku`` and ``line_no`` are carried for the
#: host (an order-line log has them), not used by the metrics.
OPTIONAL_COLUMNS = (
    "order_id",
    "discount",
    "is_promo",
    "unit_price",
    "quantity",
    "category",
    "channel",
    "sku",
    "line_no",
)
_KNOWN = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


class Transactions:
    """A validated, immutable purchase log: one row per order line or refund.

    Parameters
    ----------
    data:
        A [`Table`][], a mapping of columns, a list of records or a DataFrame whose
        column names are already the canonical ones (use [`from_columns`][], [`from_records`][]
        or [`from_frame`][] with ``columns=`` to rename).
    tz:
        Time zone of naive datetimes and of date / datetime strings without a UTC offset (they are
        rejected without it). It does not decide where business days begin: that is the ``tz`` of
        [`customer_metrics`][].

    Columns
    -------
    ``customer_id`` (int or str), ``ordered_at`` (aware datetimes, ``datetime64`` or dates with
    ``tz=``, or ISO 8601 strings) and ``amount`` (int, float or Decimal; negative = refund) are
    required; ``order_id`` (int or str), ``discount`` (>= 0), ``is_promo`` (bool), ``unit_price``
    (>= 0, null = unknown), ``quantity``, ``category`` and ``channel`` are optional.

    Raises
    ------
    DataError
        For a missing or unknown column, ragged columns, a null id, a null / NaN / infinite amount, a
        naive or unparseable ``ordered_at``, or a value of the wrong type, naming the column, the first
        offending row and its value.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> tx = Transactions({
    ...     "customer_id": [1, 1, 2],
    ...     "ordered_at": ["2024-06-01T10:00:00+08:00", "2024-06-20", "2024-06-21T09:30"],
    ...     "amount": [120.0, -20.0, 88.5],
    ... }, tz="Asia/Shanghai")
    >>> len(tx), tx.columns
    (3, ('customer_id', 'ordered_at', 'amount'))
    >>> tx.table["ordered_at"]
    array(['2024-06-01T02:00:00.000000', '2024-06-19T16:00:00.000000',
           '2024-06-21T01:30:00.000000'], dtype='datetime64[us]')
    """

    __slots__ = ("_table", "_tz")

    def __init__(self, data: Any, *, tz: TzLike | None = None) -> None:
        if isinstance(data, Transactions):
            self._table: Table = data._table
            self._tz: tzinfo | None = data._tz
            return
        zone = None if tz is None else get_tz(tz)
        raw = _as_table(data, zone)
        _check_names(raw.columns)
        if len(raw) == 0:  # empty lists have no kind yet: give each column its canonical empty form
            self._table = Table._trusted({name: _empty(raw, name) for name in _ordered(raw)})
        else:
            self._table = Table._trusted({name: _CHECKS[name](raw, name, zone) for name in _ordered(raw)})
        self._tz = zone

    # -- constructors -------------------------------------------------------------------------------
    @classmethod
    def from_columns(
        cls,
        data: Mapping[str, Any],
        *,
        tz: TzLike | None = None,
        columns: Mapping[str, str] | Sequence[str] | None = None,
    ) -> Transactions:
        """Build from a mapping of column name to values (lists, numpy arrays or Series).

        Parameters
        ----------
        data:
            The data, one entry per column.
        tz:
            Time zone of naive datetimes and offset-less date strings.
        columns:
            ``{canonical_name: your_name}`` to pick and rename columns, or a list of canonical names
            to keep; the other columns are ignored. Without it, every column must have a canonical
            name.

        Examples
        --------
        >>> tx = Transactions.from_columns(
        ...     {"uid": ["a", "b"], "paid_at": ["2024-06-01", "2024-06-02"], "total": [10, 20]},
        ...     columns={"customer_id": "uid", "ordered_at": "paid_at", "amount": "total"}, tz="UTC")
        >>> tx.table["amount"]
        array([10., 20.])
        """
        if not isinstance(data, Mapping):
            raise DataError(f"from_columns() takes a mapping of columns, got {type(data).__name__}")
        return cls(_renamed(dict(data), columns), tz=tz)

    @classmethod
    def from_records(
        cls,
        rows: Iterable[Mapping[str, Any]],
        *,
        tz: TzLike | None = None,
        columns: Mapping[str, str] | Sequence[str] | None = None,
    ) -> Transactions:
        """Build from records (one mapping per row); a key missing from a row is a null.

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> rows = [{"customer_id": 7, "ordered_at": datetime(2024, 6, 1, tzinfo=timezone.utc),
        ...          "amount": 99.0, "order_id": "A1"}]
        >>> Transactions.from_records(rows).columns
        ('customer_id', 'ordered_at', 'amount', 'order_id')
        """
        if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Iterable):
            raise DataError(
                f"from_records() takes an iterable of mappings, got {type(rows).__name__}: {value_repr(rows)}"
            )
        table = Table.from_records(rows, tz=tz)
        picked = _renamed({name: table[name] for name in table.columns}, columns)
        return cls(Table._trusted(picked), tz=tz)

    @classmethod
    def from_frame(
        cls,
        frame: Any,
        *,
        columns: Mapping[str, str] | Sequence[str] | None = None,
        tz: TzLike | None = None,
    ) -> Transactions:
        """Build from a pandas or polars DataFrame, a pyarrow Table or a [`Table`][].

        Parameters
        ----------
        frame:
            The data frame.
        columns:
            ``{canonical_name: frame_column}`` to pick and rename, or a list of canonical names to
            keep; without it every column must have a canonical name.
        tz:
            Time zone of naive datetime columns and offset-less date strings.

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"CustomerID": [1, 2], "InvoiceDate": ["2024-06-01 10:00", "2024-06-02"],
        ...                    "Sales": [9.9, 30.0], "Country": ["CN", "CN"]})
        >>> tx = Transactions.from_frame(df, tz="Asia/Shanghai", columns={
        ...     "customer_id": "CustomerID", "ordered_at": "InvoiceDate", "amount": "Sales"})
        >>> tx.columns
        ('customer_id', 'ordered_at', 'amount')
        """
        return cls(Table.from_frame(frame, columns=columns, tz=tz), tz=tz)

    # -- access -------------------------------------------------------------------------------------
    @property
    def table(self) -> Table:
        """The validated columns (canonical names; UTC instants; float amounts)."""
        return self._table

    @property
    def tz(self) -> tzinfo | None:
        """The zone naive input was read in (``None``: the input had to be aware)."""
        return self._tz

    @property
    def columns(self) -> tuple[str, ...]:
        """Canonical column names present, required ones first."""
        return self._table.columns

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        customers = len(np.unique(self._table["customer_id"])) if len(self) else 0
        return f"Transactions({len(self)} rows, {customers} customers; columns: {', '.join(self.columns)})"


# -- building -----------------------------------------------------------------------------------------
def _as_table(data: Any, zone: tzinfo | None) -> Table:
    if isinstance(data, Table):
        return data
    if isinstance(data, (Mapping, list)):
        return Table.coerce(data, tz=zone)
    return Table.from_frame(data, tz=zone)


def _renamed(columns: Mapping[str, Any], mapping: Mapping[str, str] | Sequence[str] | None) -> dict[str, Any]:
    if mapping is None:
        return dict(columns)
    if isinstance(mapping, str) or not isinstance(mapping, (Mapping, Sequence)):
        raise DataError(f"columns= takes {{canonical_name: your_name}} or a list of names, got {mapping!r}")
    if not isinstance(mapping, Mapping):
        mapping = {name: name for name in mapping}
    _check_known(tuple(mapping))
    out = {}
    for ours, theirs in mapping.items():
        if theirs not in columns:
            raise DataError(_missing_column_message(theirs, tuple(columns)) + f" (mapped to {ours!r})")
        out[ours] = columns[theirs]
    return out


def _check_names(names: Sequence[str]) -> None:
    _check_known(names)
    for name in REQUIRED_COLUMNS:
        if name not in names:
            raise DataError(
                f"transactions need a {name!r} column (got {', '.join(map(repr, names)) or 'none'}); "
                "rename yours with columns="
            )


def _check_known(names: Sequence[str]) -> None:
    import difflib

    for name in names:
        if name not in _KNOWN:
            close = difflib.get_close_matches(str(name), _KNOWN, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DataError(
                f"unknown transaction column {name!r}{hint} (known: {', '.join(_KNOWN)}); pick and "
                "rename columns with columns="
            )


def _ordered(table: Table) -> list[str]:
    return [name for name in _KNOWN if name in table]


_EMPTY_DTYPES = {
    "customer_id": np.int64,
    "ordered_at": "datetime64[us]",
    "amount": np.float64,
    "order_id": np.int64,
    "discount": np.float64,
    "is_promo": np.bool_,
    "unit_price": np.float64,
    "quantity": np.float64,
    "category": object,
    "channel": object,
    "sku": object,
    "line_no": np.float64,
}


def _empty(table: Table, name: str) -> Array:
    kind = table.kind(name)
    if name in ("customer_id", "order_id") and kind == "str":
        return table[name]
    return np.zeros(0, dtype=_EMPTY_DTYPES[name])


def _value(column: Array, row: int) -> str:
    value = column[row]
    if isinstance(value, np.datetime64):
        return str(value)
    return repr(value.item() if isinstance(value, np.generic) else value)


def _first(mask: Array) -> int:
    return int(np.argmax(mask))


def _no_nulls(table: Table, name: str, what: str) -> None:
    mask = table.null_mask(name)
    if mask is not None:
        raise DataError(f"column {name!r} row {_first(mask)} is null; every row needs {what}")


# -- per-column checks ----------------------------------------------------------------------------
def _ids(table: Table, name: str, zone: tzinfo | None) -> Array:
    _no_nulls(table, name, "an id")
    kind = table.kind(name)
    if kind not in ("int", "str"):
        raise DataError(
            f"column {name!r} must hold ints or strings, got {kind} (row 0: {_value(table[name], 0)})"
        )
    column = table[name]
    return np.ma.getdata(column) if kind == "int" else column


def _amounts(table: Table, name: str, zone: tzinfo | None) -> Array:
    return _numbers(table, name, allow_null=False, allow_negative=True)


def _numbers(table: Table, name: str, *, allow_null: bool, allow_negative: bool) -> Array:
    kind = table.kind(name)
    column = table[name]
    if kind == "null":
        if not allow_null:
            raise DataError(f"column {name!r} row 0 is null or NaN; every row needs a number")
        return np.full(len(column), np.nan)
    if kind not in ("int", "float", "decimal"):
        row = next(i for i, v in enumerate(column.tolist()) if v is not None)
        raise DataError(f"column {name!r} must hold numbers, got {kind} (row {row}: {_value(column, row)})")
    null = table.null_mask(name)
    if null is not None and not allow_null:
        raise DataError(f"column {name!r} row {_first(null)} is null or NaN; every row needs a number")
    values = _to_float(column, kind, null)
    bad = np.isinf(values)
    if not allow_negative:
        bad |= values < 0
    if bad.any():
        row = _first(bad)
        rule = "finite" if allow_negative else "finite and >= 0"
        raise DataError(f"column {name!r} row {row}: {_value(column, row)} is not {rule}")
    return values


def _to_float(column: Array, kind: str, null: Array | None) -> Array:
    if kind == "decimal":
        out = np.array([np.nan if v is None else float(v) for v in column.tolist()], dtype=np.float64)
    else:
        out = np.ma.getdata(column).astype(np.float64)
    if null is not None:
        out[null] = np.nan
    return out


def _optional_numbers(table: Table, name: str, zone: tzinfo | None) -> Array:
    return _numbers(table, name, allow_null=True, allow_negative=False)


def _discounts(table: Table, name: str, zone: tzinfo | None) -> Array:
    # A null discount is "no discount recorded": 0, documented, so promo shares stay defined.
    values = _numbers(table, name, allow_null=True, allow_negative=False)
    return np.where(np.isnan(values), 0.0, values)


def _quantities(table: Table, name: str, zone: tzinfo | None) -> Array:
    return _numbers(table, name, allow_null=True, allow_negative=True)


def _flags(table: Table, name: str, zone: tzinfo | None) -> Array:
    kind = table.kind(name)
    if kind == "null":
        return np.zeros(len(table), dtype=np.bool_)
    if kind != "bool":
        raise DataError(f"column {name!r} must hold booleans, got {kind} (row 0: {_value(table[name], 0)})")
    # A null flag is "not known to be on promotion": False, documented.
    return np.asarray(np.ma.filled(table[name], False), dtype=np.bool_)


def _texts(table: Table, name: str, zone: tzinfo | None) -> Array:
    kind = table.kind(name)
    if kind not in ("str", "null"):
        raise DataError(f"column {name!r} must hold strings, got {kind}")
    return table[name]


def _instants(table: Table, name: str, zone: tzinfo | None) -> Array:
    kind = table.kind(name)
    column = table[name]
    null = table.null_mask(name)
    if null is not None:
        row = _first(null)
        raise DataError(f"column {name!r} row {row} is null; every row needs a time")
    if kind == "datetime":
        return _in_calendar(column, name)
    if kind == "date":
        if zone is None:
            raise DataError(
                f"column {name!r} holds dates without a time zone (row 0: {column[0]}); pass tz= to "
                "read each date as midnight in that zone"
            )
        return _in_calendar(wall_clock_to_utc(column.astype("datetime64[us]"), zone, name=name), name)
    if kind == "str":
        return _in_calendar(parse_instants(column, name=name, tz=zone), name)
    raise DataError(
        f"column {name!r} must hold datetimes or ISO 8601 strings, got {kind} (row 0: {_value(column, 0)})"
    )


# Instants whose date is a Python date in every time zone: datetime64 reaches far beyond the years
# 1..9999, but the scalar path, local calendar days and the results' datetimes do not.
_EARLIEST = np.datetime64("0001-01-02T00:00", "us")
_LATEST = np.datetime64("9999-12-31T00:00", "us")


def _in_calendar(column: Array, name: str) -> Array:
    outside = (column < _EARLIEST) | (column >= _LATEST)
    if outside.any():
        row = _first(outside)
        raise DataError(
            f"column {name!r} row {row}: {column[row]} is outside the calendar (0001-01-02 to 9999-12-30 UTC)"
        )
    return column


_CHECKS = {
    "customer_id": _ids,
    "ordered_at": _instants,
    "amount": _amounts,
    "order_id": _ids,
    "discount": _discounts,
    "is_promo": _flags,
    "unit_price": _optional_numbers,
    "quantity": _quantities,
    "category": _texts,
    "channel": _texts,
    "sku": _texts,
    "line_no": _quantities,
}


_UTC = timezone.utc

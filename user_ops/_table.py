"""``Table``: named, equal-length, one-dimensional numpy columns; the batch currency of ``user_ops``.

Column kinds and how each holds a missing value (null):

=============  ==============================  ===================================
kind           numpy dtype                     null
=============  ==============================  ===================================
``int``        ``int64`` (masked if nulls)     mask of a ``numpy.ma.MaskedArray``
``bool``       ``bool`` (masked if nulls)      mask of a ``numpy.ma.MaskedArray``
``float``      ``float64``                     ``NaN``
``decimal``    ``object`` of ``Decimal``       ``None``
``str``        ``object`` of ``str``           ``None``
``datetime``   ``datetime64[us]``, UTC         ``NaT``
``date``       ``datetime64[D]``               ``NaT``
``duration``   ``timedelta64[us]``             ``NaT``
``list[str]``  ``object`` of ``tuple[str]``    ``None``
``null``       ``object``, all ``None``        ``None``
=============  ==============================  ===================================

Instants are always stored as UTC; naive input is rejected unless the caller names its zone (``tz=``).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from user_ops._time import TzLike, as_utc_us, get_tz, local_us, require_aware, utc_offsets
from user_ops.exceptions import DataError

__all__ = ["ColumnKind", "Table", "column_kind", "normalize_column"]

ColumnKind = Literal[
    "int", "bool", "float", "decimal", "str", "datetime", "date", "duration", "list[str]", "null"
]
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_LIST_TYPES = (list, tuple, set, frozenset)


class Table:
    """Named equal-length 1-D numpy columns.

    Parameters
    ----------
    columns:
        Mapping of column name to a 1-D numpy array or a list of Python values.
    tz:
        Time zone of naive datetimes in the input (they are rejected without it).

    Examples
    --------
    >>> t = Table({"customer_id": [1, 2, 3], "spend": [10.5, None, 3.0]})
    >>> len(t), t.columns
    (3, ('customer_id', 'spend'))
    >>> t["spend"]
    array([10.5,  nan,  3. ])
    """

    __slots__ = ("_columns", "_length", "_cache")

    def __init__(self, columns: Mapping[str, Any] | None = None, *, tz: TzLike | None = None) -> None:
        if columns is None:
            columns = {}
        if isinstance(columns, Table):
            self._adopt(columns._columns)
            return
        if not isinstance(columns, Mapping):
            raise DataError(
                f"Table() takes a mapping of column name to values, got {type(columns).__name__}; "
                "use Table.from_records(rows) for a list of dicts or Table.from_frame(df) for a DataFrame"
            )
        normalized = {}
        for name, values in columns.items():
            if not isinstance(name, str) or not name:
                raise DataError(f"column names must be non-empty strings, got {name!r}")
            normalized[name] = normalize_column(values, name=name, tz=tz)
        self._adopt(normalized)

    def _adopt(self, columns: Mapping[str, np.ndarray[Any, Any]]) -> None:
        lengths = {name: len(col) for name, col in columns.items()}
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{n}={k}" for n, k in lengths.items())
            raise DataError(f"columns have different lengths: {detail}")
        self._columns: dict[str, np.ndarray[Any, Any]] = dict(columns)
        self._length = next(iter(lengths.values()), 0)
        self._cache: dict[Any, Any] = {}
        for col in self._columns.values():
            col.flags.writeable = False

    @classmethod
    def _trusted(cls, columns: Mapping[str, np.ndarray[Any, Any]]) -> Table:
        """Build from already-normalized columns (internal: skips normalization)."""
        table = cls.__new__(cls)
        table._adopt(columns)
        return table

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def from_records(
        cls,
        rows: Iterable[Mapping[str, Any]],
        *,
        columns: Sequence[str] | None = None,
        tz: TzLike | None = None,
    ) -> Table:
        """Build from a sequence of mappings (one per row); a key missing from a row is a null.

        Parameters
        ----------
        rows:
            The records.
        columns:
            Column names to keep, in order (default: every key, in order of first appearance).
        tz:
            Time zone of naive datetimes in the input.

        Examples
        --------
        >>> t = Table.from_records([{"id": 1, "city": "北京"}, {"id": 2}])
        >>> t["city"].tolist()
        ['北京', None]
        """
        rows = rows if isinstance(rows, list) else list(rows)
        for position, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise DataError(f"row {position} is a {type(row).__name__}, not a mapping")
        names = list(columns) if columns is not None else _keys_in_order(rows)
        data: dict[str, Any] = {}
        for name in names:
            try:
                data[name] = [row[name] for row in rows]
            except KeyError:
                data[name] = [row.get(name) for row in rows]
        return cls(data, tz=tz)

    @classmethod
    def from_frame(
        cls,
        frame: Any,
        *,
        columns: Mapping[str, str] | Sequence[str] | None = None,
        tz: TzLike | None = None,
    ) -> Table:
        """Build from a pandas or polars DataFrame, a pyarrow Table, or another Table.

        Parameters
        ----------
        frame:
            The data frame.
        columns:
            Either a sequence of column names to keep, or a mapping ``{our_name: their_name}`` to pick
            and rename columns.
        tz:
            Time zone of naive datetime columns.
        """
        from user_ops import _frames

        return _frames.table_from_frame(cls, frame, columns=columns, tz=tz)

    @classmethod
    def coerce(cls, data: Any, *, tz: TzLike | None = None) -> Table:
        """Return ``data`` as a Table: a Table as is, a mapping of columns, a list of records or a frame."""
        if isinstance(data, Table):
            return data
        if isinstance(data, Mapping):
            return cls(data, tz=tz)
        if isinstance(data, list):
            return cls.from_records(data, tz=tz)
        return cls.from_frame(data, tz=tz)

    # -- access -------------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> np.ndarray[Any, Any]:
        try:
            return self._columns[name]
        except KeyError:
            raise DataError(_missing_column_message(name, self.columns)) from None

    def __len__(self) -> int:
        return self._length

    def __contains__(self, name: object) -> bool:
        return name in self._columns

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names in order."""
        return tuple(self._columns)

    def kind(self, name: str) -> ColumnKind:
        """The column kind (see the module docstring) of column ``name``."""
        key = ("kind", name)
        if key not in self._cache:
            self._cache[key] = column_kind(self[name])
        result: ColumnKind = self._cache[key]
        return result

    def null_mask(self, name: str) -> npt.NDArray[np.bool_] | None:
        """Boolean mask of the nulls in column ``name``, or ``None`` when it has none (cached)."""
        key = ("null", name)
        if key not in self._cache:
            self._cache[key] = _null_mask(self[name], self.kind(name))
        result: npt.NDArray[np.bool_] | None = self._cache[key]
        return result

    def cached(self, key: Any, compute: Any) -> Any:
        """Memoize a derived value of this (immutable) table, e.g. a factorized column."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def select(self, names: Iterable[str]) -> Table:
        """A table with only ``names``, in that order."""
        return Table._trusted({name: self[name] for name in names})

    def with_columns(self, columns: Mapping[str, Any], *, tz: TzLike | None = None) -> Table:
        """A new table with ``columns`` added or replaced."""
        merged = dict(self._columns)
        for name, values in columns.items():
            merged[name] = normalize_column(values, name=name, tz=tz)
        return Table._trusted(merged)

    def row(self, index: int) -> dict[str, Any]:
        """Row ``index`` as a dict of Python values (nulls as ``None``)."""
        if not -self._length <= index < self._length:
            raise IndexError(f"row {index} out of range for a table of {self._length} rows")
        return {name: _to_python(self[name], self.kind(name), index) for name in self._columns}

    def to_dicts(self) -> list[dict[str, Any]]:
        """All rows as dicts of Python values: aware UTC datetimes, dates, Decimals, tuples, None."""
        lists = {name: _column_to_python(self[name], self.kind(name)) for name in self._columns}
        names = list(lists)
        return [dict(zip(names, values)) for values in zip(*lists.values())] if names else []

    def to_pandas(self) -> Any:
        """A pandas DataFrame (needs the ``pandas`` extra); datetimes become UTC-aware."""
        from user_ops import _frames

        return _frames.table_to_pandas(self)

    def to_polars(self) -> Any:
        """A polars DataFrame (needs the ``polars`` extra); datetimes become UTC-aware."""
        from user_ops import _frames

        return _frames.table_to_polars(self)

    def to_arrow(self) -> Any:
        """A pyarrow Table (needs the ``arrow`` extra); datetimes become UTC-aware."""
        from user_ops import _frames

        return _frames.table_to_arrow(self)

    def equals(self, other: Table) -> bool:
        """True when both tables have the same column names, kinds and values (nulls equal)."""
        if self.columns != other.columns or len(self) != len(other):
            return False
        return all(
            self.kind(n) == other.kind(n)
            and _column_to_python(self[n], self.kind(n)) == _column_to_python(other[n], other.kind(n))
            for n in self.columns
        )

    def __repr__(self) -> str:
        kinds = ", ".join(f"{n}: {self.kind(n)}" for n in self.columns)
        return f"Table({self._length} rows; {kinds})"

    def _repr_html_(self, max_rows: int = 20) -> str:
        head = "".join(
            f"<th>{html.escape(n)}<br><small>{html.escape(self.kind(n))}</small></th>" for n in self.columns
        )
        shown = min(self._length, max_rows)
        body = []
        for i in range(shown):
            row = self.row(i)
            cells = "".join(f"<td>{html.escape(_cell_text(row[n]))}</td>" for n in self.columns)
            body.append(f"<tr>{cells}</tr>")
        more = (
            f"<p><small>{self._length - shown} more rows</small></p>" if self._length > shown else ""
        )
        return (
            f"<div class='user-ops-table'><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>"
            f"<p><small>{self._length} rows × {len(self.columns)} columns</small></p>{more}</div>"
        )


def _cell_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _keys_in_order(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    if not rows:
        return []
    first = list(rows[0])
    seen = set(first)
    extra: list[str] = []
    for row in rows:
        if len(row) != len(first) or any(k not in seen for k in row):
            for key in row:
                if key not in seen:
                    seen.add(key)
                    extra.append(key)
    return first + extra


def _missing_column_message(name: str, available: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(available), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(repr(a) for a in available[:20])
    return f"no column {name!r}{hint} (columns: {listing})"


# -- normalization ----------------------------------------------------------------------------------
def normalize_column(values: Any, *, name: str, tz: TzLike | None = None) -> np.ndarray[Any, Any]:
    """Turn a list or array into the canonical numpy form of its kind (see the module docstring).

    Raises
    ------
    DataError
        For 2-D input, unsupported dtypes, mixed types, naive datetimes without ``tz`` and integers
        outside the int64 range, naming the column and the first offending row.
    """
    if isinstance(values, np.ndarray):
        return _normalize_array(values, name=name, tz=tz)
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise DataError(f"column {name!r} must be a 1-D array or a list, got {type(values).__name__}")
    if not isinstance(values, (list, tuple)):
        values = list(values)
    return _normalize_list(values, name=name, tz=tz)


def _normalize_array(values: np.ndarray[Any, Any], *, name: str, tz: TzLike | None) -> np.ndarray[Any, Any]:
    if values.ndim != 1:
        raise DataError(f"column {name!r} must be 1-D, got an array of shape {values.shape}")
    if isinstance(values, np.ma.MaskedArray):
        return _normalize_masked(values, name=name, tz=tz)
    char = values.dtype.kind
    if char == "b":
        return values.astype(np.bool_, copy=False)
    if char == "i":
        return values.astype(np.int64, copy=False)
    if char == "u":
        if values.size and values.max() > _INT64_MAX:
            row = int(np.argmax(values > _INT64_MAX))
            raise DataError(f"column {name!r} row {row}: {values[row]} is outside the int64 range")
        return values.astype(np.int64)
    if char == "f":
        return values.astype(np.float64, copy=False)
    if char == "M":
        unit = np.datetime_data(values.dtype)[0]
        if unit in ("Y", "M", "W", "D"):
            return values.astype("datetime64[D]")
        if tz is None:
            raise DataError(
                f"column {name!r} holds datetime64 values without a time zone; pass tz='UTC' (or the "
                "zone whose wall-clock times they are)"
            )
        return _wall_clock_to_utc(values.astype("datetime64[us]"), get_tz(tz))
    if char == "m":
        return values.astype("timedelta64[us]")
    if char in "US":
        return _normalize_list(values.tolist(), name=name, tz=tz)
    if char == "O":
        return _normalize_list(values.tolist(), name=name, tz=tz)
    raise DataError(f"column {name!r} has unsupported dtype {values.dtype}")


def _normalize_masked(values: np.ma.MaskedArray[Any, Any], *, name: str, tz: TzLike | None) -> np.ndarray[Any, Any]:
    mask = np.ma.getmaskarray(values)
    data = _normalize_array(np.ma.getdata(values), name=name, tz=tz)
    if not mask.any():
        return data
    if data.dtype.kind in "bi":
        return np.ma.MaskedArray(data, mask=mask.copy())
    if data.dtype.kind == "f":
        return np.where(mask, np.nan, data)
    if data.dtype.kind in "Mm":
        out = data.copy()
        out[mask] = np.datetime64("NaT") if data.dtype.kind == "M" else np.timedelta64("NaT")
        return out
    out = data.astype(object)
    out[mask] = None
    return out


def _wall_clock_to_utc(wall: np.ndarray[Any, Any], zone: Any) -> np.ndarray[Any, Any]:
    """Interpret datetime64[us] wall-clock values in ``zone`` and return UTC datetime64[us]."""
    nat = np.isnat(wall)
    raw = wall.view(np.int64)
    guess = raw - utc_offsets(np.where(nat, 0, raw), zone)
    # A second pass fixes rows whose offset differs between wall-clock and UTC reading (near DST).
    utc = raw - utc_offsets(np.where(nat, 0, guess), zone)
    out = utc.view("datetime64[us]").copy()
    out[nat] = np.datetime64("NaT")
    return out


def _normalize_list(values: Sequence[Any], *, name: str, tz: TzLike | None) -> np.ndarray[Any, Any]:
    present = [v for v in values if v is not None]
    kinds = {_value_kind(v, name) for v in present}
    n = len(values)
    if not kinds:
        return np.full(n, None, dtype=object)
    kind = _unify(kinds, values, name)
    has_null = len(present) != n
    if kind == "bool":
        return _with_mask(values, np.bool_, has_null)
    if kind == "int":
        try:
            return _with_mask(values, np.int64, has_null)
        except OverflowError:
            row = next(i for i, v in enumerate(values) if v is not None and not _INT64_MIN <= v <= _INT64_MAX)
            raise DataError(f"column {name!r} row {row}: {values[row]} is outside the int64 range") from None
    if kind == "float":
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    if kind == "decimal":
        return _object_array([None if v is None else Decimal(v) for v in values])
    if kind == "str":
        return _object_array(values)
    if kind == "list[str]":
        return _object_array([None if v is None else _str_tuple(v, name) for v in values])
    if kind == "datetime":
        return _datetimes(values, name=name, tz=tz)
    if kind == "date":
        return np.array([np.datetime64("NaT") if v is None else v for v in values], dtype="datetime64[D]")
    if kind == "duration":
        return np.array(
            [np.timedelta64("NaT") if v is None else v for v in values], dtype="timedelta64[us]"
        )
    raise AssertionError(kind)


def _object_array(values: Sequence[Any]) -> np.ndarray[Any, Any]:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _with_mask(values: Sequence[Any], dtype: Any, has_null: bool) -> np.ndarray[Any, Any]:
    if not has_null:
        return np.array(values, dtype=dtype)
    mask = np.fromiter((v is None for v in values), dtype=np.bool_, count=len(values))
    filled = [0 if v is None else v for v in values]
    return np.ma.MaskedArray(np.array(filled, dtype=dtype), mask=mask)


def _value_kind(value: Any, name: str) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, str):
        return "str"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, timedelta):
        return "duration"
    if isinstance(value, _LIST_TYPES):
        return "list[str]"
    raise DataError(f"column {name!r} holds an unsupported value {value!r} ({type(value).__name__})")


_NUMERIC_UNIONS = {
    frozenset({"int", "float"}): "float",
    frozenset({"int", "decimal"}): "decimal",
}


def _unify(kinds: set[str], values: Sequence[Any], name: str) -> str:
    if len(kinds) == 1:
        return next(iter(kinds))
    unified = _NUMERIC_UNIONS.get(frozenset(kinds))
    if unified is not None:
        return unified
    first = {}
    for row, value in enumerate(values):
        if value is not None:
            first.setdefault(_value_kind(value, name), row)
    detail = ", ".join(f"{k} (row {r}: {values[r]!r})" for k, r in sorted(first.items(), key=lambda x: x[1]))
    raise DataError(f"column {name!r} mixes value types: {detail}")


def _str_tuple(value: Any, name: str) -> tuple[str, ...]:
    items = tuple(sorted(value)) if isinstance(value, (set, frozenset)) else tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise DataError(f"column {name!r}: list values must hold strings, got {item!r}")
    return items


def _datetimes(values: Sequence[Any], *, name: str, tz: TzLike | None) -> np.ndarray[Any, Any]:
    out = np.empty(len(values), dtype=np.int64)
    nat = np.zeros(len(values), dtype=np.bool_)
    for row, value in enumerate(values):
        if value is None:
            nat[row] = True
            out[row] = 0
            continue
        try:
            aware = require_aware(value, name=f"column {name!r} row {row}", tz=tz)
        except DataError:
            raise
        out[row] = as_utc_us(aware)
    result = out.view("datetime64[us]").copy()
    result[nat] = np.datetime64("NaT")
    return result


# -- kinds and nulls --------------------------------------------------------------------------------
def column_kind(column: np.ndarray[Any, Any]) -> ColumnKind:
    """The kind of a normalized column."""
    char = column.dtype.kind
    if char == "b":
        return "bool"
    if char == "i":
        return "int"
    if char == "f":
        return "float"
    if char == "M":
        return "date" if np.datetime_data(column.dtype)[0] == "D" else "datetime"
    if char == "m":
        return "duration"
    for value in column:
        if value is None:
            continue
        if isinstance(value, Decimal):
            return "decimal"
        if isinstance(value, str):
            return "str"
        return "list[str]"
    return "null"


def _null_mask(column: np.ndarray[Any, Any], kind: ColumnKind) -> npt.NDArray[np.bool_] | None:
    if isinstance(column, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(column)
    elif kind == "float":
        mask = np.isnan(column)
    elif kind in ("datetime", "date", "duration"):
        mask = np.isnat(column)
    elif kind in ("int", "bool"):
        return None
    else:
        mask = np.equal(column, None)
    return mask if mask.any() else None


def _to_python(column: np.ndarray[Any, Any], kind: ColumnKind, index: int) -> Any:
    return _column_to_python(column[index : index + 1] if index != -1 else column[-1:], kind)[0]


def _column_to_python(column: np.ndarray[Any, Any], kind: ColumnKind) -> list[Any]:
    if isinstance(column, np.ma.MaskedArray):
        return list(column.tolist())
    if kind == "float":
        return [None if v != v else v for v in column.tolist()]
    if kind == "datetime":
        raw = column.view(np.int64).tolist()
        nat = np.isnat(column).tolist()
        epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
        return [None if n else epoch + timedelta(microseconds=v) for v, n in zip(raw, nat)]
    if kind in ("date", "duration"):
        return [None if v is None else v for v in column.tolist()]
    return list(column.tolist())


def local_wall_clock(column: np.ndarray[Any, Any], tz: TzLike) -> np.ndarray[Any, Any]:
    """UTC datetime64[us] column as wall-clock datetime64[us] in ``tz`` (NaT kept)."""
    raw = column.view(np.int64)
    out = local_us(raw, get_tz(tz)).view("datetime64[us]").copy()
    out[np.isnat(column)] = np.datetime64("NaT")
    return out

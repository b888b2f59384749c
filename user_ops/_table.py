"""``Table``: named, equal-length, one-dimensional numpy columns; the batch currency of ``user_ops``.

Column kinds and how each holds a missing value (null):

=============  ==============================  ===================================
kind           numpy dtype                     null
=============  ==============================  ===================================
``int``        ``int64`` (masked if nulls)     mask of a ``numpy.ma.MaskedArray``
``bool``       ``bool`` (masked if nulls)      mask of a ``numpy.ma.MaskedArray``
``float``      ``float64``                     ``NaN``
``decimal``    ``object`` of ``Decimal``       ``None`` (``Decimal('NaN')`` too)
``str``        ``object`` of ``str``           ``None``
``datetime``   ``datetime64[us]``, UTC         ``NaT``
``date``       ``datetime64[D]``               ``NaT``
``duration``   ``timedelta64[us]``             ``NaT``
``list[str]``  ``object`` of ``tuple[str]``    ``None``
``null``       ``object``, all ``None``        ``None``
=============  ==============================  ===================================

Instants are always stored as UTC; naive input is rejected unless the caller names its zone (``tz=``).
A naive wall-clock time is read as ``datetime.datetime`` reads it with ``fold=0``: a time that
happens twice (clocks going back) is the first of the two, and a time that never happens (clocks going
forward) moves forward by the gap, so 02:30 on a spring-forward night in New York is 03:30 EDT.

Columns are read-only and a ``Table`` never changes after it is built; numpy arrays passed in are
copied, so later changes to the caller's arrays do not leak into the table.
"""

from __future__ import annotations

import gc
import html
import operator
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from itertools import chain, repeat
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from user_ops._time import TzLike, get_tz, local_us, wall_offsets
from user_ops.exceptions import DataError

__all__ = ["ColumnKind", "Table", "column_kind", "normalize_column", "parse_instants", "wall_clock_to_utc"]

ColumnKind = Literal[
    "int", "bool", "float", "decimal", "str", "datetime", "date", "duration", "list[str]", "null"
]
Array = np.ndarray[Any, Any]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_LIST_TYPES = (list, tuple, set, frozenset)
_NONE_TYPE = type(None)
_US = 1_000_000
_US_PER_DAY = 86_400 * _US
_ONE_US = timedelta(microseconds=1)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ORDINAL_1970 = date(1970, 1, 1).toordinal()
# More distinct tzinfo objects than this in one column (e.g. one per row) take the per-row path.
_MAX_ZONES = 64


class Table:
    """Named equal-length 1-D numpy columns.

    Parameters
    ----------
    columns:
        Mapping of column name to a 1-D numpy array, a list of Python values, or a pandas / polars
        Series or pyarrow Array. Numpy arrays are copied.
    tz:
        Time zone of naive datetimes in the input (they are rejected without it).

    Raises
    ------
    DataError
        For ragged columns, bad column names, or values that fit no column kind.

    Examples
    --------
    >>> t = Table({"customer_id": [1, 2, 3], "spend": [10.5, None, 3.0]})
    >>> len(t), t.columns
    (3, ('customer_id', 'spend'))
    >>> t["spend"]
    array([10.5,  nan,  3. ])
    >>> t.kind("customer_id"), t.null_mask("spend")
    ('int', array([False,  True, False]))
    """

    __slots__ = ("_cache", "_columns", "_length")

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
            _check_name(name)
            normalized[name] = normalize_column(values, name=name, tz=tz)
        self._adopt(normalized)

    def _adopt(self, columns: Mapping[str, Array]) -> None:
        lengths = {name: len(col) for name, col in columns.items()}
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{n}={k}" for n, k in lengths.items())
            raise DataError(f"columns have different lengths: {detail}")
        self._columns: dict[str, Array] = dict(columns)
        self._length: int = next(iter(lengths.values()), 0)
        self._cache: dict[Any, Any] = {}
        for col in self._columns.values():
            col.flags.writeable = False
            mask = np.ma.getmask(col)
            if mask is not np.ma.nomask:  # a masked array's mask is a second buffer to freeze
                mask.flags.writeable = False

    @classmethod
    def _trusted(cls, columns: Mapping[str, Array]) -> Table:
        """Build from already-normalized columns (internal: no copy, no checks but lengths)."""
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
            Column names to keep, in order (default: every key, in order of first appearance). A name
            no row has gives an all-null column.
        tz:
            Time zone of naive datetimes in the input.

        Raises
        ------
        DataError
            For a row that is not a mapping, or values that fit no column kind (naming column and row).

        Examples
        --------
        >>> t = Table.from_records([{"id": 1, "city": "北京"}, {"id": 2}])
        >>> t["city"].tolist()
        ['北京', None]
        """
        rows = rows if isinstance(rows, list) else record_list(rows)
        try:
            data = _columns_of_records(rows, columns)
        except (TypeError, AttributeError):
            _check_rows_are_mappings(rows)  # name the row that is not a mapping
            raise
        return cls(data, tz=tz)

    @classmethod
    def from_frame(
        cls,
        frame: Any,
        *,
        columns: Mapping[str, Any] | Sequence[str] | None = None,
        tz: TzLike | None = None,
    ) -> Table:
        """Build from a pandas or polars DataFrame, a pyarrow Table, or another Table.

        Columns are converted without going through Python objects wherever the library allows it;
        how each dtype maps to a column kind is listed in ``user_ops._frames``.

        Parameters
        ----------
        frame:
            The data frame.
        columns:
            Either a sequence of column names to keep, or a mapping ``{our_name: their_name}`` to pick
            and rename columns.
        tz:
            Time zone of naive datetime columns (they are rejected without it).

        Raises
        ------
        DataError
            For a missing column (with a "did you mean"), an unsupported dtype, or naive datetimes
            without ``tz``.

        Examples
        --------
        >>> t = Table({"id": [1, 2], "city": ["a", "b"]})
        >>> Table.from_frame(t, columns={"customer": "id"}).columns
        ('customer',)
        """
        from user_ops._frames import table_from_frame

        return table_from_frame(cls, frame, columns=columns, tz=tz)

    @classmethod
    def coerce(cls, data: Any, *, tz: TzLike | None = None) -> Table:
        """Return ``data`` as a Table: a Table as is, a mapping of columns, a list of records or a frame.

        Examples
        --------
        >>> Table.coerce([{"a": 1}, {"a": 2}])["a"]
        array([1, 2])
        """
        if isinstance(data, Table):
            return data
        if isinstance(data, Mapping):
            return cls(data, tz=tz)
        if isinstance(data, list):
            return cls.from_records(data, tz=tz)
        return cls.from_frame(data, tz=tz)

    # -- access -------------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Array:
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
        """The column kind (see the module docstring) of column ``name``.

        Examples
        --------
        >>> Table({"tags": [["vip"], None]}).kind("tags")
        'list[str]'
        """
        key = ("kind", name)
        if key not in self._cache:
            self._cache[key] = column_kind(self[name])
        result: ColumnKind = self._cache[key]
        return result

    def null_mask(self, name: str) -> BoolArray | None:
        """Boolean mask of the nulls in column ``name``, or ``None`` when it has none (cached).

        Examples
        --------
        >>> Table({"n": [1, None, 3]}).null_mask("n")
        array([False,  True, False])
        """
        key = ("null", name)
        if key not in self._cache:
            self._cache[key] = _null_mask(self[name], self.kind(name))
        result: BoolArray | None = self._cache[key]
        return result

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Memoize a derived value of this (immutable) table, e.g. a factorized column."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def peek(self, key: Any) -> Any:
        """A memoized value if [`cached`][] has computed it, else ``None`` (computes nothing)."""
        return self._cache.get(key)

    def select(self, names: Iterable[str]) -> Table:
        """A table with only ``names``, in that order (columns are shared, not copied)."""
        return Table._trusted({name: self[name] for name in names})

    def with_columns(self, columns: Mapping[str, Any], *, tz: TzLike | None = None) -> Table:
        """A new table with ``columns`` added or replaced.

        Examples
        --------
        >>> Table({"a": [1, 2]}).with_columns({"b": ["x", "y"]}).columns
        ('a', 'b')
        """
        merged = dict(self._columns)
        for name, values in columns.items():
            _check_name(name)
            merged[name] = normalize_column(values, name=name, tz=tz)
        return Table._trusted(merged)

    def row(self, index: int) -> dict[str, Any]:
        """Row ``index`` as a dict of Python values (nulls as ``None``)."""
        if not -self._length <= index < self._length:
            raise IndexError(f"row {index} out of range for a table of {self._length} rows")
        position = index % self._length
        return {
            name: _column_to_python(col[position : position + 1], self.kind(name))[0]
            for name, col in self._columns.items()
        }

    def to_dicts(self) -> list[dict[str, Any]]:
        """All rows as dicts of Python values: aware UTC datetimes, dates, Decimals, tuples, None.

        Examples
        --------
        >>> Table({"a": [1, None], "b": ["x", "y"]}).to_dicts()
        [{'a': 1, 'b': 'x'}, {'a': None, 'b': 'y'}]
        """
        if not self._columns:
            return []
        names = list(self._columns)
        lists = [_column_to_python(self[name], self.kind(name)) for name in names]
        return [dict(zip(names, values, strict=True)) for values in zip(*lists, strict=True)]

    def to_pandas(self) -> Any:
        """A pandas DataFrame (needs the ``pandas`` extra); datetimes become UTC-aware."""
        from user_ops._frames import table_to_pandas

        return table_to_pandas(self)

    def to_polars(self) -> Any:
        """A polars DataFrame (needs the ``polars`` extra); datetimes become UTC-aware."""
        from user_ops._frames import table_to_polars

        return table_to_polars(self)

    def to_arrow(self) -> Any:
        """A pyarrow Table (needs the ``arrow`` extra); datetimes become UTC-aware."""
        from user_ops._frames import table_to_arrow

        return table_to_arrow(self)

    def equals(self, other: Table) -> bool:
        """True when both tables have the same column names, kinds and values (nulls equal).

        Decimals compare by value (``Decimal("1.0")`` equals ``Decimal("1.00")``).

        Examples
        --------
        >>> Table({"a": [1.0, None]}).equals(Table({"a": [1.0, float("nan")]}))
        True
        """
        if not isinstance(other, Table) or self.columns != other.columns or len(self) != len(other):
            return False
        return all(
            self.kind(n) == other.kind(n) and _columns_equal(self[n], other[n], self.kind(n))
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
        more = f"<p><small>{self._length - shown} more rows</small></p>" if self._length > shown else ""
        return (
            f"<div class='user-ops-table'><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>"
            f"<p><small>{self._length} rows × {len(self.columns)} columns</small></p>{more}</div>"
        )

    # -- files (the implementation is shared with the command line: user_ops._table_io) ------------
    @classmethod
    def read_csv(
        cls,
        source: Any,
        *,
        encoding: str = "utf-8",
        date_format: str | None = None,
        date_columns: Sequence[str] | None = None,
        tz: TzLike | None = None,
        columns: Mapping[str, str] | None = None,
    ) -> Table:
        """Read a CSV file (a path or an open text stream), typing each column by its cells.

        A column is int, float, bool, date (``YYYY-MM-DD``), datetime (ISO 8601) or text, by what all
        its non-empty cells look like; an empty cell is a null. The same reader as ``user-ops``.

        Parameters
        ----------
        source:
            A path, or a text stream (``io.StringIO``, ``sys.stdin``).
        encoding:
            The file's encoding: ``"utf-8"`` (a byte-order mark is dropped), ``"gb18030"`` or
            ``"gbk"`` for files saved by Excel in China, ...
        date_format:
            A ``strptime`` format for date columns written another way (``"%Y%m%d"``); with a time
            of day (``%H``...) the column holds instants, else dates.
        date_columns:
            The columns ``date_format`` applies to (names after ``columns``); default: every column
            whose cells all match it.
        tz:
            The zone of date-times without a UTC offset (they are an error without it).
        columns:
            ``{our_name: column_in_the_file}`` to rename columns (the others are kept).

        Raises
        ------
        DataError
            For a missing file, text not in ``encoding``, a bad header, a ragged row, a cell that
            does not match ``date_format``: naming the file line (the header is line 1).

        Examples
        --------
        >>> import io
        >>> text = io.StringIO("cust,day,spend\\n7,20240601,9.5\\n8,20240602,\\n")
        >>> t = Table.read_csv(text, date_format="%Y%m%d", columns={"customer_id": "cust"})
        >>> t.columns, t.kind("day"), t["spend"].tolist()
        (('customer_id', 'day', 'spend'), 'date', [9.5, nan])
        """
        from user_ops._table_io import read_csv

        return read_csv(
            source,
            encoding=encoding,
            date_format=date_format,
            date_columns=date_columns,
            tz=tz,
            columns=columns,
        )

    def to_csv(self, path: Any) -> None:
        """Write the table as a UTF-8 CSV file (or to an open text stream); it reads back with
        [`read_csv`][] value for value (floats exactly; instants as UTC with ``+00:00``).

        A file is written beside its target and moved into place at the end: an error or an interrupt
        never leaves half a file.

        Examples
        --------
        >>> import io
        >>> out = io.StringIO()
        >>> Table({"id": [1, 2], "spend": [9.5, None]}).to_csv(out)
        >>> print(out.getvalue(), end="")
        id,spend
        1,9.5
        2,
        """
        from user_ops._table_io import write_csv, write_csv_file

        if hasattr(path, "write"):
            write_csv(self, path)
        else:
            write_csv_file(self, path)

    @classmethod
    def read_parquet(
        cls, path: Any, *, tz: TzLike | None = None, columns: Mapping[str, str] | None = None
    ) -> Table:
        """Read a Parquet file (needs the ``arrow`` extra; column types are kept as written).

        Examples
        --------
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "t.parquet")
        >>> Table({"id": [1, 2]}).to_parquet(path)
        >>> Table.read_parquet(path, columns={"customer_id": "id"})["customer_id"].tolist()
        [1, 2]
        """
        from user_ops._table_io import read_parquet

        return read_parquet(path, tz=tz, columns=columns)

    def to_parquet(self, path: Any) -> None:
        """Write the table as a Parquet file, atomically (needs the ``arrow`` extra).

        Examples
        --------
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "t.parquet")
        >>> Table({"spend": [9.5, None]}).to_parquet(path)
        >>> Table.read_parquet(path)["spend"].tolist()
        [9.5, nan]
        """
        from user_ops._table_io import write_parquet

        write_parquet(self, path)


def _cell_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise DataError(f"column names must be non-empty strings, got {name!r}")


def _missing_column_message(name: str, available: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(str(name), [str(a) for a in available], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(repr(a) for a in available[:20])
    return f"no column {name!r}{hint} (columns: {listing})"


# -- records ----------------------------------------------------------------------------------------
def _check_rows_are_mappings(rows: list[Any]) -> None:
    # Only called after the transpose failed: checking up front would cost a pass over every row.
    for row_type in set(map(type, rows)):
        if row_type is not dict and not issubclass(row_type, Mapping):
            position = next(i for i, row in enumerate(rows) if type(row) is row_type)
            raise DataError(f"row {position} is a {row_type.__name__}, not a mapping")


def _columns_of_records(
    rows: list[Mapping[str, Any]], columns: Sequence[str] | None
) -> dict[str, Sequence[Any]]:
    """Transpose records into per-column lists, with ``None`` where a row lacks a key."""
    if columns is not None:
        return {name: _column_of_records(rows, name) for name in columns}
    if not rows:
        return {}
    names = list(rows[0])
    # Every row holds every key of row 0 (else itemgetter raises KeyError) and the key counts add up,
    # so every row has exactly row 0's keys: no need to look at each row's keys.
    if sum(map(len, rows)) == len(names) * len(rows):
        try:
            return {name: list(map(operator.itemgetter(name), rows)) for name in names}
        except KeyError:
            pass
    return {name: _column_of_records(rows, name) for name in _keys_in_order(rows)}


def _column_of_records(rows: list[Mapping[str, Any]], name: str) -> list[Any]:
    try:
        return list(map(operator.itemgetter(name), rows))
    except KeyError:
        return [row.get(name) for row in rows]


def _keys_in_order(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


# -- normalization ----------------------------------------------------------------------------------
def normalize_column(values: Any, *, name: str, tz: TzLike | None = None) -> Array:
    """Turn a list, array or Series into the canonical numpy form of its kind (see the module docstring).

    Parameters
    ----------
    values:
        A 1-D numpy array (copied), a list or tuple of Python values, or a pandas / polars Series or
        pyarrow Array.
    name:
        The column name, used in error messages.
    tz:
        Time zone of naive datetimes.

    Raises
    ------
    DataError
        For 2-D input, unsupported dtypes, mixed types, naive datetimes without ``tz`` and integers
        outside the int64 range, naming the column and the first offending row.

    Examples
    --------
    >>> normalize_column([1, None, 3], name="orders")
    masked_array(data=[1, --, 3],
                 mask=[False,  True, False],
           fill_value=999999)
    >>> normalize_column([datetime(2024, 1, 1, 8)], name="t", tz="Asia/Shanghai")
    array(['2024-01-01T00:00:00.000000'], dtype='datetime64[us]')
    """
    if isinstance(values, np.ndarray):
        return _normalize_array(values, name=name, tz=tz)
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise DataError(f"column {name!r} must be a 1-D array or a list, got {type(values).__name__}")
    if type(values).__module__.partition(".")[0] in ("pandas", "polars", "pyarrow"):
        from user_ops._frames import column_from_series

        return column_from_series(values, name=name, tz=tz)
    if not isinstance(values, (list, tuple)):
        values = list(values)
    return _normalize_list(values, name=name, tz=tz)


def _normalize_array(values: Array, *, name: str, tz: TzLike | None) -> Array:
    if values.ndim != 1:
        raise DataError(f"column {name!r} must be 1-D, got an array of shape {values.shape}")
    if isinstance(values, np.ma.MaskedArray):
        return _normalize_masked(values, name=name, tz=tz)
    char = values.dtype.kind
    if char == "b":
        return np.array(values, dtype=np.bool_)
    if char == "i":
        return values.astype(np.int64)
    if char == "u":
        if values.size and values.max() > _INT64_MAX:
            row = int(np.argmax(values > _INT64_MAX))
            raise DataError(f"column {name!r} row {row}: {values[row]} is outside the int64 range")
        return values.astype(np.int64)
    if char == "f":
        return values.astype(np.float64)
    if char == "M":
        return _normalize_datetime64(values, name=name, tz=tz)
    if char == "m":
        if np.datetime_data(values.dtype)[0] in ("Y", "M"):
            raise DataError(
                f"column {name!r} has unsupported dtype {values.dtype} (months have no fixed length)"
            )
        return checked_time_cast(values, "us", name=name)
    if char == "U":
        return _normalize_list(values.tolist(), name=name, tz=tz)
    if char == "O":
        return _normalize_list(values.tolist(), name=name, tz=tz)
    raise DataError(f"column {name!r} has unsupported dtype {values.dtype}")


def _normalize_datetime64(values: Array, *, name: str, tz: TzLike | None) -> Array:
    unit = np.datetime_data(values.dtype)[0]
    if unit in ("Y", "M", "W", "D"):
        return checked_time_cast(values, "D", name=name)
    if tz is None:
        raise DataError(
            f"column {name!r} holds datetime64 values without a time zone; build the table with "
            "Table(data, tz='UTC') (or the zone whose wall-clock times they are), or make them aware"
        )
    # numpy casts to a coarser unit by flooring, so nanoseconds are dropped towards the past.
    return wall_clock_to_utc(checked_time_cast(values, "us", name=name), tz, name=name)


# How many microseconds (or days) one unit of a numpy time dtype is worth, at most: years and months
# vary, so their longest is used and the check below can only err towards refusing.
_UNIT_FACTOR: dict[tuple[str, str], int] = {
    ("Y", "D"): 366,
    ("M", "D"): 31,
    ("W", "D"): 7,
    ("Y", "us"): 366 * _US_PER_DAY,
    ("M", "us"): 31 * _US_PER_DAY,
    ("W", "us"): 7 * _US_PER_DAY,
    ("D", "us"): _US_PER_DAY,
    ("h", "us"): 3_600 * _US,
    ("m", "us"): 60 * _US,
    ("s", "us"): _US,
    ("ms", "us"): 1_000,
}
_UNIT_NAMES = {
    "Y": "years",
    "M": "months",
    "W": "weeks",
    "D": "days",
    "h": "hours",
    "m": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
}
_NAT = -(2**63)


def checked_time_cast(values: Array, unit: Literal["us", "D"], *, name: str) -> Array:
    """``values`` (datetime64 or timedelta64 of any unit) cast to ``unit``, refusing values that do
    not fit instead of letting numpy wrap them around (``2**62`` seconds silently became 0).

    Raises
    ------
    DataError
        Naming the column and the first row out of range.

    Examples
    --------
    >>> checked_time_cast(np.array([90, "NaT"], dtype="timedelta64[m]"), "us", name="d")
    array([5400000000,      'NaT'], dtype='timedelta64[us]')
    >>> try:
    ...     checked_time_cast(np.array([2**62], dtype="timedelta64[s]"), "us", name="d")
    ... except DataError as exc:
    ...     print(exc)
    column 'd' row 0: 4611686018427387904 seconds is outside the range of a duration column
    """
    source, count = np.datetime_data(values.dtype)
    factor = _UNIT_FACTOR.get((source, unit), 1) * count
    if factor > 1:
        raw = values.view(np.int64)
        kind = "duration" if values.dtype.kind == "m" else "date" if unit == "D" else "datetime"
        check_time_range(raw, factor, raw == _NAT, name=name, kind=kind, unit=_UNIT_NAMES.get(source, source))
    prefix = "datetime64" if values.dtype.kind == "M" else "timedelta64"
    return values.astype(f"{prefix}[{unit}]")


def check_time_range(
    raw: IntArray, factor: int, nulls: BoolArray | None, *, name: str, kind: str, unit: str
) -> None:
    """Refuse the first non-null ``raw`` whose ``raw * factor`` leaves ``±(2**63 - 1)`` (``-2**63`` is
    NaT, so a value that lands on it is refused too)."""
    limit = _INT64_MAX // factor
    bad = (raw > limit) | (raw < -limit)
    if nulls is not None:
        bad &= ~nulls
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            f"column {name!r} row {row}: {int(raw[row])} {unit} is outside the range of a {kind} column"
        )


def _normalize_masked(values: np.ma.MaskedArray[Any, Any], *, name: str, tz: TzLike | None) -> Array:
    mask = np.ma.getmaskarray(values)
    raw = np.ma.getdata(values)
    if raw.dtype.kind == "O":
        # Masked slots of an object array may hold anything; null them before looking at types.
        raw = raw.copy()
        raw[mask] = None
        return _normalize_list(raw.tolist(), name=name, tz=tz)
    if raw.dtype.kind in "iu":
        raw = np.where(mask, 0, raw)  # the masked slots may hold anything, e.g. out-of-range values
    data = _normalize_array(raw, name=name, tz=tz)
    return _apply_mask(data, mask)


def _apply_mask(data: Array, mask: BoolArray) -> Array:
    """Put the nulls of ``mask`` into a canonical column, each kind its own way."""
    if not mask.any():
        return data
    if data.dtype.kind in "bi":
        return np.ma.MaskedArray(data, mask=mask.copy())
    if data.dtype.kind == "f":
        return np.where(mask, np.nan, data)
    out: Array = data.copy() if data.dtype.kind in "Mm" else data.astype(object)
    if data.dtype.kind == "M":
        out[mask] = np.datetime64("NaT")
    elif data.dtype.kind == "m":
        out[mask] = np.timedelta64("NaT")
    else:
        out[mask] = None
    return out


class _Info:
    """What a column converter needs to know: the column's name, its value types, and whether it has None."""

    __slots__ = ("has_null", "name", "types", "tz")

    def __init__(self, name: str, tz: TzLike | None, types: set[type], has_null: bool) -> None:
        self.name = name
        self.tz = tz
        self.types = types
        self.has_null = has_null


def _normalize_list(values: Sequence[Any], *, name: str, tz: TzLike | None) -> Array:
    # One C-level pass finds the value types; each distinct type is then mapped to a kind once,
    # instead of an isinstance chain per value.
    types = set(map(type, values))
    missing = {t for t in types if is_nat_type(t)}
    if missing:  # pandas' NaT (a datetime subclass that has no time) is a null like None
        values = [None if type(v) in missing else v for v in values]
        types = (types - missing) | {_NONE_TYPE}
    has_null = _NONE_TYPE in types
    types.discard(_NONE_TYPE)
    if not types:
        return np.full(len(values), None, dtype=object)
    kinds = {_kind_of_type(t, values, name) for t in types}
    kind = _unify(kinds, values, name)
    return _CONVERTERS[kind](values, _Info(name, tz, types, has_null))


_KIND_OF_TYPE: dict[type, ColumnKind] = {
    bool: "bool",
    int: "int",
    float: "float",
    Decimal: "decimal",
    str: "str",
    datetime: "datetime",
    date: "date",
    timedelta: "duration",
    list: "list[str]",
    tuple: "list[str]",
    set: "list[str]",
    frozenset: "list[str]",
}
# For subclasses (numpy scalars, IntEnum, pandas Timestamp, ...); order matters: bool before int,
# datetime before date.
_KIND_OF_BASE: tuple[tuple[type | tuple[type, ...], ColumnKind], ...] = (
    ((bool, np.bool_), "bool"),
    ((int, np.integer), "int"),
    ((float, np.floating), "float"),
    (Decimal, "decimal"),
    (str, "str"),
    (datetime, "datetime"),
    (date, "date"),
    (timedelta, "duration"),
    (_LIST_TYPES, "list[str]"),
)


def _kind_of_type(value_type: type, values: Sequence[Any], name: str) -> ColumnKind:
    kind = _KIND_OF_TYPE.get(value_type)
    if kind is not None:
        return kind
    for base, base_kind in _KIND_OF_BASE:
        if issubclass(value_type, base):
            return base_kind
    row = next(i for i, v in enumerate(values) if type(v) is value_type)
    raise DataError(
        f"column {name!r} row {row} holds an unsupported value {values[row]!r} ({value_type.__name__})"
    )


def is_nat_type(value_type: type) -> bool:
    """True for the class of pandas' ``NaT``, which stands for a missing datetime or duration.

    Told by name, so that pandas need not be imported to recognise it.

    Examples
    --------
    >>> is_nat_type(type(None)), is_nat_type(datetime)
    (False, False)
    """
    return value_type.__name__ == "NaTType" and value_type.__module__.startswith("pandas")


def _value_kind(value: Any, name: str) -> ColumnKind:
    return _kind_of_type(type(value), [value], name)


_NUMERIC_UNIONS: dict[frozenset[str], ColumnKind] = {
    frozenset({"int", "float"}): "float",
    frozenset({"int", "decimal"}): "decimal",
}


def _unify(kinds: set[ColumnKind], values: Sequence[Any], name: str) -> ColumnKind:
    if len(kinds) == 1:
        return next(iter(kinds))
    unified = _NUMERIC_UNIONS.get(frozenset(kinds))
    if unified is not None:
        return unified
    first: dict[str, int] = {}
    for row, value in enumerate(values):
        if value is not None:
            first.setdefault(_value_kind(value, name), row)
    ordered = sorted(first.items(), key=lambda item: item[1])
    detail = ", ".join(f"{k} (row {r}: {values[r]!r})" for k, r in ordered)
    raise DataError(f"column {name!r} mixes value types: {detail}")


def _none_mask(values: Sequence[Any]) -> BoolArray:
    return np.fromiter(map(operator.is_, values, repeat(None)), dtype=np.bool_, count=len(values))


def _is_none(column: Array) -> BoolArray:
    """Elementwise ``is None`` of an object array (``==`` against None is identity for our values)."""
    return cast(BoolArray, np.equal(column, cast(Any, None)))


def _object_array(values: Iterable[Any], count: int) -> Array:
    # fromiter never unpacks tuples into a second dimension, unlike np.array(list_of_tuples).
    return np.fromiter(values, dtype=object, count=count)


def _scatter(present: Array, mask: BoolArray | None, fill: Any) -> Array:
    """Spread ``present`` values over the non-null slots of a column of ``len(mask)`` rows."""
    if mask is None:
        return present
    out = np.full(len(mask), fill, dtype=present.dtype)
    out[~mask] = present
    return out


def _present(values: Sequence[Any], has_null: bool) -> tuple[Sequence[Any], BoolArray | None]:
    """The non-null values (an object array when some are null) and the null mask (``None``: none)."""
    if not has_null:
        return values, None
    # A list comprehension copies each reference once; going through an object array copies twice,
    # and every copy touches the (scattered) value objects' reference counts.
    return [v for v in values if v is not None], _none_mask(values)


def _ints(values: Sequence[Any], info: _Info) -> Array:
    if not info.types <= {int}:  # numpy integers, IntEnum, ...: plain ints convert exactly
        values = [None if v is None else int(v) for v in values]
    try:
        if not info.has_null:
            return np.fromiter(values, dtype=np.int64, count=len(values))
        # numpy reads None as NaN on the way to float64, in one C pass; ints below 2**53 in
        # magnitude survive the round trip exactly, so only larger ones need the object path.
        as_float = np.array(values, dtype=np.float64)
        mask = np.isnan(as_float)
        as_float[mask] = 0.0
        if np.abs(as_float).max() < 2.0**53:
            return np.ma.MaskedArray(as_float.astype(np.int64), mask=mask)
        filled = np.array(values, dtype=object)
        filled[mask] = 0
        return np.ma.MaskedArray(filled.astype(np.int64), mask=mask)
    except OverflowError:
        row = next(i for i, v in enumerate(values) if v is not None and not _INT64_MIN <= v <= _INT64_MAX)
        raise DataError(
            f"column {info.name!r} row {row}: {_short(values[row])} is outside the int64 range"
        ) from None


def _bools(values: Sequence[Any], info: _Info) -> Array:
    if not info.has_null:
        return np.fromiter(values, dtype=np.bool_, count=len(values))
    as_float = np.array(values, dtype=np.float64)  # None -> NaN, True -> 1.0
    return np.ma.MaskedArray(as_float == 1.0, mask=np.isnan(as_float))


def _short(value: Any, limit: int = 60) -> str:
    """``repr`` of a value for an error message, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[-2:]}"


def _floats(values: Sequence[Any], info: _Info) -> Array:
    try:
        if info.has_null:
            return np.array(values, dtype=np.float64)  # numpy turns None into NaN
        return np.fromiter(values, dtype=np.float64, count=len(values))
    except OverflowError:
        row = next(i for i, v in enumerate(values) if v is not None and _overflows_float(v))
        raise DataError(
            f"column {info.name!r} row {row}: {_short(values[row])} is too large for a float"
        ) from None


def _overflows_float(value: Any) -> bool:
    try:
        float(value)
    except OverflowError:
        return True
    return False


def _decimals(values: Sequence[Any], info: _Info) -> Array:
    def canonical(value: Any) -> Decimal | None:
        if value is None:
            return None
        if type(value) is not Decimal:
            return Decimal(value) if isinstance(value, Decimal) else Decimal(int(value))
        return None if value.is_nan() else value

    return _object_array(map(canonical, values), len(values))


def _strs(values: Sequence[Any], info: _Info) -> Array:
    return _object_array(values, len(values))


def _str_lists(values: Sequence[Any], info: _Info) -> Array:
    present, mask = _present(values, info.has_null)
    if info.types <= {list, tuple}:
        with gc_paused():
            tuples = list(map(tuple, present))
        # Checked on the new tuples, which sit together in memory, rather than on the scattered input.
        item_types = set(map(type, chain.from_iterable(tuples)))
        if all(t is str or issubclass(t, str) for t in item_types):
            return _scatter(_object_array(tuples, len(tuples)), mask, None)
    rows = range(len(values)) if mask is None else np.flatnonzero(~mask).tolist()
    with gc_paused():
        tuples = [_str_tuple(value, info.name, row) for value, row in zip(present, rows, strict=True)]
    return _scatter(_object_array(tuples, len(tuples)), mask, None)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while allocating many small containers.

    Building a million tuples next to a million live input dicts triggers repeated full collections
    that walk every live object, costing more than the tuples themselves; nothing allocated inside can
    form a reference cycle. The collector's previous state is restored on exit.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _str_tuple(value: Any, name: str, row: int) -> tuple[str, ...]:
    items = tuple(sorted(value)) if isinstance(value, (set, frozenset)) else tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise DataError(f"column {name!r} row {row}: list values must hold strings, got {_short(item)}")
    return items


def _dates(values: Sequence[Any], info: _Info) -> Array:
    present, mask = _present(values, info.has_null)
    days = np.fromiter(map(date.toordinal, present), dtype=np.int64, count=len(present)) - _ORDINAL_1970
    return _scatter(days.astype("datetime64[D]"), mask, np.datetime64("NaT"))


# timedelta64[us] holds +-(2**63 - 1) microseconds (-2**63 is NaT); a timedelta reaches 999,999,999 days.
# Rows within this many days of zero fit whatever their seconds; only the others are checked exactly.
_SAFE_DURATION_DAYS = _INT64_MAX // _US_PER_DAY - 1


def _durations(values: Sequence[Any], info: _Info) -> Array:
    present, mask = _present(values, info.has_null)
    n = len(present)
    if info.types <= {timedelta}:
        days = np.fromiter(map(operator.attrgetter("days"), present), dtype=np.int64, count=n)
        if n and int(np.abs(days).max()) > _SAFE_DURATION_DAYS:
            _check_durations_fit(present, np.flatnonzero(np.abs(days) > _SAFE_DURATION_DAYS), mask, info.name)
        secs = np.fromiter(map(operator.attrgetter("seconds"), present), dtype=np.int64, count=n)
        micros = np.fromiter(map(operator.attrgetter("microseconds"), present), dtype=np.int64, count=n)
        # Exact even where a partial product wraps: the checked total fits, and int64 wraps modulo 2**64.
        with np.errstate(over="ignore"):
            us = (days * 86_400 + secs) * _US + micros
    else:  # subclasses such as pandas.Timedelta: exact integer division, value by value
        totals = [v // _ONE_US for v in present]
        _check_durations_fit(present, range(n), mask, info.name, totals)
        us = np.fromiter(totals, dtype=np.int64, count=n)
    return _scatter(us.astype("timedelta64[us]"), mask, np.timedelta64("NaT"))


def _check_durations_fit(
    present: Sequence[timedelta],
    rows: Iterable[int],
    mask: BoolArray | None,
    name: str,
    totals: Sequence[int] | None = None,
) -> None:
    """Refuse the first of ``rows`` (positions in ``present``) whose microseconds leave the column."""
    for position in rows:
        us = totals[position] if totals is not None else present[position] // _ONE_US
        if not -_INT64_MAX <= us <= _INT64_MAX:
            row = position if mask is None else int(np.flatnonzero(~mask)[position])
            raise DataError(
                f"column {name!r} row {row}: {_short(present[position])} is outside the range of a "
                "duration column (±2**63 - 1 microseconds, about 292,000 years)"
            )


def _datetimes(values: Sequence[Any], info: _Info) -> Array:
    present, mask = _present(values, info.has_null)
    zones = set(map(operator.attrgetter("tzinfo"), present)) if info.types <= {datetime} else set()
    if zones and len(zones) <= _MAX_ZONES and all(z is None or type(z) in _FAST_ZONES for z in zones):
        utc = _utc_us_by_zone(values, present, zones, info)
    else:
        utc = _utc_us_per_row(values, present, info)
    return _scatter(utc.view("datetime64[us]"), mask, np.datetime64("NaT"))


# Zones whose offsets are looked up in bulk. Both compare equal only when they give the same offsets
# (ZoneInfo by identity, timezone by offset), which makes the wall-clock subtraction below exact.
_FAST_ZONES = (timezone, ZoneInfo)


def _utc_us_by_zone(
    values: Sequence[Any], present: Sequence[datetime], zones: set[Any], info: _Info
) -> IntArray:
    """UTC microseconds for plain datetimes, one vectorized offset lookup per distinct tzinfo."""
    if len(zones) == 1:
        return _zone_utc_us(present, next(iter(zones)), values, info)
    code_of = {zone: code for code, zone in enumerate(zones)}
    codes = np.fromiter(
        map(code_of.__getitem__, map(operator.attrgetter("tzinfo"), present)),
        dtype=np.intp,
        count=len(present),
    )
    utc = np.empty(len(present), dtype=np.int64)
    for zone, code in code_of.items():
        rows = np.flatnonzero(codes == code)
        utc[rows] = _zone_utc_us([present[i] for i in rows.tolist()], zone, values, info)
    return utc


def _zone_utc_us(
    members: Sequence[datetime], zone: tzinfo | None, values: Sequence[Any], info: _Info
) -> IntArray:
    """UTC microseconds of datetimes that share one tzinfo (``None``: naive, read in ``info.tz``).

    Subtracting an epoch carrying the same tzinfo is plain wall-clock arithmetic in C (no offset
    lookups per value); the offsets are then found in bulk by ``_wall_offsets``.
    """
    if zone is None:
        if info.tz is None:
            raise _naive_error(values, info.name)
        wall = _micros_since(members, _NAIVE_EPOCH)
        return wall - wall_offsets(wall, get_tz(info.tz), lambda i: 0, name=info.name)
    wall = _micros_since(members, datetime(1970, 1, 1, tzinfo=zone))
    return wall - wall_offsets(wall, zone, lambda i: members[i].fold, name=info.name)


def _micros_since(values: Sequence[datetime], epoch: datetime) -> IntArray:
    deltas = map(operator.sub, values, repeat(epoch))
    return np.fromiter(map(operator.floordiv, deltas, repeat(_ONE_US)), dtype=np.int64, count=len(values))


def _utc_us_per_row(values: Sequence[Any], present: Sequence[datetime], info: _Info) -> IntArray:
    """The exact but slow path: datetime subclasses, other tzinfo classes, or many tzinfo objects."""
    zone = None if info.tz is None else get_tz(info.tz)
    out = np.empty(len(present), dtype=np.int64)
    for i, value in enumerate(present):
        aware = value
        if value.utcoffset() is None:
            if zone is None:
                raise _naive_error(values, info.name)
            aware = value.replace(tzinfo=zone)
        delta = aware - _UTC_EPOCH
        out[i] = (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds
    return out


def _naive_error(values: Sequence[Any], name: str) -> DataError:
    row = next(i for i, v in enumerate(values) if isinstance(v, datetime) and v.utcoffset() is None)
    return DataError(
        f"column {name!r} row {row} is a naive datetime ({values[row].isoformat()}); pass "
        "timezone-aware datetimes or name the time zone they are in (tz=...)"
    )


_CONVERTERS: dict[ColumnKind, Callable[[Sequence[Any], _Info], Array]] = {
    "int": _ints,
    "bool": _bools,
    "float": _floats,
    "decimal": _decimals,
    "str": _strs,
    "list[str]": _str_lists,
    "date": _dates,
    "duration": _durations,
    "datetime": _datetimes,
}


# -- wall clock <-> UTC -----------------------------------------------------------------------------
def wall_clock_to_utc(wall: Array, tz: TzLike, *, name: str = "values") -> Array:
    """Read naive ``datetime64`` wall-clock values as times in ``tz``; return UTC ``datetime64[us]``.

    Ambiguous and nonexistent times follow ``datetime(..., tzinfo=tz)`` with ``fold=0``: the first of
    two repeated times, and forward by the gap for a skipped one. ``NaT`` stays ``NaT``.

    Examples
    --------
    >>> wall = np.array(["2024-03-10T02:30", "2024-11-03T01:30"], dtype="datetime64[us]")
    >>> wall_clock_to_utc(wall, "America/New_York")
    array(['2024-03-10T07:30:00.000000', '2024-11-03T05:30:00.000000'],
          dtype='datetime64[us]')
    """
    wall = wall.astype("datetime64[us]")
    nat = np.isnat(wall)
    raw = wall.view(np.int64)
    safe = np.where(nat, 0, raw) if nat.any() else raw
    utc = safe - wall_offsets(safe, get_tz(tz), lambda i: 0, name=name)
    out = utc.view("datetime64[us]")
    out[nat] = np.datetime64("NaT")
    return out


# -- kinds and nulls --------------------------------------------------------------------------------
def column_kind(column: Array) -> ColumnKind:
    """The kind of a normalized column.

    Examples
    --------
    >>> column_kind(np.array([1.5]))
    'float'
    >>> column_kind(np.array([None, "a"], dtype=object))
    'str'
    """
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


def _null_mask(column: Array, kind: ColumnKind) -> BoolArray | None:
    if isinstance(column, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(column)
    elif kind == "float":
        mask = np.isnan(column)
    elif kind in ("datetime", "date", "duration"):
        mask = np.isnat(column)
    elif kind in ("int", "bool"):
        return None
    else:
        mask = _is_none(column)
    if not mask.any():
        return None
    mask.flags.writeable = False  # cached and shared: callers must not edit it
    return mask


def _column_to_python(column: Array, kind: ColumnKind) -> list[Any]:
    if isinstance(column, np.ma.MaskedArray):
        return list(column.tolist())
    if kind == "float":
        return [None if v != v else v for v in column.tolist()]  # v != v: NaN
    if kind == "datetime":
        raw = column.view(np.int64).tolist()
        nat = np.isnat(column).tolist()
        return [None if n else _UTC_EPOCH + timedelta(microseconds=v) for v, n in zip(raw, nat, strict=True)]
    return list(column.tolist())


def _columns_equal(left: Array, right: Array, kind: ColumnKind) -> bool:
    if isinstance(left, np.ma.MaskedArray) or isinstance(right, np.ma.MaskedArray):
        lmask, rmask = np.ma.getmaskarray(left), np.ma.getmaskarray(right)
        ldata, rdata = np.ma.getdata(left), np.ma.getdata(right)
        return bool(np.array_equal(lmask, rmask) and np.array_equal(ldata[~lmask], rdata[~rmask]))
    if kind == "float":
        return bool(np.array_equal(left, right, equal_nan=True))
    if kind in ("datetime", "date", "duration"):
        return bool(np.array_equal(left.view(np.int64), right.view(np.int64)))  # NaT is one bit pattern
    if kind in ("int", "bool"):
        return bool(np.array_equal(left, right))
    return bool(left.tolist() == right.tolist())


def local_wall_clock(column: Array, tz: TzLike) -> Array:
    """UTC datetime64[us] column as wall-clock datetime64[us] in ``tz`` (NaT kept).

    Examples
    --------
    >>> utc = np.array(["2024-01-01T00:00"], dtype="datetime64[us]")
    >>> local_wall_clock(utc, "Asia/Shanghai")
    array(['2024-01-01T08:00:00.000000'], dtype='datetime64[us]')
    """
    nat = np.isnat(column)
    raw = column.view(np.int64)
    out: Array = local_us(np.where(nat, 0, raw), get_tz(tz)).view("datetime64[us]").copy()
    out[nat] = np.datetime64("NaT")
    return out


_ISO_HINT = "an ISO 8601 date or datetime such as '2024-06-30' or '2024-06-30T12:00:00+08:00'"


# -- date strings -----------------------------------------------------------------------------------
def parse_instants(strings: Array, *, name: str, tz: tzinfo | None) -> Array:
    """UTC ``datetime64[us]`` of ISO 8601 date / datetime strings (an object array without nulls).

    Strings without a UTC offset are wall-clock times in ``tz``; a date alone is its midnight. The
    common case (no offsets at all) is parsed by numpy in C; anything else goes value by value through
    ``datetime.fromisoformat``, which also finds the first bad row for the error.

    Examples
    --------
    >>> parse_instants(np.array(["2024-06-30", "2024-06-30T08:00:00+08:00"], dtype=object),
    ...                name="t", tz=timezone.utc)
    array(['2024-06-30T00:00:00.000000', '2024-06-30T00:00:00.000000'],
          dtype='datetime64[us]')
    """
    wall = _numpy_wall_clock(strings)
    if wall is not None:
        if tz is None:
            raise DataError(
                f"column {name!r} row 0 ({strings[0]!r}) has no UTC offset; pass tz= naming the zone "
                "of the wall-clock times, or give offsets ('+08:00', 'Z')"
            )
        return wall_clock_to_utc(wall, tz, name=name)
    parsed = [_parse_one(text, name, row) for row, text in enumerate(strings.tolist())]
    result: Array = normalize_column(parsed, name=name, tz=tz)
    return result


def _numpy_wall_clock(strings: Array) -> Array | None:
    """Naive ``datetime64[us]`` when every string is a plain ``YYYY-MM-DD[Thh:mm[:ss[.f]]]``, else None.

    numpy also reads forms that are not ISO dates ("20240101" as a year, "now", "NaT") and offsets
    (with a warning), so the shape is checked first and any doubt falls back to the exact path.
    """
    if len(strings) == 0:
        return np.zeros(0, dtype="datetime64[us]")
    text = np.asarray(strings.tolist(), dtype=str)
    width = text.dtype.itemsize // 4
    if width < 10 or width > 32:
        return None
    chars = text.view(np.uint32).reshape(len(text), width)
    dash, digit0, digit9 = ord("-"), ord("0"), ord("9")
    shaped = (chars[:, 4] == dash) & (chars[:, 7] == dash) & (chars[:, 9] >= digit0) & (chars[:, 9] <= digit9)
    # An offset or "Z" can only follow the time: any "+", "Z" or "-" after the date part.
    tail = chars[:, 10:]
    offset = ((tail == ord("+")) | (tail == ord("Z")) | (tail == ord("z")) | (tail == dash)).any(axis=1)
    if not shaped.all() or offset.any():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return text.astype("datetime64[us]")
    except (ValueError, UserWarning, DeprecationWarning):
        return None


def _parse_one(text: Any, name: str, row: int) -> datetime:
    if not isinstance(text, str):
        raise DataError(f"column {name!r} row {row}: {text!r} is not a string")
    cleaned = text.strip()
    if cleaned[-1:] in ("Z", "z"):  # Python 3.10's fromisoformat does not read "Z"
        cleaned = cleaned[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        raise DataError(f"column {name!r} row {row}: cannot read {text!r} as {_ISO_HINT}") from None
    return value


def record_list(rows: Any, *, what: str = "records") -> list[Any]:
    """``rows`` as a list, refusing what is not a sequence of records (a string, a mapping, a scalar).

    Package-internal: every entry point that takes "a list of records" (rows, ledger entries, events)
    refuses the same things with the same words.
    """
    if isinstance(rows, (str, bytes, bytearray, Mapping)) or not isinstance(rows, Iterable):
        raise DataError(f"{what} must be a list (or another iterable) of mappings, got {type(rows).__name__}")
    if isinstance(rows, np.ndarray) and rows.ndim != 1:
        raise DataError(f"{what} must be one-dimensional, got an array of shape {rows.shape}")
    return rows if isinstance(rows, list) else list(rows)

"""DataFrame interop for [`Table`][]: pandas, polars and pyarrow in and out.

Imported only when a frame is read or written, never at ``import user_ops``; each library is imported
only when an object of that library is handed in (found by the module name of its type) or a
``to_*()`` method asks for it.

Reading (``Table.from_frame``) maps each column to a kind without going through Python objects where
the library allows it:

==========================================  ==========  =========================================
source dtype                                kind        notes
==========================================  ==========  =========================================
pandas int*/uint*, polars Int*/UInt*,       ``int``     uint64 above the int64 range is an error;
arrow int*/uint*                                        pandas Int*/UInt*, polars and arrow nulls
                                                        become a masked array
pandas / polars / arrow floats              ``float``   null (and pandas ``NA``) becomes NaN
pandas bool / boolean, polars Boolean,      ``bool``    nulls masked
arrow bool
pandas datetime64[*, tz], polars Datetime   datetime    converted to UTC, floored to microseconds
with a zone, arrow timestamp with tz
naive pandas datetime64, polars Datetime    datetime    an error unless ``tz=`` names the zone of
without a zone, arrow timestamp without tz              the wall-clock values (``fold=0`` rules)
polars Date, arrow date32 / date64          ``date``
pandas timedelta64, polars Duration,        duration    floored to microseconds
arrow duration
pandas object / string / str, polars        ``str``     pandas None / NaN / NA / NaT become None
String / Categorical / Enum, arrow string,
large_string, dictionary<string>
pandas categorical                          the kind    of its categories; missing codes are nulls
pandas object of Decimal, polars Decimal,   decimal     through Python ``Decimal`` objects
arrow decimal128 / decimal256
pandas object of lists, polars List(String),  list[str]   through Python lists
arrow list<string> / large_list<string>
pandas object of anything else              by value    the same rules as ``Table.from_records``
==========================================  ==========  =========================================

Any other dtype (complex, intervals, periods, structs, binary, times of day, ...) is a
[`DataError`][] naming the column and the dtype. A pandas index is ignored (call
``reset_index()`` to keep it). A column whose values are all null reads as the ``null`` kind when the
library keeps it as Python objects (strings, decimals, lists).

Writing (``Table.to_pandas`` / ``to_polars`` / ``to_arrow``):

===========  ============================  ============================  ===========================
kind         pandas                        polars                        pyarrow
===========  ============================  ============================  ===========================
int          int64, or Int64 with nulls    Int64                         int64
bool         bool, or boolean with nulls   Boolean                       bool
float        float64 (NaN)                 Float64, NaN becomes null     float64, NaN becomes null
decimal      object of Decimal / None      Decimal (String if polars     decimal128 (string if
                                           cannot hold the values)       arrow cannot hold them)
str          object of str / None          String                        string
datetime     datetime64[us, UTC]           Datetime(us, UTC)             timestamp[us, tz=UTC]
date         object of datetime.date       Date                          date32
duration     timedelta64[us]               Duration(us)                  duration[us]
list[str]    object of tuple / None        List(String)                  list<string>
null         object of None                Null                          null
===========  ============================  ============================  ===========================

Examples
--------
>>> from user_ops import Table
>>> t = Table({"id": [1, 2], "tags": [["vip"], None]})
>>> Table.from_frame(t.to_arrow()).equals(t)
True
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from user_ops._table import (
    Array,
    _apply_mask,
    _check_name,
    _missing_column_message,
    _normalize_array,
    _normalize_list,
    check_time_range,
    checked_time_cast,
    wall_clock_to_utc,
)
from user_ops._time import TzLike
from user_ops.exceptions import ConfigError, DataError

if TYPE_CHECKING:
    from user_ops._table import Table

__all__ = ["column_from_series", "table_from_frame", "table_to_arrow", "table_to_pandas", "table_to_polars"]

_EXTRAS = {"pandas": "pandas", "polars": "polars", "pyarrow": "arrow"}
_US_PER_UNIT = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": None}
_UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds"}
_US_PER_DAY = 86_400_000_000


# -- reading ----------------------------------------------------------------------------------------
def table_from_frame(
    cls: type[Table],
    frame: Any,
    *,
    columns: Mapping[str, Any] | Sequence[str] | None,
    tz: TzLike | None,
) -> Table:
    """Build a ``cls`` from a pandas / polars DataFrame, a pyarrow Table or RecordBatch, or a Table.

    Parameters
    ----------
    cls:
        The Table class to build.
    frame:
        The frame to read.
    columns:
        Names to keep, or a mapping ``{our_name: their_name}`` to pick and rename; ``None`` keeps all.
    tz:
        Time zone of naive datetime columns.

    Raises
    ------
    DataError
        For an unsupported frame type, a missing column (with a "did you mean"), duplicate column
        names, unsupported dtypes, or naive datetimes without ``tz``.

    Examples
    --------
    >>> import pandas as pd
    >>> from user_ops import Table
    >>> df = pd.DataFrame({"Id": [1, 2], "Spend": [9.5, None]})
    >>> t = table_from_frame(Table, df, columns={"id": "Id", "spend": "Spend"}, tz=None)
    >>> t.columns, t["spend"].tolist()
    (('id', 'spend'), [9.5, nan])
    """
    names, read = _reader(frame)
    picks = _picks(columns, names, frame)
    return cls._trusted({our: read(their, our, tz) for our, their in picks})


def _reader(frame: Any) -> tuple[list[Any], Any]:
    """The frame's column labels and a function ``(label, our_name, tz) -> canonical column``."""
    from user_ops._table import Table

    if isinstance(frame, Table):
        return list(frame.columns), lambda label, name, tz: frame[label]
    library, type_name = _library_of(frame), type(frame).__name__
    if library == "pandas" and type_name == "DataFrame":
        return list(frame.columns), lambda label, name, tz: _from_pandas(frame[label], name, tz)
    if library == "polars" and type_name == "DataFrame":
        return list(frame.columns), lambda label, name, tz: _from_polars(frame.get_column(label), name, tz)
    if library == "pyarrow" and type_name in ("Table", "RecordBatch"):
        return list(frame.schema.names), lambda label, name, tz: _from_arrow(frame.column(label), name, tz)
    hint = "; call .collect() first" if type_name == "LazyFrame" else ""
    raise DataError(
        "Table.from_frame() takes a pandas or polars DataFrame, a pyarrow Table or RecordBatch, or a "
        f"Table; got {type(frame).__module__}.{type_name}{hint}"
    )


def _library_of(value: Any) -> str:
    return type(value).__module__.partition(".")[0]


def _picks(
    columns: Mapping[str, Any] | Sequence[str] | None, available: list[Any], frame: Any
) -> list[tuple[str, Any]]:
    """``(our_name, their_label)`` pairs, checked against the frame's columns."""
    if columns is None:
        pairs = [(label, label) for label in available]
    elif isinstance(columns, Mapping):
        pairs = list(columns.items())
    elif isinstance(columns, str):
        raise DataError(f"columns= takes a list of names or a mapping, got the string {columns!r}")
    else:
        pairs = [(label, label) for label in columns]
    for our, their in pairs:
        _check_name(our)
        count = available.count(their)
        if count == 0:
            raise DataError(_missing_column_message(their, available) + _index_hint(their, frame))
        if count > 1:
            raise DataError(f"the frame has {count} columns named {their!r}; rename them first")
    return pairs


def _index_hint(label: Any, frame: Any) -> str:
    index_names = getattr(getattr(frame, "index", None), "names", None) or []
    if _library_of(frame) == "pandas" and label in index_names:
        return f"; {label!r} is in the index: call frame.reset_index() first"
    return ""


def column_from_series(values: Any, *, name: str, tz: TzLike | None) -> Array:
    """Canonical column from a pandas Series / Index / array, polars Series, or pyarrow (Chunked)Array.

    Examples
    --------
    >>> import polars as pl
    >>> column_from_series(pl.Series([1, None]), name="n", tz=None).tolist()
    [1, None]
    """
    library, type_name = _library_of(values), type(values).__name__
    if library == "pandas" and type_name != "DataFrame":
        import pandas as pd

        return _from_pandas(values if type_name == "Series" else pd.Series(values), name, tz)
    if library == "polars" and type_name == "Series":
        return _from_polars(values, name, tz)
    if library == "pyarrow" and type_name not in ("Table", "RecordBatch"):
        return _from_arrow(values, name, tz)
    raise DataError(f"column {name!r} must be a 1-D array, list or Series, got {type_name}")


def _unsupported(name: str, dtype: Any) -> DataError:
    return DataError(f"column {name!r} has unsupported dtype {dtype}")


def _masked(data: Array, mask: Array, name: str, tz: TzLike | None) -> Array:
    """Canonical column from raw values plus a null mask (the raw values under the mask are ignored)."""
    return _normalize_array(np.ma.MaskedArray(data, mask=mask), name=name, tz=tz)


def _epoch_to_us(values: Array, unit: str, nulls: Array, *, name: str, kind: str) -> Array:
    """Integers counted in ``unit`` since the epoch as microseconds (nanoseconds floored), refusing a
    non-null value that does not fit in a microsecond column (``2**62`` seconds used to wrap to 0)."""
    factor = _US_PER_UNIT.get(unit)
    if unit == "ns":
        return np.floor_divide(values, 1_000)
    if factor is None:
        raise AssertionError(unit)
    raw = np.asarray(values, dtype=np.int64)
    check_time_range(raw, factor, nulls, name=name, kind=kind, unit=_UNIT_WORDS[unit])
    return raw * factor


def _instants(epoch_us: Array, nulls: Array, *, aware: bool, name: str, tz: TzLike | None) -> Array:
    """A datetime column from UTC (``aware``) or wall-clock microseconds, with NaT where ``nulls``."""
    values = epoch_us.astype(np.int64).view("datetime64[us]")
    values[nulls] = np.datetime64("NaT")
    if aware:
        return values
    if tz is None:
        raise DataError(
            f"column {name!r} holds datetimes without a time zone; build the table with "
            "Table.from_frame(frame, tz='UTC') (or the zone whose wall-clock times they are), "
            "or make them aware"
        )
    return wall_clock_to_utc(values, tz, name=name)


# pandas ---------------------------------------------------------------------------------------------
def _from_pandas(series: Any, name: str, tz: TzLike | None) -> Array:
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _pandas_categorical(series, name, tz)
    if isinstance(dtype, pd.DatetimeTZDtype):
        naive_utc = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        return np.asarray(checked_time_cast(naive_utc, "us", name=name))
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        return _from_arrow(pa.array(series.array), name, tz)
    if isinstance(dtype, pd.StringDtype):
        if dtype.storage == "pyarrow":
            import pyarrow as pa

            return _arrow_strings(pa.array(series.array))
        return np.array(series.to_numpy(dtype=object, na_value=None), dtype=object)
    if isinstance(dtype, np.dtype):
        return _pandas_numpy(series, dtype, name, tz)
    if dtype.kind in "iub":  # nullable Int*, UInt*, boolean (and sparse): values plus a null mask
        fill, target = {"b": (False, "bool"), "i": (0, "int64"), "u": (0, "uint64")}[dtype.kind]
        data = series.to_numpy(dtype=target, na_value=fill)
        return _masked(data, series.isna().to_numpy(), name, tz)
    if dtype.kind == "f":  # nullable Float*: NA and NaN are both null
        return np.asarray(series.to_numpy(dtype="float64", na_value=np.nan), dtype=np.float64)
    raise _unsupported(name, dtype)


def _pandas_numpy(series: Any, dtype: np.dtype[Any], name: str, tz: TzLike | None) -> Array:
    if dtype.kind in "biufMm":
        return _normalize_array(series.to_numpy(), name=name, tz=tz)
    if dtype.kind == "O":
        values = series.to_numpy(dtype=object, copy=True)
        values[series.isna().to_numpy()] = None  # NaN, NA and NaT all mean null here
        return _normalize_list(values.tolist(), name=name, tz=tz)
    raise _unsupported(name, dtype)


def _pandas_categorical(series: Any, name: str, tz: TzLike | None) -> Array:
    import pandas as pd

    codes = np.asarray(series.cat.codes.to_numpy(), dtype=np.intp)
    categories = series.cat.categories
    nulls = codes < 0
    if len(categories) == 0:
        return np.full(len(codes), None, dtype=object)
    lookup = _from_pandas(pd.Series(categories), name, tz)  # categories hold no nulls
    taken = lookup[np.where(nulls, 0, codes)]
    return _apply_mask(taken, nulls)


# polars ---------------------------------------------------------------------------------------------
def _from_polars(series: Any, name: str, tz: TzLike | None) -> Array:
    import polars as pl

    dtype = series.dtype
    nulls = series.is_null().to_numpy()
    if dtype.is_integer():
        return _masked(series.fill_null(0).to_numpy(), nulls, name, tz)
    if dtype.is_float():
        return np.array(series.fill_null(float("nan")).to_numpy(), dtype=np.float64)
    if dtype == pl.Boolean:
        return _masked(series.fill_null(False).to_numpy(), nulls, name, tz)
    if dtype in (pl.String, pl.Categorical, pl.Enum) or isinstance(dtype, (pl.Categorical, pl.Enum)):
        return _str_array(series.cast(pl.String).to_numpy())
    if isinstance(dtype, pl.Datetime):
        raw = series.to_physical().fill_null(0).to_numpy()
        aware = dtype.time_zone is not None
        epoch_us = _epoch_to_us(raw, dtype.time_unit, nulls, name=name, kind="datetime")
        return _instants(epoch_us, nulls, aware=aware, name=name, tz=tz)
    if dtype == pl.Date:
        days = series.to_physical().fill_null(0).to_numpy().astype(np.int64).astype("datetime64[D]")
        days[nulls] = np.datetime64("NaT")
        return np.asarray(days)
    if isinstance(dtype, pl.Duration):
        raw = _epoch_to_us(
            series.to_physical().fill_null(0).to_numpy(), dtype.time_unit, nulls, name=name, kind="duration"
        )
        out = raw.astype(np.int64).view("timedelta64[us]")
        out[nulls] = np.timedelta64("NaT")
        return np.asarray(out)
    if isinstance(dtype, pl.Decimal):
        return _normalize_list(series.to_list(), name=name, tz=tz)
    if isinstance(dtype, pl.List) and dtype.inner in (pl.String, pl.Categorical, pl.Enum):
        return _normalize_list(series.cast(pl.List(pl.String)).to_list(), name=name, tz=tz)
    if dtype == pl.Null:
        return np.full(len(series), None, dtype=object)
    raise _unsupported(name, dtype)


def _str_array(values: Array) -> Array:
    """An object array of str / None from what a library's ``to_numpy()`` gives for strings."""
    return np.array(values, dtype=object)


# pyarrow --------------------------------------------------------------------------------------------
def _from_arrow(data: Any, name: str, tz: TzLike | None) -> Array:
    import pyarrow as pa

    types = pa.types
    array = data.combine_chunks() if isinstance(data, pa.ChunkedArray) else data
    if types.is_dictionary(array.type):
        if _is_arrow_text(types, array.type):
            return _arrow_strings(array)
        array = array.dictionary_decode()
    kind = array.type
    nulls = np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
    if types.is_integer(kind):
        return _masked(array.fill_null(0).to_numpy(zero_copy_only=False), nulls, name, tz)
    if types.is_floating(kind):
        return np.array(array.to_numpy(zero_copy_only=False), dtype=np.float64)
    if types.is_boolean(kind):
        return _masked(array.fill_null(False).to_numpy(zero_copy_only=False), nulls, name, tz)
    if types.is_string(kind) or types.is_large_string(kind) or _is_string_view(types, kind):
        return _arrow_strings(array)
    if types.is_timestamp(kind):
        epoch_us = _epoch_to_us(_arrow_ints(array, pa.int64()), kind.unit, nulls, name=name, kind="datetime")
        return _instants(epoch_us, nulls, aware=kind.tz is not None, name=name, tz=tz)
    if types.is_date32(kind) or types.is_date64(kind):
        raw = _arrow_ints(array, pa.int32() if types.is_date32(kind) else pa.int64())
        days = raw if types.is_date32(kind) else np.floor_divide(raw, 86_400_000)
        out = days.astype(np.int64).astype("datetime64[D]")
        out[nulls] = np.datetime64("NaT")
        return np.asarray(out)
    if types.is_duration(kind):
        micros = _epoch_to_us(_arrow_ints(array, pa.int64()), kind.unit, nulls, name=name, kind="duration")
        out = micros.astype(np.int64).view("timedelta64[us]")
        out[nulls] = np.timedelta64("NaT")
        return np.asarray(out)
    if types.is_decimal(kind):
        return _normalize_list(array.to_pylist(), name=name, tz=tz)
    if (types.is_list(kind) or types.is_large_list(kind)) and _is_arrow_text(types, kind.value_type):
        return _normalize_list(array.to_pylist(), name=name, tz=tz)
    if types.is_null(kind):
        return np.full(len(array), None, dtype=object)
    raise _unsupported(name, kind)


def _is_string_view(types: Any, kind: Any) -> bool:
    check = getattr(types, "is_string_view", None)
    return bool(check is not None and check(kind))


def _is_arrow_text(types: Any, kind: Any) -> bool:
    if types.is_dictionary(kind):
        kind = kind.value_type
    return bool(types.is_string(kind) or types.is_large_string(kind) or _is_string_view(types, kind))


def _arrow_strings(array: Any) -> Array:
    """Object array of str / None from an arrow string (or dictionary of strings) array.

    Dictionary-encoding first (in C++) makes one Python ``str`` per distinct value instead of one per
    row: several times faster for the repetitive text columns of customer data (cities, channels,
    levels), and the rows share their string objects.
    """
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):  # pandas' pyarrow-backed strings hand over chunked arrays
        array = array.combine_chunks()
    encoded = array if pa.types.is_dictionary(array.type) else array.dictionary_encode()
    words = encoded.dictionary
    if pa.types.is_dictionary(words.type):
        words = words.dictionary_decode()
    lookup = np.empty(len(words) + 1, dtype=object)
    lookup[:-1] = words.to_numpy(zero_copy_only=False)
    lookup[-1] = None  # null indices point here
    indices = encoded.indices.fill_null(len(words)).to_numpy(zero_copy_only=False)
    return np.asarray(lookup[indices.astype(np.intp)])


def _arrow_ints(array: Any, physical: Any) -> Array:
    """The physical integers of a temporal arrow array, nulls as 0."""
    return np.asarray(array.cast(physical).fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)


# -- writing ----------------------------------------------------------------------------------------
def _require(module: str, caller: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"{caller} needs {module}: pip install 'user_ops[{_EXTRAS[module]}]'") from None


def _split_mask(column: Array) -> tuple[Array, Array | None]:
    """Raw data and null mask (``None`` when there are no nulls) of an int / bool column."""
    if isinstance(column, np.ma.MaskedArray):
        return np.ma.getdata(column).copy(), np.ma.getmaskarray(column).copy()
    return column, None


def table_to_pandas(table: Table) -> Any:
    """A pandas DataFrame with the dtypes listed in the module docstring.

    Raises
    ------
    ConfigError
        When pandas is not installed.

    Examples
    --------
    >>> from user_ops import Table
    >>> table_to_pandas(Table({"n": [1, None]})).dtypes["n"]
    Int64Dtype()
    """
    pd = _require("pandas", "to_pandas()")
    data = {name: _pandas_column(pd, table[name], table.kind(name)) for name in table.columns}
    return pd.DataFrame(data, index=pd.RangeIndex(len(table)))


def _pandas_column(pd: Any, column: Array, kind: str) -> Any:
    if kind in ("int", "bool"):
        data, mask = _split_mask(column)
        if mask is None:
            return pd.Series(data, copy=True)
        array_type = pd.arrays.IntegerArray if kind == "int" else pd.arrays.BooleanArray
        return pd.Series(array_type(data, mask))
    if kind == "datetime":
        return pd.Series(column, copy=True).dt.tz_localize("UTC")
    if kind == "date":
        return pd.Series(column.astype(object), dtype=object)
    if kind in ("decimal", "str", "null", "list[str]"):
        return pd.Series(column, dtype=object, copy=True)
    return pd.Series(column, copy=True)  # float, duration


def table_to_polars(table: Table) -> Any:
    """A polars DataFrame with the dtypes listed in the module docstring.

    Raises
    ------
    ConfigError
        When polars is not installed.

    Examples
    --------
    >>> from user_ops import Table
    >>> table_to_polars(Table({"n": [1, None]}))["n"].to_list()
    [1, None]
    """
    pl = _require("polars", "to_polars()")
    return pl.DataFrame([_polars_column(pl, name, table[name], table.kind(name)) for name in table.columns])


def _polars_column(pl: Any, name: str, column: Array, kind: str) -> Any:
    if kind in ("int", "bool"):
        data, mask = _split_mask(column)
        series = pl.Series(name, data)
        if mask is not None:
            series = series.scatter(np.flatnonzero(mask), None)
        return series
    if kind == "float":
        return pl.Series(name, column, nan_to_null=True)
    if kind == "str":
        return pl.Series(name, column, dtype=pl.String)
    if kind == "datetime":
        return pl.Series(name, column).dt.replace_time_zone("UTC")
    if kind in ("date", "duration"):
        return pl.Series(name, column)
    if kind == "list[str]":
        return pl.Series(name, column.tolist(), dtype=pl.List(pl.String))
    if kind == "decimal":
        shape = _decimal_shape(column)
        if shape is None:
            return pl.Series(name, _decimal_text(column), dtype=pl.String)
        return pl.Series(name, column.tolist(), dtype=pl.Decimal(*shape))
    return pl.Series(name, [None] * len(column), dtype=pl.Null)


_MAX_DECIMAL_DIGITS = 38  # decimal128 in both polars and arrow


def _decimal_shape(column: Array) -> tuple[int, int] | None:
    """``(precision, scale)`` holding every value of a decimal column, or ``None`` when there is none
    (infinities, or more than 38 digits); checked up front because polars panics instead of raising.
    """
    integer_digits, scale = 1, 0
    for value in column.tolist():
        if value is None:
            continue
        if not value.is_finite():
            return None
        _, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        scale = max(scale, -exponent)
        integer_digits = max(integer_digits, len(digits) + exponent)
    precision = integer_digits + scale
    return (precision, scale) if precision <= _MAX_DECIMAL_DIGITS else None


def _decimal_text(column: Array) -> list[str | None]:
    return [None if v is None else str(v) for v in column.tolist()]


def table_to_arrow(table: Table) -> Any:
    """A pyarrow Table with the types listed in the module docstring.

    Raises
    ------
    ConfigError
        When pyarrow is not installed.

    Examples
    --------
    >>> from user_ops import Table
    >>> table_to_arrow(Table({"s": ["a", None]}))["s"].to_pylist()
    ['a', None]
    """
    pa = _require("pyarrow", "to_arrow()")
    arrays = [_arrow_column(pa, table[name], table.kind(name)) for name in table.columns]
    return pa.Table.from_arrays(arrays, names=list(table.columns))


def _arrow_column(pa: Any, column: Array, kind: str) -> Any:
    if kind in ("int", "bool"):
        data, mask = _split_mask(column)
        return pa.array(data, mask=mask)
    if kind == "float":
        return pa.array(column, mask=np.isnan(column))
    if kind == "str":
        return pa.array(column, type=pa.string())
    if kind == "datetime":
        return pa.array(column, type=pa.timestamp("us", tz="UTC"))
    if kind == "date":
        return pa.array(column, type=pa.date32())
    if kind == "duration":
        return pa.array(column, type=pa.duration("us"))
    if kind == "list[str]":
        return pa.array(column, type=pa.list_(pa.string()))
    if kind == "decimal":
        shape = _decimal_shape(column)
        if shape is None:
            return pa.array(_decimal_text(column), type=pa.string())
        return pa.array(column.tolist(), type=pa.decimal128(*shape))
    return pa.nulls(len(column))

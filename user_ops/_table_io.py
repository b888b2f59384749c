"""Files in and out for the command line: CSV with the standard library, Parquet with the arrow extra.

CSV needs nothing beyond the base install. Every cell is text, so each column is typed by what all of
its non-empty cells look like (an empty cell is a null):

==========================================  ======================================================
every non-empty cell is                     column kind
==========================================  ======================================================
an integer (``42``, ``-7``)                 ``int`` (nulls masked)
a number (``3.5``, ``1e3``, ``nan``)        ``float`` (nulls are NaN)
``true`` / ``false`` (any case)             ``bool``
a date ``YYYY-MM-DD``                       ``date``
an ISO 8601 date-time                       ``datetime`` (UTC); one without a UTC offset is a
                                            wall-clock time in ``tz`` (an error without it)
anything else                               ``str``
==========================================  ======================================================

Writing is the reverse: floats in their shortest exact form (they read back bit for bit), datetimes
as ISO 8601 with ``+00:00``, nulls as empty cells.

Examples
--------
>>> import io
>>> table = read_csv(io.StringIO("id,spend,seen\\n1,9.5,2024-06-01T08:00:00+08:00\\n2,,\\n"), name="x")
>>> table.kind("id"), table.kind("spend"), table.kind("seen"), table["spend"].tolist()
('int', 'float', 'datetime', [9.5, nan])
>>> out = io.StringIO()
>>> write_csv(table, out)
>>> print(out.getvalue().replace("\\r", ""), end="")
id,spend,seen
1,9.5,2024-06-01T00:00:00+00:00
2,,
"""

from __future__ import annotations

import csv
import importlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TextIO, cast

import numpy as np

from user_ops._table import Table, parse_instants
from user_ops._time import TzLike, get_tz
from user_ops.exceptions import ConfigError, DataError

__all__ = [
    "FORMATS",
    "check_writable_format",
    "file_format",
    "read_csv",
    "read_table",
    "rename_columns",
    "write_csv",
    "write_table",
]

Array = np.ndarray[Any, Any]

FORMATS = ("csv", "parquet")
"""The file formats the command line reads and writes (by file suffix)."""

_DATE_WIDTH = len("2024-06-30")
_MINUTE_WIDTH = len("2024-06-30T08:00")
_ARROW_HINT = "Parquet files need the arrow extra: pip install 'user_ops[arrow]'"


def file_format(path: str | Path) -> str:
    """``"csv"`` or ``"parquet"`` from a file's suffix (``.csv``, ``.tsv`` is not supported).

    Examples
    --------
    >>> file_format("out/metrics.parquet"), file_format("shop.CSV")
    ('parquet', 'csv')
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise DataError(f"cannot tell the format of {str(path)!r}: use a .csv or .parquet file name")


def check_writable_format(path: str | Path) -> None:
    """Fail early (before any work) for an output name of unknown format, or Parquet without pyarrow.

    Examples
    --------
    >>> check_writable_format("scores.csv")
    >>> check_writable_format("scores.xlsx")
    Traceback (most recent call last):
    ...
    user_ops.exceptions.DataError: cannot tell the format of 'scores.xlsx': use a .csv or .parquet file name
    """
    if file_format(path) == "parquet":
        _pyarrow_parquet()


def read_table(path: str | Path, *, tz: TzLike | None = None) -> Table:
    """Read a CSV or Parquet file (by suffix) into a :class:`~user_ops.Table`.

    Raises
    ------
    DataError
        For a missing or unreadable file, an unknown suffix, or cells that fit no column kind.
    ConfigError
        For a Parquet file without the arrow extra installed.
    """
    kind = file_format(path)
    if kind == "parquet":
        parquet = _pyarrow_parquet()
        try:
            frame = parquet.read_table(str(path))
        except FileNotFoundError:
            raise DataError(f"cannot read {str(path)!r}: no such file") from None
        except OSError as exc:
            raise DataError(f"cannot read {str(path)!r}: {_first_line(exc)}") from None
        return Table.from_frame(frame, tz=tz)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return read_csv(handle, name=str(path), tz=tz)
    except FileNotFoundError:
        raise DataError(f"cannot read {str(path)!r}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"cannot read {str(path)!r}: it is a directory") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"cannot read {str(path)!r}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise DataError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None


def read_csv(stream: TextIO, *, name: str = "<stdin>", tz: TzLike | None = None) -> Table:
    """Read CSV text (a header row, then one row per record) into a typed :class:`~user_ops.Table`.

    Parameters
    ----------
    stream:
        The open text stream.
    name:
        What error messages call the input.
    tz:
        Time zone of date-times without a UTC offset.

    Raises
    ------
    DataError
        For an empty input, a bad header (empty or repeated names), a row with a different number of
        cells than the header, or date-times without an offset and no ``tz``.
    """
    reader = csv.reader(stream)
    try:
        header = next(reader)
        rows = list(reader)
    except StopIteration:
        raise DataError(f"{name} is empty: expected a header row") from None
    except csv.Error as exc:
        raise DataError(f"{name} line {reader.line_num}: {exc}") from None
    _check_header(header, name)
    width = len(header)
    for index, row in enumerate(rows):
        if len(row) != width and row:  # a blank line is no record
            raise DataError(f"{name} line {index + 2}: {len(row)} cells, but the header has {width}")
    records = [row for row in rows if row] if rows and not all(rows) else rows
    columns = list(zip(*records)) if records else [() for _ in header]
    zone = None if tz is None else get_tz(tz)
    return Table._trusted(
        {column: _typed(values, name=column, tz=zone) for column, values in zip(header, columns)}
    )


def _check_header(header: list[str], name: str) -> None:
    seen: set[str] = set()
    for position, column in enumerate(header, start=1):
        if not column.strip():
            raise DataError(f"{name}: header cell {position} is empty; every column needs a name")
        if column in seen:
            raise DataError(f"{name}: column {column!r} appears twice in the header")
        seen.add(column)


def _typed(values: tuple[str, ...], *, name: str, tz: Any) -> Array:
    """One CSV column as a canonical Table column (see the module docstring for the rules).

    Every test runs over the whole column in numpy (no Python loop per cell).
    """
    text = np.array(values, dtype=str)
    nulls = text == ""
    present = text[~nulls]
    if len(present) == 0:
        return np.full(len(values), None, dtype=object)
    ints = _ints(present)
    if ints is not None:
        return _spread(ints, nulls)
    if _all_integers(present):  # integers that are codes ("007") or too big: keep the text
        return _spread(present.astype(object), nulls)
    for parse in (_floats, _bools, _dates):
        typed = parse(present)
        if typed is not None:
            return _spread(typed, nulls)
    if _all_datetime_shaped(present):
        instants = parse_instants(present.astype(object), name=name, tz=tz)
        out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
        out[~nulls] = instants
        return out
    return _spread(present.astype(object), nulls)


def _all_integers(present: Array) -> bool:
    unsigned = np.char.lstrip(present, "+-")
    return bool(
        np.all(np.char.isdigit(unsigned))
        and np.all(np.char.str_len(present) - np.char.str_len(unsigned) <= 1)
    )


def _ints(present: Array) -> Array | None:
    """int64 values when every cell is a plain integer without leading zeros, else None."""
    try:
        values: Array = present.astype(np.int64)  # fails fast, at the first cell that is no integer
    except (ValueError, OverflowError):
        return None
    if not _all_integers(present):  # numpy also reads " 7" and "1_000"
        return None
    unsigned = np.char.lstrip(present, "+-")
    if np.any(np.char.startswith(unsigned, "0") & (np.char.str_len(unsigned) > 1)):
        return None  # "007" is a code, not the number 7
    return values


def _floats(present: Array) -> Array | None:
    try:
        return present.astype(np.float64)
    except ValueError:
        return None


def _bools(present: Array) -> Array | None:
    lowered = np.char.lower(present)
    is_true: Array = np.asarray(lowered == "true")
    if not np.all(is_true | (lowered == "false")):
        return None
    return is_true


def _dates(present: Array) -> Array | None:
    if not np.all(np.char.str_len(present) == _DATE_WIDTH):
        return None
    try:
        days = present.astype("datetime64[D]")
    except ValueError:
        return None
    # numpy also reads other forms of that width; only YYYY-MM-DD written back the same is a date
    return days if np.array_equal(np.datetime_as_string(days), present) else None


def _all_datetime_shaped(present: Array) -> bool:
    """Every cell starts ``YYYY-MM-DDThh:mm`` (or with a space): worth parsing as instants."""
    if not np.all(np.char.str_len(present) >= _MINUTE_WIDTH):
        return False
    head = present.astype(f"<U{_MINUTE_WIDTH}").view(np.uint32).reshape(len(present), _MINUTE_WIDTH)
    digits = (head >= ord("0")) & (head <= ord("9"))
    separators = (
        (head[:, 4] == ord("-")) & (head[:, 7] == ord("-")) & (head[:, 13] == ord(":"))
        & ((head[:, 10] == ord("T")) | (head[:, 10] == ord(" ")))
    )  # fmt: skip
    return bool(np.all(separators) and np.all(digits[:, [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15]]))


def _spread(values: Array, nulls: Array) -> Array:
    """``values`` (the non-null cells) placed back among the nulls, in the column's null form."""
    if not nulls.any():
        return values
    kind = values.dtype.kind
    if kind == "f":
        out: Array = np.full(len(nulls), np.nan)
    elif kind == "M":
        out = np.full(len(nulls), np.datetime64("NaT"), dtype=values.dtype)
    elif kind in "ib":
        data = np.zeros(len(nulls), dtype=values.dtype)
        data[~nulls] = values
        return np.ma.MaskedArray(data, mask=nulls.copy())
    else:
        out = np.full(len(nulls), None, dtype=object)
    out[~nulls] = values
    return out


def rename_columns(table: Table, mapping: Mapping[str, str]) -> Table:
    """The table with columns renamed ``{our_name: their_name}`` (the other columns kept as they are).

    Raises
    ------
    DataError
        For a mapped column the table does not have (with a "did you mean"), or two names mapped to
        the same column.

    Examples
    --------
    >>> rename_columns(Table({"cust": [1], "spend": [2.0]}), {"customer_id": "cust"}).columns
    ('customer_id', 'spend')
    """
    if not mapping:
        return table
    theirs = list(mapping.values())
    for column in theirs:
        if theirs.count(column) > 1:
            raise DataError(f"--column maps column {column!r} more than once")
        if column not in table:
            table[column]  # raises the DataError with a "did you mean"
    ours_of = {their: our for our, their in mapping.items()}
    renamed = {ours_of.get(column, column): table[column] for column in table.columns}
    if len(renamed) != len(table.columns):
        raise DataError(f"--column {sorted(mapping)} would give two columns the same name")
    return Table._trusted(renamed)


def write_table(table: Table, path: str | Path | None, *, stdout: TextIO | None = None) -> None:
    """Write a table to a ``.csv`` or ``.parquet`` file, or as CSV to ``stdout`` when ``path`` is None."""
    if path is None:
        write_csv(table, stdout if stdout is not None else sys.stdout)
        return
    kind = file_format(path)
    try:
        if kind == "parquet":
            parquet = _pyarrow_parquet()
            parquet.write_table(table.to_arrow(), str(path))
            return
        with open(path, "w", encoding="utf-8", newline="") as handle:
            write_csv(table, handle)
    except OSError as exc:
        raise DataError(f"cannot write {str(path)!r}: {exc.strerror or _first_line(exc)}") from None


def write_csv(table: Table, stream: TextIO) -> None:
    """Write ``table`` as CSV text (header, then rows; nulls as empty cells)."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(table.columns)
    columns = [_cells(table[name], table.kind(name)) for name in table.columns]
    writer.writerows(zip(*columns))


def _cells(column: Array, kind: str) -> list[str]:
    """The CSV text of every value of a column."""
    if kind in ("int", "bool"):
        data, mask = np.ma.getdata(column), np.ma.getmaskarray(column)
        words = ["true" if v else "false" for v in data.tolist()] if kind == "bool" else data.astype(str)
        return [("" if null else str(word)) for word, null in zip(words, mask.tolist())]
    if kind == "float":
        return ["" if v != v else repr(v) for v in column.tolist()]
    if kind == "datetime":
        text = np.datetime_as_string(cast(Any, column), unit=_unit(column), timezone="UTC")
        return ["" if v == "NaT" else v.replace("Z", "+00:00") for v in text.tolist()]
    if kind == "date":
        return ["" if v == "NaT" else v for v in np.datetime_as_string(cast(Any, column)).tolist()]
    if kind == "list[str]":
        return ["" if v is None else "|".join(v) for v in column.tolist()]
    return ["" if v is None else str(v) for v in column.tolist()]


def _unit(column: Array) -> Literal["s", "us"]:
    """Seconds when no value has a fraction of a second (shorter, still exact), else microseconds."""
    us = column[~np.isnat(column)].astype(np.int64)
    return "s" if not np.any(us % 1_000_000) else "us"


def _pyarrow_parquet() -> Any:
    try:
        return importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise ConfigError(_ARROW_HINT) from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]

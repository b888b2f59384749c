"""Tables in and out of files: CSV with the standard library, Parquet with the arrow extra.

One module for both doors: [`Table.read_csv`][] / [`Table.to_csv`][] (and the Parquet pair) and
the command line call the same functions with the same options, so a file reads the same way from
Python and from a shell. Only the spelling of the options in error messages differs (``tz=`` from
Python, ``--tz`` on the command line).

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

A ``date_format`` (``"%Y%m%d"``, ``"%d/%m/%Y %H:%M"``) reads the date columns written some other
way: a format without a time of day gives dates, one with it gives instants (wall-clock times in
``tz`` unless the format has ``%z``).

Writing is the reverse: floats in their shortest exact form (they read back bit for bit), datetimes
as ISO 8601 with ``+00:00``, nulls as empty cells. A file is written to a temporary file beside it
and moved into place at the end, so a failure or an interrupt never leaves half a file.

Error messages name positions as *file lines* (1-based; the header is line 1).

Examples
--------
>>> import io
>>> table = read_csv(io.StringIO("id,spend,seen\\n1,9.5,2024-06-01T08:00:00+08:00\\n2,,\\n"))
>>> table.kind("id"), table.kind("spend"), table.kind("seen"), table["spend"].tolist()
('int', 'float', 'datetime', [9.5, nan])
>>> out = io.StringIO()
>>> write_csv(table, out)
>>> print(out.getvalue(), end="")
id,spend,seen
1,9.5,2024-06-01T00:00:00+00:00
2,,
"""

from __future__ import annotations

import codecs
import csv
import importlib
import io
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple, TextIO, cast

import numpy as np

from user_ops._table import Table, parse_instants, wall_clock_to_utc
from user_ops._time import TzLike, get_tz
from user_ops.exceptions import ConfigError, DataError

__all__ = [
    "CLI",
    "FORMATS",
    "PYTHON",
    "CsvOptions",
    "ReadResult",
    "Spelling",
    "at_file_lines",
    "atomic_path",
    "check_writable_format",
    "file_format",
    "located",
    "read_csv",
    "read_csv_text",
    "read_file",
    "read_parquet",
    "rename_columns",
    "write_csv",
    "write_csv_file",
    "write_parquet",
    "write_table",
    "write_text",
]

Array = np.ndarray[Any, Any]

FORMATS = ("csv", "parquet")
"""The file formats read and written (by file suffix)."""

_DATE_WIDTH = len("2024-06-30")
_MINUTE_WIDTH = len("2024-06-30T08:00")
_ARROW_HINT = "Parquet files need the arrow extra: pip install 'user_ops[arrow]'"
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%f", "%p", "%z", "%c", "%X")
_ROW = re.compile(r"\brow (\d+)\b")
_COLUMN_LINE = re.compile(r"^column ('[^']*') line (\d+)(:?)")


@dataclass(frozen=True)
class Spelling:
    """How messages name the reading options: as Python keywords or as command-line flags."""

    encoding: str = "encoding="
    date_format: str = "date_format="
    tz: str = "tz="
    columns: str = "columns="

    def speak(self, message: str) -> str:
        """``message`` (from anywhere in the library) with Python's option names replaced by ours."""
        if self == PYTHON:
            return message
        for python, ours in (("columns=", self.columns), ("tz=...", self.tz), ("tz=", self.tz)):
            message = message.replace(python, ours)
        return message


PYTHON = Spelling()
CLI = Spelling(encoding="--encoding", date_format="--date-format", tz="--tz", columns="--column")


@dataclass(frozen=True)
class CsvOptions:
    """How to read a CSV file (see [`Table.read_csv`][] for the meaning of each)."""

    encoding: str = "utf-8"
    date_format: str | None = None
    date_columns: tuple[str, ...] | None = None
    tz: tzinfo | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    spelling: Spelling = PYTHON

    @classmethod
    def make(
        cls,
        *,
        encoding: str = "utf-8",
        date_format: str | None = None,
        date_columns: Sequence[str] | None = None,
        tz: TzLike | None = None,
        columns: Mapping[str, str] | None = None,
        spelling: Spelling = PYTHON,
    ) -> CsvOptions:
        """Options checked once, before any file is opened."""
        _codec(encoding, spelling)
        if date_format is not None and (not isinstance(date_format, str) or "%" not in date_format):
            raise ConfigError(
                f"{spelling.date_format} takes a strptime format such as '%Y%m%d', got {date_format!r}"
            )
        if columns is not None and not isinstance(columns, Mapping):
            raise ConfigError(f"{spelling.columns} takes {{name: column_in_the_file}}, got {columns!r}")
        return cls(
            encoding=encoding,
            date_format=date_format,
            date_columns=None if date_columns is None else tuple(date_columns),
            tz=None if tz is None else get_tz(tz),
            columns=dict(columns or {}),
            spelling=spelling,
        )


class ReadResult(NamedTuple):
    """A table read from a file, and the file line of each of its rows (``None`` for Parquet)."""

    table: Table
    lines: Array | None


# -- formats ----------------------------------------------------------------------------------------
def file_format(path: str | os.PathLike[str]) -> str:
    """``"csv"`` or ``"parquet"`` from a file's suffix.

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


def check_writable_format(path: str | os.PathLike[str]) -> None:
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


# -- reading ----------------------------------------------------------------------------------------
def read_file(path: str | os.PathLike[str], options: CsvOptions) -> ReadResult:
    """A CSV or Parquet file (by suffix), with the file line of every row for CSV.

    Raises
    ------
    DataError
        For a missing or unreadable file, an unknown suffix, text not in the encoding, or cells that
        fit no column kind.
    ConfigError
        For a Parquet file without the arrow extra installed, or an unknown encoding.
    """
    if file_format(path) == "parquet":
        return ReadResult(read_parquet(path, tz=options.tz, columns=options.columns), None)
    text = _decoded(_bytes(path), str(path), options)
    return read_csv_text(io.StringIO(text, newline=""), name=str(path), options=options)


def read_csv(
    source: str | os.PathLike[str] | TextIO,
    *,
    encoding: str = "utf-8",
    date_format: str | None = None,
    date_columns: Sequence[str] | None = None,
    tz: TzLike | None = None,
    columns: Mapping[str, str] | None = None,
) -> Table:
    """A CSV file (a path, or an open text stream) as a typed [`Table`][].

    The implementation of [`Table.read_csv`][], whose docstring explains the options.
    """
    options = CsvOptions.make(
        encoding=encoding, date_format=date_format, date_columns=date_columns, tz=tz, columns=columns
    )
    if isinstance(source, (str, os.PathLike)):
        text = _decoded(_bytes(source), str(source), options)
        return read_csv_text(io.StringIO(text, newline=""), name=str(source), options=options).table
    if not callable(getattr(source, "read", None)):
        raise DataError(f"read_csv() takes a path or a text stream, got {type(source).__name__}")
    content = source.read()
    if not isinstance(content, str):
        raise DataError(f"read_csv() takes a text stream, got one yielding {type(content).__name__}")
    stream = io.StringIO(content, newline="")  # read once: a pipe cannot be read twice
    return read_csv_text(stream, name=str(getattr(source, "name", "<stream>")), options=options).table


def read_parquet(
    path: str | os.PathLike[str], *, tz: TzLike | None = None, columns: Mapping[str, str] | None = None
) -> Table:
    """A Parquet file as a [`Table`][] (needs the arrow extra)."""
    parquet = _pyarrow_parquet()
    try:
        frame = parquet.read_table(str(path))
    except FileNotFoundError:
        raise DataError(f"cannot read {str(path)!r}: no such file") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {str(path)!r}: {_first_line(exc)}") from None
    return rename_columns(Table.from_frame(frame, tz=tz), columns or {})


def _bytes(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"cannot read {str(path)!r}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"cannot read {str(path)!r}: it is a directory") from None
    except OSError as exc:
        raise DataError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None


def _codec(encoding: str, spelling: Spelling) -> str:
    """The codec to decode with: UTF-8 also drops a byte-order mark (Excel writes one)."""
    try:
        name = codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise ConfigError(
            f"unknown {spelling.encoding} {encoding!r}; e.g. utf-8, gb18030 (Chinese Excel), gbk, latin-1"
        ) from None
    return "utf-8-sig" if name == "utf-8" else name


def _decoded(data: bytes, name: str, options: CsvOptions) -> str:
    codec = _codec(options.encoding, options.spelling)
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        hint = " (files saved by Excel in China are usually gb18030)" if codec == "utf-8-sig" else ""
        raise DataError(
            f"{name} line {line}: not {options.encoding} text (byte {data[exc.start : exc.start + 1]!r}); "
            f"name the file's encoding with {options.spelling.encoding}{hint}"
        ) from None


def read_csv_text(stream: TextIO, *, name: str = "<stdin>", options: CsvOptions | None = None) -> ReadResult:
    """CSV text (a header row, then one row per record) as a typed table and the line of each row.

    Raises
    ------
    DataError
        For an empty input, a bad header (empty or repeated names), a row with a different number of
        cells than the header, cells that do not match ``date_format``, or date-times without an
        offset and no ``tz``.
    """
    options = options or CsvOptions()
    header, rows, lines = _records(stream, name)
    _check_header(header, name)
    width = len(header)
    for row, line in zip(rows, lines.tolist()):
        if len(row) != width:
            raise DataError(f"{name} line {line}: {len(row)} cells, but the header has {width}")
    cells = list(zip(*rows)) if rows else [() for _ in header]
    dated = _date_columns(header, options)
    typed: dict[str, Array] = {}
    for column, values in zip(header, cells):
        where = _Where(name, column, lines, options.spelling)
        typed[column] = _column(values, where, options, dated=column in dated)
    return ReadResult(
        rename_columns(Table._trusted(typed), options.columns, spelling=options.spelling), lines
    )


def _column(values: tuple[str, ...], where: _Where, options: CsvOptions, *, dated: bool) -> Array:
    if not dated or options.date_format is None:
        return _typed(values, where=where, tz=options.tz)
    if options.date_columns is not None:  # named: every cell must match
        return _by_format(values, options.date_format, where=where, tz=options.tz)
    try:  # every column is a candidate: the ones whose cells all match are dates
        return _by_format(values, options.date_format, where=where, tz=options.tz)
    except DataError:
        return _typed(values, where=where, tz=options.tz)


def _records(stream: TextIO, name: str) -> tuple[list[str], list[list[str]], Array]:
    """Header, non-blank rows, and the file line each row starts on (a quoted cell may span lines)."""
    reader = csv.reader(stream)
    try:
        header = next(reader)
        first = reader.line_num + 1
        rows = list(reader)
    except StopIteration:
        raise DataError(f"{name} is empty: expected a header row") from None
    except csv.Error as exc:
        raise DataError(f"{name} line {reader.line_num}: {exc}") from None
    if reader.line_num == first - 1 + len(rows):  # one line per row: no need to track them
        lines = np.arange(first, first + len(rows), dtype=np.int64)
    else:
        stream.seek(0)
        reader = csv.reader(stream)
        next(reader)
        starts = []
        rows = []
        for row in reader:
            rows.append(row)
            starts.append(first)
            first = reader.line_num + 1
        lines = np.asarray(starts, dtype=np.int64)
    if not all(rows):  # blank lines are no records
        keep = np.array([bool(row) for row in rows], dtype=bool)
        rows = [row for row in rows if row]
        lines = lines[keep]
    return header, rows, lines


def _check_header(header: list[str], name: str) -> None:
    seen: set[str] = set()
    for position, column in enumerate(header, start=1):
        if not column.strip():
            raise DataError(f"{name} line 1: header cell {position} is empty; every column needs a name")
        if column in seen:
            raise DataError(f"{name} line 1: column {column!r} appears twice in the header")
        seen.add(column)


def _date_columns(header: list[str], options: CsvOptions) -> set[str]:
    """The file's columns ``date_format`` applies to (``date_columns`` name them after renaming)."""
    if options.date_format is None:
        return set()
    if options.date_columns is None:
        return set(header)
    theirs = dict(options.columns.items())
    return {theirs.get(name, name) for name in options.date_columns} & set(header)


@dataclass(frozen=True)
class _Where:
    """A column of a file: what messages need to name a cell by its file line."""

    file: str
    column: str
    lines: Array
    spelling: Spelling

    def error(self, index: int, message: str) -> DataError:
        return DataError(f"{self.file} line {int(self.lines[index])}: column {self.column!r} {message}")


def _typed(values: tuple[str, ...], *, where: _Where, tz: tzinfo | None) -> Array:
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
        try:
            instants = parse_instants(present.astype(object), name=where.column, tz=tz)
        except DataError as exc:
            lines = where.lines[~nulls] if len(where.lines) == len(nulls) else where.lines
            raise DataError(located(where.file, at_file_lines(str(exc), lines, where.spelling))) from None
        out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
        out[~nulls] = instants
        return out
    return _spread(present.astype(object), nulls)


def _by_format(values: tuple[str, ...], fmt: str, *, where: _Where, tz: tzinfo | None) -> Array:
    """A date column written with a strptime format: dates, or instants when the format has a time."""
    text = np.array(values, dtype=str)
    nulls = text == ""
    present = text[~nulls]
    if len(present) == 0:
        return np.full(len(values), None, dtype=object)
    uniques, inverse = np.unique(present, return_inverse=True)  # dates repeat: parse each text once
    parsed = []
    for position, cell in enumerate(uniques.tolist()):
        try:
            parsed.append(datetime.strptime(cell.strip(), fmt))
        except ValueError:
            index = int(np.flatnonzero(~nulls)[int(np.argmax(inverse == position))])
            raise where.error(
                index, f"holds {cell!r}, which does not match {where.spelling.date_format} {fmt!r}"
            ) from None
    if not any(directive in fmt for directive in _TIME_DIRECTIVES):
        days = np.array([value.date() for value in parsed], dtype="datetime64[D]")[inverse]
        return _spread(days, nulls)
    if parsed[0].tzinfo is not None:
        utc = [value.astimezone(timezone.utc).replace(tzinfo=None) for value in parsed]
        instants = np.array(utc, dtype="datetime64[us]")[inverse]
    else:
        if tz is None:
            index = int(np.flatnonzero(~nulls)[0])
            raise where.error(
                index,
                f"holds {present[0]!r}, a time without a UTC offset; name its zone with {where.spelling.tz}",
            )
        wall = np.array(parsed, dtype="datetime64[us]")[inverse]
        instants = wall_clock_to_utc(wall, tz, name=where.column)
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
    out[~nulls] = instants
    return out


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


def at_file_lines(message: str, lines: Array | None, spelling: Spelling = PYTHON) -> str:
    """A library message with its 0-based ``row N`` turned into the file ``line`` of that row, the
    line first (``line 5: column 'amount': ...``), and options spelled as ``spelling`` says.

    Examples
    --------
    >>> at_file_lines("column 'amount' row 2: inf is not finite", np.array([2, 3, 5]), CLI)
    "line 5: column 'amount': inf is not finite"
    >>> at_file_lines("column 'id' row 0 is null; pass tz=", np.array([2]), CLI)
    "line 2: column 'id' is null; pass --tz"
    """
    if lines is not None:

        def line(match: re.Match[str]) -> str:
            row = int(match.group(1))
            return f"line {int(lines[row])}" if 0 <= row < len(lines) else match.group(0)

        message = _ROW.sub(line, message)
        message = _COLUMN_LINE.sub(r"line \2: column \1\3", message, count=1)
    return spelling.speak(message)


def located(name: str, message: str) -> str:
    """``message`` about the file ``name``: ``orders.csv line 5: ...`` or ``orders.csv: ...``.

    Examples
    --------
    >>> located("orders.csv", "line 5: column 'amount': inf is not finite")
    "orders.csv line 5: column 'amount': inf is not finite"
    """
    return f"{name} {message}" if message.startswith("line ") else f"{name}: {message}"


def rename_columns(table: Table, mapping: Mapping[str, str], *, spelling: Spelling = PYTHON) -> Table:
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
            raise DataError(f"{spelling.columns} maps column {column!r} more than once")
        if column not in table:
            try:
                table[column]  # raises the DataError with a "did you mean"
            except DataError as exc:
                ours = next(name for name, their in mapping.items() if their == column)
                raise DataError(f"{spelling.columns} {ours}={column}: {exc}") from None
    ours_of = {their: our for our, their in mapping.items()}
    renamed = {ours_of.get(column, column): table[column] for column in table.columns}
    if len(renamed) != len(table.columns):
        raise DataError(f"{spelling.columns} {sorted(mapping)} would give two columns the same name")
    return Table._trusted(renamed)


# -- writing ----------------------------------------------------------------------------------------
def write_table(table: Table, path: str | os.PathLike[str] | None, *, stdout: TextIO | None = None) -> None:
    """Write a table to a ``.csv`` or ``.parquet`` file (atomically), or as CSV to ``stdout``."""
    if path is None:
        write_csv(table, stdout if stdout is not None else sys.stdout)
        return
    if file_format(path) == "parquet":
        write_parquet(table, path)
    else:
        write_csv_file(table, path)


def write_csv_file(table: Table, path: str | os.PathLike[str], *, encoding: str = "utf-8") -> None:
    """Write ``table`` as a CSV file, atomically (a temporary file beside it, then moved into place)."""
    if not isinstance(path, (str, os.PathLike)):
        raise DataError(f"to_csv() takes a path or a text stream, got {type(path).__name__}")
    codec = _codec(encoding, PYTHON).replace("utf-8-sig", "utf-8")
    with atomic_path(path) as temporary, open(temporary, "w", encoding=codec, newline="") as handle:
        write_csv(table, handle)


def write_parquet(table: Table, path: str | os.PathLike[str]) -> None:
    """Write ``table`` as a Parquet file, atomically (needs the arrow extra)."""
    if not isinstance(path, (str, os.PathLike)):
        raise DataError(f"to_parquet() takes a path, got {type(path).__name__}")
    parquet = _pyarrow_parquet()
    arrow = table.to_arrow()
    with atomic_path(path) as temporary:
        parquet.write_table(arrow, temporary)


def write_text(text: str, path: str | os.PathLike[str]) -> None:
    """Write UTF-8 text (a JSON document) to ``path``, atomically."""
    with atomic_path(path) as temporary:
        Path(temporary).write_text(text, encoding="utf-8")


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[str]:
    """A temporary path beside ``path`` to write to; moved over ``path`` only when the block succeeds.

    On any failure, an interrupt included, the temporary file is removed and ``path`` is left as it
    was (absent, or the old file): a reader never sees half a file.

    Raises
    ------
    DataError
        When the folder does not exist or cannot be written, or the write fails (disk full, ...).
    """
    target = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise DataError(f"cannot write {str(path)!r}: {exc.strerror or _first_line(exc)}") from None
    os.close(handle)
    try:
        yield temporary
        os.replace(temporary, target)
    except OSError as exc:
        _remove(temporary)
        raise DataError(f"cannot write {str(path)!r}: {exc.strerror or _first_line(exc)}") from None
    except BaseException:
        _remove(temporary)
        raise


def _remove(path: str) -> None:
    with suppress(OSError):
        os.unlink(path)


def write_csv(table: Table, stream: IO[str]) -> None:
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

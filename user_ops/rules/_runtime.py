"""Runtime pieces shared by the scalar and batch evaluators: contexts, batch vectors, field readers.

Representation of each type:

==========  =====================================  ===========================================
type        scalar (one record)                    batch (``Vec.values``)
==========  =====================================  ===========================================
int         ``int``                                ``int64``
float       ``float`` (NaN read as null)           ``float64`` (NaN read as null)
decimal     ``Decimal``                            ``object`` array of ``Decimal``
str         ``str``                                ``object`` array of ``str``
bool        ``bool``                               ``bool``
datetime    aware ``datetime``                     ``int64`` microseconds since the epoch, UTC
date        ``date``                               ``int64`` days since 1970-01-01
duration    ``timedelta``                          ``int64`` microseconds
list[str]   ``tuple[str, ...]``                    ``object`` array of tuples
null        ``None``                               anything, all rows null
==========  =====================================  ===========================================

A null is ``None`` in the scalar path and a ``True`` in ``Vec.nulls`` in the batch path; null slots of
``Vec.values`` hold a harmless placeholder of the type (0, ``""``, ``()``) so vectorized code never
trips over them.
"""

from __future__ import annotations

import decimal
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from user_ops._table import Table, is_nat_type
from user_ops._time import as_utc_us, days_from_epoch, in_zone, local_date, local_days
from user_ops.exceptions import DataError

__all__ = ["DECIMAL_CONTEXT", "BatchContext", "ScalarContext", "Vec"]

# A fixed decimal context: results must not depend on the host's global decimal settings.
DECIMAL_CONTEXT = decimal.Context(
    prec=28,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_ONE_US = timedelta(microseconds=1)
BoolArray = npt.NDArray[np.bool_]


class Vec(NamedTuple):
    """A batch value: ``values`` (length n, or 0-d for a constant) and a null mask (``None``: no nulls)."""

    values: np.ndarray[Any, Any]
    nulls: BoolArray | None


@dataclass
class ScalarContext:
    """What one evaluation of one record knows besides the record: the clock, the zone, the tags."""

    as_of: datetime
    tz: tzinfo
    tags: frozenset[str] | None = None
    _today: date | None = field(default=None, repr=False)
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)  # values derived from as_of and tz
    #: The zone the caller passed as ``tz=`` (not defaulted from ``as_of``): where ISO text without
    #: an offset is read; ``None``, and such text is ambiguous (see ``user_ops.rules._dates``).
    text_tz: tzinfo | None = None

    @property
    def today(self) -> date:
        """The calendar date of ``as_of`` in the business time zone."""
        if self._today is None:
            self._today = local_date(self.as_of, self.tz)
        return self._today

    def ordinal(self, value: date) -> int:
        """Proleptic ordinal of a date, or of the local date of an instant in the business zone."""
        if isinstance(value, datetime):
            if value.tzinfo is not self.tz:
                value = in_zone(value, self.tz)
            return value.toordinal()
        return value.toordinal()


@dataclass
class BatchContext:
    """What one batch evaluation knows: the table, the clock, the zone, the tags per row."""

    table: Table
    as_of: datetime
    tz: tzinfo
    tags: Mapping[str, np.ndarray[Any, Any]] | None = None
    _as_of_us: int | None = field(default=None, repr=False)
    _today_days: int | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return len(self.table)

    @property
    def as_of_us(self) -> int:
        if self._as_of_us is None:
            self._as_of_us = as_utc_us(self.as_of)
        return self._as_of_us

    @property
    def today_days(self) -> int:
        if self._today_days is None:
            self._today_days = days_from_epoch(local_date(self.as_of, self.tz))
        return self._today_days

    def local_days(self, instants_us: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return local_days(instants_us, self.tz)


# -- null masks ---------------------------------------------------------------------------------------
def or_nulls(*masks: BoolArray | None) -> BoolArray | None:
    """Union of null masks (``None`` means no nulls)."""
    present = [m for m in masks if m is not None]
    if not present:
        return None
    result = present[0]
    for mask in present[1:]:
        result = result | mask
    return result


def broadcast_bool(values: np.ndarray[Any, Any], n: int) -> BoolArray:
    """A fresh length-n bool array from a possibly 0-d value."""
    out: BoolArray = np.broadcast_to(np.asarray(values, dtype=np.bool_), (n,)).copy()
    return out


# -- scalar field reading -----------------------------------------------------------------------------
MISSING = object()  # what lookup() returns for a field the record does not have
_MISSING = MISSING


def lookup(record: Mapping[str, Any], name: str) -> Any:
    """Value of field ``name``: the flat key first, then a walk through nested mappings on the dots.

    Returns the private ``_MISSING`` marker when neither exists (never touches attributes).
    """
    value = record.get(name, _MISSING)
    if value is not _MISSING or "." not in name:
        return value
    current: Any = record
    for part in name.split("."):
        if not isinstance(current, Mapping):
            return _MISSING
        current = current.get(part, _MISSING)
        if current is _MISSING:
            return _MISSING
    return current


def is_missing(value: Any) -> bool:
    return value is _MISSING


def value_type(value: Any, name: str) -> str:
    """The rule type of a Python value found in a record (``null`` for None)."""
    if value is None:
        return "null"
    kind = type(value)
    simple = _SIMPLE_TYPES.get(kind)
    if simple is not None:
        return simple
    if is_nat_type(kind):  # pandas' NaT: a missing datetime or duration, as in a Table
        return "null"
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
    if isinstance(value, (list, tuple, set, frozenset)):
        return "list[str]"
    raise DataError(f"field {name!r} holds an unsupported value {value!r} ({kind.__name__})")


_SIMPLE_TYPES: dict[type, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    Decimal: "decimal",
    datetime: "datetime",
    date: "date",
    timedelta: "duration",
    list: "list[str]",
    tuple: "list[str]",
    frozenset: "list[str]",
    set: "list[str]",
    type(None): "null",
}


def convert_scalar(value: Any, declared: str, name: str) -> Any:
    """Normalize a record value to the scalar representation of ``declared`` (None for null)."""
    if value is None or declared == "null":
        return None
    actual = value_type(value, name)
    if actual == "null":
        return None
    if declared == "float" and actual in ("float", "int"):
        number = float(value)
        return None if number != number else number
    if actual != declared and not (declared == "decimal" and actual == "int"):
        raise DataError(f"field {name!r} should be {declared} but holds {actual} value {value!r}")
    if declared == "int":
        return int(value)
    if declared == "bool":
        return bool(value)
    if declared == "decimal":
        if isinstance(value, Decimal) and not value.is_finite():
            if value.is_nan():  # a null, as in a Table (and as NaN is for floats)
                return None
            raise DataError(f"field {name!r} holds a non-finite decimal {value!r}")
        return Decimal(value)
    if declared == "duration":
        if not -INT64_MAX <= value // _ONE_US <= INT64_MAX:
            raise DataError(
                f"field {name!r} holds {value!r}, outside the range of a duration column "
                "(±2**63 - 1 microseconds, about 292,000 years)"
            )
        return value
    if declared == "datetime":
        if value.tzinfo is None or value.utcoffset() is None:
            raise DataError(
                f"field {name!r} holds a naive datetime {value.isoformat()}; datetimes must be "
                "timezone-aware (or build a Table with tz=...)"
            )
        return value
    if declared == "list[str]":
        items = tuple(sorted(value)) if isinstance(value, (set, frozenset)) else tuple(value)
        try:
            "".join(items)  # a C-speed check that every item is a str
        except TypeError:
            bad = next(item for item in items if not isinstance(item, str))
            raise DataError(f"field {name!r}: lists must hold strings, got {bad!r}") from None
        return items
    return value


# -- batch column reading -----------------------------------------------------------------------------
_PLACEHOLDER: dict[str, Any] = {"decimal": Decimal(0), "str": "", "list[str]": ()}


def placeholders(kind: str, n: int) -> np.ndarray[Any, Any]:
    """``n`` harmless values of a type, for slots that are null."""
    if kind in _PLACEHOLDER:
        out = np.empty(n, dtype=object)
        out.fill(_PLACEHOLDER[kind])
        return out
    dtype = {"float": np.float64, "bool": np.bool_}.get(kind, np.int64)
    return np.zeros(n, dtype=dtype)


def read_column(table: Table, name: str) -> Vec:
    """A table column in the batch representation of its kind (see the module docstring)."""
    return table.cached(("vec", name), lambda: _read_column(table, name))  # type: ignore[no-any-return]


def _read_column(table: Table, name: str) -> Vec:
    column = table[name]
    kind = table.kind(name)
    nulls = table.null_mask(name)
    data = np.ma.getdata(column) if isinstance(column, np.ma.MaskedArray) else column
    if kind in ("datetime", "duration", "date"):
        values = data.view(np.int64)
        if nulls is not None:
            values = np.where(nulls, 0, values)
        return Vec(values, nulls)
    if kind == "decimal":  # NaN became a null when the table was built; infinities are refused
        for row, item in enumerate(data.tolist()):
            if item is not None and not item.is_finite():
                raise DataError(f"column {name!r} row {row}: non-finite decimal {item!r}")
    if kind in _PLACEHOLDER and nulls is not None:
        values = data.copy()
        filler = np.empty(int(nulls.sum()), dtype=object)
        filler.fill(_PLACEHOLDER[kind])  # fill(), not assignment: numpy would unpack an empty tuple
        values[nulls] = filler
        return Vec(values, nulls)
    if kind == "null":
        return Vec(np.zeros(len(data), dtype=np.bool_), np.ones(len(data), dtype=np.bool_))
    return Vec(data, nulls)


def column_of(table: Table, values: np.ndarray[Any, Any]) -> str | None:
    """The name of the column whose batch values are ``values`` (the very array), if any."""
    for name in table.columns:
        vec = table.peek(("vec", name))
        if vec is not None and vec.values is values:
            return name
    return None


class FlatLists(NamedTuple):
    """A list[str] column flattened once: every item, the row it belongs to, and row lengths."""

    items: np.ndarray[Any, Any]
    rows: npt.NDArray[np.intp]
    lengths: npt.NDArray[np.intp]


def flatten_lists(values: np.ndarray[Any, Any]) -> FlatLists:
    """Flatten an object array of tuples (one pass, in C: ``map(len)`` and ``chain``)."""
    lengths = np.fromiter(map(len, values), dtype=np.intp, count=len(values))
    items = np.empty(int(lengths.sum()), dtype=object)
    items[:] = list(itertools.chain.from_iterable(values))
    rows = np.repeat(np.arange(len(values), dtype=np.intp), lengths)
    return FlatLists(items, rows, lengths)


def rows_with_hits(hits: BoolArray, flat: FlatLists, n: int) -> BoolArray:
    """Per row: does any of its items hit?"""
    out = np.zeros(n, dtype=np.bool_)
    out[flat.rows[hits]] = True
    return out

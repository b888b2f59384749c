"""ISO 8601 text where a rule reads a date or an instant: records and columns from JSON or CSV.

A record a backend gets as JSON carries its instants as text (``"2024-06-30T08:00:00+08:00"``), and so
does a table built from such records. A field a rule reads *as a date or an instant* — its
[`Schema`][user_ops.rules.Schema] says ``date`` or ``datetime``, or the rule uses it so
(``days_since(first_order_at)``, ``registered_at within 1mo``, ``x >= 2024-01-01``) — reads that text:

- ``YYYY-MM-DD`` is a date (a ``datetime`` field: its midnight in ``tz``);
- a date and a time with a UTC offset (``+08:00``, ``Z``) is that instant;
- a date and a time without one is a wall-clock time in the ``tz=`` passed to the call; without
  ``tz=`` it is ambiguous and raises [`DataError`][user_ops.DataError] naming the field and the value.

Anything else raises ``DataError`` too. A field the rule reads as text (``city == "北京"``) stays text.
One function reads every value, for one record and for a column, so the two paths agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from typing import Any, Literal

import numpy as np

from user_ops._table import Table
from user_ops.exceptions import DataError, value_repr

__all__ = ["DateMode", "read_date_text", "with_dates_in_columns", "with_dates_in_record"]

#: How a field takes ISO text: as a date or an instant (inferred), only a date, only an instant.
DateMode = Literal["either", "date", "datetime"]

_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_HINT = "ISO 8601 (2024-06-30, 2024-06-30T08:00:00+08:00 or 2024-06-30T00:00:00Z)"


def read_date_text(text: str, *, name: str, mode: DateMode, tz: tzinfo | None) -> date | datetime:
    """The date or aware instant ``text`` writes, for field ``name`` (see the module docstring).

    Examples
    --------
    >>> from datetime import timezone
    >>> read_date_text("2024-06-30", name="d", mode="either", tz=None)
    datetime.date(2024, 6, 30)
    >>> read_date_text("2024-06-30T08:00:00Z", name="d", mode="either", tz=None).isoformat()
    '2024-06-30T08:00:00+00:00'
    >>> read_date_text("2024-06-30T08:00:00", name="d", mode="either", tz=None)
    Traceback (most recent call last):
    ...
    user_ops.exceptions.DataError: field 'd': '2024-06-30T08:00:00' has no UTC offset; pass tz= ...
    """
    cleaned = text.strip()
    if _DATE_ONLY.fullmatch(cleaned):
        day = _parse_date(cleaned, name, text)
        if mode != "datetime":
            return day
        zone = _need_zone(tz, name, text, what="is a date without a time")
        return datetime(day.year, day.month, day.day, tzinfo=zone)
    if mode == "date":
        raise DataError(f"field {name!r}: {value_repr(text)} is a date-time, but the field is a date")
    if cleaned[-1:] in ("Z", "z"):  # Python 3.10's fromisoformat does not read "Z"
        cleaned = cleaned[:-1] + "+00:00"
    instant = _parse_instant(cleaned, name, text)
    if instant.tzinfo is None or instant.utcoffset() is None:
        # fold=0, as a table column's wall-clock times: the first of two repeated times.
        return instant.replace(tzinfo=_need_zone(tz, name, text, what="has no UTC offset"))
    return instant


def with_dates_in_record(
    record: Mapping[str, Any], fields: Mapping[str, DateMode], *, tz: tzinfo | None
) -> Mapping[str, Any]:
    """``record``, or a copy with the ISO text of ``fields`` read as dates and instants.

    A dotted name's value is written under the flat key, which a rule's lookup reads first.
    """
    from user_ops.rules._runtime import lookup

    changed: dict[str, Any] | None = None
    for name, mode in fields.items():
        value = lookup(record, name)
        if isinstance(value, str):
            if changed is None:
                changed = dict(record)
            changed[name] = read_date_text(value, name=name, mode=mode, tz=tz)
    return record if changed is None else changed


def with_dates_in_columns(table: Table, fields: Mapping[str, DateMode], *, tz: tzinfo | None) -> Table:
    """``table``, or a copy whose text columns among ``fields`` hold the dates and instants they write.

    Every value is read by [`read_date_text`][], as for one record; a column that mixes dates and
    date-times cannot be one column and raises ``DataError`` (give every value a time, or none).
    """
    texts = [name for name in fields if name in table and table.kind(name) == "str"]
    if not texts:
        return table
    columns: dict[str, Any] = {name: table[name] for name in table.columns}
    for name in texts:
        values = [
            None if value is None else read_date_text(value, name=name, mode=fields[name], tz=tz)
            for value in np.asarray(table[name], dtype=object).tolist()
        ]
        kinds = {type(value) is date for value in values if value is not None}
        if len(kinds) > 1:
            raise DataError(
                f"column {name!r} mixes dates (YYYY-MM-DD) and date-times; give every value a time, or none"
            )
        columns[name] = Table({name: values})[name]
    return Table._trusted(columns)


def _parse_date(cleaned: str, name: str, text: str) -> date:
    try:
        return date.fromisoformat(cleaned)
    except ValueError:
        raise _unreadable(name, text) from None


def _parse_instant(cleaned: str, name: str, text: str) -> datetime:
    try:
        return datetime.fromisoformat(cleaned)
    except ValueError:
        raise _unreadable(name, text) from None


def _unreadable(name: str, text: str) -> DataError:
    return DataError(f"field {name!r}: cannot read {value_repr(text)} as {_HINT}")


def _need_zone(tz: tzinfo | None, name: str, text: str, *, what: str) -> tzinfo:
    if tz is None:
        raise DataError(
            f"field {name!r}: {value_repr(text)} {what}; pass tz= naming the zone of its wall-clock "
            "time, or write an offset ('+08:00', 'Z')"
        )
    return tz

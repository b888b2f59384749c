"""Durations, time zones and calendar windows shared by every room.

Conventions (see ``docs/concepts.md``):

* Instants are timezone-aware. A naive ``datetime`` is rejected with [`DataError`][]
  unless the caller names the zone it is in (``tz=``).
* In batch form an instant is ``datetime64[us]`` holding UTC; a calendar date is ``datetime64[D]``.
* Durations are strings: ``"45s"``, ``"15min"``, ``"12h"``, ``"30d"``, ``"2w"``, ``"3mo"``, ``"1y"``,
  or several parts (``"1y6mo"``). ``h``/``min``/``s`` are elapsed time; ``d``/``w``/``mo``/``y`` are
  calendar units counted on the wall clock of the business time zone, so ``"1d"`` across a DST change is
  23 or 25 hours and ``"1mo"`` from 31 January ends on the last day of February.
* Windows are half-open: ``[start, end)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
from dateutil.relativedelta import relativedelta

from user_ops.exceptions import DataError

__all__ = [
    "EPOCH",
    "Duration",
    "TzLike",
    "as_utc_us",
    "days_from_epoch",
    "dense_codes",
    "get_tz",
    "in_zone",
    "local_date",
    "local_days",
    "local_midnight",
    "parse_duration",
    "require_aware",
    "utc_offsets",
    "wall_offsets",
    "wall_to_utc_us",
]

TzLike = str | tzinfo
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_DATE = date(1970, 1, 1)
_US_PER_S = 1_000_000
_US_PER_DAY = 86_400 * _US_PER_S

_UNIT_ORDER = ("y", "mo", "w", "d", "h", "min", "s")
_PART = re.compile(r"(\d{1,12})(y|mo|w|d|h|min|s)")
# A duration must fit in the datetime range (years 1 to 9999): one that cannot move even the last
# instant back to the first would fail every time it is used, so it is refused when it is read.
_LATEST_WALL = datetime(9999, 12, 31, 23, 59, 59, 999_999)
_MAX_MONTHS = 12 * 10_000  # cheap bounds first, so the exact check never meets huge numbers
_MAX_DAYS = 366 * 10_000
_MAX_SECONDS = 86_400 * 366 * 10_000


@dataclass(frozen=True)
class Duration:
    """A duration of calendar units (years, months, weeks, days) and elapsed units (h, min, s).

    Examples
    --------
    >>> d = parse_duration("1y6mo")
    >>> d.months, d.text
    (18, '1y6mo')
    >>> parse_duration("36h").is_calendar
    False
    """

    months: int = 0
    days: int = 0
    seconds: int = 0

    @property
    def is_calendar(self) -> bool:
        """True when the duration has month, year, week or day parts (wall-clock arithmetic)."""
        return self.months != 0 or self.days != 0

    @property
    def text(self) -> str:
        """Canonical text: the largest units first, e.g. ``"1y6mo"``, ``"2w"``, ``"90min"``."""
        years, months = divmod(self.months, 12)
        # Whole weeks print as weeks ("14d" is "2w"); any other day count stays in days ("30d").
        weeks, days = divmod(self.days, 7) if self.days % 7 == 0 else (0, self.days)
        hours, rest = divmod(self.seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        counts = (years, months, weeks, days, hours, minutes, seconds)
        parts = [f"{n}{u}" for n, u in zip(counts, _UNIT_ORDER) if n]
        return "".join(parts) or "0s"

    def to_timedelta(self) -> timedelta:
        """The duration as an exact ``timedelta``; only for durations without months or years."""
        if self.months:
            raise DataError(f"duration {self.text!r} has calendar months; it has no fixed length")
        return timedelta(days=self.days, seconds=self.seconds)

    def subtract_from(self, instant: datetime, tz: tzinfo) -> datetime:
        """``instant`` minus this duration: calendar parts on ``tz``'s wall clock, the rest elapsed."""
        try:
            local = instant.astimezone(tz)
            if self.is_calendar:
                wall = local.replace(tzinfo=None) - relativedelta(months=self.months, days=self.days)
                local = _from_wall_clock(wall, tz)
            # Elapsed units are exact: subtract them in UTC (aware arithmetic in one zone is wall-clock).
            return local.astimezone(timezone.utc) - timedelta(seconds=self.seconds)
        except (OverflowError, ValueError):
            raise DataError(f"{instant.isoformat()} minus {self.text} is outside years 1 to 9999") from None

    def __str__(self) -> str:
        return self.text


def _from_wall_clock(wall: datetime, tz: tzinfo) -> datetime:
    """Attach ``tz`` to a naive wall-clock time, normalized; ``fold=0`` semantics decide the odd cases.

    In a DST gap (a time the clock skips) that moves forward by the gap, as the clock does; in an
    overlap (a time the clock shows twice) it takes the first occurrence. ``wall_to_utc_us`` is the
    vectorized twin.
    """
    return wall.replace(tzinfo=tz, fold=0).astimezone(tz)


@lru_cache(maxsize=512)
def parse_duration(text: str) -> Duration:
    """Parse a duration string such as ``"30d"``, ``"3mo"`` or ``"1d12h"``.

    Raises
    ------
    DataError
        When the text is not a sequence of ``<count><unit>`` parts.

    Examples
    --------
    >>> parse_duration("2w").days
    14
    >>> parse_duration("12h").seconds
    43200
    """
    if not isinstance(text, str) or not text:
        raise DataError(f"duration must be a non-empty string like '30d', got {text!r}")
    pos = 0
    months = days = seconds = 0
    seen: set[str] = set()
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None:
            raise DataError(
                f"invalid duration {text!r} at position {pos}: expected <count><unit> with unit one of "
                "y, mo, w, d, h, min, s (e.g. '30d', '3mo', '1y6mo')"
            )
        count, unit = int(match.group(1)), match.group(2)
        if unit in seen:
            raise DataError(f"invalid duration {text!r}: unit {unit!r} given twice")
        seen.add(unit)
        if unit == "y":
            months += 12 * count
        elif unit == "mo":
            months += count
        elif unit == "w":
            days += 7 * count
        elif unit == "d":
            days += count
        elif unit == "h":
            seconds += 3600 * count
        elif unit == "min":
            seconds += 60 * count
        else:
            seconds += count
        pos = match.end()
    if not _fits_datetime_range(months, days, seconds):
        raise DataError(
            f"duration {text!r} is longer than the datetime range (years 1 to 9999): no instant can "
            "move that far"
        )
    return Duration(months=months, days=days, seconds=seconds)


def _fits_datetime_range(months: int, days: int, seconds: int) -> bool:
    """Whether the last representable instant minus the duration is still a datetime."""
    if months > _MAX_MONTHS or days > _MAX_DAYS or seconds > _MAX_SECONDS:
        return False
    try:
        _LATEST_WALL - relativedelta(months=months, days=days) - timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        return False
    return True


@lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        shown = name if len(name) <= 60 else name[:57] + "..."
        raise DataError(f"unknown time zone {shown!r} (use an IANA name like 'Asia/Shanghai')") from None


def get_tz(tz: TzLike | None, *, default: tzinfo = timezone.utc) -> tzinfo:
    """Resolve a time zone given as an IANA name or a ``tzinfo``; ``None`` gives ``default``.

    Examples
    --------
    >>> get_tz("Asia/Shanghai").utcoffset(datetime(2024, 1, 1))
    datetime.timedelta(seconds=28800)
    """
    if tz is None:
        return default
    if isinstance(tz, tzinfo):
        return tz
    if isinstance(tz, str):
        return _zone(tz)
    raise DataError(f"time zone must be an IANA name or a tzinfo, got {type(tz).__name__}")


def require_aware(value: Any, *, name: str = "as_of", tz: TzLike | None = None) -> datetime:
    """Check that ``value`` is a timezone-aware datetime; attach ``tz`` to a naive one if given.

    Raises
    ------
    DataError
        For a naive datetime without ``tz``, or a value that is not a datetime.

    Examples
    --------
    >>> require_aware(datetime(2024, 1, 1), tz="UTC").isoformat()
    '2024-01-01T00:00:00+00:00'
    """
    if not isinstance(value, datetime):
        raise DataError(f"{name} must be a timezone-aware datetime, got {type(value).__name__}: {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        if tz is None:
            raise DataError(
                f"{name} is a naive datetime ({value.isoformat()}); pass a timezone-aware datetime "
                "or name the time zone it is in (tz=...)"
            )
        return _from_wall_clock(value, get_tz(tz))
    return value


def as_utc_us(instant: datetime) -> int:
    """Microseconds since the Unix epoch for an aware datetime (exact integer arithmetic)."""
    delta = instant - EPOCH
    return (delta.days * 86_400 + delta.seconds) * _US_PER_S + delta.microseconds


def days_from_epoch(day: date) -> int:
    """Days since 1970-01-01 for a calendar date."""
    return (day - _EPOCH_DATE).days


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The instant a calendar day starts in ``tz`` (after the gap when midnight does not exist)."""
    return _from_wall_clock(datetime(day.year, day.month, day.day), tz)


def local_date(instant: datetime, tz: tzinfo) -> date:
    """The calendar date an aware instant falls on in ``tz``."""
    return in_zone(instant, tz).date()


def in_zone(instant: datetime, tz: tzinfo) -> datetime:
    """``instant.astimezone(tz)``; a DataError, not an OverflowError, when its local time falls
    outside years 1 to 9999 (``9999-12-31T23:00Z`` is already year 10000 in Shanghai).

    Examples
    --------
    >>> in_zone(datetime(2024, 1, 1, tzinfo=timezone.utc), get_tz("Asia/Shanghai")).hour
    8
    """
    try:
        return instant.astimezone(tz)
    except (OverflowError, ValueError):
        raise DataError(
            f"{instant.isoformat()} has no local time in {tz}: it falls outside years 1 to 9999 there"
        ) from None


_ONE_US = timedelta(microseconds=1)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MIN_WALL_US = (datetime.min - _NAIVE_EPOCH) // _ONE_US
_MAX_WALL_US = (datetime.max - _NAIVE_EPOCH) // _ONE_US
# Zones change offset at most once in six hours (true of every zone in the tz database since 1900), so
# a six-hour bucket whose two ends share an offset has that offset throughout.
_BUCKET_US = 6 * 3600 * _US_PER_S


def utc_offsets(instants_us: npt.NDArray[np.int64], tz: tzinfo) -> npt.NDArray[np.int64]:
    """UTC offset in microseconds, per instant, exactly as ``datetime.astimezone(tz)`` gives it.

    Vectorized: the zone is asked once per occupied six-hour bucket (at both ends); only instants in a
    bucket that holds a transition are asked one by one. The cost follows the data's spread, not its
    size, and a sentinel date in year 9999 costs two lookups, not a walk across the centuries.
    """
    given = np.asarray(instants_us, dtype=np.int64)
    if given.ndim != 1:  # a constant (0-d) or any other shape: work on the flat values
        return utc_offsets(given.reshape(-1), tz).reshape(given.shape)
    values = given
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    fixed = _fixed_offset_us(tz)
    if fixed is not None:
        return np.full(values.shape, fixed, dtype=np.int64)
    _check_range(values, "instants")
    buckets = values // _BUCKET_US
    odd: npt.NDArray[np.bool_] | None  # rows in a bucket that holds a transition
    low, high = int(buckets.min()), int(buckets.max())
    if high - low + 1 > 4 * len(buckets) + 1024:  # sparse buckets: factorize them
        occupied, position = dense_codes(buckets)
        del buckets
        per_bucket, unsteady = _bucket_offsets(occupied, tz)
        offsets = per_bucket[position]
        odd = unsteady[position] if unsteady.any() else None
        del position
    else:  # dense buckets: look each row's bucket up in a table over the span (two row-long arrays)
        buckets -= low
        used = np.zeros(high - low + 1, dtype=np.bool_)
        used[buckets] = True
        occupied = np.flatnonzero(used) + low
        per_bucket, unsteady = _bucket_offsets(occupied, tz)
        table = np.zeros(len(used), dtype=np.int64)
        table[occupied - low] = per_bucket
        offsets = table[buckets]
        odd_table = np.zeros(len(used), dtype=np.bool_)
        odd_table[occupied - low] = unsteady
        odd = odd_table[buckets] if unsteady.any() else None
        del buckets
    if odd is not None:
        for row in np.flatnonzero(odd).tolist():
            offsets[row] = _offset_at(int(values[row]), tz)
    return offsets


def _bucket_offsets(
    occupied: npt.NDArray[np.int64], tz: tzinfo
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Each occupied bucket's offset at its start, and whether it may change inside the bucket."""
    edges = {b: _offset_at(b * _BUCKET_US, tz) for b in np.union1d(occupied, occupied + 1).tolist()}
    per_bucket = np.array([edges[b] for b in occupied.tolist()], dtype=np.int64)
    unsteady = np.array([edges[b] != edges[b + 1] for b in occupied.tolist()], dtype=np.bool_)
    return per_bucket, unsteady


def wall_offsets(
    wall_us: npt.NDArray[np.int64],
    tz: tzinfo,
    fold: Callable[[int], int] | None = None,
    *,
    name: str = "values",
) -> npt.NDArray[np.int64]:
    """UTC offset in microseconds of each naive wall-clock time in ``tz``, as ``utcoffset()`` says.

    ``fold(i)`` gives the PEP 495 fold of row ``i`` (default 0: a time the clock skips moves forward by
    the gap, a time it shows twice is the first occurrence). Bucketed like [`utc_offsets`][].
    """
    wall = np.asarray(wall_us, dtype=np.int64)
    if wall.ndim != 1:
        return wall_offsets(wall.reshape(-1), tz, fold, name=name).reshape(wall.shape)
    fixed = _fixed_offset_us(tz)
    if fixed is not None:
        return np.full(wall.shape, fixed, dtype=np.int64)
    if wall.size == 0:
        return np.zeros(0, dtype=np.int64)
    _check_range(wall, name)
    occupied, position = dense_codes(wall // _BUCKET_US)
    # A bucket is steady when both folds agree at its start and at the next bucket's start: with at
    # most one transition per six hours, no gap or repeated hour then touches it.
    edges = {
        b: (_wall_offset_at(us, 0, tz), _wall_offset_at(us, 1, tz))
        for b in np.union1d(occupied, occupied + 1).tolist()
        for us in (min(b * _BUCKET_US, _MAX_WALL_US),)
    }
    per_bucket = np.empty(len(occupied), dtype=np.int64)
    steady = np.empty(len(occupied), dtype=np.bool_)
    for i, b in enumerate(occupied.tolist()):
        (start0, start1), (next0, next1) = edges[b], edges[b + 1]
        per_bucket[i] = start0
        steady[i] = start0 == start1 == next0 == next1
    offsets = per_bucket[position]
    row_fold = fold or (lambda row: 0)
    for row in np.flatnonzero(~steady[position]).tolist():
        offsets[row] = _wall_offset_at(int(wall[row]), row_fold(row), tz)
    return offsets


def wall_to_utc_us(wall_us: npt.NDArray[np.int64], tz: tzinfo) -> npt.NDArray[np.int64]:
    """UTC microseconds of naive wall-clock microseconds in ``tz``, exactly as ``_from_wall_clock``."""
    wall = np.asarray(wall_us, dtype=np.int64)
    utc: npt.NDArray[np.int64] = wall - wall_offsets(wall, tz)
    return utc


def dense_codes(keys: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]:
    """Distinct sorted ``keys`` and each row's index into them (a counting pass when keys are dense)."""
    low, high = int(keys.min()), int(keys.max())
    span = high - low + 1
    if span > 4 * len(keys) + 1024:
        distinct, inverse = np.unique(keys, return_inverse=True)
        return distinct, inverse.reshape(-1)
    shifted = keys - low
    used = np.zeros(span, dtype=np.bool_)
    used[shifted] = True
    index = np.cumsum(used) - 1
    return np.flatnonzero(used).astype(np.int64) + low, index[shifted]


def _check_range(values: npt.NDArray[np.int64], name: str) -> None:
    if int(values.min()) < _MIN_WALL_US or int(values.max()) > _MAX_WALL_US:
        raise DataError(f"{name}: a datetime outside years 1..9999 has no offset in a time zone")


def _fixed_offset_us(tz: tzinfo) -> int | None:
    if isinstance(tz, timezone):
        off = tz.utcoffset(None)
        return int(off // _ONE_US)
    return None


def _offset_at(us: int, tz: tzinfo) -> int:
    # A day in from both ends, so that the local time of the clamped instant exists in every zone.
    instant = EPOCH + timedelta(
        microseconds=min(max(us, _MIN_WALL_US + _US_PER_DAY), _MAX_WALL_US - _US_PER_DAY)
    )
    off = instant.astimezone(tz).utcoffset()
    if off is None:
        raise DataError(f"time zone {tz!r} gives no UTC offset for {instant.isoformat()}")
    return int(off // _ONE_US)


def _wall_offset_at(wall_us: int, fold: int, tz: tzinfo) -> int:
    local = (_NAIVE_EPOCH + timedelta(microseconds=wall_us)).replace(tzinfo=tz, fold=fold)
    offset = local.utcoffset()
    if offset is None:
        raise DataError(f"time zone {tz!r} gives no UTC offset for {local.isoformat()}")
    return int(offset // _ONE_US)


def local_days(instants_us: npt.NDArray[np.int64], tz: tzinfo) -> npt.NDArray[np.int64]:
    """Local calendar day (days since 1970-01-01) of each UTC instant in ``tz``."""
    local = local_us(instants_us, tz)
    if local.ndim == 0:
        days: npt.NDArray[np.int64] = np.floor_divide(local, _US_PER_DAY)
        return days
    return np.floor_divide(local, _US_PER_DAY, out=local)  # in place: no second row-long array


def local_us(instants_us: npt.NDArray[np.int64], tz: tzinfo) -> npt.NDArray[np.int64]:
    """Local wall-clock microseconds since 1970-01-01 (as if the wall clock were UTC)."""
    values = np.asarray(instants_us, dtype=np.int64)
    offsets = utc_offsets(values, tz)  # a new array: the local times are added into it
    if offsets.ndim == 0:
        local: npt.NDArray[np.int64] = values + offsets
    else:
        local = np.add(values, offsets, out=offsets)
    _check_local_range(local, tz)
    return local


def _check_local_range(local: npt.NDArray[np.int64], tz: tzinfo) -> None:
    """Refuse local times outside years 1 to 9999, as ``datetime.astimezone`` does (scalar twin)."""
    if local.size and (int(local.min()) < _MIN_WALL_US or int(local.max()) > _MAX_WALL_US):
        flat = local.reshape(-1)
        row = int(np.argmax((flat < _MIN_WALL_US) | (flat > _MAX_WALL_US)))
        raise DataError(
            f"row {row}: an instant has no local time in {tz}: it falls outside years 1 to 9999 there"
        )

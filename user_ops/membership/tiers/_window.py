"""Calendar arithmetic of tier programmes: qualifying windows, cycle boundaries, anniversary reviews.

Everything runs on the wall clock of the business time zone (months as dateutil counts them, so 31
January plus one month is the last day of February) and returns aware instants in UTC; windows are
half-open ``[start, end)``.
"""

from __future__ import annotations

from bisect import bisect_left
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo

from dateutil.relativedelta import relativedelta

from user_ops._time import Duration, as_utc_us, local_midnight

__all__ = ["Calendar", "MetricSeries", "Scheduled"]

_ONE_US = timedelta(microseconds=1)
# Cycle boundaries are counted from a fixed base year, each one clipped on its own (so "01-31" monthly
# cycles run Jan 31, Feb 28/29, Mar 31 without drifting); 2000 is a leap year, so "02-29" is valid.
_BASE_YEAR = 2000


def shift_wall(wall: datetime, months: int, days: int) -> datetime:
    """``wall + relativedelta(months=months, days=days)`` for a naive datetime, without relativedelta.

    Months first, the day clipped to the target month's length (31 January + 1 month is the last day
    of February), then days: exactly what dateutil does, at a fraction of its cost (the tier walk
    computes a window start per event).
    """
    if months:
        year, month = divmod(wall.year * 12 + wall.month - 1 + months, 12)
        day = min(wall.day, monthrange(year + 0, month + 1)[1])
        wall = wall.replace(year=year, month=month + 1, day=day)
    return wall + timedelta(days=days) if days else wall


def add_duration(instant: datetime, duration: Duration, times: int, tz: tzinfo) -> datetime:
    """``instant`` plus ``times`` × ``duration``: calendar parts on ``tz``'s wall clock, the rest elapsed.

    A negative ``times`` subtracts (``Duration.subtract_from`` is ``times=-1``).
    """
    local = instant.astimezone(tz)
    if duration.is_calendar:
        wall = shift_wall(local.replace(tzinfo=None), duration.months * times, duration.days * times)
        local = wall.replace(tzinfo=tz, fold=0).astimezone(tz)
    # UTC out: an aware datetime inside a repeated (DST) hour never compares equal to one in another zone.
    return local.astimezone(timezone.utc) + timedelta(seconds=duration.seconds * times)


def _attach(wall: datetime, tz: tzinfo) -> datetime:
    """The UTC instant of a naive wall-clock time in ``tz`` (its ``fold`` decides a repeated hour; a
    skipped time moves forward by the gap, as ``fold=0`` does)."""
    # UTC out: an aware datetime inside a repeated (DST) hour never compares equal to one in another zone.
    return wall.replace(tzinfo=tz).astimezone(timezone.utc)


@dataclass(frozen=True)
class Scheduled:
    """An instant as a programme schedules it: a wall-clock time in the business zone, plus elapsed time.

    ``at`` is when it happens. When ``wall`` is a time the clock skips (a DST gap), ``at`` is where the
    clock moved it, but a window ending at ``at`` still counts back from ``wall`` itself: the review
    scheduled for 2025-03-30 02:30 in Berlin happens at 03:30 CEST and reads the twelve months from
    2024-03-30 02:30, not from 03:30.
    """

    at: datetime  # UTC
    wall: datetime  # naive local time (its fold picks the occurrence of a repeated hour)
    elapsed: timedelta

    @classmethod
    def of_instant(cls, instant: datetime, tz: tzinfo) -> Scheduled:
        """An instant that happened (its own wall-clock time, which the clock did show)."""
        wall = instant.astimezone(tz).replace(tzinfo=None)  # keeps the fold of a repeated hour
        return cls(at=instant.astimezone(timezone.utc), wall=wall, elapsed=timedelta(0))

    @classmethod
    def at_wall(cls, wall: datetime, tz: tzinfo) -> Scheduled:
        """A wall-clock time (first occurrence of a repeated hour, moved forward out of a gap)."""
        wall = wall.replace(fold=0)
        return cls(at=_attach(wall, tz), wall=wall, elapsed=timedelta(0))

    def shifted(self, duration: Duration, times: int, tz: tzinfo) -> Scheduled:
        """``times`` × ``duration`` later (earlier when negative), counted from the scheduled wall time."""
        elapsed = self.elapsed + timedelta(seconds=duration.seconds * times)
        if duration.is_calendar:
            wall = shift_wall(self.wall, duration.months * times, duration.days * times).replace(fold=0)
            return Scheduled(at=_attach(wall, tz) + elapsed, wall=wall, elapsed=elapsed)
        return Scheduled(at=self.at + elapsed - self.elapsed, wall=self.wall, elapsed=elapsed)

    def window_start(self, length: Duration, tz: tzinfo) -> datetime:
        """Start of the window of ``length`` ending here: ``[start, at)``."""
        return self.shifted(length, -1, tz).at


@dataclass(frozen=True)
class Calendar:
    """The cycle (anchor month-day, length in months) and the zone a programme's dates live in."""

    month: int
    day: int
    months: int
    tz: tzinfo

    def boundary(self, k: int) -> datetime:
        """The start of cycle ``k`` (local midnight), counted from the anchor in the base year."""
        return local_midnight(self._first_day(k), self.tz).astimezone(timezone.utc)

    def _first_day(self, k: int) -> date:
        day: date = date(_BASE_YEAR, self.month, self.day) + relativedelta(months=k * self.months)
        return day

    def index_at_or_before(self, instant: datetime) -> int:
        """The ``k`` of the cycle containing ``instant`` (its start at or before it)."""
        local = instant.astimezone(self.tz)
        months = (local.year - _BASE_YEAR) * 12 + (local.month - self.month)
        k = months // self.months
        while self.boundary(k + 1) <= instant:
            k += 1
        while self.boundary(k) > instant:
            k -= 1
        return k

    def cycle_start(self, instant: datetime) -> datetime:
        """Start of the cycle containing ``instant``."""
        return self.boundary(self.index_at_or_before(instant))

    def next_boundary(self, instant: datetime) -> datetime:
        """The first cycle start strictly after ``instant``."""
        return self.boundary(self.index_at_or_before(instant) + 1)

    def next_scheduled(self, instant: datetime) -> Scheduled:
        """The first cycle start strictly after ``instant``, scheduled at its local midnight."""
        day = self._first_day(self.index_at_or_before(instant) + 1)
        return Scheduled.at_wall(datetime(day.year, day.month, day.day), self.tz)


@dataclass(frozen=True)
class MetricSeries:
    """One customer's metric changes in time order, with prefix sums for window totals."""

    times: tuple[int, ...]
    prefix: tuple[int, ...]

    @classmethod
    def build(cls, changes: list[tuple[datetime, int]]) -> MetricSeries:
        ordered = sorted(((as_utc_us(at), delta) for at, delta in changes), key=lambda pair: pair[0])
        prefix = [0]
        for _, delta in ordered:
            prefix.append(prefix[-1] + delta)
        return cls(times=tuple(t for t, _ in ordered), prefix=tuple(prefix))

    def total(self, start: datetime | None, end: datetime) -> int:
        """Sum of the changes at instants in ``[start, end)`` (``start=None``: from the beginning)."""
        hi = bisect_left(self.times, as_utc_us(end))
        lo = 0 if start is None else bisect_left(self.times, as_utc_us(start))
        return self.prefix[hi] - self.prefix[min(lo, hi)]


def just_after(instant: datetime) -> datetime:
    """The next representable instant (the end of a half-open window that includes ``instant``)."""
    return instant + _ONE_US


def just_before(instant: datetime) -> datetime:
    """The previous representable instant."""
    return instant - _ONE_US

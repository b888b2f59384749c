"""Tests of ``user_ops._time``: durations, calendar arithmetic, time zones and vectorized offsets."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from user_ops import DataError
from user_ops._time import (
    Duration,
    as_utc_us,
    days_from_epoch,
    get_tz,
    local_date,
    local_days,
    parse_duration,
    require_aware,
    utc_offsets,
)

UTC = timezone.utc
NY = ZoneInfo("America/New_York")
ZONES = {
    "Asia/Shanghai": ZoneInfo("Asia/Shanghai"),
    "America/New_York": NY,
    "Europe/London": ZoneInfo("Europe/London"),
    "Australia/Lord_Howe": ZoneInfo("Australia/Lord_Howe"),  # 30-minute DST
    "UTC": UTC,
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)


# -- durations --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "months", "days", "seconds", "canonical"),
    [
        ("30d", 0, 30, 0, "30d"),
        ("21d", 0, 21, 0, "3w"),
        ("1w3d", 0, 10, 0, "10d"),
        ("3mo", 3, 0, 0, "3mo"),
        ("1y6mo", 18, 0, 0, "1y6mo"),
        ("12h", 0, 0, 43_200, "12h"),
        ("90min", 0, 0, 5_400, "1h30min"),
        ("45s", 0, 0, 45, "45s"),
        ("2w", 0, 14, 0, "2w"),
        ("1d12h", 0, 1, 43_200, "1d12h"),
        ("0d", 0, 0, 0, "0s"),
        ("14mo", 14, 0, 0, "1y2mo"),
    ],
)
def test_parse_duration_and_canonical_text(
    text: str, months: int, days: int, seconds: int, canonical: str
) -> None:
    duration = parse_duration(text)
    assert (duration.months, duration.days, duration.seconds) == (months, days, seconds)
    assert duration.text == canonical
    assert str(duration) == canonical
    assert duration.is_calendar == (months != 0 or days != 0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "non-empty string"),
        ("30", "at position 0"),
        ("30x", "at position 0"),
        ("1d2", "at position 2"),
        ("-1d", "at position 0"),
        ("1 d", "at position 0"),
        ("1d1d", "unit 'd' given twice"),
        ("1234567890123d", "at position 0"),
        ("10001y", "longer than the datetime range"),
        ("3660001d", "longer than the datetime range"),
        # Within the old per-unit caps, but no instant in years 1..9999 can move that far.
        ("10000y", "longer than the datetime range"),
        ("9999y", "longer than the datetime range"),
        ("3652059d", "longer than the datetime range"),
        ("9000y1000y", "given twice"),
        ("9000y12000mo", "longer than the datetime range"),
        ("5000y300000w", "longer than the datetime range"),
    ],
)
def test_parse_duration_errors(text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_duration(text)


def test_the_longest_durations_still_reach_from_the_last_instant_to_the_first() -> None:
    # 9999-12-31 minus 9998 years 11 months 30 days is 0001-01-01: still a datetime.
    assert parse_duration("9998y11mo30d").months == 9998 * 12 + 11
    assert parse_duration("3652058d").days == 3652058  # datetime.max - datetime.min, in whole days
    latest = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)
    assert parse_duration("3652058d").subtract_from(latest, timezone.utc).year == 1


def test_parse_duration_rejects_non_strings() -> None:
    with pytest.raises(DataError, match="non-empty string like '30d', got 30"):
        parse_duration(30)  # type: ignore[arg-type]


UNITS = ("y", "mo", "w", "d", "h", "min", "s")
# Years up to 999 and other counts up to 9,999 stay inside the datetime range together.
DURATION_TEXT = st.lists(
    st.one_of(
        st.tuples(st.integers(0, 999), st.just("y")),
        st.tuples(st.integers(0, 9_999), st.sampled_from(UNITS[1:])),
    ),
    min_size=1,
    max_size=7,
    unique_by=lambda p: p[1],
).map(lambda parts: "".join(f"{n}{u}" for n, u in parts))


@given(DURATION_TEXT)
def test_duration_text_round_trips(text: str) -> None:
    duration = parse_duration(text)
    canonical = duration.text
    assert parse_duration(canonical) == duration
    assert parse_duration(canonical).text == canonical  # canonical text is a fixed point
    if not duration.months:
        assert duration.to_timedelta() == timedelta(days=duration.days, seconds=duration.seconds)


def test_canonical_text_of_a_parsed_duration_parses_again() -> None:
    # Days that are not whole weeks print as days: 1d142857w is "1000000d", seven digits.
    duration = parse_duration("1d142857w")
    assert duration.text == "1000000d"
    assert parse_duration(duration.text) == duration


def test_to_timedelta_refuses_months() -> None:
    assert parse_duration("1w2h").to_timedelta() == timedelta(days=7, hours=2)
    with pytest.raises(DataError, match="'1mo' has calendar months; it has no fixed length"):
        parse_duration("1mo").to_timedelta()


# -- calendar subtraction ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("instant", "duration", "expected"),
    [
        (datetime(2024, 3, 31, 10, tzinfo=UTC), "1mo", datetime(2024, 2, 29, 10, tzinfo=UTC)),
        (datetime(2023, 3, 31, 10, tzinfo=UTC), "1mo", datetime(2023, 2, 28, 10, tzinfo=UTC)),
        (datetime(2024, 2, 29, tzinfo=UTC), "1y", datetime(2023, 2, 28, tzinfo=UTC)),
        (datetime(2024, 5, 31, tzinfo=UTC), "3mo", datetime(2024, 2, 29, tzinfo=UTC)),
        (datetime(2024, 1, 1, 1, tzinfo=UTC), "1d2h", datetime(2023, 12, 30, 23, tzinfo=UTC)),
    ],
)
def test_calendar_subtraction(instant: datetime, duration: str, expected: datetime) -> None:
    assert parse_duration(duration).subtract_from(instant, UTC) == expected


def test_calendar_days_follow_the_wall_clock_across_dst() -> None:
    spring = datetime(2024, 3, 10, 12, tzinfo=NY)  # DST began at 02:00 that morning
    day_before = parse_duration("1d").subtract_from(spring, NY)
    assert day_before == datetime(2024, 3, 9, 12, tzinfo=NY)
    assert spring - day_before == timedelta(hours=23)
    autumn = datetime(2024, 11, 3, 12, tzinfo=NY)  # DST ended at 02:00
    assert autumn - parse_duration("1d").subtract_from(autumn, NY) == timedelta(hours=25)
    # calendar results are UTC-aware
    assert day_before.tzinfo is UTC


def test_elapsed_units_ignore_the_wall_clock() -> None:
    spring = datetime(2024, 3, 10, 12, tzinfo=NY)
    # Aware arithmetic inside one zone is wall-clock arithmetic in Python: "24h" must not be done so.
    assert spring - parse_duration("24h").subtract_from(spring, NY) == timedelta(hours=24)
    assert spring - parse_duration("1d1h").subtract_from(spring, NY) == timedelta(hours=24)


def test_calendar_subtraction_in_the_repeated_hour_takes_the_first() -> None:
    instant = datetime(2024, 11, 4, 1, 30, tzinfo=NY)
    assert parse_duration("1d").subtract_from(instant, NY) == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)


def test_calendar_subtraction_into_a_dst_gap_moves_forward() -> None:
    instant = datetime(2024, 3, 11, 2, 30, tzinfo=NY)  # a day later 02:30 does not exist
    assert parse_duration("1d").subtract_from(instant, NY) == datetime(2024, 3, 10, 7, 30, tzinfo=UTC)


# -- zones and awareness ----------------------------------------------------------------------------
def test_require_aware() -> None:
    aware = datetime(2024, 1, 1, tzinfo=NY)
    assert require_aware(aware) is aware
    assert require_aware(datetime(2024, 7, 1, 8), tz="Asia/Shanghai") == datetime(2024, 7, 1, tzinfo=UTC)
    with pytest.raises(DataError, match=r"as_of is a naive datetime \(2024-01-01T00:00:00\)"):
        require_aware(datetime(2024, 1, 1))
    with pytest.raises(DataError, match=r"since must be a timezone-aware datetime, got date"):
        require_aware(date(2024, 1, 1), name="since")
    with pytest.raises(DataError, match=r"got str"):
        require_aware("2024-01-01")


class _NoOffset(tzinfo):
    def utcoffset(self, dt: datetime | None) -> None:
        return None


def test_a_tzinfo_without_offset_counts_as_naive() -> None:
    with pytest.raises(DataError, match="naive datetime"):
        require_aware(datetime(2024, 1, 1, tzinfo=_NoOffset()))


def test_require_aware_in_the_repeated_hour_takes_the_first() -> None:
    got = require_aware(datetime(2024, 11, 3, 1, 30), tz=NY)
    assert got.astimezone(UTC) == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)


def test_require_aware_in_a_dst_gap_moves_forward() -> None:
    got = require_aware(datetime(2024, 3, 10, 2, 30), tz=NY)
    assert got.astimezone(UTC) == datetime(2024, 3, 10, 7, 30, tzinfo=UTC)


def test_get_tz() -> None:
    assert get_tz(None) is UTC
    assert get_tz(None, default=NY) is NY
    assert get_tz("UTC") is UTC
    assert get_tz("utc") is UTC
    assert get_tz("America/New_York") == NY
    assert get_tz(NY) is NY


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("", "unknown time zone ''"),
        ("../etc/passwd", "unknown time zone"),
        (8, "must be an IANA name or a tzinfo, got int"),
    ],
)
def test_get_tz_errors(value: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        get_tz(value)  # type: ignore[arg-type]


# -- instants and offsets ---------------------------------------------------------------------------
def offset_us(instant_us: int, zone: tzinfo) -> int:
    """Reference: the UTC offset ``datetime.astimezone`` gives, in microseconds."""
    local = (EPOCH + timedelta(microseconds=instant_us)).astimezone(zone)
    offset = local.utcoffset()
    assert offset is not None
    return offset // ONE_US


US_1950 = (datetime(1950, 1, 1, tzinfo=UTC) - EPOCH) // ONE_US
US_2100 = (datetime(2100, 1, 1, tzinfo=UTC) - EPOCH) // ONE_US
YEAR_US = 366 * 86_400 * 10**6


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(sorted(ZONES)),
    centre=st.integers(US_1950, US_2100),
    spread=st.lists(st.integers(-YEAR_US, YEAR_US), min_size=1, max_size=40),
)
def test_utc_offsets_match_astimezone(zone: str, centre: int, spread: list[int]) -> None:
    instants = np.array([centre + s for s in spread], dtype=np.int64)
    got = utc_offsets(instants, ZONES[zone])
    assert got.tolist() == [offset_us(int(u), ZONES[zone]) for u in instants]
    local = local_days(instants, ZONES[zone])
    expected_days = [
        days_from_epoch(local_date(EPOCH + timedelta(microseconds=int(u)), ZONES[zone])) for u in instants
    ]
    assert local.tolist() == expected_days


@pytest.mark.parametrize("zone", sorted(ZONES))
def test_utc_offsets_at_the_transition_microsecond(zone: str) -> None:
    tz = ZONES[zone]
    # every transition of 2024: the microsecond before and the one at each change
    hours = np.arange(
        (datetime(2024, 1, 1, tzinfo=UTC) - EPOCH) // ONE_US,
        (datetime(2025, 1, 1, tzinfo=UTC) - EPOCH) // ONE_US,
        3600 * 10**6,
        dtype=np.int64,
    )
    offsets = utc_offsets(hours, tz)
    changes = np.flatnonzero(np.diff(offsets)) + 1
    assert len(changes) == (0 if zone in ("Asia/Shanghai", "UTC") else 2)
    for i in changes.tolist():
        lo, hi = int(hours[i - 1]), int(hours[i])
        edge = next(u for u in range(lo, hi + 1, 60 * 10**6) if offset_us(u, tz) == int(offsets[i]))
        probe = np.array([edge - 1, edge], dtype=np.int64)
        assert utc_offsets(probe, tz).tolist() == [offset_us(edge - 1, tz), offset_us(edge, tz)]
    assert utc_offsets(np.zeros(0, dtype=np.int64), tz).tolist() == []


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(list(ZONES.values())),
    )
)
def test_as_utc_us_is_exact(instant: datetime) -> None:
    assert as_utc_us(instant) == (instant - EPOCH) // ONE_US
    assert EPOCH + timedelta(microseconds=as_utc_us(instant)) == instant.astimezone(UTC)


def test_duration_is_a_value() -> None:
    assert Duration(months=1) == parse_duration("1mo")
    assert hash(parse_duration("7d")) == hash(parse_duration("1w"))


def test_offsets_of_a_constant_keep_its_shape() -> None:
    from zoneinfo import ZoneInfo

    from user_ops._time import utc_offsets, wall_offsets

    zone = ZoneInfo("Asia/Shanghai")
    constant = np.asarray(0, dtype=np.int64)
    assert utc_offsets(constant, zone).shape == ()
    assert int(utc_offsets(constant, zone)) == 8 * 3600 * 10**6
    assert wall_offsets(np.zeros((2, 2), dtype=np.int64), zone).shape == (2, 2)

"""Membership tiers: TierPolicy validation, evaluate_one / simulate over histories, batch evaluate."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from user_ops import ConfigError, DataError, Money, Table
from user_ops.membership import (
    GrowthEarned,
    MetricEvent,
    PointsEarned,
    Purchase,
    Refund,
    Tier,
    TierOverride,
    TierPolicy,
    TierState,
)

UTC = timezone.utc
SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def tiers(*, retention: bool = True, money: bool = True) -> list[Tier]:
    def amount(yuan: int) -> Any:
        return f"{yuan} CNY" if money else yuan * 100

    return [
        Tier(code="red", label_en="Red Sea", label_zh="红海", entry=amount(0)),
        Tier(code="silver", label_en="Silver Sea", label_zh="银海", entry=amount(1000),
             retention=amount(800) if retention else None),
        Tier(code="gold", label_en="Gold Sea", label_zh="金海", entry=amount(3000),
             retention=amount(2000) if retention else None),
        Tier(code="black", label_en="Black Sea", label_zh="黑海", entry=amount(8000),
             retention=amount(6000) if retention else None),
    ]  # fmt: skip


def policy(**options: Any) -> TierPolicy:
    defaults: dict[str, Any] = {"window": "rolling", "window_length": "12mo", "tz": "Asia/Shanghai"}
    return TierPolicy(tiers(), **{**defaults, **options})


def buy(at: datetime, yuan: str) -> Purchase:
    return Purchase(at=at, amount=f"{yuan} CNY")


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


# -- configuration errors -----------------------------------------------------------------------------
def test_duplicate_tier_codes_name_the_field() -> None:
    with pytest.raises(ConfigError, match="tiers: duplicate tier codes \\['red'\\]"):
        TierPolicy([tiers()[0], tiers()[0]])


def test_entry_thresholds_must_increase() -> None:
    low, high = tiers()[0], tiers()[1]
    with pytest.raises(ConfigError, match=r"tiers\[1\]\.entry.*not above tiers\[0\]\.entry"):
        TierPolicy([high, low])
    same = Tier(code="also", label_en="A", label_zh="甲", entry="1000 CNY")
    with pytest.raises(ConfigError, match=r"tiers\[2\]\.entry"):
        TierPolicy([low, high, same])


def test_retention_above_entry_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"retention .* is above entry"):
        Tier(code="gold", label_en="Gold", label_zh="金", entry=100, retention=101)


def test_retention_may_not_fall_between_tiers() -> None:
    a = Tier(code="a", label_en="A", label_zh="甲", entry=100, retention=90)
    b = Tier(code="b", label_en="B", label_zh="乙", entry=200, retention=50)
    with pytest.raises(ConfigError, match=r"tiers\[1\]\.retention: keeping b \(50\) cannot be easier"):
        TierPolicy([a, b], metric="growth")


@pytest.mark.parametrize("field", ["entry", "retention"])
def test_negative_thresholds_are_rejected(field: str) -> None:
    values = {"entry": 10, "retention": 5, field: -1}
    with pytest.raises(ConfigError, match=f"{field}: .*must not be negative"):
        Tier(code="a", label_en="A", label_zh="甲", **values)


def test_tier_codes_must_be_identifiers() -> None:
    with pytest.raises(ConfigError, match=r"code: .*identifiers"):
        Tier(code="gold tier", label_en="A", label_zh="甲", entry=0)


def test_money_thresholds_must_match_metric_and_currency() -> None:
    with pytest.raises(
        ConfigError, match=r"tiers\[0\]\.entry: 0.00 CNY does not fit metric 'growth' \(ints\)"
    ):
        TierPolicy(tiers(), metric="growth")
    with pytest.raises(ConfigError, match=r"tiers\[0\]\.entry: 0.00 CNY does not fit metric 'spend' \(USD"):
        TierPolicy(tiers(), currency="USD")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("window_length", "12 months", "window_length: invalid duration"),
        ("review_period", "0d", "review_period: duration must be longer than zero"),
        ("protection", "x", "protection: invalid duration"),
        ("cycle_start", "13-01", "cycle_start must be 'MM-DD'"),
        ("cycle_start", "02-30", "cycle_start must be 'MM-DD'"),
        ("tz", "Mars/Olympus", "tz: unknown time zone"),
        ("currency", "XXX1", "currency: currency: expected a three-letter"),
        ("window", "forever", "window: Input should be"),
        ("downgrade", "two_steps", "downgrade: Input should be"),
        ("cycle_months", 0, "cycle_months: Input should be greater"),
        ("extra_option", 1, "extra_option: unknown field"),
    ],
)
def test_bad_options_raise_config_error_naming_them(option: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TierPolicy(tiers(), **{option: value})


def test_empty_tier_list_is_rejected() -> None:
    with pytest.raises(ConfigError, match="tiers"):
        TierPolicy([])


def test_json_round_trip_schema_and_hash() -> None:
    p = policy(protection="3mo", downgrade="to_qualified")
    document = p.to_json()
    again = TierPolicy.from_json(document)
    assert again == p
    assert again.content_hash() == p.content_hash()
    assert TierPolicy.from_document(p.to_document()) == p
    schema = TierPolicy.json_schema()
    assert "tiers" in schema["properties"] and "downgrade" in schema["properties"]
    json.dumps(schema)  # serializable for admin UIs


# -- data errors -----------------------------------------------------------------------------------------
def test_naive_as_of_and_event_times_are_data_errors() -> None:
    with pytest.raises(DataError, match="as_of is a naive datetime"):
        policy().evaluate_one([], as_of=datetime(2024, 1, 1))
    with pytest.raises(DataError, match=r"history\[0\]: invalid Purchase: at: at is a naive datetime"):
        policy().evaluate_one([{"kind": "purchase", "at": datetime(2024, 1, 1), "amount": "1 CNY"}], as_of=T0)
    with pytest.raises(DataError, match="until is a naive datetime"):
        policy().simulate([], until=datetime(2024, 1, 1))


def test_bad_events_name_their_position() -> None:
    with pytest.raises(
        DataError, match=r"history\[1\]: invalid Purchase: amount: a purchase amount must be positive"
    ):
        policy().evaluate_one(
            [buy(day(0), "1"), {"kind": "purchase", "at": day(1), "amount": "0 CNY"}], as_of=day(2)
        )
    with pytest.raises(DataError, match=r"history\[0\]\.kind: expected one of \['growth', "):
        policy().evaluate_one([{"kind": "visit", "at": day(0)}], as_of=day(2))
    with pytest.raises(DataError, match=r"history\[0\]: expected a tier event"):
        policy().evaluate_one([42], as_of=day(2))
    with pytest.raises(DataError, match=r"history\[0\]\.amount: 5.00 USD is not in the policy currency CNY"):
        policy().evaluate_one([Purchase(at=day(0), amount="5 USD")], as_of=day(2))
    with pytest.raises(DataError, match="unknown tier code 'platinum'"):
        policy().evaluate_one([TierOverride(at=day(0), tier="platinum", reason="x")], as_of=day(2))
    with pytest.raises(DataError, match=r"until .* must be after at"):
        TierOverride(at=day(1), tier="gold", until=day(1), reason="x")


def test_batch_metric_column_errors() -> None:
    p = policy()
    with pytest.raises(DataError, match="unknown metric column 'spend'"):
        p.evaluate({"monetary": [1]}, as_of=T0)
    with pytest.raises(DataError, match="spend: null metric at row 1"):
        p.evaluate({"spend": [1, None]}, as_of=T0)
    with pytest.raises(DataError, match="spend: expected an integer column of minor units"):
        p.evaluate({"spend": [1.5, 2.0]}, as_of=T0)
    with pytest.raises(DataError, match="unknown tier code 'platinum'"):
        p.evaluate({"spend": [1], "tier": ["platinum"]}, as_of=T0, current="tier")
    with pytest.raises(DataError, match="unknown current-tier column 'level'"):
        p.evaluate({"spend": [1]}, as_of=T0, current="level")
    with pytest.raises(DataError, match="as_of is a naive datetime"):
        p.evaluate({"spend": [1]}, as_of=datetime(2024, 1, 1))
    growth = TierPolicy(tiers(money=False), metric="growth")
    with pytest.raises(DataError, match="growth: NaN or infinite metric at row 0"):
        growth.evaluate({"growth": [float("nan")]}, as_of=T0)
    with pytest.raises(DataError, match="record has no metric column 'growth'"):
        growth.evaluate_one({"spend": 1}, as_of=T0)


# -- boundaries ----------------------------------------------------------------------------------------
def test_exactly_the_entry_threshold_reaches_the_tier() -> None:
    at = datetime(2024, 3, 1, 12, tzinfo=SH)
    later = at + timedelta(days=1)
    assert policy().evaluate_one([buy(at, "1000.00")], as_of=later).tier == "silver"
    assert policy().evaluate_one([buy(at, "999.99")], as_of=later).tier == "red"


def test_a_purchase_at_as_of_is_not_yet_counted() -> None:
    at = datetime(2024, 3, 1, 12, tzinfo=SH)
    history = [buy(at, "1000")]
    assert policy().evaluate_one(history, as_of=at).tier == "red"
    state = policy().evaluate_one(history, as_of=at + timedelta(microseconds=1))
    assert (state.tier, state.since) == ("silver", at)


def test_a_purchase_at_the_review_instant_counts_for_the_next_window() -> None:
    p = policy()
    start = datetime(2024, 3, 1, 12, tzinfo=SH)
    review = datetime(2025, 3, 1, 12, tzinfo=SH)
    history = [buy(start, "1000"), buy(review, "900")]
    at_review = p.evaluate_one(history, as_of=review)
    # The review's window [2024-03-01 12:00, 2025-03-01 12:00) holds 1000 >= 800: kept.
    assert at_review.tier == "silver"
    # Without the first purchase in the window the review fails, and the purchase at the review instant
    # cannot save it; it counts right after (900 < 1000 entry: no re-upgrade).
    p2 = policy(window_length="6mo")
    late = [buy(start, "1000"), buy(review, "900")]
    timeline = p2.simulate(late, until=review + timedelta(days=1))
    assert [(c.kind, c.at) for c in timeline] == [("upgrade", start), ("downgrade", review)]
    assert timeline.final.tier == "red"
    assert timeline.final.metric == 90000


def test_window_start_is_inclusive_at_the_first_review() -> None:
    p = policy()
    start = datetime(2024, 3, 1, 12, tzinfo=SH)
    timeline = p.simulate([buy(start, "1000")], until=datetime(2026, 6, 1, tzinfo=SH))
    assert [(c.kind, c.at) for c in timeline] == [
        ("upgrade", start),
        ("retain", datetime(2025, 3, 1, 12, tzinfo=SH)),
        ("downgrade", datetime(2026, 3, 1, 12, tzinfo=SH)),
    ]


def test_month_end_anniversaries_clip_without_drifting() -> None:
    p = policy(review_period="1mo", window="lifetime")
    start = datetime(2024, 1, 31, 10, tzinfo=SH)
    history = [buy(start, "1000")]
    reviews = [c.at for c in p.simulate(history, until=datetime(2024, 4, 15, tzinfo=SH)) if c.review]
    assert reviews == [
        datetime(2024, 2, 29, 10, tzinfo=SH),
        datetime(2024, 3, 31, 10, tzinfo=SH),  # counted from Jan 31, not from Feb 29
    ]


def test_anniversary_inside_a_dst_gap_moves_forward_by_the_gap() -> None:
    p = TierPolicy(tiers(), window="lifetime", review_period="1d", tz="America/New_York")
    start = datetime(2024, 3, 9, 2, 30, tzinfo=NY)
    state = p.evaluate_one([buy(start, "1000")], as_of=start + timedelta(hours=1))
    assert state.next_review == datetime(2024, 3, 10, 3, 30, tzinfo=NY)
    assert state.next_review.astimezone(NY).utcoffset() == timedelta(hours=-4)


def test_cycle_reviews_happen_at_local_midnight_across_dst() -> None:
    p = TierPolicy(tiers(), window="calendar", cycle_months=1, review="cycle", tz="America/New_York")
    start = datetime(2024, 2, 20, 12, tzinfo=NY)
    timeline = p.simulate([buy(start, "1000")], until=datetime(2024, 4, 2, tzinfo=NY))
    march, april = [c.at for c in timeline if c.review]
    assert march.astimezone(UTC) == datetime(2024, 3, 1, 5, tzinfo=UTC)  # EST
    assert april.astimezone(UTC) == datetime(2024, 4, 1, 4, tzinfo=UTC)  # EDT
    assert [c.kind for c in timeline] == ["upgrade", "retain", "downgrade"]


BERLIN = ZoneInfo("Europe/Berlin")
SANTIAGO = ZoneInfo("America/Santiago")


def starbucks_2016(**options: Any) -> TierPolicy:
    """Starbucks Rewards (US, 2016): Gold at 300 Stars, kept by earning 300 Stars in each 12 months
    after reaching it (customerservice.starbucks.com, "How do I maintain Gold Level status?")."""
    levels = [
        Tier(code="green", label_en="Green", label_zh="绿星级", entry=0),
        Tier(code="gold", label_en="Gold", label_zh="金星级", entry=300, retention=300),
    ]
    defaults: dict[str, Any] = {
        "metric": "points",
        "window": "rolling",
        "window_length": "12mo",
        "review_period": "12mo",
        "tz": "America/New_York",
    }
    return TierPolicy(levels, **{**defaults, **options})


def test_anniversary_review_in_a_dst_gap_counts_the_purchase_that_reached_the_tier() -> None:
    # 300 Stars at 2024-03-09 02:30 EST (07:30Z): Gold. The anniversary 2025-03-09 02:30 does not exist
    # in New York (02:00 EST jumps to 03:00 EDT), so the review happens at 03:30 EDT = 07:30Z. Its window
    # is the 12 months before the *scheduled* 02:30: [2024-03-09 02:30 EST, ...) = [07:30Z, 07:30Z),
    # which holds the 300 Stars (300 >= 300: kept). Counted back from 03:30 it would start at 08:30Z.
    p = starbucks_2016()
    reached = datetime(2024, 3, 9, 2, 30, tzinfo=NY)
    history = [PointsEarned(at=reached, points=300)]
    timeline = p.simulate(history, until=datetime(2025, 3, 10, tzinfo=NY))
    assert [(c.kind, c.at.astimezone(UTC), c.metric) for c in timeline] == [
        ("upgrade", datetime(2024, 3, 9, 7, 30, tzinfo=UTC), 300),
        ("retain", datetime(2025, 3, 9, 7, 30, tzinfo=UTC), 300),
    ]
    # Next anniversary 2026-03-09 02:30 exists (EDT since 8 March 2026): 06:30Z.
    assert timeline.final.next_review == datetime(2026, 3, 9, 6, 30, tzinfo=UTC)
    # Just before the review, what keeps Gold reads the same window: 300 of 300, met.
    before = p.evaluate_one(history, as_of=datetime(2025, 3, 9, 7, 29, tzinfo=UTC))
    assert before.to_keep is not None
    assert (before.to_keep.current, before.to_keep.needed, before.to_keep.met) == (300, 0, True)


def test_anniversary_review_in_the_berlin_gap_keeps_the_tier() -> None:
    # 1000 CNY at 2024-03-30 02:30 CET (01:30Z): Silver Sea. 2025-03-30 02:30 falls in Berlin's gap
    # (02:00 CET -> 03:00 CEST): review at 01:30Z, window [2024-03-30 02:30 CET = 01:30Z, 01:30Z) holds
    # the 1000 >= 800 retention.
    p = TierPolicy(tiers(), window="rolling", window_length="12mo", tz="Europe/Berlin")
    reached = datetime(2024, 3, 30, 2, 30, tzinfo=BERLIN)
    timeline = p.simulate([buy(reached, "1000")], until=datetime(2025, 4, 1, tzinfo=BERLIN))
    assert [(c.kind, c.at.astimezone(UTC), c.to_tier, c.metric) for c in timeline] == [
        ("upgrade", datetime(2024, 3, 30, 1, 30, tzinfo=UTC), "silver", 100000),
        ("retain", datetime(2025, 3, 30, 1, 30, tzinfo=UTC), "silver", 100000),
    ]


def test_cycle_review_at_a_skipped_midnight_counts_from_that_midnight() -> None:
    # Santiago skips 2025-09-07 00:00 (-04 -> -03): the cycle starting that day begins at 01:00 -03
    # (04:00Z). A purchase at the previous cycle start 2024-09-07 00:00 -04 (04:00Z) is exactly one
    # 12-month window before the scheduled midnight, so it counts: [04:00Z, 04:00Z) a year apart.
    p = TierPolicy(
        tiers(), window="rolling", window_length="12mo", review="cycle", cycle_start="09-07",
        tz="America/Santiago",
    )  # fmt: skip
    reached = datetime(2024, 9, 7, tzinfo=SANTIAGO)
    timeline = p.simulate([buy(reached, "1000")], until=datetime(2025, 9, 8, tzinfo=SANTIAGO))
    assert [(c.kind, c.at.astimezone(UTC), c.metric) for c in timeline] == [
        ("upgrade", datetime(2024, 9, 7, 4, tzinfo=UTC), 100000),
        ("retain", datetime(2025, 9, 7, 4, tzinfo=UTC), 100000),
    ]


DST_ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "America/Santiago",
    "America/Havana",
    "Australia/Lord_Howe",
]


@functools.cache
def spring_forward_gaps(zone: str) -> list[tuple[datetime, timedelta]]:
    """``(first skipped wall time, length)`` of every gap of ``zone`` in 2019..2031 (naive local times)."""
    tz = ZoneInfo(zone)
    gaps = []
    day_start = datetime(2019, 1, 1, tzinfo=UTC)
    while day_start.year < 2032:
        low, high = day_start, day_start + timedelta(days=1)
        before, after = low.astimezone(tz).utcoffset(), high.astimezone(tz).utcoffset()
        assert before is not None and after is not None
        if after > before:  # the clock moves forward during this UTC day: find the instant
            while high - low > timedelta(microseconds=1):
                middle = low + (high - low) // 2
                if middle.astimezone(tz).utcoffset() == before:
                    low = middle
                else:
                    high = middle
            gaps.append(((high + before).replace(tzinfo=None), after - before))
        day_start += timedelta(days=1)
    return gaps


@settings(max_examples=250, deadline=None)
@given(
    zone=st.sampled_from(DST_ZONES),
    period=st.sampled_from(["12mo", "1y", "6mo", "1mo", "365d", "7d", "1d"]),
    data=st.data(),
)
def test_property_qualifying_exactly_one_window_before_the_review_keeps_the_tier(
    zone: str, period: str, data: st.DataObject
) -> None:
    from dateutil.relativedelta import relativedelta

    from user_ops._time import parse_duration

    tz = ZoneInfo(zone)
    duration = parse_duration(period)
    step = relativedelta(months=duration.months, days=duration.days)
    if data.draw(st.booleans(), label="review in a gap"):
        start, length = data.draw(st.sampled_from(spring_forward_gaps(zone)), label="gap")
        inside = timedelta(minutes=data.draw(st.integers(0, length // timedelta(minutes=1) - 1)))
        wall = start + inside - step
    else:
        wall = datetime(2020, 1, 1) + timedelta(minutes=data.draw(st.integers(0, 10 * 366 * 24 * 60)))
    reached = wall.replace(tzinfo=tz, fold=data.draw(st.integers(0, 1), label="fold"))
    # Exactly the entry threshold (no separate retention): the tier is kept only if the purchase counts.
    p = TierPolicy(
        tiers(retention=False), window="rolling", window_length=period, review_period=period, tz=zone
    )
    local = reached.astimezone(tz).replace(tzinfo=None)
    review = (local + step).replace(tzinfo=tz).astimezone(UTC)  # fold=0: a skipped time moves forward
    until = (local + step + step + timedelta(days=2)).replace(tzinfo=tz)
    reviews = [c for c in p.simulate([buy(reached, "1000")], until=until) if c.review]
    assert (reviews[0].at, reviews[0].kind, reviews[0].metric) == (review, "retain", 100000)
    assert (reviews[1].kind, reviews[1].to_tier, reviews[1].metric) == ("downgrade", "red", 0)
    just_before = p.evaluate_one([buy(reached, "1000")], as_of=review - timedelta(microseconds=1))
    assert just_before.to_keep is not None and just_before.to_keep.current == 100000


def test_calendar_year_in_the_shop_zone() -> None:
    p = policy(window="calendar", review="cycle")
    # 2024-12-31 17:00 UTC is 2025-01-01 01:00 in Shanghai: next year's window.
    history = [
        buy(datetime(2024, 6, 1, tzinfo=SH), "1200"),
        buy(datetime(2024, 12, 31, 17, tzinfo=UTC), "500"),
    ]
    state = p.evaluate_one(history, as_of=datetime(2025, 2, 1, tzinfo=SH))
    assert state.tier == "silver"  # kept at the 2025-01-01 review: 1200 >= 800
    assert state.metric == 50000
    assert state.to_next is not None and state.to_next.by == datetime(2026, 1, 1, tzinfo=SH)
    assert state.to_next.needed == 300000 - 50000
    assert state.to_keep is not None and state.to_keep.needed == 80000 - 50000
    assert state.next_review == datetime(2026, 1, 1, tzinfo=SH)


# -- reviews, downgrade modes, protection -------------------------------------------------------------
def _black_then_quiet(p: TierPolicy, *, extra: list[Any] | None = None) -> TierState:
    start = datetime(2024, 3, 1, tzinfo=SH)
    history: list[Any] = [buy(start, "8000"), *(extra or [])]
    return p.evaluate_one(history, as_of=datetime(2025, 3, 2, tzinfo=SH))


def test_downgrade_one_step() -> None:
    start = datetime(2024, 3, 1, tzinfo=SH)
    p = policy(window_length="6mo")
    state = _black_then_quiet(p)
    assert (state.tier, state.since) == ("gold", datetime(2025, 3, 1, tzinfo=SH))
    timeline = p.simulate([buy(start, "8000")], until=datetime(2027, 6, 1, tzinfo=SH))
    assert [c.to_tier for c in timeline if c.kind == "downgrade"] == ["gold", "silver", "red"]


def test_downgrade_straight_to_the_qualified_tier() -> None:
    p = policy(window_length="6mo", downgrade="to_qualified")
    assert _black_then_quiet(p).tier == "red"
    # 850 in the review window keeps silver's retention (800) though below its entry (1000).
    with_some = _black_then_quiet(p, extra=[buy(datetime(2025, 1, 10, tzinfo=SH), "850")])
    assert with_some.tier == "silver"


def test_downgrade_none_never_reviews() -> None:
    p = policy(downgrade="none")
    state = _black_then_quiet(p)
    assert (state.tier, state.next_review, state.to_keep) == ("black", None, None)


def test_retained_review_moves_the_next_review_a_period_on() -> None:
    p = policy()
    start = datetime(2024, 3, 1, tzinfo=SH)
    history = [buy(start, "8000"), buy(datetime(2024, 12, 1, tzinfo=SH), "6000")]
    state = p.evaluate_one(history, as_of=datetime(2025, 4, 1, tzinfo=SH))
    assert (state.tier, state.since, state.next_review) == ("black", start, datetime(2026, 3, 1, tzinfo=SH))
    assert state.to_keep is not None  # the new review window [2025-03-01, 2026-03-01) is empty so far
    assert (state.to_keep.current, state.to_keep.needed) == (0, 600000)
    before = p.evaluate_one(history, as_of=datetime(2024, 12, 5, tzinfo=SH)).to_keep
    assert before is not None
    assert (before.current, before.needed, before.met) == (1_400_000, 0, True)


def test_protection_keeps_the_tier_at_a_review_inside_it() -> None:
    p = policy(window="calendar", review="cycle", protection="3mo")
    history = [buy(datetime(2024, 12, 1, tzinfo=SH), "3000")]  # gold in December
    timeline = p.simulate(history, until=datetime(2026, 1, 2, tzinfo=SH))
    assert [c.kind for c in timeline] == ["upgrade", "protected", "downgrade"]
    assert timeline.changes[1].at == datetime(2025, 1, 1, tzinfo=SH)
    without = policy(window="calendar", review="cycle").simulate(
        history, until=datetime(2025, 1, 2, tzinfo=SH)
    )
    assert [c.kind for c in without] == ["upgrade", "retain"]  # 3000 in 2024 >= 2000 anyway
    small = [buy(datetime(2024, 12, 1, tzinfo=SH), "1000")]
    assert (
        policy(window="calendar", review="cycle")
        .evaluate_one(small, as_of=datetime(2025, 1, 2, tzinfo=SH))
        .tier
        == "silver"
    )


def test_refunds_reduce_the_metric_but_downgrade_only_at_review() -> None:
    p = policy()
    start = datetime(2024, 3, 1, tzinfo=SH)
    history = [buy(start, "3000"), Refund(at=start + timedelta(days=2), amount="2500 CNY")]
    state = p.evaluate_one(history, as_of=start + timedelta(days=10))
    assert (state.tier, state.metric) == ("gold", 50000)
    assert state.to_keep is not None and state.to_keep.needed == 200000 - 50000
    assert p.evaluate_one(history, as_of=datetime(2025, 3, 2, tzinfo=SH)).tier == "silver"


# -- overrides -----------------------------------------------------------------------------------------
def test_override_holds_against_upgrades_and_reviews_then_is_reviewed() -> None:
    p = policy()
    start = datetime(2024, 3, 1, tzinfo=SH)
    override = TierOverride(at=start, tier="gold", until=datetime(2025, 6, 1, tzinfo=SH), reason="VIP guest")
    history = [override, buy(datetime(2024, 9, 1, tzinfo=SH), "9000")]
    during = p.evaluate_one(history, as_of=datetime(2025, 3, 5, tzinfo=SH))
    assert (during.tier, during.override_reason, during.next_review) == ("gold", "VIP guest", None)
    timeline = p.simulate(history, until=datetime(2025, 6, 2, tzinfo=SH))
    assert [c.kind for c in timeline] == ["override", "upgrade"]
    end = timeline.changes[-1]
    assert (end.at, end.to_tier, end.review) == (datetime(2025, 6, 1, tzinfo=SH), "black", True)
    assert end.reason_en.startswith("override ended")


def test_a_gifted_tier_ends_at_the_tier_the_members_own_history_earns() -> None:
    # 1200 CNY on 2024-03-01 earns Silver Sea (entry 1000); a three-month Black Sea trial follows. At its
    # end (2024-09-01) the member's own history holds Silver Sea (reached 2024-03-01, first review
    # 2025-03-01), so that is where they land: not Gold Sea, one step below the gift (the old review
    # of the gifted tier: 1200 in [2023-09-01, 2024-09-01) < 6000 retention, one step down).
    p = policy()
    reached = datetime(2024, 3, 1, tzinfo=SH)
    trial = TierOverride(
        at=datetime(2024, 6, 1, tzinfo=SH), tier="black", until=datetime(2024, 9, 1, tzinfo=SH),
        reason="Black Sea trial",
    )  # fmt: skip
    history = [buy(reached, "1200"), trial]
    timeline = p.simulate(history, until=datetime(2024, 10, 1, tzinfo=SH))
    assert [(c.kind, c.to_tier) for c in timeline] == [
        ("upgrade", "silver"),
        ("override", "black"),
        ("downgrade", "silver"),
    ]
    end = timeline.changes[-1]
    assert (end.at, end.review) == (datetime(2024, 9, 1, tzinfo=SH), True)
    assert end.reason_en == "override ended; back to the tier the member's own history earns: Silver Sea"
    state = timeline.final
    assert (state.tier, state.since, state.next_review) == (
        "silver",
        datetime(2024, 9, 1, tzinfo=SH),
        datetime(2025, 3, 1, tzinfo=SH),  # the earned tier's own anniversary
    )
    assert state.override_reason is None
    # The old behaviour, asked for explicitly: a review of the gifted tier at its end.
    reviewed = [buy(reached, "1200"), trial.model_copy(update={"on_end": "review"})]
    assert p.evaluate_one(reviewed, as_of=datetime(2024, 10, 1, tzinfo=SH)).tier == "gold"


def test_the_earned_tier_keeps_its_retention_not_the_entry_threshold() -> None:
    # Gold Sea from 3000 CNY on 2024-03-01, kept at the 2025-03-01 review (3000 >= 2000). A Black Sea gift
    # 2025-04-01..2025-07-01 ends with nothing spent since 2024-07-01: the member's own history still
    # holds Gold Sea until its next review 2026-03-01 (to_qualified would have sent a review of the
    # gifted tier straight to Red Sea), and that review, with an empty window, sends them to Red Sea.
    p = policy(downgrade="to_qualified")
    gift = TierOverride(
        at=datetime(2025, 4, 1, tzinfo=SH), tier="black", until=datetime(2025, 7, 1, tzinfo=SH),
        reason="anniversary gift",
    )  # fmt: skip
    history = [buy(datetime(2024, 3, 1, tzinfo=SH), "3000"), gift]
    after = p.evaluate_one(history, as_of=datetime(2025, 7, 2, tzinfo=SH))
    assert (after.tier, after.next_review) == ("gold", datetime(2026, 3, 1, tzinfo=SH))
    assert p.evaluate_one(history, as_of=datetime(2026, 3, 2, tzinfo=SH)).tier == "red"
    old = [*history[:1], gift.model_copy(update={"on_end": "review"})]
    assert p.evaluate_one(old, as_of=datetime(2025, 7, 2, tzinfo=SH)).tier == "red"


def test_what_the_member_earns_during_a_trial_counts_when_it_ends() -> None:
    # Gold Sea trial from nothing; 3500 CNY spent during it reaches Gold Sea on the member's own account
    # (2024-05-10), so they keep Gold Sea when the trial ends, until their own review 2025-05-10.
    p = policy()
    trial = TierOverride(
        at=datetime(2024, 3, 1, tzinfo=SH), tier="gold", until=datetime(2024, 6, 1, tzinfo=SH),
        reason="status trial",
    )  # fmt: skip
    history = [trial, buy(datetime(2024, 5, 10, tzinfo=SH), "3500")]
    timeline = p.simulate(history, until=datetime(2024, 6, 2, tzinfo=SH))
    assert [(c.kind, c.to_tier) for c in timeline] == [("override", "gold"), ("retain", "gold")]
    assert timeline.final.since == datetime(2024, 3, 1, tzinfo=SH)  # held without a break
    assert timeline.final.next_review == datetime(2025, 5, 10, tzinfo=SH)


def test_the_end_of_an_override_equals_a_history_without_it() -> None:
    p = policy()
    purchases = [buy(day(0), "1200"), buy(day(40), "2500"), buy(day(500), "900")]
    suspension = TierOverride(at=day(30), tier=None, until=day(60), reason="audit")
    with_it = p.evaluate_one([*purchases, suspension], as_of=day(45))
    assert (with_it.tier, with_it.override_reason) == (None, "audit")
    for n in (60, 61, 400, 700):
        assert p.evaluate_one([*purchases, suspension], as_of=day(n)).tier == (
            p.evaluate_one(purchases, as_of=day(n)).tier
        )


def test_permanent_override_and_override_to_no_tier() -> None:
    p = policy()
    history = [buy(day(0), "9000"), TierOverride(at=day(1), tier=None, reason="fraud")]
    state = p.evaluate_one([*history, buy(day(2), "9000")], as_of=day(900))
    assert (state.tier, state.index, state.override_reason, state.to_next) == (None, -1, "fraud", None)


def test_later_override_replaces_an_earlier_one() -> None:
    p = policy()
    history = [
        TierOverride(at=day(0), tier="black", until=day(100), reason="a"),
        TierOverride(at=day(10), tier="silver", until=day(20), reason="b"),
    ]
    assert p.evaluate_one(history, as_of=day(15)).tier == "silver"
    assert p.evaluate_one(history, as_of=day(50)).tier == "red"  # reviewed at day 20: nothing spent


# -- other metrics and inputs --------------------------------------------------------------------------
def test_orders_points_growth_and_custom_metrics() -> None:
    levels = [
        Tier(code="a", label_en="A", label_zh="甲", entry=0),
        Tier(code="b", label_en="B", label_zh="乙", entry=2),
    ]
    orders = TierPolicy(levels, metric="orders")
    history: list[Any] = [
        buy(day(0), "1"),
        buy(day(1), "1"),
        Refund(at=day(2), amount="1 CNY", cancels_order=True),
    ]
    state = orders.evaluate_one(history, as_of=day(3))
    assert (state.tier, state.metric) == ("b", 1)
    assert (
        TierPolicy(levels, metric="points")
        .evaluate_one([PointsEarned(at=day(0), points=2)], as_of=day(1))
        .tier
        == "b"
    )
    assert (
        TierPolicy(levels, metric="growth")
        .evaluate_one([GrowthEarned(at=day(0), growth=1)], as_of=day(1))
        .tier
        == "a"
    )
    visits = TierPolicy(levels, metric="visits")
    mixed = [
        MetricEvent(at=day(0), metric="visits", value=2),
        MetricEvent(at=day(0), metric="other", value=-9),
    ]
    assert visits.evaluate_one(mixed, as_of=day(1)).tier == "b"


def test_history_as_dicts_and_as_a_table() -> None:
    p = policy()
    dicts = [
        {"kind": "purchase", "at": day(0), "amount": "600 CNY"},
        {"kind": "purchase", "at": day(1), "amount": {"amount": "400", "currency": "CNY"}},
    ]
    table = Table({"at": [day(0), day(1), day(2)], "kind": ["purchase", "purchase", "override"],
                   "amount_minor": [60000, 40000, None], "tier": [None, None, "black"],
                   "reason": [None, None, "gift"]})  # fmt: skip
    assert p.evaluate_one(dicts, as_of=day(2)).tier == "silver"
    assert p.evaluate_one(table, as_of=day(2)).tier == "silver"
    assert p.evaluate_one(table, as_of=day(3)).tier == "black"
    with pytest.raises(DataError, match="unknown columns \\['colour'\\]"):
        p.evaluate_one(Table({"at": [day(0)], "kind": ["purchase"], "colour": ["red"]}), as_of=day(2))


def test_state_messages_in_both_languages() -> None:
    p = policy()
    state = p.evaluate_one(
        [buy(datetime(2024, 3, 1, 12, tzinfo=SH), "680")], as_of=datetime(2024, 4, 1, tzinfo=SH)
    )
    assert state.to_next is not None
    assert state.to_next.message_en == "spend 320.00 more to reach Silver Sea"
    assert state.to_next.message_zh == "再消费320.00元即可升级至银海"
    assert state.to_next.needed_money == Money("320", "CNY")
    assert state.to_keep is None  # red has nothing to keep
    silver = p.evaluate_one(
        [buy(datetime(2024, 3, 1, 12, tzinfo=SH), "1000")], as_of=datetime(2024, 4, 1, tzinfo=SH)
    )
    assert silver.to_keep is not None
    assert silver.to_keep.message_en == "keeps Silver Sea at the review on 2025-03-01 12:00"
    assert silver.summary("zh").startswith("银海；再消费2000.00元即可升级至金海")


def test_keys_make_events_idempotent() -> None:
    p = policy()
    first = Purchase(at=day(0), amount="600 CNY", key="order-1")
    assert p.evaluate_one([first, first], as_of=day(1)).metric == 60000
    assert p.evaluate_one([first, Purchase(at=day(0), amount="600 CNY")], as_of=day(1)).metric == 120000
    clash = Purchase(at=day(0), amount="700 CNY", key="order-1")
    with pytest.raises(DataError, match=r"history\[1\]\.key: 'order-1' is also the key of history\[0\]"):
        p.evaluate_one([first, clash], as_of=day(1))


def test_events_round_trip_through_json() -> None:
    events: list[Any] = [
        Purchase(at=datetime(2024, 3, 1, 12, tzinfo=SH), amount="12.50 CNY", key="o1"),
        Refund(at=day(1), amount="2 CNY", cancels_order=True),
        PointsEarned(at=day(2), points=-5),
        GrowthEarned(at=day(3), growth=7),
        MetricEvent(at=day(4), metric="visits", value=2),
        TierOverride(at=day(5), tier=None, until=day(9), reason="audit"),
    ]
    documents = json.loads(json.dumps([e.to_dict() for e in events]))
    p = policy()
    assert p.simulate(documents, until=day(30)) == p.simulate(events, until=day(30))
    from user_ops.membership.tiers._events import coerce_history

    assert coerce_history(documents) == events


def test_record_options_do_not_apply_to_histories() -> None:
    with pytest.raises(DataError, match="current= and review= apply to a record"):
        policy().evaluate_one([], as_of=T0, current="gold")


def test_timeline_table_html_and_state_dict() -> None:
    timeline = policy().simulate([buy(day(0), "3000")], until=day(800))
    table = timeline.to_table()
    assert table["kind"].tolist() == ["upgrade", "retain", "downgrade"]
    assert table["to_tier"].tolist() == ["gold", "gold", "silver"]
    assert table["threshold"].tolist() == [300000, 200000, 200000]
    assert "<td>downgrade</td>" in timeline._repr_html_()
    assert len(timeline) == 3
    as_dict = timeline.final.to_dict()
    assert as_dict["tier"] == "silver" and as_dict["to_next"]["tier"] == "gold"
    assert str(timeline.final).startswith("Silver Sea; spend 3000.00 more to reach Gold Sea")


def test_instants_in_a_repeated_dst_hour_compare_correctly() -> None:
    # 01:30 on 2024-11-03 happens twice in New York; as_of and the event are the same instant in two zones.
    p = TierPolicy(tiers(), window="lifetime", tz="America/New_York")
    event = datetime(2024, 11, 3, 5, 30, tzinfo=UTC)  # 01:30 EDT (the first one)
    as_of = datetime(2024, 11, 3, 1, 30, tzinfo=NY)  # fold=0: the same instant
    assert p.evaluate_one([buy(event, "1000")], as_of=as_of).tier == "red"
    assert p.evaluate_one([buy(event, "1000")], as_of=as_of + timedelta(minutes=1)).tier == "silver"


# -- batch ---------------------------------------------------------------------------------------------
def test_evaluate_columns_and_counts() -> None:
    p = policy()
    result = p.evaluate({"customer_id": [1, 2, 3, 4], "spend": [0, 99_999, 100_000, 900_000]}, as_of=T0)
    assert result["tier"].tolist() == ["red", "red", "silver", "black"]
    assert result["tier_zh"].tolist() == ["红海", "红海", "银海", "黑海"]
    assert result["next_tier"].tolist() == ["silver", "silver", "gold", None]
    assert result["to_next"].tolist() == [100_000, 1, 200_000, None]
    assert result["customer_id"].tolist() == [1, 2, 3, 4]
    assert result.counts() == {"red": 2, "silver": 1, "gold": 0, "black": 1}


def test_evaluate_with_current_tiers_applies_retention() -> None:
    p = policy(downgrade="to_qualified")
    table = {"spend": [700_000, 150_000, 0, 350_000], "tier": ["black", "black", None, "gold"]}
    result = p.evaluate(table, as_of=T0, current="tier")
    assert result["tier"].tolist() == ["black", "silver", "red", "gold"]
    assert result["change"].tolist() == ["same", "down", "up", "same"]
    assert result["previous"].tolist() == ["black", "black", None, "gold"]
    upgrades_only = p.evaluate(table, as_of=T0, current="tier", review=False)
    assert upgrades_only["tier"].tolist() == ["black", "black", "red", "gold"]
    by_index = p.evaluate({"spend": [0], "tier": [3]}, as_of=T0, current="tier")
    assert by_index["tier"].tolist() == ["red"]  # to_qualified: straight down
    assert policy().evaluate({"spend": [0], "tier": [3]}, as_of=T0, current="tier")["tier"].tolist() == [
        "gold"
    ]


def test_no_tier_below_a_positive_lowest_entry() -> None:
    p = TierPolicy(tiers()[1:], window="lifetime")
    result = p.evaluate({"spend": [50_000, 100_000]}, as_of=T0)
    assert result["tier"].tolist() == [None, "silver"]
    assert result["tier_index"].tolist() == [-1, 0]
    assert result.counts() == {"silver": 1, "gold": 0, "black": 0, None: 1}
    assert p.evaluate_one([], as_of=T0).tier is None


# -- properties ----------------------------------------------------------------------------------------
POLICIES = [
    policy(),
    policy(downgrade="to_qualified", window_length="6mo", protection="2mo"),
    policy(window="calendar", review="cycle", cycle_months=3),
    policy(window="lifetime", downgrade="none"),
    policy(window="calendar", review="anniversary", protection="1mo", downgrade="to_qualified"),
    policy(review="cycle", cycle_start="03-31", cycle_months=1, protection="45d", window_length="3mo"),
    TierPolicy(
        tiers()[1:], window="rolling", window_length="90d", review_period="2mo", downgrade="to_qualified"
    ),
]

amounts = st.integers(min_value=1, max_value=900_000)
# Hours after T0; whole days half of the time, so events often fall exactly on review instants.
offsets = st.one_of(
    st.integers(min_value=0, max_value=3 * 365 * 24),
    st.integers(min_value=0, max_value=3 * 365).map(lambda days: 24 * days - 8),  # Shanghai midnights
)


@st.composite
def histories(draw: st.DrawFn) -> list[Any]:
    events: list[Any] = []
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        at = T0 + timedelta(hours=draw(offsets))
        if draw(st.integers(0, 5)) == 0:
            events.append(Refund(at=at, amount=Money.from_minor(draw(amounts), "CNY")))
        else:
            events.append(Purchase(at=at, amount=Money.from_minor(draw(amounts), "CNY")))
    if draw(st.booleans()):
        at = T0 + timedelta(hours=draw(offsets))
        until = draw(st.one_of(st.none(), st.integers(1, 400 * 24).map(lambda h: at + timedelta(hours=h))))
        tier = draw(st.sampled_from(["red", "silver", "gold", "black", None]))
        events.append(TierOverride(at=at, tier=tier, until=until, reason="manual"))
    return events


def fit(history: list[Any], p: TierPolicy) -> list[Any]:
    """The history with override tiers the policy does not have replaced by no tier."""
    return [
        e.model_copy(update={"tier": None}) if isinstance(e, TierOverride) and e.tier not in p.codes else e
        for e in history
    ]


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.integers(min_value=-5_000, max_value=1_000_000), min_size=1, max_size=30),
    current=st.lists(st.sampled_from([None, "red", "silver", "gold", "black"]), min_size=30, max_size=30),
    which=st.integers(0, len(POLICIES) - 1),
    review=st.booleans(),
)
def test_batch_agrees_with_evaluate_one(
    values: list[int], current: list[str | None], which: int, review: bool
) -> None:
    p = POLICIES[which]
    currents = [c if c is None or c in p.codes else None for c in current[: len(values)]]
    plain = p.evaluate({"spend": values}, as_of=T0)
    reviewed = p.evaluate({"spend": values, "tier": currents}, as_of=T0, current="tier", review=review)
    for row, value in enumerate(values):
        one = p.evaluate_one({"spend": value}, as_of=T0)
        assert plain["tier"][row] == one.tier
        assert plain["to_next"].tolist()[row] == (one.to_next.needed if one.to_next else None)
        if value > 0:  # the same metric from a history of one purchase
            history = [Purchase(at=T0 - timedelta(days=1), amount=Money.from_minor(value, "CNY"))]
            assert p.evaluate_one(history, as_of=T0).tier == one.tier
        again = p.evaluate_one({"spend": value}, as_of=T0, current=currents[row], review=review)
        assert reviewed["tier"][row] == again.tier


@settings(max_examples=120, deadline=None)
@given(history=histories(), which=st.integers(0, len(POLICIES) - 1), until=offsets)
def test_simulate_final_state_is_evaluate_one(history: list[Any], which: int, until: int) -> None:
    p = POLICIES[which]
    history = fit(history, p)
    end = T0 + timedelta(hours=until)
    assert p.simulate(history, until=end).final == p.evaluate_one(history, as_of=end)


@settings(max_examples=60, deadline=None)
@given(
    history=histories(),
    which=st.integers(0, len(POLICIES) - 1),
    probes=st.lists(offsets, min_size=1, max_size=6),
)
def test_tiers_change_only_by_upgrades_overrides_or_reviews(
    history: list[Any], which: int, probes: list[int]
) -> None:
    p = POLICIES[which]
    history = fit(history, p)
    end = T0 + timedelta(days=3 * 365 + 30)
    timeline = p.simulate(history, until=end)
    for change in timeline:
        rank = {None: -1, **{code: i for i, code in enumerate(p.codes)}}
        if rank[change.to_tier] < rank[change.from_tier]:
            assert change.review or change.kind == "override", change
        if not change.review:
            assert change.kind in ("upgrade", "override")
    # Between steps the tier is constant: evaluate_one at any instant agrees with the timeline.
    initial = p.codes[0] if p.entries[0] == 0 else None
    for hours in probes:
        t = T0 + timedelta(hours=hours, minutes=17)
        expected = initial
        for change in timeline:
            if change.at < t or (change.review and change.at == t):
                expected = change.to_tier
        assert p.evaluate_one(history, as_of=t).tier == expected


@settings(max_examples=60, deadline=None)
@given(history=histories(), which=st.integers(0, len(POLICIES) - 1), fraction=st.floats(0.01, 0.99))
def test_overrides_are_respected_while_they_hold(history: list[Any], which: int, fraction: float) -> None:
    p = POLICIES[which]
    history = fit(history, p)
    overrides = [e for e in history if isinstance(e, TierOverride)]
    if not overrides:
        return
    override = overrides[0]
    span = (override.until or override.at + timedelta(days=500)) - override.at
    t = override.at + span * fraction + timedelta(microseconds=1)
    state = p.evaluate_one(history, as_of=t)
    assert state.tier == override.tier
    assert state.override_reason == "manual"
    assert np.isscalar(state.index)


@settings(max_examples=80, deadline=None)
@given(
    history=histories(),
    which=st.integers(0, len(POLICIES) - 1),
    later=st.one_of(st.just(0), st.integers(min_value=0, max_value=3 * 365 * 24)),
)
def test_property_after_an_override_ends_the_member_is_where_their_history_puts_them(
    history: list[Any], which: int, later: int
) -> None:
    p = POLICIES[which]
    history = fit(history, p)
    overrides = [e for e in history if isinstance(e, TierOverride)]
    if not overrides or overrides[0].until is None:
        return
    t = overrides[0].until + timedelta(hours=later)
    own = [e for e in history if not isinstance(e, TierOverride)]
    ended, without = p.evaluate_one(history, as_of=t), p.evaluate_one(own, as_of=t)
    assert (ended.tier, ended.next_review, ended.metric) == (
        without.tier,
        without.next_review,
        without.metric,
    )


@settings(max_examples=200, deadline=None)
@given(
    seconds=st.integers(min_value=0, max_value=8 * 365 * 86_400),
    text=st.sampled_from(["12mo", "1mo", "6mo", "365d", "1y2mo3d", "1d", "36h", "1mo12h"]),
    zone=st.sampled_from(["America/New_York", "Asia/Shanghai", "Europe/London", "UTC"]),
)
def test_fast_window_arithmetic_matches_duration_subtraction(seconds: int, text: str, zone: str) -> None:
    from user_ops._time import get_tz, parse_duration
    from user_ops.membership.tiers._window import add_duration

    instant = datetime(2019, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    duration, tz = parse_duration(text), get_tz(zone)
    assert add_duration(instant, duration, -1, tz) == duration.subtract_from(instant, tz)


def test_benchmark_baseline_is_honest() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import bench_membership

    assert bench_membership.check(3000, seed=3) == 3000

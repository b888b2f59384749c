"""Points ledger: PointsPolicy (earning, expiry), LedgerEntry validation, replay and quote_redemption."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from user_ops import ConfigError, DataError, Money, Rounding
from user_ops.membership import (
    EventReward,
    LedgerEntry,
    OrderLine,
    PointsPolicy,
    PointsState,
    quote_redemption,
    replay,
)

UTC = timezone.utc
SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def earn(key: str, points: int, at: datetime, **extra: Any) -> LedgerEntry:
    return LedgerEntry(key=key, kind="earn", points=points, at=at, **extra)


def redeem(key: str, points: int, at: datetime) -> LedgerEntry:
    return LedgerEntry(key=key, kind="redeem", points=points, at=at)


def snapshot(state: PointsState) -> tuple[Any, ...]:
    return (state.to_dict(), state.lots, state.all_lots, state.issues)


def check_identity(state: PointsState) -> None:
    assert state.balance == (
        state.lifetime_earned
        - state.lifetime_reverted
        - state.lifetime_redeemed
        + state.lifetime_refunded
        - state.lifetime_expired
        + state.lifetime_adjusted
        + state.written_off
    )
    assert state.spendable >= 0 and state.pending >= 0 and state.debt >= 0
    assert not (state.debt and (state.spendable or state.pending))
    for lot in state.all_lots:
        assert 0 <= lot.remaining <= lot.points
        assert lot.redeemed >= 0 and lot.expired >= 0
    for lot in state.lots:
        assert lot.remaining > 0
        assert lot.expires_at is None or lot.expires_at > state.as_of
        assert (lot.status == "spendable") == (lot.available_at <= state.as_of)


# -- policy: earning ---------------------------------------------------------------------------------
def test_points_for_order_rate_rounding_multiplier_and_exclusions() -> None:
    policy = PointsPolicy(
        earn_points=3,
        earn_per=Money("10.00", "CNY"),
        rounding=Rounding.HALF_UP,
        tier_multipliers={"gold": Decimal("1.5")},
        excluded_categories=("gift_card",),
        excluded_products=("SKU-TOBACCO",),
    )
    lines = [
        OrderLine(Money("35.00")),  # 10.5 points
        OrderLine(Money("100.00"), category="gift_card"),
        OrderLine(Money("50.00"), product="SKU-TOBACCO"),
        OrderLine(Money("20.00"), eligible=False),
        {"amount": Money("-5.00"), "category": "discount"},
    ]
    assert policy.eligible_spend(lines) == Money("30.00")
    assert policy.points_for_order(lines) == 9
    assert policy.points_for_order(lines, tier="gold") == 14  # 13.5 rounds half up
    assert policy.points_for_order(lines, tier="silver") == 9  # tiers not listed earn 1x
    down = policy.model_copy(update={"rounding": Rounding.DOWN})
    assert down.points_for_order([OrderLine(Money("36.66"))]) == 10  # 10.998 truncated: no float drift


def test_points_are_exact_for_amounts_floats_get_wrong() -> None:
    policy = PointsPolicy(earn_points=1, earn_per=Money("0.10"), rounding=Rounding.DOWN)
    # 0.1 * 3 = 0.30000000000000004 in floats; exact here.
    assert policy.points_for_order([OrderLine(Money("0.10"))] * 3) == 3
    assert policy.points_for_order([OrderLine(Money("-3.00"))]) == 0  # negative total earns nothing


def test_max_points_per_order_and_zero_point_orders() -> None:
    policy = PointsPolicy(max_points_per_order=500)
    assert policy.points_for_order([OrderLine(Money("9999.00"))]) == 500
    assert policy.earn_entries([OrderLine(Money("0.50"))], order_id="x", at=T0) == []


def test_earn_entries_and_stamp() -> None:
    policy = PointsPolicy(pending_period="7d", expiry="after", expiry_after="365d")
    [entry] = policy.earn_entries([OrderLine(Money("88.80"))], order_id="A1", at=T0, customer_id=7)
    assert (entry.key, entry.points, entry.order_id, entry.customer_id) == ("earn:A1", 88, "A1", 7)
    assert entry.available_at is None and entry.expires_at is None
    [stamped] = policy.earn_entries([OrderLine(Money("88.80"))], order_id="A1", at=T0, stamp=True)
    assert stamped.available_at == day(7)
    assert stamped.expires_at == day(365) == datetime(2024, 12, 31, tzinfo=UTC)  # 2024 is a leap year


def test_bad_order_lines_name_the_position() -> None:
    policy = PointsPolicy()
    with pytest.raises(DataError, match="position 1: amount must be a Money"):
        policy.points_for_order([OrderLine(Money("1.00")), {"amount": 12.5}])
    with pytest.raises(DataError, match=r"position 0: amount 1\.00 USD is not in the policy's currency CNY"):
        policy.points_for_order([OrderLine(Money("1.00", "USD"))])
    with pytest.raises(DataError, match="position 0: unknown fields"):
        policy.points_for_order([{"amount": Money("1.00"), "qty": 2}])
    with pytest.raises(DataError, match="position 0: missing 'amount'"):
        policy.points_for_order([{"category": "x"}])
    with pytest.raises(DataError, match="position 0: expected an OrderLine"):
        policy.points_for_order([3])
    with pytest.raises(DataError, match="eligible must be a bool"):
        policy.points_for_order([{"amount": Money("1.00"), "eligible": "yes"}])


def test_revert_entries_full_partial_and_disabled() -> None:
    policy = PointsPolicy()
    lines = [OrderLine(Money("60.40")), OrderLine(Money("40.40"))]
    [original] = policy.earn_entries(lines, order_id="B7", at=T0)
    assert original.points == 100  # 100.80 rounds down
    [full] = policy.revert_entries(original, at=day(1))
    assert (full.points, full.ref, full.kind) == (100, "earn:B7", "revert")
    # The kept line alone earns 60: take back 40, not the 40 the refunded line would earn alone.
    [partial] = policy.revert_entries(original, at=day(1), remaining_lines=[lines[0]])
    assert partial.points == 40
    [rest] = policy.revert_entries(original, at=day(2), remaining_lines=[], already_reverted=40)
    assert rest.points == 60
    assert policy.revert_entries(original, at=day(2), remaining_lines=[], already_reverted=100) == []
    assert PointsPolicy(clawback_on_refund=False).revert_entries(original, at=day(1)) == []
    with pytest.raises(DataError, match="not an earn"):
        policy.revert_entries(redeem("r", 1, T0), at=day(1))


def test_event_entry() -> None:
    policy = PointsPolicy(events={"check_in": EventReward(points=5, daily_limit=1, label_zh="签到")})
    entry = policy.event_entry("check_in", at=T0, key="ci:1", customer_id="c1")
    assert (entry.points, entry.event, entry.kind) == (5, "check_in", "earn")
    with pytest.raises(DataError, match="unknown event 'share'"):
        policy.event_entry("share", at=T0, key="s")


# -- policy: configuration ---------------------------------------------------------------------------
def test_policy_json_round_trip_schema_and_hash() -> None:
    policy = PointsPolicy(
        earn_per=Money("2.00", "CNY"),
        tier_multipliers={"gold": Decimal("1.5"), "black": Decimal("2")},
        events={"check_in": EventReward(points=5, daily_limit=1)},
        pending_period="7d",
        expiry="end_of_year",
        expiry_after="12mo",
        redemption_order="fifo",
        negative_balance="cap",
        tz="Asia/Shanghai",
    )
    document = policy.to_dict()
    assert document["tier_multipliers"] == {"gold": "1.5", "black": "2"}
    assert PointsPolicy.from_json(document) == policy
    assert PointsPolicy.from_document(policy.to_document()) == policy
    assert policy.content_hash() == PointsPolicy.from_json(document).content_hash()
    schema = PointsPolicy.json_schema()
    assert {"expiry", "pending_period", "redemption_order", "negative_balance"} <= set(schema["properties"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"earn_per": Money("0.00")}, "earn_per must be a positive amount"),
        ({"earn_points": 1.5}, "earn_points"),
        ({"tier_multipliers": {"gold": Decimal("-1")}}, "multiplier of 'gold'"),
        ({"pending_period": "7days"}, "invalid duration"),
        ({"expiry": "end_of_month", "expiry_after": "30d"}, "whole months"),
        ({"expiry": "after"}, "positive expiry_after"),
        ({"redeem_minimum": 150, "redeem_step": 100}, "multiple of redeem_step"),
        ({"tz": "Mars/Base"}, "unknown time zone"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_policy_options_raise_config_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PointsPolicy(**options)


# -- policy: expiry dates ----------------------------------------------------------------------------
def test_expiry_models_on_the_shop_calendar() -> None:
    earned = datetime(2024, 3, 15, 18, 0, tzinfo=UTC)  # 16 March 02:00 in Shanghai
    after = PointsPolicy(expiry="after", expiry_after="365d", tz="Asia/Shanghai")
    assert after.expires_at(earned) == datetime(2025, 3, 16, 2, 0, tzinfo=SH)
    month = PointsPolicy(expiry="end_of_month", expiry_after="3mo", tz="Asia/Shanghai")
    assert month.expires_at(earned) == datetime(2024, 7, 1, tzinfo=SH)  # end of June, Shanghai
    month_utc = PointsPolicy(expiry="end_of_month", expiry_after="3mo", tz="UTC")
    assert month_utc.expires_at(earned) == datetime(2024, 7, 1, tzinfo=UTC)
    year = PointsPolicy(expiry="end_of_year", expiry_after="12mo", tz="Asia/Shanghai")
    assert year.expires_at(earned) == datetime(2026, 1, 1, tzinfo=SH)
    december = PointsPolicy(expiry="end_of_month", expiry_after="0mo", tz="UTC")
    assert december.expires_at(datetime(2024, 12, 5, tzinfo=UTC)) == datetime(2025, 1, 1, tzinfo=UTC)
    assert PointsPolicy().expires_at(earned) is None


def test_expiry_from_available_counts_after_the_pending_period() -> None:
    policy = PointsPolicy(pending_period="7d", expiry="after", expiry_after="30d", expiry_from="available")
    state = replay([earn("e", 10, T0)], as_of=day(36), policy=policy)
    assert state.lot("e").expires_at == day(37)
    assert state.spendable == 10


# -- entries ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"points": 1.0}, "points must be an int"),
        ({"points": True}, "points must be an int"),
        ({"points": 0}, "earn points must be positive"),
        ({"points": -5}, "earn points must be positive"),
        ({"kind": "adjust", "points": 0}, "non-zero points"),
        ({"kind": "gift"}, "unknown kind 'gift'"),
        ({"key": ""}, "key must be a non-empty string"),
        ({"at": datetime(2024, 1, 1)}, "naive datetime"),
        ({"kind": "refund"}, "needs ref="),
        ({"kind": "redeem", "expires_at": T0}, "only applies to entries that create points"),
        ({"expires_at": T0, "available_at": day(1)}, "expires_at is before available_at"),
        ({"event": "check_in", "kind": "redeem"}, "event names an earn"),
    ],
)
def test_bad_entries(fields: dict[str, Any], message: str) -> None:
    data: dict[str, Any] = {"key": "k", "kind": "earn", "points": 5, "at": T0, **fields}
    with pytest.raises(DataError, match=message):
        LedgerEntry(**data)


def test_replay_names_the_position_of_a_bad_entry() -> None:
    rows = [earn("a", 5, T0).to_dict(), {"key": "b", "kind": "earn", "points": 2.5, "at": T0.isoformat()}]
    with pytest.raises(DataError, match="entry at position 1 'b': points must be an int"):
        replay(rows, as_of=T0)
    with pytest.raises(DataError, match="position 0: unknown fields"):
        replay([{"key": "a", "kind": "earn", "points": 1, "at": T0, "amount": 3}], as_of=T0)
    with pytest.raises(DataError, match="position 0: missing"):
        replay([{"key": "a", "kind": "earn", "at": T0}], as_of=T0)
    with pytest.raises(DataError, match="not an ISO 8601 datetime"):
        replay([{"key": "a", "kind": "earn", "points": 1, "at": "yesterday"}], as_of=T0)
    with pytest.raises(DataError, match="position 0: expected a LedgerEntry"):
        replay([("a", "earn")], as_of=T0)


def test_numpy_integer_points_are_exact_integers() -> None:
    import numpy as np

    assert LedgerEntry("e", "earn", np.int64(7), T0).points.__class__ is int  # type: ignore[arg-type]
    assert replay([{"key": "e", "kind": "earn", "points": np.int32(7), "at": T0}], as_of=T0).spendable == 7
    with pytest.raises(DataError, match="points must be an int"):
        LedgerEntry("e", "earn", np.float64(7), T0)  # type: ignore[arg-type]


def test_entries_from_json_and_mappings() -> None:
    entry = earn("e", 5, T0, expires_at=day(3), customer_id="c", order_id="o", note="x")
    assert LedgerEntry.from_json(entry.to_json()) == entry
    assert replay([entry.to_dict()], as_of=T0).spendable == 5


def test_replay_rejects_naive_as_of_and_bad_policy() -> None:
    with pytest.raises(DataError, match="naive"):
        replay([], as_of=datetime(2024, 1, 1))
    with pytest.raises(DataError, match="policy must be a PointsPolicy"):
        replay([], as_of=T0, policy={"expiry": "never"})  # type: ignore[arg-type]


# -- replay: behaviour ----------------------------------------------------------------------------------
def test_pending_period_then_spendable() -> None:
    policy = PointsPolicy(pending_period="7d")
    entries = [earn("e", 50, T0), earn("ci", 5, T0, event="check_in")]
    policy = policy.model_copy(update={"events": {"check_in": EventReward(points=5)}})
    state = replay(entries, as_of=day(6), policy=policy)
    assert (state.spendable, state.pending) == (5, 50)  # event rewards are not held back
    assert state.pending_schedule() == [(day(7), 50)]
    assert replay(entries, as_of=day(7), policy=policy).spendable == 55


def test_expiry_exactly_at_the_boundary() -> None:
    policy = PointsPolicy(expiry="after", expiry_after="30d")
    entries = [earn("e", 40, T0)]
    just_before = replay(entries, as_of=day(30) - timedelta(microseconds=1), policy=policy)
    assert just_before.spendable == 40
    at_boundary = replay(entries, as_of=day(30), policy=policy)
    assert (at_boundary.spendable, at_boundary.lifetime_expired) == (0, 40)
    assert at_boundary.lot("e").status == "expired"
    # A redemption at the expiry instant cannot use the lot: it is an overdraft.
    late = replay([*entries, redeem("r", 10, day(30))], as_of=day(31), policy=policy)
    assert [issue.code for issue in late.issues] == ["OVERDRAFT"]
    assert late.debt == 10


def test_redemption_order_soonest_expiring_or_fifo() -> None:
    entries = [
        earn("old", 10, T0, expires_at=day(100)),
        earn("new", 10, day(1), expires_at=day(50)),
        redeem("r", 15, day(2)),
    ]
    soonest = replay(entries, as_of=day(2))
    assert (soonest.lot("new").remaining, soonest.lot("old").remaining) == (0, 5)
    fifo = replay(entries, as_of=day(2), policy=PointsPolicy(redemption_order="fifo"))
    assert (fifo.lot("old").remaining, fifo.lot("new").remaining) == (0, 5)
    assert [lot.key for lot in soonest.lots] == ["old"]


def test_refund_of_a_redemption_restores_the_lots_with_their_expiry() -> None:
    entries = [
        earn("a", 10, T0, expires_at=day(10)),
        earn("b", 10, T0, expires_at=day(20)),
        redeem("r", 15, day(1)),
        LedgerEntry("f1", "refund", 3, day(2), ref="r"),  # back to b first: the last lot used
    ]
    state = replay(entries, as_of=day(2))
    assert (state.lot("a").remaining, state.lot("b").remaining) == (0, 8)
    assert state.net_redeemed == 12
    # The rest comes back after lot a expired: forfeited (default) or reissued.
    later = [*entries, LedgerEntry("f2", "refund", 12, day(15), ref="r")]
    forfeit = replay(later, as_of=day(15))
    assert (forfeit.spendable, forfeit.lot("a").expired) == (20 - 10, 10)
    assert [i.code for i in forfeit.issues] == ["RESTORED_EXPIRED"]
    check_identity(forfeit)
    reissue = replay(
        later,
        as_of=day(15),
        policy=PointsPolicy(restore_expired="reissue", expiry="after", expiry_after="30d"),
    )
    assert reissue.spendable == 20
    assert reissue.lot("f2").points == 10 and reissue.lot("f2").expires_at == day(45)
    check_identity(reissue)
    with pytest.raises(DataError, match="only 0 of its 15 are left to refund"):
        replay([*later, LedgerEntry("f3", "refund", 1, day(16), ref="r")], as_of=day(16))


def test_clawback_on_refund_debt_or_cap() -> None:
    entries = [
        earn("e1", 100, T0),
        redeem("r", 80, day(1)),
        LedgerEntry("v", "revert", 100, day(2), ref="e1"),
    ]
    allow = replay(entries, as_of=day(2))
    assert (allow.spendable, allow.debt, allow.balance) == (0, 80, -80)
    assert allow.net_earned == 0
    paid = replay([*entries, earn("e2", 50, day(3))], as_of=day(3))
    assert (paid.debt, paid.spendable, paid.lot("e2").remaining) == (30, 0, 0)
    check_identity(paid)
    cap = replay(entries, as_of=day(2), policy=PointsPolicy(negative_balance="cap"))
    assert (cap.spendable, cap.debt, cap.written_off) == (0, 0, 80)
    assert [i.code for i in cap.issues] == ["WRITTEN_OFF"]
    check_identity(cap)
    keep = replay(entries, as_of=day(2), policy=PointsPolicy(clawback_on_refund=False))
    assert (keep.spendable, keep.lifetime_reverted) == (20, 0)
    assert [i.code for i in keep.issues] == ["CLAWBACK_DISABLED"]


def test_revert_takes_the_original_lot_first_then_others() -> None:
    entries = [earn("a", 30, T0), earn("b", 30, day(1)), redeem("r", 20, day(2))]
    # soonest-expiring (all never) falls back to earning order: r took 20 of a.
    state = replay([*entries, LedgerEntry("v", "revert", 30, day(3), ref="b")], as_of=day(3))
    assert (state.lot("a").remaining, state.lot("b").remaining, state.spendable) == (10, 0, 10)
    state = replay([*entries, LedgerEntry("v", "revert", 30, day(3), ref="a")], as_of=day(3))
    assert (state.lot("a").remaining, state.lot("b").remaining) == (0, 10)  # a's 10, then 20 of b
    with pytest.raises(DataError, match="only 30 of its 30 are left"):
        replay([*entries, LedgerEntry("v", "revert", 31, day(3), ref="a")], as_of=day(3))
    with pytest.raises(DataError, match="not a earn entry applied before it"):
        replay([*entries, LedgerEntry("v", "revert", 1, day(3), ref="nope")], as_of=day(3))


def test_revert_after_expiry_does_not_take_the_expired_points_twice() -> None:
    entries = [
        earn("e1", 100, T0, expires_at=day(30)),
        redeem("r", 30, day(1)),
        earn("e2", 50, day(2)),
        LedgerEntry("v", "revert", 100, day(40), ref="e1"),
    ]
    before = replay(entries, as_of=day(39))
    assert (before.spendable, before.lifetime_expired) == (50, 70)
    state = replay(entries, as_of=day(40))
    # 70 expired: no longer expired but clawed back; the 30 spent come out of e2.
    assert (state.spendable, state.lifetime_expired, state.lifetime_reverted) == (20, 0, 100)
    assert state.lot("e1").expired == 0 and state.net_earned == 50
    check_identity(state)


def test_manual_adjustments() -> None:
    entries = [earn("e", 10, T0), LedgerEntry("plus", "adjust", 25, day(1), note="goodwill")]
    state = replay(entries, as_of=day(1))
    assert (state.spendable, state.lifetime_adjusted) == (35, 25)
    minus = replay([*entries, LedgerEntry("minus", "adjust", -50, day(2))], as_of=day(2))
    assert (minus.debt, minus.lifetime_adjusted) == (15, -25)
    check_identity(minus)


def test_daily_cap_of_event_rewards_counts_local_days() -> None:
    policy = PointsPolicy(events={"check_in": EventReward(points=5, daily_limit=1)}, tz="Asia/Shanghai")
    # 15:59 and 16:01 UTC are different days in Shanghai (23:59 and 00:01).
    entries = [
        earn("c1", 5, datetime(2024, 1, 1, 15, 59, tzinfo=UTC), event="check_in"),
        earn("c2", 5, datetime(2024, 1, 1, 16, 1, tzinfo=UTC), event="check_in"),
        earn("c3", 5, datetime(2024, 1, 1, 17, 0, tzinfo=UTC), event="check_in"),
        earn("s1", 3, datetime(2024, 1, 1, 17, 0, tzinfo=UTC), event="share"),
    ]
    state = replay(entries, as_of=day(2), policy=policy)
    assert state.spendable == 13
    assert [(i.key, i.code) for i in state.issues] == [("c3", "DAILY_CAP"), ("s1", "UNKNOWN_EVENT")]
    utc = replay(entries, as_of=day(2), policy=policy.model_copy(update={"tz": "UTC"}))
    assert utc.spendable == 8


def test_explicit_expire_entries_are_never_double_counted() -> None:
    policy = PointsPolicy(expiry="after", expiry_after="30d")
    entries = [earn("e", 40, T0), LedgerEntry("x", "expire", 40, day(30), ref="e")]
    state = replay(entries, as_of=day(31), policy=policy)
    assert (state.lifetime_expired, state.spendable) == (40, 0)
    early = replay([earn("e", 40, T0), LedgerEntry("x", "expire", 15, day(5), ref="e")], as_of=day(6))
    assert (early.lifetime_expired, early.spendable) == (15, 25)
    with pytest.raises(DataError, match="created no lot"):
        replay([LedgerEntry("x", "expire", 1, T0, ref="e")], as_of=T0)


def test_entries_after_as_of_are_left_out_and_listed() -> None:
    entries = [earn("e", 10, T0), earn("late", 5, day(2)), redeem("r", 3, day(1))]
    state = replay(entries, as_of=day(1))
    assert state.spendable == 7
    assert state.ignored_after_as_of == ("late",)
    assert state.entries_applied == 2


def test_duplicate_keys() -> None:
    entries = [earn("e", 10, T0), redeem("r", 3, day(1))]
    state = replay([*entries, *entries], as_of=day(1))
    assert state.duplicates == 2 and state.spendable == 7
    with pytest.raises(DataError, match="position 2: idempotency key 'e' was already used at position 0"):
        replay([*entries, earn("e", 11, T0)], as_of=day(1))


def test_overdraft_uses_pending_then_debt() -> None:
    policy = PointsPolicy(pending_period="7d")
    state = replay([earn("e", 10, T0), redeem("r", 4, day(1))], as_of=day(1), policy=policy)
    assert (state.pending, state.debt, state.spendable) == (6, 0, 0)
    assert state.issues[0].code == "OVERDRAFT"
    check_identity(state)


def test_expiring_within_and_schedule() -> None:
    policy = PointsPolicy(expiry="end_of_month", expiry_after="0mo", tz="UTC")
    entries = [earn("jan", 10, day(3)), earn("feb", 20, datetime(2024, 2, 2, tzinfo=UTC))]
    state = replay(entries, as_of=datetime(2024, 2, 5, tzinfo=UTC), policy=policy)
    assert state.expiring_within("3w") == 0
    assert state.expiring_within("1mo") == 20  # expires 1 March, before 5 March
    assert state.expiring_within(timedelta(days=25)) == 0  # [5 Feb, 1 Mar) leaves out 1 Mar
    assert state.expiring_within(timedelta(days=25, microseconds=1)) == 20
    assert state.expiry_schedule() == [(datetime(2024, 3, 1, tzinfo=UTC), 20)]
    assert state.lot("jan").status == "expired"
    with pytest.raises(DataError, match="no lot"):
        state.lot("nope")


def test_state_renders() -> None:
    state = replay([earn("e<1>", 10, T0)], as_of=T0)
    assert "e&lt;1&gt;" in state._repr_html_()
    assert "e<1>: 10/10 spendable, expires never" in str(state)


# -- quote_redemption -------------------------------------------------------------------------------------
def test_quote_reasons() -> None:
    policy = PointsPolicy(pending_period="7d", redeem_minimum=100, redeem_step=50)
    entries = [earn("e1", 150, T0), earn("e2", 200, day(5))]
    state = replay(entries, as_of=day(8), policy=policy)
    assert state.spendable == 150
    cases = {
        0: "NOT_POSITIVE",
        -50: "NOT_POSITIVE",
        50: "BELOW_MINIMUM",
        120: "NOT_MULTIPLE_OF_STEP",
        300: "POINTS_PENDING",
        400: "INSUFFICIENT_BALANCE",
    }
    for points, reason in cases.items():
        assert quote_redemption(state, points, as_of=day(8)).reason == reason, points
    pending = quote_redemption(state, 300, as_of=day(8))
    assert (pending.available_at, pending.shortfall) == (day(12), 150)
    short = quote_redemption(state, 400, as_of=day(8))
    assert (short.shortfall, short.ok) == (250, False)
    ok = quote_redemption(state, 150, as_of=day(8))
    assert ok.ok and [(c.lot, c.points) for c in ok.consumed] == [("e1", 150)]
    later = quote_redemption(state, 300, as_of=day(12))  # re-evaluated at a later instant
    assert later.ok
    with pytest.raises(DataError, match="not redeemable: INSUFFICIENT_BALANCE"):
        short.entry("r")
    with pytest.raises(DataError, match="before the state's as_of"):
        quote_redemption(state, 100, as_of=day(1))
    with pytest.raises(DataError, match="points must be an int"):
        quote_redemption(state, 100.0, as_of=day(8))  # type: ignore[arg-type]
    with pytest.raises(DataError, match="needs a PointsState"):
        quote_redemption({}, 100, as_of=day(8))  # type: ignore[arg-type]


def test_quote_ignores_points_that_expire_by_then() -> None:
    policy = PointsPolicy(expiry="after", expiry_after="10d")
    state = replay([earn("e", 50, T0)], as_of=day(1), policy=policy)
    assert quote_redemption(state, 50, as_of=day(9)).ok
    assert quote_redemption(state, 50, as_of=day(10)).reason == "INSUFFICIENT_BALANCE"


# -- bad points, int64 limits, same-instant refunds (both paths) ------------------------------------------
INT64_MAX = 2**63 - 1


def as_rows(customer: Any, entries: list[LedgerEntry]) -> list[dict[str, Any]]:
    return [{"customer_id": customer, **entry.to_dict(), "at": entry.at} for entry in entries]


def replay_rows(rows: list[dict[str, Any]], as_of: datetime, policy: PointsPolicy | None = None) -> Any:
    return replay([{k: v for k, v in row.items() if k != "customer_id"} for row in rows], as_of=as_of,
                  policy=policy)  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "points", "problem"),
    [
        ("redeem", -5, "redeem points must be positive, got -5"),
        ("earn", -5, "earn points must be positive, got -5"),
        ("redeem", 0, "redeem points must be positive, got 0"),
        ("adjust", 0, "an adjust entry needs non-zero points (+ to grant, - to deduct)"),
    ],
)
def test_balances_refuses_the_entries_replay_refuses(kind: str, points: int, problem: str) -> None:
    from user_ops.membership import balances

    rows = [
        {"customer_id": 2, "key": "e", "kind": "earn", "points": 10, "at": T0},
        {"customer_id": 1, "key": "e", "kind": "earn", "points": 100, "at": T0},
        {"customer_id": 1, "key": "x", "kind": kind, "points": points, "at": day(1)},
    ]
    mine = rows[1:]
    for as_of in (day(1), T0):  # refused even when the entry is after as_of, as replay refuses it
        with pytest.raises(DataError) as scalar:
            replay_rows(mine, as_of)
        assert str(scalar.value) == f"entry at position 1 'x': {problem}"
        with pytest.raises(DataError) as batch:
            balances(rows, as_of=as_of)
        assert str(batch.value) == f"customer 1: {scalar.value}"


def test_points_beyond_int64_are_refused_at_entry() -> None:
    assert LedgerEntry("e", "earn", INT64_MAX, T0).points == INT64_MAX
    with pytest.raises(DataError, match=r"entry 'e': points 9223372036854775808 are outside the int64 range"):
        LedgerEntry("e", "earn", 2**63, T0)
    with pytest.raises(DataError, match=r"entry 'd': points -9223372036854775808 are outside the int64"):
        LedgerEntry("d", "adjust", -(2**63), T0)
    with pytest.raises(DataError, match=r"entry at position 0 'e': points 9223372036854775808 are outside"):
        replay([{"key": "e", "kind": "earn", "points": 2**63, "at": T0}], as_of=T0)


def test_point_totals_beyond_int64_are_refused_in_both_paths() -> None:
    from user_ops.membership import balances

    # Two earns of 2**62: lifetime earned 2**63, one more than int64 holds (the batch path used to wrap
    # it to -9223372036854775808 and report a negative balance).
    big = [earn("e1", 2**62, T0), earn("e2", 2**62, T0)]
    message = (
        "entry 'e2': lifetime_earned would reach 9223372036854775808 points, beyond the int64 range of "
        "point totals (9223372036854775807)"
    )
    with pytest.raises(DataError) as scalar:
        replay(big, as_of=T0)
    assert str(scalar.value) == message
    rows = as_rows("c1", big) + as_rows("c2", [earn("e1", 7, T0)])
    with pytest.raises(DataError) as batch:
        balances(rows, as_of=T0)
    assert str(batch.value) == f"customer 'c1': {message}"
    # Up to the limit itself is fine, in both paths, and a large earn spent down is exact.
    edge = [earn("e1", 2**62, T0), earn("e2", 2**62 - 1, T0), redeem("r1", 2**62 + 5, day(1))]
    state = replay(edge, as_of=day(1))
    assert (state.lifetime_earned, state.spendable) == (INT64_MAX, 2**62 - 6)
    out = balances(as_rows("c1", edge) + as_rows("c2", [earn("e1", 7, T0)]), as_of=day(1))
    assert out["lifetime_earned"].tolist() == [INT64_MAX, 7]
    assert out["spendable"].tolist() == [2**62 - 6, 7]
    assert out["net_redeemed"].tolist() == [2**62 + 5, 0]
    # The balance counts too: 2**62 earned plus 2**62 granted is one more than int64 holds.
    granted = [earn("e1", 2**62, T0), LedgerEntry("g", "adjust", 2**62, T0)]
    with pytest.raises(DataError, match=r"entry 'g': balance would reach 9223372036854775808 points"):
        replay(granted, as_of=T0)


def test_running_maximum_per_customer_holds_past_a_million_customers() -> None:
    import numpy as np

    from user_ops.membership.points._batch import _group_running_max

    # The per-customer shift (customer code × 2**43) used to wrap past 2**20 customers.
    group = np.array([0, 0, 2**21, 2**21, 2**22], dtype=np.int64)
    values = np.array([5, 1, -3, -7, -(2**40)], dtype=np.int64)
    assert _group_running_max(values, group).tolist() == [5, 5, -3, -3, -(2**40)]


def test_a_refund_at_the_instant_of_its_redeem_applies_after_it() -> None:
    from user_ops.membership import balances

    # Earn 100; at day 1 redeem 60 and, at the very same instant, refund it (an order cancelled in the
    # same transaction). Same-instant order: the redeem, then its refund: 100 - 60 + 60 = 100.
    entries = [earn("e", 100, T0), redeem("r", 60, day(1)), LedgerEntry("f", "refund", 60, day(1), ref="r")]
    state = replay(entries, as_of=day(1))
    assert (state.spendable, state.lifetime_redeemed, state.lifetime_refunded, state.issues) == (
        100,
        60,
        60,
        (),
    )
    out = balances(as_rows("c1", entries), as_of=day(1))
    assert (out["spendable"].tolist(), out["net_redeemed"].tolist()) == ([100], [0])
    # Another refund at that instant, of an earlier redemption, still comes before the redemptions:
    # 100 - 80 (day 1) = 20; at day 2: refund 30 of r1 -> 50, redeem r2 40 -> 10, redeem r3 10 -> 0, and
    # r3's own refund of 10 after it -> 10.
    later = [
        earn("e", 100, T0),
        redeem("r1", 80, day(1)),
        LedgerEntry("f1", "refund", 30, day(2), ref="r1"),
        redeem("r2", 40, day(2)),
        redeem("r3", 10, day(2)),
        LedgerEntry("f3", "refund", 10, day(2), ref="r3"),
    ]
    state = replay(later, as_of=day(2))
    assert (state.spendable, state.net_redeemed, state.issues) == (10, 90, ())
    check_identity(state)
    # An expiry record of the lot a same-instant refund creates follows that refund: earn 50; at day 1
    # redeem 80 (30 overdrawn: a debt) and refund it (30 back as a new lot "f" that pays the debt, 50
    # back to "e"); the expiry record of "f" finds it empty. 50 - 80 + 80 = 50.
    overdrawn = [
        earn("e", 50, T0),
        redeem("r", 80, day(1)),
        LedgerEntry("f", "refund", 80, day(1), ref="r"),
        LedgerEntry("x", "expire", 5, day(1), ref="f"),
    ]
    state = replay(overdrawn, as_of=day(1))
    assert (state.spendable, state.debt, state.lifetime_expired) == (50, 0, 0)
    assert [(i.key, i.code, i.points) for i in state.issues] == [("r", "OVERDRAFT", 30)]
    check_identity(state)


# -- properties -------------------------------------------------------------------------------------------
POLICIES = st.builds(
    PointsPolicy,
    pending_period=st.sampled_from([None, "2d"]),
    expiry=st.sampled_from(["never", "after", "end_of_month"]),
    expiry_after=st.just("1mo"),
    redemption_order=st.sampled_from(["soonest_expiring", "fifo"]),
    negative_balance=st.sampled_from(["allow", "cap"]),
    restore_expired=st.sampled_from(["forfeit", "reissue"]),
    events=st.just({"check_in": EventReward(points=2, daily_limit=1)}),
    tz=st.just("Asia/Shanghai"),
)


@st.composite
def ledgers(draw: st.DrawFn) -> list[LedgerEntry]:
    """Plausible ledgers: refs point at earlier entries, refunds/reverts within what is left."""
    entries: list[LedgerEntry] = []
    earns: dict[str, tuple[int, int]] = {}  # key -> (points, hour)
    reverted: dict[str, int] = {}
    redeems: dict[str, tuple[int, int]] = {}
    refunded: dict[str, int] = {}
    for i in range(draw(st.integers(0, 25))):
        hour = draw(st.integers(0, 24 * 80)) // 12 * 12  # coarse: many entries share an instant
        at = T0 + timedelta(hours=hour)
        kind = draw(
            st.sampled_from(
                ["earn", "earn", "event", "redeem", "redeem", "adjust", "revert", "refund", "expire"]
            )
        )
        key = f"k{i}"
        if kind == "earn":
            points = draw(st.integers(1, 60))
            expires = draw(st.sampled_from([None, None, at + timedelta(days=draw(st.integers(0, 40)))]))
            entries.append(earn(key, points, at, expires_at=expires))
            earns[key] = (points, hour)
        elif kind == "event":
            entries.append(earn(key, 2, at, event="check_in"))
            earns[key] = (2, hour)
        elif kind == "redeem":
            points = draw(st.integers(1, 40))
            entries.append(redeem(key, points, at))
            redeems[key] = (points, hour)
        elif kind == "adjust":
            entries.append(LedgerEntry(key, "adjust", draw(st.integers(-30, 30).filter(bool)), at))
        elif kind == "revert":
            options = [k for k, (p, h) in earns.items() if h <= hour and reverted.get(k, 0) < p]
            if options:
                ref = draw(st.sampled_from(options))
                left = earns[ref][0] - reverted.get(ref, 0)
                points = draw(st.integers(1, left))
                reverted[ref] = reverted.get(ref, 0) + points
                entries.append(LedgerEntry(key, "revert", points, at, ref=ref))
        elif kind == "refund":
            options = [k for k, (p, h) in redeems.items() if h <= hour and refunded.get(k, 0) < p]
            if options:
                ref = draw(st.sampled_from(options))
                left = redeems[ref][0] - refunded.get(ref, 0)
                points = draw(st.integers(1, left))
                refunded[ref] = refunded.get(ref, 0) + points
                entries.append(LedgerEntry(key, "refund", points, at, ref=ref))
        else:
            options = [k for k, (_, h) in earns.items() if h <= hour]
            if options:
                entries.append(
                    LedgerEntry(
                        key, "expire", draw(st.integers(1, 30)), at, ref=draw(st.sampled_from(options))
                    )
                )
    return entries


@settings(max_examples=150, deadline=None)
@given(ledgers(), POLICIES, st.randoms(use_true_random=False))
def test_property_identity_at_every_instant_and_order_independence(
    entries: list[LedgerEntry], policy: PointsPolicy, rng: random.Random
) -> None:
    instants = sorted({e.at for e in entries} | {day(81)})
    for instant in instants:
        for probe in (instant - timedelta(microseconds=1), instant):
            check_identity(replay(entries, as_of=probe, policy=policy))
    final = replay(entries, as_of=day(81), policy=policy)
    shuffled = list(entries)
    rng.shuffle(shuffled)
    assert snapshot(replay(shuffled, as_of=day(81), policy=policy)) == snapshot(final)
    doubled = shuffled + [entries[i] for i in range(0, len(entries), 2)]
    again = replay(doubled, as_of=day(81), policy=policy)
    assert snapshot(again) == snapshot(final)
    assert again.duplicates == len(range(0, len(entries), 2))
    assert final.lifetime_earned == sum(
        e.points for e in entries if e.kind == "earn" and e.key not in {i.key for i in final.issues}
    )


@settings(max_examples=150, deadline=None)
@given(ledgers(), POLICIES, st.integers(1, 120), st.integers(0, 24 * 81))
def test_property_quote_then_redeem_matches_replay(
    entries: list[LedgerEntry], policy: PointsPolicy, points: int, hour: int
) -> None:
    as_of = T0 + timedelta(hours=hour)
    state = replay(entries, as_of=as_of, policy=policy)
    quote = quote_redemption(state, points, as_of=as_of)
    if not quote.ok:
        assert state.debt > 0 or state.spendable < points
        return
    assert sum(c.points for c in quote.consumed) == points
    after = replay([*entries, quote.entry("quoted-redeem")], as_of=as_of, policy=policy)
    assert after.spendable == state.spendable - points
    assert not any(i.key == "quoted-redeem" for i in after.issues)
    for consumption in quote.consumed:
        assert (
            state.lot(consumption.lot).remaining - after.lot(consumption.lot).remaining == consumption.points
        )


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 100), st.integers(1, 60), st.integers(-3, 3))
def test_property_lot_valid_on_half_open_interval(points: int, days: int, offset_us: int) -> None:
    policy = PointsPolicy(expiry="after", expiry_after=f"{days}d")
    probe = day(days) + timedelta(microseconds=offset_us)
    state = replay([earn("e", points, T0)], as_of=probe, policy=policy)
    assert state.spendable == (points if offset_us < 0 else 0)
    assert state.lifetime_expired == (0 if offset_us < 0 else points)


# -- batch: balances ----------------------------------------------------------------------------------------
EXPIRY_MODELS = [
    ("never", "0d"),
    ("after", "1mo"),
    ("after", "20d"),
    ("end_of_month", "0mo"),
    ("end_of_month", "1mo"),
    ("end_of_year", "2mo"),
]
BATCH_POLICIES = st.builds(
    lambda model, **options: PointsPolicy(expiry=model[0], expiry_after=model[1], **options),
    st.sampled_from(EXPIRY_MODELS),
    pending_period=st.sampled_from([None, "3d", "36h", "1mo"]),
    expiry_from=st.sampled_from(["earned", "available"]),
    redemption_order=st.sampled_from(["soonest_expiring", "fifo"]),
    tz=st.sampled_from(["Asia/Shanghai", "America/New_York", "UTC"]),
)


@st.composite
def batch_ledgers(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for customer in range(draw(st.integers(1, 6))):
        for i in range(draw(st.integers(0, 14))):
            # Hours over ~5 months, around the March/November DST changes in New York too.
            at = T0 + timedelta(hours=draw(st.integers(0, 24 * 150)) // 6 * 6)
            kind = draw(st.sampled_from(["earn", "earn", "redeem", "redeem", "adjust", "earn"]))
            points = draw(st.integers(1, 50)) * (-1 if kind == "adjust" and draw(st.booleans()) else 1)
            rows.append(
                {"customer_id": f"c{customer}", "key": f"k{i}", "kind": kind, "points": points, "at": at}
            )
        if rows and draw(st.booleans()):
            rows.append(dict(rows[-1]))  # an exact duplicate: replay decides
    return rows


@settings(max_examples=150, deadline=None)
@given(batch_ledgers(), BATCH_POLICIES, st.integers(0, 24 * 160))
def test_property_batch_balances_equal_replay_per_customer(
    rows: list[dict[str, Any]], policy: PointsPolicy, hours: int
) -> None:
    from user_ops.membership import balances

    as_of = T0 + timedelta(hours=hours)
    if not rows:
        return
    table = balances(rows, as_of=as_of, policy=policy, horizon="1mo")
    for row in table.to_dicts():
        mine = [r for r in rows if r["customer_id"] == row["customer_id"]]
        state = replay(mine, as_of=as_of, policy=policy)
        expected = {
            "spendable": state.spendable,
            "pending": state.pending,
            "debt": state.debt,
            "balance": state.balance,
            "lifetime_earned": state.lifetime_earned,
            "net_earned": state.net_earned,
            "net_redeemed": state.net_redeemed,
            "lifetime_expired": state.lifetime_expired,
            "expiring": state.expiring_within("1mo"),
        }
        assert {name: row[name] for name in expected} == expected, row["customer_id"]
        if not any(r["kind"] == "adjust" for r in mine) and len({r["key"] for r in mine}) == len(mine):
            assert row["via_replay"] == bool(any(i.code == "OVERDRAFT" for i in state.issues))


@st.composite
def ledgers_with_mistakes(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Ledgers of several customers that replay may refuse: non-positive points, empty keys, unknown
    kinds, totals beyond int64, refunds of more than is left or of unknown keys; and refunds at their
    redeem's instant, which it accepts. About one row in twenty-five carries a mistake."""
    rows: list[dict[str, Any]] = []
    for customer in range(draw(st.integers(1, 5))):
        redeems: list[tuple[str, int, datetime]] = []
        for i in range(draw(st.integers(0, 10))):
            at = T0 + timedelta(hours=draw(st.integers(0, 24 * 60)) // 24 * 24)
            kind = draw(st.sampled_from(["earn", "earn", "earn", "redeem", "adjust", "refund"]))
            big = draw(st.integers(0, 5)) == 0  # valid, but sums of a few leave int64
            points = draw(st.sampled_from([2**40, 2**61, 2**62]) if big else st.integers(1, 50))
            row: dict[str, Any] = {"customer_id": f"c{customer}", "key": f"k{i}", "kind": kind,
                                   "points": points, "at": at, "ref": None}  # fmt: skip
            if kind == "refund":
                if not redeems:
                    continue
                ref, redeemed, when = draw(st.sampled_from(redeems))
                row.update(ref=ref, at=when if draw(st.booleans()) else max(at, when))
                row["points"] = draw(st.integers(1, redeemed + 1))  # one more than it took: refused
            mistake = draw(st.sampled_from([None] * 96 + ["points", "key", "kind", "ref"]))
            if mistake == "points":
                row["points"] = draw(st.sampled_from([0, -5]))
            elif mistake == "key":
                row["key"] = ""
            elif mistake == "kind":
                row["kind"] = "gift"
            elif mistake == "ref":
                row.update(kind="refund", ref="nowhere")
            if row["kind"] == "redeem" and row["points"] > 0:
                redeems.append((row["key"], row["points"], at))
            rows.append(row)
        if rows and draw(st.booleans()):
            rows.append(dict(rows[-1]))
    return rows


def outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except DataError as exc:
        return "refused", str(exc)


@settings(max_examples=150, deadline=None)
@given(ledgers_with_mistakes(), BATCH_POLICIES, st.integers(0, 24 * 60))
def test_property_batch_and_replay_refuse_the_same_ledgers_or_agree(
    rows: list[dict[str, Any]], policy: PointsPolicy, hours: int
) -> None:
    from user_ops.membership import balances

    if not rows:
        return
    as_of = T0 + timedelta(hours=hours)
    customers = sorted({r["customer_id"] for r in rows})
    scalar = {c: outcome(lambda c=c: replay_rows([r for r in rows if r["customer_id"] == c], as_of, policy))
              for c in customers}  # fmt: skip
    refusals = {f"customer {c!r}: {message}" for c, (what, message) in scalar.items() if what == "refused"}
    what, batch = outcome(lambda: balances(rows, as_of=as_of, policy=policy))
    if what == "refused":
        assert batch in refusals  # the same message as replay's for one of the refused customers
        return
    assert not refusals, refusals
    for row in batch.to_dicts():
        state = scalar[row["customer_id"]][1]
        assert (row["spendable"], row["pending"], row["debt"], row["lifetime_earned"]) == (
            state.spendable,
            state.pending,
            state.debt,
            state.lifetime_earned,
        )
        assert (row["net_redeemed"], row["lifetime_expired"]) == (state.net_redeemed, state.lifetime_expired)


def test_batch_vectorized_policy_dates_match_scalar() -> None:
    from user_ops._time import as_utc_us
    from user_ops.membership.points._policy import lot_dates_us

    instants = [datetime(2024, 1, 31, 23, 30, tzinfo=UTC) + timedelta(hours=7 * k) for k in range(400)]
    at_us = __import__("numpy").array([as_utc_us(t) for t in instants], dtype="int64")
    for tz in ("America/New_York", "Asia/Shanghai"):
        for options in (
            {"pending_period": "1mo2d", "expiry": "after", "expiry_after": "1mo"},
            {
                "pending_period": "36h",
                "expiry": "end_of_month",
                "expiry_after": "1mo",
                "expiry_from": "available",
            },
            {"expiry": "end_of_year", "expiry_after": "12mo"},
        ):
            policy = PointsPolicy(tz=tz, **options)
            pending = __import__("numpy").ones(len(at_us), dtype=bool)
            available, expires = lot_dates_us(at_us, pending, policy, policy.zone())
            for k, t in enumerate(instants):
                a = policy.available_at(t)
                assert available[k] == as_utc_us(a), (tz, options, t)
                assert expires[k] == as_utc_us(policy.expires_at(t, available_at=a)), (tz, options, t)


def test_long_ledgers_use_vectorized_dates_equal_to_the_scalar_ones() -> None:
    policy = PointsPolicy(
        pending_period="3d", expiry="end_of_month", expiry_after="1mo", tz="America/New_York"
    )
    times = [T0 + timedelta(hours=37 * k) for k in range(400)]  # over 256 lots: numpy dates
    plain = [earn(f"e{k}", 1 + k % 7, t) for k, t in enumerate(times)]
    stamped = [
        earn(f"e{k}", 1 + k % 7, t, available_at=policy.available_at(t), expires_at=policy.expires_at(t))
        for k, t in enumerate(times)
    ]
    redeems = [redeem(f"r{k}", 3, times[k] + timedelta(days=5)) for k in range(0, 400, 3)]
    as_of = times[-1]
    ours = replay(plain + redeems, as_of=as_of, policy=policy)
    reference = replay(stamped + redeems, as_of=as_of, policy=policy)
    assert ours.all_lots == reference.all_lots
    assert ours.to_dict() == reference.to_dict()


def test_batch_sort_order_packed_and_lexsort_agree() -> None:
    import numpy as np

    from user_ops.membership.points._batch import _sort_order

    rng = np.random.default_rng(3)
    group = rng.integers(0, 50, 2000)
    rank = rng.integers(0, 6, 2000)
    # raw instants packed; instants replaced by dense ranks; too many groups: lexsort
    cases = [(group, rng.integers(0, 100, 2000)), (group, rng.integers(-(2**60), 2**60, 2000))]
    cases.append((rng.integers(0, 2**60, 2000), rng.integers(0, 1000, 2000)))
    for group, time in cases:
        order = _sort_order(group, time, rank)
        keys = list(zip(group[order].tolist(), time[order].tolist(), rank[order].tolist()))
        assert keys == sorted(keys)


def test_batch_input_errors_and_other_sources() -> None:
    from user_ops.membership import balances

    rows = {
        "customer_id": [1, 1],
        "key": ["a", "b"],
        "kind": ["earn", "redeem"],
        "points": [10, 4],
        "at": [T0, T0],
    }
    pandas = pytest.importorskip("pandas")
    out = balances(pandas.DataFrame(rows), as_of=T0)
    assert out["spendable"].tolist() == [6]
    with pytest.raises(DataError, match=r"points must be whole numbers .* row 0"):
        balances({**rows, "points": [10.0, 4.0]}, as_of=T0)
    with pytest.raises(DataError, match="customer 1: entry at position 1 'b': unknown kind 'gift'; expected"):
        balances({**rows, "kind": ["earn", "gift"]}, as_of=T0)
    with pytest.raises(DataError, match="customer_id"):
        balances({k: v for k, v in rows.items() if k != "customer_id"}, as_of=T0)
    conflict = {**rows, "key": ["a", "a"], "kind": ["earn", "earn"]}
    with pytest.raises(DataError, match="customer 1: entry at position 1: idempotency key 'a'"):
        balances(conflict, as_of=T0)
    with pytest.raises(DataError, match="naive"):
        balances(rows, as_of=datetime(2024, 1, 1))
    with pytest.raises(DataError, match="customer_id: null ids"):
        balances({**rows, "customer_id": ["a", None]}, as_of=T0)
    with pytest.raises(DataError, match="points: null at row 1"):
        balances({**rows, "points": [1, None]}, as_of=T0)
    with pytest.raises(DataError, match="at: null at row 0"):
        balances({**rows, "at": [None, T0]}, as_of=T0)
    with pytest.raises(DataError, match="policy must be a PointsPolicy"):
        balances(rows, as_of=T0, policy="gold")  # type: ignore[arg-type]


def test_benchmark_baselines_agree_with_the_library() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import bench_points

    assert bench_points.check(1500, seed=7) == 1500

"""Stored-value cards (储值卡): bonus rules, spend order, refunds, withdrawals, replay properties."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from user_ops import ConfigError, DataError, Money
from user_ops.membership import (
    BonusTier,
    CardEntry,
    CardState,
    StoredValuePolicy,
    quote_spend,
    replay_card,
)

UTC = timezone.utc
T0 = datetime(2024, 5, 1, tzinfo=UTC)
TIERS = [
    BonusTier(topup=Money("100.00"), bonus=Money("20.00")),
    BonusTier(topup=Money("500.00"), bonus=Money("120.00")),
]
POLICY = StoredValuePolicy(bonus_tiers=TIERS)


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def cny(text: str) -> Money:
    return Money(text, "CNY")


def entry(key: str, kind: str, amount: str, hours: int = 0, **extra: Any) -> CardEntry:
    return CardEntry(key=key, kind=kind, amount=cny(amount), at=at(hours), **extra)  # type: ignore[arg-type]


def check_conservation(state: CardState) -> None:
    assert state.principal.minor >= 0 and state.bonus.minor >= 0
    assert state.principal == (
        state.topped_up - state.spent_principal + state.refunded_principal - state.withdrawn
    )
    assert state.bonus == (
        state.bonus_granted - state.spent_bonus + state.refunded_bonus - state.bonus_forfeited
    )


# -- bonus rules ------------------------------------------------------------------------------------------
def test_bonus_for_highest_tier_and_per_multiple() -> None:
    assert POLICY.bonus_for(cny("99.99")) == cny("0.00")
    assert POLICY.bonus_for(cny("100.00")) == cny("20.00")
    assert POLICY.bonus_for(cny("499.99")) == cny("20.00")
    assert POLICY.bonus_for(cny("1000.00")) == cny("120.00")
    repeat = StoredValuePolicy(bonus_tiers=TIERS[:1], bonus_mode="per_multiple")
    assert repeat.bonus_for(cny("350.00")) == cny("60.00")  # 每充100送20, three times
    with pytest.raises(DataError, match="not in the card's currency CNY"):
        POLICY.bonus_for(Money("100.00", "USD"))
    with pytest.raises(DataError, match="amount must be a Money"):
        POLICY.bonus_for(100)  # type: ignore[arg-type]


def test_topup_entry_stamps_the_bonus_and_checks_minimum() -> None:
    policy = POLICY.model_copy(update={"min_topup": cny("50.00")})
    topup = policy.topup_entry(cny("500.00"), key="t1", at=T0, customer_id=3)
    assert (topup.bonus, topup.kind, topup.customer_id) == (cny("120.00"), "topup", 3)
    with pytest.raises(DataError, match=r"below the minimum 50\.00 CNY"):
        policy.topup_entry(cny("10.00"), key="t2", at=T0)


def test_policy_round_trip_and_bad_options() -> None:
    assert StoredValuePolicy.from_json(POLICY.to_json()) == POLICY
    assert "spend_order" in StoredValuePolicy.json_schema()["properties"]
    with pytest.raises(ConfigError, match="same topup amount"):
        StoredValuePolicy(bonus_tiers=[TIERS[0], TIERS[0]])
    with pytest.raises(ConfigError, match="not in CNY"):
        StoredValuePolicy(bonus_tiers=[BonusTier(topup=Money("1.00", "USD"), bonus=Money("0.00", "USD"))])
    with pytest.raises(ConfigError, match="topup must be positive"):
        StoredValuePolicy(bonus_tiers=[BonusTier(topup=cny("0.00"), bonus=cny("1.00"))])
    with pytest.raises(ConfigError, match="unknown code"):
        StoredValuePolicy(currency="ABC")
    with pytest.raises(ConfigError, match="min_topup"):
        StoredValuePolicy(min_topup=cny("-1.00"))


# -- spend order ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("order", "principal", "bonus"),
    [
        ("proportional", "50.00", "10.00"),
        ("principal_first", "40.00", "20.00"),
        ("bonus_first", "60.00", "0.00"),
    ],
)
def test_spend_order(order: str, principal: str, bonus: str) -> None:
    policy = POLICY.model_copy(update={"spend_order": order})
    entries = [policy.topup_entry(cny("100.00"), key="t", at=T0), entry("s", "spend", "60.00", 1)]
    state = replay_card(entries, as_of=at(1), policy=policy)
    assert (str(state.principal), str(state.bonus)) == (f"{principal} CNY", f"{bonus} CNY")
    check_conservation(state)


def test_proportional_split_is_exact_to_the_cent() -> None:
    # 100 : 20 of 0.01 — the cent goes to principal (largest remainder, principal first on ties).
    assert POLICY.split_spend(1, 10000, 2000) == (1, 0)
    assert POLICY.split_spend(7, 10000, 2000) == (6, 1)
    assert POLICY.split_spend(12000, 10000, 2000) == (10000, 2000)
    with pytest.raises(DataError, match="exceeds the balance"):
        POLICY.split_spend(12001, 10000, 2000)


# -- refunds and withdrawals --------------------------------------------------------------------------------
def test_refund_of_a_spend_restores_its_parts() -> None:
    entries = [
        POLICY.topup_entry(cny("100.00"), key="t", at=T0),
        entry("s", "spend", "60.00", 1),
        entry("r1", "refund", "30.00", 2, ref="s"),
    ]
    state = replay_card(entries, as_of=at(2), policy=POLICY)
    assert (state.principal, state.bonus) == (cny("75.00"), cny("15.00"))
    full = replay_card([*entries, entry("r2", "refund", "30.00", 3, ref="s")], as_of=at(3), policy=POLICY)
    assert (full.principal, full.bonus) == (cny("100.00"), cny("20.00"))
    check_conservation(full)
    with pytest.raises(DataError, match=r"only 30.00 CNY of it is left to refund"):
        replay_card([*entries, entry("r2", "refund", "30.01", 3, ref="s")], as_of=at(3), policy=POLICY)


def test_withdraw_an_unspent_topup_forfeits_its_bonus() -> None:
    entries = [
        POLICY.topup_entry(cny("100.00"), key="t1", at=T0),
        POLICY.topup_entry(cny("500.00"), key="t2", at=at(1)),
        entry("w", "withdraw", "500.00", 2, ref="t2"),
    ]
    state = replay_card(entries, as_of=at(2), policy=POLICY)
    assert (state.principal, state.bonus, state.bonus_forfeited) == (
        cny("100.00"),
        cny("20.00"),
        cny("120.00"),
    )
    check_conservation(state)
    half = replay_card(
        [*entries[:2], entry("w", "withdraw", "250.00", 2, ref="t2")], as_of=at(2), policy=POLICY
    )
    assert half.bonus_forfeited == cny("60.00")
    with pytest.raises(DataError, match=r"only 500\.00 CNY of its principal is unspent"):
        replay_card([*entries[:2], entry("w", "withdraw", "500.01", 2, ref="t2")], as_of=at(2), policy=POLICY)


def test_withdraw_after_the_bonus_was_spent_reports_it_unrecovered() -> None:
    policy = POLICY.model_copy(update={"spend_order": "bonus_first"})
    entries = [
        policy.topup_entry(cny("100.00"), key="t", at=T0),
        entry("s", "spend", "20.00", 1),  # all bonus
        entry("w", "withdraw", "100.00", 2, ref="t"),
    ]
    state = replay_card(entries, as_of=at(2), policy=policy)
    assert (state.balance, state.bonus_forfeited, state.bonus_unrecovered) == (
        cny("0.00"),
        cny("0.00"),
        cny("20.00"),
    )


def test_a_refund_at_the_instant_of_its_spend_applies_after_it() -> None:
    # 充100送20 at T0; an hour later a 60.00 spend (100 : 20 -> 50.00 + 10.00) and its full refund at the
    # very same instant (an order cancelled in the same transaction): 120.00 again, 100.00 + 20.00.
    topup = POLICY.topup_entry(cny("100.00"), key="t", at=T0)
    same = [topup, entry("s", "spend", "60.00", 1), entry("r", "refund", "60.00", 1, ref="s")]
    state = replay_card(same, as_of=at(1), policy=POLICY)
    assert (str(state.principal), str(state.bonus)) == ("100.00 CNY", "20.00 CNY")
    assert (str(state.spent_principal), str(state.refunded_principal)) == ("50.00 CNY", "50.00 CNY")
    check_conservation(state)
    # A withdrawal at that instant still comes last: the refund restored the 100.00 principal it pays
    # back, and the top-up's 20.00 bonus is forfeited with it.
    out = replay_card([*same, entry("w", "withdraw", "100.00", 1, ref="t")], as_of=at(1), policy=POLICY)
    assert (str(out.balance), str(out.withdrawn), str(out.bonus_forfeited)) == (
        "0.00 CNY",
        "100.00 CNY",
        "20.00 CNY",
    )


def test_a_top_up_stamped_with_no_bonus_keeps_no_bonus() -> None:
    # 100.00 topped up before the shop ran any bonus: topup_entry stamps bonus 0.00. Replayed under the
    # later 充100送20 programme the card still holds 100.00 (a zero stamp is a stamp, not a missing one).
    before = StoredValuePolicy().topup_entry(cny("100.00"), key="t", at=T0)
    assert before.bonus == cny("0.00")
    state = replay_card([before], as_of=at(1), policy=POLICY)
    assert (str(state.balance), str(state.bonus_granted)) == ("100.00 CNY", "0.00 CNY")
    unstamped = replay_card([entry("t", "topup", "100.00")], as_of=at(1), policy=POLICY)
    assert str(unstamped.bonus) == "20.00 CNY"  # no stamp: the policy decides


@pytest.mark.parametrize(
    ("amount", "principal", "bonus", "message"),
    [
        (-500, 10000, 2000, "amount must be a non-negative int of minor units, got -500"),
        (500, -1, 2000, "principal must be a non-negative int of minor units, got -1"),
        (500, 10000, -2000, "bonus must be a non-negative int of minor units, got -2000"),
        (5.5, 10000, 2000, "amount must be a non-negative int of minor units, got 5.5"),
    ],
)
def test_split_spend_refuses_negative_amounts_and_balances(
    amount: Any, principal: int, bonus: int, message: str
) -> None:
    for order in ("proportional", "principal_first", "bonus_first"):
        with pytest.raises(DataError, match=f"split_spend: {message}"):
            StoredValuePolicy(spend_order=order).split_spend(amount, principal, bonus)


def test_bonus_for_refuses_a_top_up_that_is_not_positive() -> None:
    for amount in ("0.00", "-100.00"):
        with pytest.raises(DataError, match=f"top-up must be positive, got {amount} CNY"):
            POLICY.bonus_for(cny(amount))


def test_replay_card_errors_and_bookkeeping() -> None:
    topup = POLICY.topup_entry(cny("100.00"), key="t", at=T0)
    with pytest.raises(DataError, match=r"spend of 130\.00 CNY exceeds the card balance 120\.00 CNY"):
        replay_card([topup, entry("s", "spend", "130.00", 1)], as_of=at(1), policy=POLICY)
    with pytest.raises(DataError, match="not a spend applied before it"):
        replay_card([topup, entry("r", "refund", "1.00", 1, ref="t")], as_of=at(1), policy=POLICY)
    with pytest.raises(DataError, match=r"position 1 'u': 1\.00 USD is not in the card's currency"):
        replay_card([topup, CardEntry("u", "spend", Money("1.00", "USD"), at(1))], as_of=at(1), policy=POLICY)
    with pytest.raises(DataError, match="position 1: idempotency key 't' was already used at position 0"):
        replay_card([topup, entry("t", "topup", "5.00")], as_of=at(1), policy=POLICY)
    with pytest.raises(DataError, match="policy must be a StoredValuePolicy"):
        replay_card([], as_of=T0, policy=object())  # type: ignore[arg-type]
    state = replay_card([topup, topup, entry("late", "spend", "1.00", 5)], as_of=at(1), policy=POLICY)
    assert (state.duplicates, state.ignored_after_as_of, state.entries_applied) == (1, ("late",), 1)
    assert state.to_dict()["balance"] == cny("120.00")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": 12.5}, "amount must be a Money"),
        ({"amount": cny("0.00")}, "amount must be positive"),
        ({"kind": "gift"}, "unknown kind 'gift'"),
        ({"kind": "refund"}, "needs ref= the key of its spend"),
        ({"kind": "spend", "bonus": cny("1.00")}, "only a topup carries a bonus"),
        ({"bonus": Money("1.00", "USD")}, "differ in currency"),
        ({"at": datetime(2024, 5, 1)}, "naive"),
        ({"key": ""}, "key must be a non-empty string"),
    ],
)
def test_bad_card_entries(fields: dict[str, Any], message: str) -> None:
    data: dict[str, Any] = {"key": "k", "kind": "topup", "amount": cny("10.00"), "at": T0, **fields}
    with pytest.raises(DataError, match=message):
        CardEntry(**data)


def test_card_entries_from_json_and_mappings() -> None:
    topup = POLICY.topup_entry(cny("100.00"), key="t", at=T0)
    assert CardEntry.from_json(topup.to_json()) == topup
    assert topup.to_dict()["amount"] == "100.00 CNY"
    state = replay_card(
        [topup.to_dict(), {"key": "s", "kind": "spend", "amount": "6.00 CNY", "at": at(1)}], as_of=at(1)
    )
    assert state.balance == cny("114.00")
    with pytest.raises(DataError, match="position 0: unknown fields"):
        replay_card([{**topup.to_dict(), "qty": 1}], as_of=T0)
    with pytest.raises(DataError, match="position 0: missing"):
        replay_card([{"key": "x", "kind": "spend", "at": T0}], as_of=T0)


def test_quote_spend() -> None:
    state = replay_card([POLICY.topup_entry(cny("100.00"), key="t", at=T0)], as_of=T0, policy=POLICY)
    quote = quote_spend(state, cny("60.00"))
    assert (quote.ok, quote.principal, quote.bonus) == (True, cny("50.00"), cny("10.00"))
    assert quote_spend(state, cny("0.00")).reason == "NOT_POSITIVE"
    short = quote_spend(state, cny("150.00"))
    assert (short.reason, short.shortfall) == ("INSUFFICIENT_BALANCE", cny("30.00"))
    with pytest.raises(DataError, match="needs a CardState"):
        quote_spend({}, cny("1.00"))  # type: ignore[arg-type]


# -- properties -------------------------------------------------------------------------------------------
@st.composite
def card_ledgers(draw: st.DrawFn) -> tuple[StoredValuePolicy, list[CardEntry]]:
    policy = POLICY.model_copy(
        update={
            "spend_order": draw(st.sampled_from(["proportional", "principal_first", "bonus_first"])),
            "bonus_mode": draw(st.sampled_from(["highest_tier", "per_multiple"])),
        }
    )
    entries: list[CardEntry] = []
    principal = bonus = 0
    topups: dict[str, list[int]] = {}
    spends: dict[str, list[int]] = {}
    for i in range(draw(st.integers(0, 20))):
        key = f"k{i}"
        kind = draw(st.sampled_from(["topup", "spend", "spend", "refund", "withdraw"]))
        hours = i  # strictly increasing: the generator tracks the balance as replay will
        if kind == "topup":
            amount = draw(st.integers(1, 80000))
            e = policy.topup_entry(Money.from_minor(amount), key=key, at=at(hours))
            assert e.bonus is not None
            principal += amount
            bonus += e.bonus.minor
            topups[key] = [amount, e.bonus.minor]
        elif kind == "spend" and principal + bonus > 0:
            amount = draw(st.integers(1, principal + bonus))
            p, b = policy.split_spend(amount, principal, bonus)
            principal, bonus = principal - p, bonus - b
            spends[key] = [amount, hours]
            entries.append(entry(key, "spend", str(Money.from_minor(amount).amount), hours))
            continue
        elif kind == "refund" and spends:
            ref = draw(st.sampled_from(sorted(spends)))
            if spends[ref][0] == 0:
                continue
            amount = draw(st.integers(1, spends[ref][0]))
            spends[ref][0] -= amount
            # Often at the spend's own instant (it applies right after it); it is the last entry drawn,
            # so moving it earlier only adds balance to the spends in between.
            when = spends[ref][1] if draw(st.booleans()) else hours
            entries.append(entry(key, "refund", str(Money.from_minor(amount).amount), when, ref=ref))
            principal = bonus = -1  # unknown split from here on: stop spending/withdrawing precisely
            break
        elif kind == "withdraw" and topups:
            ref = draw(st.sampled_from(sorted(topups)))
            limit = min(topups[ref][0], principal)
            if limit <= 0:
                continue
            amount = draw(st.integers(1, limit))
            topups[ref][0] -= amount
            entries.append(entry(key, "withdraw", str(Money.from_minor(amount).amount), hours, ref=ref))
            break  # bonus forfeit depends on rounding: stop here too
        else:
            continue
        entries.append(e)
    return policy, entries


@settings(max_examples=200, deadline=None)
@given(card_ledgers(), st.randoms(use_true_random=False))
def test_property_conservation_order_independence_and_idempotency(
    ledger: tuple[StoredValuePolicy, list[CardEntry]], rng: random.Random
) -> None:
    policy, entries = ledger
    end = at(100)
    state = replay_card(entries, as_of=end, policy=policy)
    check_conservation(state)
    for cut in range(len(entries)):
        check_conservation(replay_card(entries, as_of=at(cut), policy=policy))
    shuffled = entries + entries[::2]
    rng.shuffle(shuffled)
    again = replay_card(shuffled, as_of=end, policy=policy)
    assert again.duplicates == len(entries[::2])
    assert {k: v for k, v in again.to_dict().items() if k != "duplicates"} == {
        k: v for k, v in state.to_dict().items() if k != "duplicates"
    }
    # A full refund of every spend (in any order) gives back exactly what was spent, part by part.
    spends = [e for e in entries if e.kind == "spend"]
    if spends and not any(e.kind in ("refund", "withdraw") for e in entries):
        refunds = [entry(f"r-{e.key}", "refund", str(e.amount.amount), 50, ref=e.key) for e in spends]
        restored = replay_card(entries + refunds, as_of=end, policy=policy)
        assert restored.principal == restored.topped_up
        assert restored.bonus == restored.bonus_granted
        # The same when every spend is refunded at its own instant (later spends then split otherwise,
        # but everything comes back).
        at_once = [CardEntry(f"r-{e.key}", "refund", e.amount, e.at, ref=e.key) for e in spends]
        undone = replay_card(entries + at_once, as_of=end, policy=policy)
        assert (undone.principal, undone.bonus) == (undone.topped_up, undone.bonus_granted)
        check_conservation(undone)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**7), st.integers(0, 10**7), st.data())
def test_property_split_never_exceeds_either_part(principal: int, bonus: int, data: st.DataObject) -> None:
    amount = data.draw(st.integers(0, principal + bonus))
    for order in ("proportional", "principal_first", "bonus_first"):
        p, b = StoredValuePolicy(spend_order=order).split_spend(amount, principal, bonus)
        assert p + b == amount and 0 <= p <= principal and 0 <= b <= bonus

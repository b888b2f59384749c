"""Idempotency as payment APIs promise it: the fingerprint is the caller's intent, outcomes (rejections too)
replay, keys are pruned after a retention period; the memory and SQLite stores agree step for step."""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from user_ops import UserOpsError
from user_ops.coupons import (
    CounterMove,
    MemoryRedemptionStore,
    RedemptionError,
    RedemptionIntent,
    ReservationStatus,
    SQLiteRedemptionStore,
)
from user_ops.coupons.testing import ManualClock

TTL = timedelta(minutes=15)
PLACED = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def checkout(
    *,
    total_limit: int | None = 100,
    per_customer: int | None = 1,
    discount: int = 1200,
    placed_at: Any = None,
) -> RedemptionIntent:
    """Customer c1 redeems coupon a on order o1, the way ``Quote.redemption_intent`` builds it."""
    return RedemptionIntent(
        counters=(
            CounterMove(key="coupon:a:total", amount=1, limit=total_limit),
            CounterMove(key="coupon:a:customer:c1", amount=1, limit=per_customer),
            CounterMove(key="coupon:a:order:o1", amount=1, limit=1),
            CounterMove(key="coupon:a:budget", amount=discount, limit=500_000),
        ),
        placed_at=placed_at,
    )


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[ManualClock], Any]]:
    opened: list[SQLiteRedemptionStore] = []

    def make(clock: ManualClock) -> Any:
        if request.param == "memory":
            return MemoryRedemptionStore(clock=clock)
        opened.append(
            SQLiteRedemptionStore(tmp_path / f"s{len(opened)}.db", clock=clock, synchronous="NORMAL")
        )
        return opened[-1]

    yield make
    for store in opened:
        store.close()


# -- the fingerprint: the caller's intent, not the template's current limits --------------------------------


def test_a_retry_after_the_operator_raised_a_limit_is_a_replay(
    make_store: Callable[[ManualClock], Any],
) -> None:
    store = make_store(ManualClock())
    first = store.reserve(checkout(total_limit=100, per_customer=1), "order-1", TTL)
    retry = store.reserve(checkout(total_limit=200, per_customer=2), "order-1", TTL)  # limits raised since
    assert first.ok and not first.replayed
    assert (
        retry.replayed and retry.status is ReservationStatus.RESERVED and retry.expires_at == first.expires_at
    )
    assert store.used("coupon:a:total") == 1 and store.used("coupon:a:budget") == 1200
    unlimited = store.reserve(checkout(total_limit=None, per_customer=None), "order-1", TTL)
    assert unlimited.replayed


@pytest.mark.parametrize(
    "other",
    [
        checkout(discount=1300),  # another amount
        RedemptionIntent(counters=checkout().counters[:3]),  # a counter fewer
        checkout(placed_at=PLACED + timedelta(seconds=1)),  # another order instant
    ],
    ids=["amount", "counters", "placed_at"],
)
def test_a_retry_with_another_intent_is_refused(
    make_store: Callable[[ManualClock], Any], other: RedemptionIntent
) -> None:
    store = make_store(ManualClock())
    store.reserve(checkout(placed_at=PLACED), "order-1", TTL)
    with pytest.raises(RedemptionError, match="already used for a different intent"):
        store.reserve(other, "order-1", TTL)
    assert store.used("coupon:a:budget") == 1200


def test_the_order_of_the_counters_is_not_part_of_the_intent() -> None:
    intent = checkout()
    shuffled = RedemptionIntent(counters=intent.counters[::-1])
    assert shuffled.fingerprint() == intent.fingerprint()


ZONES = st.sampled_from(
    [timezone.utc, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))]
)


@settings(max_examples=200, deadline=None)
@given(
    instant=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(timezone.utc)
    ),
    zone=ZONES | st.timezones(),
)
def test_the_same_instant_in_any_time_zone_has_the_same_fingerprint(instant: datetime, zone: Any) -> None:
    elsewhere = instant.astimezone(zone)
    assert checkout(placed_at=elsewhere).fingerprint() == checkout(placed_at=instant).fingerprint()
    later = checkout(placed_at=instant + timedelta(microseconds=1))
    assert later.fingerprint() != checkout(placed_at=instant).fingerprint()
    assert RedemptionIntent.from_json(checkout(placed_at=elsewhere).to_json()).fingerprint() == (
        checkout(placed_at=instant).fingerprint()
    )


def test_a_retry_placed_at_the_same_instant_in_another_zone_is_a_replay(
    make_store: Callable[[ManualClock], Any],
) -> None:
    store = make_store(ManualClock())
    store.reserve(checkout(placed_at=PLACED.astimezone(timezone(timedelta(hours=8)))), "order-1", TTL)
    assert store.reserve(checkout(placed_at=PLACED), "order-1", TTL).replayed


# -- a rejection is an outcome: remembered and replayed ----------------------------------------------------


def test_a_rejected_reserve_is_replayed_on_retry(make_store: Callable[[ManualClock], Any]) -> None:
    clock = ManualClock()
    store = make_store(clock)
    store.reserve(checkout(), "order-1", TTL)
    rejected = store.reserve(checkout(), "order-2", TTL)  # c1's one use is taken
    assert rejected.status is ReservationStatus.REJECTED and not rejected.replayed
    assert rejected.rejection is not None and rejected.rejection.key == "coupon:a:customer:c1"
    assert store.status("order-2") is ReservationStatus.REJECTED
    store.release("order-1")  # capacity is free again ...
    clock.advance(timedelta(minutes=1))
    retry = store.reserve(checkout(), "order-2", TTL)  # ... but a retry replays, it does not re-decide
    assert (
        retry.replayed
        and retry.status is ReservationStatus.REJECTED
        and retry.rejection == rejected.rejection
    )
    assert store.used("coupon:a:customer:c1") == 0 and store.used("coupon:a:total") == 0
    with pytest.raises(RedemptionError, match="already used for a different intent"):
        store.reserve(checkout(discount=5), "order-2", TTL)
    with pytest.raises(RedemptionError, match="cannot commit 'order-2': it was rejected"):
        store.commit("order-2")
    with pytest.raises(RedemptionError, match="cannot revert 'order-2': it was rejected"):
        store.revert("order-2", 1, refund_key="r1")
    assert store.release("order-2").status is ReservationStatus.REJECTED  # holds nothing: harmless
    assert store.used("coupon:a:customer:c1") == 0
    assert store.reserve(checkout(), "order-3", TTL).ok  # a new attempt takes a new key


# -- pruning old keys ---------------------------------------------------------------------------------------


def test_prune_forgets_finished_keys_older_than_the_retention(
    make_store: Callable[[ManualClock], Any],
) -> None:
    clock = ManualClock()
    store = make_store(clock)
    day = timedelta(days=1)
    store.reserve(checkout(), "committed", TTL)
    store.commit("committed")
    store.revert("committed", "1/2", refund_key="refund-1")  # last change: t0
    store.release("tombstone")  # t0
    store.reserve(checkout(), "rejected", TTL)  # c1 is taken: rejected at t0
    code = RedemptionIntent(counters=(CounterMove(key="code:X", amount=1, limit=1),))
    store.reserve(code, "expired", timedelta(hours=1))  # expires at t0 + 1 h
    another = RedemptionIntent(counters=(CounterMove(key="code:Z", amount=1, limit=1),))
    store.reserve(another, "held", 40 * day)  # still reserved after 30 days
    clock.advance(30 * day)
    assert store.prune(older_than=30 * day) == 0  # exactly 30 days old: not older
    clock.advance(timedelta(microseconds=1))
    assert store.prune(older_than=30 * day) == 3  # committed, tombstone, rejected
    assert [store.status(k) for k in ("committed", "tombstone", "rejected")] == [None, None, None]
    assert store.status("expired") is ReservationStatus.EXPIRED  # it changed at t0 + 1 h
    assert store.status("held") is ReservationStatus.RESERVED
    assert store.used("coupon:a:budget") == 600 and store.used("code:Z") == 1  # counters stay
    clock.advance(timedelta(hours=1))
    assert store.prune(older_than=30 * day) == 1
    clock.advance(365 * day)  # "held" expired at t0 + 40 d: that is its last change, whenever noticed
    assert store.prune(older_than=day) == 1
    assert store.status("held") is None and store.used("code:Z") == 0


def test_a_pruned_key_starts_afresh_and_keeps_its_new_expiry(
    make_store: Callable[[ManualClock], Any],
) -> None:
    clock = ManualClock()
    store = make_store(clock)
    code = RedemptionIntent(counters=(CounterMove(key="code:Y", amount=1, limit=1),))
    store.reserve(code, "k", timedelta(hours=1))
    store.release("k")
    clock.advance(timedelta(minutes=31))
    assert store.prune(older_than=timedelta(minutes=30)) == 1
    assert store.reserve(code, "k", timedelta(hours=2)).ok  # a new redemption under a forgotten key
    clock.advance(timedelta(minutes=30))  # the first reservation's expiry instant passes
    assert store.status("k") is ReservationStatus.RESERVED and store.used("code:Y") == 1


# -- files written before this version ---------------------------------------------------------------------

_SCHEMA_BEFORE = """
CREATE TABLE user_ops_counters (key TEXT PRIMARY KEY, used INTEGER NOT NULL CHECK (used >= 0)) WITHOUT ROWID;
CREATE TABLE user_ops_reservations (
    key TEXT PRIMARY KEY, intent_hash TEXT NOT NULL, moves TEXT NOT NULL, status TEXT NOT NULL,
    expires_us INTEGER, refunded TEXT NOT NULL DEFAULT '0'
) WITHOUT ROWID;
CREATE INDEX user_ops_reservations_pending ON user_ops_reservations (expires_us) WHERE status = 'reserved';
CREATE TABLE user_ops_refunds (
    reservation TEXT NOT NULL, refund_key TEXT NOT NULL, fraction TEXT NOT NULL, refunded TEXT NOT NULL,
    restored TEXT NOT NULL, PRIMARY KEY (reservation, refund_key)
) WITHOUT ROWID;
"""


def test_a_file_from_the_previous_version_is_upgraded_in_place(tmp_path: Path) -> None:
    path, clock = tmp_path / "old.db", ManualClock()
    intent = checkout()
    old = sqlite3.connect(path)
    old.executescript(_SCHEMA_BEFORE)
    moves = json.dumps([[m.key, m.amount] for m in intent.counters])
    expires = 1_704_067_200_000_000 + 15 * 60 * 1_000_000  # ManualClock's start + 15 min, in UTC microseconds
    old.execute(  # what the previous version wrote for reserve(intent, "order-1", 15 min): content_hash
        "INSERT INTO user_ops_reservations VALUES ('order-1', ?, ?, 'reserved', ?, '0')",
        (intent.content_hash(), moves, expires),
    )
    old.executemany(
        "INSERT INTO user_ops_counters VALUES (?, ?)", [(m.key, m.amount) for m in intent.counters]
    )
    old.commit()
    old.close()
    with SQLiteRedemptionStore(path, clock=clock) as store:
        retry = store.reserve(intent, "order-1", TTL)  # a retry spanning the upgrade still replays
        assert retry.replayed and retry.status is ReservationStatus.RESERVED
        assert store.commit("order-1").status is ReservationStatus.COMMITTED
        assert store.reserve(intent, "order-2", TTL).status is ReservationStatus.REJECTED
        assert store.reserve(intent, "order-2", TTL).replayed
        clock.advance(timedelta(days=2))
        assert store.prune(older_than=timedelta(days=1)) == 2
    with SQLiteRedemptionStore(path, clock=clock) as reopened:  # upgrading twice changes nothing
        assert reopened.used("coupon:a:total") == 1 and reopened.status("order-1") is None


# -- the two stores agree on any sequence of calls ----------------------------------------------------------

KEYS = st.sampled_from(["o1", "o2", "o3", "o4"])
ZONED_PLACED = st.sampled_from([None, PLACED, PLACED.astimezone(timezone(timedelta(hours=8)))])


@st.composite
def intents(draw: st.DrawFn) -> RedemptionIntent:
    """Overlapping intents: shared counters, small limits, limits that change between retries."""
    customer = draw(st.sampled_from(["c1", "c2"]))
    counters = [
        CounterMove(key="coupon:a:total", amount=1, limit=draw(st.sampled_from([2, 3, None]))),
        CounterMove(key=f"coupon:a:customer:{customer}", amount=1, limit=draw(st.sampled_from([1, 2]))),
    ]
    if draw(st.booleans()):
        counters.append(
            CounterMove(key="coupon:a:budget", amount=draw(st.sampled_from([0, 300, 700])), limit=1000)
        )
    return RedemptionIntent(counters=tuple(counters), placed_at=draw(ZONED_PLACED))


def _outcome(call: Callable[[], object]) -> object:
    try:
        return call()
    except UserOpsError as error:  # both stores must refuse alike, with the same words
        return (type(error).__name__, str(error))


class BothStoresAgree(RuleBasedStateMachine):
    """Drives a MemoryRedemptionStore and a SQLiteRedemptionStore with the same calls and clock."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.folder = tempfile.mkdtemp()
        self.stores: tuple[Any, Any] = (
            MemoryRedemptionStore(clock=self.clock),
            SQLiteRedemptionStore(Path(self.folder) / "s.db", clock=self.clock, synchronous="NORMAL"),
        )

    def teardown(self) -> None:
        self.stores[1].close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def both(self, call: Callable[[Any], object]) -> object:
        memory, sqlite = (_outcome(lambda store=store: call(store)) for store in self.stores)
        assert memory == sqlite
        return memory

    @rule(intent=intents(), key=KEYS, minutes=st.sampled_from([1, 10, 60, 180]))
    def reserve(self, intent: RedemptionIntent, key: str, minutes: int) -> None:
        self.both(lambda store: store.reserve(intent, key, timedelta(minutes=minutes)))

    @rule(key=KEYS)
    def commit(self, key: str) -> None:
        self.both(lambda store: store.commit(key))

    @rule(key=KEYS)
    def release(self, key: str) -> None:
        self.both(lambda store: store.release(key))

    @rule(
        key=KEYS, fraction=st.sampled_from(["1/3", "1/2", "2/3", "1"]), refund=st.sampled_from(["r1", "r2"])
    )
    def revert(self, key: str, fraction: str, refund: str) -> None:
        self.both(lambda store: store.revert(key, fraction, refund_key=refund))

    @rule(minutes=st.integers(0, 90))
    def wait(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes, microseconds=minutes % 2))

    @rule(minutes=st.sampled_from([1, 20, 120]))
    def prune(self, minutes: int) -> None:
        self.both(lambda store: store.prune(older_than=timedelta(minutes=minutes)))

    @invariant()
    def same_counters_and_statuses(self) -> None:
        for counter in ("coupon:a:total", "coupon:a:customer:c1", "coupon:a:customer:c2", "coupon:a:budget"):
            assert self.both(lambda store, counter=counter: store.used(counter)) >= 0  # type: ignore[operator]
        for key in ("o1", "o2", "o3", "o4"):
            self.both(lambda store, key=key: store.status(key))


BothStoresAgree.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
test_memory_and_sqlite_stores_agree_on_any_sequence = BothStoresAgree.TestCase


def test_pruning_a_key_keeps_the_refunds_of_the_others(make_store: Callable[[ManualClock], Any]) -> None:
    clock = ManualClock()
    store = make_store(clock)
    budget = RedemptionIntent(counters=(CounterMove(key="coupon:b:budget", amount=900),))
    for key in ("old", "new"):
        store.reserve(budget, key, TTL)
        store.commit(key)
        store.revert(key, "1/3", refund_key="refund-1")  # the same refund key name under both
        clock.advance(timedelta(days=2))
    assert store.prune(older_than=timedelta(days=3)) == 1  # "old" changed 4 days ago, "new" 2
    replay = store.revert("new", "1/3", refund_key="refund-1")
    assert replay.replayed and replay.restored == (("coupon:b:budget", 300),)
    assert store.used("coupon:b:budget") == 1200


def test_concurrent_retries_of_keys_agree_on_one_outcome_each(
    make_store: Callable[[ManualClock], Any],
) -> None:
    """8 threads retry the same 30 keys against a limit of 10: each key has one outcome, seen by all."""
    store = make_store(ManualClock())
    code = RedemptionIntent(counters=(CounterMove(key="coupon:flash:total", amount=1, limit=10),))
    keys = [f"order-{n}" for n in range(30)]
    results: list[list[Any]] = [[] for _ in range(8)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def retry(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            order = keys if index % 2 else keys[::-1]
            results[index] = [store.reserve(code, key, TTL) for key in order]
        except BaseException as error:  # a thread's exception would vanish otherwise
            errors.append(error)

    threads = [threading.Thread(target=retry, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and all(len(chunk) == len(keys) for chunk in results), errors
    outcomes: dict[str, set[tuple[Any, Any]]] = {key: set() for key in keys}
    first_answers = dict.fromkeys(keys, 0)
    for reservation in (r for chunk in results for r in chunk):
        outcomes[reservation.idempotency_key].add((reservation.status, reservation.rejection))
        first_answers[reservation.idempotency_key] += not reservation.replayed
    assert all(len(seen) == 1 for seen in outcomes.values()), outcomes
    assert set(first_answers.values()) == {1}
    reserved = [key for key, seen in outcomes.items() if next(iter(seen))[0] is ReservationStatus.RESERVED]
    assert len(reserved) == 10 == store.used("coupon:flash:total")
    assert all(store.status(key) is next(iter(outcomes[key]))[0] for key in keys)

"""The redemption protocol: the conformance suite against both stores, cross-process SQLite, bad input."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from user_ops import ConfigError, DataError
from user_ops.coupons import (
    CounterMove,
    MemoryRedemptionStore,
    RedemptionError,
    RedemptionIntent,
    RedemptionStore,
    ReservationStatus,
    SQLiteRedemptionStore,
)
from user_ops.coupons._redemption import refund_shares
from user_ops.coupons.testing import ManualClock, StoreReport, _sqlite_worker, check_store

TTL = timedelta(minutes=15)


def intent(*moves: tuple[str, int, int | None]) -> RedemptionIntent:
    return RedemptionIntent(counters=tuple(CounterMove(key=k, amount=a, limit=lim) for k, a, lim in moves))


@pytest.fixture
def sqlite_factory(tmp_path: Path) -> Iterator[object]:
    stores: list[SQLiteRedemptionStore] = []

    def make(clock: ManualClock) -> SQLiteRedemptionStore:
        store = SQLiteRedemptionStore(tmp_path / f"store-{len(stores)}.db", clock=clock)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


# -- the conformance suite, full size (16 threads x 1000 attempts against a limit of 100) ---------------


def test_memory_store_passes_the_conformance_suite() -> None:
    report = check_store(lambda clock: MemoryRedemptionStore(clock=clock))
    assert isinstance(report, StoreReport) and report.passed
    assert "16 threads x 1000 attempts, limit 100: exactly 100 reserved" in str(report)


def test_sqlite_store_passes_the_conformance_suite(sqlite_factory: object) -> None:
    report = check_store(sqlite_factory)  # type: ignore[arg-type]
    names = [check.name for check in report.checks]
    assert names[:2] == ["protocol", "concurrent_limit"] and "refunds" in names and "expiry" in names


def test_both_stores_satisfy_the_protocol(tmp_path: Path) -> None:
    with SQLiteRedemptionStore(tmp_path / "s.db") as sqlite_store:
        assert isinstance(sqlite_store, RedemptionStore)
    assert isinstance(MemoryRedemptionStore(), RedemptionStore)


# -- the suite catches broken stores -------------------------------------------------------------------


class _NoLimitStore(MemoryRedemptionStore):
    """Ignores limits: the concurrency check must fail."""

    def reserve(self, intent: RedemptionIntent, idempotency_key: str, ttl: timedelta):  # type: ignore[no-untyped-def]
        unlimited = RedemptionIntent(
            counters=tuple(CounterMove(key=m.key, amount=m.amount, limit=None) for m in intent.counters)
        )
        return super().reserve(unlimited, idempotency_key, ttl)


class _RacyStore(MemoryRedemptionStore):
    """Checks the limit outside the lock, then reserves: over-issues under concurrency."""

    def reserve(self, intent: RedemptionIntent, idempotency_key: str, ttl: timedelta):  # type: ignore[no-untyped-def]
        move = intent.counters[0]
        if move.limit is not None and self.used(move.key) + move.amount > move.limit:
            return super().reserve(intent, idempotency_key, ttl)
        threading.Event().wait(0.0005)  # widen the race window between check and act
        return super().reserve(
            RedemptionIntent(counters=(CounterMove(key=move.key, amount=move.amount, limit=None),)),
            idempotency_key,
            ttl,
        )


class _DoubleRefundStore(MemoryRedemptionStore):
    """Forgets refund keys: a retried refund restores twice."""

    def revert(self, idempotency_key: str, fraction: Fraction | int | str, *, refund_key: str):  # type: ignore[no-untyped-def]
        self._held[idempotency_key].refunds.clear()
        return super().revert(idempotency_key, fraction, refund_key=refund_key)


class _NeverExpiresStore(MemoryRedemptionStore):
    def _sweep(self) -> int:
        return 0


@pytest.mark.parametrize(
    ("store_type", "failing_check"),
    [
        (_NoLimitStore, "concurrent_limit"),
        (_RacyStore, "concurrent_limit"),
        (_DoubleRefundStore, "refunds"),
        (_NeverExpiresStore, "expiry"),
    ],
)
def test_the_suite_names_the_broken_promise(
    store_type: type[MemoryRedemptionStore], failing_check: str
) -> None:
    with pytest.raises(AssertionError, match=rf"check_store \[{failing_check}\]"):
        check_store(lambda clock: store_type(clock=clock), threads=8, attempts=50, limit=20)


def test_check_store_rejects_a_degenerate_size() -> None:
    with pytest.raises(ValueError, match="threads \\* attempts > limit"):
        check_store(lambda clock: MemoryRedemptionStore(clock=clock), threads=1, attempts=10, limit=10)


# -- SQLite specifics: across processes, persistence, bad paths ------------------------------------------


def test_sqlite_limit_holds_across_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    SQLiteRedemptionStore(path).close()  # create the schema once, before the workers race
    # fork is much cheaper than spawn (no re-import of user_ops); each child opens its own connection
    context = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    with context.Pool(4) as pool:
        successes = pool.starmap(_sqlite_worker, [(path, f"p{n}", 150, 250) for n in range(4)])
    assert sum(successes) == 250
    with SQLiteRedemptionStore(path) as store:
        assert store.used("coupon:processes:total") == 250


def test_sqlite_state_survives_reopening(tmp_path: Path) -> None:
    clock = ManualClock()
    with SQLiteRedemptionStore(tmp_path / "s.db", clock=clock) as store:
        store.reserve(intent(("coupon:a:budget", 999, 1000)), "o1", TTL)
        store.commit("o1")
        store.revert("o1", "1/2", refund_key="r1")
    with SQLiteRedemptionStore(tmp_path / "s.db", clock=clock) as reopened:
        assert reopened.used("coupon:a:budget") == 500  # 999 - floor(999 / 2)
        assert reopened.status("o1") is ReservationStatus.COMMITTED
        replay = reopened.revert("o1", Fraction(1, 2), refund_key="r1")
        assert replay.replayed and replay.restored == (("coupon:a:budget", 499),)


def test_sqlite_refuses_an_in_memory_database() -> None:
    with pytest.raises(DataError, match="needs a file path"):
        SQLiteRedemptionStore(":memory:")


def test_sqlite_refuses_bad_options(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="synchronous"):
        SQLiteRedemptionStore(tmp_path / "s.db", synchronous="OFF")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="busy_timeout"):
        SQLiteRedemptionStore(tmp_path / "s.db", busy_timeout=5)  # type: ignore[arg-type]


# -- the intent model --------------------------------------------------------------------------------------


def test_intent_json_round_trip_and_schema() -> None:
    original = intent(("coupon:a:total", 1, 10), ("coupon:a:budget", 1500, None))
    assert RedemptionIntent.from_json(original.to_json()) == original
    assert "counters" in RedemptionIntent.json_schema()["properties"]
    assert (
        original.content_hash()
        == intent(("coupon:a:total", 1, 10), ("coupon:a:budget", 1500, None)).content_hash()
    )


@pytest.mark.parametrize(
    ("counters", "message"),
    [
        ((), "counters"),
        (
            (CounterMove(key="a", amount=1, limit=1), CounterMove(key="a", amount=2, limit=5)),
            "'a' appears twice",
        ),
    ],
)
def test_intent_rejects_empty_or_repeated_counters(counters: tuple[CounterMove, ...], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RedemptionIntent(counters=counters)


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"key": "", "amount": 1}, "key"),
        ({"key": "a", "amount": -1}, "amount"),
        ({"key": "a", "amount": 1, "limit": -1}, "limit"),
    ],
)
def test_counter_move_rejects_bad_fields(fields: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        CounterMove(**fields)  # type: ignore[arg-type]


# -- bad input and state errors ------------------------------------------------------------------------------


def test_naive_clock_is_a_data_error() -> None:
    store = MemoryRedemptionStore(clock=lambda: datetime(2024, 1, 1))
    with pytest.raises(DataError, match="naive"):
        store.reserve(intent(("a", 1, 1)), "o1", TTL)


@pytest.mark.parametrize("fraction", [0.5, True, "half", Fraction(-1, 2), 2])
def test_bad_refund_fractions(fraction: object) -> None:
    store = MemoryRedemptionStore()
    store.reserve(intent(("a", 1, 1)), "o1", TTL)
    store.commit("o1")
    with pytest.raises(DataError, match="fraction"):
        store.revert("o1", fraction, refund_key="r1")  # type: ignore[arg-type]


def test_reserve_needs_an_intent_and_a_timedelta() -> None:
    store = MemoryRedemptionStore()
    with pytest.raises(DataError, match="RedemptionIntent"):
        store.reserve({"counters": []}, "o1", TTL)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="ttl"):
        store.reserve(intent(("a", 1, 1)), "o1", 900)  # type: ignore[arg-type]


def test_state_errors_explain_themselves() -> None:
    store = MemoryRedemptionStore()
    store.reserve(intent(("a", 1, 1)), "o1", TTL)
    with pytest.raises(RedemptionError, match="reserved but not committed"):
        store.revert("o1", 1, refund_key="r1")
    store.commit("o1")
    with pytest.raises(RedemptionError, match="refund with revert"):
        store.release("o1")


def test_expires_at_is_reported_in_utc() -> None:
    start = datetime(2024, 3, 10, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    store = MemoryRedemptionStore(clock=lambda: start)
    held = store.reserve(intent(("a", 1, 1)), "o1", TTL)
    assert held.expires_at == start + TTL and held.expires_at.tzinfo == timezone.utc


# -- refund rounding: cumulative floor, exact in total -------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    amount=st.integers(0, 10**9),
    parts=st.lists(st.integers(1, 50), min_size=1, max_size=6),
)
def test_refund_shares_sum_to_the_amount_and_follow_the_cumulative_floor(
    amount: int, parts: list[int]
) -> None:
    total = sum(parts)
    before, given_back = Fraction(0), 0
    for part in parts:
        after = before + Fraction(part, total)
        ((_, share),) = refund_shares((("budget", amount),), before, after)
        assert share >= 0
        given_back += share
        assert given_back == amount * after.numerator // after.denominator
        before = after
    assert given_back == amount


@settings(max_examples=50, deadline=None)
@given(
    amount=st.integers(1, 10**6),
    fractions=st.lists(st.fractions(min_value=Fraction(1, 100), max_value=1), min_size=1, max_size=5),
)
def test_memory_and_sqlite_refund_identically(
    tmp_path_factory: pytest.TempPathFactory, amount: int, fractions: list[Fraction]
) -> None:
    folder = tmp_path_factory.mktemp("refunds")
    stores: list[RedemptionStore] = [
        MemoryRedemptionStore(),
        SQLiteRedemptionStore(folder / "s.db", synchronous="NORMAL"),
    ]
    outcomes = []
    for store in stores:
        store.reserve(intent(("coupon:x:total", 1, 1), ("coupon:x:budget", amount, None)), "o1", TTL)
        store.commit("o1")
        trail: list[object] = []
        for number, fraction in enumerate(fractions):
            try:
                trail.append(store.revert("o1", fraction, refund_key=f"r{number}").restored)
            except RedemptionError:
                trail.append(None)
        trail.append((store.used("coupon:x:total"), store.used("coupon:x:budget")))
        outcomes.append(trail)
    stores[1].close()  # type: ignore[attr-defined]
    assert outcomes[0] == outcomes[1]


def test_a_store_that_cannot_be_opened_says_where(tmp_path: Path) -> None:
    from user_ops.coupons import RedemptionError, SQLiteRedemptionStore

    with pytest.raises(RedemptionError, match=r"cannot open the SQLite redemption store at '.*missing.*'"):
        SQLiteRedemptionStore(tmp_path / "missing" / "store.db")
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_text("not a database, just text" * 100)
    with pytest.raises(RedemptionError, match="cannot open the SQLite redemption store"):
        SQLiteRedemptionStore(not_a_database)

"""Bad input to the redemption stores and models raises DataError naming the field, in both stores alike.

Before these checks, the SQLite store leaked ``UnicodeEncodeError`` (lone surrogates), ``OverflowError``
(integers past SQLite's 64 bits, ``ttl=timedelta.max``) and the memory store silently accepted what
SQLite could not store, so the two stores disagreed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from user_ops import ConfigError, DataError
from user_ops.coupons import (
    CounterMove,
    MemoryRedemptionStore,
    RedemptionIntent,
    SQLiteRedemptionStore,
)
from user_ops.coupons.testing import ManualClock

TTL = timedelta(minutes=15)
SURROGATE = "\ud800"
GOOD = RedemptionIntent(counters=(CounterMove(key="coupon:a:total", amount=1, limit=10),))


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A store holding one committed key ``done`` (so revert reaches its fraction and refund key checks)."""
    clock = ManualClock()
    made: Any
    if request.param == "memory":
        made = MemoryRedemptionStore(clock=clock)
    else:
        made = SQLiteRedemptionStore(tmp_path / "s.db", clock=clock, synchronous="NORMAL")
    made.reserve(GOOD, "done", TTL)
    made.commit("done")
    yield made
    if request.param == "sqlite":
        made.close()


BAD_KEYS: list[object] = [SURROGATE, f"order-{SURROGATE}-1", "", "x" * 513, 42, True, None, b"order-1"]


def _key_calls(store: Any, bad: object) -> list[tuple[str, Callable[[], object]]]:
    """Every public method, with ``bad`` in each of its key arguments."""
    return [
        ("idempotency_key", lambda: store.reserve(GOOD, bad, TTL)),
        ("idempotency_key", lambda: store.commit(bad)),
        ("idempotency_key", lambda: store.release(bad)),
        ("idempotency_key", lambda: store.revert(bad, "1/2", refund_key="r1")),
        ("refund_key", lambda: store.revert("done", "1/2", refund_key=bad)),
        ("key", lambda: store.used(bad)),
        ("idempotency_key", lambda: store.status(bad)),
    ]


@pytest.mark.parametrize("bad", BAD_KEYS, ids=repr)
def test_every_method_refuses_a_bad_key_naming_the_argument(store: Any, bad: object) -> None:
    for field, call in _key_calls(store, bad):
        with pytest.raises(DataError, match=rf"^{field}\b"):
            call()
    assert store.used("coupon:a:total") == 1  # nothing moved


@pytest.mark.parametrize(
    ("ttl", "why"),
    [
        (timedelta.max, "too long"),
        (timedelta(days=3_000_000), "too long"),
        (timedelta(0), "positive"),
        (timedelta(seconds=-1), "positive"),
        (900, "timedelta"),
        (True, "timedelta"),
        (None, "timedelta"),
    ],
    ids=repr,
)
def test_reserve_refuses_a_bad_ttl(store: Any, ttl: object, why: str) -> None:
    with pytest.raises(DataError, match=rf"^ttl .*{why}"):
        store.reserve(GOOD, "o1", ttl)
    assert store.status("o1") is None and store.used("coupon:a:total") == 1


def test_a_ttl_that_ends_after_year_9999_names_the_expiry(tmp_path: Path) -> None:
    late = ManualClock(datetime(9999, 12, 31, 23, 0, tzinfo=timezone.utc))
    for made in (MemoryRedemptionStore(clock=late), SQLiteRedemptionStore(tmp_path / "s.db", clock=late)):
        assert made.reserve(GOOD, "o1", timedelta(minutes=59)).ok  # ends at 23:59, still representable
        with pytest.raises(DataError, match=r"^ttl .*too long.*9999"):
            made.reserve(GOOD, "o2", timedelta(hours=2))


@pytest.mark.parametrize(
    ("fraction", "why"),
    [
        (Decimal("Infinity"), "fraction"),
        (Decimal("NaN"), "fraction"),
        (Decimal("1E-999999999"), "fraction"),
        ("1e-999999999", "fraction"),  # Fraction() would compute 10**999999999 first: a denial of service
        ("1" * 5000 + "/" + "1" * 5001, "fraction"),
        (SURROGATE, "fraction"),
        ("1/0", "fraction"),
        (True, "fraction"),
        (0.5, "fraction"),
        (Fraction(0), "fraction"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_revert_refuses_a_bad_fraction(store: Any, fraction: object, why: str) -> None:
    with pytest.raises(DataError, match=rf"^{why}\b"):
        store.revert("done", fraction, refund_key="r1")
    assert store.used("coupon:a:total") == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"key": SURROGATE, "amount": 1}, "key"),
        ({"key": f"code:{SURROGATE}", "amount": 1, "limit": 1}, "key"),
        ({"key": "a", "amount": 2**63}, "amount"),
        ({"key": "a", "amount": 2**64}, "amount"),
        ({"key": "a", "amount": -1}, "amount"),
        ({"key": "a", "amount": True}, "amount"),
        ({"key": "a", "amount": 1, "limit": 2**64}, "limit"),
        ({"key": "a", "amount": 1, "limit": 2**63}, "limit"),
        ({"key": "a", "amount": 1, "limit": -1}, "limit"),
        ({"key": "a", "amount": 1, "limit": False}, "limit"),
        ({"key": "x" * 513, "amount": 1}, "key"),
    ],
    ids=lambda value: repr(value)[:40],
)
def test_a_counter_move_refuses_what_no_store_can_hold(fields: dict[str, object], field: str) -> None:
    for build in (
        lambda: CounterMove(**fields),  # type: ignore[arg-type]
        lambda: RedemptionIntent.model_validate({"counters": [fields]}),
        lambda: RedemptionIntent.from_json({"counters": [fields]}),
    ):
        with pytest.raises(DataError, match=rf"\b{field}\b") as raised:
            build()
        assert isinstance(raised.value, ConfigError)  # what it raised before: callers catching it still do


def test_the_largest_amount_and_limit_are_stored_exactly(tmp_path: Path) -> None:
    top = 2**63 - 1
    big = RedemptionIntent(counters=(CounterMove(key="coupon:a:budget", amount=top, limit=top),))
    for made in (MemoryRedemptionStore(), SQLiteRedemptionStore(tmp_path / "s.db")):
        assert made.reserve(big, "o1", TTL).ok
        assert made.used("coupon:a:budget") == top
        more = RedemptionIntent(counters=(CounterMove(key="coupon:a:budget", amount=1),))
        rejected = made.reserve(more, "o2", TTL)  # no limit, but no store can count past 2**63 - 1
        assert rejected.rejection is not None and rejected.rejection.limit == top
        assert made.used("coupon:a:budget") == top


@pytest.mark.parametrize(
    ("placed_at", "why"),
    [
        (datetime(2024, 5, 1, 12, 0), "naive"),
        ("2024-05-01T12:00:00", "naive"),
        ("yesterday", ""),
        (datetime.max.replace(tzinfo=timezone(-timedelta(hours=5))), "range"),
    ],
    ids=repr,
)
def test_an_intent_refuses_a_naive_or_unreadable_placed_at(placed_at: object, why: str) -> None:
    with pytest.raises(DataError, match=rf"placed_at\b.*{why}"):
        RedemptionIntent(counters=GOOD.counters, placed_at=placed_at)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("older_than", "why"),
    [
        (timedelta(0), "positive"),
        (timedelta(seconds=-1), "positive"),
        (timedelta.max, "too long"),
        (timedelta(days=1_000_000), "too long"),
        (30, "timedelta"),
        (True, "timedelta"),
        (datetime(2024, 1, 1), "timedelta"),
    ],
    ids=repr,
)
def test_prune_refuses_a_bad_retention(store: Any, older_than: object, why: str) -> None:
    with pytest.raises(DataError, match=rf"^older_than .*{why}"):
        store.prune(older_than=older_than)
    assert store.status("done") is not None


def _every_method(made: Any) -> list[Callable[[], object]]:
    return [
        lambda: made.reserve(GOOD, "o1", TTL),
        lambda: made.commit("o1"),
        lambda: made.release("o1"),
        lambda: made.revert("o1", 1, refund_key="r"),
        lambda: made.used("k"),
        lambda: made.status("o1"),
        lambda: made.prune(older_than=timedelta(days=1)),
    ]


def test_a_naive_or_broken_clock_is_a_data_error_in_every_method(tmp_path: Path) -> None:
    for clock_value in (datetime(2024, 1, 1), "2024-01-01"):

        def clock(value: object = clock_value) -> Any:
            return value

        for made in (
            MemoryRedemptionStore(clock=clock),
            SQLiteRedemptionStore(tmp_path / "c.db", clock=clock),
        ):
            for call in _every_method(made):
                with pytest.raises(DataError, match="clock"):
                    call()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"busy_timeout": timedelta.max}, "busy_timeout"),
        ({"busy_timeout": timedelta(days=365)}, "busy_timeout"),
        ({"busy_timeout": True}, "busy_timeout"),
        ({"busy_timeout": timedelta(seconds=-1)}, "busy_timeout"),
        ({"synchronous": "OFF"}, "synchronous"),
        ({"clock": "utc"}, "clock"),
    ],
    ids=repr,
)
def test_sqlite_options_are_checked(tmp_path: Path, options: dict[str, Any], field: str) -> None:
    with pytest.raises(DataError, match=rf"^{field}\b"):
        SQLiteRedemptionStore(tmp_path / "s.db", **options)


@pytest.mark.parametrize("path", [f"store-{SURROGATE}.db", 42, None], ids=repr)
def test_sqlite_path_is_checked(tmp_path: Path, path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=r"^path\b"):
        SQLiteRedemptionStore(path)  # type: ignore[arg-type]


def test_memory_store_checks_its_clock() -> None:
    with pytest.raises(DataError, match=r"^clock\b"):
        MemoryRedemptionStore(clock="utc")  # type: ignore[arg-type]


# -- any string: both stores accept it alike, or both refuse it with DataError -------------------------------

ANY_TEXT = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=8)  # Cs: lone surrogates


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=ANY_TEXT)
def test_any_key_is_stored_or_refused_alike(tmp_path_factory: pytest.TempPathFactory, key: str) -> None:
    with SQLiteRedemptionStore(tmp_path_factory.mktemp("keys") / "s.db", synchronous="NORMAL") as sqlite:
        assert _trail(MemoryRedemptionStore(), key) == _trail(sqlite, key)


def _trail(made: Any, key: str) -> list[object]:
    """``key`` as an idempotency key and as a counter key: each call's result, or its DataError."""

    def reserve_counter() -> object:
        counter = RedemptionIntent(counters=(CounterMove(key=key, amount=1, limit=1),))
        return made.reserve(counter, "k2", TTL).status

    trail: list[object] = []
    for call in (
        lambda: made.reserve(GOOD, key, TTL).status,
        lambda: made.used(key),
        lambda: made.status(key),
        lambda: made.commit(key).status,
        reserve_counter,
        lambda: made.used(key),
    ):
        try:
            trail.append(call())
        except DataError as error:
            trail.append(re.sub(r"\s+", " ", str(error)))
    return trail

"""The conformance suite of the redemption protocol: run it against your own store.

A host that keeps coupon counters in its own database (Redis, Postgres, ...) implements
[`RedemptionStore`][] and runs [`check_store`][] in its test suite. The suite
drives a fresh store per check through the protocol's promises: concurrent reserves never exceed a
limit, retries are idempotent (rejections included), double commits are harmless, expired
reservations free their counters, refunds restore usage and budget exactly once, per-customer limits
are keyed by the customer id.

Examples
--------
>>> from user_ops.coupons import MemoryRedemptionStore
>>> report = check_store(lambda clock: MemoryRedemptionStore(clock=clock), threads=4, attempts=100, limit=10)
>>> report.passed, len(report.checks) >= 10
(True, True)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from fractions import Fraction

from user_ops.coupons._redemption import (
    Clock,
    CounterMove,
    RedemptionError,
    RedemptionIntent,
    RedemptionStore,
    Reservation,
    ReservationStatus,
)

__all__ = ["CheckOutcome", "ManualClock", "StoreReport", "check_store"]

StoreFactory = Callable[[Clock], RedemptionStore]
_TTL = timedelta(minutes=10)
_RESERVED, _COMMITTED = ReservationStatus.RESERVED, ReservationStatus.COMMITTED


class ManualClock:
    """A clock that only moves when told to (thread-safe), for testing expiry.

    Examples
    --------
    >>> clock = ManualClock(datetime(2024, 5, 1, tzinfo=timezone.utc))
    >>> clock.advance(timedelta(minutes=5))
    >>> clock().isoformat()
    '2024-05-01T00:05:00+00:00'
    """

    def __init__(self, start: datetime = datetime(2024, 1, 1, tzinfo=timezone.utc)) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta``."""
        with self._lock:
            self._now += delta


@dataclass(frozen=True)
class CheckOutcome:
    """One passed check of [`check_store`][]: its name, what it verified and how long it took."""

    name: str
    detail: str
    seconds: float


@dataclass(frozen=True)
class StoreReport:
    """What [`check_store`][] verified (it raises on the first failure, so ``passed`` is True).

    Examples
    --------
    >>> print(StoreReport((CheckOutcome("double_commit", "second commit moved nothing", 0.001),)))
    double_commit        0.001 s  second commit moved nothing
    """

    checks: tuple[CheckOutcome, ...]

    @property
    def passed(self) -> bool:
        """True: a report exists only when every check passed."""
        return True

    def __str__(self) -> str:
        return "\n".join(f"{c.name:<20} {c.seconds:.3f} s  {c.detail}" for c in self.checks)


def check_store(
    factory: StoreFactory, *, threads: int = 16, attempts: int = 1000, limit: int = 100
) -> StoreReport:
    """Run the conformance suite against stores made by ``factory``.

    Parameters
    ----------
    factory : callable
        ``factory(clock)`` returns a fresh, empty store that reads the time from ``clock`` (a
        callable returning an aware datetime; the suite moves it to test expiry). Called once per check.
    threads, attempts, limit : int
        The concurrency check: ``threads`` threads each try ``attempts`` reserves of one counter whose
        limit is ``limit``; exactly ``limit`` must succeed (the issue's 16 × 1000 against 100).

    Returns
    -------
    StoreReport
        The checks that ran, each with what it verified and its duration.

    Raises
    ------
    AssertionError
        On the first broken promise, naming the check and what the store did instead.

    Examples
    --------
    >>> from user_ops.coupons import MemoryRedemptionStore
    >>> def factory(clock):
    ...     return MemoryRedemptionStore(clock=clock)
    >>> report = check_store(factory, threads=2, attempts=50, limit=5)
    >>> [check.name for check in report.checks][:3]
    ['protocol', 'concurrent_limit', 'concurrent_retries']
    """
    if threads < 1 or attempts < 1 or limit < 1 or threads * attempts <= limit:
        raise ValueError("check_store needs threads, attempts, limit >= 1 and threads * attempts > limit")
    checks: list[tuple[str, Callable[[StoreFactory], str]]] = [
        ("protocol", _protocol),
        ("concurrent_limit", lambda f: _concurrent_limit(f, threads, attempts, limit)),
        ("concurrent_retries", lambda f: _concurrent_retries(f, threads)),
        ("idempotent_retry", _idempotent_retry),
        ("rejection", _rejection),
        ("all_or_nothing", _all_or_nothing),
        ("double_commit", _double_commit),
        ("release", _release),
        ("expiry", _expiry),
        ("refunds", _refunds),
        ("per_customer", _per_customer),
        ("bad_input", _bad_input),
    ]
    outcomes = []
    for name, check in checks:
        start = time.perf_counter()
        try:
            detail = check(factory)
        except _CheckFailedError as failed:
            raise AssertionError(f"check_store [{name}]: {failed}") from None
        except AssertionError:
            raise
        except Exception as error:
            raise AssertionError(
                f"check_store [{name}]: unexpected {type(error).__name__}: {error}"
            ) from error
        outcomes.append(CheckOutcome(name, detail, time.perf_counter() - start))
    return StoreReport(tuple(outcomes))


class _CheckFailedError(Exception):
    pass


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise _CheckFailedError(message)


def _raises(error: type[Exception], call: Callable[[], object], what: str) -> None:
    try:
        call()
    except error:
        return
    except Exception as other:
        raise _CheckFailedError(
            f"{what} raised {type(other).__name__} ({other}), expected {error.__name__}"
        ) from None
    raise _CheckFailedError(f"{what} did not raise {error.__name__}")


def _intent(*moves: tuple[str, int, int | None]) -> RedemptionIntent:
    return RedemptionIntent(counters=tuple(CounterMove(key=k, amount=a, limit=lim) for k, a, lim in moves))


def _fresh(factory: StoreFactory) -> tuple[RedemptionStore, ManualClock]:
    clock = ManualClock()
    return factory(clock), clock


def _protocol(factory: StoreFactory) -> str:
    store, _ = _fresh(factory)
    _expect(isinstance(store, RedemptionStore), f"{type(store).__name__} lacks methods of RedemptionStore")
    _expect(store.used("coupon:never:total") == 0, "a counter never moved should read 0")
    _expect(store.status("never-seen") is None, "an unknown idempotency key should have status None")
    return "implements reserve, commit, release, revert, used, status"


def _run_threads(count: int, work: Callable[[int], list[Reservation]]) -> list[Reservation]:
    barrier = threading.Barrier(count)
    results: list[list[Reservation]] = [[] for _ in range(count)]
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except BaseException as error:  # reported below: a thread's exception would vanish otherwise
            errors.append(error)

    workers = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise _CheckFailedError(f"a thread raised {type(errors[0]).__name__}: {errors[0]}")
    return [result for chunk in results for result in chunk]


def _concurrent_limit(factory: StoreFactory, threads: int, attempts: int, limit: int) -> str:
    store, _ = _fresh(factory)
    intent = _intent(("coupon:flash:total", 1, limit))

    def attempt_all(index: int) -> list[Reservation]:
        return [store.reserve(intent, f"t{index}-a{n}", _TTL) for n in range(attempts)]

    results = _run_threads(threads, attempt_all)
    reserved = sum(result.status is _RESERVED for result in results)
    _expect(
        reserved == limit, f"{threads}x{attempts} reserves against a limit of {limit}: {reserved} succeeded"
    )
    used = store.used("coupon:flash:total")
    _expect(used == limit, f"the counter reads {used} after {limit} successful reserves")
    for result in results:
        if result.status is not _RESERVED:
            _expect(result.status is ReservationStatus.REJECTED, f"an attempt ended {result.status}")
            rejection = result.rejection
            _expect(
                rejection is not None and rejection.key == "coupon:flash:total" and rejection.limit == limit,
                f"a rejection should name coupon:flash:total and its limit, got {rejection}",
            )
    return f"{threads} threads x {attempts} attempts, limit {limit}: exactly {limit} reserved"


def _concurrent_retries(factory: StoreFactory, threads: int) -> str:
    store, _ = _fresh(factory)
    intent = _intent(("coupon:retry:total", 1, 10_000))
    keys = [f"order-{n}" for n in range(20)]

    def retry_all(index: int) -> list[Reservation]:
        return [store.reserve(intent, key, _TTL) for key in (keys if index % 2 else keys[::-1])]

    results = _run_threads(threads, retry_all)
    first = sum(not result.replayed for result in results)
    _expect(all(result.ok for result in results), "every retry of a reserved key should report it held")
    _expect(
        first == len(keys), f"{len(keys)} keys retried by {threads} threads: {first} non-replayed results"
    )
    used = store.used("coupon:retry:total")
    _expect(used == len(keys), f"the counter reads {used} after {len(keys)} distinct keys")
    return f"{threads} threads retrying the same {len(keys)} keys moved the counter {len(keys)} times"


def _idempotent_retry(factory: StoreFactory) -> str:
    store, _ = _fresh(factory)
    intent = _intent(("coupon:a:total", 1, 5), ("coupon:a:budget", 500, 10_000))
    first = store.reserve(intent, "order-1", _TTL)
    again = store.reserve(intent, "order-1", _TTL)
    _expect(first.status is _RESERVED and not first.replayed, f"first reserve returned {first}")
    _expect(
        again.status is _RESERVED and again.replayed, f"a retry should replay the reservation, got {again}"
    )
    _expect(store.used("coupon:a:budget") == 500, "a retry moved the budget counter again")
    other = _intent(("coupon:a:total", 1, 5))
    _raises(
        RedemptionError, lambda: store.reserve(other, "order-1", _TTL), "reusing a key for another intent"
    )
    raised = _intent(("coupon:a:total", 1, 50), ("coupon:a:budget", 500, None))  # the operator raised limits
    after_raise = store.reserve(raised, "order-1", _TTL)
    _expect(
        after_raise.replayed and after_raise.status is _RESERVED,
        f"limits are not part of the intent: a retry after they changed should replay, got {after_raise}",
    )
    store.commit("order-1")
    after_commit = store.reserve(intent, "order-1", _TTL)
    _expect(
        after_commit.status is _COMMITTED and after_commit.replayed,
        f"a retry after commit should replay the committed outcome, got {after_commit}",
    )
    _expect(store.used("coupon:a:total") == 1, "a retry after commit moved the counter again")
    return "retries replay the stored outcome, whatever the limits now; another intent is refused"


def _rejection(factory: StoreFactory) -> str:
    store, _ = _fresh(factory)
    intent = _intent(("code:ONCE", 1, 1))
    store.reserve(intent, "order-1", _TTL)
    rejected = store.reserve(intent, "order-2", _TTL)
    _expect(
        rejected.status is ReservationStatus.REJECTED, f"a second use of a single-use code gave {rejected}"
    )
    rejection = rejected.rejection
    _expect(
        rejection is not None and (rejection.key, rejection.used, rejection.limit) == ("code:ONCE", 1, 1),
        f"the rejection should say code:ONCE used 1 of 1, got {rejection}",
    )
    _expect(store.status("order-2") is ReservationStatus.REJECTED, "a rejected attempt should be remembered")
    store.release("order-1")
    retried = store.reserve(intent, "order-2", _TTL)
    _expect(
        retried.status is ReservationStatus.REJECTED and retried.replayed and retried.rejection == rejection,
        f"a retry of a rejected key should replay its rejection (even with capacity freed), got {retried}",
    )
    _expect(store.used("code:ONCE") == 0, "a replayed rejection moved a counter")
    _raises(RedemptionError, lambda: store.commit("order-2"), "committing a rejected key")
    _expect(store.reserve(intent, "order-3", _TTL).ok, "a new key could not use the freed capacity")
    return "a rejection names the counter, used and limit, and is replayed to retries of its key"


def _all_or_nothing(factory: StoreFactory) -> str:
    store, _ = _fresh(factory)
    store.reserve(_intent(("coupon:b:customer:c1", 1, 1)), "order-1", _TTL)
    both = _intent(("coupon:b:total", 1, 100), ("coupon:b:customer:c1", 1, 1))
    result = store.reserve(both, "order-2", _TTL)
    _expect(result.status is ReservationStatus.REJECTED, f"an intent over one limit gave {result}")
    _expect(store.used("coupon:b:total") == 0, "a rejected intent moved one of its counters")
    return "a rejected intent moves none of its counters"


def _double_commit(factory: StoreFactory) -> str:
    store, _ = _fresh(factory)
    store.reserve(_intent(("coupon:c:total", 1, 10)), "order-1", _TTL)
    first, second = store.commit("order-1"), store.commit("order-1")
    _expect(first.status is _COMMITTED and second.status is _COMMITTED, f"commits gave {first}, {second}")
    _expect(store.used("coupon:c:total") == 1, "a second commit moved the counter")
    _expect(first.expires_at is None, "a committed reservation should not expire")
    _raises(RedemptionError, lambda: store.commit("never-reserved"), "committing an unknown key")
    return "a second commit is harmless; committing an unknown key raises"


def _release(factory: StoreFactory) -> str:
    store, _ = _fresh(factory)
    intent = _intent(("coupon:d:total", 1, 10))
    store.reserve(intent, "order-1", _TTL)
    released = store.release("order-1")
    _expect(released.status is ReservationStatus.RELEASED, f"release gave {released}")
    _expect(store.used("coupon:d:total") == 0, "release did not free the counter")
    _expect(store.release("order-1").status is ReservationStatus.RELEASED, "a second release is not harmless")
    _expect(store.used("coupon:d:total") == 0, "a second release moved the counter")
    _raises(RedemptionError, lambda: store.commit("order-1"), "committing a released key")
    store.release("lost-order")
    late = store.reserve(intent, "lost-order", _TTL)
    _expect(
        late.status is ReservationStatus.RELEASED and store.used("coupon:d:total") == 0,
        f"a reserve arriving after its release should do nothing, got {late}",
    )
    store.reserve(intent, "order-2", _TTL)
    store.commit("order-2")
    _raises(RedemptionError, lambda: store.release("order-2"), "releasing a committed key")
    return "release frees counters once; release before reserve wins; committed keys need revert"


def _expiry(factory: StoreFactory) -> str:
    store, clock = _fresh(factory)
    intent = _intent(("code:FLASH", 1, 1))
    held = store.reserve(intent, "order-1", _TTL)
    _expect(held.expires_at == clock() + _TTL, f"expires_at should be now + ttl, got {held.expires_at}")
    clock.advance(_TTL - timedelta(microseconds=1))
    _expect(store.used("code:FLASH") == 1, "a reservation was freed before its ttl elapsed")
    _expect(store.reserve(intent, "order-2", _TTL).status is ReservationStatus.REJECTED, "limit ignored")
    clock.advance(timedelta(microseconds=1))
    _expect(store.used("code:FLASH") == 0, "a reservation still holds its counter when its ttl has elapsed")
    _expect(store.status("order-1") is ReservationStatus.EXPIRED, "an elapsed reservation is not EXPIRED")
    _raises(RedemptionError, lambda: store.commit("order-1"), "committing an expired reservation")
    _expect(store.reserve(intent, "order-1", _TTL).status is ReservationStatus.EXPIRED, "expired key replay")
    _expect(store.reserve(intent, "order-3", _TTL).ok, "an expired reservation's counter could not be reused")
    _expect(store.release("order-1").status is ReservationStatus.EXPIRED, "releasing an expired key")
    _expect(store.used("code:FLASH") == 1, "releasing an expired key moved the counter")
    return "reservations hold for [reserved, reserved + ttl) and then free their counters"


def _refunds(factory: StoreFactory) -> str:
    store, _ = _fresh(factory)
    keys = ("coupon:e:total", "coupon:e:customer:c1", "coupon:e:budget")
    intent = _intent((keys[0], 1, 10), (keys[1], 1, 1), (keys[2], 1000, 5000))
    store.reserve(intent, "order-1", _TTL)
    _raises(RedemptionError, lambda: store.revert("order-1", 1, refund_key="r0"), "reverting before commit")
    store.commit("order-1")
    first = store.revert("order-1", Fraction(1, 3), refund_key="r1")
    _expect(dict(first.restored) == {keys[0]: 0, keys[1]: 0, keys[2]: 333}, f"a 1/3 refund gave {first}")
    _expect(
        [store.used(k) for k in keys] == [1, 1, 667], "a 1/3 refund should restore 333 of the budget only"
    )
    again = store.revert("order-1", Fraction(1, 3), refund_key="r1")
    _expect(again.replayed and [store.used(k) for k in keys] == [1, 1, 667], "a refund key counted twice")
    _raises(
        RedemptionError, lambda: store.revert("order-1", "1/2", refund_key="r1"), "r1 with another fraction"
    )
    rest = store.revert("order-1", Fraction(2, 3), refund_key="r2")
    _expect(rest.refunded == 1, f"after 1/3 + 2/3 the refunded share should be 1, got {rest.refunded}")
    _expect([store.used(k) for k in keys] == [0, 0, 0], "a full refund should restore usage and budget")
    _raises(RedemptionError, lambda: store.revert("order-1", "1/100", refund_key="r3"), "refunding over 1")
    _expect(
        store.reserve(_intent((keys[1], 1, 1)), "order-2", _TTL).ok, "the customer's use was not restored"
    )
    return "refunds restore the budget pro rata (rounded down), usage on full refund, once per refund key"


def _per_customer(factory: StoreFactory) -> str:
    store, _ = _fresh(factory)

    def order(customer: str) -> RedemptionIntent:
        return _intent(("coupon:f:total", 1, 100), (f"coupon:f:customer:{customer}", 1, 1))

    _expect(store.reserve(order("c1"), "o1", _TTL).ok, "the first use by c1 was rejected")
    second = store.reserve(order("c1"), "o2", _TTL)
    _expect(
        second.rejection is not None and second.rejection.key == "coupon:f:customer:c1",
        f"c1's second use should hit coupon:f:customer:c1, got {second}",
    )
    _expect(store.reserve(order("c2"), "o3", _TTL).ok, "c2 was limited by c1's use")
    _expect(store.used("coupon:f:total") == 2, "the total counter should count c1 and c2")
    return "per-customer counters are independent per customer id"


def _bad_input(factory: StoreFactory) -> str:
    store, _ = _fresh(factory)
    intent = _intent(("coupon:g:total", 1, 10))
    _raises(ValueError, lambda: store.reserve(intent, "o1", timedelta(0)), "a zero ttl")
    _raises(ValueError, lambda: store.reserve(intent, "", _TTL), "an empty idempotency key")
    store.reserve(intent, "o1", _TTL)
    store.commit("o1")
    _raises(ValueError, lambda: store.revert("o1", "3/2", refund_key="r1"), "a refund fraction over 1")
    _raises(ValueError, lambda: store.revert("o1", 0, refund_key="r1"), "a zero refund fraction")
    return "zero ttl, empty keys and fractions outside (0, 1] raise ValueError"


def _sqlite_worker(path: str, prefix: str, attempts: int, limit: int) -> int:
    """Reserve ``attempts`` times from a fresh process (for the cross-process test); the successes."""
    from user_ops.coupons._sqlite_store import SQLiteRedemptionStore

    with SQLiteRedemptionStore(path, synchronous="NORMAL") as store:
        intent = _intent(("coupon:processes:total", 1, limit))
        return sum(store.reserve(intent, f"{prefix}-{n}", _TTL).ok for n in range(attempts))

"""The redemption protocol (核销): usage counters that hold under concurrent checkouts.

The library stores nothing; the host does. A checkout turns its applied coupons into a
[`RedemptionIntent`][]: the counters to move (coupon total, per customer, per order, budget in minor
units, single-use code) each with its limit. A [`RedemptionStore`][] then

1. ``reserve(intent, idempotency_key, ttl)`` moves every counter or none (a limit would be exceeded:
   rejected, naming the counter), and holds them for ``ttl``; the outcome, a rejection too, is kept
   under the key and replayed to retries (a retry with another intent is refused);
2. ``commit(idempotency_key)`` makes the reservation permanent once the order is paid;
3. ``release(idempotency_key)`` gives the counters back if the order is abandoned; a reservation
   whose ``ttl`` elapsed without a commit frees its counters by itself (checked lazily, on the store's
   next call: no background job);
4. ``revert(idempotency_key, fraction, refund_key=...)`` gives back a refunded share of a committed
   redemption, exactly once per ``refund_key``.

Both stores shipped here also ``prune(older_than=...)`` keys after a retention period.

Counter key conventions (one intent usually holds several):

==========================================  ======  ===========================
key                                         amount  limit
==========================================  ======  ===========================
``coupon:{template_id}:total``              1       ``limits.total``
``coupon:{template_id}:customer:{id}``      1       ``limits.per_customer``
``coupon:{template_id}:order:{order_id}``   1       ``limits.per_order``
``coupon:{template_id}:budget``             minor   budget in minor units
``code:{code}``                             1       1 (single-use code)
==========================================  ======  ===========================

Examples
--------
>>> from datetime import datetime, timedelta, timezone
>>> store = MemoryRedemptionStore(clock=lambda: datetime(2024, 5, 1, tzinfo=timezone.utc))
>>> intent = RedemptionIntent(counters=(CounterMove(key="coupon:spring:total", amount=1, limit=1),))
>>> store.reserve(intent, "order-1", timedelta(minutes=15)).status
<ReservationStatus.RESERVED: 'reserved'>
>>> store.reserve(intent, "order-2", timedelta(minutes=15)).rejection.message
'coupon:spring:total: 1 of 1 used, 1 more would exceed the limit'
>>> store.commit("order-1").status, store.used("coupon:spring:total")
(<ReservationStatus.COMMITTED: 'committed'>, 1)
"""

from __future__ import annotations

import hashlib
import heapq
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import Field, field_validator

from user_ops._policy import PolicyModel
from user_ops._time import as_utc_us, require_aware
from user_ops.exceptions import ConfigError, DataError, UserOpsError

__all__ = [
    "Clock",
    "CounterMove",
    "MemoryRedemptionStore",
    "RedemptionError",
    "RedemptionIntent",
    "RedemptionStore",
    "Refund",
    "Rejection",
    "Reservation",
    "ReservationStatus",
    "utc_now",
]

#: A clock returns the current instant as a timezone-aware datetime.
Clock = Callable[[], datetime]

_MAX_KEY_LENGTH = 512
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: The largest counter value, amount or limit: what a SQLite INTEGER (and most databases' BIGINT) holds.
MAX_COUNT = 2**63 - 1
#: The latest representable instant, in UTC microseconds (an expiry must not pass it).
_MAX_US = as_utc_us(datetime.max.replace(tzinfo=timezone.utc))
_MIN_US = as_utc_us(datetime.min.replace(tzinfo=timezone.utc))
Moves = tuple[tuple[str, int], ...]


def utc_now() -> datetime:
    """The default clock: the current instant in UTC.

    Examples
    --------
    >>> utc_now().tzinfo is timezone.utc
    True
    """
    return datetime.now(timezone.utc)


class RedemptionError(UserOpsError, RuntimeError):
    """A redemption step is not allowed in the reservation's state (commit after expiry, release after
    commit, refunding more than was redeemed, an idempotency key reused for another intent, ...).

    Examples
    --------
    >>> store = MemoryRedemptionStore()
    >>> try:
    ...     store.commit("never-reserved")
    ... except RedemptionError as error:
    ...     print(error)
    cannot commit 'never-reserved': no reservation with this idempotency key
    """


class InvalidIntentError(DataError, ConfigError):
    """An invalid [`CounterMove`][] or [`RedemptionIntent`][]: a [`DataError`][] (an
    intent is per-request data), and still a [`ConfigError`][], which it raised before.

    Examples
    --------
    >>> try:
    ...     CounterMove(key="coupon:a:total", amount=-1)
    ... except DataError as error:
    ...     print(str(error).splitlines()[0])
    invalid CounterMove: amount: Input should be greater than or equal to 0
    """


def _no_bool(value: object, name: str) -> object:
    """``True`` is an int to Python and pydantic; as a count or a limit it is a bug in the caller."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, not a boolean ({value!r})")
    return value


class CounterMove(PolicyModel):
    """Add ``amount`` to the counter ``key``, allowed only while the result stays within ``limit``.

    Invalid fields raise ``InvalidIntentError`` (a [`DataError`][]) naming the field.

    Parameters
    ----------
    key : str
        Counter name, by the conventions of this module (``coupon:{template_id}:total``, ...): 1 to 512
        characters of valid Unicode (no lone surrogates: every store must be able to write it).
    amount : int
        How much to add, 0 to ``2**63 - 1``: 1 for a usage count, the discount in minor units for a
        budget counter.
    limit : int or None
        The largest value the counter may reach, 0 to ``2**63 - 1``; ``None`` for no limit (the move is
        only counted; a counter still cannot pass ``2**63 - 1``, the largest integer SQLite stores).

    Examples
    --------
    >>> CounterMove(key="coupon:spring:budget", amount=1200, limit=500_000).amount
    1200
    """

    invalid_input_error: ClassVar[type[UserOpsError]] = InvalidIntentError

    key: str = Field(min_length=1, max_length=_MAX_KEY_LENGTH)
    amount: int = Field(ge=0, le=MAX_COUNT)
    limit: int | None = Field(default=None, ge=0, le=MAX_COUNT)

    @field_validator("amount", "limit", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: object, info: Any) -> object:
        return _no_bool(value, info.field_name)


class RedemptionIntent(PolicyModel):
    """The counters one redemption moves, all or none.

    Parameters
    ----------
    counters : tuple of CounterMove
        At least one move; each key at most once.
    placed_at : datetime, optional
        When the order was placed (timezone-aware, kept in UTC), if the host wants it to tell orders
        apart: it moves no counter, but a key reused for an order placed at another instant is refused
        as a different intent (the same instant in another time zone is the same intent).

    Examples
    --------
    >>> intent = RedemptionIntent(counters=(
    ...     CounterMove(key="coupon:spring:total", amount=1, limit=1000),
    ...     CounterMove(key="coupon:spring:customer:c42", amount=1, limit=1),
    ... ))
    >>> [move.key for move in intent.counters]
    ['coupon:spring:total', 'coupon:spring:customer:c42']
    """

    invalid_input_error: ClassVar[type[UserOpsError]] = InvalidIntentError

    counters: tuple[CounterMove, ...] = Field(min_length=1)
    placed_at: datetime | None = None

    @field_validator("placed_at")
    @classmethod
    def _aware_utc(cls, value: datetime | None) -> datetime | None:
        # Kept in UTC: JSON writes offsets in whole minutes, so 1912 Abidjan's -00:16:08 would not survive.
        if value is None:
            return None
        us = as_utc_us(require_aware(value, name="placed_at"))
        if not _MIN_US <= us <= _MAX_US:
            raise ValueError(f"placed_at {value.isoformat()} is out of range in UTC")
        return _EPOCH + timedelta(microseconds=us)

    @field_validator("counters")
    @classmethod
    def _keys_once(cls, counters: tuple[CounterMove, ...]) -> tuple[CounterMove, ...]:
        seen: set[str] = set()
        for position, move in enumerate(counters):
            if move.key in seen:
                raise ValueError(f"counter key {move.key!r} appears twice (again at position {position})")
            seen.add(move.key)
        return counters

    def moves(self) -> Moves:
        """The ``(key, amount)`` pairs, in order."""
        return tuple((move.key, move.amount) for move in self.counters)

    def fingerprint(self) -> str:
        """SHA-256 (hex) of what the caller asks for: which counters move by how much, and ``placed_at``.

        A store compares it when an idempotency key comes back. The limits are left out (they are the
        templates' current settings, not the request: an operator raising a limit between a request and
        its retry must not make the retry a "different intent"), so is the order of the counters, and
        ``placed_at`` counts as an instant (UTC microseconds), whatever its time zone.

        Examples
        --------
        >>> from datetime import timedelta
        >>> placed = datetime(2024, 5, 1, 20, 0, tzinfo=timezone(timedelta(hours=8)))
        >>> a = RedemptionIntent(counters=(CounterMove(key="code:X", amount=1, limit=1),), placed_at=placed)
        >>> b = RedemptionIntent(counters=(CounterMove(key="code:X", amount=1, limit=5),),
        ...                      placed_at=placed.astimezone(timezone.utc))
        >>> a.fingerprint() == b.fingerprint(), a.content_hash() == b.content_hash()
        (True, False)
        """
        document = {
            "moves": sorted(self.moves()),
            "placed_at_us": None if self.placed_at is None else as_utc_us(self.placed_at),
        }
        canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ReservationStatus(str, Enum):
    """Where a reservation stands.

    ``RESERVED`` holds its counters until committed, released or expired; ``COMMITTED`` is permanent
    (refunds give counters back through ``revert``); ``RELEASED`` and ``EXPIRED`` hold nothing;
    ``REJECTED`` never held anything (a limit would have been exceeded); like every outcome it is
    remembered, so a retry with the same key gets the same rejection.

    Examples
    --------
    >>> ReservationStatus("committed") is ReservationStatus.COMMITTED
    True
    """

    RESERVED = "reserved"
    COMMITTED = "committed"
    RELEASED = "released"
    EXPIRED = "expired"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Rejection:
    """The counter that stopped a reservation: its current value, the limit and the requested amount.

    Examples
    --------
    >>> Rejection(key="coupon:spring:customer:c42", used=1, limit=1, amount=1).message
    'coupon:spring:customer:c42: 1 of 1 used, 1 more would exceed the limit'
    """

    key: str
    used: int
    limit: int
    amount: int

    @property
    def message(self) -> str:
        """A one-line explanation for logs (not for shoppers: it names internal counters)."""
        return f"{self.key}: {self.used} of {self.limit} used, {self.amount} more would exceed the limit"


@dataclass(frozen=True)
class Reservation:
    """The outcome of ``reserve``/``commit``/``release``: the reservation's status after the call.

    Attributes
    ----------
    idempotency_key : str
        The key the caller chose for this redemption (typically the order or payment attempt id).
    status : ReservationStatus
        ``RESERVED`` or ``COMMITTED`` mean the counters are held ([`ok`][]).
    replayed : bool
        True when ``reserve`` saw this key before and returned the stored outcome instead of moving
        counters again (an idempotent retry).
    expires_at : datetime or None
        When an uncommitted reservation frees its counters (UTC); ``None`` once committed.
    rejection : Rejection or None
        For ``REJECTED``: which counter hit its limit.
    refunded : Fraction
        Share of a committed redemption given back by ``revert`` so far (0 to 1).

    Examples
    --------
    >>> Reservation(idempotency_key="o1", status=ReservationStatus.COMMITTED).ok
    True
    """

    idempotency_key: str
    status: ReservationStatus
    replayed: bool = False
    expires_at: datetime | None = None
    rejection: Rejection | None = None
    refunded: Fraction = Fraction(0)

    @property
    def ok(self) -> bool:
        """True when the counters are held (reserved or committed)."""
        return self.status in (ReservationStatus.RESERVED, ReservationStatus.COMMITTED)


@dataclass(frozen=True)
class Refund:
    """The outcome of ``revert``: what one refund gave back.

    Attributes
    ----------
    idempotency_key, refund_key : str
        The redemption and the refund (a refund key counts once per redemption).
    fraction : Fraction
        The share of the redemption this refund covers.
    refunded : Fraction
        Cumulative share refunded after this refund.
    restored : tuple of (str, int)
        Amount given back to each counter by this refund (see ``refund_shares``).
    replayed : bool
        True when this refund key was applied before (nothing moved this time).

    Examples
    --------
    >>> Refund("o1", "r1", Fraction(1, 2), Fraction(1, 2), (("coupon:s:budget", 600),)).restored[0]
    ('coupon:s:budget', 600)
    """

    idempotency_key: str
    refund_key: str
    fraction: Fraction
    refunded: Fraction
    restored: tuple[tuple[str, int], ...]
    replayed: bool = False


@runtime_checkable
class RedemptionStore(Protocol):
    """What a host's store implements; [`user_ops.coupons.testing.check_store`][] verifies it.

    Semantics (identical in [`MemoryRedemptionStore`][] and ``SQLiteRedemptionStore``):

    - ``reserve`` is all-or-nothing over the intent's counters and atomic against concurrent callers
      (in other threads or processes). A known key returns the stored outcome with ``replayed=True``,
      a rejection included (nothing moves); the same key with another intent (another
      [`RedemptionIntent.fingerprint`][]: limits do not count) raises [`RedemptionError`][].
    - ``commit`` of a reserved key makes it permanent; committing twice is harmless. Committing a
      released, expired or unknown key raises [`RedemptionError`][] (the counters are no longer
      held, so the order must not go through with the coupon).
    - ``release`` frees a reservation; releasing twice, or an expired or rejected key, is harmless;
      releasing an unknown key records it as released, so a late ``reserve`` with that key does
      nothing. Releasing a committed key raises [`RedemptionError`][] (use ``revert``).
    - ``revert`` gives back a refunded ``fraction`` of a committed redemption, once per refund key; see
      ``refund_shares`` for the exact rounding.
    - ``used(key)`` reads a counter (0 if never moved); ``status(key)`` a reservation's status (``None``
      if unknown).

    Examples
    --------
    >>> isinstance(MemoryRedemptionStore(), RedemptionStore)    # structural: no base class needed
    True
    >>> isinstance(object(), RedemptionStore)
    False
    """

    def reserve(self, intent: RedemptionIntent, idempotency_key: str, ttl: timedelta) -> Reservation:
        """Hold every counter of ``intent`` for ``ttl``, or none of them."""
        ...

    def commit(self, idempotency_key: str) -> Reservation:
        """Make a reservation permanent."""
        ...

    def release(self, idempotency_key: str) -> Reservation:
        """Give a reservation's counters back."""
        ...

    def revert(self, idempotency_key: str, fraction: Fraction | int | str, *, refund_key: str) -> Refund:
        """Give back ``fraction`` of a committed redemption, once per ``refund_key``."""
        ...

    def used(self, key: str) -> int:
        """The current value of a counter."""
        ...

    def status(self, idempotency_key: str) -> ReservationStatus | None:
        """The status of a reservation, ``None`` if the key is unknown."""
        ...


# -- shared semantics (both stores call these, so they cannot drift apart) ---------------------------


def check_key(value: object, *, name: str) -> str:
    """A non-empty string of at most 512 characters of valid Unicode, else [`DataError`][]."""
    if not isinstance(value, str) or not value or len(value) > _MAX_KEY_LENGTH:
        raise DataError(
            f"{name} must be a non-empty string of at most {_MAX_KEY_LENGTH} characters, got {value!r}"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: no database can store it as text
        raise DataError(
            f"{name} must be valid Unicode text, got {value!r} (a lone surrogate at position {exc.start})"
        ) from None
    return value


def check_clock(clock: object) -> Clock:
    """``clock`` itself if it is callable, else [`DataError`][]."""
    if not callable(clock):
        raise DataError(f"clock must be a callable returning an aware datetime, got {clock!r}")
    return clock


def check_intent(intent: object) -> RedemptionIntent:
    """``intent`` itself if it is a [`RedemptionIntent`][], else [`DataError`][]."""
    if not isinstance(intent, RedemptionIntent):
        raise DataError(f"intent must be a RedemptionIntent, got {type(intent).__name__}")
    return intent


def ttl_us(ttl: object) -> int:
    """A positive ``timedelta`` in microseconds, else [`DataError`][]."""
    if not isinstance(ttl, timedelta):
        raise DataError(f"ttl must be a positive timedelta, got {ttl!r}")
    if ttl <= timedelta(0):
        raise DataError(f"ttl must be a positive timedelta, got {ttl}")
    lifetime = _us(ttl)
    if lifetime > _MAX_US:
        raise DataError(f"ttl {ttl} is too long: a reservation cannot expire after 9999-12-31")
    return lifetime


def expiry_us(now: int, lifetime: int) -> int:
    """``now + lifetime``, if it is an instant a datetime can hold, else [`DataError`][]."""
    if now + lifetime > _MAX_US:
        raise DataError(
            f"ttl {timedelta(microseconds=lifetime)} is too long: from {instant(now)} the reservation "
            "would expire after 9999-12-31"
        )
    return now + lifetime


def _us(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def now_us(clock: Clock) -> int:
    """The clock's instant in UTC microseconds; a naive clock raises [`DataError`][]."""
    return as_utc_us(require_aware(clock(), name="the store's clock()"))


def instant(us: int | None) -> datetime | None:
    """UTC microseconds back to an aware datetime."""
    return None if us is None else _EPOCH + timedelta(microseconds=us)


def as_fraction(value: object) -> Fraction:
    """A refund fraction in (0, 1] from a Fraction, int, Decimal or string (``"1/3"``, ``"0.5"``).

    Floats are refused: ``0.1`` is not one tenth in binary, and refunds must be exact.

    Examples
    --------
    >>> as_fraction("1/3"), as_fraction("0.25"), as_fraction(1)
    (Fraction(1, 3), Fraction(1, 4), Fraction(1, 1))
    """
    if isinstance(value, bool) or not isinstance(value, (Fraction, int, Decimal, str)):
        raise DataError(
            f"fraction must be a Fraction, int, Decimal or string like '1/3' (not a float), got {value!r}"
        )
    # Fraction() of "1e-999999999" (or the same Decimal) computes 10**999999999 first: refuse exponents.
    if (isinstance(value, str) and not _FRACTION_TEXT.fullmatch(value)) or (
        isinstance(value, Decimal) and (not value.is_finite() or abs(int(value.as_tuple().exponent)) > 40)
    ):
        raise DataError(f"fraction {value!r} is not a number like '1/3' or '0.5'")
    try:
        fraction = Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise DataError(f"fraction {value!r} is not a number like '1/3' or '0.5'") from None
    if not 0 < fraction <= 1:
        raise DataError(f"fraction must be in (0, 1], got {fraction}")
    return fraction


_FRACTION_TEXT = re.compile(r"\s*(?:\d{1,40}(?:\s*/\s*\d{1,40})?|\d{0,40}\.\d{1,40})\s*", re.ASCII)


def refund_shares(moves: Moves, before: Fraction, after: Fraction) -> tuple[tuple[str, int], ...]:
    """How much each counter gets back when the refunded share grows from ``before`` to ``after``.

    A counter that moved by ``amount`` has been given back ``floor(amount × refunded)`` in total after
    any sequence of refunds. So the budget is restored in proportion to the refunded share, rounded
    down (never more than was spent), and the refund that completes the order restores it exactly;
    a usage count (amount 1) comes back only with a full refund.

    Examples
    --------
    >>> moves = (("coupon:s:total", 1), ("coupon:s:budget", 1000))
    >>> refund_shares(moves, Fraction(0), Fraction(1, 3))
    (('coupon:s:total', 0), ('coupon:s:budget', 333))
    >>> refund_shares(moves, Fraction(1, 3), Fraction(1))
    (('coupon:s:total', 1), ('coupon:s:budget', 667))
    """
    return tuple((key, _floor(amount * after) - _floor(amount * before)) for key, amount in moves)


def _floor(value: Fraction) -> int:
    return value.numerator // value.denominator


def next_refunded(idempotency_key: str, refunded: Fraction, fraction: Fraction) -> Fraction:
    """The refunded share after one more refund; over 1 raises [`RedemptionError`][]."""
    after = refunded + fraction
    if after > 1:
        raise RedemptionError(
            f"cannot revert {fraction} of {idempotency_key!r}: {refunded} is already refunded and the "
            "total would exceed 1"
        )
    return after


def encode_moves(moves: Moves) -> str:
    """Moves as compact JSON text (for stores that keep them in a text column)."""
    return json.dumps([list(move) for move in moves], separators=(",", ":"))


def decode_moves(text: str) -> Moves:
    """Inverse of [`encode_moves`][]."""
    return tuple((str(key), int(amount)) for key, amount in json.loads(text))


def first_over_limit(intent: RedemptionIntent, used: Callable[[str], int]) -> Rejection | None:
    """The first counter of ``intent`` that its move would push over its limit, if any."""
    for move in intent.counters:
        limit = effective_limit(move.limit)
        current = used(move.key)
        if current > limit - move.amount:
            return Rejection(key=move.key, used=current, limit=limit, amount=move.amount)
    return None


def effective_limit(limit: int | None) -> int:
    """A move's limit; without one, the largest count a store can hold ([`MAX_COUNT`][])."""
    return MAX_COUNT if limit is None else limit


def check_same_intent(idempotency_key: str, stored: str, intent: RedemptionIntent, fingerprint: str) -> None:
    """Raise [`RedemptionError`][] when a known key comes back with another intent.

    ``stored`` is the fingerprint kept with the key: empty for a release that came first (any intent
    matches), or, for keys stored before fingerprints existed, the intent's ``content_hash()``.
    """
    if stored and stored != fingerprint and stored != intent.content_hash():
        raise mismatch_error(idempotency_key)


def retention_cutoff_us(now: int, older_than: object) -> int:
    """The instant before which a finished key's last change makes it prunable, else DataError."""
    if not isinstance(older_than, timedelta):
        raise DataError(f"older_than must be a positive timedelta, got {older_than!r}")
    if older_than <= timedelta(0):
        raise DataError(f"older_than must be a positive timedelta, got {older_than}")
    if _us(older_than) > now - _MIN_US:
        raise DataError(f"older_than {older_than} is too long: from {instant(now)} it reaches before year 1")
    return now - _us(older_than)


def encode_rejection(rejection: Rejection | None) -> str | None:
    """A rejection as compact JSON text (for stores that keep it in a text column)."""
    if rejection is None:
        return None
    return json.dumps(
        [rejection.key, rejection.used, rejection.limit, rejection.amount], separators=(",", ":")
    )


def decode_rejection(text: str | None) -> Rejection | None:
    """Inverse of [`encode_rejection`][]."""
    if text is None:
        return None
    key, used, limit, amount = json.loads(text)
    return Rejection(key=str(key), used=int(used), limit=int(limit), amount=int(amount))


def mismatch_error(idempotency_key: str) -> RedemptionError:
    """The error for a key reused with a different intent (a client bug, or two orders sharing a key)."""
    return RedemptionError(
        f"idempotency key {idempotency_key!r} was already used for a different intent; use a new key per "
        "redemption attempt"
    )


def state_error(action: str, idempotency_key: str, status: ReservationStatus | None) -> RedemptionError:
    """The error for ``commit``/``release``/``revert`` in a state that does not allow it."""
    why = {
        None: "no reservation with this idempotency key",
        ReservationStatus.RESERVED: "it is reserved but not committed (commit it, or release it instead)",
        ReservationStatus.COMMITTED: "it is committed (refund with revert(...) instead)",
        ReservationStatus.RELEASED: "it was released; its counters are no longer held",
        ReservationStatus.EXPIRED: "its reservation expired (ttl elapsed); its counters are no longer held",
        ReservationStatus.REJECTED: "it was rejected (a limit was reached) and holds nothing; a new attempt "
        "needs a new idempotency key",
    }[status]
    return RedemptionError(f"cannot {action} {idempotency_key!r}: {why}")


# -- the in-memory store ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Held:
    """One remembered idempotency key (mutable: only touched under the store's lock)."""

    fingerprint: str
    moves: Moves
    status: ReservationStatus
    expires_us: int | None
    updated_us: int  # the instant of the last change (an expiry counts at its expiry instant)
    rejection: Rejection | None = None
    refunded: Fraction = Fraction(0)
    refunds: dict[str, Refund] = field(default_factory=dict)


class MemoryRedemptionStore:
    """A [`RedemptionStore`][] in a dict, for tests, single-process hosts and as the reference.

    Thread-safe: one lock around every call. Expired reservations free their counters lazily, at the
    start of the next call (a heap of expiry instants, so each call costs O(log n) plus what expired).

    Parameters
    ----------
    clock : callable, optional
        Returns the current aware datetime; inject a fake one in tests. Default: UTC now.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> now = [datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)]
    >>> store = MemoryRedemptionStore(clock=lambda: now[0])
    >>> intent = RedemptionIntent(counters=(CounterMove(key="code:WELCOME", amount=1, limit=1),))
    >>> store.reserve(intent, "cart-7", timedelta(minutes=10)).ok
    True
    >>> now[0] += timedelta(minutes=10)          # ttl elapsed: the code is free again
    >>> store.used("code:WELCOME"), store.status("cart-7")
    (0, <ReservationStatus.EXPIRED: 'expired'>)
    """

    def __init__(self, *, clock: Clock = utc_now) -> None:
        self._clock = check_clock(clock)
        self._lock = threading.Lock()
        self._counters: dict[str, int] = {}
        self._held: dict[str, _Held] = {}
        self._expiries: list[tuple[int, str]] = []

    def reserve(self, intent: RedemptionIntent, idempotency_key: str, ttl: timedelta) -> Reservation:
        """Hold every counter of ``intent`` for ``ttl``, or none (see [`RedemptionStore`][])."""
        check_intent(intent)
        check_key(idempotency_key, name="idempotency_key")
        lifetime = ttl_us(ttl)
        fingerprint, moves = intent.fingerprint(), intent.moves()  # outside the lock: other threads wait
        with self._lock:
            now = self._sweep()
            held = self._held.get(idempotency_key)
            if held is not None:
                check_same_intent(idempotency_key, held.fingerprint, intent, fingerprint)
                return self._result(idempotency_key, held, replayed=True)
            expires = expiry_us(now, lifetime)
            rejection = first_over_limit(intent, lambda key: self._counters.get(key, 0))
            if rejection is not None:
                held = _Held(fingerprint, (), ReservationStatus.REJECTED, None, now, rejection)
            else:
                held = _Held(fingerprint, moves, ReservationStatus.RESERVED, expires, now)
                self._add(held.moves, sign=1)
                heapq.heappush(self._expiries, (expires, idempotency_key))
            self._held[idempotency_key] = held
            return self._result(idempotency_key, held, replayed=False)

    def commit(self, idempotency_key: str) -> Reservation:
        """Make a reservation permanent; a second commit returns the same result."""
        check_key(idempotency_key, name="idempotency_key")
        with self._lock:
            now = self._sweep()
            held = self._held.get(idempotency_key)
            status = None if held is None else held.status
            if held is None or status not in (ReservationStatus.RESERVED, ReservationStatus.COMMITTED):
                raise state_error("commit", idempotency_key, status)
            if held.status is ReservationStatus.RESERVED:
                held.status, held.expires_us, held.updated_us = ReservationStatus.COMMITTED, None, now
            return self._result(idempotency_key, held, replayed=False)

    def release(self, idempotency_key: str) -> Reservation:
        """Free a reservation's counters; harmless when already released, expired or rejected."""
        check_key(idempotency_key, name="idempotency_key")
        with self._lock:
            now = self._sweep()
            held = self._held.get(idempotency_key)
            if held is None:  # a tombstone: a reserve arriving late with this key does nothing
                held = _Held("", (), ReservationStatus.RELEASED, None, now)
                self._held[idempotency_key] = held
            elif held.status is ReservationStatus.COMMITTED:
                raise state_error("release", idempotency_key, held.status)
            elif held.status is ReservationStatus.RESERVED:
                self._add(held.moves, sign=-1)
                held.status, held.expires_us, held.updated_us = ReservationStatus.RELEASED, None, now
            return self._result(idempotency_key, held, replayed=False)

    def revert(self, idempotency_key: str, fraction: Fraction | int | str, *, refund_key: str) -> Refund:
        """Give back ``fraction`` of a committed redemption, once per ``refund_key``."""
        check_key(idempotency_key, name="idempotency_key")
        check_key(refund_key, name="refund_key")
        share = as_fraction(fraction)
        with self._lock:
            now = self._sweep()
            held = self._held.get(idempotency_key)
            if held is None or held.status is not ReservationStatus.COMMITTED:
                raise state_error("revert", idempotency_key, None if held is None else held.status)
            done = held.refunds.get(refund_key)
            if done is not None:
                return replayed_refund(done, share)
            after = next_refunded(idempotency_key, held.refunded, share)
            restored = refund_shares(held.moves, held.refunded, after)
            self._add(restored, sign=-1)
            refund = Refund(idempotency_key, refund_key, share, after, restored)
            held.refunds[refund_key] = refund
            held.refunded, held.updated_us = after, now
            return refund

    def used(self, key: str) -> int:
        """The current value of counter ``key`` (0 if never moved)."""
        check_key(key, name="key")
        with self._lock:
            self._sweep()
            return self._counters.get(key, 0)

    def status(self, idempotency_key: str) -> ReservationStatus | None:
        """The status of a reservation, ``None`` if the key is unknown."""
        check_key(idempotency_key, name="idempotency_key")
        with self._lock:
            self._sweep()
            held = self._held.get(idempotency_key)
            return None if held is None else held.status

    def prune(self, *, older_than: timedelta) -> int:
        """Forget idempotency keys whose last change is more than ``older_than`` ago; how many.

        Reservations still held are kept; committed, released, expired and rejected keys go, with their
        refund keys (counters stay as they are). A retry under a forgotten key is a new redemption, and
        a refund of a forgotten redemption raises, so choose ``older_than`` longer than your clients
        retry and your refunds arrive.

        Examples
        --------
        >>> from datetime import datetime, timedelta, timezone
        >>> now = [datetime(2024, 5, 1, tzinfo=timezone.utc)]
        >>> store = MemoryRedemptionStore(clock=lambda: now[0])
        >>> intent = RedemptionIntent(counters=(CounterMove(key="code:A", amount=1, limit=1),))
        >>> store.commit(store.reserve(intent, "order-1", timedelta(minutes=15)).idempotency_key).status.value
        'committed'
        >>> now[0] += timedelta(days=31)
        >>> store.prune(older_than=timedelta(days=30)), store.status("order-1"), store.used("code:A")
        (1, None, 1)
        """
        with self._lock:
            cutoff = retention_cutoff_us(self._sweep(), older_than)
            old = [
                key
                for key, held in self._held.items()
                if held.status is not ReservationStatus.RESERVED and held.updated_us < cutoff
            ]
            for key in old:
                del self._held[key]
            return len(old)

    def _sweep(self) -> int:
        """Expire reservations whose ttl elapsed (expiry instant <= now); return now."""
        now = now_us(self._clock)
        while self._expiries and self._expiries[0][0] <= now:
            expires, key = heapq.heappop(self._expiries)
            held = self._held.get(key)
            # The entry may be stale: released (or committed) since, or pruned and the key reused.
            if held is not None and held.status is ReservationStatus.RESERVED and held.expires_us == expires:
                self._add(held.moves, sign=-1)
                held.status, held.expires_us, held.updated_us = ReservationStatus.EXPIRED, None, expires
        return now

    def _add(self, moves: Iterable[tuple[str, int]], *, sign: int) -> None:
        for key, amount in moves:
            self._counters[key] = self._counters.get(key, 0) + sign * amount

    @staticmethod
    def _result(idempotency_key: str, held: _Held, *, replayed: bool) -> Reservation:
        return Reservation(
            idempotency_key,
            held.status,
            replayed=replayed,
            expires_at=instant(held.expires_us),
            rejection=held.rejection,
            refunded=held.refunded,
        )


def replayed_refund(done: Refund, share: Fraction) -> Refund:
    """A stored refund returned again for a retry (same fraction), else [`RedemptionError`][]."""
    if done.fraction != share:
        raise RedemptionError(
            f"refund key {done.refund_key!r} of {done.idempotency_key!r} was already used for a refund of "
            f"{done.fraction}, not {share}; use a new refund key per refund"
        )
    return Refund(done.idempotency_key, done.refund_key, done.fraction, done.refunded, done.restored, True)

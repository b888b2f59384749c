"""``PointsPolicy``: how points (积分) are earned, when they become spendable, expire and are spent.

The policy is data (frozen pydantic, JSON round trip, JSON Schema); its earning helpers turn an order
into the exact integer points of an ``earn`` [`LedgerEntry`][], so a host never
computes points with floats of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from dateutil.relativedelta import relativedelta
from pydantic import Field, field_validator, model_validator

from user_ops._money import Money, Rounding, round_ratio
from user_ops._policy import PolicyModel
from user_ops._time import (
    Duration,
    _from_wall_clock,
    get_tz,
    local_us,
    parse_duration,
    require_aware,
    wall_to_utc_us,
)
from user_ops.exceptions import DataError
from user_ops.membership.points._entry import LedgerEntry

__all__ = ["NEVER_US", "EventReward", "OrderLine", "PointsPolicy", "add_duration", "lot_dates_us"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
#: Microseconds "expires_at" of points that never expire: after every real instant.
NEVER_US = 2**62
_US_PER_DAY = 86_400 * 1_000_000

ExpiryMode = Literal["never", "after", "end_of_month", "end_of_year"]


class EventReward(PolicyModel):
    """Points for an event such as the daily check-in (签到), with an optional cap per local day.

    Parameters
    ----------
    points:
        Points per occurrence, above 0 (an integer).
    daily_limit:
        Rewards per local day of the policy's ``tz`` at most; one more is refused (``DAILY_CAP``).
    label_en:
        What a member reads, in English.
    label_zh:
        What a member reads, in Chinese.

    Examples
    --------
    >>> EventReward(points=5, daily_limit=1, label_zh="每日签到").points
    5
    """

    points: int = Field(gt=0, strict=True)
    daily_limit: int | None = Field(default=None, ge=1, strict=True)
    label_en: str = ""
    label_zh: str = ""


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One order line as the earning rules see it.

    ``amount`` is what the customer paid for the line (after discounts, a [`Money`][]);
    ``eligible=False`` marks lines the host excludes itself (gift cards, shipping fees...).

    Examples
    --------
    >>> OrderLine(Money("59.90", "CNY"), category="hotpot").eligible
    True
    """

    amount: Money
    category: str | None = None
    product: str | None = None
    eligible: bool = True


def add_duration(instant: datetime, duration: Duration, tz: tzinfo) -> datetime:
    """``instant`` plus ``duration``: calendar parts on ``tz``'s wall clock, elapsed parts exact.

    Examples
    --------
    >>> add_duration(datetime(2024, 1, 31, tzinfo=timezone.utc), parse_duration("1mo"), timezone.utc)
    datetime.datetime(2024, 2, 29, 0, 0, tzinfo=datetime.timezone.utc)
    """
    local = instant.astimezone(tz)
    if duration.is_calendar:
        wall = local.replace(tzinfo=None) + relativedelta(months=duration.months, days=duration.days)
        local = _from_wall_clock(wall, tz)
    # Elapsed units are exact: add them in UTC (aware arithmetic within one zone is wall-clock time).
    return (local.astimezone(timezone.utc) + timedelta(seconds=duration.seconds)).astimezone(tz)


def _start_of_next_month(instant: datetime, tz: tzinfo, *, year: bool) -> datetime:
    local = instant.astimezone(tz)
    if year or local.month == 12:
        wall = datetime(local.year + 1, 1, 1)
    else:
        wall = datetime(local.year, local.month + 1, 1)
    return _from_wall_clock(wall, tz)


class PointsPolicy(PolicyModel):
    """A points programme: earning, pending period, expiry, redemption order and refunds.

    Parameters
    ----------
    name:
        The programme's name, for people.
    earn_points, earn_per:
        ``earn_points`` points per ``earn_per`` of eligible spend (default 1 point per 1.00 CNY).
    rounding:
        How a fractional result becomes whole points (default ``down``: 不足 1 积分不计).
    tier_multipliers:
        Multiplier per tier code (``{"gold": "1.5"}``, exact decimals); tiers not listed earn 1×.
    excluded_categories, excluded_products:
        Lines in these categories / of these products earn nothing.
    max_points_per_order:
        Optional cap on the points one order earns.
    events:
        Event rewards by name (``{"check_in": EventReward(points=5, daily_limit=1)}``).
    pending_period:
        Duration (``"7d"``) order points stay pending (冻结期/待生效, e.g. the return window) before they
        can be spent; event rewards and adjustments are available at once.
    expiry, expiry_after:
        ``never``; ``after`` — ``expiry_after`` (``"365d"``, ``"12mo"``) after earning; ``end_of_month``
        / ``end_of_year`` — at the end of the month / year in which ``expiry_after`` (whole months,
        ``"12mo"``) after earning falls, on the calendar of ``tz``.
    expiry_from:
        Count expiry from ``earned`` (default) or from ``available`` (the end of the pending period).
    redemption_order:
        ``soonest_expiring`` (default; ties by earning time) or ``fifo`` (oldest earned first).
    redeem_minimum, redeem_step:
        Smallest redemption and its granularity (e.g. 100 and 100: redeem in hundreds).
    clawback_on_refund:
        Whether ``revert`` entries (order refunds) take earned points back.
    negative_balance:
        When a clawback or deduction exceeds the balance: ``allow`` a debt that later points pay off
        first, or ``cap`` at the balance and write the rest off.
    restore_expired:
        When a redemption is refunded after the lot it used has expired: ``forfeit`` (the points
        return and expire at once) or ``reissue`` (they return as a new lot expiring by the policy
        counted from the refund).
    tz:
        Business time zone for calendar expiry and daily caps (default: ``as_of``'s zone).

    Examples
    --------
    >>> policy = PointsPolicy(earn_points=1, earn_per=Money("1.00", "CNY"),
    ...                       tier_multipliers={"gold": Decimal("1.5")}, expiry="end_of_year",
    ...                       expiry_after="12mo", tz="Asia/Shanghai")
    >>> policy.points_for_order([OrderLine(Money("99.90", "CNY"))], tier="gold")
    149
    >>> PointsPolicy.from_json(policy.to_json()) == policy
    True
    """

    name: str = "points"
    earn_points: int = Field(default=1, ge=0, strict=True)
    earn_per: Money = Money("1.00", "CNY")
    rounding: Rounding = Rounding.DOWN
    tier_multipliers: dict[str, Decimal] = Field(default_factory=dict)
    excluded_categories: tuple[str, ...] = ()
    excluded_products: tuple[str, ...] = ()
    max_points_per_order: int | None = Field(default=None, ge=0, strict=True)
    events: dict[str, EventReward] = Field(default_factory=dict)
    pending_period: str | None = None
    expiry: ExpiryMode = "never"
    expiry_after: str = "0d"
    expiry_from: Literal["earned", "available"] = "earned"
    redemption_order: Literal["soonest_expiring", "fifo"] = "soonest_expiring"
    redeem_minimum: int = Field(default=1, ge=1, strict=True)
    redeem_step: int = Field(default=1, ge=1, strict=True)
    clawback_on_refund: bool = True
    negative_balance: Literal["allow", "cap"] = "allow"
    restore_expired: Literal["forfeit", "reissue"] = "forfeit"
    tz: str | None = None

    @field_validator("earn_per")
    @classmethod
    def _positive_unit(cls, value: Money) -> Money:
        if value.minor <= 0:
            raise ValueError(f"earn_per must be a positive amount, got {value}")
        return value

    @field_validator("tier_multipliers")
    @classmethod
    def _multipliers(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for tier, factor in value.items():
            if not factor.is_finite() or factor < 0:
                raise ValueError(f"tier multiplier of {tier!r} must be a finite number >= 0, got {factor}")
        return value

    @field_validator("pending_period", "expiry_after")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_duration(value)
            except DataError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                get_tz(value)
            except DataError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PointsPolicy:
        after = parse_duration(self.expiry_after)
        if self.expiry in ("end_of_month", "end_of_year") and (after.days or after.seconds):
            raise ValueError(f"expiry {self.expiry!r} counts whole months: expiry_after must be like '12mo'")
        if self.expiry == "after" and after == Duration():
            raise ValueError("expiry 'after' needs a positive expiry_after such as '365d' or '12mo'")
        if self.redeem_minimum % self.redeem_step:
            raise ValueError("redeem_minimum must be a multiple of redeem_step")
        return self

    # -- time ------------------------------------------------------------------------------------------
    def zone(self, as_of: datetime | None = None) -> tzinfo:
        """The business time zone: ``tz``, else ``as_of``'s zone (UTC when neither is known)."""
        if self.tz is not None:
            return get_tz(self.tz)
        if as_of is not None and as_of.tzinfo is not None:
            return as_of.tzinfo
        return get_tz(None)

    def available_at(self, earned_at: datetime, *, pending: bool = True) -> datetime:
        """When points earned at ``earned_at`` become spendable (after ``pending_period`` if ``pending``).

        Examples
        --------
        >>> from datetime import timezone
        >>> PointsPolicy(pending_period="7d").available_at(datetime(2024, 3, 1, tzinfo=timezone.utc))
        datetime.datetime(2024, 3, 8, 0, 0, tzinfo=datetime.timezone.utc)
        """
        if not pending or self.pending_period is None:
            return earned_at
        return add_duration(earned_at, parse_duration(self.pending_period), self.zone(earned_at))

    def expires_at(self, earned_at: datetime, *, available_at: datetime | None = None) -> datetime | None:
        """First instant at which points earned at ``earned_at`` are expired (``None``: never).

        Validity is half-open, ``[earned_at, expires_at)``: at ``expires_at`` itself they are gone.

        Examples
        --------
        >>> from datetime import timezone
        >>> p = PointsPolicy(expiry="end_of_year", expiry_after="12mo", tz="Asia/Shanghai")
        >>> p.expires_at(datetime(2024, 3, 15, tzinfo=timezone.utc)).isoformat()
        '2026-01-01T00:00:00+08:00'
        """
        if self.expiry == "never":
            return None
        start = available_at if self.expiry_from == "available" and available_at is not None else earned_at
        tz = self.zone(start)
        anchor = add_duration(start, parse_duration(self.expiry_after), tz)
        if self.expiry == "after":
            return anchor
        return _start_of_next_month(anchor, tz, year=self.expiry == "end_of_year")

    # -- earning -------------------------------------------------------------------------------------
    def multiplier(self, tier: str | None) -> Decimal:
        """The earning multiplier of ``tier`` (1 for ``None`` or a tier without one)."""
        if tier is None:
            return Decimal(1)
        return self.tier_multipliers.get(tier, Decimal(1))

    def eligible_spend(self, lines: Iterable[OrderLine | Mapping[str, Any]]) -> Money:
        """The spend that earns points: eligible lines outside the excluded categories and products.

        Negative lines (a discount written as its own line) reduce it; the total is at least zero.

        Examples
        --------
        >>> p = PointsPolicy(excluded_categories=("gift_card",))
        >>> lines = [{"amount": Money("30.00"), "category": "gift_card"}, {"amount": Money("12.50")}]
        >>> p.eligible_spend(lines)
        Money('12.50', 'CNY')
        """
        total = 0
        excluded_categories = set(self.excluded_categories)
        excluded_products = set(self.excluded_products)
        for position, raw in enumerate(lines):
            line = _coerce_line(raw, position, self.earn_per)
            if not line.eligible or line.category in excluded_categories or line.product in excluded_products:
                continue
            total += line.amount.minor
        return Money.from_minor(max(total, 0), self.earn_per.currency)

    def points_for_order(
        self, lines: Iterable[OrderLine | Mapping[str, Any]], *, tier: str | None = None
    ) -> int:
        """The exact whole points an order earns: eligible spend × rate × tier multiplier, rounded once.

        Examples
        --------
        >>> p = PointsPolicy(earn_per=Money("10.00", "CNY"), tier_multipliers={"gold": Decimal("2")})
        >>> lines = [OrderLine(Money("99.90", "CNY"))]
        >>> p.points_for_order(lines), p.points_for_order(lines, tier="gold")
        (9, 19)
        """
        spend = self.eligible_spend(lines).minor
        factor_num, factor_den = self.multiplier(tier).as_integer_ratio()
        points = round_ratio(
            spend * self.earn_points * factor_num, self.earn_per.minor * factor_den, self.rounding
        )
        if self.max_points_per_order is not None:
            points = min(points, self.max_points_per_order)
        return points

    def earn_entries(
        self,
        lines: Iterable[OrderLine | Mapping[str, Any]],
        *,
        order_id: str,
        at: datetime,
        tier: str | None = None,
        customer_id: str | int | None = None,
        key: str | None = None,
        stamp: bool = False,
    ) -> list[LedgerEntry]:
        """The ``earn`` entries of an order (none when it earns no points).

        ``key`` defaults to ``"earn:<order_id>"``. With ``stamp=True`` the entry carries the
        ``available_at`` / ``expires_at`` this policy gives it, so a later policy change does not
        move the dates of points already earned.

        Examples
        --------
        >>> from datetime import timezone
        >>> [e] = PointsPolicy().earn_entries([OrderLine(Money("88.00"))], order_id="A1",
        ...                                    at=datetime(2024, 5, 1, tzinfo=timezone.utc))
        >>> e.key, e.kind, e.points
        ('earn:A1', 'earn', 88)
        """
        at = require_aware(at, name="at")
        points = self.points_for_order(lines, tier=tier)
        if points == 0:
            return []
        available = self.available_at(at) if stamp else None
        expires = self.expires_at(at, available_at=self.available_at(at)) if stamp else None
        return [
            LedgerEntry(
                key=key or f"earn:{order_id}",
                kind="earn",
                points=points,
                at=at,
                order_id=order_id,
                customer_id=customer_id,
                available_at=available,
                expires_at=expires,
            )
        ]

    def event_entry(
        self, event: str, *, at: datetime, key: str, customer_id: str | int | None = None
    ) -> LedgerEntry:
        """The ``earn`` entry of an event reward; the daily cap is enforced by ``replay``.

        Examples
        --------
        >>> from datetime import timezone
        >>> p = PointsPolicy(events={"check_in": EventReward(points=5, daily_limit=1)})
        >>> p.event_entry("check_in", at=datetime(2024, 5, 1, tzinfo=timezone.utc), key="ci:0501").points
        5
        """
        reward = self.events.get(event)
        if reward is None:
            raise DataError(
                f"unknown event {event!r}; the policy rewards {sorted(self.events) or 'no events'}"
            )
        return LedgerEntry(
            key=key, kind="earn", points=reward.points, at=at, event=event, customer_id=customer_id
        )

    def revert_entries(
        self,
        original: LedgerEntry,
        *,
        at: datetime,
        key: str | None = None,
        remaining_lines: Sequence[OrderLine | Mapping[str, Any]] | None = None,
        tier: str | None = None,
        already_reverted: int = 0,
    ) -> list[LedgerEntry]:
        """The ``revert`` entries that claw back an order's points after a refund (退款回收).

        A full refund (``remaining_lines=None``) takes back all of ``original``'s points. A partial
        refund takes back what the order no longer earns: ``original.points`` minus the points of the
        lines it keeps (the same rounding as earning, so partial refunds never take back more than was
        given) minus ``already_reverted`` by earlier partial refunds. Empty when
        ``clawback_on_refund`` is off or nothing is due.

        Examples
        --------
        >>> from datetime import timezone
        >>> p = PointsPolicy()
        >>> [earn] = p.earn_entries([OrderLine(Money("60.00")), OrderLine(Money("40.00"))], order_id="B7",
        ...                         at=datetime(2024, 5, 1, tzinfo=timezone.utc))
        >>> [back] = p.revert_entries(earn, at=datetime(2024, 5, 3, tzinfo=timezone.utc),
        ...                           remaining_lines=[OrderLine(Money("60.00"))])
        >>> back.kind, back.points, back.ref
        ('revert', 40, 'earn:B7')
        """
        if original.kind != "earn":
            raise DataError(f"revert_entries: {original.key!r} is a {original.kind} entry, not an earn")
        if not self.clawback_on_refund:
            return []
        kept = 0 if remaining_lines is None else self.points_for_order(remaining_lines, tier=tier)
        points = original.points - min(kept, original.points) - already_reverted
        if points <= 0:
            return []
        return [
            LedgerEntry(
                key=key or f"revert:{original.key}:{already_reverted}",
                kind="revert",
                points=points,
                at=at,
                ref=original.key,
                order_id=original.order_id,
                customer_id=original.customer_id,
            )
        ]


def _coerce_line(raw: Any, position: int, unit: Money) -> OrderLine:
    if isinstance(raw, OrderLine):
        line = raw
    elif isinstance(raw, Mapping):
        unknown = sorted(set(raw) - {"amount", "category", "product", "eligible"})
        if unknown:
            raise DataError(f"order line at position {position}: unknown fields {unknown}")
        if "amount" not in raw:
            raise DataError(f"order line at position {position}: missing 'amount'")
        line = OrderLine(
            amount=raw["amount"],
            category=raw.get("category"),
            product=raw.get("product"),
            eligible=raw.get("eligible", True),
        )
    else:
        raise DataError(f"order line at position {position}: expected an OrderLine or a mapping, got {raw!r}")
    if not isinstance(line.amount, Money):
        raise DataError(
            f"order line at position {position}: amount must be a Money (exact), got "
            f"{type(line.amount).__name__} {line.amount!r}"
        )
    if line.amount.currency != unit.currency:
        raise DataError(
            f"order line at position {position}: amount {line.amount} is not in the policy's currency "
            f"{unit.currency.code}"
        )
    if not isinstance(line.eligible, bool):
        raise DataError(f"order line at position {position}: eligible must be a bool, got {line.eligible!r}")
    return line


# -- policy dates, vectorized (replay of long ledgers, the batch path) --------------------------------
def _add_us(instants: IntArray, duration: Duration, tz: tzinfo) -> IntArray:
    """``add_duration`` over an array: calendar parts on the wall clock of ``tz``, then elapsed seconds."""
    out = instants
    if duration.is_calendar:
        wall = local_us(instants, tz).astype("datetime64[us]")
        days = wall.astype("datetime64[D]")
        months = days.astype("datetime64[M]")
        day_of_month = (days - months.astype("datetime64[D]")).astype(np.int64)
        time_of_day = (wall - days).astype(np.int64)
        target = months + np.timedelta64(duration.months, "M")
        length = (
            (target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype("datetime64[D]")
        ).astype(np.int64)
        day = np.minimum(day_of_month, length - 1) + duration.days
        wall_us = (target.astype("datetime64[D]").astype(np.int64) + day) * _US_PER_DAY + time_of_day
        out = wall_to_utc_us(wall_us, tz)
    shifted: IntArray = out + np.int64(duration.seconds * 1_000_000)
    return shifted


def _month_start_us(months: Any, tz: tzinfo) -> IntArray:
    wall_us = months.astype("datetime64[D]").astype(np.int64) * _US_PER_DAY
    return wall_to_utc_us(wall_us, tz)


def lot_dates_us(
    at_us: IntArray, pending: BoolArray, policy: PointsPolicy, tz: tzinfo
) -> tuple[IntArray, IntArray]:
    """Vectorized [`PointsPolicy.available_at`][] / [`expires_at`][PointsPolicy.expires_at], in UTC µs.

    ``pending`` marks the lots the pending period applies to (order points); ``expires`` is
    [`NEVER_US`][] for points that never expire. The same instants as the scalar methods (tested).

    Examples
    --------
    >>> at = np.array([0], dtype=np.int64)     # 1970-01-01T00:00Z
    >>> policy = PointsPolicy(pending_period="7d", expiry="end_of_month", expiry_after="0mo", tz="UTC")
    >>> [a.tolist() for a in lot_dates_us(at, np.array([True]), policy, get_tz("UTC"))]
    [[604800000000], [2678400000000]]
    """
    available = at_us
    if policy.pending_period is not None and pending.any():
        held = _add_us(at_us, parse_duration(policy.pending_period), tz)
        available = np.where(pending, held, at_us)
    if policy.expiry == "never":
        return available, np.full(len(at_us), NEVER_US, dtype=np.int64)
    start = available if policy.expiry_from == "available" else at_us
    after = parse_duration(policy.expiry_after)
    anchor = _add_us(start, after, tz)
    if policy.expiry == "after":
        return available, anchor
    months = local_us(anchor, tz).astype("datetime64[us]").astype("datetime64[M]")
    if policy.expiry == "end_of_month":
        return available, _month_start_us(months + np.timedelta64(1, "M"), tz)
    years = months.astype("datetime64[Y]") + np.timedelta64(1, "Y")
    return available, _month_start_us(years.astype("datetime64[M]"), tz)

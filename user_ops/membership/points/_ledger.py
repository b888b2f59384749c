"""``replay``: fold a customer's points ledger into its state at ``as_of``; ``quote_redemption``.

The ledger is append-only and the state is derived, never stored: expiry is evaluated at ``as_of``, so a
point past its expiry is never spendable because an expiry job has not run yet.

How entries are applied
-----------------------
* Entries are deduplicated by idempotency key (identical repeats count as duplicates and change
  nothing; a key reused with other content is a [`DataError`][]), entries after ``as_of``
  are left out (and listed), and the rest are applied in the order ``(at, kind, key)`` with kinds
  ranked earn < adjust < refund < revert < expire < redeem, so the result never depends on the
  order the host passes them in. One exception: a refund at the same instant as the redemption it
  refunds is applied right after the redemptions at that instant (and an expiry record of the lot such
  a refund creates right after it), so an order cancelled in the same instant it was paid is accepted.
* Points are int64: an entry beyond it is refused, and so is a ledger whose totals (earned, redeemed,
  balance, ...) would leave it, naming the entry where they would.
* Every credit (earn, positive adjust, restored redemption) is a **lot** with ``earned_at``,
  ``available_at`` (after the pending period) and ``expires_at``. A lot is valid on
  ``[earned_at, expires_at)``: before each entry, and at ``as_of``, lots whose ``expires_at`` is at or
  before that instant expire.
* A redemption consumes spendable lots in the policy's order. A debit the spendable points cannot
  cover (a clawback after the points were spent, a deduction) becomes a **debt** under
  ``negative_balance="allow"`` (later credits pay it off first) or is written off under ``"cap"``.
"""

from __future__ import annotations

import bisect
import heapq
import html
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal

import numpy as np

from user_ops._table import record_list
from user_ops._time import EPOCH, as_utc_us, local_date, parse_duration, require_aware
from user_ops.exceptions import DataError
from user_ops.membership._history import deduplicate, order_and_split
from user_ops.membership.points._entry import ENTRY_KINDS, INT64_MAX, KIND_ORDER, LedgerEntry, coerce_entry
from user_ops.membership.points._policy import NEVER_US, PointsPolicy, add_duration, lot_dates_us

__all__ = [
    "Consumption",
    "LedgerIssue",
    "Lot",
    "PointsState",
    "RedemptionQuote",
    "quote_redemption",
    "replay",
]

_NEVER = NEVER_US  # microseconds "expires_at" of a lot that never expires: after every real instant
# From this many credits on, their policy dates are computed with numpy in one go (same instants; the
# zone is asked once per six-hour bucket instead of per lot, which pays off on long ledgers).
_VECTORIZE_FROM = 256

QuoteReason = Literal[
    "NOT_POSITIVE", "BELOW_MINIMUM", "NOT_MULTIPLE_OF_STEP", "POINTS_PENDING", "INSUFFICIENT_BALANCE"
]


@dataclass(frozen=True, slots=True)
class Lot:
    """A batch of points from one credit (积分批次) and what is left of it at ``as_of``.

    ``status`` is ``pending`` (not spendable yet), ``spendable``, ``expired`` (its remainder expired)
    or ``used`` (nothing left: redeemed, clawed back or paid into a debt).

    Attributes
    ----------
    key:
        The idempotency key of the entry that created the lot.
    source:
        ``earn`` (order points), ``event`` (an event reward), ``adjust`` (a manual credit) or
        ``refund`` (refunded points that could not go back to the lot they came from: an overdraft,
        or an expired lot's under ``restore_expired="reissue"``).
    points, remaining:
        Points credited, and what is left of them at ``as_of``.
    earned_at, available_at, expires_at:
        When the lot was credited, becomes spendable (after the pending period) and expires
        (``None``: never); valid on ``[earned_at, expires_at)``.
    redeemed, expired:
        Points of the lot redeemed (net of refunds) and expired.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> policy = PointsPolicy(pending_period="7d", expiry="after", expiry_after="30d")
    >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> entries = [LedgerEntry("e1", "earn", 100, t),
    ...            LedgerEntry("e2", "earn", 50, t + timedelta(days=5)),
    ...            LedgerEntry("r1", "redeem", 30, t + timedelta(days=8))]
    >>> state = replay(entries, as_of=t + timedelta(days=10), policy=policy)
    >>> [(lot.key, lot.remaining, lot.redeemed, lot.status) for lot in state.lots]
    [('e1', 70, 30, 'spendable'), ('e2', 50, 0, 'pending')]
    >>> e2 = state.lot("e2")
    >>> e2.available_at.isoformat(), e2.expires_at.isoformat()
    ('2024-01-13T00:00:00+00:00', '2024-02-05T00:00:00+00:00')
    """

    key: str
    source: str
    points: int
    remaining: int
    earned_at: datetime
    available_at: datetime
    expires_at: datetime | None
    redeemed: int
    expired: int
    status: Literal["pending", "spendable", "expired", "used"]


@dataclass(frozen=True, slots=True)
class LedgerIssue:
    """Something replay did not apply as written, or applied with a consequence worth a look.

    Codes: ``DAILY_CAP`` (an event reward over its daily limit, not credited), ``UNKNOWN_EVENT``
    (credited without a cap), ``CLAWBACK_DISABLED`` (a revert ignored by the policy), ``OVERDRAFT``
    (a redemption larger than the spendable points; the rest became a debt), ``WRITTEN_OFF`` (a
    clawback or deduction capped at the balance), ``RESTORED_EXPIRED`` (a refunded redemption's
    points went back to an expired lot and expired with it).

    Attributes
    ----------
    key:
        The idempotency key of the entry concerned.
    code:
        One of the codes above (stable: safe to switch on).
    points:
        The points concerned (not credited, over the balance, written off, expired again…).
    detail:
        What happened, for a person.

    Examples
    --------
    A redemption of 130 points recorded against a balance of 100: it is applied anyway, the 30
    missing become a debt, and replay reports it:

    >>> from datetime import datetime, timezone
    >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> state = replay([LedgerEntry("e1", "earn", 100, t), LedgerEntry("r1", "redeem", 130, t)], as_of=t)
    >>> [(issue.key, issue.code, issue.points) for issue in state.issues]
    [('r1', 'OVERDRAFT', 30)]
    >>> state.spendable, state.debt, state.balance
    (0, 30, -30)
    """

    key: str
    code: str
    points: int
    detail: str


@dataclass(frozen=True, slots=True)
class Consumption:
    """Points a redemption takes (or would take) from one lot.

    Attributes
    ----------
    lot:
        The key of the lot (see [`Lot`][]).
    points:
        Points taken from it.
    expires_at:
        When the lot expires (``None``: never).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> e1 = LedgerEntry("e1", "earn", 100, t, expires_at=datetime(2024, 3, 1, tzinfo=timezone.utc))
    >>> state = replay([e1, LedgerEntry("e2", "earn", 50, t)], as_of=t)
    >>> first, second = quote_redemption(state, 120, as_of=t).consumed   # soonest expiring first
    >>> first.lot, first.points, first.expires_at.isoformat()
    ('e1', 100, '2024-03-01T00:00:00+00:00')
    >>> second
    Consumption(lot='e2', points=20, expires_at=None)
    """

    lot: str
    points: int
    expires_at: datetime | None


class _Lot:
    __slots__ = (
        "available_us",
        "closed",
        "earned_at",
        "earned_us",
        "expired",
        "expires_us",
        "key",
        "listed",
        "points",
        "redeemed",
        "remaining",
        "source",
    )

    def __init__(
        self, key: str, source: str, points: int, earned_at: datetime, available_us: int, expires_us: int
    ) -> None:
        self.key = key
        self.source = source
        self.points = points
        self.remaining = points
        self.earned_at = earned_at
        self.earned_us = as_utc_us(earned_at)
        self.available_us = available_us
        self.expires_us = expires_us
        self.redeemed = 0
        self.expired = 0
        self.closed = False  # expired by time: nothing can be taken from or put into it any more
        self.listed = False  # in the replayer's open list


@dataclass
class _Redemption:
    points: int
    slices: list[tuple[_Lot, int]]
    overdraft: int
    refunded: int = 0


@dataclass
class _Totals:
    earned: int = 0
    reverted: int = 0
    redeemed: int = 0
    refunded: int = 0
    expired: int = 0
    adjusted: int = 0
    written_off: int = 0


@dataclass(frozen=True)
class PointsState:
    """A customer's points at ``as_of``, derived from the ledger by [`replay`][].

    Attributes
    ----------
    spendable:
        Points that can be redeemed at ``as_of`` (可用积分).
    pending:
        Points earned but still in their pending period (待生效).
    debt:
        Points owed after a clawback larger than the balance (0 unless ``negative_balance="allow"``).
    lots:
        Lots with points left, in redemption order.
    all_lots:
        Every lot ever created, including used and expired ones, in creation order.
    lifetime_earned, lifetime_reverted, lifetime_redeemed, lifetime_refunded, lifetime_expired,
    lifetime_adjusted, written_off:
        Totals over the whole ledger up to ``as_of``; they reconcile with the balance, see
        [`balance`][].
    entries_applied, duplicates, ignored_after_as_of, issues:
        What replay did with its input.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> state = replay([LedgerEntry("e1", "earn", 100, t), LedgerEntry("r1", "redeem", 30, t)], as_of=t)
    >>> state.spendable, state.lifetime_earned, state.lifetime_redeemed
    (70, 100, 30)
    """

    as_of: datetime
    tz: tzinfo
    policy: PointsPolicy
    spendable: int
    pending: int
    debt: int
    lots: tuple[Lot, ...]
    all_lots: tuple[Lot, ...]
    lifetime_earned: int
    lifetime_reverted: int
    lifetime_redeemed: int
    lifetime_refunded: int
    lifetime_expired: int
    lifetime_adjusted: int
    written_off: int
    entries_applied: int
    duplicates: int
    ignored_after_as_of: tuple[str, ...]
    issues: tuple[LedgerIssue, ...] = field(default=())

    @property
    def balance(self) -> int:
        """``spendable + pending - debt``; always equals ``lifetime_earned - lifetime_reverted -
        lifetime_redeemed + lifetime_refunded - lifetime_expired + lifetime_adjusted + written_off``."""
        return self.spendable + self.pending - self.debt

    @property
    def net_earned(self) -> int:
        """Earned points net of clawbacks: the points metric for tiers (independent of spending)."""
        return self.lifetime_earned - self.lifetime_reverted

    @property
    def net_redeemed(self) -> int:
        """Redeemed points net of refunded redemptions."""
        return self.lifetime_redeemed - self.lifetime_refunded

    def expiring_within(self, horizon: str | timedelta) -> int:
        """Points (spendable or pending) that expire in ``[as_of, as_of + horizon)``.

        ``horizon`` is a duration (``"30d"``, ``"1mo"``: calendar units on the business calendar) or a
        ``timedelta``.

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> e = LedgerEntry("e1", "earn", 80, t, expires_at=datetime(2024, 1, 20, tzinfo=timezone.utc))
        >>> s = replay([e], as_of=t)
        >>> s.expiring_within("19d"), s.expiring_within("20d")
        (0, 80)
        """
        if isinstance(horizon, timedelta):
            end = self.as_of + horizon
        else:
            end = add_duration(self.as_of, parse_duration(horizon), self.tz)
        return sum(lot.remaining for lot in self.lots if lot.expires_at is not None and lot.expires_at < end)

    def expiry_schedule(self) -> list[tuple[datetime, int]]:
        """``(expires_at, points)`` of the points left, soonest first, one row per instant.

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
        >>> replay([LedgerEntry("e1", "earn", 5, t)], as_of=t).expiry_schedule()   # never expires
        []
        """
        schedule: dict[datetime, int] = {}
        for lot in self.lots:
            if lot.expires_at is not None:
                schedule[lot.expires_at] = schedule.get(lot.expires_at, 0) + lot.remaining
        return sorted(schedule.items())

    def pending_schedule(self) -> list[tuple[datetime, int]]:
        """``(available_at, points)`` of the pending points, soonest first."""
        schedule: dict[datetime, int] = {}
        for lot in self.lots:
            if lot.status == "pending":
                schedule[lot.available_at] = schedule.get(lot.available_at, 0) + lot.remaining
        return sorted(schedule.items())

    def lot(self, key: str) -> Lot:
        """The lot created by the entry with idempotency key ``key``."""
        for lot in self.all_lots:
            if lot.key == key:
                return lot
        raise DataError(f"no lot was created by an entry with key {key!r}")

    def to_dict(self) -> dict[str, Any]:
        """The balances and totals as a flat dict (no lots)."""
        return {
            "as_of": self.as_of,
            "spendable": self.spendable,
            "pending": self.pending,
            "debt": self.debt,
            "balance": self.balance,
            "lifetime_earned": self.lifetime_earned,
            "lifetime_reverted": self.lifetime_reverted,
            "lifetime_redeemed": self.lifetime_redeemed,
            "lifetime_refunded": self.lifetime_refunded,
            "lifetime_expired": self.lifetime_expired,
            "lifetime_adjusted": self.lifetime_adjusted,
            "written_off": self.written_off,
        }

    def __str__(self) -> str:
        lines = [
            (
                f"points at {self.as_of.isoformat()}: spendable {self.spendable}, pending {self.pending}, "
                f"debt {self.debt}; earned {self.lifetime_earned}, redeemed {self.net_redeemed}, "
                f"expired {self.lifetime_expired}"
            )
        ]
        for lot in self.lots:
            expiry = "never" if lot.expires_at is None else lot.expires_at.astimezone(self.tz).isoformat()
            lines.append(f"  {lot.key}: {lot.remaining}/{lot.points} {lot.status}, expires {expiry}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>Points at {html.escape(self.as_of.isoformat())}</b>: spendable {self.spendable}, "
            f"pending {self.pending}, debt {self.debt} (earned {self.lifetime_earned}, redeemed "
            f"{self.net_redeemed}, expired {self.lifetime_expired})</p>"
        )
        header = "".join(
            f"<th>{name}</th>"
            for name in ("lot", "source", "points", "remaining", "status", "earned", "available", "expires")
        )
        rows = []
        for lot in self.lots:
            cells = (
                lot.key,
                lot.source,
                lot.points,
                lot.remaining,
                lot.status,
                lot.earned_at.astimezone(self.tz).isoformat(),
                lot.available_at.astimezone(self.tz).isoformat(),
                "never" if lot.expires_at is None else lot.expires_at.astimezone(self.tz).isoformat(),
            )
            rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
        return f"{head}<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


class _Replayer:
    """The mutable fold behind [`replay`][] (one instance per call)."""

    def __init__(self, policy: PointsPolicy, tz: tzinfo, dates: dict[str, tuple[int, int]]) -> None:
        self.policy = policy
        self.tz = tz
        self.dates = dates  # precomputed (available_us, expires_us) of order points, by entry key
        self.lots: dict[str, _Lot] = {}
        self.open: list[tuple[tuple[Any, ...], int, _Lot]] = []  # sorted by redemption order
        self.expiry_heap: list[tuple[int, int, _Lot]] = []
        self.sequence = 0
        self.debt = 0
        self.totals = _Totals()
        self.redemptions: dict[str, _Redemption] = {}
        self.earns: dict[str, tuple[_Lot | None, int]] = {}  # earn key -> (lot, points reverted so far)
        self.event_days: dict[tuple[str, Any], int] = {}
        self.issues: list[LedgerIssue] = []
        self.fifo = policy.redemption_order == "fifo"
        self.handlers: dict[str, Callable[[LedgerEntry, int], None]] = {
            kind: getattr(self, f"_apply_{kind}") for kind in KIND_ORDER
        }

    # -- lots --------------------------------------------------------------------------------------
    def _order_key(self, lot: _Lot) -> tuple[Any, ...]:
        if self.fifo:
            return (lot.earned_us, lot.key)
        return (lot.expires_us, lot.earned_us, lot.key)

    def add_lot(self, lot: _Lot) -> None:
        self.lots[lot.key] = lot
        self.sequence += 1
        lot.listed = True
        bisect.insort(self.open, (self._order_key(lot), self.sequence, lot))
        if lot.expires_us != _NEVER:
            heapq.heappush(self.expiry_heap, (lot.expires_us, self.sequence, lot))
        self.settle_debt(lot)

    def settle_debt(self, lot: _Lot) -> None:
        # Debt only exists when every other lot is empty, so the new credit pays it alone.
        if self.debt and lot.remaining and not lot.closed:
            paid = min(self.debt, lot.remaining)
            lot.remaining -= paid
            self.debt -= paid

    def expire_until(self, now_us: int) -> None:
        """Expire every lot with ``expires_at <= now`` (validity is half-open)."""
        heap = self.expiry_heap
        while heap and heap[0][0] <= now_us:
            _, _, lot = heapq.heappop(heap)
            if lot.closed:
                continue
            lot.closed = True
            lot.expired += lot.remaining
            self.totals.expired += lot.remaining
            lot.remaining = 0

    def take(self, points: int, now_us: int, *, spendable_only: bool) -> list[tuple[_Lot, int]]:
        """Take up to ``points`` from open lots in redemption order (spendable ones first; pending ones
        too unless ``spendable_only``); returns the slices taken."""
        slices: list[tuple[_Lot, int]] = []
        left = points
        passes = (True,) if spendable_only else (True, False)
        for spendable_pass in passes:
            if not left:
                break
            for _, _, lot in self.open:
                if not left:
                    break
                if lot.remaining == 0 or lot.closed:
                    continue
                if (lot.available_us <= now_us) != spendable_pass:
                    continue
                part = min(left, lot.remaining)
                lot.remaining -= part
                slices.append((lot, part))
                left -= part
        self.compact()
        return slices

    def compact(self) -> None:
        """Drop used-up lots from the front of the open list (where redemptions leave them)."""
        open_lots = self.open
        dead = 0
        while dead < len(open_lots) and (open_lots[dead][2].remaining == 0 or open_lots[dead][2].closed):
            dead += 1
        if dead:
            for _, _, lot in open_lots[:dead]:
                lot.listed = False
            del open_lots[:dead]

    def shortfall(self, key: str, points: int, what: str) -> None:
        """A debit the lots could not cover: a debt, or written off under ``negative_balance="cap"``."""
        if self.policy.negative_balance == "allow":
            self.debt += points
        else:
            self.totals.written_off += points
            self.issues.append(LedgerIssue(key, "WRITTEN_OFF", points, f"{what} capped at the balance"))

    def check_range(self, where: str) -> None:
        """Refuse totals the int64 columns of the batch path cannot hold (Python ints never overflow)."""
        t = self.totals
        balance = t.earned - t.reverted - t.redeemed + t.refunded - t.expired + t.adjusted + t.written_off
        for name, value in (
            ("lifetime_earned", t.earned),
            ("lifetime_reverted", t.reverted),
            ("lifetime_redeemed", t.redeemed),
            ("lifetime_refunded", t.refunded),
            ("lifetime_expired", t.expired),
            ("lifetime_adjusted", t.adjusted),
            ("written_off", t.written_off),
            ("debt", self.debt),
            ("balance", balance),
        ):
            if not -INT64_MAX <= value <= INT64_MAX:
                raise DataError(
                    f"{where}: {name} would reach {value} points, beyond the int64 range of point totals "
                    f"({INT64_MAX})"
                )

    # -- entries -------------------------------------------------------------------------------------
    def apply(self, entry: LedgerEntry, now_us: int) -> None:
        self.handlers[entry.kind](entry, now_us)

    def _new_lot(self, entry: LedgerEntry, source: str, points: int, *, pending: bool) -> _Lot:
        dates = self.dates.get(entry.key)
        if dates is None:
            dates = _scalar_dates(entry, self.policy, pending=pending)
        return _Lot(entry.key, source, points, entry.at, *dates)

    def _apply_earn(self, entry: LedgerEntry, now_us: int) -> None:
        if entry.event is not None:
            reward = self.policy.events.get(entry.event)
            if reward is None:
                self.issues.append(
                    LedgerIssue(
                        entry.key,
                        "UNKNOWN_EVENT",
                        entry.points,
                        f"event {entry.event!r} is not in the policy",
                    )
                )
            elif reward.daily_limit is not None:
                day = (entry.event, local_date(entry.at, self.tz))
                count = self.event_days.get(day, 0) + 1
                self.event_days[day] = count
                if count > reward.daily_limit:
                    self.issues.append(
                        LedgerIssue(
                            entry.key,
                            "DAILY_CAP",
                            entry.points,
                            f"{entry.event} reward {count} on {day[1].isoformat()} is over the daily limit "
                            f"{reward.daily_limit}",
                        )
                    )
                    self.earns[entry.key] = (None, 0)
                    return
        lot = self._new_lot(
            entry, "event" if entry.event else "earn", entry.points, pending=entry.event is None
        )
        self.totals.earned += entry.points
        self.earns[entry.key] = (lot, 0)
        self.add_lot(lot)

    def _apply_adjust(self, entry: LedgerEntry, now_us: int) -> None:
        if entry.points > 0:
            self.totals.adjusted += entry.points
            self.add_lot(self._new_lot(entry, "adjust", entry.points, pending=False))
            return
        wanted = -entry.points
        taken = sum(part for _, part in self.take(wanted, now_us, spendable_only=False))
        self.totals.adjusted -= wanted
        if taken < wanted:
            self.shortfall(entry.key, wanted - taken, "deduction")

    def _apply_revert(self, entry: LedgerEntry, now_us: int) -> None:
        ref = self._ref(entry, self.earns, "earn")
        lot, reverted = self.earns[ref]
        if not self.policy.clawback_on_refund:
            self.issues.append(
                LedgerIssue(entry.key, "CLAWBACK_DISABLED", entry.points, "policy keeps the points")
            )
            return
        if lot is None:  # the earn itself was not credited (over a daily cap): nothing to take back
            return
        if reverted + entry.points > lot.points:
            raise DataError(
                f"entry {entry.key!r}: reverts {entry.points} points of {ref!r}, but only "
                f"{lot.points - reverted} of its {lot.points} are left to revert"
            )
        self.earns[ref] = (lot, reverted + entry.points)
        self.totals.reverted += entry.points
        left = entry.points
        if lot.remaining and not lot.closed:  # the order's own points first
            part = min(left, lot.remaining)
            lot.remaining -= part
            left -= part
        # Points of the order that already expired are gone: they are not taken a second time from
        # other lots, they count as clawed back instead of expired.
        waived = min(left, lot.expired)
        lot.expired -= waived
        self.totals.expired -= waived
        left -= waived
        # What the customer already spent of them comes out of their other points.
        taken = sum(part for _, part in self.take(left, now_us, spendable_only=False)) if left else 0
        if taken < left:
            self.shortfall(entry.key, left - taken, "clawback")
        self.compact()

    def _apply_redeem(self, entry: LedgerEntry, now_us: int) -> None:
        slices = self.take(entry.points, now_us, spendable_only=True)
        taken = 0
        for lot, part in slices:
            lot.redeemed += part
            taken += part
        overdraft = entry.points - taken
        if overdraft:
            # The redemption happened (the host recorded it): pending points pay for it first, the
            # rest is a debt. Either way it is reported: the host should not have let it through.
            for lot, part in self.take(overdraft, now_us, spendable_only=False):
                lot.redeemed += part
                slices.append((lot, part))
                overdraft -= part
            self.debt += overdraft
            self.issues.append(
                LedgerIssue(
                    entry.key, "OVERDRAFT", entry.points - taken, "redemption above the spendable points"
                )
            )
        self.totals.redeemed += entry.points
        self.redemptions[entry.key] = _Redemption(entry.points, slices, overdraft)

    def _apply_refund(self, entry: LedgerEntry, now_us: int) -> None:
        ref = self._ref(entry, self.redemptions, "redeem")
        redemption = self.redemptions[ref]
        if redemption.refunded + entry.points > redemption.points:
            raise DataError(
                f"entry {entry.key!r}: refunds {entry.points} points of redemption {ref!r}, but only "
                f"{redemption.points - redemption.refunded} of its {redemption.points} are left to refund"
            )
        redemption.refunded += entry.points
        self.totals.refunded += entry.points
        left = entry.points
        # The overdraft part was the last taken: it is given back first, then lots in reverse order of
        # consumption (the longest-lived points come back first).
        credit = min(left, redemption.overdraft)
        redemption.overdraft -= credit
        left -= credit
        forfeited = 0
        for index in range(len(redemption.slices) - 1, -1, -1):
            if not left:
                break
            lot, part = redemption.slices[index]
            back = min(left, part)
            redemption.slices[index] = (lot, part - back)
            lot.redeemed -= back
            left -= back
            if not lot.closed:
                lot.remaining += back
                self._reopen(lot)
            elif self.policy.restore_expired == "forfeit":
                lot.expired += back
                self.totals.expired += back
                forfeited += back
            else:
                credit += back
        if forfeited:
            self.issues.append(
                LedgerIssue(
                    entry.key, "RESTORED_EXPIRED", forfeited, "refunded into an expired lot: expired again"
                )
            )
        if credit:
            self.add_lot(self._new_lot(entry, "refund", credit, pending=False))
        for _, _, lot in self.open:  # points restored while a debt is open pay it off first
            if not self.debt:
                break
            self.settle_debt(lot)
        self.compact()

    def _reopen(self, lot: _Lot) -> None:
        # A lot dropped from the open list (it was used up) gets points back: put it back in order.
        if not lot.listed:
            lot.listed = True
            self.sequence += 1
            bisect.insort(self.open, (self._order_key(lot), self.sequence, lot))

    def _apply_expire(self, entry: LedgerEntry, now_us: int) -> None:
        ref = entry.ref
        assert ref is not None
        lot = self.lots.get(ref)
        if lot is None and ref in self.earns:
            return  # an event reward over its daily cap created no lot: nothing to expire
        if lot is None:
            raise DataError(f"entry {entry.key!r}: expire refers to {ref!r}, which created no lot before it")
        if lot.closed or not lot.remaining:
            return  # already expired (by time) or used up: never counted twice
        part = min(entry.points, lot.remaining)
        lot.remaining -= part
        lot.expired += part
        self.totals.expired += part
        self.compact()

    def _ref(self, entry: LedgerEntry, known: Mapping[str, Any], what: str) -> str:
        ref = entry.ref
        if ref is None or ref not in known:
            raise DataError(
                f"entry {entry.key!r}: {entry.kind} refers to {ref!r}, which is not a {what} entry applied "
                "before it (unknown key, a later entry, or one after as_of)"
            )
        return ref

    # -- result --------------------------------------------------------------------------------------
    def state(
        self, as_of: datetime, as_of_us: int, applied: int, duplicates: int, ignored: tuple[str, ...]
    ) -> PointsState:
        instants: dict[int, datetime] = {}  # many lots share an instant (end-of-month expiry)
        public = {key: self._public(lot, as_of_us, self.tz, instants) for key, lot in self.lots.items()}
        all_lots = tuple(public.values())
        open_lots = tuple(public[lot.key] for _, _, lot in self.open if lot.remaining and not lot.closed)
        totals = self.totals
        return PointsState(
            as_of=as_of,
            tz=self.tz,
            policy=self.policy,
            spendable=sum(lot.remaining for lot in open_lots if lot.status == "spendable"),
            pending=sum(lot.remaining for lot in open_lots if lot.status == "pending"),
            debt=self.debt,
            lots=open_lots,
            all_lots=all_lots,
            lifetime_earned=totals.earned,
            lifetime_reverted=totals.reverted,
            lifetime_redeemed=totals.redeemed,
            lifetime_refunded=totals.refunded,
            lifetime_expired=totals.expired,
            lifetime_adjusted=totals.adjusted,
            written_off=totals.written_off,
            entries_applied=applied,
            duplicates=duplicates,
            ignored_after_as_of=ignored,
            issues=tuple(self.issues),
        )

    @staticmethod
    def _public(lot: _Lot, as_of_us: int, tz: tzinfo, instants: dict[int, datetime]) -> Lot:
        status: Literal["pending", "spendable", "expired", "used"]
        if lot.remaining:
            status = "spendable" if lot.available_us <= as_of_us else "pending"
        else:
            status = "expired" if lot.closed and lot.expired else "used"
        return Lot(
            key=lot.key,
            source=lot.source,
            points=lot.points,
            remaining=lot.remaining,
            earned_at=lot.earned_at,
            available_at=_instant(lot.available_us, tz, instants),
            expires_at=None if lot.expires_us == _NEVER else _instant(lot.expires_us, tz, instants),
            redeemed=lot.redeemed,
            expired=lot.expired,
            status=status,
        )


def _instant(us: int, tz: tzinfo, cache: dict[int, datetime]) -> datetime:
    instant = cache.get(us)
    if instant is None:
        instant = cache[us] = (EPOCH + timedelta(microseconds=us)).astimezone(tz)
    return instant


def _scalar_dates(entry: LedgerEntry, policy: PointsPolicy, *, pending: bool) -> tuple[int, int]:
    """``(available_us, expires_us)`` of the lot ``entry`` creates: its overrides, else the policy."""
    available = entry.available_at or policy.available_at(entry.at, pending=pending)
    expires = entry.expires_at or policy.expires_at(entry.at, available_at=available)
    return as_utc_us(available), _NEVER if expires is None else as_utc_us(expires)


def _policy_dates(entries: list[LedgerEntry], policy: PointsPolicy, tz: tzinfo) -> dict[str, tuple[int, int]]:
    """Lot dates of the order points (earns without an event or overrides), vectorized for long ledgers."""
    plain = [
        e
        for e in entries
        if e.kind == "earn" and e.event is None and e.available_at is None and e.expires_at is None
    ]
    if len(plain) < _VECTORIZE_FROM:
        return {}
    at_us = np.fromiter((as_utc_us(e.at) for e in plain), dtype=np.int64, count=len(plain))
    available, expires = lot_dates_us(at_us, np.ones(len(plain), dtype=bool), policy, tz)
    return {e.key: pair for e, pair in zip(plain, zip(available.tolist(), expires.tolist()))}


def _difference(first: LedgerEntry, second: LedgerEntry) -> str:
    a, b = first.to_dict(), second.to_dict()
    names = [name for name in sorted(set(a) | set(b)) if a.get(name) != b.get(name)]
    return ", ".join(f"{name}: {a.get(name)!r} vs {b.get(name)!r}" for name in names)


def replay(
    entries: Iterable[LedgerEntry | Mapping[str, Any]],
    *,
    as_of: datetime,
    policy: PointsPolicy | None = None,
) -> PointsState:
    """A customer's points state at ``as_of`` from their ledger entries.

    Parameters
    ----------
    entries:
        [`LedgerEntry`][] objects or mappings with the same fields (ISO 8601 text allowed for the
        instants), in any order.
    as_of:
        The instant to evaluate at (timezone-aware). Entries at ``as_of`` are applied; later ones are
        left out and listed in ``ignored_after_as_of``. Lots whose ``expires_at <= as_of`` are expired.
    policy:
        The [`PointsPolicy`][] (default: ``PointsPolicy()``).

    Raises
    ------
    DataError
        For a bad entry (naming its position), a key reused for a different entry, a ``ref`` to an
        unknown or later entry, a refund / revert larger than what is left of its target, or totals
        beyond int64 (naming the entry that would take them there).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> policy = PointsPolicy(expiry="after", expiry_after="30d")
    >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> entries = [LedgerEntry("e1", "earn", 100, t),
    ...            LedgerEntry("r1", "redeem", 40, t + timedelta(days=3))]
    >>> replay(entries, as_of=t + timedelta(days=29), policy=policy).spendable
    60
    >>> state = replay(entries, as_of=t + timedelta(days=30), policy=policy)   # expires at exactly 30 days
    >>> state.spendable, state.lifetime_expired
    (0, 60)
    """
    as_of = require_aware(as_of)
    policy = PointsPolicy() if policy is None else policy
    if not isinstance(policy, PointsPolicy):
        raise DataError(f"policy must be a PointsPolicy, got {type(policy).__name__}")
    fold, as_of_us, applied, duplicates, ignored = _fold(entries, as_of, policy, None)
    return fold.state(as_of, as_of_us, applied, duplicates, ignored)


def replay_summary(
    entries: Iterable[LedgerEntry | Mapping[str, Any]],
    *,
    as_of: datetime,
    policy: PointsPolicy,
    dates: dict[str, tuple[int, int]],
    horizon_end_us: int | None,
) -> dict[str, int]:
    """The balances and totals of [`replay`][] without building lots (the batch path's fallback)."""
    fold, as_of_us, *_ = _fold(entries, as_of, policy, dates)
    spendable = pending = expiring = 0
    for lot in fold.lots.values():
        if not lot.remaining or lot.closed:
            continue
        if lot.available_us <= as_of_us:
            spendable += lot.remaining
        else:
            pending += lot.remaining
        if horizon_end_us is not None and lot.expires_us < horizon_end_us:
            expiring += lot.remaining
    totals = fold.totals
    return {
        "spendable": spendable,
        "pending": pending,
        "debt": fold.debt,
        "balance": spendable + pending - fold.debt,
        "lifetime_earned": totals.earned,
        "net_earned": totals.earned - totals.reverted,
        "net_redeemed": totals.redeemed - totals.refunded,
        "lifetime_expired": totals.expired,
        "expiring": expiring,
    }


# At one instant a refund of a redemption made at that instant follows it (it cannot give back what
# was not taken yet), and so does the expiry record of the lot such a refund creates.
_FOLLOWS = {"refund": "redeem", "expire": "refund"}


def _fold(
    entries: Iterable[LedgerEntry | Mapping[str, Any]],
    as_of: datetime,
    policy: PointsPolicy,
    dates: dict[str, tuple[int, int]] | None,
) -> tuple[_Replayer, int, int, int, tuple[str, ...]]:
    tz = policy.zone(as_of)
    as_of_us = as_utc_us(as_of)
    unique, duplicates = deduplicate(
        record_list(entries, what="ledger entries"),
        lambda record, position: coerce_entry(record, position=position),
        what="entry",
        difference=_difference,
    )
    applied, ignored = order_and_split(unique, as_of_us=as_of_us, kinds=ENTRY_KINDS, follows=_FOLLOWS)
    if dates is None:
        dates = _policy_dates([item[3] for item in applied], policy, tz)
    fold = _Replayer(policy, tz, dates)
    # No total can leave int64 when all the points together fit: only then is every step checked.
    guarded = sum(abs(item[3].points) for item in applied) > INT64_MAX
    for at_us, _, _, entry in applied:
        fold.expire_until(at_us)
        fold.apply(entry, at_us)
        if guarded:
            fold.check_range(f"entry {entry.key!r}")
    fold.expire_until(as_of_us)
    if guarded:
        fold.check_range(f"at as_of {as_of.isoformat()}")
    return fold, as_of_us, len(applied), duplicates, ignored


@dataclass(frozen=True, slots=True)
class RedemptionQuote:
    """What a redemption of ``points`` at ``as_of`` would do, or why it cannot be made.

    ``ok`` with ``consumed`` (the lots in order), or a stable ``reason`` code: ``NOT_POSITIVE``,
    ``BELOW_MINIMUM``, ``NOT_MULTIPLE_OF_STEP``, ``POINTS_PENDING`` (enough points at
    ``available_at`` if nothing else happens) or ``INSUFFICIENT_BALANCE`` (``shortfall`` points
    missing). Built by [`quote_redemption`][]; [`entry`][] turns an ``ok`` quote into the
    ``redeem`` entry to append.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> policy = PointsPolicy(pending_period="7d")
    >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> state = replay([LedgerEntry("e1", "earn", 100, t)], as_of=t, policy=policy)
    >>> q = quote_redemption(state, 50, as_of=t)
    >>> q.ok, q.reason, q.shortfall, q.available_at.isoformat()
    (False, 'POINTS_PENDING', 50, '2024-01-08T00:00:00+00:00')
    >>> q = quote_redemption(state, 50, as_of=t + timedelta(days=7))
    >>> q.ok, q.spendable, q.entry("r1").points
    (True, 100, 50)
    """

    ok: bool
    points: int
    as_of: datetime
    spendable: int
    consumed: tuple[Consumption, ...] = ()
    reason: QuoteReason | None = None
    shortfall: int = 0
    available_at: datetime | None = None
    message: str = ""

    def entry(
        self, key: str, *, at: datetime | None = None, customer_id: str | int | None = None
    ) -> LedgerEntry:
        """The ``redeem`` entry that carries out this quote (at ``as_of`` unless ``at`` is given)."""
        if not self.ok:
            raise DataError(
                f"quote for {self.points} points is not redeemable: {self.reason} ({self.message})"
            )
        return LedgerEntry(
            key=key, kind="redeem", points=self.points, at=at or self.as_of, customer_id=customer_id
        )


def quote_redemption(state: PointsState, points: int, *, as_of: datetime) -> RedemptionQuote:
    """Which lots a redemption of ``points`` at ``as_of`` would consume, or why it cannot be made.

    ``as_of`` may be later than ``state.as_of`` (lots are re-evaluated: more may have expired or
    become spendable, assuming no entries in between) but not earlier.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> state = replay([LedgerEntry("e1", "earn", 100, t)], as_of=t)
    >>> q = quote_redemption(state, 30, as_of=t)
    >>> q.ok, [(c.lot, c.points) for c in q.consumed]
    (True, [('e1', 30)])
    >>> q = quote_redemption(state, 130, as_of=t)
    >>> q.reason, q.shortfall
    ('INSUFFICIENT_BALANCE', 30)
    """
    as_of = require_aware(as_of)
    if not isinstance(state, PointsState):
        raise DataError(f"quote_redemption needs a PointsState from replay(), got {type(state).__name__}")
    if isinstance(points, bool) or not isinstance(points, int):
        raise DataError(f"points must be an int, got {type(points).__name__} {points!r}")
    if as_of < state.as_of:
        raise DataError(
            f"as_of {as_of.isoformat()} is before the state's as_of {state.as_of.isoformat()}; replay again"
        )
    policy = state.policy
    live = [lot for lot in state.lots if lot.expires_at is None or lot.expires_at > as_of]
    spendable = sum(lot.remaining for lot in live if lot.available_at <= as_of)

    def refuse(reason: QuoteReason, message: str, **extra: Any) -> RedemptionQuote:
        return RedemptionQuote(
            ok=False, points=points, as_of=as_of, spendable=spendable, reason=reason, message=message, **extra
        )

    if points <= 0:
        return refuse("NOT_POSITIVE", f"redeem a positive number of points, not {points}")
    if points < policy.redeem_minimum:
        return refuse("BELOW_MINIMUM", f"the smallest redemption is {policy.redeem_minimum} points")
    if points % policy.redeem_step:
        return refuse("NOT_MULTIPLE_OF_STEP", f"redeem in multiples of {policy.redeem_step} points")
    if spendable < points:
        when = _when_enough(live, points, as_of)
        if when is not None:
            return refuse(
                "POINTS_PENDING",
                f"{points - spendable} more points become spendable by {when.isoformat()}",
                shortfall=points - spendable,
                available_at=when,
            )
        return refuse(
            "INSUFFICIENT_BALANCE",
            f"{points - spendable} points short (spendable {spendable})",
            shortfall=points - spendable,
        )
    consumed = []
    left = points
    for lot in live:  # state.lots is already in redemption order
        if not left:
            break
        if lot.available_at > as_of:
            continue
        part = min(left, lot.remaining)
        consumed.append(Consumption(lot.key, part, lot.expires_at))
        left -= part
    return RedemptionQuote(
        ok=True, points=points, as_of=as_of, spendable=spendable, consumed=tuple(consumed), message="ok"
    )


def _when_enough(lots: list[Lot], points: int, as_of: datetime) -> datetime | None:
    """The first instant at which the lots' spendable points reach ``points``, if nothing else happens."""
    for instant in sorted({lot.available_at for lot in lots if lot.available_at > as_of}):
        total = sum(
            lot.remaining
            for lot in lots
            if lot.available_at <= instant and (lot.expires_at is None or lot.expires_at > instant)
        )
        if total >= points:
            return instant
    return None

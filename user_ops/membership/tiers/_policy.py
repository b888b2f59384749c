"""``Tier`` and ``TierPolicy``: membership tiers (会员等级) reached by a qualifying metric in a window.

Boundary rules (see ``docs/membership.md``):

* A threshold is met when the metric is **greater than or equal to** it (``>=``): spending exactly the
  entry threshold reaches the tier. A window total below zero (refunds of earlier purchases) counts as 0.
* Upgrades are immediate: right after the event that makes the metric reach a higher entry threshold.
* Windows are half-open ``[start, end)``. A state at ``as_of`` reflects the events strictly before
  ``as_of`` and the reviews at or before it. A review at ``R`` reads the window ending at ``R``; an
  event exactly at ``R`` belongs to the next window (it cannot save the tier at that review, but it
  counts for an upgrade right after it and for the next period).
"""

from __future__ import annotations

import html
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone, tzinfo
from functools import cached_property
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
from pydantic import Field, field_validator, model_validator

from user_ops._money import Currency, Money
from user_ops._policy import PolicyModel
from user_ops._table import Table
from user_ops._time import Duration, TzLike, get_tz, parse_duration, require_aware
from user_ops.exceptions import DataError
from user_ops.membership._history import Deduplicator
from user_ops.membership.benefits._benefits import Benefit, check_unique_keys
from user_ops.membership.tiers._events import (
    GrowthEarned,
    MetricEvent,
    PointsEarned,
    Purchase,
    Refund,
    TierOverride,
    coerce_history,
)
from user_ops.membership.tiers._state import (
    METRIC_ZH,
    TierChange,
    TierState,
    TierTimeline,
    format_metric,
    make_progress,
    when_text,
)
from user_ops.membership.tiers._window import (
    Calendar,
    MetricSeries,
    Scheduled,
    add_duration,
    just_after,
    just_before,
)

__all__ = ["BUILTIN_METRICS", "Tier", "TierPolicy", "TierTable"]

#: Metrics a history of events feeds directly; any other name is a custom metric (``MetricEvent``).
BUILTIN_METRICS: tuple[str, ...] = ("spend", "points", "growth", "orders")


_MINOR = " of minor units (spend is exact money)"


_INT64_MAX = 2**63 - 1


def _reused_key(position: int, earlier_position: int, earlier: Any, event: Any) -> str:
    return (
        f"history[{position}].key: {event.key!r} is also the key of history[{earlier_position}], "
        "a different event (keys identify events)"
    )


def _threshold_value(value: int | Money) -> int:
    return value.minor if isinstance(value, Money) else int(value)


class Tier(PolicyModel):
    """One membership tier (会员等级).

    Parameters
    ----------
    code:
        Identifier written into results (``gold``).
    label_en, label_zh:
        What a person reads (``Gold`` / ``金海``).
    entry:
        Entry threshold: the metric must reach it (``>=``). ``Money`` (or ``"1000 CNY"``) for spend,
        or an int in the metric's unit (minor units for spend).
    retention:
        保级 threshold: the metric needed at a review to keep the tier (default: ``entry``). At most
        ``entry``.
    benefits:
        The benefits this tier grants itself (higher tiers inherit them; see ``benefits_for``).
    description:
        A longer explanation for people.

    Examples
    --------
    >>> gold = Tier(code="gold", label_en="Gold", label_zh="金海", entry="3000 CNY", retention="2000 CNY")
    >>> gold.entry_value, gold.retention_value
    (300000, 200000)
    """

    code: str = Field(min_length=1, max_length=100)
    label_en: str = Field(min_length=1)
    label_zh: str = Field(min_length=1)
    entry: int | Money
    retention: int | Money | None = None
    benefits: tuple[Benefit, ...] = ()
    description: str = ""

    @field_validator("code")
    @classmethod
    def _identifier(cls, code: str) -> str:
        if not code.isidentifier():
            raise ValueError(f"tier codes must be identifiers like 'gold', got {code!r}")
        return code

    @field_validator("entry", "retention")
    @classmethod
    def _non_negative(cls, value: int | Money | None) -> int | Money | None:
        if value is None:
            return value
        number = _threshold_value(value)
        if number < 0:
            raise ValueError(f"thresholds must not be negative, got {value}")
        if number > _INT64_MAX:  # the batch path compares thresholds as int64
            raise ValueError(f"thresholds must be at most {_INT64_MAX:,} (int64), got a larger number")
        return value

    @model_validator(mode="after")
    def _retention_at_most_entry(self) -> Tier:
        if self.retention is not None and self.retention_value > self.entry_value:
            raise ValueError(
                f"retention ({self.retention}) is above entry ({self.entry}); keeping a tier cannot need "
                "more than reaching it"
            )
        check_unique_keys(self.benefits, f"tier {self.code!r}")
        return self

    @property
    def entry_value(self) -> int:
        """The entry threshold as an int (minor units for money)."""
        return _threshold_value(self.entry)

    @property
    def retention_value(self) -> int:
        """The retention threshold as an int (the entry threshold when none is given)."""
        return self.entry_value if self.retention is None else _threshold_value(self.retention)


@dataclass
class _Run:
    """Mutable state of one customer's walk through time (internal to the engine)."""

    index: int = -1
    since: datetime | None = None
    anchor: datetime | None = None  # anniversary reviews count from here
    reviews_done: int = 0
    scheduled: Scheduled | None = None  # the next review
    protected_until: datetime | None = None
    override: TierOverride | None = None
    changes: list[TierChange] = field(default_factory=list)

    @property
    def next_review(self) -> datetime | None:
        return None if self.scheduled is None else self.scheduled.at


class TierPolicy(PolicyModel):
    """Ordered tiers, the metric and window that qualify for them, and how reviews take them away.

    Parameters
    ----------
    tiers:
        Lowest first, entry thresholds strictly increasing (positional or ``tiers=``).
    metric:
        ``"spend"`` (money, exact minor units), ``"points"`` (earned, not the balance), ``"growth"``
        (成长值), ``"orders"``, or any other name (fed by ``MetricEvent`` or a metric column).
    column:
        The metric column [`evaluate`][] reads (default: ``metric``).
    currency:
        Currency of spend thresholds and purchases.
    window:
        ``"lifetime"``, ``"rolling"`` (the last ``window_length``) or ``"calendar"`` (the current cycle:
        ``cycle_months`` months from ``cycle_start``; a calendar year by default).
    window_length:
        Length of the rolling window (a duration: ``"12mo"``, ``"365d"``).
    cycle_start, cycle_months:
        Cycle anchor ``"MM-DD"`` (local midnight in the business zone) and length in months; used by the
        calendar window and by cycle reviews.
    review:
        ``"anniversary"`` (every ``review_period`` after the tier was reached) or ``"cycle"`` (at every
        cycle start).
    review_period:
        Interval of anniversary reviews.
    downgrade:
        ``"none"`` (tiers are never lost), ``"one_step"`` (one tier down per failed review) or
        ``"to_qualified"`` (straight to the highest lower tier whose retention threshold is met).
    protection:
        A duration after an upgrade during which reviews keep the tier (保护期), or ``None``.
    tz:
        Business time zone for calendar arithmetic (default: the ``as_of``'s own zone).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> policy = TierPolicy([
    ...     Tier(code="silver", label_en="Silver", label_zh="银海", entry="0 CNY"),
    ...     Tier(code="gold", label_en="Gold", label_zh="金海", entry="1000 CNY", retention="800 CNY"),
    ... ], window="rolling", window_length="12mo")
    >>> history = [Purchase(at=datetime(2025, 3, 1, tzinfo=timezone.utc), amount="680 CNY")]
    >>> state = policy.evaluate_one(history, as_of=datetime(2025, 6, 1, tzinfo=timezone.utc))
    >>> state.tier, state.to_next.message_en
    ('silver', 'spend 320.00 more to reach Gold')
    """

    tiers: tuple[Tier, ...] = Field(min_length=1)
    metric: str = Field(default="spend", min_length=1)
    column: str | None = None
    currency: str = "CNY"
    window: Literal["lifetime", "rolling", "calendar"] = "lifetime"
    window_length: str = "12mo"
    cycle_start: str = "01-01"
    cycle_months: int = Field(default=12, ge=1, le=120)
    review: Literal["anniversary", "cycle"] = "anniversary"
    review_period: str = "12mo"
    downgrade: Literal["none", "one_step", "to_qualified"] = "one_step"
    protection: str | None = None
    tz: str | None = None

    def __init__(self, tiers: Sequence[Tier] | None = None, /, **data: Any) -> None:
        if tiers is not None:
            data["tiers"] = tiers
        super().__init__(**data)

    # -- validation ---------------------------------------------------------------------------------
    @field_validator("window_length", "review_period", "protection")
    @classmethod
    def _duration(cls, text: str | None) -> str | None:
        if text is None:
            return None
        try:
            duration = parse_duration(text)
        except DataError as exc:
            raise ValueError(str(exc)) from None
        if duration.months == duration.days == duration.seconds == 0:
            raise ValueError(f"duration must be longer than zero, got {text!r}")
        return text

    @field_validator("cycle_start")
    @classmethod
    def _month_day(cls, text: str) -> str:
        try:
            month, day = (int(part) for part in text.split("-"))
            date(2000, month, day)
        except ValueError:
            raise ValueError(f"cycle_start must be 'MM-DD' like '01-01', got {text!r}") from None
        return text

    @field_validator("currency")
    @classmethod
    def _currency(cls, code: str) -> str:
        try:
            Currency(code)
        except DataError as exc:
            raise ValueError(str(exc)) from None
        return code

    @field_validator("tz")
    @classmethod
    def _valid_zone(cls, name: str | None) -> str | None:
        if name is not None:
            try:
                get_tz(name)
            except DataError as exc:
                raise ValueError(str(exc)) from None
        return name

    @model_validator(mode="after")
    def _check_tiers(self) -> TierPolicy:
        codes = [tier.code for tier in self.tiers]
        duplicates = sorted({code for code in codes if codes.count(code) > 1})
        if duplicates:
            raise ValueError(f"tiers: duplicate tier codes {duplicates}")
        for position, tier in enumerate(self.tiers):
            for name in ("entry", "retention"):
                value = getattr(tier, name)
                if isinstance(value, Money) and (
                    self.metric != "spend" or value.currency.code != self.currency
                ):
                    expected = f"{self.currency} amounts" if self.metric == "spend" else "ints"
                    raise ValueError(
                        f"tiers[{position}].{name}: {value} does not fit metric {self.metric!r} ({expected})"
                    )
            if position == 0:
                continue
            below = self.tiers[position - 1]
            if tier.entry_value <= below.entry_value:
                raise ValueError(
                    f"tiers[{position}].entry: {tier.entry} ({tier.code}) is not above tiers[{position - 1}]."
                    f"entry {below.entry} ({below.code}); list tiers lowest first with increasing entry "
                    "thresholds"
                )
            if tier.retention_value < below.retention_value:
                raise ValueError(
                    f"tiers[{position}].retention: keeping {tier.code} ({tier.retention_value}) cannot be "
                    f"easier than keeping {below.code} ({below.retention_value})"
                )
        return self

    # -- reading ------------------------------------------------------------------------------------
    @property
    def codes(self) -> tuple[str, ...]:
        """Tier codes, lowest first."""
        return tuple(tier.code for tier in self.tiers)

    @cached_property
    def entries(self) -> npt.NDArray[np.int64]:
        """Entry thresholds as an int64 array, lowest tier first."""
        return np.array([tier.entry_value for tier in self.tiers], dtype=np.int64)

    @cached_property
    def retentions(self) -> npt.NDArray[np.int64]:
        """Retention thresholds (entry where none) as an int64 array."""
        return np.array([tier.retention_value for tier in self.tiers], dtype=np.int64)

    def __getitem__(self, code: str) -> Tier:
        return self.tiers[self.index(code)]

    def __len__(self) -> int:
        return len(self.tiers)

    def index(self, code: str | None) -> int:
        """Position of a tier code (``-1`` for ``None``, no tier); unknown codes raise ``DataError``."""
        if code is None:
            return -1
        try:
            return self.codes.index(code)
        except ValueError:
            raise DataError(f"unknown tier code {code!r} (known: {', '.join(self.codes)})") from None

    @property
    def metric_column(self) -> str:
        """The column [`evaluate`][] reads."""
        return self.column or self.metric

    def format_value(self, value: int) -> str:
        """A metric value as a person reads it (spend in major units)."""
        return format_metric(self.metric, value, self.currency)

    def _tier_benefits(self) -> list[tuple[str, tuple[Any, ...]]]:
        return [(tier.code, tier.benefits) for tier in self.tiers]

    def _labels(self, index: int) -> tuple[str | None, str | None, str | None]:
        if index < 0:
            return None, None, None
        tier = self.tiers[index]
        return tier.code, tier.label_en, tier.label_zh

    def _zone(self, as_of: datetime, tz: TzLike | None) -> tzinfo:
        zone = tz if tz is not None else self.tz
        return get_tz(zone, default=as_of.tzinfo or get_tz("UTC"))

    def _calendar(self, tz: tzinfo) -> Calendar:
        month, day = (int(part) for part in self.cycle_start.split("-"))
        return Calendar(month=month, day=day, months=self.cycle_months, tz=tz)

    # -- decisions shared by both paths ---------------------------------------------------------------
    def _qualified(self, value: int) -> int:
        """Highest tier whose entry threshold ``value`` meets (``-1`` for none)."""
        return bisect_right(self._entry_list, max(value, 0)) - 1

    @cached_property
    def _entry_list(self) -> list[int]:
        return [tier.entry_value for tier in self.tiers]

    def _after_failed_review(self, index: int, value: int) -> int:
        if self.downgrade == "one_step":
            return index - 1
        kept = int(np.searchsorted(self.retentions, max(value, 0), side="right")) - 1
        return max(self._qualified(value), min(kept, index - 1))

    def _review_decision(self, index: int, value: int) -> int:
        """The tier after a review of a member at ``index`` whose window metric is ``value``."""
        qualified = self._qualified(value)
        if index < 0 or self.downgrade == "none" or max(value, 0) >= self.retentions[index]:
            return max(index, qualified)
        return self._after_failed_review(index, value)

    # -- history ------------------------------------------------------------------------------------
    def _delta(self, event: Any, position: int) -> int | None:
        metric = self.metric
        if isinstance(event, (Purchase, Refund)):
            if metric == "spend":
                if event.amount.currency.code != self.currency:
                    raise DataError(
                        f"history[{position}].amount: {event.amount} is not in the policy currency "
                        f"{self.currency}"
                    )
                return event.amount.minor if isinstance(event, Purchase) else -event.amount.minor
            if metric == "orders":
                if isinstance(event, Purchase):
                    return 1
                return -1 if event.cancels_order else None
            return None
        if isinstance(event, PointsEarned):
            return event.points if metric == "points" else None
        if isinstance(event, GrowthEarned):
            return event.growth if metric == "growth" else None
        if isinstance(event, MetricEvent):
            return event.value if event.metric == metric else None
        return None

    def _prepare(self, history: Any) -> tuple[MetricSeries, list[datetime], list[TierOverride]]:
        events = coerce_history(history, currency=self.currency)
        changes: list[tuple[datetime, int]] = []
        overrides: list[TierOverride] = []
        keys: Deduplicator[Any] = Deduplicator(_reused_key)
        for position, event in enumerate(events):
            if not keys.first(event.key, event, position):
                continue  # the same event stored twice: idempotent
            # UTC throughout: an aware datetime in a repeated (DST) hour never equals one in another zone.
            at = event.at.astimezone(timezone.utc)
            if isinstance(event, TierOverride):
                self.index(event.tier)  # unknown codes fail here, naming the code
                until = None if event.until is None else event.until.astimezone(timezone.utc)
                overrides.append(event.model_copy(update={"at": at, "until": until}))
                continue
            delta = self._delta(event, position)
            if delta is not None:
                changes.append((at, delta))
        # Overrides at one instant apply in the order given (the last one wins), after that instant's events.
        overrides.sort(key=lambda o: o.at)
        instants = sorted({at for at, _ in changes}, key=lambda at: at)
        return MetricSeries.build(changes), instants, overrides

    def _window_start(self, end: datetime | Scheduled, tz: tzinfo) -> datetime | None:
        """Start of the qualifying window ending at ``end`` (exclusive).

        A rolling window ending at a scheduled review counts back from the review's scheduled wall-clock
        time, which may be one the clock skipped (see [`Scheduled`][]).
        """
        if self.window == "lifetime":
            return None
        if self.window == "rolling":
            length = parse_duration(self.window_length)
            if isinstance(end, datetime):  # an instant that happened: its wall time exists
                return add_duration(end, length, -1, tz)
            return end.window_start(length, tz)
        return self._calendar(tz).cycle_start(just_before(end if isinstance(end, datetime) else end.at))

    def _metric_at(self, series: MetricSeries, end: datetime | Scheduled, tz: tzinfo) -> int:
        at = end if isinstance(end, datetime) else end.at
        return series.total(self._window_start(end, tz), at)

    def _schedule(self, run: _Run, tz: tzinfo) -> None:
        """Set the next review after a change of tier or a review."""
        if (
            run.index < 0
            or run.override is not None
            or self.downgrade == "none"
            or self.retentions[run.index] == 0
            or run.anchor is None
        ):
            run.scheduled = None
            return
        if self.review == "anniversary":
            period: Duration = parse_duration(self.review_period)
            anchor = Scheduled.of_instant(run.anchor, tz)
            run.scheduled = anchor.shifted(period, run.reviews_done + 1, tz)
        else:
            last = run.anchor if run.next_review is None or run.reviews_done == 0 else run.next_review
            run.scheduled = self._calendar(tz).next_scheduled(last)

    def _set_tier(self, run: _Run, index: int, at: datetime, tz: tzinfo) -> None:
        run.index = index
        run.since = at
        run.anchor = at
        run.reviews_done = 0
        run.scheduled = None
        self._schedule(run, tz)

    def _record(
        self,
        run: _Run,
        at: datetime,
        kind: str,
        before: int,
        value: int | None,
        threshold: int | None,
        review: bool,
        reason: tuple[str, str],
    ) -> None:
        run.changes.append(
            TierChange(
                at=at,
                kind=kind,
                from_tier=self._labels(before)[0],
                to_tier=self._labels(run.index)[0],
                metric=value,
                threshold=threshold,
                review=review,
                reason_en=reason[0],
                reason_zh=reason[1],
            )
        )

    def _metric_words(self, value: int) -> tuple[str, str]:
        text = self.format_value(value)
        return f"{self.metric} {text}", f"{METRIC_ZH.get(self.metric, self.metric)}{text}"

    def _upgrade(self, run: _Run, series: MetricSeries, at: datetime, tz: tzinfo) -> None:
        if run.index == len(self.tiers) - 1:
            return  # nothing above the top tier: skip the window arithmetic
        value = self._metric_at(series, just_after(at), tz)
        qualified = self._qualified(value)
        if qualified <= run.index:
            return
        before = run.index
        self._set_tier(run, qualified, at, tz)
        if self.protection is not None:
            run.protected_until = add_duration(at, parse_duration(self.protection), 1, tz)
        tier = self.tiers[qualified]
        en, zh = self._metric_words(value)
        threshold = self.format_value(tier.entry_value)
        reason = (
            f"{en} reached {tier.label_en} entry {threshold}",
            f"{zh}达到{tier.label_zh}门槛{threshold}",
        )
        self._record(run, at, "upgrade", before, value, tier.entry_value, False, reason)

    def _review(
        self, run: _Run, series: MetricSeries, scheduled: Scheduled, tz: tzinfo, *, ending: bool
    ) -> None:
        at = scheduled.at
        value = self._metric_at(series, scheduled, tz)
        before = run.index
        en, zh = self._metric_words(value)
        prefix_en, prefix_zh = ("override ended; ", "人工调级结束；") if ending else ("", "")
        if ending:
            run.override = None
        elif run.protected_until is not None and at < run.protected_until:
            run.reviews_done += 1
            self._schedule(run, tz)
            until = when_text(run.protected_until, tz)
            reason = (
                f"review inside the protection period (until {until})",
                f"保护期内（至{until}），保留等级",
            )
            self._record(run, at, "protected", before, value, None, True, reason)
            return
        after = self._review_decision(before, value)
        if before < 0 and after < 0:
            self._set_tier(run, -1, at, tz)
            self._record(
                run,
                at,
                "retain",
                before,
                value,
                None,
                True,
                (prefix_en + "no tier qualifies", prefix_zh + "未达到任何等级"),
            )
            return
        if after == before:
            tier = self.tiers[before]
            threshold = tier.retention_value
            if ending:
                run.anchor, run.reviews_done, run.scheduled = at, 0, None
            else:
                run.reviews_done += 1
            self._schedule(run, tz)
            text = self.format_value(threshold)
            reason = (
                f"{prefix_en}{en} met {tier.label_en} retention {text}",
                f"{prefix_zh}{zh}达到{tier.label_zh}保级线{text}",
            )
            self._record(run, at, "retain", before, value, threshold, True, reason)
            return
        self._set_tier(run, after, at, tz)
        run.protected_until = None
        if after > before:
            tier = self.tiers[after]
            text = self.format_value(tier.entry_value)
            reason = (
                f"{prefix_en}{en} reached {tier.label_en} entry {text}",
                f"{prefix_zh}{zh}达到{tier.label_zh}门槛{text}",
            )
            self._record(run, at, "upgrade", before, value, tier.entry_value, True, reason)
            return
        tier = self.tiers[before]
        text = self.format_value(tier.retention_value)
        mode_en = {"one_step": "one step down", "to_qualified": "down to the qualified tier"}[self.downgrade]
        mode_zh = {"one_step": "降一级", "to_qualified": "降至达标等级"}[self.downgrade]
        reason = (
            f"{prefix_en}{en} below {tier.label_en} retention {text}: {mode_en}",
            f"{prefix_zh}{zh}低于{tier.label_zh}保级线{text}，{mode_zh}",
        )
        self._record(run, at, "downgrade", before, value, tier.retention_value, True, reason)

    def _apply_override(self, run: _Run, override: TierOverride, tz: tzinfo) -> None:
        before = run.index
        run.index = self.index(override.tier)
        run.since = override.at
        run.override = override
        run.scheduled = None
        run.protected_until = None
        reason = (f"manual override: {override.reason}", f"人工调级：{override.reason}")
        self._record(run, override.at, "override", before, None, None, False, reason)

    def _return_to_earned(
        self, run: _Run, series: MetricSeries, instants: list[datetime], at: datetime, tz: tzinfo
    ) -> None:
        """End the override at ``at``: the member takes the state their history alone gives them then."""
        earned = self._walk(series, instants, [], at, tz)
        before = run.index
        run.override = None
        run.index, run.anchor, run.reviews_done = earned.index, earned.anchor, earned.reviews_done
        run.scheduled, run.protected_until = earned.scheduled, earned.protected_until
        if run.index != before:
            run.since = at
        kind = "retain" if run.index == before else ("upgrade" if run.index > before else "downgrade")
        _, en, zh = self._labels(run.index)
        reason = (
            f"override ended; back to the tier the member's own history earns: {en or 'no tier'}",
            f"人工调级结束；恢复为自身记录达到的等级：{zh or '无等级'}",
        )
        value = self._metric_at(series, at, tz)
        self._record(run, at, kind, before, value, None, True, reason)

    def _walk(
        self,
        series: MetricSeries,
        instants: list[datetime],
        overrides: list[TierOverride],
        as_of: datetime,
        tz: tzinfo,
    ) -> _Run:
        """Replay events, reviews and overrides up to ``as_of`` (events ``< as_of``, reviews ``<= as_of``)."""
        # A lowest tier with entry 0 is held from the start (everyone who has a history is a member).
        run = _Run(index=0 if self.entries[0] == 0 else -1)
        event_at = override_at = 0
        while True:
            ending = run.override.until if run.override is not None else None
            scheduled = (
                Scheduled.of_instant(ending, tz)
                if ending is not None
                else (run.scheduled if run.override is None else None)
            )
            facts = [
                t
                for t in (
                    instants[event_at] if event_at < len(instants) else None,
                    overrides[override_at].at if override_at < len(overrides) else None,
                )
                if t is not None
            ]
            fact = min(facts) if facts else None
            if scheduled is not None and scheduled.at <= as_of and (fact is None or scheduled.at <= fact):
                if run.override is not None and run.override.on_end == "earned":
                    self._return_to_earned(run, series, instants, scheduled.at, tz)
                else:
                    self._review(run, series, scheduled, tz, ending=ending is not None)
                continue
            if fact is None or fact >= as_of:
                return run
            if event_at < len(instants) and instants[event_at] == fact:
                event_at += 1
                if run.override is None:
                    self._upgrade(run, series, fact, tz)
            while override_at < len(overrides) and overrides[override_at].at == fact:
                self._apply_override(run, overrides[override_at], tz)
                override_at += 1

    # -- one member -----------------------------------------------------------------------------------
    def evaluate_one(
        self,
        history: Any,
        *,
        as_of: datetime,
        tz: TzLike | None = None,
        current: str | None = None,
        review: bool = True,
    ) -> TierState:
        """One member's tier at ``as_of`` from their history (or from a record of metric values).

        Parameters
        ----------
        history:
            A sequence of tier events ([`Purchase`][], [`Refund`][], [`PointsEarned`][],
            [`GrowthEarned`][], [`MetricEvent`][], [`TierOverride`][]) or their dicts, or a
            table of events (its columns: [`TIER_EVENT_COLUMNS`][]). A ``Mapping`` without an
            ``at`` key is instead a *record* of metric values (the scalar twin of [`evaluate`][]):
            its [`metric_column`][] is the metric.
        as_of:
            Timezone-aware instant.
        tz:
            Business time zone (default: the policy's ``tz``, else ``as_of``'s zone).
        current, review:
            Only for a record: the member's current tier code, and whether this is a review (see
            [`evaluate`][]).

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> policy = TierPolicy([Tier(code="member", label_en="Member", label_zh="会员", entry=0),
        ...                      Tier(code="vip", label_en="VIP", label_zh="贵宾", entry=500)],
        ...                     metric="growth")
        >>> policy.evaluate_one({"growth": 620}, as_of=datetime(2025, 1, 1, tzinfo=timezone.utc)).tier
        'vip'
        """
        as_of = require_aware(as_of)
        zone = self._zone(as_of, tz)
        if isinstance(history, Mapping) and "at" not in history:
            return self._state_of_record(history, as_of=as_of, zone=zone, current=current, review=review)
        if current is not None or not review:
            raise DataError("current= and review= apply to a record of metric values, not to a history")
        series, instants, overrides = self._prepare(history)
        run = self._walk(series, instants, overrides, as_of.astimezone(timezone.utc), zone)
        return self._state(run, series, as_of, zone)

    def simulate(self, history: Any, *, until: datetime, tz: TzLike | None = None) -> TierTimeline:
        """The tier timeline up to ``until``: every upgrade, review and override, with its reason.

        ``timeline.final`` is exactly ``evaluate_one(history, as_of=until)``.

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> policy = TierPolicy([Tier(code="member", label_en="Member", label_zh="会员", entry=0),
        ...                      Tier(code="vip", label_en="VIP", label_zh="贵宾", entry=500)],
        ...                     metric="growth", window="rolling", window_length="12mo")
        >>> events = [GrowthEarned(at=datetime(2024, 1, 10, tzinfo=timezone.utc), growth=600)]
        >>> timeline = policy.simulate(events, until=datetime(2026, 6, 1, tzinfo=timezone.utc))
        >>> [(c.at.date().isoformat(), c.kind, c.to_tier) for c in timeline]
        [('2024-01-10', 'upgrade', 'vip'), ('2025-01-10', 'retain', 'vip'),
         ('2026-01-10', 'downgrade', 'member')]

        The first review's window ``[2024-01-10, 2025-01-10)`` holds the event that reached the tier
        (windows include their start); the second one's is empty.
        """
        until = require_aware(until, name="until")
        zone = self._zone(until, tz)
        series, instants, overrides = self._prepare(history)
        run = self._walk(series, instants, overrides, until.astimezone(timezone.utc), zone)
        return TierTimeline(changes=tuple(run.changes), final=self._state(run, series, until, zone))

    def _state(self, run: _Run, series: MetricSeries, as_of: datetime, zone: tzinfo) -> TierState:
        code, en, zh = self._labels(run.index)
        value = self._metric_at(series, as_of, zone)
        to_next = None
        if run.index + 1 < len(self.tiers) and run.override is None:
            target = self.tiers[run.index + 1]
            by = self._calendar(zone).next_boundary(as_of) if self.window == "calendar" else None
            start = (
                self._calendar(zone).cycle_start(as_of)
                if self.window == "calendar"
                else (self._window_start(as_of, zone))
            )
            to_next = make_progress(
                goal="reach",
                tier=(target.code, target.label_en, target.label_zh),
                metric=self.metric,
                current=series.total(start, as_of),
                threshold=target.entry_value,
                by=by,
                currency=self.currency,
                tz=zone,
            )
        to_keep = None
        protected = (
            run.protected_until is not None
            and run.next_review is not None
            and (run.next_review < run.protected_until)
        )
        if run.scheduled is not None and run.index >= 0 and not protected:
            tier = self.tiers[run.index]
            known = series.total(self._window_start(run.scheduled, zone), as_of)
            to_keep = make_progress(
                goal="keep",
                tier=(tier.code, tier.label_en, tier.label_zh),
                metric=self.metric,
                current=known,
                threshold=tier.retention_value,
                by=run.next_review,
                currency=self.currency,
                tz=zone,
            )
        override = run.override
        return TierState(
            as_of=as_of,
            tier=code,
            tier_en=en,
            tier_zh=zh,
            index=run.index,
            since=run.since,
            next_review=run.next_review,
            metric=value,
            protected_until=run.protected_until,
            override_reason=override.reason if override is not None else None,
            override_until=override.until if override is not None else None,
            to_next=to_next,
            to_keep=to_keep,
        )

    def _record_value(self, record: Mapping[str, Any]) -> int:
        name = self.metric_column
        if name not in record:
            raise DataError(f"record has no metric column {name!r} (columns: {', '.join(map(str, record))})")
        value = record[name]
        if value is None or isinstance(value, bool):
            raise DataError(f"{name}: the metric must be a number, got {value!r}")
        if isinstance(value, (float, np.floating)):
            if self.metric == "spend" or not np.isfinite(value):
                raise DataError(
                    f"{name}: expected an integer{_MINOR if self.metric == 'spend' else ''}, got {value!r}"
                )
            if not float(value).is_integer():
                # Thresholds are ints: comparing with the floor is exact for ">=" on a non-integral value.
                return int(np.floor(value))
            return int(value)
        if isinstance(value, Money):
            return value.minor
        if not isinstance(value, (int, np.integer)):
            raise DataError(f"{name}: the metric must be a number, got {type(value).__name__} {value!r}")
        return int(value)

    def _state_of_record(
        self, record: Mapping[str, Any], *, as_of: datetime, zone: tzinfo, current: str | None, review: bool
    ) -> TierState:
        value = self._record_value(record)
        before = self.index(current)
        index = self._review_decision(before, value) if review else max(before, self._qualified(value))
        code, en, zh = self._labels(index)
        to_next = None
        if index + 1 < len(self.tiers):
            target = self.tiers[index + 1]
            to_next = make_progress(
                goal="reach",
                tier=(target.code, target.label_en, target.label_zh),
                metric=self.metric,
                current=value,
                threshold=target.entry_value,
                by=None,
                currency=self.currency,
                tz=zone,
            )
        to_keep = None
        if index >= 0:
            tier = self.tiers[index]
            to_keep = make_progress(
                goal="keep",
                tier=(tier.code, tier.label_en, tier.label_zh),
                metric=self.metric,
                current=value,
                threshold=tier.retention_value,
                by=None,
                currency=self.currency,
                tz=zone,
            )
        return TierState(
            as_of=as_of,
            tier=code,
            tier_en=en,
            tier_zh=zh,
            index=index,
            since=None,
            next_review=None,
            metric=value,
            protected_until=None,
            override_reason=None,
            override_until=None,
            to_next=to_next,
            to_keep=to_keep,
        )

    # -- a population -----------------------------------------------------------------------------
    def _metric_array(self, table: Table) -> npt.NDArray[Any]:
        name = self.metric_column
        if name not in table.columns:
            raise DataError(
                f"unknown metric column {name!r} (columns: {', '.join(table.columns)}); "
                "name it with TierPolicy(column=...)"
            )
        values = table[name]
        if np.ma.is_masked(values):
            row = int(np.flatnonzero(np.ma.getmaskarray(values))[0])
            raise DataError(
                f"{name}: null metric at row {row}; fill it (0 for no activity) before evaluating"
            )
        data = np.ma.getdata(values)
        if data.dtype.kind in "iu":
            return data.astype(np.int64, copy=False)
        if data.dtype.kind == "f" and self.metric != "spend":
            if not np.isfinite(data).all():
                row = int(np.flatnonzero(~np.isfinite(data))[0])
                raise DataError(f"{name}: NaN or infinite metric at row {row}")
            floored: npt.NDArray[Any] = np.floor(data)
            return floored
        raise DataError(
            f"{name}: expected an integer column{_MINOR if self.metric == 'spend' else ''}, got {data.dtype}"
        )

    def _current_index(self, table: Table, current: str) -> npt.NDArray[np.int64]:
        if current not in table.columns:
            raise DataError(f"unknown current-tier column {current!r} (columns: {', '.join(table.columns)})")
        column = table[current]
        values = np.ma.getdata(column)
        present = ~np.ma.getmaskarray(column)
        if values.dtype == object:
            present &= np.asarray(values != None, dtype=np.bool_)  # noqa: E711  (elementwise)
        index = np.full(len(table), -1, dtype=np.int64)
        if values.dtype.kind in "iu":
            index[present] = values[present]
            if ((index < -1) | (index >= len(self.tiers))).any():
                raise DataError(f"{current}: tier index out of range 0..{len(self.tiers) - 1}")
            return index
        codes, inverse = np.unique(values[present].astype(str), return_inverse=True)
        lookup = np.array([self.index(str(code)) for code in codes], dtype=np.int64)
        index[present] = lookup[inverse.reshape(-1)]
        return index

    def evaluate(
        self,
        table: Any,
        *,
        as_of: datetime,
        current: str | None = None,
        review: bool = True,
    ) -> TierTable:
        """Tiers of a population from a metric column (vectorized).

        Parameters
        ----------
        table:
            A [`Table`][] or anything it is built from, with the metric column
            ([`metric_column`][]; spend in integer minor units) and optionally ``customer_id``.
        as_of:
            Timezone-aware instant the metric values refer to.
        current:
            Name of a column holding each member's current tier (code, or index; null for none). With it
            the call is a review: members keep their tier when they meet its retention threshold
            (保级), else ``downgrade`` applies; ``review=False`` only upgrades.

        Returns
        -------
        TierTable
            Columns ``customer_id`` (when given), ``tier``, ``tier_en``, ``tier_zh``, ``tier_index``
            (``-1`` for none), ``next_tier`` and ``to_next`` (what reaching it takes; null at the top),
            plus ``previous`` and ``change`` (``up``/``down``/``same``) with ``current``.

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> policy = TierPolicy([Tier(code="member", label_en="Member", label_zh="会员", entry=0),
        ...                      Tier(code="vip", label_en="VIP", label_zh="贵宾", entry=500, retention=300)],
        ...                     metric="growth")
        >>> result = policy.evaluate({"growth": [100, 500, 400], "tier": ["member", "member", "vip"]},
        ...                          as_of=datetime(2025, 1, 1, tzinfo=timezone.utc), current="tier")
        >>> result["tier"].tolist(), result["change"].tolist()
        (['member', 'vip', 'vip'], ['same', 'up', 'same'])
        """
        require_aware(as_of)
        data = Table.coerce(table)
        values = self._metric_array(data)
        clipped = np.maximum(values, 0)
        index = np.searchsorted(self.entries, clipped, side="right") - 1
        columns: dict[str, Any] = {}
        if "customer_id" in data.columns:
            columns["customer_id"] = data["customer_id"]
        if current is not None:
            before = self._current_index(data, current)
            index = self._batch_review(before, index, clipped) if review else np.maximum(index, before)
        labels = self._label_arrays
        columns["tier"] = labels[0][index]
        columns["tier_en"] = labels[1][index]
        columns["tier_zh"] = labels[2][index]
        columns["tier_index"] = index
        top = len(self.tiers) - 1
        next_index = np.minimum(index + 1, top)
        columns["next_tier"] = labels[3][index]
        needed = np.maximum(self.entries[next_index] - clipped, 0)
        columns["to_next"] = np.ma.MaskedArray(needed.astype(np.int64, copy=False), mask=index == top)
        if current is not None:
            columns["previous"] = labels[0][before]
            columns["change"] = np.array(["down", "same", "up"], dtype=object)[np.sign(index - before) + 1]
        result = cast(TierTable, TierTable._trusted(columns))
        result.policy = self
        result.index = index
        return result

    def _batch_review(
        self, before: npt.NDArray[np.int64], qualified: npt.NDArray[np.int64], clipped: npt.NDArray[Any]
    ) -> npt.NDArray[np.int64]:
        has = before >= 0
        if self.downgrade == "none":
            return np.maximum(before, qualified)
        kept = ~has | (clipped >= self.retentions[np.maximum(before, 0)])
        if self.downgrade == "one_step":
            failed = before - 1
        else:
            by_retention = np.searchsorted(self.retentions, clipped, side="right") - 1
            failed = np.maximum(qualified, np.minimum(by_retention, before - 1))
        result: npt.NDArray[np.int64] = np.where(kept, np.maximum(before, qualified), failed)
        return result

    @cached_property
    def _label_arrays(self) -> tuple[npt.NDArray[Any], ...]:
        # Index -1 (no tier) reads the trailing None; next_tier of the top tier is None too.
        codes = np.array([*self.codes, None], dtype=object)
        en = np.array([*(t.label_en for t in self.tiers), None], dtype=object)
        zh = np.array([*(t.label_zh for t in self.tiers), None], dtype=object)
        following = np.array([*self.codes[1:], None, self.codes[0]], dtype=object)
        return codes, en, zh, following

    def describe(self) -> Table:
        """The tiers as a table: code, labels, entry and retention thresholds (as a person reads them).

        Examples
        --------
        >>> policy = TierPolicy([Tier(code="member", label_en="Member", label_zh="会员", entry="0 CNY")])
        >>> policy.describe().to_dicts()[0]["entry"]
        '0.00'
        """
        return Table(
            {
                "code": list(self.codes),
                "label_en": [t.label_en for t in self.tiers],
                "label_zh": [t.label_zh for t in self.tiers],
                "entry": [self.format_value(t.entry_value) for t in self.tiers],
                "retention": [self.format_value(t.retention_value) for t in self.tiers],
            }
        )

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(t.code)}</td><td>{html.escape(t.label_en)}</td>"
            f"<td>{html.escape(t.label_zh)}</td><td>{self.format_value(t.entry_value)}</td>"
            f"<td>{self.format_value(t.retention_value)}</td>"
            f"<td>{html.escape('; '.join(b.label('en') for b in t.benefits))}</td></tr>"
            for t in self.tiers
        )
        head = (
            "<tr><th>code</th><th>en</th><th>中文</th><th>entry</th><th>retention</th><th>benefits</th></tr>"
        )
        caption = html.escape(
            f"metric {self.metric}, window {self.window}, review {self.review}, downgrade {self.downgrade}"
        )
        return f"<table><caption>{caption}</caption><thead>{head}</thead><tbody>{rows}</tbody></table>"


class TierTable(Table):
    """The result of [`TierPolicy.evaluate`][]: a Table that remembers its policy and tier indexes.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> policy = TierPolicy([Tier(code="a", label_en="A", label_zh="甲", entry=0),
    ...                      Tier(code="b", label_en="B", label_zh="乙", entry=3)], metric="orders")
    >>> result = policy.evaluate({"orders": [1, 5]}, as_of=datetime(2025, 1, 1, tzinfo=timezone.utc))
    >>> result["tier"].tolist(), result.index.tolist()
    (['a', 'b'], [0, 1])
    """

    __slots__ = ("index", "policy")
    policy: TierPolicy | None
    index: npt.NDArray[np.int64] | None

    def counts(self) -> dict[str | None, int]:
        """Members per tier, lowest first (tiers without members as 0; ``None`` counts no tier).

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> policy = TierPolicy([Tier(code="a", label_en="A", label_zh="甲", entry=1)], metric="orders")
        >>> policy.evaluate({"orders": [0, 1, 2]}, as_of=datetime(2025, 1, 1, tzinfo=timezone.utc)).counts()
        {'a': 2, None: 1}
        """
        policy, index = getattr(self, "policy", None), getattr(self, "index", None)
        if policy is None or index is None:
            raise DataError("counts() needs the result of TierPolicy.evaluate")
        found = np.bincount(index + 1, minlength=len(policy.tiers) + 1)
        counts: dict[str | None, int] = {
            code: int(n) for code, n in zip(policy.codes, found[1:], strict=True)
        }
        if found[0]:
            counts[None] = int(found[0])
        return counts

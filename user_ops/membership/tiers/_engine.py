"""The tier engine behind [`TierPolicy`][]: the decisions of its ``evaluate``, ``evaluate_one`` and
``simulate``, which forward here.

Three ways to a tier, one set of rules (the boundary rules are written down in the policy's module):

* a member's **history** is walked in time order: upgrades right after the event that reaches an entry
  threshold, reviews at anniversaries or cycle starts (保级), manual overrides and their end;
* a **record** of metric values gives a member's tier at once (the scalar twin of the batch path);
* a **population**'s tiers come from a metric column, vectorized with numpy.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from user_ops._money import Money
from user_ops._table import Table
from user_ops._time import Duration, TzLike, get_tz, parse_duration, require_aware
from user_ops.exceptions import DataError
from user_ops.membership._history import Deduplicator
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
    TierTable,
    TierTimeline,
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

if TYPE_CHECKING:
    from user_ops.membership.tiers._policy import TierPolicy

__all__ = ["TierEngine"]

_MINOR = " of minor units (spend is exact money)"


def _reused_key(position: int, earlier_position: int, earlier: Any, event: Any) -> str:
    return (
        f"history[{position}].key: {event.key!r} is also the key of history[{earlier_position}], "
        "a different event (keys identify events)"
    )


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


class TierEngine:
    """The decisions of one [`TierPolicy`][] (one engine per call: the policy is the configuration)."""

    def __init__(self, policy: TierPolicy) -> None:
        self.policy = policy
        self.tiers = policy.tiers
        self.entries = policy.entries
        self.retentions = policy.retentions

    # -- the three ways in ------------------------------------------------------------------------------
    def evaluate(self, table: Any, *, as_of: datetime, current: str | None, review: bool) -> TierTable:
        """A population's tiers from a metric column: [`TierPolicy.evaluate`][]."""
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
        result.policy = self.policy
        result.index = index
        return result

    def evaluate_one(
        self, history: Any, *, as_of: datetime, tz: TzLike | None, current: str | None, review: bool
    ) -> TierState:
        """One member's tier from a history or a record: [`TierPolicy.evaluate_one`][]."""
        as_of = require_aware(as_of)
        zone = self._zone(as_of, tz)
        if isinstance(history, Mapping) and "at" not in history:
            return self._state_of_record(history, as_of=as_of, zone=zone, current=current, review=review)
        if current is not None or not review:
            raise DataError("current= and review= apply to a record of metric values, not to a history")
        series, instants, overrides = self._prepare(history)
        run = self._walk(series, instants, overrides, as_of.astimezone(timezone.utc), zone)
        return self._state(run, series, as_of, zone)

    def simulate(self, history: Any, *, until: datetime, tz: TzLike | None) -> TierTimeline:
        """A member's tier timeline: [`TierPolicy.simulate`][]."""
        until = require_aware(until, name="until")
        zone = self._zone(until, tz)
        series, instants, overrides = self._prepare(history)
        run = self._walk(series, instants, overrides, until.astimezone(timezone.utc), zone)
        return TierTimeline(changes=tuple(run.changes), final=self._state(run, series, until, zone))

    def _labels(self, index: int) -> tuple[str | None, str | None, str | None]:
        if index < 0:
            return None, None, None
        tier = self.tiers[index]
        return tier.code, tier.label_en, tier.label_zh

    def _zone(self, as_of: datetime, tz: TzLike | None) -> tzinfo:
        zone = tz if tz is not None else self.policy.tz
        return get_tz(zone, default=as_of.tzinfo or get_tz("UTC"))

    def _calendar(self, tz: tzinfo) -> Calendar:
        month, day = (int(part) for part in self.policy.cycle_start.split("-"))
        return Calendar(month=month, day=day, months=self.policy.cycle_months, tz=tz)

    # -- decisions shared by both paths ---------------------------------------------------------------
    def _qualified(self, value: int) -> int:
        """Highest tier whose entry threshold ``value`` meets (``-1`` for none)."""
        return bisect_right(self._entry_list, max(value, 0)) - 1

    @cached_property
    def _entry_list(self) -> list[int]:
        return [tier.entry_value for tier in self.tiers]

    def _after_failed_review(self, index: int, value: int) -> int:
        if self.policy.downgrade == "one_step":
            return index - 1
        kept = int(np.searchsorted(self.retentions, max(value, 0), side="right")) - 1
        return max(self._qualified(value), min(kept, index - 1))

    def _review_decision(self, index: int, value: int) -> int:
        """The tier after a review of a member at ``index`` whose window metric is ``value``."""
        qualified = self._qualified(value)
        if index < 0 or self.policy.downgrade == "none" or max(value, 0) >= self.retentions[index]:
            return max(index, qualified)
        return self._after_failed_review(index, value)

    # -- history ------------------------------------------------------------------------------------
    def _delta(self, event: Any, position: int) -> int | None:
        metric = self.policy.metric
        if isinstance(event, (Purchase, Refund)):
            if metric == "spend":
                if event.amount.currency.code != self.policy.currency:
                    raise DataError(
                        f"history[{position}].amount: {event.amount} is not in the policy currency "
                        f"{self.policy.currency}"
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
        events = coerce_history(history, currency=self.policy.currency)
        changes: list[tuple[datetime, int]] = []
        overrides: list[TierOverride] = []
        keys: Deduplicator[Any] = Deduplicator(_reused_key)
        for position, event in enumerate(events):
            if not keys.first(event.key, event, position):
                continue  # the same event stored twice: idempotent
            # UTC throughout: an aware datetime in a repeated (DST) hour never equals one in another zone.
            at = event.at.astimezone(timezone.utc)
            if isinstance(event, TierOverride):
                self.policy.index(event.tier)  # unknown codes fail here, naming the code
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
        if self.policy.window == "lifetime":
            return None
        if self.policy.window == "rolling":
            length = parse_duration(self.policy.window_length)
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
            or self.policy.downgrade == "none"
            or self.retentions[run.index] == 0
            or run.anchor is None
        ):
            run.scheduled = None
            return
        if self.policy.review == "anniversary":
            period: Duration = parse_duration(self.policy.review_period)
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
        text = self.policy.format_value(value)
        return (
            f"{self.policy.metric} {text}",
            f"{METRIC_ZH.get(self.policy.metric, self.policy.metric)}{text}",
        )

    def _upgrade(self, run: _Run, series: MetricSeries, at: datetime, tz: tzinfo) -> None:
        if run.index == len(self.tiers) - 1:
            return  # nothing above the top tier: skip the window arithmetic
        value = self._metric_at(series, just_after(at), tz)
        qualified = self._qualified(value)
        if qualified <= run.index:
            return
        before = run.index
        self._set_tier(run, qualified, at, tz)
        if self.policy.protection is not None:
            run.protected_until = add_duration(at, parse_duration(self.policy.protection), 1, tz)
        tier = self.tiers[qualified]
        en, zh = self._metric_words(value)
        threshold = self.policy.format_value(tier.entry_value)
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
            text = self.policy.format_value(threshold)
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
            text = self.policy.format_value(tier.entry_value)
            reason = (
                f"{prefix_en}{en} reached {tier.label_en} entry {text}",
                f"{prefix_zh}{zh}达到{tier.label_zh}门槛{text}",
            )
            self._record(run, at, "upgrade", before, value, tier.entry_value, True, reason)
            return
        tier = self.tiers[before]
        text = self.policy.format_value(tier.retention_value)
        mode_en = {"one_step": "one step down", "to_qualified": "down to the qualified tier"}[
            self.policy.downgrade
        ]
        mode_zh = {"one_step": "降一级", "to_qualified": "降至达标等级"}[self.policy.downgrade]
        reason = (
            f"{prefix_en}{en} below {tier.label_en} retention {text}: {mode_en}",
            f"{prefix_zh}{zh}低于{tier.label_zh}保级线{text}，{mode_zh}",
        )
        self._record(run, at, "downgrade", before, value, tier.retention_value, True, reason)

    def _apply_override(self, run: _Run, override: TierOverride) -> None:
        before = run.index
        run.index = self.policy.index(override.tier)
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
                self._apply_override(run, overrides[override_at])
                override_at += 1

    def _state(self, run: _Run, series: MetricSeries, as_of: datetime, zone: tzinfo) -> TierState:
        code, en, zh = self._labels(run.index)
        value = self._metric_at(series, as_of, zone)
        to_next = None
        if run.index + 1 < len(self.tiers) and run.override is None:
            target = self.tiers[run.index + 1]
            by = self._calendar(zone).next_boundary(as_of) if self.policy.window == "calendar" else None
            start = (
                self._calendar(zone).cycle_start(as_of)
                if self.policy.window == "calendar"
                else (self._window_start(as_of, zone))
            )
            to_next = make_progress(
                goal="reach",
                tier=(target.code, target.label_en, target.label_zh),
                metric=self.policy.metric,
                current=series.total(start, as_of),
                threshold=target.entry_value,
                by=by,
                currency=self.policy.currency,
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
                metric=self.policy.metric,
                current=known,
                threshold=tier.retention_value,
                by=run.next_review,
                currency=self.policy.currency,
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
        name = self.policy.metric_column
        if name not in record:
            raise DataError(f"record has no metric column {name!r} (columns: {', '.join(map(str, record))})")
        value = record[name]
        if value is None or isinstance(value, bool):
            raise DataError(f"{name}: the metric must be a number, got {value!r}")
        if isinstance(value, (float, np.floating)):
            if self.policy.metric == "spend" or not np.isfinite(value):
                exact = _MINOR if self.policy.metric == "spend" else ""
                raise DataError(f"{name}: expected an integer{exact}, got {value!r}")
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
        before = self.policy.index(current)
        index = self._review_decision(before, value) if review else max(before, self._qualified(value))
        code, en, zh = self._labels(index)
        to_next = None
        if index + 1 < len(self.tiers):
            target = self.tiers[index + 1]
            to_next = make_progress(
                goal="reach",
                tier=(target.code, target.label_en, target.label_zh),
                metric=self.policy.metric,
                current=value,
                threshold=target.entry_value,
                by=None,
                currency=self.policy.currency,
                tz=zone,
            )
        to_keep = None
        if index >= 0:
            tier = self.tiers[index]
            to_keep = make_progress(
                goal="keep",
                tier=(tier.code, tier.label_en, tier.label_zh),
                metric=self.policy.metric,
                current=value,
                threshold=tier.retention_value,
                by=None,
                currency=self.policy.currency,
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
        name = self.policy.metric_column
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
        if data.dtype.kind == "f" and self.policy.metric != "spend":
            if not np.isfinite(data).all():
                row = int(np.flatnonzero(~np.isfinite(data))[0])
                raise DataError(f"{name}: NaN or infinite metric at row {row}")
            floored: npt.NDArray[Any] = np.floor(data)
            return floored
        exact = _MINOR if self.policy.metric == "spend" else ""
        raise DataError(f"{name}: expected an integer column{exact}, got {data.dtype}")

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
        lookup = np.array([self.policy.index(str(code)) for code in codes], dtype=np.int64)
        index[present] = lookup[inverse.reshape(-1)]
        return index

    def _batch_review(
        self, before: npt.NDArray[np.int64], qualified: npt.NDArray[np.int64], clipped: npt.NDArray[Any]
    ) -> npt.NDArray[np.int64]:
        has = before >= 0
        if self.policy.downgrade == "none":
            return np.maximum(before, qualified)
        kept = ~has | (clipped >= self.retentions[np.maximum(before, 0)])
        if self.policy.downgrade == "one_step":
            failed = before - 1
        else:
            by_retention = np.searchsorted(self.retentions, clipped, side="right") - 1
            failed = np.maximum(qualified, np.minimum(by_retention, before - 1))
        result: npt.NDArray[np.int64] = np.where(kept, np.maximum(before, qualified), failed)
        return result

    @cached_property
    def _label_arrays(self) -> tuple[npt.NDArray[Any], ...]:
        # Index -1 (no tier) reads the trailing None; next_tier of the top tier is None too.
        codes = np.array([*self.policy.codes, None], dtype=object)
        en = np.array([*(t.label_en for t in self.tiers), None], dtype=object)
        zh = np.array([*(t.label_zh for t in self.tiers), None], dtype=object)
        following = np.array([*self.policy.codes[1:], None, self.policy.codes[0]], dtype=object)
        return codes, en, zh, following

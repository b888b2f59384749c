"""``Tier`` and ``TierPolicy``: membership tiers (会员等级) reached by a qualifying metric in a window.

Boundary rules (see ``docs/membership.md``):

* A threshold is met when the metric is **greater than or equal to** it (``>=``): spending exactly the
  entry threshold reaches the tier. A window total below zero (refunds of earlier purchases) counts as 0.
* Upgrades are immediate: right after the event that makes the metric reach a higher entry threshold.
* Windows are half-open ``[start, end)``. A state at ``as_of`` reflects the events strictly before
  ``as_of`` and the reviews at or before it. A review at ``R`` reads the window ending at ``R``; an
  event exactly at ``R`` belongs to the next window (it cannot save the tier at that review, but it
  counts for an upgrade right after it and for the next period).

The policy is configuration; ``_engine.TierEngine`` applies these rules for its ``evaluate``,
``evaluate_one`` and ``simulate``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date, datetime
from functools import cached_property
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field, field_validator, model_validator

from user_ops._money import Currency, Money
from user_ops._policy import PolicyModel
from user_ops._table import Table
from user_ops._time import TzLike, get_tz, parse_duration
from user_ops.exceptions import DataError
from user_ops.membership.benefits._benefits import Benefit, check_unique_keys
from user_ops.membership.tiers._engine import TierEngine
from user_ops.membership.tiers._state import TierState, TierTable, TierTimeline, format_metric

__all__ = ["BUILTIN_METRICS", "Tier", "TierPolicy"]

#: Metrics a history of events feeds directly; any other name is a custom metric (``MetricEvent``).
BUILTIN_METRICS: tuple[str, ...] = ("spend", "points", "growth", "orders")


_INT64_MAX = 2**63 - 1


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
    >>> from user_ops.membership import Purchase
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
        return TierEngine(self).evaluate_one(history, as_of=as_of, tz=tz, current=current, review=review)

    def simulate(self, history: Any, *, until: datetime, tz: TzLike | None = None) -> TierTimeline:
        """The tier timeline up to ``until``: every upgrade, review and override, with its reason.

        ``timeline.final`` is exactly ``evaluate_one(history, as_of=until)``.

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> from user_ops.membership import GrowthEarned
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
        return TierEngine(self).simulate(history, until=until, tz=tz)

    # -- a population -----------------------------------------------------------------------------
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
        return TierEngine(self).evaluate(table, as_of=as_of, current=current, review=review)

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

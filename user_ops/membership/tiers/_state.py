"""Results of tier evaluation: ``TierState`` (one member now), ``Progress``, the ``TierChange`` timeline,
``TierTable`` (a population)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from user_ops._money import Money
from user_ops._table import Table
from user_ops.exceptions import DataError

if TYPE_CHECKING:
    from user_ops.membership.tiers._policy import TierPolicy

__all__ = ["Progress", "TierChange", "TierState", "TierTable", "TierTimeline", "format_metric", "when_text"]

_VERBS_EN = {
    "spend": "spend {x} more",
    "points": "earn {x} more points",
    "growth": "earn {x} more growth value",
    "orders": "place {x} more orders",
}
_VERBS_ZH = {
    "spend": "再消费{x}元",
    "points": "再获得{x}积分",
    "growth": "再获得{x}成长值",
    "orders": "再下{x}单",
}
METRIC_ZH = {"spend": "消费", "points": "积分", "growth": "成长值", "orders": "订单数"}


def format_metric(metric: str, value: int, currency: str) -> str:
    """A metric value as a person reads it: spend in major units (``"320.00"``), others as integers."""
    if metric == "spend":
        return Money.from_minor(value, currency).format(symbol=False)
    return str(value)


def when_text(instant: datetime, tz: tzinfo) -> str:
    """``2026-01-01`` for a local midnight, else ``2026-01-01 14:30`` (local time in ``tz``)."""
    local = instant.astimezone(tz)
    if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        return local.date().isoformat()
    return local.strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Progress:
    """What a member needs to reach (``to_next``) or keep (``to_keep``) a tier.

    Attributes
    ----------
    tier, tier_en, tier_zh:
        The tier in question.
    metric:
        The qualifying metric (``spend``, ``points``, ``growth``, ``orders`` or a custom name).
    current, threshold, needed:
        The metric so far in the relevant window, the threshold, and ``max(0, threshold - current)``
        (spend in minor units).
    by:
        The instant before which it must happen (exclusive: the end of the window), or ``None`` when the
        window has no end (lifetime or rolling windows for an upgrade).
    currency:
        Currency of spend amounts.
    message_en, message_zh:
        The sentence a member reads ("spend 320.00 more before 2026-01-01 to reach Gold").

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops.membership import Purchase, Tier, TierPolicy
    >>> policy = TierPolicy([Tier(code="member", label_en="Member", label_zh="会员", entry="0 CNY"),
    ...                      Tier(code="vip", label_en="VIP", label_zh="贵宾", entry="500 CNY")])
    >>> history = [Purchase(at=datetime(2025, 1, 5, tzinfo=timezone.utc), amount="180 CNY")]
    >>> state = policy.evaluate_one(history, as_of=datetime(2025, 2, 1, tzinfo=timezone.utc))
    >>> progress = state.to_next
    >>> progress.needed, progress.met, progress.message("zh")
    (32000, False, '再消费320.00元即可升级至贵宾')
    """

    tier: str
    tier_en: str
    tier_zh: str
    metric: str
    current: int
    threshold: int
    needed: int
    by: datetime | None
    currency: str
    message_en: str
    message_zh: str

    @property
    def met(self) -> bool:
        """True when nothing more is needed."""
        return self.needed == 0

    @property
    def needed_money(self) -> Money | None:
        """``needed`` as ``Money`` for a spend metric (else ``None``)."""
        return Money.from_minor(self.needed, self.currency) if self.metric == "spend" else None

    def message(self, lang: str = "en") -> str:
        """``message_en`` or ``message_zh``."""
        return self.message_zh if lang == "zh" else self.message_en


def make_progress(
    *,
    goal: str,
    tier: tuple[str, str, str],
    metric: str,
    current: int,
    threshold: int,
    by: datetime | None,
    currency: str,
    tz: tzinfo,
) -> Progress:
    """Build a [`Progress`][] with its messages; ``goal`` is ``"reach"`` or ``"keep"``."""
    code, en, zh = tier
    needed = max(0, threshold - max(current, 0))
    amount = format_metric(metric, needed, currency)
    when_en = f" before {when_text(by, tz)}" if by is not None else ""
    when_zh = f"在{when_text(by, tz)}前" if by is not None else ""
    if needed == 0:
        message_en = f"{'qualifies for' if goal == 'reach' else 'keeps'} {en}" + (
            f" at the review on {when_text(by, tz)}" if by is not None and goal == "keep" else ""
        )
        message_zh = f"已达到{zh}{'升级' if goal == 'reach' else '保级'}条件"
    else:
        verb_en = _VERBS_EN.get(metric, metric + " +{x}").format(x=amount)
        verb_zh = _VERBS_ZH.get(metric, metric + "再增加{x}").format(x=amount)
        message_en = f"{verb_en}{when_en} to {'reach' if goal == 'reach' else 'keep'} {en}"
        message_zh = f"{when_zh}{verb_zh}即可{'升级至' if goal == 'reach' else '保级'}{zh}"
    return Progress(
        tier=code,
        tier_en=en,
        tier_zh=zh,
        metric=metric,
        current=current,
        threshold=threshold,
        needed=needed,
        by=by,
        currency=currency,
        message_en=message_en,
        message_zh=message_zh,
    )


@dataclass(frozen=True)
class TierState:
    """A member's tier at ``as_of`` and what it takes to move up or stay.

    Attributes
    ----------
    tier, tier_en, tier_zh:
        The tier code and labels (``None`` when the member holds no tier).
    index:
        Position of the tier in the policy, lowest 0 (``-1`` for no tier).
    since:
        When the member reached (or was set to, or was reviewed down to) this tier; ``None`` when
        evaluated from a metrics record.
    next_review:
        The next review instant (``None`` when none is scheduled: no tier, no downgrades, a tier that
        cannot be lost, an override without end, or a metrics record).
    metric:
        The qualifying metric's value in the window ending at ``as_of``.
    protected_until:
        End of the protection period after the last upgrade (reviews before it keep the tier).
    override_reason, override_until:
        The manual override in force, if any.
    to_next:
        What reaching the next tier takes (``None`` at the top tier and while an override holds).
    to_keep:
        What keeping this tier at ``next_review`` takes (``None`` when no review can take it away).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops.membership import Purchase, Tier, TierPolicy
    >>> policy = TierPolicy([Tier(code="member", label_en="Member", label_zh="会员", entry="0 CNY"),
    ...                      Tier(code="vip", label_en="VIP", label_zh="贵宾", entry="500 CNY")])
    >>> history = [Purchase(at=datetime(2025, 1, 5, tzinfo=timezone.utc), amount="180 CNY")]
    >>> state = policy.evaluate_one(history, as_of=datetime(2025, 2, 1, tzinfo=timezone.utc))
    >>> state.tier, state.metric, state.next_review
    ('member', 18000, None)
    >>> state.summary("en")
    'Member; spend 320.00 more to reach VIP'
    """

    as_of: datetime
    tier: str | None
    tier_en: str | None
    tier_zh: str | None
    index: int
    since: datetime | None
    next_review: datetime | None
    metric: int
    protected_until: datetime | None
    override_reason: str | None
    override_until: datetime | None
    to_next: Progress | None
    to_keep: Progress | None

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (nested progress as dicts)."""
        return asdict(self)

    def summary(self, lang: str = "en") -> str:
        """One line for a member page: tier, review date and what the next step takes."""
        label = (self.tier_zh if lang == "zh" else self.tier_en) or (
            "非会员等级" if lang == "zh" else "no tier"
        )
        parts = [label]
        if self.to_next is not None:
            parts.append(self.to_next.message(lang))
        if self.to_keep is not None:
            parts.append(self.to_keep.message(lang))
        return ("；" if lang == "zh" else "; ").join(parts)

    def __str__(self) -> str:
        return self.summary("en")

    def _repr_html_(self) -> str:
        def when(instant: datetime | None) -> str:
            return instant.isoformat(sep=" ", timespec="minutes") if instant is not None else "—"

        rows = [
            ("tier 等级", f"{self.tier_en or '—'} {self.tier_zh or ''}".strip()),
            ("since 起始", when(self.since)),
            ("next review 下次评定", when(self.next_review)),
            ("protected until 保护期至", when(self.protected_until)),
            ("override 人工调级", self.override_reason or "—"),
            ("next tier 升级", self.to_next.message("en") if self.to_next else "—"),
            ("升级条件", self.to_next.message("zh") if self.to_next else "—"),
            ("keep tier 保级", self.to_keep.message("en") if self.to_keep else "—"),
            ("保级条件", self.to_keep.message("zh") if self.to_keep else "—"),
        ]
        body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
        return f"<table class='user-ops-tier-state'>{body}</table>"


@dataclass(frozen=True)
class TierChange:
    """One step of a tier timeline.

    Attributes
    ----------
    at:
        The instant of the change (or of the review that kept the tier).
    kind:
        ``upgrade``, ``downgrade``, ``retain`` (a review kept the tier), ``protected`` (a review inside
        the protection period), ``override`` (a manual tier set) or ``override_end``.
    from_tier, to_tier:
        Tier codes before and after (``None`` for no tier).
    metric:
        The qualifying metric's value that decided it (``None`` for a manual override).
    threshold:
        The threshold it was compared with (``None`` where none applied).
    review:
        True when it happened at a review (scheduled, or at the end of an override).
    reason_en, reason_zh:
        Why, as a person reads it.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops.membership import Purchase, Tier, TierPolicy
    >>> policy = TierPolicy([Tier(code="member", label_en="Member", label_zh="会员", entry="0 CNY"),
    ...                      Tier(code="vip", label_en="VIP", label_zh="贵宾", entry="500 CNY")])
    >>> history = [Purchase(at=datetime(2025, 1, 5, tzinfo=timezone.utc), amount="180 CNY")]
    >>> step = policy.simulate(history * 3, until=datetime(2025, 2, 1, tzinfo=timezone.utc)).changes[0]
    >>> step.kind, step.to_tier, step.reason_en
    ('upgrade', 'vip', 'spend 540.00 reached VIP entry 500.00')
    """

    at: datetime
    kind: str
    from_tier: str | None
    to_tier: str | None
    metric: int | None
    threshold: int | None
    review: bool
    reason_en: str
    reason_zh: str


@dataclass(frozen=True)
class TierTimeline:
    """What [`simulate`][user_ops.membership.TierPolicy.simulate] returns: each step, the state at ``until``.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops.membership import Purchase, Tier, TierPolicy
    >>> policy = TierPolicy([Tier(code="member", label_en="Member", label_zh="会员", entry="0 CNY"),
    ...                      Tier(code="vip", label_en="VIP", label_zh="贵宾", entry="500 CNY")])
    >>> history = [Purchase(at=datetime(2025, 1, 5, tzinfo=timezone.utc), amount="180 CNY")]
    >>> timeline = policy.simulate(history, until=datetime(2025, 2, 1, tzinfo=timezone.utc))
    >>> len(timeline), timeline.final.tier
    (0, 'member')
    """

    changes: tuple[TierChange, ...]
    final: TierState

    def __iter__(self) -> Iterator[TierChange]:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def to_table(self) -> Table:
        """The steps as a [`Table`][] (one row per step)."""
        names = (
            "at",
            "kind",
            "from_tier",
            "to_tier",
            "metric",
            "threshold",
            "review",
            "reason_en",
            "reason_zh",
        )
        return Table({name: [getattr(change, name) for change in self.changes] for name in names})

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(c.at.isoformat())}</td><td>{c.kind}</td><td>{c.from_tier or '—'}</td>"
            f"<td>{c.to_tier or '—'}</td><td>{html.escape(c.reason_en)}</td></tr>"
            for c in self.changes
        )
        head = "<tr><th>at</th><th>kind</th><th>from</th><th>to</th><th>reason</th></tr>"
        return f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>"


class TierTable(Table):
    """The result of [`TierPolicy.evaluate`][]: a Table that remembers its policy and tier indexes.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops.membership import Tier, TierPolicy
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
        >>> from user_ops.membership import Tier, TierPolicy
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

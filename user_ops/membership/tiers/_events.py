"""The dated facts a tier history is made of: purchases, refunds, points, growth value, overrides.

The host stores them append-only; [`TierPolicy`][] folds them into a tier. A history is a
sequence of these models, of their JSON documents (dicts with a ``kind``), or a table of events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import Field, field_validator, model_validator

from user_ops._money import Money
from user_ops._policy import PolicyModel
from user_ops._table import Table
from user_ops._time import require_aware
from user_ops.exceptions import DataError, UserOpsError

__all__ = [
    "TIER_EVENT_COLUMNS",
    "GrowthEarned",
    "MetricEvent",
    "PointsEarned",
    "Purchase",
    "Refund",
    "TierEvent",
    "TierOverride",
    "coerce_history",
]


class _Dated(PolicyModel):
    """An event at a timezone-aware instant, with an optional id for the host's bookkeeping.

    Events are data, not configuration: invalid ones raise [`DataError`][].

    Parameters
    ----------
    at:
        When it happened (timezone-aware; a naive datetime is refused).
    key:
        The host's id of the event (an order or refund number); ``""`` for none. An event given
        twice with its key counts once; two different events may not share a key.
    kind:
        The event type, fixed by the class: what a JSON document or an events table names it.
    """

    invalid_input_error: ClassVar[type[UserOpsError]] = DataError

    at: datetime
    key: str = ""

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return require_aware(value, name="at")


class Purchase(_Dated):
    """A paid order: adds ``amount`` to spend and one order to the order count.

    Parameters
    ----------
    amount:
        What the order paid, positive (a refund is a [`Refund`][]).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> Purchase(at=datetime(2025, 1, 5, tzinfo=timezone.utc), amount="320.00 CNY").amount.minor
    32000
    """

    kind: Literal["purchase"] = "purchase"
    amount: Money

    @field_validator("amount")
    @classmethod
    def _positive(cls, amount: Money) -> Money:
        if amount.minor <= 0:
            raise ValueError(f"a purchase amount must be positive, got {amount} (record refunds as Refund)")
        return amount


class Refund(_Dated):
    """A refund: takes ``amount`` back out of spend; ``cancels_order`` also takes one order back.

    Parameters
    ----------
    amount:
        What is given back, positive.
    cancels_order:
        True when the whole order is cancelled: the order count goes down by one too.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> Refund(at=datetime(2025, 1, 6, tzinfo=timezone.utc), amount="20 CNY").cancels_order
    False
    """

    kind: Literal["refund"] = "refund"
    amount: Money
    cancels_order: bool = False

    @field_validator("amount")
    @classmethod
    def _positive(cls, amount: Money) -> Money:
        if amount.minor <= 0:
            raise ValueError(f"a refund amount must be positive (it is taken back), got {amount}")
        return amount


class PointsEarned(_Dated):
    """Points earned (the lifetime-earned figure, not the spendable balance); negative reverts earlier ones.

    Parameters
    ----------
    points:
        Points earned, not 0; negative to revert points earned earlier.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> PointsEarned(at=datetime(2025, 1, 5, tzinfo=timezone.utc), points=320).points
    320
    """

    kind: Literal["points"] = "points"
    points: int

    @field_validator("points")
    @classmethod
    def _non_zero(cls, points: int) -> int:
        if points == 0:
            raise ValueError("points must not be 0")
        return points


class GrowthEarned(_Dated):
    """成长值 growth value earned (negative reverts earlier growth, e.g. on a refund).

    Parameters
    ----------
    growth:
        Growth value earned, not 0; negative to revert growth earned earlier.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> GrowthEarned(at=datetime(2025, 1, 5, tzinfo=timezone.utc), growth=50).growth
    50
    """

    kind: Literal["growth"] = "growth"
    growth: int

    @field_validator("growth")
    @classmethod
    def _non_zero(cls, growth: int) -> int:
        if growth == 0:
            raise ValueError("growth must not be 0")
        return growth


class MetricEvent(_Dated):
    """A change of a custom qualifying metric (for a policy whose ``metric`` is that name).

    Parameters
    ----------
    metric:
        The metric's name, as the policy's ``metric`` names it (``"visits"``).
    value:
        The change: added to the metric's total (negative takes back).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> MetricEvent(at=datetime(2025, 1, 5, tzinfo=timezone.utc), metric="visits", value=1).value
    1
    """

    kind: Literal["metric"] = "metric"
    metric: str = Field(min_length=1)
    value: int


class TierOverride(_Dated):
    """A manual tier (人工调级): the member holds ``tier`` from ``at`` until ``until`` (exclusive).

    Automatic upgrades and reviews do not change the tier while an override holds. ``until=None``
    holds until a later override. ``tier=None`` removes the member from every tier.

    When it ends (``on_end``):

    * ``"earned"`` (default): the member returns to the tier their own history earns, as a status
      trial does — the tier, anniversary and next review they would have without any override, so
      what they earned during it counts and a gift never leaves them above or below their own tier.
    * ``"review"``: the member is reviewed at once against the override tier's retention threshold
      (the policy's ``downgrade`` applies from the override tier, and anniversaries restart there).

    Parameters
    ----------
    tier:
        The tier code the member holds (``None``: no tier at all).
    until:
        When the override ends (exclusive, timezone-aware, after ``at``); ``None``: until a later one.
    reason:
        Why, for the audit trail (required).
    on_end:
        What happens when it ends: ``"earned"`` or ``"review"`` (above).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> o = TierOverride(at=datetime(2025, 1, 1, tzinfo=timezone.utc), tier="gold",
    ...                  until=datetime(2026, 1, 1, tzinfo=timezone.utc), reason="VIP guest")
    >>> o.tier, o.reason
    ('gold', 'VIP guest')
    """

    kind: Literal["override"] = "override"
    tier: str | None
    until: datetime | None = None
    reason: str = Field(min_length=1)
    on_end: Literal["earned", "review"] = "earned"

    @field_validator("until")
    @classmethod
    def _aware_until(cls, value: datetime | None) -> datetime | None:
        return None if value is None else require_aware(value, name="until")

    @model_validator(mode="after")
    def _ordered(self) -> TierOverride:
        if self.until is not None and self.until <= self.at:
            raise ValueError(f"until ({self.until.isoformat()}) must be after at ({self.at.isoformat()})")
        return self


TierEvent = Annotated[
    Union[Purchase, Refund, PointsEarned, GrowthEarned, MetricEvent, TierOverride],
    Field(discriminator="kind"),
]
"""Any tier-history event; JSON documents pick the type by their ``kind``."""

_EVENT_TYPES = (Purchase, Refund, PointsEarned, GrowthEarned, MetricEvent, TierOverride)
_BY_KIND: dict[str, type[Any]] = {model.model_fields["kind"].default: model for model in _EVENT_TYPES}
#: The columns a table of tier events may have: ``at`` and ``kind``, then what the kinds need
#: (``amount_minor`` and optionally ``currency`` for purchases and refunds, ``cancels_order``,
#: ``points``, ``growth``, ``metric`` and ``value``, and ``tier``, ``until``, ``reason``, ``on_end`` for
#: overrides), and the event's ``key``. Any other column is refused.
TIER_EVENT_COLUMNS: tuple[str, ...] = (
    "at",
    "kind",
    "key",
    "amount_minor",
    "currency",
    "cancels_order",
    "points",
    "growth",
    "metric",
    "value",
    "tier",
    "until",
    "reason",
    "on_end",
)


def _event(value: Any, position: int) -> Any:
    if isinstance(value, _EVENT_TYPES):
        return value
    if isinstance(value, Mapping):
        kind = value.get("kind")
        model = _BY_KIND.get(kind) if isinstance(kind, str) else None
        if model is None:
            raise DataError(f"history[{position}].kind: expected one of {sorted(_BY_KIND)}, got {kind!r}")
        try:
            return model(**value)
        except DataError as exc:
            raise DataError(f"history[{position}]: {exc}") from None
    raise DataError(
        f"history[{position}]: expected a tier event (Purchase, Refund, ...) or its dict, "
        f"got {type(value).__name__}"
    )


def _rows_of_table(table: Table, currency: str) -> list[dict[str, Any]]:
    unknown = sorted(set(table.columns) - set(TIER_EVENT_COLUMNS))
    if unknown:
        raise DataError(f"history table: unknown columns {unknown} (known: {sorted(TIER_EVENT_COLUMNS)})")
    for needed in ("at", "kind"):
        if needed not in table.columns:
            raise DataError(f"history table: missing column {needed!r}")
    rows = []
    for row in table.to_dicts():
        record = {name: value for name, value in row.items() if value is not None}
        if "amount_minor" in record:
            record["amount"] = Money.from_minor(
                int(record.pop("amount_minor")), record.pop("currency", currency)
            )
        else:
            record.pop("currency", None)
        rows.append(record)
    return rows


def coerce_history(history: Any, *, currency: str = "CNY") -> list[Any]:
    """Tier events from a sequence of events or dicts, or a table of events.

    A table has columns ``at`` and ``kind`` plus what the kinds need: ``amount_minor`` (and optionally
    ``currency``) for purchases and refunds, ``points``, ``growth``, ``metric``/``value``,
    ``tier``/``until``/``reason``/``on_end`` for overrides; null cells are left out.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> at = datetime(2025, 1, 1, tzinfo=timezone.utc)
    >>> rows = {"at": [at], "kind": ["purchase"], "amount_minor": [500]}
    >>> coerce_history(Table(rows))[0].amount
    Money('5.00', 'CNY')
    """
    if isinstance(history, Table) or (
        not isinstance(history, (Sequence, Mapping)) and hasattr(history, "columns")
    ):
        rows: Sequence[Any] = _rows_of_table(Table.coerce(history), currency)
    elif isinstance(history, Mapping):
        rows = _rows_of_table(Table.coerce(history), currency)
    elif isinstance(history, Sequence) and not isinstance(history, (str, bytes)):
        rows = history
    else:
        raise DataError(f"history must be a sequence of tier events or a table, got {type(history).__name__}")
    return [_event(value, position) for position, value in enumerate(rows)]

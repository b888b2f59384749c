"""Targeted issuance (定向发券): who gets a coupon, and why everyone else is skipped.

[`plan_issuance`][] takes a customers table and decides, for every row at once (numpy, no per-row
Python), whether the customer gets the coupon, in this order of checks (the first that fails is the
reason):

1. ``NOT_IN_AUDIENCE``: the audience rule (and the template's own audience) does not match;
2. ``OPTED_OUT``: the customer turned on do-not-disturb (免打扰; a boolean column, if configured);
3. ``ALREADY_HOLDS``: the customer already holds this coupon (``holders``);
4. ``QUIET_PERIOD``: contacted by any campaign within the quiet period (静默期);
5. ``FREQUENCY_CAP``: a frequency cap (频控) is full: N contacts within a window, across campaigns;
6. ``BUDGET_COUNT`` / ``BUDGET_VALUE``: eligible, but the budget (预算) in coupons or face value ran out
   before the customer's turn in priority order (a column, e.g. ``monetary`` or ``p_alive``, ties broken
   by customer id, so the plan is deterministic).

[`plan_issuance_one`][] decides for one customer with the same meaning (given the customer's rank for
the budget); hypothesis tests prove the two agree.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from enum import Enum
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import Field, field_validator, model_validator

from user_ops._money import Money
from user_ops._policy import PolicyModel
from user_ops._table import Table
from user_ops._time import TzLike, as_utc_us, get_tz, parse_duration, require_aware
from user_ops.coupons._model import Count, CouponTemplate
from user_ops.exceptions import ConfigError, DataError
from user_ops.rules import CallNode, Rule, StrLit
from user_ops.tags import TagSet

__all__ = [
    "FrequencyCap",
    "IssuanceBudget",
    "IssuanceCaps",
    "IssuanceDecision",
    "IssuancePlan",
    "IssuanceReason",
    "plan_issuance",
    "plan_issuance_one",
]

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


class IssuanceReason(str, Enum):
    """Stable codes of an issuance decision, in the order the checks run.

    Examples
    --------
    >>> [reason.value for reason in IssuanceReason][:3]
    ['SELECTED', 'NOT_IN_AUDIENCE', 'OPTED_OUT']
    """

    SELECTED = "SELECTED"
    NOT_IN_AUDIENCE = "NOT_IN_AUDIENCE"
    OPTED_OUT = "OPTED_OUT"
    ALREADY_HOLDS = "ALREADY_HOLDS"
    QUIET_PERIOD = "QUIET_PERIOD"
    FREQUENCY_CAP = "FREQUENCY_CAP"
    BUDGET_COUNT = "BUDGET_COUNT"
    BUDGET_VALUE = "BUDGET_VALUE"


_REASONS = tuple(IssuanceReason)
_CODE = {reason: code for code, reason in enumerate(_REASONS)}
_REASON_TEXT = np.array([reason.value for reason in _REASONS], dtype=object)


def _duration_text(value: str, name: str) -> str:
    try:
        parse_duration(value)
    except DataError as error:
        raise ValueError(f"{name}: {error}") from None
    return value


class FrequencyCap(PolicyModel):
    """At most ``limit`` contacts per customer within ``window`` before ``as_of`` (频控), all campaigns.

    A customer who already had ``limit`` or more counted contacts in ``[as_of - window, as_of)`` is
    skipped with ``FREQUENCY_CAP``.

    Parameters
    ----------
    limit : int
        Contacts allowed in the window; 0 allows none (everyone is capped).
    window : str
        A duration such as ``"7d"``, ``"24h"``, ``"1mo"`` (calendar months in the business time zone).
    channels : tuple of str
        Count only contacts on these channels (``channel`` column); empty counts every channel.
    kinds : tuple of str
        Count only contacts of these kinds (``kind`` column, e.g. ``"coupon"``); empty counts all.

    Examples
    --------
    >>> FrequencyCap(limit=2, window="7d", kinds=("coupon",)).window
    '7d'
    """

    limit: Count = Field(ge=0)
    window: str
    channels: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        return _duration_text(value, "window")


class IssuanceCaps(PolicyModel):
    """Do not over-message (不过度骚扰): quiet period, frequency caps, opt-out column, current holders.

    Parameters
    ----------
    frequency : tuple of FrequencyCap
        Every cap must have room.
    quiet_period : str or None
        Skip anyone contacted (any campaign, channel, kind) within this duration before ``as_of``.
    opt_out_column : str or None
        A boolean column of the customers table (True: do not contact, 免打扰); null counts as False.
    skip_holders : bool
        Skip customers listed in ``holders`` (``ALREADY_HOLDS``); default True.

    Examples
    --------
    >>> caps = IssuanceCaps(quiet_period="3d", frequency=(FrequencyCap(limit=4, window="30d"),))
    >>> IssuanceCaps.from_json(caps.to_json()) == caps
    True
    """

    frequency: tuple[FrequencyCap, ...] = ()
    quiet_period: str | None = None
    opt_out_column: str | None = None
    skip_holders: bool = True

    @field_validator("quiet_period")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        return None if value is None else _duration_text(value, "quiet_period")


class IssuanceBudget(PolicyModel):
    """How many coupons to give (预算), and who comes first.

    Parameters
    ----------
    count : int or None
        At most this many coupons.
    value : Money or None
        At most this total face value (``template.face_value`` per coupon); needs a template with a
        face value (a percentage without a cap has none).
    priority : str or None
        A numeric column of the customers table: higher values first (``ascending=True``: lower first);
        nulls last; ties by customer id ascending. ``None``: by customer id.
    ascending : bool
        Order ``priority`` ascending instead.

    Examples
    --------
    >>> budget = IssuanceBudget(count=1000, value="5000 CNY", priority="monetary")
    >>> budget.value
    Money('5000.00', 'CNY')
    """

    count: Count | None = Field(default=None, ge=0)
    value: Money | None = None
    priority: str | None = Field(default=None, min_length=1)
    ascending: bool = False

    @model_validator(mode="after")
    def _non_negative(self) -> IssuanceBudget:
        if self.value is not None and self.value.minor < 0:
            raise ValueError(f"value must not be negative, got {self.value}")
        return self


@dataclass(frozen=True)
class IssuanceDecision:
    """One customer's issuance decision (from [`plan_issuance_one`][]).

    Examples
    --------
    >>> IssuanceDecision(selected=False, reason=IssuanceReason.QUIET_PERIOD).reason.value
    'QUIET_PERIOD'
    """

    selected: bool
    reason: IssuanceReason


@dataclass(frozen=True)
class IssuancePlan:
    """The result of [`plan_issuance`][].

    Attributes
    ----------
    table : Table
        One row per customer, in input order: the id column, ``selected`` (bool), ``reason`` (an
        [`IssuanceReason`][] value), ``rank`` (1-based position among the eligible in priority order;
        null for the rest) and, with a priority column, ``priority``.
    counts : dict of str to int
        Customers per reason (every reason, zeros included, in check order).
    face_value_total : Money or None
        Face value of the selected coupons (``None`` when the template has no face value).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops.coupons import Benefit, CouponTemplate
    >>> tpl = CouponTemplate(id="off5", currency="CNY", benefit=Benefit(kind="amount_off", amount="5 CNY"))
    >>> plan = plan_issuance(tpl, {"customer_id": [3, 1, 2]}, as_of=datetime(2024, 7, 1, tzinfo=timezone.utc),
    ...                      budget=IssuanceBudget(count=2))
    >>> plan.selected, plan.counts["BUDGET_COUNT"], plan.selected_ids(), str(plan.face_value_total)
    (2, 1, array([1, 2]), '10.00 CNY')
    """

    table: Table
    counts: dict[str, int]
    face_value_total: Money | None
    template_id: str
    id_column: str

    @property
    def selected(self) -> int:
        """How many customers get the coupon."""
        return self.counts[IssuanceReason.SELECTED.value]

    def selected_ids(self) -> npt.NDArray[Any]:
        """The ids of the selected customers, in priority (rank) order."""
        chosen = np.asarray(self.table["selected"], dtype=bool)
        ranks = np.asarray(self.table["rank"])[chosen]
        ids: npt.NDArray[Any] = np.asarray(self.table[self.id_column])[chosen]
        return ids[np.argsort(ranks, kind="stable")]

    def summary(self) -> str:
        """A few lines for logs and demos: the selected count, face value and every non-zero reason."""
        lines = [f"{self.template_id}: {self.selected} of {len(self.table)} customers selected"]
        if self.face_value_total is not None:
            lines[0] += f" (face value {self.face_value_total})"
        lines += [f"  {reason:<16} {count}" for reason, count in self.counts.items() if count]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(reason)}</td><td>{count}</td></tr>"
            for reason, count in self.counts.items()
        )
        head = html.escape(self.summary().splitlines()[0])
        return f"<div class='user-ops-issuance'><p>{head}</p><table>{rows}</table></div>"


# -- the batch path -------------------------------------------------------------------------------------


def plan_issuance(
    template: CouponTemplate,
    customers_table: Any,
    *,
    audience: Rule | str | None = None,
    as_of: datetime,
    contact_history: Any = None,
    caps: IssuanceCaps | None = None,
    budget: IssuanceBudget | None = None,
    holders: Iterable[Any] | None = None,
    tz: TzLike | None = None,
    id_column: str = "customer_id",
    tags: TagSet | None = None,
) -> IssuancePlan:
    """Decide who gets ``template``, vectorized over the customers table.

    Parameters
    ----------
    template : CouponTemplate
        The coupon; its own ``audience`` rule (if any) must match too, and its ``face_value`` prices
        the value budget.
    customers_table : Table, dict of columns, records or DataFrame
        One row per customer: ``id_column`` plus the columns the rules, ``priority`` and
        ``opt_out_column`` read (e.g. ``tags``, ``segment``, ``stage``, ``monetary``).
    audience : Rule or str or None
        Who the campaign targets (``None``: everyone).
    as_of : datetime
        Aware; windows end here (half-open: a contact at ``as_of`` exactly is not counted).
    contact_history : table-like or None
        One row per past contact: ``id_column``, ``at`` (aware instants), optional ``channel`` and
        ``kind`` (and anything else, e.g. ``campaign``, which is ignored). Rows of unknown customers
        or at/after ``as_of`` are ignored.
    caps : IssuanceCaps or None
        Quiet period, frequency caps, opt-out column; ``None``: none.
    budget : IssuanceBudget or None
        Count, face value and priority; ``None``: everyone eligible, ranked by id.
    holders : iterable or None
        Ids of customers who already hold this coupon (``ALREADY_HOLDS`` when ``caps.skip_holders``).
    tz : str or tzinfo or None
        Business time zone of calendar windows (``"1mo"``, ``"7d"`` on the wall clock) and of the
        rules' clock (``today()``, ``weekday(...)``); default the template's ``validity.tz``, else UTC
        (never the zone ``as_of`` is written in).
    id_column : str
        The customer id column in both tables (int or str, unique, no nulls).
    tags : TagSet or None
        Tags evaluated on the customers table first, so that the audience rules (the campaign's and
        the template's) can use ``has_tag("name")``. A rule using ``has_tag`` without a tag set, or
        naming a tag the set does not define, raises [`ConfigError`][].

    Returns
    -------
    IssuancePlan

    Raises
    ------
    DataError
        Naive ``as_of``, missing columns, null or duplicate ids, id kinds that differ between tables,
        null contact times.
    ConfigError
        A value budget in another currency than the template, or for a template without face value.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops.coupons import Benefit, CouponTemplate
    >>> tpl = CouponTemplate(id="back20", currency="CNY", benefit=Benefit(kind="amount_off", amount="20 CNY"))
    >>> customers = {"customer_id": [1, 2, 3, 4], "stage": ["churning", "churning", "active", "churning"],
    ...              "monetary": [800.0, 300.0, 900.0, 500.0]}
    >>> history = {"customer_id": [2], "at": [datetime(2024, 6, 29, tzinfo=timezone.utc)]}
    >>> plan = plan_issuance(tpl, customers, audience='stage == "churning"',
    ...                      as_of=datetime(2024, 7, 1, tzinfo=timezone.utc), contact_history=history,
    ...                      caps=IssuanceCaps(quiet_period="7d"),
    ...                      budget=IssuanceBudget(value="20 CNY", priority="monetary"))
    >>> list(plan.table["reason"])
    ['SELECTED', 'QUIET_PERIOD', 'NOT_IN_AUDIENCE', 'BUDGET_VALUE']
    >>> plan.selected_ids(), str(plan.face_value_total)
    (array([1]), '20.00 CNY')
    """
    as_of = require_aware(as_of)
    zone = _zone(tz, template)
    caps = IssuanceCaps() if caps is None else caps
    budget = IssuanceBudget() if budget is None else budget
    face = _face_value(template, budget)
    table = Table.coerce(customers_table)
    ids, id_kind = _ids(table, id_column, "customers_table")
    sorted_ids, id_rank = _sorted_ids(ids, id_kind)

    reason = np.zeros(len(ids), dtype=np.int8)  # 0 is SELECTED until a check says otherwise
    rules = _audience_rules(template, audience)
    tag_columns = _tag_columns(rules, tags, table, as_of, zone)
    for rule in rules:
        matched = rule.evaluate(table, as_of=as_of, tz=zone, tags=tag_columns)
        _mark(reason, ~matched, IssuanceReason.NOT_IN_AUDIENCE)
    if caps.opt_out_column is not None:
        _mark(reason, _bool_column(table, caps.opt_out_column), IssuanceReason.OPTED_OUT)
    if holders is not None and caps.skip_holders:
        _mark(reason, _is_holder(ids, id_kind, holders), IssuanceReason.ALREADY_HOLDS)
    if contact_history is not None and (caps.quiet_period is not None or caps.frequency):
        contacts = _Contacts.read(contact_history, id_column, id_kind, sorted_ids, id_rank, as_of)
        if caps.quiet_period is not None:
            start = _window_start(caps.quiet_period, as_of, zone)
            _mark(reason, contacts.count(start) > 0, IssuanceReason.QUIET_PERIOD)
        for cap in caps.frequency:
            counted = contacts.count(_window_start(cap.window, as_of, zone), cap.channels, cap.kinds)
            _mark(reason, counted >= cap.limit, IssuanceReason.FREQUENCY_CAP)

    priority = None if budget.priority is None else _priority(table, budget.priority)
    rank = _rank(reason == 0, priority, id_rank, ascending=budget.ascending)
    quota, budget_reason = _quota(budget, face)
    if quota is not None:
        _mark(reason, rank > quota, budget_reason)  # rank is 0 for the ineligible, already marked
    return _plan(template, table, id_column, ids, reason, rank, priority, face, budget)


def _zone(tz: TzLike | None, template: CouponTemplate) -> tzinfo:
    """The business time zone: ``tz`` if given, else the template's (``validity.tz``), else UTC.

    Never ``as_of``'s own zone: the same instant written in another zone must give the same plan.
    """
    if tz is not None:
        return get_tz(tz)
    if not isinstance(template, CouponTemplate):
        raise DataError(f"template must be a CouponTemplate, got {type(template).__name__}")
    return template.validity.zone() or timezone.utc


def _mark(reason: npt.NDArray[np.int8], mask: BoolArray, why: IssuanceReason) -> None:
    """Give ``why`` to the rows in ``mask`` that no earlier check stopped."""
    reason[mask & (reason == 0)] = _CODE[why]


def _face_value(template: CouponTemplate, budget: IssuanceBudget) -> Money | None:
    if not isinstance(template, CouponTemplate):
        raise DataError(f"template must be a CouponTemplate, got {type(template).__name__}")
    if not isinstance(budget, IssuanceBudget):
        raise DataError(f"budget must be an IssuanceBudget, got {type(budget).__name__}")
    face = template.face_value
    if budget.value is not None:
        if budget.value.currency.code != template.currency:
            raise ConfigError(
                f"budget.value is in {budget.value.currency.code}, "
                f"template {template.id!r} in {template.currency}"
            )
        if face is None or face.minor <= 0:
            raise ConfigError(
                f"budget.value needs a face value, and template {template.id!r} has none "
                "(a percentage without a cap, or a points cash-back): use budget.count"
            )
    return face


def _quota(budget: IssuanceBudget, face: Money | None) -> tuple[int | None, IssuanceReason]:
    """The number of coupons the budget allows, and the reason of whoever is beyond it.

    The value budget allows ``floor(value / face value)`` coupons; when both bind, the smaller quota is
    the one that stopped the customer (ties: ``BUDGET_COUNT``).
    """
    by_count = budget.count
    by_value = None
    if budget.value is not None and face is not None:
        by_value = budget.value.minor // face.minor
    if by_value is None or (by_count is not None and by_count <= by_value):
        return by_count, IssuanceReason.BUDGET_COUNT
    return by_value, IssuanceReason.BUDGET_VALUE


def _audience_rules(template: CouponTemplate, audience: Rule | str | None) -> list[Rule]:
    rules = []
    if audience is not None:
        rules.append(audience if isinstance(audience, Rule) else _parse_audience(audience))
    if template.audience is not None:
        rules.append(template.audience)
    return rules


def _has_tag_names(rules: list[Rule]) -> list[str]:
    """The tags the rules read with ``has_tag("...")`` (a string literal, as the function requires)."""
    calls = (
        node for rule in rules for node in rule.walk() if isinstance(node, CallNode) and node.fn == "has_tag"
    )
    return list(dict.fromkeys(c.args[0].value for c in calls if c.args and isinstance(c.args[0], StrLit)))


def _tags_needed(rules: list[Rule], tags: TagSet | None) -> bool:
    """Whether the audience reads tags; checks that ``tags`` defines every tag it reads."""
    if tags is not None and not isinstance(tags, TagSet):
        raise DataError(f"tags must be a TagSet or None, got {type(tags).__name__}")
    names = _has_tag_names(rules)
    if not names:
        return False
    if tags is None:
        raise ConfigError(
            f"the audience uses has_tag({names[0]!r}): pass tags=TagSet([...]) defining it "
            "(the tags are evaluated first, then the audience)"
        )
    missing = [name for name in names if name not in tags.names]
    if missing:
        raise ConfigError(
            f"the audience uses has_tag({missing[0]!r}), but there is no tag {missing[0]!r} in tags "
            f"(it has {', '.join(tags.names)})"
        )
    return True


def _tag_columns(
    rules: list[Rule], tags: TagSet | None, table: Table, as_of: datetime, zone: tzinfo
) -> dict[str, BoolArray] | None:
    """Every tag of ``tags`` as a boolean column, when the audience reads any."""
    if not _tags_needed(rules, tags):
        return None
    assert tags is not None
    tagged = tags.evaluate(table, as_of=as_of, tz=zone, id_column=None)
    return {name: np.asarray(tagged[name], dtype=bool) for name in tags.names}


def _parse_audience(audience: object) -> Rule:
    if not isinstance(audience, str):
        raise DataError(f"audience must be a Rule, rule text or None, got {type(audience).__name__}")
    return _parse_cached(audience)


@lru_cache(maxsize=256)
def _parse_cached(text: str) -> Rule:
    """Parse once per text: the scalar path is called per request with the same audience."""
    return Rule.parse(text)


def _ids(table: Table, id_column: str, where: str) -> tuple[npt.NDArray[Any], str]:
    if id_column not in table:
        raise DataError(f"{where} has no {id_column!r} column (columns: {', '.join(table.columns)})")
    kind = table.kind(id_column)
    if kind not in ("int", "str") and len(table):
        raise DataError(f"{where}.{id_column} must hold int or str ids, got {kind}")
    nulls = table.null_mask(id_column)
    if nulls is not None and nulls.any():
        raise DataError(f"{where}.{id_column} is null at row {int(np.argmax(nulls))}")
    values = np.asarray(table[id_column])
    return (values.astype(str) if kind == "str" else values.astype(np.int64)), kind


def _sorted_ids(ids: npt.NDArray[Any], kind: str) -> tuple[npt.NDArray[Any], IntArray]:
    """Ids sorted, and each row's position in that order (its id rank, the deterministic tie-break)."""
    sorted_ids, id_rank = np.unique(ids, return_inverse=True)
    if len(sorted_ids) < len(ids):
        counts = np.bincount(id_rank)
        duplicate = sorted_ids[int(np.argmax(counts > 1))].item()
        rows = np.flatnonzero(ids == duplicate)[:2].tolist()
        raise DataError(f"customers_table has duplicate id {duplicate!r} (rows {rows[0]} and {rows[1]})")
    return sorted_ids, id_rank.astype(np.int64)


def _bool_column(table: Table, name: str) -> BoolArray:
    if name not in table:
        raise DataError(f"customers_table has no {name!r} column (opt_out_column)")
    if table.kind(name) not in ("bool", "null"):
        raise DataError(
            f"customers_table.{name} must be a bool column (opt_out_column), got {table.kind(name)}"
        )
    values = table[name]
    if isinstance(values, np.ma.MaskedArray):
        return np.asarray(values.filled(False), dtype=bool)
    return np.asarray(values == True, dtype=bool)  # noqa: E712  (an all-null column holds None)


def _is_holder(ids: npt.NDArray[Any], kind: str, holders: Iterable[Any]) -> BoolArray:
    listed = list(holders)
    if not listed:
        return np.zeros(len(ids), dtype=bool)
    values = np.asarray(listed)  # numpy infers one dtype in C: int64 for ints, <U for strings
    if values.ndim != 1 or values.dtype.kind not in ("U" if kind == "str" else "iu"):
        wanted = str if kind == "str" else int
        position = next(
            (p for p, v in enumerate(listed) if not isinstance(v, wanted) or isinstance(v, bool)), 0
        )
        raise DataError(f"holders[{position}] is {listed[position]!r}; customer ids are {kind}")
    return np.isin(ids, values)


def _window_start(window: str, as_of: datetime, zone: tzinfo) -> int:
    return as_utc_us(parse_duration(window).subtract_from(as_of, zone))


@dataclass(frozen=True)
class _Contacts:
    """Contacts before ``as_of`` of known customers, as row indices into the customers table."""

    row: IntArray
    at_us: IntArray
    channel: npt.NDArray[Any] | None
    kind: npt.NDArray[Any] | None
    customers: int

    @classmethod
    def read(
        cls,
        history: Any,
        id_column: str,
        id_kind: str,
        sorted_ids: npt.NDArray[Any],
        id_rank: IntArray,
        as_of: datetime,
    ) -> _Contacts:
        table = Table.coerce(history)
        if "at" not in table:
            raise DataError(f"contact_history has no 'at' column (columns: {', '.join(table.columns)})")
        if len(table) and table.kind("at") != "datetime":
            raise DataError(f"contact_history.at must hold aware datetimes, got {table.kind('at')}")
        ids, kind = _ids(table, id_column, "contact_history")
        if len(table) and len(sorted_ids) and kind != id_kind:
            raise DataError(f"contact_history.{id_column} holds {kind} ids, customers_table {id_kind} ids")
        at = np.asarray(table["at"]).astype("datetime64[us]").view(np.int64)
        missing = np.isnat(np.asarray(table["at"])) if len(table) else np.zeros(0, dtype=bool)
        if missing.any():
            raise DataError(f"contact_history.at is null at row {int(np.argmax(missing))}")
        # The customers table's row of each sorted id: the inverse of id_rank.
        row_of_slot = np.empty(len(id_rank), dtype=np.int64)
        row_of_slot[id_rank] = np.arange(len(id_rank), dtype=np.int64)
        row = _rows_of(ids, sorted_ids, row_of_slot, id_kind)
        keep = (row >= 0) & (at < as_utc_us(as_of))
        return cls(
            row=row[keep],
            at_us=at[keep],
            channel=np.asarray(table["channel"])[keep] if "channel" in table else None,
            kind=np.asarray(table["kind"])[keep] if "kind" in table else None,
            customers=len(id_rank),
        )

    def count(self, start_us: int, channels: tuple[str, ...] = (), kinds: tuple[str, ...] = ()) -> IntArray:
        """Counted contacts per customer in ``[start, as_of)`` on ``channels`` of ``kinds``."""
        mask = self.at_us >= start_us
        mask &= self._among(self.channel, channels, "channel")
        mask &= self._among(self.kind, kinds, "kind")
        return np.bincount(self.row[mask], minlength=self.customers).astype(np.int64)

    def _among(self, column: npt.NDArray[Any] | None, wanted: tuple[str, ...], name: str) -> BoolArray | bool:
        if not wanted:
            return True
        if column is None:
            raise DataError(
                f"a frequency cap counts {name}s {list(wanted)}, but contact_history has no {name!r} column"
            )
        return np.isin(column, np.array(wanted, dtype=object))


def _rows_of(
    ids: npt.NDArray[Any], sorted_ids: npt.NDArray[Any], row_of_slot: IntArray, kind: str
) -> IntArray:
    """The customers-table row of each contact's id, -1 for ids not in the table.

    Integer ids in a compact range (the usual database ids) go through a direct lookup array, one
    random access per contact; anything else through a binary search of the sorted ids.
    """
    if len(sorted_ids) == 0:
        return np.full(len(ids), -1, dtype=np.int64)
    if kind == "int":
        low, high = int(sorted_ids[0]), int(sorted_ids[-1])
        if high - low < 4 * len(sorted_ids) + 1024:
            lookup = np.full(high - low + 1, -1, dtype=np.int64)
            lookup[sorted_ids - low] = row_of_slot
            inside = (ids >= low) & (ids <= high)
            row = lookup[np.clip(ids, low, high) - low]  # clip first: no overflow for extreme ids
            return np.where(inside, row, -1)
    # Searching in id order is about twice as fast as in table order: the probes stay in cache.
    order = np.argsort(ids)
    slot = np.empty(len(ids), dtype=np.intp)
    slot[order] = np.searchsorted(sorted_ids, ids[order])
    slot = slot.clip(0, len(sorted_ids) - 1)
    return np.where(sorted_ids[slot] == ids, row_of_slot[slot], -1)


def _priority(table: Table, name: str) -> tuple[npt.NDArray[Any], BoolArray]:
    """The priority column as sortable values (int64 or float64) and its null mask."""
    if name not in table:
        raise DataError(f"customers_table has no {name!r} column (budget.priority)")
    kind = table.kind(name)
    column = table[name]
    if kind == "int":
        if isinstance(column, np.ma.MaskedArray):
            return np.asarray(column.filled(0), dtype=np.int64), np.ma.getmaskarray(column)
        return np.asarray(column, dtype=np.int64), np.zeros(len(column), dtype=bool)
    if kind in ("float", "decimal", "null"):
        if kind != "float":  # Decimal objects (None or Decimal('NaN') for null): numpy converts them in C
            nulls = table.null_mask(name)
            if kind == "null":
                column = np.full(len(column), np.nan)
            elif nulls is not None:
                column = np.where(nulls, np.nan, column)
        values = np.asarray(column, dtype=np.float64)
        return values, np.isnan(values)
    raise DataError(f"customers_table.{name} must be numeric to order by (budget.priority), got {kind}")


def _rank(
    eligible: BoolArray,
    priority: tuple[npt.NDArray[Any], BoolArray] | None,
    id_rank: IntArray,
    *,
    ascending: bool,
) -> IntArray:
    """1-based position of each eligible row in priority order (0 for the rest).

    Order: non-null priority before null, higher first (lower with ``ascending``), then id ascending.
    """
    rows = np.flatnonzero(eligible)
    if priority is None:
        order = rows[np.argsort(id_rank[rows], kind="stable")]
    else:
        values, nulls = priority
        key = values[rows]
        if not ascending:  # descending without overflow: ~x for ints, -x for floats
            key = ~key if key.dtype.kind == "i" else -key
        if key.dtype.kind == "f":
            key = np.where(nulls[rows], 0.0, key)
        order = rows[np.lexsort((id_rank[rows], key, nulls[rows]))]
    rank = np.zeros(len(eligible), dtype=np.int64)
    rank[order] = np.arange(1, len(order) + 1, dtype=np.int64)
    return rank


def _plan(
    template: CouponTemplate,
    table: Table,
    id_column: str,
    ids: npt.NDArray[Any],
    reason: npt.NDArray[np.int8],
    rank: IntArray,
    priority: tuple[npt.NDArray[Any], BoolArray] | None,
    face: Money | None,
    budget: IssuanceBudget,
) -> IssuancePlan:
    selected = reason == 0
    eligible = rank > 0
    columns: dict[str, Any] = {
        id_column: table[id_column],
        "selected": selected,
        "reason": _REASON_TEXT[reason],
        "rank": np.ma.MaskedArray(rank, mask=~eligible),
    }
    if priority is not None and budget.priority is not None:
        columns["priority"] = table[budget.priority]
    counts_by_code = np.bincount(reason, minlength=len(_REASONS))
    counts = {r.value: int(counts_by_code[_CODE[r]]) for r in _REASONS}
    total = None if face is None else face * counts[IssuanceReason.SELECTED.value]
    return IssuancePlan(Table(columns), counts, total, template.id, id_column)


# -- the scalar path ---------------------------------------------------------------------------------


def plan_issuance_one(
    template: CouponTemplate,
    customer: Mapping[str, Any],
    *,
    audience: Rule | str | None = None,
    as_of: datetime,
    contacts: Iterable[Mapping[str, Any]] = (),
    caps: IssuanceCaps | None = None,
    budget: IssuanceBudget | None = None,
    holds: bool = False,
    rank: int | None = None,
    tz: TzLike | None = None,
    tags: TagSet | None = None,
) -> IssuanceDecision:
    """The decision of [`plan_issuance`][] for one customer (for a request, or to explain a row).

    The budget depends on everyone else; pass the customer's ``rank`` among the eligible (the batch
    plan's ``rank`` column) to apply it, or leave it ``None`` to ask "eligible, budget permitting".

    Parameters
    ----------
    customer : mapping
        The customer's record (the fields the rules and ``opt_out_column`` read).
    contacts : iterable of mappings
        This customer's past contacts: ``at`` (aware datetime), optional ``channel`` and ``kind``.
    holds : bool
        Whether the customer already holds the coupon.
    rank : int or None
        1-based position among the eligible in priority order.
    template, audience, as_of, caps, budget, tz, tags
        As for [`plan_issuance`][] (``tags`` is evaluated for this customer first).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops.coupons import Benefit, CouponTemplate
    >>> tpl = CouponTemplate(id="back20", currency="CNY", benefit=Benefit(kind="amount_off", amount="20 CNY"))
    >>> as_of = datetime(2024, 7, 1, tzinfo=timezone.utc)
    >>> caps = IssuanceCaps(frequency=(FrequencyCap(limit=1, window="30d"),))
    >>> plan_issuance_one(tpl, {"stage": "churning"}, audience='stage == "churning"', as_of=as_of,
    ...                   contacts=[{"at": datetime(2024, 6, 20, tzinfo=timezone.utc)}], caps=caps).reason
    <IssuanceReason.FREQUENCY_CAP: 'FREQUENCY_CAP'>
    """
    as_of = require_aware(as_of)
    if isinstance(rank, bool) or not (rank is None or (isinstance(rank, (int, np.integer)) and rank >= 1)):
        raise DataError(f"rank must be a positive int (1 is first) or None, got {rank!r}")
    if not isinstance(holds, bool):
        raise DataError(f"holds must be True or False, got {holds!r}")
    zone = _zone(tz, template)
    caps = IssuanceCaps() if caps is None else caps
    budget = IssuanceBudget() if budget is None else budget
    face = _face_value(template, budget)
    reason = _first_reason_one(template, customer, audience, as_of, zone, list(contacts), caps, holds, tags)
    if reason is None and rank is not None:
        quota, budget_reason = _quota(budget, face)
        if quota is not None and rank > quota:
            reason = budget_reason
    return IssuanceDecision(selected=reason is None, reason=reason or IssuanceReason.SELECTED)


def _first_reason_one(
    template: CouponTemplate,
    customer: Mapping[str, Any],
    audience: Rule | str | None,
    as_of: datetime,
    zone: tzinfo,
    contacts: list[Mapping[str, Any]],
    caps: IssuanceCaps,
    holds: bool,
    tags: TagSet | None,
) -> IssuanceReason | None:
    rules = _audience_rules(template, audience)
    have = None
    if _tags_needed(rules, tags):
        assert tags is not None
        have = tags.evaluate_one(customer, as_of=as_of, tz=zone)
    for rule in rules:
        if not rule.evaluate_one(customer, as_of=as_of, tz=zone, tags=have):
            return IssuanceReason.NOT_IN_AUDIENCE
    if caps.opt_out_column is not None and customer.get(caps.opt_out_column) is True:
        return IssuanceReason.OPTED_OUT
    if holds and caps.skip_holders:
        return IssuanceReason.ALREADY_HOLDS
    now = as_utc_us(as_of)
    times = [_contact_us(contact, position) for position, contact in enumerate(contacts)]
    if caps.quiet_period is not None:
        start = _window_start(caps.quiet_period, as_of, zone)
        if any(start <= at < now for at in times):
            return IssuanceReason.QUIET_PERIOD
    for cap in caps.frequency:
        start = _window_start(cap.window, as_of, zone)
        counted = sum(start <= at < now and _counts(contact, cap) for at, contact in zip(times, contacts))
        if counted >= cap.limit:
            return IssuanceReason.FREQUENCY_CAP
    return None


def _contact_us(contact: Mapping[str, Any], position: int) -> int:
    return as_utc_us(require_aware(contact.get("at"), name=f"contacts[{position}].at"))


def _counts(contact: Mapping[str, Any], cap: FrequencyCap) -> bool:
    if cap.channels and contact.get("channel") not in cap.channels:
        return False
    return not (cap.kinds and contact.get("kind") not in cap.kinds)

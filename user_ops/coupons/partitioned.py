"""Targeted issuance over partitioned customers: the map/reduce protocol of the Dask and Spark adapters.

A semi-public module: the building blocks of ``user_ops.dask`` and ``user_ops.spark``, for
writing an adapter to another engine. A host planning an issuance calls
[`plan_issuance`][user_ops.coupons.plan_issuance] (or an adapter's ``plan_issuance``) instead.

[`plan_issuance`][user_ops.coupons.plan_issuance] decides in two parts. The audience, opt-out, holder,
quiet-period and frequency-cap checks read one customer (and that customer's contacts) only: they
run per partition, with the contact history co-partitioned by customer id. The budget needs
everyone's priority: the first ``k`` eligible customers in priority order (higher first, nulls last,
ties by id) get the coupon. By default every partition sends all its eligible customers' (priority,
id) keys, 16 bytes each, so the driver ranks everyone exactly; with ``exact_ranks=False`` each
partition sends only its own first ``k`` (a top-k: less to move, but eligible customers beyond the
budget get no rank). The selected ids and ranks go back to a second map step. The engine adapters
use the three kernels ([`issuance_reasons`][], [`issuance_candidates`][], [`issuance_finish`][])
and [`issuance_cutoff`][] on the driver, which merges the partitions' [`IssuanceCandidates`][] into
an [`IssuanceCutoff`][]; [`plan_issuance_partitioned`][] chains them over a pair reducer (a
callable running a task on every pair of co-partitioned customer and contact partitions).

With ``exact_ranks=True`` the result equals [`plan_issuance`][user_ops.coupons.plan_issuance] on the
whole table row for row; with ``exact_ranks=False`` it equals it for ``selected``, ``reason`` and
``priority``, and for ``rank`` of the selected customers.

Until the next release these names can also be imported from ``user_ops.coupons``, with a
``DeprecationWarning``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from user_ops._money import Money
from user_ops._scale import PairReducer, concat_tables
from user_ops._table import Table
from user_ops._time import TzLike
from user_ops.coupons._issuance import (
    IssuanceBudget,
    IssuanceCaps,
    IssuancePlan,
    IssuanceReason,
    _face_value,
    _priority,
    _quota,
    plan_issuance,
)
from user_ops.coupons._model import CouponTemplate
from user_ops.exceptions import DataError
from user_ops.rules import Rule
from user_ops.tags import TagSet

__all__ = [
    "IssuanceCandidates",
    "IssuanceCutoff",
    "issuance_candidates",
    "issuance_cutoff",
    "issuance_finish",
    "issuance_quota",
    "issuance_reasons",
    "plan_issuance_partitioned",
]

_SELECTED = IssuanceReason.SELECTED.value


def issuance_reasons(
    template: CouponTemplate,
    customers: Any,
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
) -> Table:
    """Map step: the issuance plan of one partition, with the budget's order but not its limits.

    [`plan_issuance`][user_ops.coupons.plan_issuance] on the partition. Returns the plan table:
    ``reason`` is every check but the budget (``SELECTED`` means eligible), ``rank`` the order among
    the partition's eligible.

    Examples
    --------
    >>> from user_ops.coupons import Benefit
    >>> from datetime import timezone
    >>> tpl = CouponTemplate(id="c", currency="CNY", benefit=Benefit(kind="amount_off", amount="5 CNY"))
    >>> t = issuance_reasons(tpl, {"customer_id": [1, 2]}, as_of=datetime(2024, 1, 1, tzinfo=timezone.utc),
    ...                      budget=IssuanceBudget(count=1))
    >>> t["reason"].tolist()
    ['SELECTED', 'SELECTED']
    """
    full = IssuanceBudget() if budget is None else budget
    _face_value(template, full)  # the budget's errors, raised by every partition alike
    open_budget = IssuanceBudget(priority=full.priority, ascending=full.ascending)
    plan = plan_issuance(
        template,
        customers,
        audience=audience,
        as_of=as_of,
        contact_history=contact_history,
        caps=caps,
        budget=open_budget,
        holders=holders,
        tz=tz,
        id_column=id_column,
        tags=tags,
    )
    return plan.table


def issuance_quota(
    template: CouponTemplate, budget: IssuanceBudget | None
) -> tuple[int | None, IssuanceReason]:
    """How many coupons the budget allows (None: no limit) and the reason of whoever is beyond it.

    Raises the budget's ``ConfigError`` (a value budget without a face value, another currency).

    Examples
    --------
    >>> from user_ops.coupons import Benefit
    >>> tpl = CouponTemplate(id="c", currency="CNY", benefit=Benefit(kind="amount_off", amount="5 CNY"))
    >>> issuance_quota(tpl, IssuanceBudget(count=9, value="20 CNY"))
    (4, <IssuanceReason.BUDGET_VALUE: 'BUDGET_VALUE'>)
    """
    full = IssuanceBudget() if budget is None else budget
    return _quota(full, _face_value(template, full))


@dataclass(frozen=True)
class IssuanceCandidates:
    """A partition's map result: its first eligible customers with their priority, and its reason counts.

    What [`issuance_candidates`][] returns and [`issuance_cutoff`][] merges on the driver.

    Attributes
    ----------
    ids:
        The ids of the partition's candidates (its first ``quota`` eligible customers, or all).
    values, nulls:
        Their priority values and which are null (both None without a priority column).
    counts:
        How many of the partition's customers got each reason (``SELECTED``: eligible).

    Examples
    --------
    >>> c = IssuanceCandidates(np.array([4, 9]), None, None, {"SELECTED": 2, "OPTED_OUT": 1})
    >>> c.ids.tolist(), c.counts["SELECTED"]
    ([4, 9], 2)
    """

    ids: npt.NDArray[Any]
    values: npt.NDArray[Any] | None
    nulls: npt.NDArray[np.bool_] | None
    counts: dict[str, int]


def issuance_candidates(
    reasons: Table, *, quota: int | None, priority: str | None, id_column: str = "customer_id"
) -> IssuanceCandidates:
    """Map step: the partition's first ``quota`` eligible customers (all with no quota) and its counts.

    Examples
    --------
    >>> t = Table({"customer_id": [5, 6], "selected": [True, True], "reason": ["SELECTED", "SELECTED"],
    ...            "rank": [2, 1]})
    >>> issuance_candidates(t, quota=1, priority=None).ids.tolist()
    [6]
    """
    reasons = _reasons_table(reasons, "issuance_candidates")
    rank = reasons["rank"]
    ranks = np.ma.getdata(rank)
    eligible = ~np.ma.getmaskarray(rank) if isinstance(rank, np.ma.MaskedArray) else np.ones(len(ranks), bool)
    eligible &= np.asarray(reasons["reason"] == _SELECTED, dtype=bool)
    take = eligible if quota is None else eligible & (ranks <= quota)
    ids = np.asarray(reasons[id_column])[take]
    values = nulls = None
    if priority is not None:
        all_values, all_nulls = _priority(reasons, "priority")
        values, nulls = all_values[take], all_nulls[take]
    codes, counts = np.unique(np.asarray(reasons["reason"]).astype(str), return_counts=True)
    return IssuanceCandidates(ids, values, nulls, {str(c): int(n) for c, n in zip(codes, counts)})


@dataclass(frozen=True)
class IssuanceCutoff:
    """The driver's decision: the selected ids (sorted) and their global ranks, and the budget's reason.

    Examples
    --------
    >>> cut = IssuanceCutoff(np.array([3, 7]), np.array([2, 1]), IssuanceReason.BUDGET_COUNT, {}, 2)
    >>> cut.selected
    2
    """

    ids: npt.NDArray[Any]
    ranks: npt.NDArray[np.int64]
    budget_reason: IssuanceReason
    eligible_counts: dict[str, int]
    selected: int


def issuance_cutoff(
    candidates: list[IssuanceCandidates],
    *,
    quota: int | None,
    budget_reason: IssuanceReason,
    ascending: bool,
    exact_ranks: bool = True,
) -> IssuanceCutoff:
    """Driver: merge the partitions' candidates in the core's priority order and keep the first ``quota``.

    Examples
    --------
    >>> c = [IssuanceCandidates(np.array([4]), None, None, {"SELECTED": 1}),
    ...      IssuanceCandidates(np.array([2]), None, None, {"SELECTED": 1})]
    >>> cut = issuance_cutoff(c, quota=1, budget_reason=IssuanceReason.BUDGET_COUNT, ascending=False)
    >>> cut.ids, cut.ranks, cut.selected       # both ranked, the first one selected
    (array([2, 4]), array([1, 2]), 1)
    """
    if isinstance(candidates, (str, bytes)) or not isinstance(candidates, Sequence):
        raise DataError(f"issuance_cutoff() takes a list of map results, got {type(candidates).__name__}")
    if not all(isinstance(c, IssuanceCandidates) for c in candidates):
        raise DataError("issuance_cutoff() takes the results of issuance_candidates(), one per partition")
    present = [c for c in candidates if len(c.ids)]
    counts: dict[str, int] = {}
    for c in candidates:
        for reason, n in c.counts.items():
            counts[reason] = counts.get(reason, 0) + n
    if not present:
        return IssuanceCutoff(
            np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), budget_reason, counts, 0
        )
    ids = np.concatenate([c.ids for c in present])
    if present[0].values is None:
        order = np.argsort(ids, kind="stable")
    else:
        values = np.concatenate([c.values for c in present if c.values is not None])
        nulls = np.concatenate([c.nulls for c in present if c.nulls is not None])
        key = values
        if not ascending:  # exactly the core's key: ~x for ints, -x for floats, nulls as 0.0 and last
            key = ~key if key.dtype.kind == "i" else -key
        if key.dtype.kind == "f":
            key = np.where(nulls, 0.0, key)
        order = np.lexsort((ids, key, nulls))
    if not exact_ranks and quota is not None:
        # Only the partitions' top-k were gathered: ranks past the quota could miss better customers.
        order = order[:quota]
    # Every kept candidate has its global rank; the first `quota` of them are selected.
    ranks = np.arange(1, len(order) + 1, dtype=np.int64)
    by_id = np.argsort(ids[order], kind="stable")
    selected = len(order) if quota is None else min(quota, len(order))
    return IssuanceCutoff(ids[order][by_id], ranks[by_id], budget_reason, counts, selected)


def issuance_finish(reasons: Table, cutoff: IssuanceCutoff, *, id_column: str = "customer_id") -> Table:
    """Map step: the final plan rows of a partition (selected, reason, global rank of the selected).

    Examples
    --------
    >>> t = Table({"customer_id": [5, 6], "selected": [True, True], "reason": ["SELECTED", "SELECTED"],
    ...            "rank": [2, 1]})
    >>> cut = IssuanceCutoff(np.array([6]), np.array([1]), IssuanceReason.BUDGET_COUNT, {}, 1)
    >>> issuance_finish(t, cut)["reason"].tolist()
    ['BUDGET_COUNT', 'SELECTED']
    """
    reasons = _reasons_table(reasons, "issuance_finish")
    if not isinstance(cutoff, IssuanceCutoff):
        raise DataError(f"issuance_finish() takes the IssuanceCutoff, got {type(cutoff).__name__}")
    ids = np.asarray(reasons[id_column])
    eligible = np.asarray(reasons["reason"] == _SELECTED, dtype=bool)
    slot = np.searchsorted(cutoff.ids, ids).clip(0, max(len(cutoff.ids) - 1, 0))
    ranked = eligible & (cutoff.ids[slot] == ids) if len(cutoff.ids) else np.zeros(len(ids), dtype=bool)
    rank = np.where(ranked, cutoff.ranks[slot] if len(cutoff.ids) else 0, 0)
    chosen = ranked & (rank <= cutoff.selected)
    reason = np.where(eligible & ~chosen, cutoff.budget_reason.value, np.asarray(reasons["reason"]))
    columns: dict[str, Any] = {
        id_column: reasons[id_column],
        "selected": chosen,
        "reason": reason.astype(object),
        "rank": np.ma.MaskedArray(rank.astype(np.int64), mask=~ranked),
    }
    if "priority" in reasons:
        columns["priority"] = reasons["priority"]
    return Table(columns)


def _map_reasons(options: dict[str, Any], customers: Table, contacts: Table | None) -> Table:
    return issuance_reasons(customers=customers, contact_history=contacts, **options)


def _map_candidates(
    options: dict[str, Any], quota: int | None, customers: Table, contacts: Table | None
) -> IssuanceCandidates:
    reasons = _map_reasons(options, customers, contacts)
    budget = options.get("budget")
    priority = None if budget is None else budget.priority
    return issuance_candidates(reasons, quota=quota, priority=priority, id_column=options["id_column"])


def _map_finish(
    options: dict[str, Any], cutoff: IssuanceCutoff, customers: Table, contacts: Table | None
) -> Table:
    return issuance_finish(_map_reasons(options, customers, contacts), cutoff, id_column=options["id_column"])


def plan_issuance_partitioned(
    template: CouponTemplate,
    reduce: PairReducer,
    *,
    audience: Rule | str | None = None,
    as_of: datetime,
    caps: IssuanceCaps | None = None,
    budget: IssuanceBudget | None = None,
    holders: Iterable[Any] | None = None,
    tz: TzLike | None = None,
    id_column: str = "customer_id",
    exact_ranks: bool = True,
    tags: TagSet | None = None,
) -> IssuancePlan:
    """The issuance plan over co-partitioned (customers, contact history) partitions.

    [`plan_issuance`][user_ops.coupons.plan_issuance] as map/reduce: ``reduce`` runs a task on every
    pair of partitions (customers, their contacts or None); two passes: reasons and candidates, then
    the final rows. The plan's table is the partitions' rows in partition order, equal to the
    single-machine plan row for row. ``tags`` (a ``TagSet`` the audience
    reads with ``has_tag``) is evaluated per partition: a tag reads one customer's row only. With
    ``exact_ranks=True`` (default) every eligible customer's (priority, id) key reaches the driver
    (16 bytes each) so customers beyond the budget keep their global ``rank`` too;
    ``exact_ranks=False`` gathers only the first ``k`` per partition and leaves ``rank`` null beyond
    the budget (``selected`` and ``reason`` are unchanged).

    Examples
    --------
    >>> from datetime import timezone
    >>> from user_ops._scale import in_memory_pair_reducer, split_by_key
    >>> from user_ops.coupons import Benefit
    >>> tpl = CouponTemplate(id="c", currency="CNY", benefit=Benefit(kind="amount_off", amount="5 CNY"))
    >>> customers = Table({"customer_id": [1, 2, 3, 4], "monetary": [5.0, 9.0, 1.0, 7.0]})
    >>> reduce = in_memory_pair_reducer(split_by_key(customers, "customer_id", 2))
    >>> plan = plan_issuance_partitioned(tpl, reduce, as_of=datetime(2024, 1, 1, tzinfo=timezone.utc),
    ...                                  budget=IssuanceBudget(count=2, priority="monetary"))
    >>> plan.selected_ids(), plan.counts["BUDGET_COUNT"]
    (array([2, 4]), 2)
    """
    options: dict[str, Any] = {
        "template": template,
        "audience": audience,
        "as_of": as_of,
        "caps": caps,
        "budget": budget,
        "holders": None if holders is None else tuple(holders),
        "tz": tz,
        "id_column": id_column,
        "tags": tags,
    }
    quota, budget_reason = issuance_quota(template, budget)
    ascending = budget.ascending if budget is not None else False
    gather = None if exact_ranks else quota
    candidates = reduce(functools.partial(_map_candidates, options, gather))
    cutoff = issuance_cutoff(
        candidates, quota=quota, budget_reason=budget_reason, ascending=ascending, exact_ranks=exact_ranks
    )
    parts = reduce(functools.partial(_map_finish, options, cutoff))
    table = concat_tables(parts)
    return _assembled(template, table, cutoff, id_column)


def _assembled(
    template: CouponTemplate, table: Table, cutoff: IssuanceCutoff, id_column: str
) -> IssuancePlan:
    reasons = np.asarray(table["reason"]).astype(str) if len(table) else np.empty(0, dtype=str)
    counts = {r.value: int(np.count_nonzero(reasons == r.value)) for r in IssuanceReason}
    face: Money | None = template.face_value
    total = None if face is None else face * counts[_SELECTED]
    return IssuancePlan(table, counts, total, template.id, id_column)


def _reasons_table(reasons: Any, where: str) -> Table:
    """A partition's reasons (a Table from the map step), refusing anything else with a DataError."""
    if not isinstance(reasons, Table):
        raise DataError(f"{where}() takes a partition's reasons as a Table, got {type(reasons).__name__}")
    return reasons

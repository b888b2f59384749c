"""``recall_plan`` (沉默用户召回): lapsed customers grouped by segment, ordered by the revenue at stake."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from user_ops._table import Table
from user_ops.exceptions import ConfigError, DataError, _UnknownNameError, value_repr
from user_ops.lifecycle._policy import LifecyclePolicy
from user_ops.lifecycle._summary import (
    check_aligned,
    check_name,
    check_policy,
    group_mean,
    numeric,
    stage_positions,
)

__all__ = ["UNTAGGED", "RecallPlan", "recall_plan"]

UNTAGGED = ("untagged", "No tag", "无标签")
"""Segment code and labels of customers with none of the tags, when grouping by a tag table."""

IntpArray = npt.NDArray[np.intp]


class RecallPlan(Table):
    """The result of [`recall_plan`][]: one row per (stage, segment) group, most revenue at stake first.

    ``customers(stage, segment)`` gives a group's customer ids (row positions when the tables have no
    id column) — the audience of a targeted coupon issuance (定向发券). The columns are listed under
    [`recall_plan`][].

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops.lifecycle import LifecyclePolicy
    >>> from user_ops.rfm import RFMModel
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> metrics = {"customer_id": [1, 2, 3, 4], "frequency": [5, 1, 2, 1], "recency_days": [200, 400, 70, 2],
    ...            "first_order_at": [as_of.replace(year=2021)] * 4, "monetary": [2000.0, 80.0, 300.0, 50.0],
    ...            "repurchase_cycle_days": [40.0, None, 30.0, None]}
    >>> stages = LifecyclePolicy.default().classify(metrics, as_of=as_of)
    >>> scores = RFMModel.thresholds(recency=[90], frequency=[2], monetary=[500]).score(metrics)
    >>> plan = recall_plan(stages, scores, metrics)
    >>> {group: ids.tolist() for group, ids in plan.audiences().items()}
    {('churn', 'important_retain'): [1], ('dormancy', 'general_value'): [3],
     ('churn', 'general_winback'): [2]}
    >>> plan["suggestion_en"][0]
    'Win back: Reach out before they lapse'
    """

    __slots__ = ("_groups", "_ids", "_row_group")
    _ids: npt.NDArray[Any]
    _row_group: IntpArray
    _groups: dict[tuple[str, str], int]

    def customers(self, stage: str, segment: str) -> npt.NDArray[Any]:
        """Ids of the customers of one group, in table order.

        Raises
        ------
        ConfigError
            When the plan has no such group (the message lists the groups); it is also a KeyError.
        """
        group = (
            self._groups.get((stage, segment))
            if isinstance(stage, str) and isinstance(segment, str)
            else None
        )
        if group is None:
            known = ", ".join(f"{s}/{g}" for s, g in self._groups)
            raise _UnknownNameError(
                f"no recall group ({value_repr(stage)}, {value_repr(segment)}) in the plan (groups: {known})"
            )
        result: npt.NDArray[Any] = self._ids[self._row_group == group]
        return result

    def audiences(self) -> dict[tuple[str, str], npt.NDArray[Any]]:
        """Every group's customer ids, in plan order."""
        order = np.argsort(self._row_group, kind="stable")
        bounds = np.searchsorted(self._row_group[order], np.arange(len(self._groups) + 1))
        ids = self._ids[order]
        return {key: ids[bounds[g] : bounds[g + 1]] for key, g in self._groups.items()}


def _segments_of(
    segments: Any, n: int, tags: Sequence[str] | None, id_column: str, labels: Any
) -> tuple[IntpArray, list[tuple[str, str, str, str, str]]]:
    """Each row's segment position and, per segment, (code, label_en, label_zh, action_en, action_zh)."""
    table = Table.coerce(segments)
    if len(table) != n:
        raise DataError(
            f"segments have {len(table)} rows but the stages {n}: pass tables of the same customers"
        )
    if "segment" in table:
        return _by_segment_column(segments, table, labels)
    tag_set = labels if labels is not None else getattr(segments, "tag_set", None)
    if tag_set is not None and not hasattr(tag_set, "tags"):
        raise ConfigError(f"labels: a tag table's labels come from a TagSet, got {type(tag_set).__name__}")
    names = list(tags) if tags is not None else [c for c in table.columns if c != id_column]
    bad = [c for c in names if c not in table or table.kind(c) != "bool"]
    if not names or bad:
        raise DataError(
            "segments must be RFM scores (a 'segment' column) or a tag table (boolean columns); "
            f"not boolean or missing: {bad or names}"
        )
    rules = {t.name: t for t in tag_set.tags} if tag_set is not None else {}
    position = np.full(n, len(names), dtype=np.intp)  # untagged unless a tag is found
    for i in range(len(names) - 1, -1, -1):  # the first tag in order wins
        position[np.ma.filled(table[names[i]], False)] = i
    info = [
        (
            name,
            rules[name].label("en") if name in rules else name,
            rules[name].label("zh") if name in rules else name,
            "",
            "",
        )
        for name in names
    ]
    info.append((*UNTAGGED, "", ""))
    return position, info


def _by_segment_column(
    segments: Any, table: Table, labels: Any
) -> tuple[IntpArray, list[tuple[str, str, str, str, str]]]:
    from user_ops.rfm import NEVER_BOUGHT, RFMModel, SegmentMap

    if table.kind("segment") != "str" or table.null_mask("segment") is not None:
        raise DataError("the 'segment' column must hold segment codes (strings) without nulls")
    values = np.asarray(table["segment"])
    found, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    if labels is None:
        model = getattr(segments, "model", None)
        segment_map = model.segment_map if model is not None else None
    elif isinstance(labels, RFMModel):
        segment_map = labels.segment_map
    elif isinstance(labels, SegmentMap):
        segment_map = labels
    else:
        raise ConfigError(
            "labels: RFM segments take their labels from a SegmentMap or RFMModel, "
            f"got {type(labels).__name__}"
        )
    known: dict[str, tuple[str, str, str, str, str]] = {}
    order: list[str] = []
    if segment_map is not None:
        for s in segment_map.segments:
            known[s.code] = (s.code, s.label_en, s.label_zh, s.action_en, s.action_zh)
            order.append(s.code)
        known[NEVER_BOUGHT[0]] = NEVER_BOUGHT
        order.append(NEVER_BOUGHT[0])
    for value, row in zip(found, first, strict=True):
        code = str(value)
        if code not in known:
            en = str(table["segment_en"][row]) if "segment_en" in table else code
            zh = str(table["segment_zh"][row]) if "segment_zh" in table else code
            known[code] = (code, en, zh, "", "")
            order.append(code)
    where = {code: i for i, code in enumerate(order)}
    lookup = np.array([where[str(c)] for c in found], dtype=np.intp)
    result: IntpArray = lookup[inverse.ravel()]
    return result, [known[c] for c in order]


def recall_plan(
    classified: Any,
    segments: Any,
    metrics: Any,
    /,
    *,
    stages: Sequence[str] = ("dormancy", "churn"),
    value: str = "monetary",
    tags: Sequence[str] | None = None,
    policy: LifecyclePolicy | None = None,
    id_column: str = "customer_id",
    labels: Any = None,
) -> RecallPlan:
    """Silent-customer recall (沉默用户召回): the lapsed stages split by segment, by value at stake.

    Parameters
    ----------
    classified:
        The result of [`LifecyclePolicy.classify`][].
    segments:
        Who the customers are, row for row: RFM scores ([`RFMModel.score`][], or any table with a
        ``segment`` column) or a tag table ([`TagSet.evaluate`][]: each customer joins the first of
        its tags, in ``tags`` order or column order; customers with none are ``untagged``).
    metrics:
        The classified per-customer metrics, row for row (for ``value`` and ``recency_days``).
    stages:
        The stages to recall (default ``("dormancy", "churn")``; any codes of the policy).
    value:
        The metric summed as the **revenue at stake**: by default ``monetary``, the customer's net
        lifetime spend — what the relationship has been worth, and what a lost customer takes away.
        Pass e.g. ``"spend_365d"`` for last year's run-rate. Nulls and negative values count as 0.
    tags:
        With a tag table: the tags to group by, in priority order (default: all its columns).
    policy:
        The stage policy (default: the one that classified ``classified``).
    id_column:
        The id column read for [`RecallPlan.customers`][] (row positions when absent).
    labels:
        Where segment labels and actions come from when ``segments`` is a plain table or DataFrame
        rather than the scores or tag table itself: a ``SegmentMap`` or fitted ``RFMModel`` for RFM
        segments, a ``TagSet`` for tags (default: the ones ``segments`` carries).

    Returns
    -------
    RecallPlan
        One row per non-empty group, most ``revenue_at_stake`` first (then larger groups, then policy
        and segment order): ``stage``, ``stage_en``, ``stage_zh``, ``segment``, ``segment_en``,
        ``segment_zh``, ``size``, ``share`` (of the recall population), ``revenue_at_stake``,
        ``revenue_share`` (of the total at stake; NaN when it is 0), ``mean_value``,
        [``mean_recency_days``], ``action``, ``action_en``, ``action_zh``, ``segment_action_en``,
        ``segment_action_zh``, ``suggestion_en``, ``suggestion_zh`` (the stage's action, then the
        segment's). ``plan.customers(stage, segment)`` gives the audience.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops.rfm import RFMModel
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> metrics = {"customer_id": [1, 2, 3, 4], "frequency": [5, 1, 2, 1], "recency_days": [200, 400, 70, 2],
    ...            "first_order_at": [as_of.replace(year=2021)] * 4, "monetary": [2000.0, 80.0, 300.0, 50.0],
    ...            "repurchase_cycle_days": [40.0, None, 30.0, None]}
    >>> stages = LifecyclePolicy.default().classify(metrics, as_of=as_of)
    >>> scores = RFMModel.thresholds(recency=[90], frequency=[2], monetary=[500]).score(metrics)
    >>> plan = recall_plan(stages, scores, metrics)
    >>> plan["stage"].tolist(), plan["revenue_at_stake"].tolist()
    (['churn', 'dormancy', 'churn'], [2000.0, 300.0, 80.0])
    >>> plan["segment"].tolist()
    ['important_retain', 'general_value', 'general_winback']
    >>> plan.customers("churn", "important_retain").tolist()
    [1]
    """
    check_policy(policy)
    check_name("id_column", id_column)
    check_name("value", value)
    table = Table.coerce(classified)
    n = len(table)
    if policy is None:
        policy = getattr(classified, "policy", None)
    stage_pos, codes, stage_labels = stage_positions(table, policy)
    if isinstance(stages, str):
        stages = (stages,)
    if not isinstance(stages, Sequence) or not all(isinstance(s, str) for s in stages):
        raise ConfigError(f"stages must be stage codes (strings), got {value_repr(stages)}")
    unknown = [s for s in stages if s not in codes]
    if unknown or not stages:
        raise ConfigError(
            f"recall stages {unknown or list(stages)} are not stages of the policy ({', '.join(codes)})"
        )
    data = Table.coerce(metrics)
    check_aligned(table, data, what="metrics", id_column=id_column)
    seg_pos, seg_info = _segments_of(segments, n, tags, id_column, labels)
    seg_table = Table.coerce(segments)
    if id_column in seg_table:
        check_aligned(table, seg_table.select([id_column]), what="segments", id_column=id_column)
    worth = numeric(data, value)
    worth = np.where(np.isnan(worth) | (worth < 0), 0.0, worth)
    wanted = [codes.index(s) for s in stages]
    slot = np.full(len(codes), -1, dtype=np.intp)
    slot[wanted] = np.arange(len(wanted))  # recall stage order: the policy's, as given in `stages`
    stage_slot = slot[stage_pos]
    chosen = stage_slot >= 0
    n_seg = len(seg_info)
    key = np.where(chosen, stage_slot * n_seg + seg_pos, 0)
    n_keys = len(wanted) * n_seg
    sizes = np.bincount(key[chosen], minlength=n_keys)
    stake = np.bincount(key[chosen], weights=worth[chosen], minlength=n_keys)
    recency = numeric(data, "recency_days") if "recency_days" in data else None
    present = np.flatnonzero(sizes > 0)
    # most at stake first, then larger groups, then stage and segment order
    ranked = present[np.lexsort((present, -sizes[present], -stake[present]))]
    total_size, total_stake = int(sizes.sum()), float(stake.sum())
    stage_of = [stages[k // n_seg] for k in ranked]
    seg_of = [seg_info[k % n_seg] for k in ranked]
    columns: dict[str, Any] = {
        "stage": stage_of,
        "stage_en": [stage_labels[s][1] for s in stage_of],
        "stage_zh": [stage_labels[s][2] for s in stage_of],
        "segment": [g[0] for g in seg_of],
        "segment_en": [g[1] for g in seg_of],
        "segment_zh": [g[2] for g in seg_of],
        "size": sizes[ranked].astype(np.int64),
        "share": sizes[ranked] / max(total_size, 1),
        "revenue_at_stake": stake[ranked].astype(np.float64),
        "revenue_share": stake[ranked] / total_stake if total_stake > 0 else np.full(len(ranked), np.nan),
        "mean_value": stake[ranked] / np.maximum(sizes[ranked], 1),
    }
    if recency is not None:
        columns["mean_recency_days"] = group_mean(
            np.where(chosen, recency, np.nan), key.astype(np.intp), n_keys
        )[ranked]
    columns["action"] = [stage_labels[s][3] for s in stage_of]
    columns["action_en"] = [stage_labels[s][4] for s in stage_of]
    columns["action_zh"] = [stage_labels[s][5] for s in stage_of]
    columns["segment_action_en"] = [g[3] for g in seg_of]
    columns["segment_action_zh"] = [g[4] for g in seg_of]
    columns["suggestion_en"] = [
        f"{stage_labels[s][4]}: {g[3]}" if g[3] else stage_labels[s][4]
        for s, g in zip(stage_of, seg_of, strict=True)
    ]
    columns["suggestion_zh"] = [
        f"{stage_labels[s][5]}：{g[4]}" if g[4] else stage_labels[s][5]
        for s, g in zip(stage_of, seg_of, strict=True)
    ]
    built = Table({name: _column(values, len(ranked)) for name, values in columns.items()})
    plan = cast(RecallPlan, RecallPlan._trusted({name: built[name] for name in built.columns}))
    group_of_key = np.full(max(n_keys, 1), -1, dtype=np.intp)
    group_of_key[ranked] = np.arange(len(ranked))
    plan._row_group = np.where(chosen, group_of_key[key], -1)
    if id_column in table:
        plan._ids = np.asarray(np.ma.getdata(table[id_column]))
    elif id_column in data:
        plan._ids = np.asarray(np.ma.getdata(data[id_column]))
    else:
        plan._ids = np.arange(n)
    plan._groups = {(s, g[0]): i for i, (s, g) in enumerate(zip(stage_of, seg_of, strict=True))}
    return plan


def _column(values: Any, n: int) -> Any:
    """A column that keeps its kind when empty (an empty list would be a ``null`` column)."""
    if isinstance(values, list):
        out = np.empty(n, dtype=object)
        out[:] = values
        if n == 0:
            return np.array([], dtype=object)
        return out
    return values

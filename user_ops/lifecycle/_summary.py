"""``stage_summary``: per lifecycle stage, how many customers, what they bring, and what to do."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from user_ops._money import Currency, round_to_minor_unit, summary_currency
from user_ops._table import Table
from user_ops.exceptions import ConfigError, DataError, value_repr
from user_ops.lifecycle._policy import STAGE_COLUMNS, LifecyclePolicy

__all__ = ["stage_summary"]

FloatArray = npt.NDArray[np.float64]
IntpArray = npt.NDArray[np.intp]
_MEAN_COLUMNS = ("recency_days", "frequency", "monetary")


Labels = dict[str, tuple[str, ...]]


def stage_positions(
    stages: Table, policy: LifecyclePolicy | None, *, what: str = "stages"
) -> tuple[IntpArray, tuple[str, ...], Labels]:
    """Each row's stage position, the stage codes in order, and per code its labels (6 columns).

    With a policy the order is its lifecycle order ([`LifecyclePolicy.lifecycle_codes`][], the order
    people read stages in) and a code outside it is a DataError; without one, the codes found, sorted,
    with labels taken from the table's label columns when present.
    """
    if policy is None:
        policy = getattr(stages, "policy", None)
    positions, codes, labels = _rule_positions(stages, policy, what=what)
    display = policy.lifecycle_codes if policy is not None else codes
    if display == codes:
        return positions, codes, labels
    rank = np.array([display.index(code) for code in codes], dtype=np.intp)
    reordered: IntpArray = rank[positions]
    return reordered, display, labels


def _rule_positions(
    stages: Table, policy: LifecyclePolicy | None, *, what: str
) -> tuple[IntpArray, tuple[str, ...], Labels]:
    """[`stage_positions`][] in the policy's rule order (the positions of ``StageTable.index``)."""
    if "stage" not in stages:
        raise DataError(f"{what} need a 'stage' column (the output of LifecyclePolicy.classify)")
    own_policy = getattr(stages, "policy", None)
    own_index = getattr(stages, "index", None)
    if policy is None:
        policy = own_policy
    labels: Labels = {}
    if policy is not None:
        labels = {
            s.code: (s.code, s.label_en, s.label_zh, s.action, s.action_en, s.action_zh)
            for s in policy.stages
        }
        if own_index is not None and own_policy is not None and own_policy.codes == policy.codes:
            positions: IntpArray = own_index
            return positions, policy.codes, labels
        codes = policy.codes
    else:
        codes = ()
    if len(stages) == 0:
        return np.empty(0, dtype=np.intp), codes, labels
    values = np.asarray(stages["stage"])
    if values.dtype != object or stages.kind("stage") != "str":
        raise DataError(f"the 'stage' column of {what} must hold stage codes (strings) without nulls")
    found, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    if policy is None:
        codes = tuple(str(c) for c in found)
        for code, row in zip(codes, first, strict=True):
            labels[code] = tuple(
                str(stages[name][row]) if name in stages and stages[name][row] is not None else code
                for name in STAGE_COLUMNS
            )
    position = {code: i for i, code in enumerate(codes)}
    unknown = [str(c) for c in found if str(c) not in position]
    if unknown:
        raise DataError(f"{what} hold stages {unknown} that are not in the policy ({', '.join(codes)})")
    lookup = np.array([position[str(c)] for c in found], dtype=np.intp)
    result: IntpArray = lookup[inverse.ravel()]
    return result, codes, labels


def check_policy(policy: object) -> None:
    """A ``policy=`` argument is a LifecyclePolicy or None (ConfigError otherwise)."""
    if policy is not None and not isinstance(policy, LifecyclePolicy):
        raise ConfigError(f"policy must be a LifecyclePolicy, got {type(policy).__name__}")


def check_name(what: str, name: object) -> None:
    """A column-name argument is a string (ConfigError otherwise)."""
    if not isinstance(name, str):
        raise ConfigError(
            f"{what} must be a column name (str), got {type(name).__name__}: {value_repr(name)}"
        )


def check_aligned(left: Table, right: Table, *, what: str, id_column: str = "customer_id") -> None:
    """Two tables describe the same customers row for row (lengths, and ids when both have them)."""
    if len(left) != len(right):
        raise DataError(f"{what} has {len(right)} rows but the stages {len(left)}: pass the classified table")
    if id_column in left and id_column in right and not np.array_equal(left[id_column], right[id_column]):
        raise DataError(f"{what} and the stages are not in the same order ({id_column!r} differs)")


def numeric(table: Table, name: str) -> FloatArray:
    """A numeric column as float64 with nulls as NaN."""
    if table.kind(name) == "null":
        return np.full(len(table), np.nan)
    if table.kind(name) not in ("int", "float", "bool"):
        raise DataError(f"column {name!r} must be numeric, got {table.kind(name)}")
    values: FloatArray = np.ma.filled(np.ma.asarray(table[name]).astype(np.float64), np.nan)
    return values


def group_mean(values: FloatArray, group: IntpArray, size: int) -> FloatArray:
    """Mean per group with NaN left out; NaN for a group without values."""
    present = ~np.isnan(values)
    sums = np.bincount(group[present], weights=values[present], minlength=size)
    counts = np.bincount(group[present], minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        result: FloatArray = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return result


def stage_summary(
    stages: Any,
    metrics: Any = None,
    *,
    policy: LifecyclePolicy | None = None,
    currency: str | Currency = "CNY",
) -> Table:
    """Per stage, in lifecycle order: size, share, revenue and profile, with the stage's action.

    Parameters
    ----------
    stages:
        The result of [`LifecyclePolicy.classify`][] (or any table with a ``stage`` column).
    metrics:
        The per-customer metrics that were classified, row for row (checked on ``customer_id`` when
        both have it). Adds ``revenue`` (sum of ``monetary``, nulls as 0), ``revenue_share`` and the
        means of ``recency_days``, ``frequency`` and ``monetary`` (those present).
    policy:
        The policy (default: the one that classified ``stages``). Without any, the stages found, sorted.
    currency:
        The currency of ``monetary`` (a code such as ``"USD"``, or a ``Currency``): ``revenue`` and
        ``mean_monetary`` are rounded to its minor unit (default ``"CNY"``, two decimals; ``"JPY"``:
        whole yen). Shares and the other means are not money and keep every digit.

    Returns
    -------
    Table
        One row per stage of the policy, in its lifecycle order ([`LifecyclePolicy.lifecycle_codes`][];
        empty stages included, count 0): ``stage``, ``label_en``,
        ``label_zh``, ``action``, ``action_en``, ``action_zh``, ``count``, ``share`` (of all rows),
        [``revenue``, ``revenue_share``, ``mean_recency_days``, ``mean_frequency``,
        ``mean_monetary``]. Means leave nulls out (NaN for an empty stage); ``revenue_share`` is NaN
        when total revenue is not positive.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> policy = LifecyclePolicy.default()
    >>> metrics = {"frequency": [0, 1, 6], "recency_days": [None, 5, 10], "monetary": [0.0, 100.0, 900.0],
    ...            "first_order_at": [None, as_of, as_of.replace(year=2022)],
    ...            "repurchase_cycle_days": [None, None, 30.0]}
    >>> stages = policy.classify(metrics, as_of=as_of)
    >>> summary = stage_summary(stages, metrics)
    >>> summary["stage"].tolist()
    ['prospect', 'introduction', 'growth', 'maturity', 'dormancy', 'churn', 'unclassified']
    >>> summary["count"].tolist()
    [1, 1, 0, 1, 0, 0, 0]
    >>> float(summary["revenue_share"][3])
    0.9
    >>> float(stage_summary(stages, metrics, currency="JPY")["mean_monetary"][1])  # whole yen
    100.0
    """
    money = summary_currency(currency)
    check_policy(policy)
    table = Table.coerce(stages)
    if len(table) == 0:
        raise DataError("stage_summary of an empty population")
    if policy is None:
        policy = getattr(stages, "policy", None)
    group, codes, labels = stage_positions(table, policy)
    size = len(codes)
    counts = np.bincount(group, minlength=size)
    columns: dict[str, Any] = {
        "stage": list(codes),
        "label_en": [labels[c][1] for c in codes],
        "label_zh": [labels[c][2] for c in codes],
        "action": [labels[c][3] for c in codes],
        "action_en": [labels[c][4] for c in codes],
        "action_zh": [labels[c][5] for c in codes],
        "count": counts.astype(np.int64),
        "share": counts / len(table),
    }
    if metrics is not None:
        data = Table.coerce(metrics)
        check_aligned(table, data, what="metrics")
        if "monetary" in data:
            spent = numeric(data, "monetary")
            spent = np.where(np.isnan(spent), 0.0, spent)
            revenue = np.bincount(group, weights=spent, minlength=size).astype(np.float64)
            total = float(spent.sum())
            columns["revenue"] = round_to_minor_unit(revenue, money)
            columns["revenue_share"] = revenue / total if total > 0 else np.full(size, np.nan)
        for name in _MEAN_COLUMNS:
            if name in data:
                columns[f"mean_{name}"] = group_mean(numeric(data, name), group, size)
        if "mean_monetary" in columns:
            columns["mean_monetary"] = round_to_minor_unit(columns["mean_monetary"], money)
    return Table(columns)

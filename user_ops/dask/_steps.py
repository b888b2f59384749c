"""The Dask adapter's steps: one core kernel per partition, the engine only moves data."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from user_ops._scale import exact_quantile
from user_ops._table import Table
from user_ops._time import TzLike, as_utc_us, require_aware
from user_ops.coupons import CouponTemplate, IssuanceBudget, IssuanceCaps
from user_ops.coupons.partitioned import (
    IssuanceCandidates,
    IssuanceCutoff,
    issuance_candidates,
    issuance_cutoff,
    issuance_finish,
    issuance_quota,
    issuance_reasons,
)
from user_ops.dask._frames import as_dask_frame, dask_reducer, map_tables, table_of, to_pandas
from user_ops.lifecycle import LifecyclePolicy
from user_ops.metrics import DEFAULT_WINDOWS, Transactions
from user_ops.metrics import customer_metrics as core_customer_metrics
from user_ops.rfm import RFMModel, fit_partitioned
from user_ops.rules import Rule
from user_ops.tags import TagSet

__all__ = ["classify_lifecycle", "customer_metrics", "evaluate_tags", "fit_rfm", "plan_issuance", "score_rfm"]


def customer_metrics(
    frame: Any,
    *,
    as_of: datetime,
    windows: Sequence[str] = DEFAULT_WINDOWS,
    tz: TzLike | None = None,
    customers: Any = None,
    top_price_quantile: float = 0.9,
    top_price_threshold: float | None = None,
    btyd_period: str = "D",
    btyd_multiplier: float = 1,
    btyd_end: datetime | None = None,
    assume_partitioned: bool = False,
    npartitions: int | None = None,
    shuffle_method: str | None = None,
    id_column: str = "customer_id",
) -> Any:
    """[`user_ops.metrics.customer_metrics`][] over a Dask DataFrame of transactions.

    The transactions are hash-shuffled on ``customer_id`` (``shuffle(on=...)``) so that each
    partition holds all rows of its customers, then the core kernel runs once per partition
    (``map_partitions`` with an explicit ``meta``). The top-price threshold is a quantile of *all*
    order lines, so it is computed first, exactly (``user_ops._scale.exact_quantile``), and
    handed to every partition.

    Parameters
    ----------
    frame:
        Transactions as a Dask DataFrame (the core's canonical column names).
    customers:
        Optional Dask DataFrame of customers (adds never-bought customers and ``registered_at``);
        shuffled the same way, so that it is co-partitioned with the transactions.
    assume_partitioned:
        The frames are already partitioned by customer (all rows of a customer in one partition, and
        ``customers`` co-partitioned): skip the shuffle.
    npartitions:
        Partitions after the shuffle (default: those of ``frame``).
    shuffle_method:
        Dask's shuffle method (``"tasks"``, ``"disk"``, ``"p2p"``; default: Dask's choice for the
        scheduler in use).
    id_column:
        The customer id column of both frames.
    as_of, windows, tz, top_price_quantile, top_price_threshold, btyd_period, btyd_multiplier, btyd_end:
        As for the core function.

    Returns
    -------
    dask.dataframe.DataFrame
        The core's columns, one row per customer, sorted by id within each partition; int columns
        are pandas ``Int64``. ``to_table(result, sort_by="customer_id")`` equals the core's table.

    Examples
    --------
    >>> import dask, dask.dataframe as dd
    >>> from user_ops.datasets import synthetic_shop
    >>> from user_ops.metrics import customer_metrics as core
    >>> from user_ops.dask import to_table
    >>> shop = synthetic_shop(300, seed=2)
    >>> lines = dd.from_pandas(shop.lines.to_pandas(), npartitions=3)
    >>> with dask.config.set(scheduler="synchronous"):
    ...     metrics = to_table(customer_metrics(lines, as_of=shop.as_of), sort_by="customer_id")
    >>> metrics.equals(core(shop.lines, as_of=shop.as_of))
    True
    """
    frame = as_dask_frame(frame, "frame")
    require_aware(as_of)
    options: dict[str, Any] = {
        "as_of": as_of,
        "windows": tuple(windows),
        "tz": tz,
        "top_price_quantile": top_price_quantile,
        "top_price_threshold": top_price_threshold,
        "btyd_period": btyd_period,
        "btyd_multiplier": btyd_multiplier,
        "btyd_end": btyd_end,
    }
    # The kernel on the empty meta checks the options up front and gives the output's meta.
    has_customers = customers is not None
    empty_customers = table_of(as_dask_frame(customers, "customers")._meta) if has_customers else None
    meta = to_pandas(_metrics_table(table_of(frame._meta), empty_customers, options))
    if top_price_threshold is None and "unit_price" in frame.columns:
        options["top_price_threshold"] = exact_quantile(
            dask_reducer(frame), functools.partial(_line_prices, as_of), top_price_quantile
        )
    if not assume_partitioned:
        frame = _numbered(frame)
        frame = frame.shuffle(on=id_column, npartitions=npartitions, shuffle_method=shuffle_method)
        if has_customers:
            customers = customers.shuffle(
                on=id_column, npartitions=frame.npartitions, shuffle_method=shuffle_method
            )
    if has_customers:
        return frame.map_partitions(_metrics_partition, customers, options, meta=meta, align_dataframes=False)
    return frame.map_partitions(_metrics_partition, None, options, meta=meta, align_dataframes=False)


def _metrics_table(lines: Table, customers: Table | None, options: dict[str, Any]) -> Table:
    return core_customer_metrics(lines, customers=customers, **options)


_ROW = "__user_ops_row__"


def _numbered(frame: Any) -> Any:
    """``frame`` with its global row number: the shuffle loses the input order, the kernel restores it.

    The core orders a customer's rows by time and then input position (lines of one order share a
    time), and float sums follow that order; so the row order must survive the shuffle exactly.
    """
    lengths = frame.map_partitions(len).compute().tolist()
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64).tolist()
    meta = frame._meta.assign(**{_ROW: np.empty(0, dtype=np.int64)})
    return frame.map_partitions(_number_rows, offsets, meta=meta)


def _number_rows(part: Any, offsets: list[int], partition_info: dict[str, Any] | None = None) -> Any:
    start = offsets[partition_info["number"]] if partition_info is not None else 0
    return part.assign(**{_ROW: np.arange(start, start + len(part), dtype=np.int64)})


def _metrics_partition(lines: Any, customers: Any, options: dict[str, Any]) -> Any:
    if _ROW in lines.columns:
        lines = lines.sort_values(_ROW, kind="stable").drop(columns=_ROW)
    extra = None if customers is None else table_of(customers)
    return to_pandas(_metrics_table(table_of(lines), extra, options))


def _line_prices(as_of: datetime, part: Table) -> npt.NDArray[np.float64]:
    """The unit prices the core's top-price quantile is taken over: order lines before ``as_of``."""
    table = Transactions(part).table
    if "unit_price" not in table:
        return np.empty(0)
    before = table["ordered_at"].view(np.int64) < as_utc_us(as_of)
    price = np.asarray(table["unit_price"], dtype=np.float64)
    keep = before & (np.asarray(table["amount"], dtype=np.float64) >= 0) & ~np.isnan(price)
    result: npt.NDArray[np.float64] = price[keep]
    return result


def fit_rfm(
    metrics: Any, model: RFMModel, *, gather_limit: int = 100_000, bins_per_pass: int = 1024
) -> RFMModel:
    """``model.fit`` over a Dask frame of per-customer metrics: the same fitted model, bit for bit.

    Uses [`user_ops.rfm.fit_partitioned`][] (exact distributed cut-points: a few small passes, all
    three dimensions in each); the three columns (and the id) are persisted first so that the
    passes do not recompute the metrics.

    Examples
    --------
    >>> import dask, dask.dataframe as dd
    >>> from user_ops.datasets import synthetic_customers
    >>> customers = synthetic_customers(1_000)
    >>> frame = dd.from_pandas(customers.to_pandas(), npartitions=4)
    >>> with dask.config.set(scheduler="synchronous"):
    ...     fitted = fit_rfm(frame, RFMModel.quantile(bins=5))
    >>> fitted == RFMModel.quantile(bins=5).fit(customers)
    True
    """
    frame = as_dask_frame(metrics, "metrics")
    columns = [model.recency_column, model.frequency_column, model.monetary_column]
    order_by = model.id_column if model.id_column is not None and model.id_column in frame.columns else None
    if order_by is not None:
        columns.append(order_by)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        from user_ops.exceptions import DataError

        raise DataError(f"metrics has no column {missing[0]!r} (columns: {', '.join(frame.columns)})")
    persisted = frame[columns].persist()
    return fit_partitioned(
        model,
        dask_reducer(persisted),
        gather_limit=gather_limit,
        bins_per_pass=bins_per_pass,
        order_by=order_by,
    )


def _score(table: Table, model: RFMModel) -> Table:
    return model.score(table)


def score_rfm(metrics: Any, model: RFMModel) -> Any:
    """``model.score`` on every partition (a map step, no shuffle): a Dask frame of the score columns.

    Examples
    --------
    >>> import dask, dask.dataframe as dd
    >>> from user_ops.datasets import synthetic_customers
    >>> customers = synthetic_customers(200)
    >>> model = RFMModel.quantile().fit(customers)
    >>> frame = dd.from_pandas(customers.to_pandas(), npartitions=3)
    >>> with dask.config.set(scheduler="synchronous"):
    ...     scores = score_rfm(frame, model).compute()
    >>> scores["rfm_code"].tolist() == model.score(customers)["rfm_code"].tolist()
    True
    """
    return map_tables(as_dask_frame(metrics, "metrics"), _score, model)


def _tags(table: Table, tag_set: TagSet, as_of: datetime, tz: TzLike | None, id_column: str | None) -> Table:
    return tag_set.evaluate(table, as_of=as_of, tz=tz, id_column=id_column)


def evaluate_tags(
    frame: Any,
    tag_set: TagSet,
    *,
    as_of: datetime,
    tz: TzLike | None = None,
    id_column: str | None = "customer_id",
) -> Any:
    """``tag_set.evaluate`` on every partition: the id column and one bool column per tag, index kept.

    Examples
    --------
    >>> import dask, dask.dataframe as dd
    >>> from user_ops.datasets import DEFAULT_AS_OF, synthetic_customers
    >>> from user_ops.tags import TagRule
    >>> tags = TagSet(tags=[TagRule(name="loyal", when="frequency >= 5")])
    >>> frame = dd.from_pandas(synthetic_customers(100).to_pandas(), npartitions=2)
    >>> with dask.config.set(scheduler="synchronous"):
    ...     result = evaluate_tags(frame, tags, as_of=DEFAULT_AS_OF).compute()
    >>> list(result.columns), str(result["loyal"].dtype)
    (['customer_id', 'loyal'], 'boolean')
    """
    require_aware(as_of)
    return map_tables(as_dask_frame(frame, "frame"), _tags, tag_set, as_of, tz, id_column)


def _stages(table: Table, policy: LifecyclePolicy, as_of: datetime, tz: TzLike | None) -> Table:
    return policy.classify(table, as_of=as_of, tz=tz)


def classify_lifecycle(
    frame: Any, policy: LifecyclePolicy, *, as_of: datetime, tz: TzLike | None = None
) -> Any:
    """``policy.classify`` on every partition (a map step, no shuffle).

    Examples
    --------
    >>> import dask, dask.dataframe as dd
    >>> from user_ops.datasets import synthetic_shop
    >>> from user_ops.datasets import DEFAULT_AS_OF
    >>> frame = dd.from_pandas(synthetic_shop(200).customer_metrics().to_pandas(), npartitions=3)
    >>> with dask.config.set(scheduler="synchronous"):
    ...     stages = classify_lifecycle(frame, LifecyclePolicy.default(), as_of=DEFAULT_AS_OF).compute()
    >>> list(stages.columns)[:2]
    ['customer_id', 'stage']
    """
    require_aware(as_of)
    return map_tables(as_dask_frame(frame, "frame"), _stages, policy, as_of, tz)


def _reasons_partition(customers: Any, contacts: Any, options: dict[str, Any]) -> Any:
    history = None if contacts is None else table_of(contacts)
    return to_pandas(issuance_reasons(customers=table_of(customers), contact_history=history, **options))


def _finish_partition(reasons: Any, cutoff: IssuanceCutoff, id_column: str) -> Any:
    return to_pandas(issuance_finish(table_of(reasons), cutoff, id_column=id_column), index=reasons.index)


def plan_issuance(
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
    assume_partitioned: bool = False,
    npartitions: int | None = None,
    shuffle_method: str | None = None,
    exact_ranks: bool = True,
) -> Any:
    """[`user_ops.coupons.plan_issuance`][] over Dask frames, with one global budget.

    The per-customer checks (audience, opt-out, holders, quiet period, frequency caps) are a map
    step; with a ``contact_history`` frame both frames are first shuffled by customer id (unless
    ``assume_partitioned``). The budget is ranked on the driver: each partition sends its eligible
    customers' (priority, id) keys — all of them with ``exact_ranks=True`` (default, 16 bytes per
    eligible customer), only its first ``k`` with ``exact_ranks=False`` — and a second map step writes
    the plan rows.

    Returns
    -------
    dask.dataframe.DataFrame
        The core plan's columns (id, ``selected``, ``reason``, ``rank``, ``priority`` with a priority
        column), equal to the core's for every customer; with ``exact_ranks=False`` ``rank`` is null for
        eligible customers beyond the budget.

    Examples
    --------
    >>> import dask, dask.dataframe as dd, pandas as pd
    >>> from datetime import timezone
    >>> from user_ops.coupons import Benefit, CouponTemplate, IssuanceBudget
    >>> tpl = CouponTemplate(id="c", currency="CNY", benefit=Benefit(kind="amount_off", amount="5 CNY"))
    >>> people = dd.from_pandas(pd.DataFrame({"customer_id": [1, 2, 3, 4], "monetary": [5.0, 9.0, 1.0, 7.0]}),
    ...                         npartitions=2)
    >>> with dask.config.set(scheduler="synchronous"):
    ...     plan = plan_issuance(tpl, people, as_of=datetime(2024, 1, 1, tzinfo=timezone.utc),
    ...                          budget=IssuanceBudget(count=2, priority="monetary")).compute()
    >>> plan["reason"].tolist()
    ['BUDGET_COUNT', 'SELECTED', 'BUDGET_COUNT', 'SELECTED']
    """
    frame = as_dask_frame(customers, "customers")
    require_aware(as_of)
    contacts = None if contact_history is None else as_dask_frame(contact_history, "contact_history")
    options: dict[str, Any] = {
        "template": template,
        "audience": audience,
        "as_of": as_of,
        "caps": caps,
        "budget": budget,
        "holders": None if holders is None else tuple(holders),
        "tz": tz,
        "id_column": id_column,
    }
    empty_contacts = None if contacts is None else table_of(contacts._meta)
    meta = to_pandas(
        issuance_reasons(customers=table_of(frame._meta), contact_history=empty_contacts, **options)
    )
    if contacts is not None and not assume_partitioned:
        frame = frame.shuffle(on=id_column, npartitions=npartitions, shuffle_method=shuffle_method)
        contacts = contacts.shuffle(
            on=id_column, npartitions=frame.npartitions, shuffle_method=shuffle_method
        )
    reasons = frame.map_partitions(
        _reasons_partition, contacts, options, meta=meta, align_dataframes=False
    ).persist()
    full = IssuanceBudget() if budget is None else budget
    quota, budget_reason = issuance_quota(template, full)
    task = functools.partial(_candidates, None if exact_ranks else quota, full.priority, id_column)
    cutoff = issuance_cutoff(
        dask_reducer(reasons)(task),
        quota=quota,
        budget_reason=budget_reason,
        ascending=full.ascending,
        exact_ranks=exact_ranks,
    )
    final_meta = to_pandas(issuance_finish(table_of(meta), cutoff, id_column=id_column))
    return reasons.map_partitions(_finish_partition, cutoff, id_column, meta=final_meta)


def _candidates(
    quota: int | None, priority: str | None, id_column: str, reasons: Table
) -> IssuanceCandidates:
    return issuance_candidates(reasons, quota=quota, priority=priority, id_column=id_column)

"""``plan_issuance`` on Spark: row-wise eligibility by the core, then a distributed global ranking.

Who may get the coupon (audience, opt-out, holders, quiet period and frequency caps) is a row-wise
question: the core's [`user_ops.coupons.partitioned.issuance_reasons`][] answers it on each
partition (the plan with the budget's order but not its limits), and
[`user_ops.coupons.partitioned.issuance_quota`][] gives the quota. The budget is global: the
eligible customers are sorted by the core's order (priority present first, higher first or lower
with ``ascending``, then id), positions are numbered across the sorted partitions (a count per
partition, offsets on the driver), and the first ``quota`` are selected. Spark sorts at scale, so
every eligible customer gets its exact global ``rank``, as in the single-machine plan (the
engine-agnostic top-k of [`user_ops.coupons.partitioned.plan_issuance_partitioned`][] leaves the
rank of those beyond the budget null). With a ``contact_history`` frame, the contacts travel in one
shuffle with the customers so that each partition sees its customers' contacts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import numpy as np

from user_ops._table import Table
from user_ops._time import TzLike, require_aware
from user_ops.coupons import CouponTemplate, IssuanceBudget, IssuanceCaps, IssuanceReason
from user_ops.coupons.partitioned import issuance_quota, issuance_reasons
from user_ops.exceptions import DataError
from user_ops.rules import Rule
from user_ops.spark._arrow import (
    arrow_schema,
    arrow_to_table,
    empty_table,
    join_batches,
    spark_schema,
    table_batches,
)

__all__ = ["plan_issuance"]

_SIDE = "__user_ops_side"  # 0: a customer row, 1: a contact row (with ``contact_history``)
_CONTACT = "__user_ops_contact_"  # prefix of the contact columns in the joined frame
_RANK_KEYS = ("__user_ops_null", "__user_ops_key")


def plan_issuance(
    template: CouponTemplate,
    frame: Any,
    *,
    audience: Rule | str | None = None,
    as_of: datetime,
    contact_history: Any = None,
    caps: IssuanceCaps | None = None,
    budget: IssuanceBudget | None = None,
    holders: Iterable[Any] | None = None,
    tz: TzLike | None = None,
    id_column: str = "customer_id",
    partitions: int | None = None,
) -> Any:
    """Who gets ``template``, over a Spark frame of customers: the core's plan with a global budget.

    Parameters
    ----------
    template, audience, as_of, caps, budget, holders, tz, id_column:
        As in [`user_ops.coupons.plan_issuance`][] (``holders`` is sent to every task: keep it to
        ids that fit in memory).
    frame:
        A ``pyspark.sql.DataFrame``, one row per customer, with ``id_column`` and the columns the
        rules, ``budget.priority`` and ``caps.opt_out_column`` read.
    contact_history:
        Optional Spark frame of past contacts (``id_column``, ``at``, optionally ``channel`` and
        ``kind``): shuffled with the customers by id.
    partitions:
        Partitions of that shuffle (default ``spark.sql.shuffle.partitions``).

    Returns
    -------
    pyspark.sql.DataFrame
        The core plan's table, equal to [`user_ops.coupons.plan_issuance`][]'s: ``id_column``,
        ``selected``, ``reason``, ``rank`` (1-based position among *all* eligible customers, null
        for the rest) and, with a priority, ``priority``.
        ``groupBy("reason").count()`` gives the counts.

    Raises
    ------
    DataError, ConfigError
        As the core, on the driver before any Spark job for bad options and columns. Duplicate ids
        are found only within a partition (with ``contact_history``, the shuffle puts equal ids
        together, so everywhere).

    Examples
    --------
    With a SparkSession and a frame ``customers``::

        plan = plan_issuance(template, customers, audience='stage == "churning"', as_of=as_of,
                             budget=IssuanceBudget(count=1000, priority="monetary"))
        plan.where("selected").count()   # 1000 (or fewer eligible)

    The options are checked on the driver first:

    >>> plan_issuance(None, None, as_of=datetime(2024, 7, 1))
    Traceback (most recent call last):
    ...
    user_ops.exceptions.DataError: as_of is a naive datetime ...
    """
    as_of = require_aware(as_of)
    budget = IssuanceBudget() if budget is None else budget
    caps = IssuanceCaps() if caps is None else caps
    kept = None if holders is None else list(holders)
    options: dict[str, Any] = {
        "audience": audience,
        "as_of": as_of,
        "caps": caps,
        "holders": kept,
        "tz": tz,
        "id_column": id_column,
        "budget": budget,
    }
    # The core on an empty table checks everything the driver can (template, budget, columns, rules).
    issuance_reasons(template, empty_table(frame.schema), **options)
    quota, reason = issuance_quota(template, budget)
    beyond = reason.value
    eligibility = _eligibility(template, frame, contact_history, options, partitions)
    return _ranked(eligibility, budget, id_column, quota, beyond)


def _eligibility(
    template: CouponTemplate, frame: Any, contacts: Any, options: dict[str, Any], partitions: int | None
) -> Any:
    """The core's plan without a quota, per partition: who is eligible, and why the others are not."""
    id_column = options["id_column"]
    sample = _plan_table(template, empty_table(frame.schema), None, options)
    schema = spark_schema(sample, frame.schema)
    if contacts is None:
        source, joined = frame, False
    else:
        source, joined = _with_contacts(frame, contacts, id_column, partitions), True
    input_schema = arrow_schema(source.schema)
    customer_names = list(frame.columns)

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        if not joined:
            for batch in batches:
                if batch.num_rows:
                    table = arrow_to_table(join_batches([batch], input_schema))
                    yield from table_batches(_plan_table(template, table, None, options), schema)
            return
        whole = join_batches(batches, input_schema)
        if whole.num_rows == 0:
            return
        table = arrow_to_table(whole)
        side = np.asarray(table[_SIDE])
        people = _pick(table, side == 0, {name: name for name in customer_names})
        contact_names = {name: name[len(_CONTACT) :] for name in table.columns if name.startswith(_CONTACT)}
        history = _pick(table, side == 1, {id_column: id_column, **contact_names})
        yield from table_batches(_plan_table(template, people, history, options), schema)

    return source.mapInArrow(run, schema)


def _plan_table(
    template: CouponTemplate, table: Table, contacts: Table | None, options: dict[str, Any]
) -> Table:
    return issuance_reasons(template, table, contact_history=contacts, **options)


def _pick(table: Table, mask: Any, names: dict[str, str]) -> Table:
    from user_ops._scale import take_rows

    rows = take_rows(table.select(list(names)), np.flatnonzero(mask))
    return Table._trusted({new: rows[old] for old, new in names.items()})


def _with_contacts(frame: Any, contacts: Any, id_column: str, partitions: int | None) -> Any:
    """Customers and their contacts in one frame, shuffled by id (contact columns prefixed)."""
    from pyspark.sql.functions import col, lit

    if id_column not in contacts.columns:
        raise DataError(f"contact_history has no {id_column!r} column (got {', '.join(contacts.columns)})")
    id_type = frame.schema[id_column].dataType
    renamed = contacts.select(
        col(id_column).cast(id_type).alias(id_column),
        *[col(name).alias(_CONTACT + name) for name in contacts.columns if name != id_column],
    )
    both = frame.withColumn(_SIDE, lit(0)).unionByName(
        renamed.withColumn(_SIDE, lit(1)), allowMissingColumns=True
    )
    count = (
        partitions
        if partitions is not None
        else int(frame.sparkSession.conf.get("spark.sql.shuffle.partitions"))
    )
    return both.repartition(count, id_column)


def _ranked(plan: Any, budget: IssuanceBudget, id_column: str, quota: int | None, beyond: str) -> Any:
    """Global ranks of the eligible (the core's order), the quota applied; the others unchanged."""
    from pyspark.sql import functions as F

    selected = IssuanceReason.SELECTED.value
    columns = plan.columns
    eligible = plan.where(F.col("reason") == selected)
    keys = [F.col(id_column).asc()]
    if budget.priority is not None:
        value = F.col("priority")
        floating = plan.schema["priority"].dataType.typeName() in ("double", "float")
        missing = value.isNull() | F.isnan(value) if floating else value.isNull()
        # As the core: present priorities first; a missing one counts as 0, so ids order those.
        key = F.when(missing, F.lit(0)).otherwise(value)
        eligible = eligible.withColumn(_RANK_KEYS[0], missing).withColumn(_RANK_KEYS[1], key)
        order = F.col(_RANK_KEYS[1]).asc() if budget.ascending else F.col(_RANK_KEYS[1]).desc()
        keys = [F.col(_RANK_KEYS[0]).asc(), order, *keys]
    ordered = eligible.orderBy(*keys).localCheckpoint()  # the order and its partitions, fixed once
    numbered = _number(ordered)
    within = F.col("rank") <= F.lit(quota) if quota is not None else F.lit(True)
    numbered = numbered.withColumn("selected", within).withColumn(
        "reason", F.when(within, F.lit(selected)).otherwise(F.lit(beyond))
    )
    rest = plan.where(F.col("reason") != selected).withColumn("rank", F.lit(None).cast("long"))
    return numbered.select(*columns).unionByName(rest.select(*columns))


def _number(ordered: Any) -> Any:
    """``rank`` 1, 2, ... along the sorted partitions: counts per partition, then offsets."""
    from pyspark.sql.functions import spark_partition_id

    counts = dict(ordered.groupBy(spark_partition_id().alias("p")).count().collect())
    offsets: dict[int, int] = {}
    total = 0
    for partition in range(ordered.rdd.getNumPartitions()):
        offsets[partition] = total
        total += int(counts.get(partition, 0))
    schema = ordered.schema
    input_schema = arrow_schema(schema)

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        from pyspark import TaskContext

        context = TaskContext.get()
        start = offsets[0 if context is None else context.partitionId()]
        for batch in batches:
            table = pa.Table.from_batches([batch], schema=input_schema)
            ranks = pa.array(np.arange(start + 1, start + 1 + batch.num_rows, dtype=np.int64))
            start += batch.num_rows
            yield from table.set_column(table.schema.get_field_index("rank"), "rank", ranks).to_batches()

    return ordered.mapInArrow(run, schema)

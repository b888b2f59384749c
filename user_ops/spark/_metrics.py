"""``customer_metrics`` on Spark: one hash shuffle by customer, then the core kernel per partition.

The plan: number the rows in input order; ``repartition(n, "customer_id")`` so that all rows of a
customer meet in one partition; ``mapInArrow`` joins a partition's Arrow batches (a batch boundary
can split a customer), restores input order and runs [`user_ops.metrics.customer_metrics`][] on the
whole partition. The only population-wide input of the kernel, the top-price threshold (a quantile of
all order lines' unit prices), is computed exactly beforehand and passed to every partition.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from user_ops._table import Table
from user_ops._time import TzLike, require_aware
from user_ops.exceptions import DataError
from user_ops.metrics import DEFAULT_WINDOWS, REQUIRED_COLUMNS
from user_ops.metrics import customer_metrics as core_customer_metrics
from user_ops.spark._arrow import (
    ROW_COLUMN,
    arrow_schema,
    arrow_to_table,
    in_input_order,
    join_batches,
    spark_schema,
    table_batches,
)

__all__ = ["customer_metrics"]

# Columns the kernel reads; the log's other optional columns (quantity, sku, ...) stay out of the shuffle.
_USED = (*REQUIRED_COLUMNS, "order_id", "discount", "is_promo", "unit_price")
_KIND_COLUMN = "__user_ops_kind"  # 0: a transaction row, 1: a customers row (with ``customers=``)
_CUSTOMER_COLUMNS = ("customer_id", "registered_at")


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
    partitions: int | None = None,
    assume_partitioned: bool = False,
) -> Any:
    """Per-customer metrics of a Spark transaction log: [`user_ops.metrics.customer_metrics`][], at scale.

    Every value equals the single-machine result for the same rows bit for bit (row order included:
    ties between purchases at the same instant are broken by input position, as in the core).

    Parameters
    ----------
    frame:
        A ``pyspark.sql.DataFrame`` with the canonical transaction columns (``customer_id``,
        ``ordered_at`` as a timestamp, ``amount``; optionally ``order_id``, ``discount``,
        ``is_promo``, ``unit_price``). Other columns are ignored.
    as_of, windows, tz, top_price_quantile, top_price_threshold, btyd_period, btyd_multiplier, btyd_end:
        As in [`user_ops.metrics.customer_metrics`][]. Without ``top_price_threshold``, the
        quantile of all unit prices is computed exactly first (one aggregation: distinct prices and
        their counts, collected on the driver).
    customers:
        Optional Spark DataFrame of customers (``customer_id``, optionally ``registered_at``): adds
        ``registered_at`` and rows for customers who never bought. It travels in the same shuffle.
    partitions:
        Number of partitions of the shuffle (default: ``spark.sql.shuffle.partitions``).
    assume_partitioned:
        The frame's partitions already hold every row of each of their customers (data bucketed or
        written partitioned by customer, in input order): skip the shuffle.

    Returns
    -------
    pyspark.sql.DataFrame
        One row per customer, the core's columns in the core's order (no row order: collect with
        [`user_ops.spark.to_table`][] and ``sort_by="customer_id"`` for the core's order).

    Raises
    ------
    DataError
        On the driver, before any Spark job: a naive ``as_of``, a bad option or window, a missing
        column. In the workers: what the core raises for bad rows.

    Examples
    --------
    With a SparkSession ``spark`` and a transaction log ``log`` (a Table)::

        frame = spark.createDataFrame(log.to_arrow())
        metrics = customer_metrics(frame, as_of=as_of, windows=["30d", "90d"])
        table = to_table(metrics, sort_by="customer_id")   # equals the core's result

    The options are checked on the driver, before Spark runs anything:

    >>> customer_metrics(None, as_of=datetime(2024, 7, 1))
    Traceback (most recent call last):
    ...
    user_ops.exceptions.DataError: as_of is a naive datetime ...
    """
    as_of = require_aware(as_of)
    _check_partitions(partitions)
    missing = [name for name in REQUIRED_COLUMNS if frame is None or name not in frame.columns]
    if missing:
        raise DataError(
            f"the transactions frame has no {missing[0]!r} column (needs {', '.join(REQUIRED_COLUMNS)})"
        )
    used = [name for name in _USED if name in frame.columns]
    if top_price_threshold is None and "unit_price" in used:
        top_price_threshold = top_price_quantile_of(frame, as_of=as_of, quantile=top_price_quantile)
    options: dict[str, Any] = {
        "as_of": as_of,
        "windows": list(windows),
        "tz": tz,
        "top_price_quantile": top_price_quantile,
        "top_price_threshold": top_price_threshold,
        "btyd_period": btyd_period,
        "btyd_multiplier": btyd_multiplier,
        "btyd_end": btyd_end,
    }
    rows = frame.select(*used)
    if customers is not None:
        rows = _with_customer_rows(rows, customers)
    schema = spark_schema(_dry_run(rows.schema, options, customers is not None), rows.schema)
    if not assume_partitioned:
        from pyspark.sql.functions import monotonically_increasing_id

        rows = rows.withColumn(ROW_COLUMN, monotonically_increasing_id())
        count = partitions if partitions is not None else _shuffle_partitions(rows)
        rows = rows.repartition(count, "customer_id")
    input_schema = arrow_schema(rows.schema)

    def kernel(batches: Iterator[Any]) -> Iterator[Any]:
        joined = join_batches(batches, input_schema)
        if joined.num_rows == 0:
            return
        table = arrow_to_table(in_input_order(joined))
        yield from table_batches(_partition_metrics(table, options), schema)

    return rows.mapInArrow(kernel, schema)


def _partition_metrics(table: Table, options: dict[str, Any]) -> Table:
    """The core kernel on one partition (its transactions and, with ``customers=``, its customers)."""
    if _KIND_COLUMN not in table:
        return core_customer_metrics(table, **options)
    is_customer = np.asarray(table[_KIND_COLUMN]) == 1
    tx_names = [name for name in table.columns if name not in (_KIND_COLUMN, "registered_at")]
    log = _rows(table, ~is_customer, tx_names)
    people = _rows(table, is_customer, [name for name in _CUSTOMER_COLUMNS if name in table])
    return core_customer_metrics(log, customers=people, **options)


def _rows(table: Table, mask: Any, names: list[str]) -> Table:
    from user_ops._scale import take_rows

    return take_rows(table.select(names), np.flatnonzero(mask))


def _with_customer_rows(rows: Any, customers: Any) -> Any:
    """The log and the customers in one frame (so one shuffle co-locates them), told apart by a flag."""
    from pyspark.sql.functions import lit

    if "customer_id" not in customers.columns:
        raise DataError(
            f"the customers frame has no 'customer_id' column (got {', '.join(customers.columns)})"
        )
    picked = customers.select(*[name for name in _CUSTOMER_COLUMNS if name in customers.columns])
    id_type = rows.schema["customer_id"].dataType
    picked = picked.withColumn("customer_id", picked["customer_id"].cast(id_type))
    log = rows.withColumn(_KIND_COLUMN, lit(0))
    people = picked.withColumn(_KIND_COLUMN, lit(1))
    return log.unionByName(people, allowMissingColumns=True)


def _dry_run(frame_schema: Any, options: dict[str, Any], with_customers: bool) -> Table:
    """The kernel on a one-row log of the frame's columns: checks the options and gives the result's
    columns and kinds (from the core itself) for the Spark schema."""
    from pyspark.sql import types as T

    as_of: datetime = options["as_of"]
    sample: dict[str, Any] = {}
    for field in frame_schema.fields:
        kind = field.dataType
        if isinstance(kind, T.StringType):
            sample[field.name] = ["x"]
        elif isinstance(kind, T.TimestampType):
            sample[field.name] = [as_of - timedelta(days=1)]
        elif isinstance(kind, T.TimestampNTZType):
            raise DataError(
                f"column {field.name!r} is a TIMESTAMP_NTZ (wall-clock times of no zone); convert it to "
                "TIMESTAMP in the zone it was recorded in, e.g. F.to_utc_timestamp(col, 'Asia/Shanghai')"
            )
        elif isinstance(kind, T.BooleanType):
            sample[field.name] = [False]
        elif isinstance(kind, (T.FloatType, T.DoubleType, T.DecimalType)):
            sample[field.name] = [1.0]
        elif isinstance(kind, T.IntegralType):
            sample[field.name] = [0]
        else:
            raise DataError(
                f"transactions column {field.name!r} has Spark type {kind.simpleString()}, not supported"
            )
    if with_customers:
        sample[_KIND_COLUMN] = [0]
    return _partition_metrics(Table(sample), options)


def top_price_quantile_of(frame: Any, *, as_of: datetime, quantile: float) -> float | None:
    """The exact ``quantile`` of the unit prices of all order lines before ``as_of``, as numpy gives it.

    Spark counts each distinct price; the driver finds the two order statistics numpy interpolates
    between and interpolates them the same way (``np.quantile`` of those two, at the same weight).
    ``None`` without priced lines (the core then flags no line as top-priced).
    """
    from pyspark.sql import functions as F

    if isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or not 0 <= quantile <= 1:
        raise DataError(f"top_price_quantile must be a number from 0 to 1, got {quantile!r}")
    price = F.col("unit_price")
    lines = frame.where((F.col("amount") >= 0) & (F.col("ordered_at") < F.lit(as_of)))
    lines = lines.where(price.isNotNull() & ~F.isnan(price))
    counts = lines.groupBy("unit_price").count().toArrow()
    if counts.num_rows == 0:
        return None
    values = counts.column("unit_price").to_numpy().astype(np.float64)
    order = np.argsort(values, kind="stable")
    values, numbers = values[order], counts.column("count").to_numpy()[order]
    return exact_quantile_from_counts(values, numbers, quantile)


def exact_quantile_from_counts(values: Any, counts: Any, quantile: float) -> float:
    """``np.quantile(np.repeat(values, counts), quantile)`` without building the repeat.

    ``values`` sorted ascending and distinct, ``counts`` positive. numpy's default (linear) method
    takes the virtual index ``(n - 1) * q`` and interpolates between the order statistics at its floor
    and the next one; ``np.quantile`` of just those two at the same fractional weight repeats the
    arithmetic exactly.

    Examples
    --------
    >>> values, counts = np.array([1.0, 2.5, 7.0]), np.array([3, 1, 2])
    >>> bool(exact_quantile_from_counts(values, counts, 0.9) == np.quantile(np.repeat(values, counts), 0.9))
    True
    """
    n = int(np.sum(counts))
    virtual = (n - 1) * np.float64(quantile)
    below = math.floor(virtual)
    weight = virtual - below
    ends = np.cumsum(counts)  # the order statistics 0 .. ends[i] - 1 have value <= values[i]
    low = values[np.searchsorted(ends, below, side="right")]
    high = values[np.searchsorted(ends, min(below + 1, n - 1), side="right")]
    return float(np.quantile(np.array([low, high], dtype=np.float64), weight))


def _check_partitions(partitions: int | None) -> None:
    if partitions is None:
        return
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise DataError(f"partitions must be a positive integer, got {partitions!r}")


def _shuffle_partitions(frame: Any) -> int:
    return int(frame.sparkSession.conf.get("spark.sql.shuffle.partitions"))

"""Moving data between Spark's Arrow batches and [`Table`][], and Spark schemas for results.

Runs on the driver and in the Python workers; pyspark and pyarrow are imported inside the functions
(``import user_ops.spark`` imports neither).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from user_ops._table import Table
from user_ops.exceptions import DataError

__all__ = [
    "ROW_COLUMN",
    "arrow_schema",
    "empty_table",
    "join_batches",
    "spark_schema",
    "table_batches",
    "to_table",
]

#: The input position column added before a shuffle: it puts each partition back in input order.
ROW_COLUMN = "__user_ops_row"


def join_batches(batches: Iterable[Any], schema: Any) -> Any:
    """One pyarrow Table of a partition's Arrow batches (Spark cuts a partition into batches of
    ``spark.sql.execution.arrow.maxRecordsPerBatch`` rows, and a cut can split a customer)."""
    import pyarrow as pa

    collected = list(batches)
    if not collected:
        return schema.empty_table()
    return pa.Table.from_batches(collected)


def in_input_order(joined: Any) -> Any:
    """The partition's rows in input order (by [`ROW_COLUMN`][]), without that column.

    A shuffle delivers a partition's rows in no set order; the kernels break ties (two purchases at
    the same instant) by input position, so the order of the single-machine input is restored here.
    """
    if ROW_COLUMN not in joined.column_names:
        return joined
    order = joined.column(ROW_COLUMN).to_numpy()
    if len(order) > 1 and not bool(np.all(order[1:] >= order[:-1])):
        joined = joined.take(np.argsort(order, kind="stable"))
    return joined.drop_columns([ROW_COLUMN])


def arrow_to_table(joined: Any) -> Table:
    """A Table of a pyarrow Table (Spark's timestamps arrive aware, so no ``tz`` is needed)."""
    return Table.from_frame(joined)


def empty_table(frame_schema: Any) -> Table:
    """A Table with the columns (and kinds) of a Spark schema and no rows."""
    return arrow_to_table(arrow_schema(frame_schema).empty_table())


def arrow_schema(frame_schema: Any) -> Any:
    """The pyarrow schema of a Spark ``StructType`` as Spark's Arrow batches carry it (UTC instants)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(frame_schema, timezone="UTC")


def table_batches(table: Table, schema: Any) -> Iterator[Any]:
    """``table`` as pyarrow RecordBatches of the Spark result ``schema`` (columns cast to its types)."""
    if len(table) == 0:
        return
    target = arrow_schema(schema)
    arrow = table.select(target.names).to_arrow()
    yield from arrow.cast(target).to_batches()


def spark_schema(result: Table, frame_schema: Any) -> Any:
    """The Spark schema of a kernel's output ``result`` (usually a 0- or 1-row dry run on the driver).

    A column the input ``frame_schema`` also has (an id column passed through) keeps its input type;
    the others follow their numpy dtype: bool, int64, float64, instants (UTC), dates, text.
    """
    from pyspark.sql.types import StructField, StructType

    given = {field.name: field.dataType for field in frame_schema.fields}
    fields = [
        StructField(name, given[name] if name in given else _spark_type(result, name), True)
        for name in result.columns
    ]
    return StructType(fields)


def _spark_type(result: Table, name: str) -> Any:
    from pyspark.sql import types as T

    kind = np.ma.getdata(result[name]).dtype.kind
    if kind == "M":
        unit = np.datetime_data(result[name].dtype)[0]
        return T.DateType() if unit == "D" else T.TimestampType()
    simple = {"b": T.BooleanType(), "i": T.LongType(), "f": T.DoubleType(), "O": T.StringType()}
    if kind not in simple:
        raise DataError(
            f"result column {name!r} has dtype {result[name].dtype}, which has no Spark type here"
        )
    if kind == "O" and result.kind(name) not in ("str", "null"):
        raise DataError(
            f"result column {name!r} holds {result.kind(name)} values, which have no Spark type here"
        )
    return simple[kind]


def to_table(frame: Any, *, sort_by: str | None = None) -> Table:
    """Collect a Spark DataFrame to the driver as a [`Table`][] (through Arrow).

    Parameters
    ----------
    frame:
        A ``pyspark.sql.DataFrame`` (e.g. the result of [`customer_metrics`][]).
    sort_by:
        A column to order the rows by (Spark DataFrames have no row order; the single-machine
        results are sorted by ``customer_id``).

    Examples
    --------
    With a SparkSession::

        metrics = to_table(customer_metrics(frame, as_of=as_of), sort_by="customer_id")

    Anything with Spark's ``toArrow()`` works (instants come back aware, as UTC):

    >>> import pyarrow as pa
    >>> class Frame:
    ...     def toArrow(self):
    ...         return pa.table({"customer_id": [2, 1], "monetary": [9.5, None]})
    >>> to_table(Frame())["monetary"]
    array([9.5, nan])
    """
    if sort_by is not None:
        frame = frame.orderBy(sort_by)
    return arrow_to_table(frame.toArrow())

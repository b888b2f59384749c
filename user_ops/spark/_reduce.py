"""A [`Reducer`][] over a Spark DataFrame's partitions (``mapInArrow``).

Each partition's Arrow batches are joined into one Table, the task runs on it in the Python worker,
and its result travels back pickled in a one-row batch tagged with the partition number; the driver
puts the results in partition order. The task goes to the workers with Spark's own (cloud)pickle.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from user_ops._scale import Reducer
from user_ops._table import Table
from user_ops.spark._arrow import arrow_schema, arrow_to_table, join_batches

__all__ = ["spark_reducer"]

T = TypeVar("T")
_RESULT_SCHEMA = "partition int, payload binary"


def spark_reducer(frame: Any, columns: Sequence[str] | None = None) -> Reducer:
    """A Reducer running a task on every partition of ``frame`` (only ``columns``, when given).

    The core's partitioned algorithms (``user_ops.rfm.fit_partitioned``, the global issuance budget)
    take a Reducer; this one runs each pass as one Spark job. Empty partitions get an empty Table
    with the frame's columns.

    Examples
    --------
    With a SparkSession ``spark``::

        reduce = spark_reducer(spark.range(10).repartition(3))
        sum(reduce(lambda part: len(part)))   # 10

    Building the reducer starts no Spark job:

    >>> reduce = spark_reducer(None)
    >>> callable(reduce)
    True
    """
    picked = frame if columns is None or frame is None else frame.select(*columns)

    def reduce(task: Callable[[Table], T], /) -> list[T]:
        schema = arrow_schema(picked.schema)

        def run(batches: Iterator[Any]) -> Iterator[Any]:
            import pyarrow as pa
            from pyspark import TaskContext

            context = TaskContext.get()
            partition = -1 if context is None else context.partitionId()
            table = arrow_to_table(join_batches(batches, schema))
            payload = pickle.dumps(task(table), protocol=pickle.HIGHEST_PROTOCOL)
            yield pa.RecordBatch.from_pydict(
                {"partition": [partition], "payload": [payload]},
                schema=pa.schema([("partition", pa.int32()), ("payload", pa.binary())]),
            )

        try:
            rows = picked.mapInArrow(run, _RESULT_SCHEMA).toArrow()
        except Exception as error:  # Spark wraps a worker's exception in its own (PythonException)
            raise _worker_error(error) from error
        order = sorted(range(rows.num_rows), key=rows.column("partition").to_pylist().__getitem__)
        payloads = rows.column("payload").to_pylist()
        return [pickle.loads(payloads[i]) for i in order]

    return reduce


def _worker_error(error: Exception) -> Exception:
    """The ``user_ops`` error a Python worker raised (its class and message), else Spark's error."""
    import user_ops.exceptions as errors

    for line in reversed(str(error).splitlines()):
        name, _, message = line.strip().partition(": ")
        kind = getattr(errors, name.rpartition(".")[2], None) if name.startswith("user_ops.") else None
        if isinstance(kind, type) and issubclass(kind, errors.UserOpsError):
            try:
                return kind(message)
            except TypeError:  # an error class built from more than a message: keep Spark's
                return error
    return error

"""Row-wise steps on Spark (RFM scoring, tags, lifecycle stages) and the exact RFM fit.

A row-wise step needs no shuffle: ``mapInArrow`` runs the core's batch method on each Arrow batch as
it comes. The result's Spark schema comes from the same method run on an empty table of the frame's
columns on the driver (which also checks the policy against the columns before any job runs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from user_ops._table import Table
from user_ops._time import TzLike, require_aware
from user_ops.rfm import RFMModel, fit_partitioned
from user_ops.spark._arrow import (
    arrow_schema,
    arrow_to_table,
    empty_table,
    join_batches,
    spark_schema,
    table_batches,
)
from user_ops.spark._reduce import spark_reducer

__all__ = ["classify_lifecycle", "evaluate_tags", "fit_rfm", "map_tables", "score_rfm"]


def map_tables(frame: Any, step: Callable[[Table], Table]) -> Any:
    """A Spark DataFrame of ``step`` applied to every Arrow batch of ``frame`` (a row-wise step).

    ``step`` takes a Table of a batch's rows and returns one row per input row; it must give the
    same rows whatever the batches (no statistic over the whole population).

    Examples
    --------
    With a SparkSession ``spark``::

        doubled = map_tables(frame, lambda t: Table({"x2": t["x"] * 2}))

    Without Spark, the empty-table dry run that gives the result's schema:

    >>> step = lambda t: Table({"x2": t["x"] * 2})
    >>> step(Table({"x": [1, 2]}))["x2"].tolist()
    [2, 4]
    """
    schema = spark_schema(step(empty_table(frame.schema)), frame.schema)
    input_schema = arrow_schema(frame.schema)

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        for batch in batches:
            if batch.num_rows:
                table = arrow_to_table(join_batches([batch], input_schema))
                yield from table_batches(step(table), schema)

    return frame.mapInArrow(run, schema)


def fit_rfm(metrics: Any, model: RFMModel, *, order_by: str | None = None) -> RFMModel:
    """Fit ``model`` on a Spark frame of per-customer metrics: the same fitted model as the core's fit.

    Runs [`user_ops.rfm.fit_partitioned`][] with a Spark reducer: a few small passes (summaries,
    histograms, the values in the bins that hold the cut-points), only summaries travel to the driver.
    The model's columns are cached for the passes (so the metrics are computed once).
    The result equals ``model.fit(whole_table)`` (``==``, same ``content_hash``), so a model fitted on
    Spark scores single customers with ``score_one`` in a backend.

    Parameters
    ----------
    metrics:
        A ``pyspark.sql.DataFrame`` with the model's columns (e.g. [`customer_metrics`][]' result).
    model:
        The [`RFMModel`][] to fit.
    order_by:
        For ``method="mean"`` on a column that is not integer-valued (``monetary``): the column the
        single-machine table is sorted by (default: the model's ``id_column`` when the frame has it,
        the order [`user_ops.metrics.customer_metrics`][] returns).

    Examples
    --------
    With a SparkSession and ``metrics = customer_metrics(frame, as_of=as_of)``::

        fitted = fit_rfm(metrics, RFMModel.quantile(bins=5))
        fitted.score_one({"recency_days": 3, "frequency": 6, "monetary": 250.0})

    A thresholds model is already fitted and is only checked against the columns (one pass):

    >>> model = RFMModel.thresholds(recency=[30], frequency=[2], monetary=[100])
    >>> model.recency_cuts_
    (30.0,)
    """
    columns = [model.recency_column, model.frequency_column, model.monetary_column]
    if order_by is None and model.method == "mean" and model.id_column in metrics.columns:
        order_by = model.id_column
    if order_by is not None:
        columns.append(order_by)
    # The fit makes a few passes: keep the few columns it reads (not the work behind them) cached.
    picked = metrics.select(*columns).persist()
    try:
        return fit_partitioned(model, spark_reducer(picked), order_by=order_by)
    finally:
        picked.unpersist()


def score_rfm(metrics: Any, model: RFMModel) -> Any:
    """Score every customer of a Spark frame with a fitted model: [`RFMModel.score`][], row by row.

    Returns a ``pyspark.sql.DataFrame`` with the id column (when the frame has the model's
    ``id_column``), ``r``, ``f``, ``m``, ``rfm_code``, ``segment``, ``segment_en``, ``segment_zh``.

    Examples
    --------
    With a SparkSession::

        scores = score_rfm(metrics, fit_rfm(metrics, RFMModel.quantile(bins=5)))

    The same scoring on one in-memory batch:

    >>> model = RFMModel.thresholds(recency=[30], frequency=[2], monetary=[100])
    >>> model.score({"recency_days": [3], "frequency": [6], "monetary": [250.0]})["rfm_code"].tolist()
    ['222']
    """

    def step(table: Table) -> Table:
        return model.score(table)

    return map_tables(metrics, step)


def evaluate_tags(
    frame: Any,
    tag_set: Any,
    *,
    as_of: datetime,
    tz: TzLike | None = None,
    id_column: str | None = "customer_id",
) -> Any:
    """Every tag of ``tag_set`` for every row of a Spark frame: [`TagSet.evaluate`][], row by row.

    Returns a ``pyspark.sql.DataFrame``: the ``id_column`` (when the frame has it), then one boolean
    column per tag in definition order.

    Examples
    --------
    With a SparkSession::

        tags = evaluate_tags(metrics, TagSet(...), as_of=as_of)

    ``as_of`` is checked on the driver first:

    >>> evaluate_tags(None, None, as_of=datetime(2024, 7, 1))
    Traceback (most recent call last):
    ...
    user_ops.exceptions.DataError: as_of is a naive datetime ...
    """
    as_of = require_aware(as_of)

    def step(table: Table) -> Table:
        result: Table = tag_set.evaluate(table, as_of=as_of, tz=tz, id_column=id_column)
        return result

    return map_tables(frame, step)


def classify_lifecycle(frame: Any, policy: Any, *, as_of: datetime, tz: TzLike | None = None) -> Any:
    """Every customer's lifecycle stage and action: [`LifecyclePolicy.classify`][], row by row.

    Returns a ``pyspark.sql.DataFrame`` with ``customer_id`` (when the frame has it), ``stage``,
    ``stage_en``, ``stage_zh``, ``action``, ``action_en``, ``action_zh``.

    Examples
    --------
    With a SparkSession::

        stages = classify_lifecycle(metrics, LifecyclePolicy.default(), as_of=as_of)

    ``as_of`` is checked on the driver first:

    >>> classify_lifecycle(None, None, as_of=datetime(2024, 7, 1))
    Traceback (most recent call last):
    ...
    user_ops.exceptions.DataError: as_of is a naive datetime ...
    """
    as_of = require_aware(as_of)

    def step(table: Table) -> Table:
        return policy.classify(table, as_of=as_of, tz=tz)  # type: ignore[no-any-return]

    return map_tables(frame, step)

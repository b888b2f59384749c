"""``user_ops`` on Apache Spark: the core's results, bit for bit, for data beyond one machine.

Mirrors the core on ``pyspark.sql.DataFrame`` (needs the ``spark`` extra and a Java runtime; pyspark
is imported only when a function here runs, never at ``import user_ops.spark``):

- [`customer_metrics`][]: one hash shuffle by ``customer_id``, then the core kernel on each whole
  partition (its Arrow batches joined first);
- [`fit_rfm`][]: the exact distributed RFM fit ([`user_ops.rfm.fit_partitioned`][]);
- [`score_rfm`][], [`evaluate_tags`][], [`classify_lifecycle`][]: row-wise map steps;
- [`plan_issuance`][]: an issuance plan with a global budget;
- [`to_table`][] collects a result as a [`Table`][]; [`spark_reducer`][] runs the
  core's partitioned algorithms on any frame.

Results are Spark DataFrames. The Python workers must import ``user_ops``: install the package in
the workers' environment (``pip install user_ops[spark]``), a ``sys.path`` entry on the driver is not
enough. See ``docs/scaling.md``.

Examples
--------
>>> import sys, user_ops.spark
>>> sorted(user_ops.spark.__all__)[:3], "pyspark" in sys.modules or "not imported"
(['classify_lifecycle', 'customer_metrics', 'evaluate_tags'], ...)
"""

from user_ops.spark._arrow import to_table
from user_ops.spark._issuance import plan_issuance
from user_ops.spark._maps import classify_lifecycle, evaluate_tags, fit_rfm, map_tables, score_rfm
from user_ops.spark._metrics import customer_metrics
from user_ops.spark._reduce import spark_reducer

__all__ = [
    "classify_lifecycle",
    "customer_metrics",
    "evaluate_tags",
    "fit_rfm",
    "map_tables",
    "plan_issuance",
    "score_rfm",
    "spark_reducer",
    "to_table",
]

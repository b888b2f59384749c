"""Run ``user_ops`` on Dask (分布式): the core's results, bit for bit, for data beyond one machine.

Each function mirrors the core one and takes Dask DataFrames: [`customer_metrics`][] shuffles the
transactions by ``customer_id`` and runs the core kernel once per partition; [`fit_rfm`][] fits
exact cut-points in a few small passes; [`score_rfm`][], [`evaluate_tags`][] and
[`classify_lifecycle`][] are plain map steps; [`plan_issuance`][] maps the per-customer checks and
applies one global budget by a distributed top-k. Dask is imported when a function runs, never at
``import user_ops.dask`` (install the extra: ``pip install 'user_ops[dask]'``). See
``docs/scaling.md``.

Examples
--------
>>> import dask, dask.dataframe as dd
>>> from user_ops.datasets import synthetic_shop
>>> from user_ops.rfm import RFMModel
>>> shop = synthetic_shop(300, seed=4)
>>> lines = dd.from_pandas(shop.lines.to_pandas(), npartitions=4)
>>> with dask.config.set(scheduler="synchronous"):
...     metrics = customer_metrics(lines, as_of=shop.as_of)
...     model = fit_rfm(metrics, RFMModel.quantile(bins=5))
...     scores = to_table(score_rfm(metrics, model), sort_by="customer_id")
>>> scores.columns[:4]
('customer_id', 'r', 'f', 'm')
"""

from user_ops.dask._frames import dask_reducer, to_table
from user_ops.dask._steps import (
    classify_lifecycle,
    customer_metrics,
    evaluate_tags,
    fit_rfm,
    plan_issuance,
    score_rfm,
)

__all__ = [
    "classify_lifecycle",
    "customer_metrics",
    "dask_reducer",
    "evaluate_tags",
    "fit_rfm",
    "plan_issuance",
    "score_rfm",
    "to_table",
]

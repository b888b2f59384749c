"""Per-customer purchase metrics from a transaction log (用户基础数据分析: R, F, M and more).

[`Transactions`][] validates a purchase log (order lines and refunds); [`customer_metrics`][]
turns it into one row per customer, vectorized; [`customer_metrics_one`][] gives the same numbers
for one customer's rows, in plain Python, for a request; [`engagement_metrics`][] and
[`engagement_metrics_one`][] do the same for an events log (views, clicks, carts, purchases), the
input of AIPL. Definitions: ``docs/metrics.md``.

Examples
--------
>>> from datetime import datetime, timezone
>>> from user_ops.metrics import Transactions, customer_metrics
>>> tx = Transactions({"customer_id": [1, 1, 2], "amount": [30.0, 20.0, 5.0],
...                    "ordered_at": ["2024-06-01", "2024-06-09", "2024-06-20"]}, tz="UTC")
>>> m = customer_metrics(tx, as_of=datetime(2024, 7, 1, tzinfo=timezone.utc))
>>> m["frequency"], m["repurchase_cycle_days"]
(array([2, 1]), array([ 8., nan]))
"""

from user_ops.metrics._batch import CustomerMetrics, customer_metrics
from user_ops.metrics._engagement import (
    DEFAULT_EVENT_WINDOWS,
    EVENT_LABELS,
    EVENT_TYPES,
    EngagementMetrics,
    EngagementReport,
    engagement_columns,
    engagement_metrics,
    engagement_metrics_one,
)
from user_ops.metrics._one import customer_metrics_one
from user_ops.metrics._options import BTYD_COLUMNS, DEFAULT_WINDOWS, MetricsReport, column_names
from user_ops.metrics._transactions import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, Transactions

__all__ = [
    "BTYD_COLUMNS",
    "DEFAULT_EVENT_WINDOWS",
    "DEFAULT_WINDOWS",
    "EVENT_LABELS",
    "EVENT_TYPES",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "CustomerMetrics",
    "EngagementMetrics",
    "EngagementReport",
    "MetricsReport",
    "Transactions",
    "column_names",
    "customer_metrics",
    "customer_metrics_one",
    "engagement_columns",
    "engagement_metrics",
    "engagement_metrics_one",
]

"""Lifecycle (用户生命周期): ordered stage policies, transitions between snapshots, silent-customer recall.

``LifecyclePolicy`` names each customer's stage (introduction 引入期, growth 成长期, maturity 成熟期,
dormancy 休眠期, churn 流失期, ...) with rules over per-customer metrics, first match wins, and the
action each stage calls for. ``stage_summary``, ``transitions`` and ``recall_plan`` work on the result.
See ``docs/lifecycle.md``.

Examples
--------
>>> from user_ops.datasets import DEFAULT_AS_OF, synthetic_shop
>>> from user_ops.lifecycle import LifecyclePolicy
>>> metrics = synthetic_shop(300).customer_metrics()
>>> stages = LifecyclePolicy.default().classify(metrics, as_of=DEFAULT_AS_OF)
>>> stages.columns
('customer_id', 'stage', 'stage_en', 'stage_zh', 'action', 'action_en', 'action_zh')
"""

from user_ops._moved import moved_names
from user_ops.lifecycle._aipl import AIPL_INTEREST_EVENTS, aipl_policy
from user_ops.lifecycle._bgnbd import BGNBD
from user_ops.lifecycle._default import DEFAULT_FIELDS, default_policy, population_cycle
from user_ops.lifecycle._policy import RESERVED_CODES, LifecyclePolicy, Stage, StageResult, StageTable
from user_ops.lifecycle._recall import RecallPlan, recall_plan
from user_ops.lifecycle._summary import stage_summary
from user_ops.lifecycle._transitions import Transitions, transitions

__all__ = [
    "AIPL_INTEREST_EVENTS",
    "BGNBD",
    "DEFAULT_FIELDS",
    "RESERVED_CODES",
    "LifecyclePolicy",
    "RecallPlan",
    "Stage",
    "StageResult",
    "StageTable",
    "Transitions",
    "aipl_policy",
    "default_policy",
    "population_cycle",
    "recall_plan",
    "stage_summary",
    "transitions",
]


# Engagement metrics moved to user_ops.metrics (per-customer metrics from a log): the old names
# work for one more release, with a DeprecationWarning.
__getattr__ = moved_names(
    __name__,
    dict.fromkeys(
        (
            "DEFAULT_EVENT_WINDOWS",
            "EVENT_LABELS",
            "EVENT_TYPES",
            "EngagementMetrics",
            "EngagementReport",
            "engagement_columns",
            "engagement_metrics",
            "engagement_metrics_one",
        ),
        "user_ops.metrics",
    ),
)

"""user_ops: decision logic for private-domain user operations (私域用户运营).

Who a customer is (tags, RFM, lifecycle stage), what they have earned (membership tier, points) and
what they may be offered (coupons), as pure functions: the host passes data and ``as_of`` in and gets
decisions, with their reasons, out.

Examples
--------
>>> from datetime import datetime, timezone
>>> import user_ops
>>> rule = user_ops.Rule.parse("orders_90d >= 3")
>>> rule.evaluate_one({"orders_90d": 5}, as_of=datetime(2024, 6, 30, tzinfo=timezone.utc))
True
"""

from user_ops._money import Currency, Money, Rounding
from user_ops._table import Table
from user_ops._version import __version__
from user_ops.coupons import Cart, CouponTemplate, CustomerContext, IssuedCoupon
from user_ops.exceptions import (
    ConfigError,
    DataError,
    NotFittedError,
    PluginError,
    RuleError,
    RuleLimitError,
    RuleSyntaxError,
    RuleTypeError,
    UserOpsError,
    UserOpsWarning,
)
from user_ops.lifecycle import LifecyclePolicy
from user_ops.membership import PointsPolicy, Tier, TierPolicy
from user_ops.metrics import (
    CustomerMetrics,
    MetricsReport,
    Transactions,
    customer_metrics,
    customer_metrics_one,
)
from user_ops.rfm import RFMModel, SegmentMap
from user_ops.rules import Rule, Schema
from user_ops.tags import TagRule, TagSet, default_tags

__all__ = [
    "Cart",
    "ConfigError",
    "CouponTemplate",
    "Currency",
    "CustomerContext",
    "CustomerMetrics",
    "DataError",
    "IssuedCoupon",
    "LifecyclePolicy",
    "MetricsReport",
    "Money",
    "NotFittedError",
    "PluginError",
    "PointsPolicy",
    "RFMModel",
    "Rounding",
    "Rule",
    "RuleError",
    "RuleLimitError",
    "RuleSyntaxError",
    "RuleTypeError",
    "Schema",
    "SegmentMap",
    "Table",
    "TagRule",
    "TagSet",
    "Tier",
    "TierPolicy",
    "Transactions",
    "UserOpsError",
    "UserOpsWarning",
    "__version__",
    "customer_metrics",
    "customer_metrics_one",
    "default_tags",
]

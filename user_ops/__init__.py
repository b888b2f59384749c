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

from typing import TYPE_CHECKING, Any

from user_ops._version import __version__
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

if TYPE_CHECKING:
    from user_ops._money import Currency, Money, Rounding
    from user_ops._table import Table
    from user_ops.coupons import Cart, CouponTemplate, CustomerContext, IssuedCoupon
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

# The rooms load on first use (PEP 562): `import user_ops` costs little beyond Python itself, and a
# program pays for the rooms it touches. `from user_ops import X` works as before.
_LAZY = {
    "Cart": "user_ops.coupons",
    "CouponTemplate": "user_ops.coupons",
    "Currency": "user_ops._money",
    "CustomerContext": "user_ops.coupons",
    "CustomerMetrics": "user_ops.metrics",
    "IssuedCoupon": "user_ops.coupons",
    "LifecyclePolicy": "user_ops.lifecycle",
    "MetricsReport": "user_ops.metrics",
    "Money": "user_ops._money",
    "PointsPolicy": "user_ops.membership",
    "RFMModel": "user_ops.rfm",
    "Rounding": "user_ops._money",
    "Rule": "user_ops.rules",
    "Schema": "user_ops.rules",
    "SegmentMap": "user_ops.rfm",
    "Table": "user_ops._table",
    "TagRule": "user_ops.tags",
    "TagSet": "user_ops.tags",
    "Tier": "user_ops.membership",
    "TierPolicy": "user_ops.membership",
    "Transactions": "user_ops.metrics",
    "customer_metrics": "user_ops.metrics",
    "customer_metrics_one": "user_ops.metrics",
    "default_tags": "user_ops.tags",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'user_ops' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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

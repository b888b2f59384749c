"""Membership tiers (会员等级): the tier policy, the events of a tier history, and what evaluation returns.

A part of the ``user_ops.membership`` room, whose door exports every name listed here: import them
from there.
"""

from user_ops.membership.tiers._events import (
    TIER_EVENT_COLUMNS,
    GrowthEarned,
    MetricEvent,
    PointsEarned,
    Purchase,
    Refund,
    TierEvent,
    TierOverride,
)
from user_ops.membership.tiers._policy import BUILTIN_METRICS, Tier, TierPolicy
from user_ops.membership.tiers._state import Progress, TierChange, TierState, TierTable, TierTimeline

__all__ = [
    "BUILTIN_METRICS",
    "TIER_EVENT_COLUMNS",
    "GrowthEarned",
    "MetricEvent",
    "PointsEarned",
    "Progress",
    "Purchase",
    "Refund",
    "Tier",
    "TierChange",
    "TierEvent",
    "TierOverride",
    "TierPolicy",
    "TierState",
    "TierTable",
    "TierTimeline",
]

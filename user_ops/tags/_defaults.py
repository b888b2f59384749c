"""The ready-made tags of the seeds (标签化管理), with their thresholds as parameters."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np

from user_ops._time import parse_duration
from user_ops.exceptions import ConfigError, DataError, value_repr
from user_ops.tags._tagset import TagRule, TagSet

__all__ = ["METRIC_FIELDS", "default_tags"]

#: The per-customer metric columns the default tags read (produced by the metrics room).
METRIC_FIELDS: dict[str, str] = {
    "frequency": "int — number of orders (F)",
    "monetary": "float — total spend net of refunds (M)",
    "recency_days": "int — calendar days since the last order (R); null for never-bought customers",
    "orders_90d": "int — orders in the last 90 days",
    "spend_90d": "float — spend in the last 90 days",
    "max_order_value": "float — largest single order (最大单笔消费金额)",
    "promo_spend_share": "float 0..1 — share of spend on discounted items (特价商品消费占比)",
    "top_price_share": "float 0..1 — share of spend on the shop's top-priced items (最高单价商品消费占比)",
    "repurchase_cycle_days": "float — median days between orders; null with fewer than 2 orders (复购周期)",
    "registered_at": "datetime — when the customer registered or first made contact",
    "first_order_at": "datetime — first order; null for never-bought customers",
}


def default_tags(
    *,
    frequency_high: int = 4,
    spend_high: float = 2000,
    spend_medium: float = 500,
    recent_days: int = 30,
    lapsed_days: int = 180,
    new_member_window: str = "1mo",
    promo_share: float = 0.5,
    top_price_share: float = 0.3,
    big_ticket: float = 1000,
) -> TagSet:
    """The seeds' ready-made tags over the metric columns (see ``METRIC_FIELDS``).

    Parameters
    ----------
    frequency_high:
        Orders from which purchase frequency is high (消费频次高); fewer, but at least one, is low.
    spend_high, spend_medium:
        Total spend from which spend is high (消费金额高) or medium; any lower positive spend is low.
    recent_days:
        A purchase within this many days makes a recent buyer (近期购买).
    lapsed_days:
        No purchase for this many days makes a lapsed buyer (久未购买).
    new_member_window:
        Registered within this duration: a new member (进店一个月).
    promo_share:
        Share of spend on discounted items from which a customer is promotion-driven (活动喜好型).
    top_price_share:
        Share of spend on top-priced items from which a customer is premium-minded (高价偏好).
    big_ticket:
        Largest single order from which a customer has high latent purchasing power (大单潜力).

    Raises
    ------
    ConfigError
        For a parameter of the wrong type (a bool, a string, NaN, ...) or out of range (a negative count
        or amount, a share outside 0..1, ``spend_medium`` above ``spend_high``), naming it.

    Examples
    --------
    >>> tags = default_tags(spend_high=5000)
    >>> tags["spend_high"].when.to_text()
    'monetary >= 5000'
    >>> tags.groups()["spend_level"]
    ('spend_high', 'spend_medium', 'spend_low')
    """

    frequency_high = _count("frequency_high", frequency_high, minimum=1)
    recent_days = _count("recent_days", recent_days)
    lapsed_days = _count("lapsed_days", lapsed_days)
    spend_high = _number("spend_high", spend_high)
    spend_medium = _number("spend_medium", spend_medium)
    if spend_medium > spend_high:
        raise ConfigError(f"spend_medium ({spend_medium:g}) must not be above spend_high ({spend_high:g})")
    big_ticket = _number("big_ticket", big_ticket)
    promo_share = _number("promo_share", promo_share, high=1.0)
    top_price_share = _number("top_price_share", top_price_share, high=1.0)
    new_member_window = _duration("new_member_window", new_member_window)

    def number(value: float) -> str:
        return str(int(value)) if value.is_integer() and abs(value) < 2**63 else repr(value)

    return TagSet(
        [
            TagRule(
                name="frequency_high",
                when=f"frequency >= {int(frequency_high)}",
                group="purchase_frequency",
                priority=2,
                label_en="High purchase frequency",
                label_zh="消费频次高",
                description=f"{int(frequency_high)} or more orders.",
            ),
            TagRule(
                name="frequency_low",
                when="frequency >= 1",
                group="purchase_frequency",
                priority=1,
                label_en="Low purchase frequency",
                label_zh="消费频次低",
                description=f"At least one order but fewer than {int(frequency_high)}.",
            ),
            TagRule(
                name="spend_high",
                when=f"monetary >= {number(spend_high)}",
                group="spend_level",
                priority=3,
                label_en="High spend",
                label_zh="消费金额高",
                description=f"Total spend of {number(spend_high)} or more.",
            ),
            TagRule(
                name="spend_medium",
                when=f"monetary >= {number(spend_medium)}",
                group="spend_level",
                priority=2,
                label_en="Medium spend",
                label_zh="消费金额中",
                description=f"Total spend from {number(spend_medium)} up to the high level.",
            ),
            TagRule(
                name="spend_low",
                when="monetary > 0",
                group="spend_level",
                priority=1,
                label_en="Low spend",
                label_zh="消费金额低",
                description="Some spend, below the medium level.",
            ),
            TagRule(
                name="repeat_buyer",
                when="frequency >= 2",
                label_en="Repeat buyer",
                label_zh="复购用户",
                description="Two or more orders.",
            ),
            TagRule(
                name="never_bought",
                when="frequency == 0 or first_order_at is null",
                label_en="Registered, never bought",
                label_zh="未购买用户",
                description="Registered or followed, but no order yet.",
            ),
            TagRule(
                name="recent_buyer",
                when=f"recency_days <= {int(recent_days)}",
                label_en="Recent buyer",
                label_zh="近期购买",
                description=f"Bought within the last {int(recent_days)} days.",
            ),
            TagRule(
                name="lapsed_buyer",
                when=f"recency_days > {int(lapsed_days)}",
                label_en="Lapsed buyer",
                label_zh="久未购买",
                description=f"No order for more than {int(lapsed_days)} days.",
            ),
            TagRule(
                name="repurchase_due",
                when="recency_days >= repurchase_cycle_days",
                label_en="Due to repurchase",
                label_zh="到复购周期",
                description="As long since the last order as the customer's usual gap between orders.",
            ),
            TagRule(
                name="new_member",
                when=f"registered_at within {new_member_window}",
                label_en="New member",
                label_zh="进店一个月",
                description=f"Registered within the last {new_member_window}.",
            ),
            TagRule(
                name="promotion_driven",
                when=f"promo_spend_share >= {number(promo_share)}",
                label_en="Promotion-driven",
                label_zh="活动喜好型",
                description=f"At least {float(promo_share):.0%} of spend on discounted items.",
            ),
            TagRule(
                name="premium_minded",
                when=f"top_price_share >= {number(top_price_share)}",
                label_en="Premium-minded",
                label_zh="高价偏好",
                description=f"At least {float(top_price_share):.0%} of spend on the shop's top-priced items.",
            ),
            TagRule(
                name="big_ticket",
                when=f"max_order_value >= {number(big_ticket)}",
                label_en="High latent purchasing power",
                label_zh="大单潜力",
                description=f"A single order of {number(big_ticket)} or more.",
            ),
        ]
    )


def _count(name: str, value: Any, *, minimum: int = 0) -> int:
    """A whole number of orders or days (an integral float is accepted), at least ``minimum``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name} must be a whole number, got {type(value).__name__}: {value_repr(value)}")
    if not minimum <= value < 2**63:
        raise ConfigError(
            f"{name} must be a whole number from {minimum} to 2**63 - 1, got {value_repr(value)}"
        )
    return int(value)


def _number(name: str, value: Any, *, high: float = math.inf) -> float:
    """A finite amount or share from 0 to ``high``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, Decimal, np.integer, np.floating)
    ):
        raise ConfigError(f"{name} must be a number, got {type(value).__name__}: {value_repr(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float's range
        number = math.inf
    if not (math.isfinite(number) and 0 <= number <= high):
        span = "a finite number >= 0" if high == math.inf else f"a number from 0 to {high:g}"
        raise ConfigError(f"{name} must be {span}, got {value_repr(value)}")
    return number


def _duration(name: str, value: Any) -> str:
    """A duration such as ``"1mo"``: checked here, as it is written into a rule's text."""
    if not isinstance(value, str):
        raise ConfigError(
            f"{name} must be a duration such as '1mo', got {type(value).__name__}: {value_repr(value)}"
        )
    try:
        parse_duration(value)
    except DataError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    text: str = value
    return text

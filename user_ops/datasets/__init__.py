"""Deterministic synthetic shop data for demos, docs and tests, and the real CDNOW sample.

- [`synthetic_customers`][] / [`synthetic_transactions`][]: per-customer metrics and the order
  log they are aggregated from;
- [`synthetic_shop`][]: a shop at order-line level (customers, order lines with SKUs, categories,
  prices, quantities, discounts and refunds, seasonality), returned as a [`Shop`][];
- [`synthetic_events`][]: an engagement events log (views, clicks, purchases, ...) for AIPL;
- [`load_cdnow`][]: the CDNOW purchase sample.

Examples
--------
>>> from user_ops.datasets import synthetic_customers, synthetic_shop
>>> customers = synthetic_customers(200, seed=1)
>>> len(customers), customers.kind("last_order_at")
(200, 'datetime')
>>> shop = synthetic_shop(200, seed=1)
>>> len(shop.customers), shop.lines.kind("ordered_at")
(200, 'datetime')
"""

from user_ops.datasets._events import synthetic_events
from user_ops.datasets._shop import SHOP_CATEGORIES, Shop, synthetic_shop
from user_ops.datasets._synthetic import (
    BUSINESS_TZ,
    CATEGORIES,
    CHANNELS,
    CITIES,
    DEFAULT_AS_OF,
    MEMBER_TIERS,
    TAGS,
    load_cdnow,
    synthetic_customers,
    synthetic_transactions,
)

__all__ = [
    "BUSINESS_TZ",
    "CATEGORIES",
    "CHANNELS",
    "CITIES",
    "DEFAULT_AS_OF",
    "MEMBER_TIERS",
    "SHOP_CATEGORIES",
    "TAGS",
    "Shop",
    "load_cdnow",
    "synthetic_customers",
    "synthetic_events",
    "synthetic_shop",
    "synthetic_transactions",
]

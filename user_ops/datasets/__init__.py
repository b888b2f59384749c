"""Deterministic synthetic shop data for demos, docs and tests, and the real CDNOW sample.

Examples
--------
>>> from user_ops.datasets import synthetic_customers
>>> customers = synthetic_customers(200, seed=1)
>>> len(customers), customers.kind("last_order_at")
(200, 'datetime')
"""

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
    "TAGS",
    "load_cdnow",
    "synthetic_customers",
    "synthetic_transactions",
]

"""A synthetic engagement events log (views, clicks, favourites, carts, purchases, member joins)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from user_ops._table import Table
from user_ops._time import as_utc_us, require_aware
from user_ops.exceptions import DataError, value_repr

__all__ = ["synthetic_events"]


def synthetic_events(n_customers: int = 200, *, seed: int = 0, as_of: datetime | None = None) -> Table:
    """A deterministic engagement events log: customers spread over the AIPL funnel.

    Each customer gets a depth in the funnel (never reached, viewed, interested, bought, bought again,
    member) and events up to that depth over the 120 days before ``as_of`` (default 2024-07-01 UTC);
    about one row in twenty is after ``as_of``. The same ``(n_customers, seed)`` gives the same table.

    The log is what [`engagement_metrics`][user_ops.metrics.engagement_metrics] reads (``customer_id``,
    ``event``, ``occurred_at``) and what the AIPL policy is demonstrated on.

    Examples
    --------
    >>> log = synthetic_events(5, seed=1)
    >>> log.columns, log.kind("occurred_at")
    (('customer_id', 'event', 'occurred_at'), 'datetime')
    >>> log.equals(synthetic_events(5, seed=1))
    True
    """
    if isinstance(n_customers, bool) or not isinstance(n_customers, int) or n_customers < 0:
        raise DataError(f"n_customers must be a non-negative int, got {value_repr(n_customers)}")
    end = as_of if as_of is not None else datetime(2024, 7, 1, tzinfo=timezone.utc)
    end_us = as_utc_us(require_aware(end))
    rng = np.random.default_rng(seed)
    # Funnel depth per customer: 0 none, 1 views, 2 + interest, 3 + one purchase, 4 + repeat, 5 + member.
    depth = rng.choice(6, size=n_customers, p=[0.1, 0.25, 0.25, 0.2, 0.1, 0.1])
    per_depth = {
        1: ("view",),
        2: ("view", "click", "favorite", "add_to_cart"),
        3: ("view", "click", "add_to_cart", "purchase"),
        4: ("view", "click", "add_to_cart", "purchase", "purchase"),
        5: ("view", "member_join", "click", "purchase"),
    }
    ids: list[int] = []
    names: list[str] = []
    for customer, d in enumerate(depth.tolist()):
        if d == 0:
            continue
        base = per_depth[d]
        extra = rng.integers(0, 4)
        chosen = list(base) + [str(x) for x in rng.choice(["view", "click"], size=int(extra))]
        ids += [1000 + customer] * len(chosen)
        names += chosen
    day_us = 86_400 * 1_000_000
    offsets = rng.integers(-5 * day_us, 120 * day_us, size=len(ids))
    times = (end_us - offsets).astype(np.int64)
    order = np.argsort(times, kind="stable")
    return Table._trusted(
        {
            "customer_id": np.asarray(ids, dtype=np.int64)[order],
            "event": np.asarray(names, dtype=object)[order],
            "occurred_at": times[order].view("datetime64[us]"),
        }
    )

"""Shared test data for the scale-out adapters: a synthetic shop with injected edge cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pytest

from user_ops._scale import concat_tables, take_rows
from user_ops._table import Table
from user_ops._time import as_utc_us
from user_ops.datasets import synthetic_shop


@dataclass(frozen=True)
class ScaleShop:
    """Order lines (with edge rows), customers (with never-bought ones) and the instant they describe."""

    lines: Table
    customers: Table
    as_of: datetime


def _edge_lines(lines: Table, as_of: datetime) -> Table:
    """Rows that catch partitioning mistakes: duplicate timestamps, window edges, new one-timers."""
    as_of_us = np.datetime64(as_utc_us(as_of), "us")
    base = take_rows(lines, np.arange(0, 6))  # the first customer's first rows, as a template
    extra = {name: np.asarray(base[name]).copy() for name in base.columns}
    ids = np.array([10**7 + 1, 10**7 + 1, 10**7 + 2, 10**7 + 3, 10**7 + 4, 10**7 + 4])
    extra["customer_id"] = ids
    extra["order_id"] = np.array([9 * 10**7 + k for k in (1, 2, 3, 4, 5, 6)])
    extra["line_no"] = np.ones(6, dtype=np.int64)
    window_edge = as_of_us - np.timedelta64(30, "D")
    extra["ordered_at"] = np.array(
        [
            window_edge,  # 10000001: a purchase exactly on the 30-day window's start (counted)
            window_edge,  # ... and a second order at the very same instant (duplicate timestamp)
            as_of_us - np.timedelta64(1, "us"),  # 10000002: one purchase, the last instant before as_of
            as_of_us,  # 10000003: exactly at as_of: left out (half-open), so no metrics row
            as_of_us - np.timedelta64(365, "D"),  # 10000004: on the 365-day edge, twice
            as_of_us - np.timedelta64(365, "D"),
        ],
        dtype="datetime64[us]",
    )
    return Table(extra, tz="UTC")


@pytest.fixture(scope="session")
def scale_shop() -> ScaleShop:
    shop = synthetic_shop(20_000, seed=11)
    lines = concat_tables([shop.lines, _edge_lines(shop.lines, shop.as_of)])
    # Customers who never bought (no lines at all) and the new edge customers' registrations.
    extra_ids = np.array([10**7 + k for k in range(1, 8)])
    customers = Table(
        {
            "customer_id": np.concatenate([np.asarray(shop.customers["customer_id"]), extra_ids]),
            "registered_at": np.concatenate(
                [
                    np.asarray(shop.customers["registered_at"]),
                    np.full(len(extra_ids), np.datetime64("2022-01-01T00:00:00", "us")),
                ]
            ),
        },
        tz="UTC",
    )
    return ScaleShop(lines=lines, customers=customers, as_of=shop.as_of)

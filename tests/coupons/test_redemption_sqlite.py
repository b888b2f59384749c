"""SQLiteRedemptionStore under hostile conditions: a full disk, a fork while a thread is inside the store."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from user_ops.coupons import CounterMove, RedemptionError, RedemptionIntent, SQLiteRedemptionStore

TTL = timedelta(minutes=15)


def order(number: int) -> RedemptionIntent:
    """One use of coupon x by customer ``number`` (a long key, so the file grows quickly)."""
    return RedemptionIntent(
        counters=(
            CounterMove(key="coupon:x:total", amount=1, limit=None),
            CounterMove(key=f"coupon:x:customer:{number:06d}-{'c' * 200}", amount=1, limit=1),
        )
    )


def _connection_of(store: SQLiteRedemptionStore) -> sqlite3.Connection:
    # The store's own connection for this thread: max_page_count is a per-connection setting.
    return store._connection()


# -- a full disk ------------------------------------------------------------------------------------------


def test_a_full_disk_is_reported_as_such_and_moves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "full.db"
    with SQLiteRedemptionStore(path) as store:
        connection = _connection_of(store)
        (pages,) = connection.execute("PRAGMA page_count").fetchone()
        # SQLite answers SQLITE_FULL once the file would grow past max_page_count: a full disk, honestly.
        connection.execute(f"PRAGMA max_page_count = {pages + 2}")
        reserved = 0
        with pytest.raises(RedemptionError, match="database or disk is full") as raised:
            for number in range(10_000):
                assert store.reserve(order(number), f"order-{number}", TTL).ok
                reserved += 1
        assert reserved < 10_000
        assert str(path) in str(raised.value)
        assert isinstance(raised.value.__cause__, sqlite3.OperationalError)
        # All or nothing: the failed reserve moved no counter and left no reservation behind.
        assert store.status(f"order-{reserved}") is None
        assert store.used("coupon:x:total") == reserved
        # Space freed: the store works again on the same connection.
        connection.execute("PRAGMA max_page_count = 1073741823")
        assert store.reserve(order(reserved), f"order-{reserved}", TTL).ok
        assert store.used("coupon:x:total") == reserved + 1


def test_a_locked_database_is_a_redemption_error_naming_the_cause(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    with SQLiteRedemptionStore(path, busy_timeout=timedelta(0)) as store:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
        try:
            with pytest.raises(RedemptionError, match="database is locked"):
                store.reserve(order(1), "order-1", TTL)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert store.reserve(order(1), "order-1", TTL).ok

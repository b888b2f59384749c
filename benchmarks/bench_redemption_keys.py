"""What one stored idempotency key costs in the redemption stores, and what ``prune`` gives back.

Run ``python benchmarks/bench_redemption_keys.py [--keys N]``. Each key is a committed redemption of a
Quote-like intent (4 counters: the coupon's total, the customer, the order, the budget; 22-character
order ids), optionally with one partial refund under its own refund key. Memory is measured with
``tracemalloc`` (``MemoryRedemptionStore``); disk as the SQLite file's used pages after a WAL
checkpoint (``SQLiteRedemptionStore``). Deterministic: no timing, so a shared machine does not matter.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from user_ops.coupons import CounterMove, MemoryRedemptionStore, RedemptionIntent, SQLiteRedemptionStore
from user_ops.coupons.testing import ManualClock

TTL, DAY = timedelta(minutes=15), timedelta(days=1)


def _intent(number: int, order_id: str) -> RedemptionIntent:
    return RedemptionIntent(
        counters=(
            CounterMove(key="coupon:summer30:total", amount=1, limit=10**9),
            CounterMove(key=f"coupon:summer30:customer:c{number:07d}", amount=1, limit=1),
            CounterMove(key=f"coupon:summer30:order:{order_id}", amount=1, limit=1),
            CounterMove(key="coupon:summer30:budget", amount=3000, limit=10**12),
        )
    )


def _fill(store: Any, keys: list[str], *, refund: bool) -> None:
    for number, key in enumerate(keys):
        store.reserve(_intent(number, key), key, TTL)  # built per request: the store keeps its strings
        store.commit(key)
        if refund:
            store.revert(key, "1/3", refund_key=f"refund-{key}")


def _used_bytes(path: str) -> int:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages, free, size = (
        connection.execute(f"PRAGMA {name}").fetchone()[0]
        for name in ("page_count", "freelist_count", "page_size")
    )
    connection.close()
    return int((pages - free) * size)


def memory_cost(keys: list[str], *, refund: bool) -> tuple[float, float]:
    """Bytes per key after filling, and bytes per key ``prune`` frees."""
    clock = ManualClock()
    store = MemoryRedemptionStore(clock=clock)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    _fill(store, keys, refund=refund)
    filled = tracemalloc.take_snapshot()
    clock.advance(2 * DAY)
    assert store.prune(older_than=DAY) == len(keys)
    pruned = tracemalloc.take_snapshot()
    tracemalloc.stop()
    total = sum(stat.size_diff for stat in filled.compare_to(before, "filename"))
    kept = sum(stat.size_diff for stat in pruned.compare_to(before, "filename"))
    return total / len(keys), (total - kept) / len(keys)


def disk_cost(keys: list[str], *, refund: bool) -> tuple[float, float]:
    """Bytes per key in the SQLite file after filling, and bytes per key ``prune`` frees."""
    path = os.path.join(tempfile.mkdtemp(), "keys.db")
    SQLiteRedemptionStore(path).close()
    empty = _used_bytes(path)
    clock = ManualClock()
    with SQLiteRedemptionStore(path, clock=clock, synchronous="NORMAL") as store:
        _fill(store, keys, refund=refund)
    full = _used_bytes(path)
    with SQLiteRedemptionStore(path, clock=clock, synchronous="NORMAL") as store:
        clock.advance(2 * DAY)
        assert store.prune(older_than=DAY) == len(keys)
    return (full - empty) / len(keys), (full - _used_bytes(path)) / len(keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    keys = [f"order-2024070112{n:08d}" for n in range(parser.parse_args().keys)]
    print(f"{'store':<8} {'key':<20} {'bytes/key':>9} {'prune frees':>11}")
    for refund in (False, True):
        label = "committed + refund" if refund else "committed"
        for name, measure in (("memory", memory_cost), ("SQLite", disk_cost)):
            stored, freed = measure(keys, refund=refund)
            print(f"{name:<8} {label:<20} {stored:>9.0f} {freed:>11.0f}")


if __name__ == "__main__":
    main()

"""Points ledger: replay of a long ledger, and balances for many customers, against hand-written code.

Run ``python benchmarks/bench_points.py [--entries N] [--customers N] [--per-customer N]``. In one run it
reports:

* ``replay`` of one customer's ledger of ``--entries`` (default 10,000) earn / redeem entries with
  expiry, against a hand-written Python loop (a deque of lots, FIFO consumption, expiry before each
  entry) that computes only the spendable and expired totals; target: within a small factor, since
  replay also validates every entry, deduplicates keys, keeps lots and totals, and sorts;
* ``balances`` (the vectorized batch path) for ``--customers`` x ``--per-customer`` rows without
  expiry, against the numpy lower bound ``bincount(earned) - bincount(redeemed)``;
* ``balances`` with a pending period and calendar expiry, against calling ``replay`` once per customer.

``check(n)`` asserts that the baselines compute what the library computes; the test suite runs it
(``tests/test_membership_points.py``), so the baselines stay honest.
"""

from __future__ import annotations

import argparse
import sys
from collections import deque
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import best_of, machine_description, print_table

from user_ops import Table
from user_ops._time import as_utc_us
from user_ops.membership import LedgerEntry, PointsPolicy, balances, replay

T0 = datetime(2023, 1, 1, tzinfo=timezone.utc)
EXPIRING = PointsPolicy(expiry="after", expiry_after="90d", tz="UTC")
CALENDAR = PointsPolicy(pending_period="7d", expiry="end_of_month", expiry_after="3mo", tz="Asia/Shanghai")
NEVER = PointsPolicy()


def ledger(n: int, *, seed: int) -> list[LedgerEntry]:
    """One customer's ledger: ~60 % earns, redemptions that never exceed the spendable points."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(0, 3 * 365 * 86_400, n))
    earn_points = rng.integers(1, 200, n)
    is_earn = rng.random(n) < 0.6
    entries = []
    spendable: deque[list[int]] = deque()  # the generator tracks FIFO lots to keep redemptions valid
    for i in range(n):
        at = T0 + timedelta(seconds=int(seconds[i]))
        now = as_utc_us(at)
        while spendable and spendable[0][1] <= now:
            spendable.popleft()
        available = sum(lot[0] for lot in spendable)
        if is_earn[i] or available == 0:
            points = int(earn_points[i])
            entries.append(LedgerEntry(f"e{i}", "earn", points, at))
            spendable.append([points, as_utc_us(at + timedelta(days=90))])
        else:
            points = int(rng.integers(1, available + 1))
            entries.append(LedgerEntry(f"r{i}", "redeem", points, at))
            _consume(spendable, points)
    return entries


def _consume(lots: deque[list[int]], points: int) -> None:
    while points:
        part = min(points, lots[0][0])
        lots[0][0] -= part
        points -= part
        if lots[0][0] == 0:
            lots.popleft()


def baseline_replay(entries: list[LedgerEntry], as_of: datetime, days: int = 90) -> tuple[int, int]:
    """Hand-written FIFO with expiry after ``days``: ``(spendable, expired)``; entries are in time order."""
    lots: deque[list[int]] = deque()
    expired = 0
    life = days * 86_400_000_000
    for entry in entries:
        now = as_utc_us(entry.at)
        while lots and lots[0][1] <= now:
            expired += lots.popleft()[0]
        if entry.kind == "earn":
            lots.append([entry.points, now + life])
        else:
            _consume(lots, entry.points)
    end = as_utc_us(as_of)
    while lots and lots[0][1] <= end:
        expired += lots.popleft()[0]
    return sum(lot[0] for lot in lots), expired


def population(customers: int, per_customer: int, *, seed: int) -> Table:
    """A ledger table: earns of 1-200 points, redemptions of 1-20 (rarely more than the balance: those
    customers take the replay path)."""
    rng = np.random.default_rng(seed)
    n = customers * per_customer
    customer = np.repeat(np.arange(customers, dtype=np.int64), per_customer)
    is_earn = rng.random(n) < 0.7
    is_earn[::per_customer] = True  # each customer starts with an earn (at the earliest instant)
    points = np.where(is_earn, rng.integers(1, 200, n), rng.integers(1, 20, n)).astype(np.int64)
    offsets = rng.integers(30 * 86_400, 2 * 365 * 86_400, n)  # the first earn is spendable by then
    offsets[::per_customer] = 0
    at = np.datetime64("2023-01-01T00:00:00", "us") + offsets.astype("timedelta64[s]")
    keys = np.char.add("k", np.tile(np.arange(per_customer), customers).astype(str)).astype(object)
    kinds = np.where(is_earn, "earn", "redeem").astype(object)
    return Table({"customer_id": customer, "key": keys, "kind": kinds, "points": points, "at": at}, tz="UTC")


def baseline_never(table: Table) -> np.ndarray[Any, Any]:
    """Balances without expiry or pending period: earned minus redeemed per customer."""
    customer = table["customer_id"]
    signed = np.where(table["kind"] == "earn", table["points"], -table["points"])
    result: np.ndarray[Any, Any] = np.bincount(customer, weights=signed).astype(np.int64)
    return result


def replay_each(table: Table, as_of: datetime, policy: PointsPolicy) -> dict[Any, int]:
    """Spendable points per customer by calling ``replay`` once per customer (the scalar path)."""
    order = np.argsort(table["customer_id"], kind="stable")
    records = Table._trusted({name: table[name][order] for name in table.columns}).to_dicts()
    result: dict[Any, int] = {}
    start = 0
    while start < len(records):
        stop = start
        customer = records[start]["customer_id"]
        while stop < len(records) and records[stop]["customer_id"] == customer:
            stop += 1
        result[customer] = replay(records[start:stop], as_of=as_of, policy=policy).spendable
        start = stop
    return result


def check(n: int = 2000, *, seed: int = 5) -> int:
    """Assert every baseline computes what the library computes; returns ``n``."""
    entries = ledger(n, seed=seed)
    as_of = entries[-1].at + timedelta(days=30)
    state = replay(entries, as_of=as_of, policy=EXPIRING)
    assert (state.spendable, state.lifetime_expired) == baseline_replay(entries, as_of)
    table = population(max(1, n // 40), 40, seed=seed)
    as_of = datetime(2025, 1, 1, tzinfo=timezone.utc)
    never = balances(table, as_of=as_of, policy=NEVER)
    expected = baseline_never(table)
    fast = ~never["via_replay"]
    assert np.array_equal(never["balance"][fast], expected[never["customer_id"][fast]])
    calendar = balances(table, as_of=as_of, policy=CALENDAR)
    by_replay = replay_each(table, as_of, CALENDAR)
    assert calendar["spendable"].tolist() == [by_replay[c] for c in calendar["customer_id"].tolist()]
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--per-customer", type=int, default=50)
    parser.add_argument("--replay-customers", type=int, default=2_000)
    args = parser.parse_args(argv)
    print(f"machine: {machine_description()}")
    print(f"correctness check: {check()} entries agree with the baselines\n")

    entries = ledger(args.entries, seed=1)
    as_of = entries[-1].at + timedelta(days=1)
    ours, state = best_of(lambda: replay(entries, as_of=as_of, policy=EXPIRING))
    base, _ = best_of(lambda: baseline_replay(entries, as_of))
    print(f"## One ledger: {args.entries:,} entries ({len(state.all_lots):,} lots), expiry after 90 days\n")
    print_table(
        ["step", "ours ms", "baseline ms", "ratio", "baseline"],
        [
            [
                "replay",
                f"{ours * 1e3:.1f}",
                f"{base * 1e3:.1f}",
                f"{ours / base:.2f}x",
                "Python deque FIFO loop",
            ]
        ],
    )

    table = population(args.customers, args.per_customer, seed=2)
    as_of = datetime(2025, 1, 1, tzinfo=timezone.utc)
    rows = len(table)
    never, out = best_of(lambda: balances(table, as_of=as_of, policy=NEVER))
    lower, _ = best_of(lambda: baseline_never(table))
    calendar, out_calendar = best_of(lambda: balances(table, as_of=as_of, policy=CALENDAR), repeat=2)
    sample = population(args.replay_customers, args.per_customer, seed=3)
    sample_fast, _ = best_of(lambda: balances(sample, as_of=as_of, policy=CALENDAR), repeat=2)
    sample_loop, _ = best_of(lambda: replay_each(sample, as_of, CALENDAR), repeat=1)
    share = float(np.mean(out_calendar["via_replay"]))
    print(f"\n## Many customers: {args.customers:,} x {args.per_customer} = {rows:,} rows\n")
    print_table(
        ["step", "ours ms", "baseline ms", "ratio", "baseline"],
        [
            [
                "balances, no expiry",
                f"{never * 1e3:.1f}",
                f"{lower * 1e3:.1f}",
                f"{never / lower:.2f}x",
                "np.bincount(earned - redeemed)",
            ],
            [
                f"balances, 7d pending + end-of-month expiry ({share:.1%} replayed)",
                f"{calendar * 1e3:.1f}",
                "",
                "",
                f"{calendar / rows * 1e9:.0f} ns per row",
            ],
            [
                f"the same, {args.replay_customers:,} customers",
                f"{sample_fast * 1e3:.1f}",
                f"{sample_loop * 1e3:.1f}",
                f"{sample_fast / sample_loop:.3f}x",
                "replay() once per customer",
            ],
        ],
    )
    del out
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

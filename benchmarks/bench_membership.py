"""Membership: tier evaluation for a million customers from metric columns, against hand-written numpy.

Run ``python benchmarks/bench_membership.py [--rows N] [--scalar-rows N] [--no-ledger]``. In one run
it reports:

* ``TierPolicy.evaluate`` (tier code, labels, index, next tier and what reaching it takes) from a spend
  column, against the same thresholds hand-written in numpy (``np.searchsorted`` and label indexing),
  target at most 1.5x;
* the same as a review, with each customer's current tier (retention thresholds, one step down);
* ``evaluate_one`` over a member's event history (a backend request), per call;
* the points-ledger replay benchmark (``bench_points.py``, issue 5 part 3) when that script is present.

``check(n)`` asserts that the numpy baseline gives exactly our columns on synthetic customers and that
``evaluate_one`` agrees with ``evaluate`` on a sample; the test suite runs it
(``tests/test_membership_tiers.py``), so the baseline stays honest.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import best_of, machine_description, print_table

from user_ops import Table
from user_ops.membership import Purchase, Tier, TierPolicy

AS_OF = datetime(2025, 6, 30, tzinfo=timezone.utc)
POLICY = TierPolicy(
    [
        Tier(code="red", label_en="Red Sea", label_zh="红海", entry="0 CNY"),
        Tier(code="silver", label_en="Silver Sea", label_zh="银海", entry="1000 CNY", retention="800 CNY"),
        Tier(code="gold", label_en="Gold Sea", label_zh="金海", entry="3000 CNY", retention="2000 CNY"),
        Tier(code="black", label_en="Black Sea", label_zh="黑海", entry="8000 CNY", retention="6000 CNY"),
    ],
    window="rolling",
    window_length="12mo",
)
_ENTRIES = POLICY.entries
_RETENTIONS = POLICY.retentions
_CODES = np.array([*POLICY.codes, None], dtype=object)
_EN = np.array([*(t.label_en for t in POLICY.tiers), None], dtype=object)
_ZH = np.array([*(t.label_zh for t in POLICY.tiers), None], dtype=object)
_NEXT = np.array([*POLICY.codes[1:], None, POLICY.codes[0]], dtype=object)


def population(n: int, seed: int = 7) -> Table:
    """Customers with a 12-month spend in minor units (log-normal, a tail of refunds to 0) and a tier."""
    rng = np.random.default_rng(seed)
    spend = np.round(rng.lognormal(mean=11.0, sigma=1.3, size=n)).astype(np.int64)
    spend[rng.random(n) < 0.05] = 0
    current = rng.integers(0, len(POLICY.tiers), size=n)
    return Table({"customer_id": np.arange(n, dtype=np.int64), "spend": spend, "tier": current})


def baseline(table: Table, *, review: bool = False) -> dict[str, Any]:
    """The policy written by hand: thresholds by ``np.searchsorted``, labels by indexing."""
    spend = np.maximum(np.asarray(table["spend"]), 0)
    index = np.searchsorted(_ENTRIES, spend, side="right") - 1
    columns: dict[str, Any] = {"customer_id": table["customer_id"]}
    if review:
        before = np.asarray(table["tier"])
        kept = spend >= _RETENTIONS[before]
        index = np.where(kept, np.maximum(before, index), before - 1)
    top = len(_ENTRIES) - 1
    columns["tier"] = _CODES[index]
    columns["tier_en"] = _EN[index]
    columns["tier_zh"] = _ZH[index]
    columns["tier_index"] = index
    columns["next_tier"] = _NEXT[index]
    needed = np.maximum(_ENTRIES[np.minimum(index + 1, top)] - spend, 0)
    columns["to_next"] = np.ma.MaskedArray(needed, mask=index == top)
    if review:
        columns["previous"] = _CODES[before]
        columns["change"] = np.array(["down", "same", "up"], dtype=object)[np.sign(index - before) + 1]
    return columns


def check(n: int = 20_000, *, seed: int = 5) -> int:
    """Assert the numpy baseline gives our columns and evaluate_one agrees on a sample; returns n."""
    table = population(n, seed)
    for review in (False, True):
        ours = POLICY.evaluate(table, as_of=AS_OF, current="tier" if review else None)
        theirs = baseline(table, review=review)
        assert set(ours.columns) == set(theirs), (ours.columns, sorted(theirs))
        for name, values in theirs.items():
            assert np.array_equal(np.ma.getmaskarray(ours[name]), np.ma.getmaskarray(values)), name
            assert ours[name].tolist() == np.ma.asarray(values).tolist(), name
    plain = POLICY.evaluate(table, as_of=AS_OF)
    for row in range(0, n, max(1, n // 200)):
        record = table.row(row)
        one = POLICY.evaluate_one({"spend": record["spend"]}, as_of=AS_OF)
        assert one.tier == plain["tier"][row]
    return n


def _history(events: int) -> list[Purchase]:
    return [
        Purchase(at=AS_OF - timedelta(days=7 * k + 1), amount=f"{100 + k % 50}.00 CNY") for k in range(events)
    ]


def _fresh(table: Table) -> Table:
    """The same columns in a new Table: nothing derived from them is cached yet."""
    return table.select(table.columns)


def _timings(table: Table) -> list[list[Any]]:
    plain_ours, _ = best_of(lambda: POLICY.evaluate(_fresh(table), as_of=AS_OF))
    plain_base, _ = best_of(lambda: baseline(_fresh(table)))
    review_ours, _ = best_of(lambda: POLICY.evaluate(_fresh(table), as_of=AS_OF, current="tier"))
    review_base, _ = best_of(lambda: baseline(_fresh(table), review=True))
    return [
        [
            "evaluate (spend column)",
            plain_ours,
            plain_base,
            "searchsorted + id, 3 label, index, next, to_next",
        ],
        ["evaluate as a review (current tier)", review_ours, review_base, "the same + retention, change"],
    ]


def run_tier_benchmark(rows: int, scalar_rows: int) -> float:
    """Print the tier tables; returns the ratio of the plain evaluation (ours / numpy)."""
    table = population(rows)
    print(f"## Batch: {rows:,} customers, {len(POLICY)} tiers\n")
    timings = _timings(table)
    print_table(
        ["step", "ours ms", "numpy ms", "ratio", "baseline"],
        [[what, f"{o * 1e3:.1f}", f"{b * 1e3:.1f}", f"{o / b:.2f}x", note] for what, o, b, note in timings],
    )
    history = _history(scalar_rows)
    seconds, _ = best_of(lambda: POLICY.evaluate_one(history, as_of=AS_OF))
    timeline, _ = best_of(lambda: POLICY.simulate(history, until=AS_OF))
    print(f"\n## Scalar: one member with {len(history):,} purchases over {len(history) // 52} years\n")
    print_table(
        ["call", "ms per call"],
        [["evaluate_one", f"{seconds * 1e3:.2f}"], ["simulate", f"{timeline * 1e3:.2f}"]],
    )
    ratio: float = timings[0][1] / timings[0][2]
    return ratio


# -- ledger replay (points; parts 3-4 of issue 5 live in bench_points.py) ----------------------------
def run_ledger_benchmark(argv: list[str] | None = None) -> bool:
    """Run ``bench_points.main(argv)`` when ``benchmarks/bench_points.py`` exists; False when it does not."""
    try:
        bench_points = importlib.import_module("bench_points")
    except ModuleNotFoundError:
        print("\n(ledger replay: benchmarks/bench_points.py not present, skipped)")
        return False
    print("\n## Points ledger replay (bench_points.py)\n")
    bench_points.main(argv if argv is not None else [])
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--scalar-rows", type=int, default=520, help="purchases in the scalar history")
    parser.add_argument("--no-ledger", action="store_true", help="skip the points-ledger benchmark")
    args = parser.parse_args(argv)
    print(f"machine: {machine_description()}")
    print(f"correctness check: {check()} customers agree with the numpy baseline\n")
    ratio = run_tier_benchmark(args.rows, args.scalar_rows)
    print(f"\ntier evaluation ratio (ours / numpy): {ratio:.2f}x (target <= 1.5x)")
    if not args.no_ledger:
        run_ledger_benchmark()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

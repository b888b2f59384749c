"""Targeted issuance: ``plan_issuance`` over a million customers, against the same plan in numpy.

Run ``python benchmarks/bench_issuance.py [--rows N] [--contacts-per-customer K]``. In one run it
reports ``plan_issuance`` (audience rule, opt-out column, quiet period, two frequency caps, a count
budget in ``monetary`` order) against the same plan hand-written in numpy (``np.isin`` masks,
``searchsorted`` + ``bincount`` for the contact counts, ``lexsort`` for the priority order), both from
the same prepared columns, and ``plan_issuance_one`` per customer (a backend request).

``check(n)`` asserts that the numpy baseline gives exactly our reasons and ranks on synthetic data with
nulls; ``tests/test_coupons_issuance.py`` runs it, so the baseline stays honest.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import best_of, machine_description, print_table

from user_ops import Table
from user_ops.coupons import (
    Benefit,
    CouponTemplate,
    FrequencyCap,
    IssuanceBudget,
    IssuanceCaps,
    IssuanceReason,
    plan_issuance,
    plan_issuance_one,
)

AS_OF = datetime(2024, 7, 1, tzinfo=timezone.utc)
TEMPLATE = CouponTemplate(id="winback", currency="CNY", benefit=Benefit(kind="amount_off", amount="20 CNY"))
AUDIENCE = 'segment in ["champions", "loyal", "at_risk"] and stage != "churned"'
CAPS = IssuanceCaps(
    quiet_period="2d",
    frequency=(
        FrequencyCap(limit=3, window="30d"),
        FrequencyCap(limit=1, window="7d", kinds=("coupon",)),
    ),
    opt_out_column="dnd",
)
SEGMENTS = np.array(["champions", "loyal", "at_risk", "hibernating", "new"], dtype=object)
STAGES = np.array(["active", "churning", "churned", None], dtype=object)
KINDS = np.array(["coupon", "message"], dtype=object)
_US_PER_DAY = 86_400 * 1_000_000
_CODE = {reason: code for code, reason in enumerate(IssuanceReason)}


def population(n: int, contacts_per_customer: float, seed: int, *, spread: int = 7) -> tuple[Table, Table]:
    """Customers (shuffled ids, nulls in stage and monetary) and their contact history (60 days).

    Ids are ``1, 1 + spread, 1 + 2 * spread, ...``: ``spread=1`` is a dense range (plan_issuance maps
    contacts to customers with a lookup array), 7 a sparse one (a binary search, like the baseline).
    """
    rng = np.random.default_rng(seed)
    ids = rng.permutation(n).astype(np.int64) * spread + 1
    monetary = np.round(rng.gamma(2.0, 300.0, n), 0)  # round: ties exercise the id tie-break
    monetary[rng.random(n) < 0.02] = np.nan
    customers = Table(
        {
            "customer_id": ids,
            "segment": SEGMENTS[rng.integers(0, len(SEGMENTS), n)],
            "stage": STAGES[rng.integers(0, len(STAGES), n)],
            "monetary": monetary,
            "dnd": rng.random(n) < 0.03,
        }
    )
    m = int(n * contacts_per_customer)
    as_of_us = (AS_OF - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
    at = as_of_us - rng.integers(-_US_PER_DAY, 60 * _US_PER_DAY, m)
    history = Table(
        {
            "customer_id": np.where(rng.random(m) < 0.01, -5, ids[rng.integers(0, n, m)]),  # a few strangers
            "at": at.astype("datetime64[us]"),
            "kind": KINDS[rng.integers(0, 2, m)],
        },
        tz="UTC",  # the datetime64 values are UTC instants
    )
    return customers, history


def budget(n: int) -> IssuanceBudget:
    return IssuanceBudget(count=n // 10, priority="monetary")


def ours(customers: Table, history: Table) -> Any:
    return plan_issuance(
        TEMPLATE,
        customers,
        audience=AUDIENCE,
        as_of=AS_OF,
        contact_history=history,
        caps=CAPS,
        budget=budget(len(customers)),
    )


def baseline(customers: Table, history: Table) -> tuple[Any, Any]:
    """The same plan by hand: reason codes (IssuanceReason order) and ranks (0 for the ineligible)."""
    n = len(customers)
    ids = customers["customer_id"]
    stage = customers["stage"]
    audience = np.isin(customers["segment"], ["champions", "loyal", "at_risk"]) & (stage != "churned")
    audience &= stage != None  # noqa: E711  (a null stage makes the comparison unknown: no match)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    hist_ids = history["customer_id"]
    slot = np.searchsorted(sorted_ids, hist_ids).clip(0, n - 1)
    at = history["at"].view(np.int64)
    as_of_us = int(np.datetime64(AS_OF.replace(tzinfo=None), "us").view(np.int64))
    past = (sorted_ids[slot] == hist_ids) & (at < as_of_us)
    row = order[slot]

    def contacted(days: int, mask: Any = True) -> Any:
        chosen = past & (at >= as_of_us - days * _US_PER_DAY) & mask
        return np.bincount(row[chosen], minlength=n)

    reason = np.select(
        [
            ~audience,
            customers["dnd"],
            contacted(2) > 0,
            contacted(30) >= 3,
            contacted(7, history["kind"] == "coupon") >= 1,
        ],
        [
            _CODE[r]
            for r in (
                IssuanceReason.NOT_IN_AUDIENCE,
                IssuanceReason.OPTED_OUT,
                IssuanceReason.QUIET_PERIOD,
                IssuanceReason.FREQUENCY_CAP,
                IssuanceReason.FREQUENCY_CAP,
            )
        ],
        0,
    ).astype(np.int8)
    eligible = np.flatnonzero(reason == 0)
    money = customers["monetary"][eligible]
    missing = np.isnan(money)
    ranked = eligible[np.lexsort((ids[eligible], np.where(missing, 0.0, -money), missing))]
    rank = np.zeros(n, dtype=np.int64)
    rank[ranked] = np.arange(1, len(ranked) + 1)
    reason[rank > n // 10] = _CODE[IssuanceReason.BUDGET_COUNT]
    return reason, rank


def check(n: int = 20_000, *, seed: int = 5) -> int:
    """Assert the numpy baseline gives our reasons and ranks, and the scalar path agrees on a sample.

    Both id layouts run (sparse: binary search; dense: lookup array). Returns the customers selected.
    """
    selected = 0
    for spread in (7, 1):
        customers, history = population(n, 3.0, seed, spread=spread)
        selected += _check_one(customers, history)
    return selected


def _check_one(customers: Table, history: Table) -> int:
    n = len(customers)
    plan = ours(customers, history)
    reason, rank = baseline(customers, history)
    names = np.array([r.value for r in IssuanceReason], dtype=object)[reason]
    assert np.array_equal(np.asarray(plan.table["reason"]), names), int(
        np.flatnonzero(plan.table["reason"] != names)[0]
    )
    assert np.array_equal(plan.table["rank"].filled(0), rank)
    by_customer: dict[int, list[dict[str, Any]]] = {}
    for cid, at, kind in zip(
        history["customer_id"].tolist(), history["at"].tolist(), history["kind"].tolist()
    ):
        by_customer.setdefault(cid, []).append({"at": at.replace(tzinfo=timezone.utc), "kind": kind})
    for row in range(0, n, max(1, n // 200)):
        record = customers.row(row)
        one = plan_issuance_one(
            TEMPLATE,
            record,
            audience=AUDIENCE,
            as_of=AS_OF,
            contacts=by_customer.get(record["customer_id"], []),
            caps=CAPS,
            budget=budget(n),
            rank=int(rank[row]) or None,
        )
        assert one.reason.value == names[row], (row, one, names[row])
    return int(plan.selected)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--contacts-per-customer", type=float, default=3.0)
    parser.add_argument("--scalar-rows", type=int, default=20_000)
    args = parser.parse_args(argv)
    print(f"machine: {machine_description()}")
    print(f"correctness check: the numpy baseline agrees ({check()} selected of 2 x 20,000)\n")
    rows = []
    for spread, label in ((7, "sparse ids (every 7th)"), (1, "dense ids (1..n)")):
        customers, history = population(args.rows, args.contacts_per_customer, seed=1, spread=spread)
        seconds_ours, plan = best_of(lambda: ours(customers, history))
        seconds_base, _ = best_of(lambda: baseline(customers, history))
        rows.append(
            [
                f"plan_issuance, {label}",
                f"{seconds_ours * 1e3:.0f}",
                f"{seconds_base * 1e3:.0f}",
                f"{seconds_ours / seconds_base:.2f}x",
            ]
        )
    print(f"## Batch: {args.rows:,} customers, {len(history):,} contacts\n")
    print_table(["step", "ours ms", "numpy ms", "ratio"], rows)
    print()
    print(plan.summary())
    records = [customers.row(row) for row in range(min(args.scalar_rows, args.rows))]
    seconds, _ = best_of(
        lambda: [plan_issuance_one(TEMPLATE, r, audience=AUDIENCE, as_of=AS_OF, caps=CAPS) for r in records],
        repeat=1,
    )
    print(f"\n## Scalar: plan_issuance_one over {len(records):,} records (no contacts)\n")
    print_table(
        ["records", "total ms", "µs per record"],
        [[f"{len(records):,}", f"{seconds * 1e3:.0f}", f"{seconds / len(records) * 1e6:.1f}"]],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

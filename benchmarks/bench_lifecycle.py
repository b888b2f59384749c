"""Lifecycle: classify a million customers with the default policy, against the same logic in numpy.

Run ``python benchmarks/bench_lifecycle.py [--rows N] [--scalar-rows N]``. In one run it reports:

* ``LifecyclePolicy.default().classify`` (stage, labels and action columns) against the same six
  rules hand-written in numpy (``np.select`` over boolean masks, then the code and label columns by
  indexing), target at most 1.5x;
* the stage index alone (``policy.stage_index``) against ``np.select`` alone;
* both on a table seen for the first time ("cold": nothing derived from its columns is cached yet,
  e.g. the local dates ``days_since`` needs) and again ("warm");
* ``classify_one`` per record (a backend request).

``check(n)`` asserts that the numpy baseline gives exactly our stages on synthetic customers with
nulls, and that ``classify_one`` agrees on a sample; the test suite runs it
(``tests/lifecycle/test_default.py``), so the baseline stays honest.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import best_of, machine_description, print_table

from user_ops import Table
from user_ops.datasets import DEFAULT_AS_OF, synthetic_customers
from user_ops.lifecycle import LifecyclePolicy

POLICY = LifecyclePolicy.default()
_DAY_US = 86_400 * 1_000_000


def baseline_index(table: Table, as_of: datetime = DEFAULT_AS_OF) -> Any:
    """The default policy written by hand: masks per stage, first match by ``np.select``.

    Nulls follow the rule language: a comparison with a null is unknown and does not match.
    """
    frequency = table["frequency"]
    freq = np.ma.getdata(frequency)
    freq_known = ~np.ma.getmaskarray(frequency)
    recency = table["recency_days"]
    rec = np.ma.getdata(recency)
    rec_known = ~np.ma.getmaskarray(recency)
    cycle = np.ma.getdata(table["repurchase_cycle_days"]).astype(np.float64)
    cycle = np.where(np.isnan(cycle), 30.0, cycle)
    churn_after = np.minimum(np.maximum(4 * cycle, 90), 365)
    dormant_after = np.maximum(2 * cycle, 30)
    offset = as_of.utcoffset()
    assert offset is not None
    shift = int(offset.total_seconds()) * 1_000_000
    first = table["first_order_at"]
    first_known = ~np.isnat(first)
    first_day = (first.view(np.int64) + shift) // _DAY_US
    today = (
        int((as_of - datetime(1970, 1, 1, tzinfo=as_of.tzinfo)).total_seconds()) * 1_000_000 + shift
    ) // _DAY_US
    conditions = [
        freq_known & (freq == 0),
        rec_known & (rec > churn_after),
        rec_known & (rec > dormant_after),
        freq_known & (freq == 1),
        freq_known & (freq >= 4) & first_known & (today - first_day >= 90),
        freq_known & (freq >= 2),
    ]
    return np.select(conditions, np.arange(6), default=6)


_FIELDS = ("code", "label_en", "label_zh", "action", "action_en", "action_zh")
_LABELS = [np.array([getattr(stage, name) for stage in POLICY.stages], dtype=object) for name in _FIELDS]


def baseline_full(table: Table) -> dict[str, Any]:
    """The baseline with every column ``classify`` writes (id, stage code, labels, action, labels)."""
    index = baseline_index(table)
    columns: dict[str, Any] = {"customer_id": table["customer_id"]}
    for name, labels in zip(
        ("stage", "stage_en", "stage_zh", "action", "action_en", "action_zh"), _LABELS, strict=True
    ):
        columns[name] = labels[index]
    return columns


def population(n: int, seed: int) -> Table:
    """Synthetic customers with some nulls injected into every column the policy reads."""
    table = synthetic_customers(n, seed=seed)
    base = {
        name: table[name]
        for name in table.columns
        if name not in ("frequency", "recency_days", "first_order_at")
    }
    rng = np.random.default_rng(seed)
    holes = rng.random((3, n)) < 0.02
    frequency = np.ma.array(np.ma.getdata(table["frequency"]), mask=holes[0])
    recency = np.ma.array(
        np.ma.getdata(table["recency_days"]), mask=np.ma.getmaskarray(table["recency_days"]) | holes[1]
    )
    first = table["first_order_at"].copy()
    first[holes[2]] = np.datetime64("NaT")
    # the table's instants are UTC datetime64 values: tz="UTC" reads them back as they are
    return Table({**base, "frequency": frequency, "recency_days": recency, "first_order_at": first}, tz="UTC")


def check(n: int = 20_000, *, seed: int = 5) -> int:
    """Assert the numpy baseline gives our stages, and classify_one agrees on a sample; returns n."""
    table = population(n, seed)
    ours = POLICY.classify(table, as_of=DEFAULT_AS_OF)
    theirs = baseline_index(table)
    assert np.array_equal(ours.index, theirs), int(np.flatnonzero(ours.index != theirs)[0])
    full = baseline_full(table)
    for name, values in full.items():
        assert np.array_equal(np.asarray(ours[name]), np.asarray(values)), name
    for row in range(0, n, max(1, n // 300)):
        record = table.row(row)
        assert POLICY.classify_one(record, as_of=DEFAULT_AS_OF).to_dict() == {
            name: ours[name][row]
            for name in ("stage", "stage_en", "stage_zh", "action", "action_en", "action_zh")
        }
    return n


def _fresh(table: Table) -> Table:
    """The same columns in a new Table: nothing derived from them is cached yet."""
    return table.select(table.columns)


def _timings(table: Table) -> list[list[Any]]:
    cold_ours, _ = best_of(lambda: POLICY.classify(_fresh(table), as_of=DEFAULT_AS_OF))
    cold_base, _ = best_of(lambda: baseline_full(_fresh(table)))
    warm_ours, _ = best_of(lambda: POLICY.classify(table, as_of=DEFAULT_AS_OF))
    warm_base, _ = best_of(lambda: baseline_full(table))
    index_ours, _ = best_of(lambda: POLICY.stage_index(_fresh(table), as_of=DEFAULT_AS_OF))
    index_base, _ = best_of(lambda: baseline_index(_fresh(table)))
    return [
        ["classify, cold table", cold_ours, cold_base, "np.select + id, code and 5 label columns"],
        ["classify, warm table", warm_ours, warm_base, "the same"],
        ["stage index only, cold", index_ours, index_base, "np.select only"],
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--scalar-rows", type=int, default=100_000)
    args = parser.parse_args(argv)
    print(f"machine: {machine_description()}")
    print(f"correctness check: {check()} customers agree with the numpy baseline\n")
    table = synthetic_customers(args.rows)
    print(f"## Batch: {args.rows:,} synthetic customers, default policy ({len(POLICY)} stages)\n")
    rows = [
        [what, f"{ours * 1e3:.1f}", f"{base * 1e3:.1f}", f"{ours / base:.2f}x", baseline]
        for what, ours, base, baseline in _timings(table)
    ]
    print_table(["step", "ours ms", "numpy ms", "ratio", "baseline"], rows)
    records = table.select(POLICY.fields).to_dicts()[: args.scalar_rows]
    seconds, _ = best_of(lambda: [POLICY.classify_one(r, as_of=DEFAULT_AS_OF) for r in records])
    print(f"\n## Scalar: classify_one over {len(records):,} records\n")
    print_table(
        ["records", "total ms", "µs per record"],
        [[f"{len(records):,}", f"{seconds * 1e3:.1f}", f"{seconds / len(records) * 1e6:.2f}"]],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Customer metrics: ``customer_metrics`` against a numpy floor, pandas and lifetimes.

Run ``python benchmarks/bench_metrics.py [--rows N] [--customers N] [--big]``. In one run it reports:

* ``customer_metrics`` (every column: R, F, M, three windows, repurchase cycle, shares, BTYD) on a
  validated log, against a numpy floor that computes only count / sum / min / max per customer
  (``np.unique`` + ``np.bincount`` + sort and ``reduceat``) and a pandas ``groupby`` computing the
  same four (target: at most 1.5x the floor at 1M rows);
* building the validated ``Transactions`` from datetime64 and from ISO date strings;
* peak traced memory of ``customer_metrics`` (numpy allocations are traced) against the bytes of the
  input columns (target: at most 3x for 10M rows);
* lifetimes' ``summary_data_from_transaction_data`` when it is installed (on a subset when it is slow;
  the scaling is printed).

``check(rows)`` asserts that the pandas baseline and the numpy floor agree with our columns; the test
suite can run it on a small log, so the baselines stay honest.
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import best_of, machine_description, print_table

from user_ops.metrics import Transactions, customer_metrics

AS_OF = datetime(2024, 7, 1, tzinfo=timezone.utc)
_AS_OF_US = int(np.datetime64("2024-07-01T00:00:00", "us").view(np.int64))
_TWO_YEARS_US = 2 * 365 * 86_400 * 1_000_000


def generate(rows: int, customers: int, *, seed: int = 0) -> dict[str, np.ndarray[Any, Any]]:
    """A time-ordered log: ~3 % refunds, 30 % promo lines, unit prices; 2 % of rows after as_of."""
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.integers(0, _TWO_YEARS_US, rows))
    times = _AS_OF_US - int(_TWO_YEARS_US * 0.98) + offsets
    amount = np.round(rng.lognormal(4.5, 0.8, rows), 2)
    amount[rng.random(rows) < 0.03] *= -1
    return {
        "customer_id": rng.integers(1, customers + 1, rows),
        "ordered_at": times.view("datetime64[us]"),
        "amount": amount,
        "is_promo": rng.random(rows) < 0.3,
        "unit_price": np.round(rng.lognormal(3.5, 1.0, rows), 2),
    }


def numpy_floor(data: dict[str, np.ndarray[Any, Any]]) -> dict[str, np.ndarray[Any, Any]]:
    """Count, sum, first and last time per customer: the least any implementation must do."""
    keep = data["ordered_at"] < np.datetime64(_AS_OF_US, "us")
    ids, codes = np.unique(data["customer_id"][keep], return_inverse=True)
    times = data["ordered_at"][keep].view(np.int64)
    count = np.bincount(codes, minlength=len(ids))
    total = np.bincount(codes, weights=data["amount"][keep], minlength=len(ids))
    order = np.argsort(codes, kind="stable")
    starts = np.cumsum(count) - count
    first = np.minimum.reduceat(times[order], starts)
    last = np.maximum.reduceat(times[order], starts)
    return {"customer_id": ids, "rows": count, "sum": total, "first": first, "last": last}


def pandas_baseline(frame: Any) -> Any:
    """The same four numbers with a pandas groupby (an analyst's usual first cut)."""
    import pandas as pd

    used = frame[frame["ordered_at"] < pd.Timestamp(AS_OF)]
    return used.groupby("customer_id").agg(
        first=("ordered_at", "min"),
        last=("ordered_at", "max"),
        rows=("amount", "count"),
        sum=("amount", "sum"),
    )


def _frame(data: dict[str, np.ndarray[Any, Any]]) -> Any:
    import pandas as pd

    frame = pd.DataFrame(data)
    frame["ordered_at"] = frame["ordered_at"].dt.tz_localize("UTC")
    return frame


def check(rows: int = 20_000, *, seed: int = 1) -> int:
    """Assert the baselines agree with ``customer_metrics`` on what they compute; returns customers."""
    data = generate(rows, max(rows // 10, 1), seed=seed)
    ours = customer_metrics(Transactions(data, tz="UTC"), as_of=AS_OF)
    floor = numpy_floor(data)
    baseline = pandas_baseline(_frame(data))
    assert np.array_equal(ours["customer_id"], floor["customer_id"])
    assert np.array_equal(baseline.index.to_numpy(), floor["customer_id"])
    assert np.allclose(ours["monetary"], floor["sum"], rtol=1e-12)
    assert np.allclose(baseline["sum"].to_numpy(), floor["sum"], rtol=1e-12)
    assert np.array_equal(baseline["rows"].to_numpy(), floor["rows"])
    refunds = _per_customer(data, data["amount"] < 0, floor["customer_id"])
    assert np.array_equal(ours["frequency"] + refunds, floor["rows"])  # refunds are rows, not orders
    only_orders = refunds == 0  # first/last order equal first/last row when no refund is involved
    first = baseline["first"].dt.tz_localize(None).to_numpy().astype("datetime64[us]").view(np.int64)
    assert np.array_equal(first, floor["first"])
    assert np.array_equal(ours["first_order_at"].view(np.int64)[only_orders], floor["first"][only_orders])
    assert np.array_equal(ours["last_order_at"].view(np.int64)[only_orders], floor["last"][only_orders])
    return len(floor["customer_id"])


def _per_customer(data: dict[str, Any], flag: Any, ids: Any) -> Any:
    keep = (data["ordered_at"] < np.datetime64(_AS_OF_US, "us")) & flag
    found, counts = np.unique(data["customer_id"][keep], return_counts=True)
    out = np.zeros(len(ids), dtype=np.int64)
    out[np.searchsorted(ids, found)] = counts
    return out


def _peak_bytes(fn: Any) -> int:
    tracemalloc.start()
    try:
        result = fn()
        del result
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run(rows: int, customers: int, *, strings: bool, repeat: int) -> list[list[Any]]:
    data = generate(rows, customers)
    input_bytes = sum(column.nbytes for column in data.values())
    table_rows: list[list[Any]] = []
    build_s, tx = best_of(lambda: Transactions(data, tz="UTC"), repeat=repeat)
    metrics_s, _ = best_of(lambda: customer_metrics(tx, as_of=AS_OF), repeat=repeat)
    floor_s, _ = best_of(lambda: numpy_floor(data), repeat=repeat)
    size = f"{rows / 1e6:g}M / {customers / 1e3:g}k"
    table_rows.append([size, "numpy floor (count/sum/min/max)", f"{floor_s:.3f}", "1.00x"])
    table_rows.append(
        [size, "customer_metrics (all columns)", f"{metrics_s:.3f}", f"{metrics_s / floor_s:.2f}x"]
    )
    table_rows.append([size, "Transactions(datetime64) build", f"{build_s:.3f}", f"{build_s / floor_s:.2f}x"])
    if strings:
        text = {**data, "ordered_at": np.datetime_as_string(data["ordered_at"], unit="s").astype(object)}
        string_s, _ = best_of(lambda: Transactions(text, tz="UTC"), repeat=max(1, repeat - 1))
        table_rows.append(
            [size, "Transactions(ISO strings) build", f"{string_s:.3f}", f"{string_s / floor_s:.2f}x"]
        )
        del text
    try:
        frame = _frame(data)
        pandas_s, _ = best_of(lambda: pandas_baseline(frame), repeat=repeat)
        table_rows.append(
            [size, "pandas groupby (count/sum/min/max)", f"{pandas_s:.3f}", f"{pandas_s / floor_s:.2f}x"]
        )
    except ImportError:
        pass
    peak = _peak_bytes(lambda: customer_metrics(tx, as_of=AS_OF))
    table_rows.append(
        [
            size,
            "customer_metrics peak traced memory",
            f"{peak / 2**20:.0f} MiB",
            f"{peak / input_bytes:.2f}x input",
        ]
    )
    return table_rows


def run_lifetimes(rows: int, customers: int, *, repeat: int) -> list[list[Any]]:
    try:
        from lifetimes.utils import summary_data_from_transaction_data
    except ImportError:
        return []
    data = generate(rows, customers, seed=2)
    tx = Transactions(data, tz="UTC")
    frame = _frame(data)
    frame = frame[frame["amount"] >= 0]  # lifetimes would count refunds as purchases
    frame["ordered_at"] = frame["ordered_at"].dt.tz_localize(None)
    frame = frame[frame["ordered_at"] < AS_OF.replace(tzinfo=None)]

    def theirs() -> Any:
        return summary_data_from_transaction_data(
            frame, "customer_id", "ordered_at", "amount", observation_period_end="2024-06-30", freq="D"
        )

    their_s, summary = best_of(theirs, repeat=1)
    our_s, ours = best_of(lambda: customer_metrics(tx, as_of=AS_OF), repeat=repeat)
    bought = ~np.isnan(ours["T"])  # customers with only refunds have no BTYD row in lifetimes
    assert np.array_equal(summary.index.to_numpy(), ours["customer_id"][bought])
    assert np.array_equal(summary["frequency"].to_numpy(), np.ma.getdata(ours["repeat_frequency"])[bought])
    assert np.array_equal(summary["T"].to_numpy(), ours["T"][bought])
    assert np.allclose(summary["monetary_value"].to_numpy(), ours["mean_repeat_spend"][bought], rtol=1e-9)
    size = f"{rows / 1e6:g}M / {customers / 1e3:g}k"
    return [
        [size, "lifetimes summary_data_from_transaction_data", f"{their_s:.3f}", "1.00x"],
        [size, "customer_metrics (all columns, same log)", f"{our_s:.3f}", f"{their_s / our_s:.0f}x faster"],
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--big", action="store_true", help="also 10M rows / 1M customers")
    parser.add_argument("--lifetimes-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    extra = []
    try:
        import pandas as pd

        extra.append(f"pandas {pd.__version__}")
    except ImportError:
        pass
    try:
        import lifetimes

        extra.append(f"lifetimes {lifetimes.__version__}")
    except ImportError:
        pass
    print(machine_description(extra))
    print(f"check: baselines agree on {check(20_000)} customers\n")
    result = run(args.rows, args.customers, strings=True, repeat=args.repeat)
    if args.big:
        result += run(10 * args.rows, 10 * args.customers, strings=True, repeat=1)
    for rows in (args.lifetimes_rows, args.rows):
        result += run_lifetimes(rows, rows // 10, repeat=args.repeat)
    print_table(["rows / customers", "what", "seconds", "ratio"], result)


if __name__ == "__main__":
    main()

"""Benchmark: building a ``Table`` from 1,000,000 customer records, against pandas and plain numpy.

Run ``python benchmarks/bench_table.py [--rows N] [--repeat K]``. Every figure is the best of K runs,
in seconds, and the ratio to the hand-written numpy baseline (a list comprehension plus ``np.array``
per column, the code a host would write without ``user_ops``). Not a test: it prints figures for the
docs' performance page together with the machine they came from.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import best_of, machine_description, print_table

from user_ops import Table

CITIES = ("北京", "上海", "广州", "深圳", "杭州", "成都", "重庆", "武汉", "西安", "南京")
CITIES += ("天津", "苏州", "长沙", "郑州", "东莞", "青岛", "沈阳", "宁波", "昆明", "厦门")
TAGS = ("vip", "new", "churn_risk", "wechat", "app", "coupon_lover", "high_value", "dormant")
SHANGHAI = ZoneInfo("Asia/Shanghai")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_US = timedelta(microseconds=1)


def make_records(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` customer records as a shop backend hands them over: some fields missing (None)."""
    rng = random.Random(seed)
    start = datetime(2022, 1, 1, tzinfo=SHANGHAI)
    span_s = 3 * 365 * 86_400
    rows = []
    for i in range(n):
        none = rng.random()
        rows.append(
            {
                "customer_id": 100_000 + i,
                "spend": None if none < 0.02 else round(rng.lognormvariate(5, 1.2), 2),
                "orders": None if none < 0.01 else rng.randint(0, 60),
                "city": None if none > 0.97 else rng.choice(CITIES),
                "last_order_at": None
                if none < 0.05
                else start + timedelta(seconds=rng.randrange(span_s), microseconds=rng.randrange(10**6)),
                "tags": None if none > 0.9 else rng.sample(TAGS, rng.randint(0, 3)),
            }
        )
    return rows


def numpy_baseline(rows: list[dict[str, Any]]) -> dict[str, np.ndarray[Any, Any]]:
    """The hand-written conversion: one list comprehension and one ``np.array`` per column."""
    orders = [r["orders"] for r in rows]
    instants = [r["last_order_at"] for r in rows]
    nat = np.iinfo(np.int64).min
    return {
        "customer_id": np.array([r["customer_id"] for r in rows], dtype=np.int64),
        "spend": np.array([r["spend"] for r in rows], dtype=np.float64),
        "orders": np.ma.MaskedArray(
            np.array([0 if v is None else v for v in orders], dtype=np.int64),
            mask=np.array([v is None for v in orders]),
        ),
        "city": np.array([r["city"] for r in rows], dtype=object),
        "last_order_at": np.array(
            [nat if d is None else (d - EPOCH) // ONE_US for d in instants], dtype=np.int64
        ).view("datetime64[us]"),
        "tags": np.fromiter(
            (None if t is None else tuple(t) for t in (r["tags"] for r in rows)),
            dtype=object,
            count=len(rows),
        ),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    import pandas as pd

    print(f"machine: {machine_description([f'pandas {pd.__version__}'])}")
    print(f"building {args.rows:,} records ...", flush=True)
    rows = make_records(args.rows)

    def run(fn: Callable[[], Any]) -> tuple[float, Any]:
        return best_of(fn, repeat=args.repeat)

    baseline_s, arrays = run(lambda: numpy_baseline(rows))
    table_s, table = run(lambda: Table.from_records(rows))
    if not table.equals(Table(arrays, tz="UTC")):
        raise SystemExit("Table.from_records disagrees with the numpy baseline")
    pandas_s, frame = run(lambda: pd.DataFrame(rows))
    arrays_s, _ = run(lambda: Table(arrays, tz="UTC"))
    from_frame_s, from_frame = run(lambda: Table.from_frame(frame))
    # pandas stores an int column with None as float64, so "orders" comes back as floats.
    same = [name for name in table.columns if name != "orders"]
    if not from_frame.select(same).equals(table.select(same)):
        raise SystemExit("Table.from_frame(pandas) disagrees with Table.from_records")
    to_pandas_s, _ = run(table.to_pandas)

    figures = [
        ("numpy baseline (list comprehension + np.array per column)", baseline_s),
        ("Table.from_records(rows)", table_s),
        ("pandas.DataFrame(rows)", pandas_s),
        ("Table(dict of numpy arrays, tz='UTC')", arrays_s),
        ("Table.from_frame(pandas DataFrame)", from_frame_s),
        ("Table.to_pandas()", to_pandas_s),
    ]
    print(f"\n{args.rows:,} rows x 6 columns (int, float, int with nulls, str, aware datetime, list[str]);")
    print(f"best of {args.repeat}, seconds; ratio = seconds / numpy baseline\n")
    print_table(
        ["operation", "seconds", "vs baseline"],
        [(label, f"{s:.3f}", f"{s / baseline_s:.2f}x") for label, s in figures],
    )


if __name__ == "__main__":
    main()

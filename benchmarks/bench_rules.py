"""Rule evaluation: 20 realistic rules over synthetic customers, against hand-written baselines.

Run ``python benchmarks/bench_rules.py [--rows N] [--scalar-rows N]``. In one run it reports:

* batch ``Rule.evaluate`` per rule vs a hand-written numpy mask for the same rule (null-aware, as an
  analyst would write it), and the total ratio (target: at most 1.5x);
* scalar ``Rule.evaluate_one`` per record vs a hand-written Python lambda (target: at most 3x);
* ``rule-engine`` on the rules it can express, when it is installed.

``check(rows)`` asserts that every baseline agrees with both of our paths; the test suite runs it on a
small table (``tests/test_benchmarks.py``), so the baselines stay honest.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import best_of, machine_description, print_table

from user_ops import Rule, Table
from user_ops.datasets import synthetic_customers

AS_OF = datetime(2024, 6, 30, tzinfo=timezone.utc)
TODAY = AS_OF.date()
TODAY_D = np.datetime64(TODAY, "D")
AS_OF_64 = np.datetime64(AS_OF.replace(tzinfo=None), "us")
START_30D = np.datetime64((AS_OF - timedelta(days=30)).replace(tzinfo=None), "us")
BIG_CITIES = ("北京", "上海", "广州", "深圳")
_has_community = np.frompyfunc(lambda tags: "community_member" in tags, 1, 1)


def _data(c: dict[str, Any], name: str) -> Any:
    return np.ma.getdata(c[name])


def _known(c: dict[str, Any], name: str) -> Any:
    return ~np.ma.getmaskarray(c[name])


def _in(values: Any, options: tuple[str, ...]) -> Any:
    hits = np.zeros(len(values), dtype=bool)
    for option in options:
        hits |= values == option
    return hits


@dataclass(frozen=True)
class Case:
    text: str
    numpy: Callable[[dict[str, Any]], Any]
    python: Callable[[dict[str, Any]], bool]
    rule_engine: str | None = None


CASES = [
    Case(
        "orders_90d >= 3 and spend_90d > 1000",
        lambda c: (c["orders_90d"] >= 3) & (c["spend_90d"] > 1000),
        lambda r: r["orders_90d"] >= 3 and r["spend_90d"] > 1000,
        "orders_90d >= 3 and spend_90d > 1000",
    ),
    Case(
        'city in ["北京", "上海"] or days_since(last_order_at) > 60',
        lambda c: (
            _in(c["city"], ("北京", "上海"))
            | (
                ~np.isnat(c["last_order_at"])
                & ((TODAY_D - c["last_order_at"].astype("datetime64[D]")).astype(int) > 60)
            )
        ),
        lambda r: (
            r["city"] in ("北京", "上海")
            or (r["last_order_at"] is not None and (TODAY - r["last_order_at"].date()).days > 60)
        ),
    ),
    Case(
        "registered_at within 30d",
        lambda c: (c["registered_at"] >= START_30D) & (c["registered_at"] < AS_OF_64),
        lambda r: AS_OF - timedelta(days=30) <= r["registered_at"] < AS_OF,
    ),
    Case(
        'tags contains "community_member"',
        lambda c: _has_community(c["tags"]).astype(bool),
        lambda r: "community_member" in r["tags"],
    ),
    Case("age is null", lambda c: np.ma.getmaskarray(c["age"]), lambda r: r["age"] is None),
    Case(
        'not (gender == "f")',
        lambda c: (c["gender"] != "f") & (c["gender"] != None),  # noqa: E711 - element-wise null test
        lambda r: r["gender"] is not None and r["gender"] != "f",
    ),
    Case("frequency >= 4", lambda c: c["frequency"] >= 4, lambda r: r["frequency"] >= 4, "frequency >= 4"),
    Case(
        "monetary >= 2000",
        lambda c: c["monetary"] >= 2000,
        lambda r: r["monetary"] >= 2000,
        "monetary >= 2000",
    ),
    Case(
        "recency_days <= 30",
        lambda c: _known(c, "recency_days") & (_data(c, "recency_days") <= 30),
        lambda r: r["recency_days"] is not None and r["recency_days"] <= 30,
    ),
    Case(
        "recency_days > 180",
        lambda c: _known(c, "recency_days") & (_data(c, "recency_days") > 180),
        lambda r: r["recency_days"] is not None and r["recency_days"] > 180,
    ),
    Case(
        "promo_spend_share >= 0.5",
        lambda c: c["promo_spend_share"] >= 0.5,
        lambda r: r["promo_spend_share"] is not None and r["promo_spend_share"] >= 0.5,
    ),
    Case(
        'member_tier in ["gold", "black"] and spend_365d >= 5000',
        lambda c: _in(c["member_tier"], ("gold", "black")) & (c["spend_365d"] >= 5000),
        lambda r: r["member_tier"] in ("gold", "black") and r["spend_365d"] >= 5000,
        'member_tier in ["gold", "black"] and spend_365d >= 5000',
    ),
    Case(
        'channel == "wechat_mini" and orders_30d >= 1',
        lambda c: (c["channel"] == "wechat_mini") & (c["orders_30d"] >= 1),
        lambda r: r["channel"] == "wechat_mini" and r["orders_30d"] >= 1,
        'channel == "wechat_mini" and orders_30d >= 1',
    ),
    Case(
        "monetary / frequency > 300",
        lambda c: (
            (c["frequency"] != 0) & (c["monetary"] / np.where(c["frequency"] == 0, 1, c["frequency"]) > 300)
        ),
        lambda r: r["frequency"] != 0 and r["monetary"] / r["frequency"] > 300,
    ),
    Case(
        "max_order_value >= 1000 or avg_order_value >= 500",
        lambda c: (c["max_order_value"] >= 1000) | (c["avg_order_value"] >= 500),
        lambda r: (
            (r["max_order_value"] is not None and r["max_order_value"] >= 1000)
            or (r["avg_order_value"] is not None and r["avg_order_value"] >= 500)
        ),
    ),
    Case(
        'age >= 25 and age < 35 and gender == "f"',
        lambda c: _known(c, "age") & (_data(c, "age") >= 25) & (_data(c, "age") < 35) & (c["gender"] == "f"),
        lambda r: r["age"] is not None and 25 <= r["age"] < 35 and r["gender"] == "f",
    ),
    Case(
        "recency_days >= repurchase_cycle_days",
        lambda c: _known(c, "recency_days") & (_data(c, "recency_days") >= c["repurchase_cycle_days"]),
        lambda r: (
            r["recency_days"] is not None
            and r["repurchase_cycle_days"] is not None
            and r["recency_days"] >= r["repurchase_cycle_days"]
        ),
    ),
    Case(
        "orders_365d >= 2 and orders_90d == 0",
        lambda c: (c["orders_365d"] >= 2) & (c["orders_90d"] == 0),
        lambda r: r["orders_365d"] >= 2 and r["orders_90d"] == 0,
        "orders_365d >= 2 and orders_90d == 0",
    ),
    Case(
        'city not in ["北京", "上海", "广州", "深圳"] and spend_90d > 500',
        lambda c: ~_in(c["city"], BIG_CITIES) & (c["city"] != None) & (c["spend_90d"] > 500),  # noqa: E711
        lambda r: r["city"] is not None and r["city"] not in BIG_CITIES and r["spend_90d"] > 500,
    ),
    Case(
        "top_price_share >= 0.3 and frequency >= 2",
        lambda c: (c["top_price_share"] >= 0.3) & (c["frequency"] >= 2),
        lambda r: r["top_price_share"] is not None and r["top_price_share"] >= 0.3 and r["frequency"] >= 2,
    ),
]


def numpy_columns(table: Table) -> dict[str, Any]:
    """The columns as an analyst holds them: numpy arrays (masked where ints have nulls)."""
    return {name: table[name] for name in table.columns}


def check(rows: int = 3000, *, seed: int = 11) -> int:
    """Assert every baseline agrees with Rule.evaluate and Rule.evaluate_one; return rows checked."""
    table = synthetic_customers(rows, seed=seed, as_of=AS_OF)
    columns = numpy_columns(table)
    records = table.to_dicts()
    for case in CASES:
        rule = Rule.parse(case.text)
        batch = rule.evaluate(table, as_of=AS_OF)
        baseline = np.asarray(case.numpy(columns), dtype=bool)
        assert np.array_equal(batch, baseline), f"numpy baseline disagrees: {case.text}"
        scalar = [rule.evaluate_one(r, as_of=AS_OF) for r in records]
        python = [bool(case.python(r)) for r in records]
        assert scalar == python == batch.tolist(), f"scalar paths disagree: {case.text}"
    return rows


def _bench_batch(table: Table) -> list[list[Any]]:
    columns = numpy_columns(table)
    rows = []
    for case in CASES:
        rule = Rule.parse(case.text)
        rule.evaluate(table.select(table.columns), as_of=AS_OF)  # compile once, not in the timing
        ours, _ = best_of(lambda: rule.evaluate(Table._trusted(dict(columns)), as_of=AS_OF))
        base, _ = best_of(lambda: case.numpy(columns))
        rows.append([case.text, ours, base])
    return rows


def _bench_scalar(records: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for case in CASES:
        rule = Rule.parse(case.text)
        evaluate_one, python = rule.evaluate_one, case.python
        ours, _ = best_of(lambda: [evaluate_one(r, as_of=AS_OF) for r in records])
        base, _ = best_of(lambda: [python(r) for r in records])
        rows.append([case.text, ours, base])
    return rows


def _bench_rule_engine(records: list[dict[str, Any]]) -> list[list[Any]] | None:
    try:
        import rule_engine
    except ImportError:
        return None
    rows = []
    for case in CASES:
        if case.rule_engine is None:
            continue
        theirs = rule_engine.Rule(case.rule_engine)
        ours_rule = Rule.parse(case.text)
        assert [theirs.matches(r) for r in records[:2000]] == [
            ours_rule.evaluate_one(r, as_of=AS_OF) for r in records[:2000]
        ]
        ours, _ = best_of(lambda: [ours_rule.evaluate_one(r, as_of=AS_OF) for r in records], repeat=2)
        other, _ = best_of(lambda: [theirs.matches(r) for r in records], repeat=1)
        rows.append([case.text, ours, other])
    return rows


def _ratio_rows(rows: list[list[Any]], count: int) -> list[list[Any]]:
    out = []
    for text, ours, base in rows:
        out.append(
            [
                f"`{text}`",
                f"{ours * 1e3:.1f}",
                f"{base * 1e3:.1f}",
                f"{ours / base:.2f}x",
                f"{count / ours / 1e6:.2f}",
            ]
        )
    total_ours, total_base = sum(r[1] for r in rows), sum(r[2] for r in rows)
    out.append(
        [
            "**all rules**",
            f"{total_ours * 1e3:.1f}",
            f"{total_base * 1e3:.1f}",
            f"**{total_ours / total_base:.2f}x**",
            f"{count * len(rows) / total_ours / 1e6:.2f}",
        ]
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--scalar-rows", type=int, default=100_000)
    args = parser.parse_args(argv)
    print(f"machine: {machine_description()}")
    print(f"correctness check: {check()} rows agree in all {len(CASES)} rules\n")
    table = synthetic_customers(args.rows, as_of=AS_OF)
    print(f"## Batch: {args.rows:,} rows, Rule.evaluate vs hand-written numpy masks\n")
    print_table(
        ["rule", "ours ms", "numpy ms", "ratio", "ours M rows/s"], _ratio_rows(_bench_batch(table), args.rows)
    )
    records = table.select(table.columns).to_dicts()[: args.scalar_rows]
    print(f"\n## Scalar: {len(records):,} records, Rule.evaluate_one vs a Python lambda\n")
    print_table(
        ["rule", "ours ms", "lambda ms", "ratio", "ours M rows/s"],
        _ratio_rows(_bench_scalar(records), len(records)),
    )
    engine_rows = _bench_rule_engine(records[:20_000])
    if engine_rows is None:
        print("\nrule-engine is not installed: `pip install rule-engine` to compare with it.")
    else:
        print(f"\n## Scalar: {min(len(records), 20_000):,} records, Rule.evaluate_one vs rule-engine\n")
        print_table(
            ["rule", "ours ms", "rule-engine ms", "ratio", "ours M rows/s"],
            _ratio_rows(engine_rows, min(len(records), 20_000)),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

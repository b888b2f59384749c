"""The default policy on hand-made customers: every stage, exact k×cycle boundaries, floors and caps."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from user_ops import ConfigError, DataError
from user_ops.datasets import DEFAULT_AS_OF, synthetic_shop
from user_ops.lifecycle import LifecyclePolicy, default_policy, population_cycle

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_lifecycle  # noqa: E402

AS_OF = datetime(2024, 6, 30, tzinfo=timezone.utc)
POLICY = LifecyclePolicy.default()


def customer(
    frequency: int | None = 3,
    recency: int | None = 10,
    cycle: float | None = 20.0,
    tenure: int | None = 400,
    **extra: Any,
) -> dict[str, Any]:
    first = None if tenure is None else AS_OF - timedelta(days=tenure)
    return {
        "frequency": frequency,
        "recency_days": recency,
        "repurchase_cycle_days": cycle,
        "first_order_at": first,
        **extra,
    }


def stage_of(record: dict[str, Any], policy: LifecyclePolicy = POLICY) -> str:
    one = policy.classify_one(record, as_of=AS_OF).stage
    batch = policy.classify([record], as_of=AS_OF)["stage"][0]
    assert one == batch
    return one


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (customer(frequency=0, recency=None, cycle=None, tenure=None), "prospect"),
        (customer(frequency=1, recency=5, cycle=None, tenure=5), "introduction"),
        (customer(frequency=2, recency=5, cycle=10.0, tenure=40), "growth"),
        (customer(frequency=6, recency=5, cycle=30.0, tenure=40), "growth"),  # frequent but young
        (customer(frequency=6, recency=5, cycle=30.0, tenure=400), "maturity"),
        (customer(frequency=6, recency=70, cycle=30.0, tenure=400), "dormancy"),
        (customer(frequency=6, recency=130, cycle=30.0, tenure=400), "churn"),
        (customer(frequency=None, recency=5, cycle=None, tenure=5), "unclassified"),
    ],
)
def test_each_stage_is_reached(record: dict[str, Any], expected: str) -> None:
    assert stage_of(record) == expected


def test_dormancy_and_churn_boundaries_are_exact_multiples_of_the_own_cycle() -> None:
    # cycle 40: dormant after 2×40 = 80 days, churned after 4×40 = 160 (strictly more)
    assert stage_of(customer(recency=80, cycle=40.0)) == "growth"
    assert stage_of(customer(recency=81, cycle=40.0)) == "dormancy"
    assert stage_of(customer(recency=160, cycle=40.0)) == "dormancy"
    assert stage_of(customer(recency=161, cycle=40.0)) == "churn"
    # a fractional cycle: 2×22.5 = 45
    assert stage_of(customer(recency=45, cycle=22.5)) == "growth"
    assert stage_of(customer(recency=46, cycle=22.5)) == "dormancy"


def test_floors_and_the_churn_cap() -> None:
    # a 3-day cycle: 2×3 = 6 but never dormant before 30 days, never churned before 90
    assert stage_of(customer(recency=30, cycle=3.0)) == "growth"
    assert stage_of(customer(recency=31, cycle=3.0)) == "dormancy"
    assert stage_of(customer(recency=90, cycle=3.0)) == "dormancy"
    assert stage_of(customer(recency=91, cycle=3.0)) == "churn"
    # a 200-day cycle: not dormant at 300 days (< 400), but churned after a year whatever the cycle
    assert stage_of(customer(recency=300, cycle=200.0)) == "growth"
    assert stage_of(customer(recency=365, cycle=200.0)) == "growth"
    assert stage_of(customer(recency=366, cycle=200.0)) == "churn"
    uncapped = LifecyclePolicy.default(churn_max_days=None, dormancy_max_days=120)
    assert stage_of(customer(recency=366, cycle=200.0), uncapped) == "dormancy"
    assert stage_of(customer(recency=801, cycle=200.0), uncapped) == "churn"


def test_one_order_customers_use_the_population_cycle() -> None:
    policy = LifecyclePolicy.default(population_cycle_days=50)
    assert stage_of(customer(frequency=1, recency=100, cycle=None, tenure=100), policy) == "introduction"
    assert stage_of(customer(frequency=1, recency=101, cycle=None, tenure=101), policy) == "dormancy"
    assert stage_of(customer(frequency=1, recency=200, cycle=None, tenure=200), policy) == "dormancy"
    assert stage_of(customer(frequency=1, recency=201, cycle=None, tenure=201), policy) == "churn"
    # a repeat buyer keeps their own cycle
    assert stage_of(customer(frequency=2, recency=101, cycle=60.0), policy) == "growth"


def test_p_alive_option_adds_a_churn_condition() -> None:
    policy = LifecyclePolicy.default(p_alive_below=0.3)
    assert stage_of(customer(recency=10, p_alive=0.1), policy) == "churn"
    assert stage_of(customer(recency=10, p_alive=0.3), policy) == "growth"
    assert stage_of(customer(recency=10, p_alive=None), policy) == "growth"  # unknown: days decide
    assert stage_of(customer(recency=500, p_alive=None), policy) == "churn"
    why = policy.classify_one(customer(recency=10, p_alive=0.1), as_of=AS_OF)
    assert why.matched_rule is not None and "p_alive < 0.3" in why.matched_rule
    with pytest.raises(DataError, match=r"lacks: \['p_alive', 'first_order_at'\]"):
        policy.classify({"frequency": [1], "recency_days": [1], "repurchase_cycle_days": [None]}, as_of=AS_OF)


def test_mature_monetary_option() -> None:
    policy = LifecyclePolicy.default(mature_monetary=1000)
    assert policy["maturity"].when is not None
    assert policy["maturity"].when.to_text().endswith("monetary >= 1000")
    assert stage_of(customer(frequency=6, monetary=999.0), policy) == "growth"
    assert stage_of(customer(frequency=6, monetary=1000.0), policy) == "maturity"


def test_rules_are_printable_and_documented() -> None:
    texts = {s.code: (s.when.to_text() if s.when else None) for s in POLICY.stages}
    assert texts == {
        "prospect": "frequency == 0",
        "churn": "recency_days > min(max(4 * coalesce(repurchase_cycle_days, 30), 90), 365)",
        "dormancy": "recency_days > max(2 * coalesce(repurchase_cycle_days, 30), 30)",
        "introduction": "frequency == 1",
        "maturity": "frequency >= 4 and days_since(first_order_at) >= 90",
        "growth": "frequency >= 2",
        "unclassified": None,
    }
    assert all(s.description for s in POLICY.stages)
    assert default_policy() == POLICY and POLICY.name == "default"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"population_cycle_days": 0}, "population_cycle_days"),
        ({"population_cycle_days": float("nan")}, "population_cycle_days"),
        ({"dormancy_multiple": 3, "churn_multiple": 3}, "larger"),
        ({"dormancy_min_days": -1}, "dormancy_min_days"),
        ({"churn_min_days": 10}, "churn_min_days"),
        ({"churn_max_days": 50}, "below churn_min_days"),
        ({"mature_orders": 1}, "mature_orders"),
        ({"p_alive_below": 1.5}, "probability"),
    ],
)
def test_bad_thresholds_are_config_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LifecyclePolicy.default(**options)


def test_population_cycle_and_default_for() -> None:
    table = {"repurchase_cycle_days": [10.0, None, 30.0, 14.0, float("nan")]}
    assert population_cycle(table) == 14.0
    assert population_cycle(table, quantile=1.0) == 30.0
    assert "coalesce(repurchase_cycle_days, 14)" in str(LifecyclePolicy.default_for(table)["churn"].when)
    with pytest.raises(DataError, match="no repeat buyers"):
        population_cycle({"repurchase_cycle_days": [None, None]})
    with pytest.raises(ConfigError):
        population_cycle(table, quantile=2)


def test_demo_shop_every_stage_populated_and_counts_add_up() -> None:
    metrics = synthetic_shop(2000).customer_metrics()
    policy = LifecyclePolicy.default_for(metrics)
    stages = policy.classify(metrics, as_of=DEFAULT_AS_OF)
    counts = stages.counts()
    assert sum(counts.values()) == 2000
    assert all(counts[code] > 0 for code in policy.codes[:-1])
    assert counts["unclassified"] == 0


def test_benchmark_baseline_agrees() -> None:
    assert bench_lifecycle.check(3000, seed=2) == 3000

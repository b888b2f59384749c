"""The benchmarks' correctness checks: each baseline must compute what the library computes."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_metrics  # noqa: E402
import bench_rules  # noqa: E402


def test_rule_baselines_agree_with_both_paths() -> None:
    assert bench_rules.check(1500, seed=5) == 1500


def test_twenty_rules_are_benchmarked() -> None:
    assert len(bench_rules.CASES) == 20


def test_metrics_baselines_agree_with_customer_metrics() -> None:
    assert bench_metrics.check(3000, seed=5) == 300

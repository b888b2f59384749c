"""The RFM benchmark's baseline computes what the library computes, where the definitions coincide."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_rfm  # noqa: E402


def test_rfm_baseline_agrees_on_distinct_values() -> None:
    assert bench_rfm.check(2000, seed=3) == 2000

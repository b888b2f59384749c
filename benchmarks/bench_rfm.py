"""RFM: fit and score a million customers, against hand-written numpy and pandas baselines.

Run ``python benchmarks/bench_rfm.py [--rows N] [--scalar-rows N]``. In one run it reports:

* ``RFMModel.quantile().fit`` (tie-aware cut-points) vs ``np.quantile`` per dimension;
* ``model.score`` (scores, code, classic segment and labels) vs ``np.digitize`` on those quantiles
  plus a hand-written ``np.select`` of the same RF grid, and vs ``pandas.qcut`` on ranks;
* ``model.score_one`` per record (a backend request).

``check(n)`` asserts that the numpy baseline gives exactly our scores and segments where the two
definitions coincide — distinct values and ``n`` a multiple of the bins, so equal-count bins are
unambiguous; the test suite runs it (``tests/rfm/test_bench.py``), so the baseline stays honest.
On real data with ties the baseline's bins differ by design: ``np.quantile`` splits a tie group only
if the interpolated cut lands inside it, and a heavy tie collapses its bins.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import best_of, machine_description, print_table

from user_ops import Table
from user_ops.datasets import synthetic_customers
from user_ops.rfm import RFMModel, SegmentMap

BINS = 5
QUANTILES = np.linspace(0, 1, BINS + 1)[1:-1]
CLASSIC = SegmentMap.classic()


def baseline_cuts(recency: Any, frequency: Any, monetary: Any) -> tuple[Any, Any, Any]:
    """Quintile cut-points as an analyst writes them: np.quantile per dimension."""
    return (
        np.quantile(recency, QUANTILES),
        np.quantile(frequency, QUANTILES),
        np.quantile(monetary, QUANTILES),
    )


def baseline_scores(
    recency: Any, frequency: Any, monetary: Any, cuts: tuple[Any, Any, Any]
) -> tuple[Any, Any, Any]:
    """np.digitize on those cut-points, recency reversed (fewer days, higher score)."""
    r = BINS - np.digitize(recency, cuts[0])
    f = 1 + np.digitize(frequency, cuts[1])
    m = 1 + np.digitize(monetary, cuts[2])
    return r, f, m


def baseline_segments(r: Any, f: Any) -> Any:
    """The classic RF grid written out with np.select (first match wins, as in the map)."""
    conditions = [
        (r >= 4) & (f >= 4),
        (r == 3) & (f >= 4),
        (r >= 4) & (f >= 2),
        (r == 5) & (f == 1),
        (r == 4) & (f == 1),
        (r == 3) & (f == 3),
        r == 3,
        (r <= 2) & (f == 5),
        (r <= 2) & (f >= 3),
        r == 2,
    ]
    return np.select(conditions, list(CLASSIC.codes[:-1]), default=CLASSIC.codes[-1])


def baseline_full(recency: Any, frequency: Any, monetary: Any, cuts: tuple[Any, Any, Any]) -> dict[str, Any]:
    """Scores, code strings and classic segments, all by hand."""
    r, f, m = baseline_scores(recency, frequency, monetary, cuts)
    code = (100 * r + 10 * f + m).astype(str)
    return {"r": r, "f": f, "m": m, "rfm_code": code, "segment": baseline_segments(r, f)}


def pandas_qcut(recency: Any, frequency: Any, monetary: Any) -> tuple[Any, Any, Any]:
    """The other common recipe: pandas.qcut on ranks (ties broken by position)."""
    import pandas as pd

    def qcut(values: Any, labels: list[int]) -> Any:
        ranks = pd.Series(values).rank(method="first")
        return pd.qcut(ranks, BINS, labels=labels).astype(int).to_numpy()

    up = list(range(1, BINS + 1))
    return qcut(recency, up[::-1]), qcut(frequency, up), qcut(monetary, up)


def distinct_population(n: int, seed: int) -> Table:
    """Customers whose recency, frequency and monetary values are all distinct."""
    rng = np.random.default_rng(seed)
    return Table(
        {
            "customer_id": np.arange(1, n + 1),
            "recency_days": rng.permutation(n) * 3 + 1,
            "frequency": rng.permutation(n) + 1,
            "monetary": rng.permutation(n) * 1.25 + rng.random(n) * 0.5,
        }
    )


def check(n: int = 10_000, *, seed: int = 5) -> int:
    """Assert the numpy baseline gives our scores, codes and segments on distinct values."""
    if n % BINS:
        raise ValueError(f"n must be a multiple of {BINS}")
    table = distinct_population(n, seed)
    model = RFMModel.quantile(bins=BINS).fit(table)
    ours = model.score(table)
    columns = (table["recency_days"], table["frequency"], table["monetary"])
    theirs = baseline_full(*columns, baseline_cuts(*columns))
    for name, values in theirs.items():
        assert np.asarray(ours[name]).astype(str).tolist() == np.asarray(values).astype(str).tolist(), name
    for index in range(0, n, max(1, n // 200)):  # and the scalar path, on a sample
        row = table.row(index)
        expected = ours.row(index)
        expected.pop("customer_id")
        assert model.score_one(row).to_dict() == expected
    return n


def _timings(table: Table) -> list[list[Any]]:
    recency = np.ma.getdata(table["recency_days"]).astype(np.float64)
    bought = ~np.ma.getmaskarray(table["recency_days"])
    data = (recency[bought], table["frequency"][bought], table["monetary"][bought])
    cuts = baseline_cuts(*data)
    model = RFMModel.quantile(bins=BINS)
    fit_s, fitted = best_of(lambda: model.fit(table))
    quantile_s, _ = best_of(lambda: baseline_cuts(*data))
    score_s, _ = best_of(lambda: fitted.score(table))
    digitize_s, _ = best_of(lambda: baseline_scores(*data, cuts))
    full_s, _ = best_of(lambda: baseline_full(*data, cuts))
    both_s, _ = best_of(lambda: model.fit(table).score(table))
    both_base_s, _ = best_of(lambda: baseline_full(*data, baseline_cuts(*data)))
    qcut_s, _ = best_of(lambda: pandas_qcut(*data))
    return [
        ["fit: cut-points", fit_s, quantile_s, "np.quantile x3"],
        ["score: everything vs scores only", score_s, digitize_s, "np.digitize x3 (no code, no segment)"],
        ["score: scores, code, segment, labels", score_s, full_s, "np.digitize + code strings + np.select"],
        ["fit + score", both_s, both_base_s, "all of the above by hand"],
        ["fit + score", both_s, qcut_s, "pandas.qcut on ranks (scores only)"],
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--scalar-rows", type=int, default=100_000)
    args = parser.parse_args(argv)
    import pandas as pd

    print(f"machine: {machine_description([f'pandas {pd.__version__}'])}")
    print(f"correctness check: {check()} customers agree with the numpy baseline\n")
    table = synthetic_customers(args.rows)
    print(f"## Batch: {args.rows:,} synthetic customers (about 15 % never bought), quintiles\n")
    rows = [
        [what, f"{ours * 1e3:.1f}", f"{base * 1e3:.1f}", f"{ours / base:.2f}x", baseline]
        for what, ours, base, baseline in _timings(table)
    ]
    print_table(["step", "ours ms", "baseline ms", "ratio", "baseline"], rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = RFMModel.quantile(bins=BINS).fit(table)
    columns = ("recency_days", "frequency", "monetary")
    records = [{c: row[c] for c in columns} for row in table.select(columns).to_dicts()[: args.scalar_rows]]
    seconds, _ = best_of(lambda: [model.score_one(r) for r in records])
    print(f"\n## Scalar: score_one over {len(records):,} records\n")
    print_table(
        ["records", "total ms", "µs per record"],
        [[f"{len(records):,}", f"{seconds * 1e3:.1f}", f"{seconds / len(records) * 1e6:.2f}"]],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

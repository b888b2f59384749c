"""Batch evaluation memory does not grow with the number of terms of an and/or chain."""

from __future__ import annotations

import tracemalloc
from datetime import datetime, timezone

import numpy as np
import pytest

from user_ops import Rule, Table

AS_OF = datetime(2024, 6, 30, tzinfo=timezone.utc)
ROWS = 100_000
TERMS = 1_000


def _table() -> tuple[Table, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    values = rng.integers(0, 2 * TERMS, ROWS)
    nulls = rng.random(ROWS) < 0.1
    return Table({"x": np.ma.MaskedArray(values, mask=nulls)}), values, nulls


def _peak_bytes(rule: Rule, table: Table) -> tuple[int, tuple[np.ndarray, np.ndarray]]:
    rule.values(table, as_of=AS_OF)  # warm the table's column cache and the compiled tree
    tracemalloc.start()
    try:
        result = rule.values(table, as_of=AS_OF)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, result


@pytest.mark.parametrize("word", ["or", "and"])
def test_a_thousand_term_chain_needs_memory_of_a_few_columns_not_of_a_thousand(word: str) -> None:
    table, values, nulls = _table()
    op = "==" if word == "or" else "!="
    rule = Rule.parse(f" {word} ".join(f"x {op} {k}" for k in range(TERMS)))
    peak, (got, unknown) = _peak_bytes(rule, table)
    # One int64 column is 800 kB; keeping every term's result alive took over 200 MB here.
    assert peak < 8 * values.nbytes, f"peak {peak / 1e6:.1f} MB"
    # The meaning is unchanged (SQL three-valued logic): x == k is unknown where x is null.
    hit = values < TERMS
    if word == "or":  # true on a hit, else unknown on a null, else false
        assert np.array_equal(unknown, nulls)
        assert np.array_equal(got, hit & ~nulls)
    else:  # x != k for every k: false on a hit, else unknown on a null, else true
        assert np.array_equal(unknown, nulls)
        assert np.array_equal(got, ~hit & ~nulls)


def test_a_chain_mixing_nulls_constants_and_settled_rows_keeps_three_valued_logic() -> None:
    table = Table({"a": [True, False, None, None, False], "b": [None, None, None, True, False]})
    as_of = AS_OF
    cases = {
        "a or b or false": [True, None, None, True, False],
        "a and b and true": [None, False, None, None, False],
        "false or a or b": [True, None, None, True, False],
        "b or true": [True] * 5,
        "a and false": [False] * 5,
    }
    for text, expected in cases.items():
        rule = Rule.parse(text)
        got, unknown = rule.values(table, as_of=as_of)
        assert [None if u else bool(v) for v, u in zip(got.tolist(), unknown.tolist())] == expected, text
        scalar = [rule.value_one(row, as_of=as_of) for row in table.to_dicts()]
        assert scalar == expected, text

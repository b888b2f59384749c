"""transitions(): every customer accounted for once (new / gone), totals reconcile, bad ids rejected."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from user_ops import DataError
from user_ops.datasets import DEFAULT_AS_OF, synthetic_shop
from user_ops.lifecycle import LifecyclePolicy, transitions

POLICY = LifecyclePolicy.default()


def test_matrix_flows_and_customers() -> None:
    before = {"customer_id": [1, 2, 3, 4], "stage": ["introduction", "growth", "growth", "maturity"]}
    after = {"customer_id": [5, 3, 2, 1], "stage": ["introduction", "dormancy", "maturity", "introduction"]}
    moves = transitions(before, after, policy=POLICY)
    assert moves.sources[-1] == "new" and moves.targets[-1] == "gone"
    assert moves.count("growth", "maturity") == 1 and moves.count("growth", "dormancy") == 1
    assert moves.count("introduction", "introduction") == 1
    assert moves.count("maturity", "gone") == 1 and moves.count("new", "introduction") == 1
    assert (moves.total, moves.n_before, moves.n_after, moves.new, moves.gone, moves.stayed) == (
        5,
        4,
        4,
        1,
        1,
        1,
    )
    assert moves.customers("maturity", "gone").tolist() == [4]
    assert moves.customers("new", "introduction").tolist() == [5]
    matrix = moves.matrix
    assert matrix["from_stage"].tolist() == [*POLICY.lifecycle_codes, "new"]  # lifecycle order
    assert matrix.columns == ("from_stage", *POLICY.lifecycle_codes, "gone", "total")
    assert int(matrix["total"].sum()) == 5
    flows = moves.flows
    assert int(flows["count"].sum()) == 5 and bool((flows["count"] > 0).all())
    assert ("growth", "maturity") in set(zip(flows["source"].tolist(), flows["target"].tolist(), strict=True))
    assert "from \\ to" in str(moves) and "user-ops-transitions" in moves._repr_html_()
    with pytest.raises(KeyError, match="no target state"):
        moves.count("growth", "nowhere")


def test_stage_tables_from_two_as_of_dates() -> None:
    metrics = synthetic_shop(600).customer_metrics()
    earlier = synthetic_shop(600).customer_metrics()  # the same shop, classified at an earlier instant
    after = POLICY.classify(metrics, as_of=DEFAULT_AS_OF)
    before = POLICY.classify(earlier, as_of=DEFAULT_AS_OF - timedelta(days=1))
    moves = transitions(before, after)
    assert moves.total == 600 and moves.new == 0 and moves.gone == 0
    assert moves.sources[:-1] == POLICY.lifecycle_codes


def test_without_policy_codes_are_sorted() -> None:
    moves = transitions({"customer_id": ["a"], "stage": ["y"]}, {"customer_id": ["b"], "stage": ["x"]})
    assert moves.sources == ("x", "y", "new") and moves.targets == ("x", "y", "gone")
    assert moves.count("y", "gone") == 1 and moves.count("new", "x") == 1


def test_empty_snapshot_means_everyone_is_new() -> None:
    moves = transitions(
        {"customer_id": [], "stage": []},
        {"customer_id": [1, 2], "stage": ["growth", "growth"]},
        policy=POLICY,
    )
    assert moves.new == 2 and moves.total == 2


@pytest.mark.parametrize(
    ("before", "after", "message"),
    [
        (
            {"customer_id": [1, 1], "stage": ["growth", "growth"]},
            {"customer_id": [1], "stage": ["growth"]},
            "duplicate 'customer_id' in the before snapshot: 1",
        ),
        (
            {"customer_id": [1], "stage": ["growth"]},
            {"customer_id": ["x", "x"], "stage": ["growth", "growth"]},
            "duplicate 'customer_id' in the after snapshot",
        ),
        (
            {"customer_id": [1], "stage": ["growth"]},
            {"customer_id": ["1"], "stage": ["growth"]},
            "int ids before",
        ),
        (
            {"customer_id": [1, None], "stage": ["growth", "growth"]},
            {"customer_id": [1], "stage": ["growth"]},
            "null at row 1",
        ),
        ({"id": [1], "stage": ["growth"]}, {"customer_id": [1], "stage": ["growth"]}, "no 'customer_id'"),
        (
            {"customer_id": [1], "stage": ["nope"]},
            {"customer_id": [1], "stage": ["growth"]},
            "not in the policy",
        ),
    ],
)
def test_bad_snapshots_are_data_errors(
    before: dict[str, list[object]], after: dict[str, list[object]], message: str
) -> None:
    with pytest.raises(DataError, match=message):
        transitions(before, after, policy=POLICY)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(st.integers(0, 60), st.sampled_from(POLICY.codes), max_size=40),
    st.dictionaries(st.integers(0, 60), st.sampled_from(POLICY.codes), max_size=40),
)
def test_totals_reconcile(before: dict[int, str], after: dict[int, str]) -> None:
    snap_b = {"customer_id": np.array(list(before), dtype=np.int64), "stage": list(before.values())}
    snap_a = {"customer_id": np.array(list(after), dtype=np.int64), "stage": list(after.values())}
    moves = transitions(snap_b, snap_a, policy=POLICY)
    union = set(before) | set(after)
    assert moves.total == len(union) == int(moves.flows["count"].sum()) == int(moves.matrix["total"].sum())
    assert moves.n_before == len(before) and moves.n_after == len(after)
    assert moves.new == len(set(after) - set(before)) and moves.gone == len(set(before) - set(after))
    for cid in union:
        source = before.get(cid, "new")
        target = after.get(cid, "gone")
        assert cid in moves.customers(source, target).tolist()


def test_as_of_dates_via_the_rule_language() -> None:
    # the customer's record at a later snapshot: 50 days without an order, cycle 20 → dormant
    first = datetime(2023, 1, 1, tzinfo=timezone.utc)
    record = {
        "customer_id": [7],
        "frequency": [3],
        "recency_days": [10],
        "repurchase_cycle_days": [20.0],
        "first_order_at": [first],
    }
    later = dict(record, recency_days=[50])
    moves = transitions(
        POLICY.classify(record, as_of=DEFAULT_AS_OF), POLICY.classify(later, as_of=DEFAULT_AS_OF)
    )
    assert moves.count("growth", "dormancy") == 1

"""The engine-agnostic core of scaling out: partition helpers and the exact partitioned RFM fit."""

from __future__ import annotations

import itertools
import warnings
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from user_ops import DataError, UserOpsWarning
from user_ops._scale import (
    concat_tables,
    exact_quantile,
    hash_partition,
    in_memory_pair_reducer,
    in_memory_reducer,
    order_statistics,
    split_by_key,
    split_rows,
    take_rows,
)
from user_ops._table import Table
from user_ops.coupons import (
    Benefit,
    CouponTemplate,
    FrequencyCap,
    IssuanceBudget,
    IssuanceCaps,
    plan_issuance,
)
from user_ops.coupons.partitioned import plan_issuance_partitioned
from user_ops.rfm import RFMModel, fit_partitioned


# -- data -------------------------------------------------------------------------------------------
@st.composite
def customer_tables(draw: st.DrawFn) -> Table:
    """Per-customer R/F/M with heavy ties, one-purchase customers and never-bought (null) rows."""
    n = draw(st.integers(1, 300))
    pool = draw(st.integers(1, 60))  # few distinct values: many ties
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    recency = rng.integers(0, pool * 7 + 1, n).astype(np.float64)
    frequency = np.where(rng.random(n) < draw(st.floats(0, 1)), 1, rng.integers(1, pool + 2, n))
    money_kind = draw(st.sampled_from(["cents", "integral", "heavy"]))
    if money_kind == "cents":
        monetary = np.round(rng.gamma(2.0, 80.0, n), 2)
    elif money_kind == "integral":
        monetary = rng.integers(1, pool * 50 + 2, n).astype(np.float64)
    else:
        monetary = rng.choice(np.round(rng.gamma(2.0, 80.0, pool), 2), n)
    never = rng.random(n) < draw(st.floats(0, 0.5))
    never[draw(st.integers(0, n - 1))] = False  # at least one customer with a purchase
    return Table(
        {
            "customer_id": rng.permutation(n) + 1,
            "recency_days": [None if x else float(v) for x, v in zip(never, recency)],
            "frequency": np.where(never, 0, frequency),
            "monetary": np.where(never, 0.0, monetary),
        }
    )


def random_partitions(draw: st.DrawFn, table: Table) -> list[Table]:
    """Contiguous random-size partitions, empty ones included."""
    k = draw(st.integers(1, 12))
    cuts = sorted(draw(st.lists(st.integers(0, len(table)), min_size=k - 1, max_size=k - 1)))
    bounds = [0, *cuts, len(table)]
    return [take_rows(table, np.arange(a, b)) for a, b in itertools.pairwise(bounds)]


MODELS = [
    RFMModel.quantile(bins=5),
    RFMModel.quantile(bins=2),
    RFMModel.quantile(bins=3),
    RFMModel.quantile(bins=9),
    RFMModel.mean(),
    RFMModel.thresholds(recency=[7, 30], frequency=[2, 5], monetary=[100, 300]),
]


def _fit_both(model: RFMModel, table: Table, parts: list[Table], **options: Any) -> tuple[Any, Any]:
    with warnings.catch_warnings(record=True) as single:
        warnings.simplefilter("always")
        expected = model.fit(table)
    with warnings.catch_warnings(record=True) as partitioned:
        warnings.simplefilter("always")
        got = fit_partitioned(model, in_memory_reducer(parts), **options)
    assert [str(w.message) for w in partitioned] == [str(w.message) for w in single]
    return expected, got


# -- property: partitioned == single machine ---------------------------------------------------------
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    table=customer_tables(),
    model=st.sampled_from(MODELS),
    gather_limit=st.sampled_from([1, 3, 20, 100_000]),
    bins_per_pass=st.sampled_from([2, 3, 16, 1024]),
)
def test_fit_partitioned_equals_fit(
    data: st.DataObject, table: Table, model: RFMModel, gather_limit: int, bins_per_pass: int
) -> None:
    parts = random_partitions(data.draw, table)
    expected, got = _fit_both(model, table, parts, gather_limit=gather_limit, bins_per_pass=bins_per_pass)
    assert got == expected
    assert got.content_hash() == expected.content_hash()


@settings(max_examples=60, deadline=None)
@given(table=customer_tables(), partitions=st.integers(1, 9))
def test_mean_with_order_by_matches_the_sorted_table(table: Table, partitions: int) -> None:
    # Hash partitions scramble the row order; order_by puts the values back in the id order of the table.
    ordered = take_rows(table, np.argsort(table["customer_id"], kind="stable"))
    parts = split_by_key(table, "customer_id", partitions)
    expected, got = _fit_both(RFMModel.mean(), ordered, parts, order_by="customer_id")
    assert got.content_hash() == expected.content_hash()


# -- examples ----------------------------------------------------------------------------------------
def test_tie_heavy_bins_are_refined_not_gathered_and_still_exact() -> None:
    rng = np.random.default_rng(3)
    n = 50_000
    frequency = np.where(rng.random(n) < 0.6, 1, rng.integers(2, 40, n))  # 60 % one-purchase customers
    table = Table(
        {"recency_days": rng.integers(0, 700, n), "frequency": frequency, "monetary": rng.gamma(2, 90, n)}
    )
    parts = split_rows(table, 8)
    seen: list[int] = []

    def counting(task: Any) -> list[Any]:
        seen.append(1)
        return in_memory_reducer(parts)(task)

    expected = RFMModel.quantile(bins=5).fit(table)
    got = fit_partitioned(RFMModel.quantile(bins=5), counting, gather_limit=500, bins_per_pass=64)
    assert got == expected
    assert len(seen) <= 6  # summary, histogram, a refinement or two, the gathers


def test_single_value_warns_like_fit() -> None:
    table = Table({"recency_days": [5.0, 5.0, 5.0], "frequency": [1, 2, 3], "monetary": [1.0, 2.0, 3.0]})
    expected, got = _fit_both(RFMModel.quantile(bins=5), table, split_rows(table, 2))
    assert got == expected
    with pytest.warns(UserOpsWarning, match="recency_days"):
        fit_partitioned(RFMModel.mean(), in_memory_reducer(split_rows(table, 3)))


def test_no_purchase_anywhere_is_a_data_error() -> None:
    table = Table({"recency_days": [None, None], "frequency": [0, 0], "monetary": [0.0, 0.0]})
    with pytest.raises(DataError, match="no customer has a purchase"):
        fit_partitioned(RFMModel.quantile(), in_memory_reducer(split_rows(table, 2)))


def test_bad_values_raise_the_data_error_fit_raises() -> None:
    table = Table({"recency_days": [1.0, 2.0], "frequency": [1.0, float("nan")], "monetary": [1.0, 2.0]})
    with pytest.raises(DataError, match="'frequency' is null"):
        RFMModel.quantile().fit(table)
    with pytest.raises(DataError, match="'frequency' is null"):
        fit_partitioned(RFMModel.quantile(), in_memory_reducer(split_rows(table, 2)))


def test_thresholds_model_is_checked_and_returned() -> None:
    model = MODELS[-1]
    table = Table({"recency_days": [1.0], "frequency": [-1], "monetary": [1.0]})
    with pytest.raises(DataError, match="negative"):
        fit_partitioned(model, in_memory_reducer([table]))
    good = Table({"recency_days": [1.0], "frequency": [1], "monetary": [1.0]})
    assert fit_partitioned(model, in_memory_reducer([good])) is model


def test_bad_options_are_data_errors() -> None:
    with pytest.raises(DataError, match="gather_limit"):
        fit_partitioned(RFMModel.quantile(), in_memory_reducer([]), gather_limit=0)


# -- partition helpers -------------------------------------------------------------------------------
def test_split_and_concat_round_trip_keeps_nulls_and_kinds() -> None:
    table = Table({"a": [1, None, 3, 4], "b": ["x", None, "z", "w"], "c": [1.5, None, 2.0, 3.0]})
    for n in (1, 2, 3, 7):
        assert concat_tables(split_rows(table, n)).equals(table)


def test_hash_partition_co_partitions_two_tables() -> None:
    left = Table({"id": [5, 1, 9, 1, 5]})
    right = Table({"id": [9, 5, 1]})
    for lp, rp in zip(split_by_key(left, "id", 3), split_by_key(right, "id", 3)):
        assert set(lp["id"].tolist()) == set(rp["id"].tolist())
    text = hash_partition(np.array(["a", "b", "a"], dtype=object), 5)
    assert text[0] == text[2]


def test_helpers_reject_bad_input() -> None:
    with pytest.raises(DataError, match="partitions"):
        split_rows(Table({"a": [1]}), 0)
    with pytest.raises(DataError, match="columns"):
        concat_tables([Table({"a": [1]}), Table({"b": [1]})])
    with pytest.raises(DataError, match="at least one"):
        concat_tables([])


# -- exact order statistics and quantile ---------------------------------------------------------------
def _values(table: Table) -> Any:
    return np.asarray(table["v"], dtype=np.float64)


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    values=st.lists(
        st.one_of(st.sampled_from([0.0, 1.5, 2.0, 99.99, float("nan")]), st.floats(-1e6, 1e6)),
        min_size=1,
        max_size=200,
    ),
    q=st.one_of(st.sampled_from([0.0, 0.5, 0.9, 1.0]), st.floats(0, 1)),
    gather_limit=st.sampled_from([1, 4, 100_000]),
    bins=st.sampled_from([2, 5, 1024]),
)
def test_exact_quantile_is_numpys_quantile(
    data: st.DataObject, values: list[float], q: float, gather_limit: int, bins: int
) -> None:
    table = Table({"v": np.array(values, dtype=np.float64)})
    parts = random_partitions(data.draw, table)
    finite = np.array([v for v in values if v == v])
    got = exact_quantile(in_memory_reducer(parts), _values, q, gather_limit=gather_limit, bins=bins)
    if len(finite) == 0:
        assert got is None
    else:
        assert got == float(np.quantile(finite, q))
        count, stats = order_statistics(in_memory_reducer(parts), _values, [0, len(finite) - 1])
        assert (count, stats) == (len(finite), [float(finite.min()), float(finite.max())])


def test_order_statistics_rejects_ranks_out_of_range() -> None:
    with pytest.raises(DataError, match="out of range"):
        order_statistics(in_memory_reducer([Table({"v": [1.0]})]), _values, [1])


# -- issuance with a global budget -------------------------------------------------------------------
AS_OF = datetime(2024, 7, 1, tzinfo=timezone.utc)
TEMPLATE = CouponTemplate(id="c5", currency="CNY", benefit=Benefit(kind="amount_off", amount="5 CNY"))


@st.composite
def issuance_inputs(draw: st.DrawFn) -> tuple[Table, Table, IssuanceBudget]:
    n = draw(st.integers(1, 80))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ids = rng.choice(10_000, n, replace=False)
    priority_kind = draw(st.sampled_from(["float", "int", "none"]))
    pool = rng.integers(0, 5, n)  # few values: ties broken by id
    if priority_kind == "float":
        priority: Any = [None if rng.random() < 0.2 else float(v) * 1.5 for v in pool]
    else:
        priority = [None if rng.random() < 0.2 else int(v) for v in pool]
    customers = Table(
        {
            "customer_id": ids,
            "stage": rng.choice(["active", "churning"], n).astype(object),
            "muted": rng.random(n) < 0.1,
            "score": priority,
        }
    )
    k = int(rng.integers(0, 60))
    contacts = Table(
        {
            "customer_id": rng.choice(ids, k) if k else np.empty(0, dtype=np.int64),
            "at": [AS_OF - timedelta(days=float(d)) for d in rng.integers(0, 40, k)],
            "kind": rng.choice(["coupon", "sms"], k).astype(object),
        }
    )
    budget = IssuanceBudget(
        count=draw(st.one_of(st.none(), st.integers(0, 40))),
        value=draw(st.sampled_from([None, "60 CNY", "1000 CNY"])),
        priority=None if priority_kind == "none" else "score",
        ascending=draw(st.booleans()),
    )
    return customers, contacts, budget


@settings(max_examples=120, deadline=None)
@given(
    inputs=issuance_inputs(),
    partitions=st.integers(1, 6),
    audience=st.sampled_from([None, 'stage == "churning"']),
)
def test_partitioned_issuance_equals_the_core(
    inputs: tuple[Table, Table, IssuanceBudget], partitions: int, audience: str | None
) -> None:
    customers, contacts, budget = inputs
    caps = IssuanceCaps(
        quiet_period="2d",
        opt_out_column="muted",
        frequency=(FrequencyCap(limit=2, window="30d", kinds=("coupon",)),),
    )
    holders = [int(i) for i in np.asarray(customers["customer_id"])[::7]]
    options: dict[str, Any] = {
        "audience": audience,
        "as_of": AS_OF,
        "caps": caps,
        "budget": budget,
        "holders": holders,
    }
    expected = plan_issuance(TEMPLATE, customers, contact_history=contacts, **options)
    reduce = in_memory_pair_reducer(
        split_by_key(customers, "customer_id", partitions), split_by_key(contacts, "customer_id", partitions)
    )
    back = np.argsort(np.asarray(expected.table["customer_id"]))
    want = {
        name: np.ma.asarray(expected.table[name])[back]
        for name in ("customer_id", "selected", "reason", "rank")
    }
    exact = plan_issuance_partitioned(TEMPLATE, reduce, **options)
    top_k = plan_issuance_partitioned(TEMPLATE, reduce, exact_ranks=False, **options)
    for got in (exact, top_k):
        assert got.counts == expected.counts
        assert got.face_value_total == expected.face_value_total
        assert got.selected_ids().tolist() == expected.selected_ids().tolist()
        order = np.argsort(np.asarray(got.table["customer_id"]))
        for name in ("customer_id", "selected", "reason"):
            assert np.asarray(got.table[name])[order].tolist() == np.asarray(want[name]).tolist()
    exact_rank = np.ma.asarray(exact.table["rank"])[np.argsort(np.asarray(exact.table["customer_id"]))]
    assert exact_rank.tolist() == want["rank"].tolist()  # every eligible customer's global rank, nulls alike
    top_rank = np.ma.asarray(top_k.table["rank"])[np.argsort(np.asarray(top_k.table["customer_id"]))]
    selected = np.asarray(want["selected"], dtype=bool)
    assert top_rank[selected].tolist() == want["rank"][selected].tolist()
    assert np.ma.getmaskarray(top_rank).tolist() == (~selected).tolist()  # top-k: no rank beyond the budget

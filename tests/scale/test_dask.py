"""The Dask adapter gives exactly the core's results (synchronous scheduler and a process cluster)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.scale.conftest import ScaleShop
from user_ops import DataError
from user_ops._scale import split_by_key, take_rows
from user_ops._table import Table
from user_ops.lifecycle import LifecyclePolicy
from user_ops.metrics import customer_metrics as core_metrics
from user_ops.rfm import RFMModel
from user_ops.tags import default_tags

dask = pytest.importorskip("dask", reason="the dask extra is not installed")
dd = pytest.importorskip("dask.dataframe")
udask = pytest.importorskip("user_ops.dask")

MODELS = [
    RFMModel.quantile(bins=5),
    RFMModel.quantile(bins=3),
    RFMModel.mean(),
    RFMModel.thresholds(recency=[7, 30, 90, 180], frequency=[2, 3, 5, 10], monetary=[100, 300, 1000, 3000]),
]


def frame(table: Table, npartitions: int) -> Any:
    return dd.from_pandas(table.to_pandas(), npartitions=npartitions, sort=False)


@pytest.fixture(scope="module")
def core(scale_shop: ScaleShop) -> Table:
    return core_metrics(scale_shop.lines, as_of=scale_shop.as_of, customers=scale_shop.customers)


@pytest.fixture
def synchronous() -> Iterator[None]:
    # The task-based shuffle: about 3x faster than the disk one on this data at 64 partitions.
    with dask.config.set({"scheduler": "synchronous", "dataframe.shuffle.method": "tasks"}):
        yield


def _metrics(scale_shop: ScaleShop, npartitions: int, **options: Any) -> Any:
    return udask.customer_metrics(
        frame(scale_shop.lines, npartitions),
        as_of=scale_shop.as_of,
        customers=frame(scale_shop.customers, max(1, npartitions // 3)),
        npartitions=npartitions,
        **options,
    )


@pytest.mark.usefixtures("synchronous")
@pytest.mark.parametrize("npartitions", [1, 7, 64])
def test_every_step_equals_the_core(scale_shop: ScaleShop, core: Table, npartitions: int) -> None:
    metrics = _metrics(scale_shop, npartitions)
    got = udask.to_table(metrics, sort_by="customer_id")
    assert got.equals(core)
    # The edge customers: both same-instant orders on the window edge count; at as_of is left out.
    row = {int(c): i for i, c in enumerate(core["customer_id"])}
    edge = core.row(row[10**7 + 1])
    assert (edge["frequency"], edge["orders_30d"]) == (2, 2)
    assert core.row(row[10**7 + 3])["frequency"] == 0
    assert core.row(row[10**7 + 4])["orders_365d"] == 2

    persisted = metrics.persist()
    # Small gather limits force histogram refinements; at 64 partitions the defaults keep it quick.
    options = {"gather_limit": 2_000, "bins_per_pass": 64} if npartitions < 64 else {}
    for model in MODELS if npartitions < 64 else MODELS[:1]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a warning in one path only would be a difference
            expected = model.fit(core)
            fitted = udask.fit_rfm(persisted, model, **options)
        assert fitted == expected and fitted.content_hash() == expected.content_hash()
        scores = udask.to_table(udask.score_rfm(persisted, fitted), sort_by="customer_id")
        assert scores.equals(expected.score(core))


@pytest.mark.usefixtures("synchronous")
@pytest.mark.parametrize("npartitions", [1, 7])
def test_row_wise_steps_equal_the_core(scale_shop: ScaleShop, core: Table, npartitions: int) -> None:
    source = frame(core, npartitions)  # in id order: the computed result keeps the row order
    tags = default_tags()
    policy = LifecyclePolicy.default()
    got_tags = udask.to_table(udask.evaluate_tags(source, tags, as_of=scale_shop.as_of))
    assert got_tags.equals(tags.evaluate(core, as_of=scale_shop.as_of))
    got_stages = udask.to_table(udask.classify_lifecycle(source, policy, as_of=scale_shop.as_of))
    assert got_stages.equals(policy.classify(core, as_of=scale_shop.as_of))


@pytest.mark.usefixtures("synchronous")
def test_assume_partitioned_skips_the_shuffle_and_agrees(scale_shop: ScaleShop, core: Table) -> None:
    from dask import delayed

    lines = split_by_key(scale_shop.lines, "customer_id", 5)
    customers = split_by_key(scale_shop.customers, "customer_id", 5)
    meta_lines, meta_customers = lines[0].to_pandas().iloc[:0], customers[0].to_pandas().iloc[:0]
    lines_frame = dd.from_delayed([delayed(t.to_pandas)() for t in lines], meta=meta_lines)
    customers_frame = dd.from_delayed([delayed(t.to_pandas)() for t in customers], meta=meta_customers)
    result = udask.customer_metrics(
        lines_frame, as_of=scale_shop.as_of, customers=customers_frame, assume_partitioned=True
    )
    assert "shuffle" not in str(result.dask.keys())
    assert udask.to_table(result, sort_by="customer_id").equals(core)


@pytest.mark.usefixtures("synchronous")
def test_top_price_threshold_is_global_not_per_partition(scale_shop: ScaleShop) -> None:
    # A fixed threshold and the exact global quantile both match; per-partition quantiles would not.
    fixed = udask.to_table(_metrics(scale_shop, 7, top_price_threshold=150.0), sort_by="customer_id")
    expected = core_metrics(
        scale_shop.lines, as_of=scale_shop.as_of, customers=scale_shop.customers, top_price_threshold=150.0
    )
    assert fixed.equals(expected)
    share = udask.to_table(_metrics(scale_shop, 7, top_price_quantile=0.37), sort_by="customer_id")
    expected = core_metrics(
        scale_shop.lines, as_of=scale_shop.as_of, customers=scale_shop.customers, top_price_quantile=0.37
    )
    assert np.array_equal(share["top_price_share"], expected["top_price_share"], equal_nan=True)


def test_bad_input_is_a_data_error(scale_shop: ScaleShop) -> None:
    from datetime import datetime

    with pytest.raises(DataError, match="dask DataFrame"):
        udask.customer_metrics(scale_shop.lines.to_pandas(), as_of=scale_shop.as_of)
    with pytest.raises(DataError, match=r"aware|naive|time zone"):
        udask.customer_metrics(frame(scale_shop.lines, 2), as_of=datetime(2024, 1, 1))
    with pytest.raises(DataError, match="no column 'spend'"):
        metrics = frame(Table({"recency_days": [1], "frequency": [1]}), 1)
        udask.fit_rfm(metrics, RFMModel.quantile(monetary_column="spend"))


def test_local_cluster_with_processes(scale_shop: ScaleShop) -> None:
    distributed = pytest.importorskip("distributed")
    # A smaller slice (about 2k customers) keeps the run short; what it tests is the pickling.
    small = ScaleShop(
        lines=take_rows(scale_shop.lines, np.asarray(scale_shop.lines["customer_id"]) % 10 == 3),
        customers=scale_shop.customers,
        as_of=scale_shop.as_of,
    )
    expected = core_metrics(small.lines, as_of=small.as_of, customers=small.customers)
    model = RFMModel.quantile(bins=5)
    with (
        distributed.LocalCluster(
            processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        metrics = _metrics(small, 4).persist()
        got = udask.to_table(metrics, sort_by="customer_id")
        fitted = udask.fit_rfm(metrics, model)
        scores = udask.to_table(udask.score_rfm(metrics, fitted), sort_by="customer_id")
    assert got.equals(expected)
    assert fitted == model.fit(expected)
    assert scores.equals(fitted.score(expected))


def test_importing_the_adapter_does_not_import_dask() -> None:
    code = (
        "import sys, user_ops, user_ops.dask\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'dask'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.usefixtures("synchronous")
@pytest.mark.parametrize("npartitions", [1, 7])
def test_issuance_with_a_global_budget_equals_the_core(
    scale_shop: ScaleShop, core: Table, npartitions: int
) -> None:
    from datetime import timedelta

    from user_ops.coupons import (
        Benefit,
        CouponTemplate,
        FrequencyCap,
        IssuanceBudget,
        IssuanceCaps,
        plan_issuance,
    )

    template = CouponTemplate(
        id="back20", currency="CNY", benefit=Benefit(kind="amount_off", amount="20 CNY")
    )
    rng = np.random.default_rng(4)
    ids = np.asarray(core["customer_id"])
    contacts = Table(
        {
            "customer_id": rng.choice(ids, 6_000),
            "at": [scale_shop.as_of - timedelta(hours=int(h)) for h in rng.integers(1, 24 * 40, 6_000)],
        }
    )
    options: dict[str, Any] = {
        "audience": "frequency >= 1",
        "as_of": scale_shop.as_of,
        "caps": IssuanceCaps(quiet_period="3d", frequency=(FrequencyCap(limit=2, window="30d"),)),
        "budget": IssuanceBudget(count=1_500, value="20000 CNY", priority="monetary"),
        "holders": ids[::97].tolist(),
    }
    expected = plan_issuance(template, core, contact_history=contacts, **options)
    result = udask.plan_issuance(
        template,
        frame(core, npartitions),
        contact_history=frame(contacts, 3),
        npartitions=npartitions,
        **options,
    )
    got = udask.to_table(result, sort_by="customer_id")
    assert got.equals(expected.table), "the Dask plan differs from the single-machine plan"
    selected = np.asarray(expected.table["selected"])
    assert np.count_nonzero(selected) == expected.counts["SELECTED"] > 0
    assert expected.counts["BUDGET_VALUE"] > 0 and expected.counts["QUIET_PERIOD"] > 0
    assert int(np.ma.count(expected.table["rank"])) > np.count_nonzero(selected)  # ranks beyond the budget


def test_benchmark_check_runs() -> None:
    sys.path.insert(0, "benchmarks")
    try:
        import bench_scale
    finally:
        sys.path.remove("benchmarks")
    assert bench_scale.check(300) == 300

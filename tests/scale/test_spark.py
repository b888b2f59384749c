"""``user_ops.spark`` gives the single-machine results, bit for bit, on Spark ``local[2]`` (issue 8).

One SparkSession for the module (UI off, UTC, Arrow batches of 1000 rows so that batches split
customers, the workers running this interpreter). Data: ~200k order lines of ~20k customers from
``synthetic_shop`` plus injected edge cases: one-purchase customers, purchases at the same instant
(amounts whose float sum depends on the order), purchases exactly on a window edge and at ``as_of``,
rows appended out of time order. Every Spark result is compared with the core on the same rows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from user_ops import DataError
from user_ops._scale import concat_tables, take_rows
from user_ops._table import Table
from user_ops.datasets import synthetic_shop
from user_ops.lifecycle import LifecyclePolicy
from user_ops.metrics import customer_metrics as core_metrics
from user_ops.rfm import RFMModel
from user_ops.spark._metrics import exact_quantile_from_counts
from user_ops.tags import default_tags

N_CUSTOMERS = 20_000
PARTITIONS = [1, 4]
WINDOWS = ["30d", "90d", "1mo"]


# -- the session -----------------------------------------------------------------------------------
def _start_spark() -> Any:
    """A local[2] session, or a skip naming why Spark truly cannot start here."""
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError as error:
        pytest.skip(f"pyspark is not installed (the 'spark' extra): {error}")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime (java not on PATH, JAVA_HOME unset): Spark cannot start")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    try:
        spark = (
            SparkSession.builder.master("local[2]")
            .appName("user_ops-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.execution.arrow.maxRecordsPerBatch", "1000")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.default.parallelism", "2")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        spark.range(1).collect()
    except Exception as error:  # Spark's own start-up failures (JVM, gateway) have no common type
        pytest.skip(f"Spark cannot start on this machine: {type(error).__name__}: {error}")
    return spark


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = _start_spark()
    yield session
    session.stop()


# -- the data --------------------------------------------------------------------------------------
def _edge_rows(lines: Table, as_of: datetime) -> Table:
    """Rows appended to the log (out of time order): the edge cases of the issue."""
    as_of_us = int(as_of.timestamp() * 1_000_000)
    day = 86_400 * 1_000_000
    first_id = int(lines["customer_id"].max()) + 1
    order = int(lines["order_id"].max()) + 1
    existing = int(lines["customer_id"][0])
    existing_at = int(lines["ordered_at"][0].astype(np.int64))
    rows = [
        # two new one-purchase customers
        (first_id, order, as_of_us - 5 * day, 19.9),
        (first_id + 1, order + 1, as_of_us - 400 * day, 5.0),
        # exactly on the 30d and 90d window edges (inside: windows are [as_of - w, as_of))
        (first_id + 2, order + 2, as_of_us - 30 * day, 30.0),
        (first_id + 2, order + 3, as_of_us - 90 * day, 90.0),
        # exactly at as_of (left out) and after it
        (first_id + 3, order + 4, as_of_us, 7.0),
        (first_id + 3, order + 5, as_of_us - 2 * day, 3.0),
        (first_id + 4, order + 6, as_of_us + day, 1.0),
        # three orders at the same instant, amounts whose float sum depends on the order:
        # (1 + 1) + 1e16 == 1e16 + 2, but (1e16 + 1) + 1 == 1e16
        (first_id + 5, order + 7, as_of_us - 10 * day, 1.0),
        (first_id + 5, order + 8, as_of_us - 10 * day, 1.0),
        (first_id + 5, order + 9, as_of_us - 10 * day, 1e16),
        # an existing customer: a second order at the instant of their first line
        (existing, order + 11, existing_at, 0.7),
        (existing, order + 12, existing_at, 1e-3),
    ]
    n = len(rows)
    return Table._trusted(
        {
            "customer_id": np.array([r[0] for r in rows], dtype=np.int64),
            "order_id": np.array([r[1] for r in rows], dtype=np.int64),
            "line_no": np.ones(n, dtype=np.int64),
            "ordered_at": np.array([r[2] for r in rows], dtype=np.int64).view("datetime64[us]"),
            "sku": np.array(["XX01"] * n, dtype=object),
            "category": np.array(["snacks"] * n, dtype=object),
            "unit_price": np.array([r[3] for r in rows], dtype=np.float64),
            "quantity": np.ones(n, dtype=np.int64),
            "amount": np.array([r[3] for r in rows], dtype=np.float64),
            "discount": np.zeros(n, dtype=np.float64),
            "is_promo": np.zeros(n, dtype=bool),
            "channel": np.array(["app"] * n, dtype=object),
        }
    )


@pytest.fixture(scope="module")
def shop() -> Any:
    return synthetic_shop(N_CUSTOMERS, seed=11)


@pytest.fixture(scope="module")
def log(shop: Any) -> Table:
    lines: Table = shop.lines
    return concat_tables([lines, _edge_rows(lines, shop.as_of)])


@pytest.fixture(scope="module")
def as_of(shop: Any) -> datetime:
    as_of: datetime = shop.as_of
    return as_of


@pytest.fixture(scope="module")
def expected(log: Table, as_of: datetime) -> Table:
    return core_metrics(log, as_of=as_of, windows=WINDOWS)


@pytest.fixture(scope="module")
def frame(spark: Any, log: Table) -> Any:
    return spark.createDataFrame(log.to_arrow()).cache()


@pytest.fixture(scope="module")
def metrics_frame(spark: Any, expected: Table) -> Any:
    """The core's metrics as a Spark frame in 3 partitions (input of the row-wise steps and the fit)."""
    return spark.createDataFrame(expected.to_arrow()).repartition(3).cache()


def _plain(table: Table) -> Table:
    return Table._trusted({name: table[name] for name in table.columns})


def assert_same(got: Table, expected: Table) -> None:
    """Equal column names, kinds and values (nulls equal), naming the first column that differs."""
    assert got.columns == expected.columns
    assert len(got) == len(expected)
    for name in expected.columns:
        left, right = Table._trusted({name: got[name]}), Table._trusted({name: expected[name]})
        assert left.equals(right), f"column {name!r} differs"
    assert _plain(got).equals(_plain(expected))


# -- the workers -----------------------------------------------------------------------------------
def test_the_workers_import_the_installed_package(spark: Any) -> None:
    import user_ops

    def where(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        import user_ops as worker_copy

        for _ in batches:
            pass
        yield pa.RecordBatch.from_pydict({"file": [worker_copy.__file__], "python": [sys.executable]})

    rows = spark.range(10).repartition(2).mapInArrow(where, "file string, python string").collect()
    assert {r.file for r in rows} == {user_ops.__file__}
    assert {r.python for r in rows} == {sys.executable}


def test_import_user_ops_spark_does_not_import_pyspark() -> None:
    code = "import sys, user_ops.spark; print('pyspark' in sys.modules, 'pyarrow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# -- customer_metrics ------------------------------------------------------------------------------
def test_the_data_has_the_edge_cases(log: Table, expected: Table, frame: Any) -> None:
    assert 180_000 <= len(log) <= 260_000
    assert 15_000 <= len(expected) <= 25_000
    frequency = np.asarray(expected["frequency"])
    assert np.count_nonzero(frequency == 1) > 1000
    assert expected.report.rows_after_as_of == 2  # the rows at and after as_of are left out
    # Arrow batches of 1000 rows: most partitions' batches split a customer.
    assert frame.count() == len(log)


@pytest.fixture(scope="module", params=PARTITIONS, ids=[f"{p}-partitions" for p in PARTITIONS])
def spark_metrics(request: Any, frame: Any, as_of: datetime) -> tuple[int, Any, Table]:
    """``user_ops.spark.customer_metrics`` of the log at 1 and 4 partitions, and its collected Table."""
    from user_ops.spark import customer_metrics, to_table

    partitions: int = request.param
    result = customer_metrics(frame, as_of=as_of, windows=WINDOWS, partitions=partitions)
    return partitions, result, to_table(result, sort_by="customer_id")


def test_customer_metrics_equal_the_core(spark_metrics: tuple[int, Any, Table], expected: Table) -> None:
    partitions, result, collected = spark_metrics
    assert result.rdd.getNumPartitions() == partitions
    assert_same(collected, expected)


def test_order_sensitive_sums_match_the_core_exactly(
    spark_metrics: tuple[int, Any, Table], expected: Table
) -> None:
    # 1 + 1 + 1e16 summed in another order is another float: the input order must be restored.
    got = spark_metrics[2]
    row = len(expected) - 1  # the highest id with rows before as_of: the three orders at one instant
    assert expected["frequency"][row] == 3
    assert expected["monetary"][row] == 1e16 + 2
    assert got["monetary"][row] == expected["monetary"][row]


def test_assume_partitioned_skips_the_shuffle(
    spark: Any, frame: Any, as_of: datetime, expected: Table
) -> None:
    from pyspark.sql.functions import monotonically_increasing_id

    from user_ops.spark import customer_metrics, to_table

    # Bucketed by customer, input order kept in each bucket, lineage cut: data "written bucketed".
    bucketed = (
        frame.withColumn("position", monotonically_increasing_id())
        .repartition(4, "customer_id")
        .sortWithinPartitions("position")
        .drop("position")
        .localCheckpoint()
    )
    result = customer_metrics(bucketed, as_of=as_of, windows=WINDOWS, assume_partitioned=True)
    assert "Exchange" not in _plan(result)
    assert "Exchange" in _plan(customer_metrics(bucketed, as_of=as_of, windows=WINDOWS))
    assert_same(to_table(result, sort_by="customer_id"), expected)


def _plan(frame: Any) -> str:
    return str(frame._jdf.queryExecution().executedPlan().toString())


def test_customers_frame_adds_never_bought_customers(
    spark: Any, frame: Any, shop: Any, log: Table, as_of: datetime
) -> None:
    from user_ops.spark import customer_metrics, to_table

    people = shop.customers.select(["customer_id", "registered_at"])
    expected = core_metrics(log, as_of=as_of, windows=WINDOWS, customers=people)
    assert expected.report.customers_without_orders > 0
    customers = spark.createDataFrame(people.to_arrow())
    result = customer_metrics(frame, as_of=as_of, windows=WINDOWS, customers=customers, partitions=4)
    assert_same(to_table(result, sort_by="customer_id"), expected)


def test_string_ids_and_a_fixed_threshold(spark: Any, log: Table, as_of: datetime) -> None:
    from user_ops.spark import customer_metrics, to_table

    few = take_rows(log, np.arange(0, len(log), 7))
    named = few.with_columns({"customer_id": np.char.add("c", few["customer_id"].astype(str)).astype(object)})
    expected = core_metrics(named, as_of=as_of, top_price_threshold=100.0)
    frame = spark.createDataFrame(named.to_arrow())
    result = customer_metrics(frame, as_of=as_of, top_price_threshold=100.0, partitions=4)
    assert_same(to_table(result, sort_by="customer_id"), expected)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-50, 50), min_size=1, max_size=40),
    st.floats(0, 1),
)
def test_the_threshold_quantile_is_numpys(raw: list[int], quantile: float) -> None:
    data = np.array(raw, dtype=np.float64) / 8
    values, counts = np.unique(data, return_counts=True)
    assert exact_quantile_from_counts(values, counts, quantile) == np.quantile(data, quantile)


def test_options_are_checked_on_the_driver(frame: Any, as_of: datetime) -> None:
    from user_ops.spark import customer_metrics

    with pytest.raises(DataError, match="naive"):
        customer_metrics(frame, as_of=datetime(2024, 6, 30))
    with pytest.raises(DataError, match=r"window|duration"):
        customer_metrics(frame, as_of=as_of, windows=["30 fortnights"])
    with pytest.raises(DataError, match="partitions"):
        customer_metrics(frame, as_of=as_of, partitions=0)
    with pytest.raises(DataError, match="'amount'"):
        customer_metrics(frame.drop("amount"), as_of=as_of)
    with pytest.raises(DataError, match="top_price_quantile"):
        customer_metrics(frame, as_of=as_of, top_price_quantile=1.5)
    naive = frame.withColumn("ordered_at", frame["ordered_at"].cast("timestamp_ntz"))
    with pytest.raises(DataError, match="TIMESTAMP_NTZ"):
        customer_metrics(naive, as_of=as_of)


# -- RFM, tags, lifecycle --------------------------------------------------------------------------
@pytest.mark.parametrize("model", [RFMModel.quantile(bins=5), RFMModel.mean()], ids=["quantile", "mean"])
def test_fit_rfm_equals_the_core_fit(metrics_frame: Any, expected: Table, model: RFMModel) -> None:
    from user_ops.spark import fit_rfm

    fitted = fit_rfm(metrics_frame, model)
    assert fitted == model.fit(expected)
    assert fitted.content_hash() == model.fit(expected).content_hash()
    record = expected.row(0)
    assert fitted.score_one(record) == model.fit(expected).score_one(record)


def test_score_rfm_equals_the_core(metrics_frame: Any, expected: Table) -> None:
    from user_ops.spark import score_rfm, to_table

    model = RFMModel.quantile(bins=5).fit(expected)
    assert_same(to_table(score_rfm(metrics_frame, model), sort_by="customer_id"), model.score(expected))


def test_evaluate_tags_equals_the_core(metrics_frame: Any, expected: Table, as_of: datetime) -> None:
    from user_ops.spark import evaluate_tags, to_table

    tags = default_tags()
    core = tags.evaluate(expected, as_of=as_of)  # the id column first, as the Spark result
    got = to_table(evaluate_tags(metrics_frame, tags, as_of=as_of), sort_by="customer_id")
    assert got.columns[0] == "customer_id"
    assert_same(got, core)
    assert sum(np.count_nonzero(got[n]) for n in core.tag_names) > 0


def test_classify_lifecycle_equals_the_core(metrics_frame: Any, expected: Table, as_of: datetime) -> None:
    from user_ops.spark import classify_lifecycle, to_table

    policy = LifecyclePolicy.default()
    got = to_table(classify_lifecycle(metrics_frame, policy, as_of=as_of), sort_by="customer_id")
    want = policy.classify(expected, as_of=as_of)
    assert_same(got, want)
    assert len(set(got["stage"].tolist())) > 2


def test_to_table_and_pandas_agree(metrics_frame: Any, expected: Table) -> None:
    from user_ops.spark import to_table

    # toPandas gives naive wall-clock times of the session zone (UTC here, so tz="UTC"), and pandas
    # turns an all-null int column into floats: to_table (through Arrow) keeps the kinds.
    via_pandas = Table.from_frame(metrics_frame.orderBy("customer_id").toPandas(), tz="UTC")
    assert_same(to_table(metrics_frame, sort_by="customer_id"), expected)
    for name in ("customer_id", "monetary", "last_order_at", "recency_days"):
        assert_same(via_pandas.select([name]), expected.select([name]))
    assert via_pandas.kind("first_order_cycle_days") == "float"


def test_a_later_as_of_moves_the_window_edge(spark: Any, as_of: datetime, log: Table) -> None:
    from user_ops.spark import customer_metrics, to_table

    # Every 20th row plus the injected ones (the last 12 rows, one of them exactly at as_of).
    few = take_rows(log, np.union1d(np.arange(0, len(log), 20), np.arange(len(log) - 12, len(log))))
    later = as_of + timedelta(microseconds=1)
    expected = core_metrics(few, as_of=later, windows=["30d"])
    frame = spark.createDataFrame(few.to_arrow())
    got = to_table(customer_metrics(frame, as_of=later, windows=["30d"], partitions=4), sort_by="customer_id")
    assert_same(got, expected)
    assert expected.report.rows_after_as_of == 1  # the row exactly at as_of now counts


def test_the_docs_example_runs(spark: Any) -> None:
    """The Spark example of docs/scaling.md (not a doctest: it starts a JVM) runs and its checks hold."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "scaling.md").read_text(encoding="utf-8")
    section = text.split("\n## Spark", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert "us.customer_metrics" in code and "assert" in code
    exec(compile(code, "docs/scaling.md (Spark example)", "exec"), {"__name__": "docs_example"})


# -- issuance --------------------------------------------------------------------------------------
def _issuance_inputs(expected: Table, as_of: datetime) -> tuple[Table, Table]:
    """Customers with stages, a float priority with nulls and ties, and a contact log."""
    rng = np.random.default_rng(3)
    n = len(expected)
    priority = np.round(np.asarray(expected["monetary"]) / 100).astype(np.float64)  # many ties
    priority[rng.random(n) < 0.05] = np.nan
    customers = Table._trusted(
        {
            "customer_id": np.asarray(expected["customer_id"]),
            "stage": np.where(np.asarray(expected["frequency"]) > 1, "repeat", "one_off").astype(object),
            "priority_score": priority,
            "opted_out": rng.random(n) < 0.02,
        }
    )
    contacted = rng.choice(np.asarray(expected["customer_id"]), 3000)
    as_of_us = int(as_of.timestamp()) * 1_000_000
    history = Table._trusted(
        {
            "customer_id": contacted,
            "at": (as_of_us - rng.integers(1, 40 * 86_400, 3000) * 1_000_000).view("datetime64[us]"),
            "channel": rng.choice(["sms", "app"], 3000).astype(object),
        }
    )
    return customers, history


@pytest.mark.parametrize("with_history", [False, True], ids=["no-history", "history"])
def test_plan_issuance_equals_the_core(
    spark: Any, expected: Table, as_of: datetime, with_history: bool
) -> None:
    from user_ops.coupons import Benefit, CouponTemplate, IssuanceBudget, IssuanceCaps
    from user_ops.coupons import plan_issuance as core_plan
    from user_ops.spark import plan_issuance, to_table

    customers, history = _issuance_inputs(expected, as_of)
    template = CouponTemplate(
        id="back20", currency="CNY", benefit=Benefit(kind="amount_off", amount="20 CNY")
    )
    options: dict[str, Any] = {
        "audience": 'stage == "repeat"',
        "as_of": as_of,
        "caps": IssuanceCaps(quiet_period="7d", opt_out_column="opted_out"),
        "budget": IssuanceBudget(value="40000 CNY", count=3000, priority="priority_score"),
        "holders": customers["customer_id"][(customers["stage"] == "repeat") & ~customers["opted_out"]][
            :5
        ].tolist(),
    }
    want = core_plan(template, customers, contact_history=history if with_history else None, **options)
    assert want.counts["SELECTED"] == 2000  # 40000 CNY of 20 CNY coupons: the value budget binds
    assert min(want.counts[r] for r in ("BUDGET_VALUE", "NOT_IN_AUDIENCE", "OPTED_OUT", "ALREADY_HOLDS")) > 0
    assert (want.counts["QUIET_PERIOD"] > 0) == with_history
    frame = spark.createDataFrame(customers.to_arrow()).repartition(3)
    contacts = spark.createDataFrame(history.to_arrow()) if with_history else None
    got = plan_issuance(template, frame, contact_history=contacts, partitions=4, **options)
    assert_same(to_table(got, sort_by="customer_id"), _plain(want.table))


def test_a_worker_error_reaches_the_driver_as_the_user_ops_error(spark: Any, expected: Table) -> None:
    from user_ops.spark import fit_rfm

    bad = expected.select(["customer_id", "recency_days", "frequency", "monetary"]).with_columns(
        {"frequency": -np.asarray(expected["frequency"])}
    )
    with pytest.raises(DataError, match=f"column 'frequency' is negative for {len(expected)} customer"):
        RFMModel.quantile(bins=5).fit(bad)
    # The same error class and message, counted in the partition that raised it.
    with pytest.raises(DataError, match=r"^column 'frequency' is negative for \d+ customer\(s\); it counts"):
        fit_rfm(spark.createDataFrame(bad.to_arrow()).repartition(2), RFMModel.quantile(bins=5))

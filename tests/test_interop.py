"""DataFrames in and out: every batch entry point gives the same result for the same data passed as a
dict of numpy arrays, a pandas DataFrame, a polars DataFrame or a pyarrow Table (with a column mapping
where the API has one), and every result Table round-trips through to_pandas / to_polars / to_arrow.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from user_ops import (
    DataError,
    LifecyclePolicy,
    RFMModel,
    Rule,
    SegmentMap,
    Table,
    Transactions,
    customer_metrics,
    default_tags,
)
from user_ops.datasets import synthetic_events, synthetic_shop
from user_ops.lifecycle import (
    BGNBD,
    aipl_policy,
    population_cycle,
    recall_plan,
    stage_summary,
    transitions,
)
from user_ops.metrics import engagement_metrics
from user_ops.rfm import pareto, segment_summary

KINDS = ("dict", "pandas", "polars", "arrow")
UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
POLICY = LifecyclePolicy.default()
CANONICAL = (
    "customer_id",
    "order_id",
    "ordered_at",
    "amount",
    "discount",
    "is_promo",
    "unit_price",
    "quantity",
    "category",
    "channel",
)
# The host's names for the log's columns, as a shop backend might have them.
LOG_NAMES = {"customer_id": "uid", "ordered_at": "paid_at", "amount": "total", "order_id": "trade_no"}
EVENT_NAMES = {"customer_id": "user_id", "event": "action", "occurred_at": "ts"}


def aware_objects(column: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A UTC datetime64 column as a numpy object array of aware datetimes (None for NaT)."""
    micros = column.astype("datetime64[us]").astype(np.int64).tolist()
    values = [None if m == np.iinfo(np.int64).min else EPOCH + timedelta(microseconds=m) for m in micros]
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def as_kind(table: Table, kind: str, rename: Mapping[str, str] | None = None) -> Any:
    """The same data as a dict of numpy arrays (instants as aware datetimes, which a bare datetime64
    array cannot say), a pandas DataFrame, a polars DataFrame or a pyarrow Table; ``rename`` maps our
    column names to the host's."""
    names = {name: (rename or {}).get(name, name) for name in table.columns}
    if kind == "dict":
        return {
            names[c]: aware_objects(table[c]) if table.kind(c) == "datetime" else table[c]
            for c in table.columns
        }
    frame = getattr(table, f"to_{kind}")()
    if kind == "pandas":
        return frame.rename(columns=names)
    return (
        frame.rename(names) if kind == "polars" else frame.rename_columns([names[c] for c in table.columns])
    )


def assert_round_trips(result: Table) -> None:
    """The result Table comes back unchanged from each of pandas, polars and arrow."""
    plain = Table(result) if type(result) is not Table else result
    frames = {"pandas": result.to_pandas(), "polars": result.to_polars(), "arrow": result.to_arrow()}
    assert isinstance(frames["pandas"], pd.DataFrame)
    assert isinstance(frames["polars"], pl.DataFrame)
    assert isinstance(frames["arrow"], pa.Table)
    for kind, frame in frames.items():
        back = Table.coerce(frame)
        assert back.equals(plain), f"{kind} round trip changed the table"
        assert list(frame.columns if kind != "arrow" else frame.column_names) == list(result.columns)


@pytest.fixture(scope="module")
def shop() -> dict[str, Any]:
    data = synthetic_shop(300, seed=9)
    lines = data.lines.select(CANONICAL)
    customers = data.customers.select(["customer_id", "registered_at"])
    metrics = customer_metrics(Transactions(lines), as_of=data.as_of, customers=customers)
    earlier = data.as_of - timedelta(days=60)
    before = customer_metrics(Transactions(lines), as_of=earlier, customers=customers)
    model = RFMModel.quantile(bins=5).fit(metrics)
    return {
        "as_of": data.as_of,
        "earlier": earlier,
        "lines": lines,
        "customers": customers,
        "metrics": metrics,
        "metrics_before": before,
        "model": model,
        "scores": model.score(metrics),
        "stages": POLICY.classify(metrics, as_of=data.as_of),
        "stages_before": POLICY.classify(before, as_of=earlier),
    }


# -- metrics ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_transactions_and_customer_metrics(shop: dict[str, Any], kind: str) -> None:
    reference = shop["metrics"]
    log = as_kind(shop["lines"], kind)
    assert Transactions(log).table.equals(Transactions(shop["lines"]).table)
    result = customer_metrics(log, as_of=shop["as_of"], customers=as_kind(shop["customers"], kind))
    assert result.equals(reference)
    assert_round_trips(result)


@pytest.mark.parametrize("kind", KINDS)
def test_transactions_with_a_column_mapping(shop: dict[str, Any], kind: str) -> None:
    log = as_kind(shop["lines"], kind, rename=LOG_NAMES)
    mapping = {c: LOG_NAMES.get(c, c) for c in CANONICAL}
    if kind == "dict":
        transactions = Transactions.from_columns(log, columns=mapping)
    else:
        transactions = Transactions.from_frame(log, columns=mapping)
    assert transactions.table.equals(Transactions(shop["lines"]).table)
    result = customer_metrics(transactions, as_of=shop["as_of"], customers=shop["customers"])
    assert result.equals(shop["metrics"])


def test_naive_datetime64_columns_need_their_zone(shop: dict[str, Any]) -> None:
    """A bare datetime64 array has no zone: Transactions takes it with tz=, and a Table built with
    tz= carries it into every other entry point; without a zone it is a DataError naming the column."""
    raw = {c: np.asarray(shop["lines"][c]) for c in shop["lines"].columns}
    with pytest.raises(DataError, match="column 'ordered_at' holds datetime64 values without a time zone"):
        Transactions(raw)
    assert Transactions(raw, tz="UTC").table.equals(Transactions(shop["lines"]).table)
    metrics = {c: np.asarray(shop["metrics"][c]) for c in shop["metrics"].columns}
    with pytest.raises(DataError, match="holds datetime64 values without a time zone"):
        POLICY.classify(metrics, as_of=shop["as_of"])
    assert POLICY.classify(Table(metrics, tz="UTC"), as_of=shop["as_of"]).equals(shop["stages"])


# -- rules and tags ---------------------------------------------------------------------------------
RULE = Rule.parse("frequency >= 2 and days_since(last_order_at) < 90 or registered_at within 30d")


@pytest.mark.parametrize("kind", KINDS)
def test_rule_and_tag_set_evaluate(shop: dict[str, Any], kind: str) -> None:
    data = as_kind(shop["metrics"], kind)
    as_of = shop["as_of"]
    expected = RULE.evaluate(shop["metrics"], as_of=as_of)
    assert 0 < expected.sum() < len(expected)
    np.testing.assert_array_equal(RULE.evaluate(data, as_of=as_of), expected)
    values, unknown = RULE.values(data, as_of=as_of)
    ref_values, ref_unknown = RULE.values(shop["metrics"], as_of=as_of)
    np.testing.assert_array_equal(values, ref_values)
    np.testing.assert_array_equal(unknown, ref_unknown)
    tags = default_tags()
    reference = tags.evaluate(shop["metrics"], as_of=as_of)
    result = tags.evaluate(data, as_of=as_of)
    assert result.equals(reference)
    assert result.summary().equals(reference.summary())
    assert_round_trips(result)
    assert_round_trips(result.summary())


# -- RFM --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_rfm_fit_score_and_segments(shop: dict[str, Any], kind: str) -> None:
    data = as_kind(shop["metrics"], kind)
    model = RFMModel.quantile(bins=5).fit(data)
    assert model == shop["model"]
    scores = model.score(data)
    assert scores.equals(shop["scores"])
    assert_round_trips(scores)
    summary = segment_summary(
        as_kind(shop["scores"], kind), as_kind(shop["metrics"], kind), segment_map=model.segment_map
    )
    assert summary.equals(segment_summary(shop["scores"], shop["metrics"]))
    assert_round_trips(summary)
    cn8 = RFMModel.mean(segments=SegmentMap.cn8())
    assert cn8.fit(data).score(data).equals(cn8.fit(shop["metrics"]).score(shop["metrics"]))


@pytest.mark.parametrize("kind", KINDS)
def test_rfm_with_its_column_mapping(shop: dict[str, Any], kind: str) -> None:
    names = {"recency_days": "days_quiet", "frequency": "orders", "monetary": "spend", "customer_id": "uid"}
    data = as_kind(
        shop["metrics"].select(["customer_id", "recency_days", "frequency", "monetary"]), kind, names
    )
    model = RFMModel.quantile(
        bins=5,
        recency_column="days_quiet",
        frequency_column="orders",
        monetary_column="spend",
        id_column="uid",
    ).fit(data)
    assert model.recency_cuts_ == shop["model"].recency_cuts_
    assert model.monetary_cuts_ == shop["model"].monetary_cuts_
    scores = model.score(data)
    reference = shop["scores"]
    assert scores.columns == ("uid", *reference.columns[1:])
    assert Table.from_frame(
        scores, columns={"customer_id": "uid", **{c: c for c in reference.columns[1:]}}
    ).equals(Table(reference))


@pytest.mark.parametrize(
    "values",
    [
        lambda t: np.asarray(t["monetary"]),
        lambda t: t["monetary"].tolist(),
        lambda t: t.to_pandas()["monetary"],
        lambda t: t.to_polars()["monetary"],
        lambda t: t.to_arrow()["monetary"],  # a ChunkedArray
        lambda t: t.to_arrow()["monetary"].combine_chunks(),
    ],
    ids=["numpy", "list", "pandas", "polars", "arrow-chunked", "arrow"],
)
def test_pareto_takes_any_column(shop: dict[str, Any], values: Any) -> None:
    reference = pareto(shop["metrics"]["monetary"], clip_negative=True)
    result = pareto(values(shop["metrics"]), clip_negative=True)
    assert (result.n, result.total, result.top_share, result.gini) == (
        reference.n,
        reference.total,
        reference.top_share,
        reference.gini,
    )
    np.testing.assert_array_equal(result.curve_y, reference.curve_y)


# -- lifecycle --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_lifecycle_classify_summary_and_transitions(shop: dict[str, Any], kind: str) -> None:
    as_of = shop["as_of"]
    metrics = as_kind(shop["metrics"], kind)
    stages = POLICY.classify(metrics, as_of=as_of)
    assert stages.equals(shop["stages"])
    np.testing.assert_array_equal(POLICY.stage_index(metrics, as_of=as_of), shop["stages"].index)
    assert_round_trips(stages)
    summary = stage_summary(as_kind(shop["stages"], kind), metrics, policy=POLICY)
    assert summary.equals(stage_summary(shop["stages"], shop["metrics"]))
    assert_round_trips(summary)
    moves = transitions(as_kind(shop["stages_before"], kind), as_kind(shop["stages"], kind), policy=POLICY)
    reference = transitions(shop["stages_before"], shop["stages"])
    np.testing.assert_array_equal(moves.counts, reference.counts)
    np.testing.assert_array_equal(moves.ids, reference.ids)
    assert moves.matrix.equals(reference.matrix) and moves.flows.equals(reference.flows)
    assert_round_trips(moves.matrix)
    assert_round_trips(moves.flows)
    assert population_cycle(metrics) == population_cycle(shop["metrics"])
    assert LifecyclePolicy.default_for(metrics) == LifecyclePolicy.default_for(shop["metrics"])


@pytest.mark.parametrize("kind", KINDS)
def test_lifecycle_with_renamed_columns(shop: dict[str, Any], kind: str) -> None:
    renamed = {"customer_id": "uid"}
    moves = transitions(
        as_kind(shop["stages_before"], kind, renamed),
        as_kind(shop["stages"], kind, renamed),
        id_column="uid",
        policy=POLICY,
    )
    np.testing.assert_array_equal(moves.counts, transitions(shop["stages_before"], shop["stages"]).counts)
    cycle = as_kind(shop["metrics"].select(["repurchase_cycle_days"]), kind, {"repurchase_cycle_days": "gap"})
    assert population_cycle(cycle, column="gap") == population_cycle(shop["metrics"])


@pytest.mark.parametrize("kind", KINDS)
def test_recall_plan(shop: dict[str, Any], kind: str) -> None:
    reference = recall_plan(shop["stages"], shop["scores"], shop["metrics"])
    plan = recall_plan(
        as_kind(shop["stages"], kind), shop["scores"], as_kind(shop["metrics"], kind), policy=POLICY
    )
    assert plan.equals(reference)
    assert_round_trips(plan)
    tag_table = default_tags().evaluate(shop["metrics"], as_of=shop["as_of"])
    by_tags = recall_plan(shop["stages"], tag_table, shop["metrics"])
    assert recall_plan(as_kind(shop["stages"], kind), tag_table, as_kind(shop["metrics"], kind)).equals(
        by_tags
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("by", ["scores", "tags"])
def test_recall_plan_with_segments_from_a_frame(shop: dict[str, Any], kind: str, by: str) -> None:
    segments = (
        shop["scores"] if by == "scores" else default_tags().evaluate(shop["metrics"], as_of=shop["as_of"])
    )
    reference = recall_plan(shop["stages"], segments, shop["metrics"])
    labels = segments.model if by == "scores" else segments.tag_set
    plan = recall_plan(shop["stages"], as_kind(segments, kind), shop["metrics"], policy=POLICY, labels=labels)
    assert plan.equals(reference)
    if by == "scores":
        assert any(plan["segment_action_zh"].tolist())  # labels really came from the model


@pytest.mark.parametrize("kind", KINDS)
def test_engagement_metrics_and_aipl(kind: str) -> None:
    log = synthetic_events(200, seed=4)
    as_of = datetime(2024, 7, 1, tzinfo=UTC)
    reference = engagement_metrics(log, as_of=as_of)
    result = engagement_metrics(as_kind(log, kind), as_of=as_of)
    assert result.equals(reference)
    assert result.report == reference.report
    assert_round_trips(result)
    renamed = engagement_metrics(as_kind(log, kind, EVENT_NAMES), as_of=as_of, columns=EVENT_NAMES)
    assert renamed.equals(reference)
    aipl = aipl_policy()
    assert aipl.classify(as_kind(reference, kind), as_of=as_of).equals(aipl.classify(reference, as_of=as_of))


@pytest.mark.parametrize("kind", KINDS)
def test_bgnbd_fit_and_p_alive(shop: dict[str, Any], kind: str) -> None:
    columns = ["repeat_frequency", "recency_age", "T"]
    data = as_kind(shop["metrics"].select(columns), kind)
    reference = BGNBD().fit(shop["metrics"])
    fitted = BGNBD().fit(data)
    assert fitted == reference
    np.testing.assert_array_equal(fitted.p_alive(data), reference.p_alive(shop["metrics"]))


# -- nothing heavy at import ------------------------------------------------------------------------
def test_a_whole_pipeline_on_plain_dicts_imports_no_optional_library() -> None:
    """Extends tests/test_table.py (which checks the frame libraries after building a Table): a whole
    pipeline on dicts of arrays loads none of the extras, scipy and matplotlib included."""
    code = (
        "import sys\n"
        "from datetime import datetime, timezone\n"
        "import user_ops\n"
        "from user_ops.rfm import pareto\n"
        "from user_ops.lifecycle import stage_summary\n"
        "as_of = datetime(2024, 7, 1, tzinfo=timezone.utc)\n"
        "log = {'customer_id': [1, 1, 2, 3], 'amount': [10.0, 5.0, 8.0, 30.0], 'ordered_at':\n"
        "       ['2024-05-01T00:00Z', '2024-06-01T00:00Z', '2024-06-20T00:00Z', '2023-01-01T00:00Z']}\n"
        "m = user_ops.customer_metrics(log, as_of=as_of)\n"
        "user_ops.default_tags().evaluate(m, as_of=as_of)\n"
        "user_ops.RFMModel.mean().fit(m).score(m)\n"
        "stage_summary(user_ops.LifecyclePolicy.default().classify(m, as_of=as_of), m)\n"
        "pareto(m['monetary'])\n"
        "heavy = ('pandas', 'polars', 'pyarrow', 'scipy', 'matplotlib')\n"
        "print(','.join(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


# -- membership and coupons -------------------------------------------------------------------------
def _spend_fen(shop: dict[str, Any]) -> Table:
    spend = np.nan_to_num(np.ma.filled(np.ma.asarray(shop["metrics"]["spend_365d"], dtype=float), 0.0))
    return Table(
        {
            "customer_id": np.asarray(shop["metrics"]["customer_id"]),
            "spend": np.rint(spend * 100).astype(np.int64),
            "frequency": np.asarray(np.ma.filled(shop["metrics"]["frequency"], 0)),
            "monetary": np.nan_to_num(
                np.ma.filled(np.ma.asarray(shop["metrics"]["monetary"], dtype=float), 0.0)
            ),
        }
    )


@pytest.mark.parametrize("kind", KINDS)
def test_tier_policy_evaluate(shop: dict[str, Any], kind: str) -> None:
    from user_ops import Tier, TierPolicy

    policy = TierPolicy(
        [
            Tier(code="red", label_en="Red", label_zh="红海", entry="0 CNY"),
            Tier(code="silver", label_en="Silver", label_zh="银海", entry="500 CNY"),
            Tier(code="gold", label_en="Gold", label_zh="金海", entry="2000 CNY"),
        ]
    )
    table = _spend_fen(shop)
    reference = policy.evaluate(table, as_of=shop["as_of"])
    result = policy.evaluate(as_kind(table, kind), as_of=shop["as_of"])
    assert result.equals(reference)
    assert_round_trips(result)


@pytest.mark.parametrize("kind", KINDS)
def test_plan_issuance(shop: dict[str, Any], kind: str) -> None:
    from user_ops.coupons import Benefit, CouponTemplate, IssuanceBudget, IssuanceCaps, plan_issuance

    template = CouponTemplate(id="w", currency="CNY", benefit=Benefit(kind="amount_off", amount="10 CNY"))
    table = _spend_fen(shop)
    ids = np.asarray(table["customer_id"])[::5]
    history = Table({"customer_id": ids, "at": [shop["as_of"] - timedelta(days=1)] * len(ids)})
    options: dict[str, Any] = {
        "audience": "frequency >= 1",
        "as_of": shop["as_of"],
        "caps": IssuanceCaps(quiet_period="3d"),
        "budget": IssuanceBudget(count=40, priority="monetary"),
    }
    reference = plan_issuance(template, table, contact_history=history, **options)
    result = plan_issuance(template, as_kind(table, kind), contact_history=as_kind(history, kind), **options)
    assert result.table.equals(reference.table)
    assert result.counts == reference.counts
    assert_round_trips(result.table)


@pytest.mark.parametrize("kind", KINDS)
def test_points_balances(shop: dict[str, Any], kind: str) -> None:
    from user_ops.membership import PointsPolicy, balances

    at = shop["as_of"] - timedelta(days=30)
    ledger = Table(
        {
            "customer_id": [1, 1, 2, 3, 3],
            "key": ["e1", "r1", "e1", "e1", "e2"],
            "kind": ["earn", "redeem", "earn", "earn", "earn"],
            "points": [100, 30, 50, 7, 8],
            "at": [at, at + timedelta(days=1), at, at, at + timedelta(days=2)],
        }
    )
    policy = PointsPolicy(expiry="after", expiry_after="40d")
    reference = balances(ledger, as_of=shop["as_of"], policy=policy, horizon="30d")
    result = balances(as_kind(ledger, kind), as_of=shop["as_of"], policy=policy, horizon="30d")
    assert result.equals(reference)
    assert_round_trips(result)

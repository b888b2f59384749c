"""The error contract of the tags, metrics, rfm, lifecycle and datasets rooms.

Every public entry point given bad input — a wrong type, ``None`` where it is not allowed, a naive
datetime, NaN, infinities, numbers beyond int64 or float64, empty input, a bool where a number is
expected — either answers or raises a ``user_ops`` error (``DataError``, ``ConfigError``, ...); never a
bare ``ValueError``/``TypeError``/``KeyError``/``IndexError``/``OverflowError`` from numpy or Python
internals. The sweeps below try every parameter, every column of a batch input and every field of a
scalar record with each bad value; the cases after them check that the error names the field, and
that bad values which used to be taken silently (a bool as a count, NaN as a threshold) are refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from user_ops import ConfigError, DataError, Table, UserOpsError
from user_ops.datasets import (
    DEFAULT_AS_OF,
    load_cdnow,
    synthetic_customers,
    synthetic_shop,
    synthetic_transactions,
)
from user_ops.lifecycle import (
    BGNBD,
    LifecyclePolicy,
    aipl_policy,
    population_cycle,
    recall_plan,
    stage_summary,
    transitions,
)
from user_ops.metrics import (
    Transactions,
    column_names,
    customer_metrics,
    customer_metrics_one,
    engagement_columns,
    engagement_metrics,
    engagement_metrics_one,
)
from user_ops.rfm import RFMModel, SegmentMap, pareto, segment_summary
from user_ops.tags import TagRule, TagSet, default_tags

AS_OF = DEFAULT_AS_OF
UTC = timezone.utc


class _Opaque:
    """An object of no type any entry point expects."""


BAD_VALUES: dict[str, Any] = {
    "None": None,
    "True": True,
    "np.True_": np.bool_(True),
    "text": "x",
    "empty text": "",
    "bytes": b"x",
    "-1": -1,
    "1.5": 1.5,
    "NaN": math.nan,
    "np.nan": np.float64("nan"),
    "inf": math.inf,
    "-inf": -math.inf,
    "1e308": 1e308,
    "10**30": 10**30,
    "10**400": 10**400,
    "Decimal NaN": Decimal("NaN"),
    "Decimal 1e400": Decimal("1e400"),
    "[]": [],
    "{}": {},
    "empty array": np.array([]),
    "[None]": [None],
    "['x']": ["x"],
    "naive datetime": datetime(2024, 6, 1),
    "aware datetime": datetime(2024, 6, 1, tzinfo=UTC),
    "object": _Opaque(),
}


def _column_variants(n: int) -> dict[str, list[Any]]:
    """Bad contents of one column of ``n`` rows."""
    return {
        "nulls": [None] * n,
        "NaN": [math.nan] * n,
        "inf": [math.inf] * n,
        "1e308": [1e308] * n,
        "10**30": [10**30] * n,
        "bools": [True] * n,
        "text": ["x"] * n,
        "mixed": [1, "x"] * (n // 2) + [1] * (n % 2),
        "naive datetimes": [datetime(2024, 6, 1)] * n,
        "aware datetimes": [AS_OF] * n,
        "negative": [-1] * n,
        "lists": [[1]] * n,
        "Decimal 1e400": [Decimal("1e400")] * n,
        "objects": [_Opaque()] * n,
        "one row short": [1] * (n - 1),
    }


def _leak(call: Callable[[], object]) -> str | None:
    """``None`` when ``call`` answers or raises a user_ops error; else what escaped, and where."""
    try:
        call()
    except UserOpsError:
        return None
    except Exception as exc:  # the contract under test: nothing else may escape
        frame = exc.__traceback__
        while frame is not None and frame.tb_next is not None:
            frame = frame.tb_next
        where = f"{frame.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.tb_lineno}" if frame else "?"
        return f"{type(exc).__name__} at {where}: {str(exc)[:120]}"
    return None


# -- the data every entry point starts from ------------------------------------------------------------
CUSTOMERS = synthetic_customers(30, seed=3)
ORDERS = synthetic_transactions(30, seed=3)
RECORD = CUSTOMERS.row(5)
TAGS = default_tags()
METRICS = customer_metrics(Transactions(ORDERS), as_of=AS_OF)
RFM = RFMModel.quantile().fit(CUSTOMERS)
SCORES = RFM.score(CUSTOMERS)
POLICY = LifecyclePolicy.default()
STAGES = POLICY.classify(CUSTOMERS, as_of=AS_OF)
MOVES = transitions(STAGES, STAGES)
BG = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
ONE_CUSTOMER = [r for r in ORDERS.to_dicts() if r["customer_id"] == ORDERS["customer_id"][0]]
EVENTS = {
    "customer_id": [1, 1, 2],
    "event": ["view", "add_to_cart", "purchase"],
    "occurred_at": [AS_OF - timedelta(days=d) for d in (1, 2, 3)],
}


def _recall_plan_by_name(classified: Any, segments: Any, metrics: Any, **options: Any) -> object:
    """``recall_plan`` takes its three tables positionally; the sweep passes every argument by name."""
    return recall_plan(classified, segments, metrics, **options)


@dataclass(frozen=True)
class Entry:
    """A public entry point and arguments it accepts; the sweep replaces one argument at a time."""

    name: str
    call: Callable[..., object]
    arguments: dict[str, Any]


ENTRIES = [
    # tags
    Entry("TagRule", TagRule, {"name": "a", "when": "x > 1", "label_en": "A", "group": "g", "priority": 1}),
    Entry("TagSet", TagSet, {"tags": [TagRule(name="a", when="x > 1")]}),
    Entry("TagSet.evaluate", TAGS.evaluate, {"table": CUSTOMERS, "as_of": AS_OF, "tz": None}),
    Entry("TagSet.evaluate_one", TAGS.evaluate_one, {"record": RECORD, "as_of": AS_OF, "tz": None}),
    Entry("TagSet.explain_one", TAGS.explain_one, {"record": RECORD, "tag": "spend_high", "as_of": AS_OF}),
    Entry("TagSet[]", lambda name: TAGS[name], {"name": "spend_high"}),
    Entry("TagRule.label", TAGS["spend_high"].label, {"lang": "zh"}),
    Entry(
        "default_tags",
        default_tags,
        {
            "frequency_high": 4,
            "spend_high": 2000,
            "spend_medium": 500,
            "recent_days": 30,
            "lapsed_days": 180,
            "new_member_window": "1mo",
            "promo_share": 0.5,
            "top_price_share": 0.3,
            "big_ticket": 1000,
        },
    ),
    # metrics
    Entry(
        "customer_metrics",
        customer_metrics,
        {
            "transactions": Transactions(ORDERS),
            "as_of": AS_OF,
            "windows": ["30d"],
            "tz": None,
            "customers": None,
            "top_price_quantile": 0.9,
            "top_price_threshold": None,
            "btyd_period": "D",
            "btyd_multiplier": 1,
            "btyd_end": None,
        },
    ),
    Entry(
        "customer_metrics_one",
        customer_metrics_one,
        {
            "orders": ONE_CUSTOMER,
            "as_of": AS_OF,
            "windows": ["30d"],
            "tz": None,
            "registered_at": None,
            "top_price_threshold": None,
            "btyd_period": "D",
            "btyd_multiplier": 1,
            "btyd_end": None,
        },
    ),
    Entry("Transactions", Transactions, {"data": ORDERS, "tz": None}),
    Entry("Transactions.from_records", Transactions.from_records, {"rows": ONE_CUSTOMER, "columns": None}),
    Entry("column_names", column_names, {"windows": ["30d"]}),
    # rfm
    Entry("RFMModel", RFMModel, {"method": "quantile", "bins": 5, "recency_column": "recency_days"}),
    Entry("RFMModel.thresholds", RFMModel.thresholds, {"recency": [30], "frequency": [2], "monetary": [500]}),
    Entry("RFMModel.fit", lambda table: RFMModel.mean().fit(table), {"table": CUSTOMERS}),
    Entry("RFMModel.score", RFM.score, {"table": CUSTOMERS}),
    Entry("RFMModel.score_one", RFM.score_one, {"record": RECORD}),
    Entry("pareto", pareto, {"values": CUSTOMERS["monetary"], "shares": (0.2,), "points": 11}),
    Entry("pareto(clip_negative)", pareto, {"values": [1.0, 2.0], "clip_negative": False}),
    Entry("segment_summary", segment_summary, {"scores": SCORES, "metrics": CUSTOMERS, "segment_map": None}),
    Entry(
        "SegmentMap.from_rules",
        SegmentMap.from_rules,
        {"rules": {"a": "r >= 4"}, "fallback": "other", "labels": {"a": ("A", "甲")}, "levels": None},
    ),
    Entry("SegmentMap.cn8", SegmentMap.cn8, {"levels": 2}),
    Entry("SegmentMap.segment_of", SegmentMap.classic().segment_of, {"r": 1, "f": 2, "m": 3}),
    Entry("SegmentMap[]", lambda code: SegmentMap.classic()[code], {"code": "champions"}),
    # lifecycle
    Entry("LifecyclePolicy.classify", POLICY.classify, {"table": CUSTOMERS, "as_of": AS_OF, "tz": None}),
    Entry("LifecyclePolicy.classify_one", POLICY.classify_one, {"record": RECORD, "as_of": AS_OF}),
    Entry("LifecyclePolicy.index", POLICY.index, {"code": "churn"}),
    Entry("LifecyclePolicy[]", lambda code: POLICY[code], {"code": "churn"}),
    Entry("Stage.label", POLICY["churn"].label, {"lang": "en"}),
    Entry(
        "LifecyclePolicy.default",
        LifecyclePolicy.default,
        {
            "population_cycle_days": 30.0,
            "dormancy_multiple": 2.0,
            "churn_multiple": 4.0,
            "dormancy_min_days": 30,
            "churn_max_days": 365,
            "mature_orders": 4,
            "mature_tenure_days": 90,
            "mature_monetary": None,
            "p_alive_below": None,
        },
    ),
    Entry("LifecyclePolicy.default_for", LifecyclePolicy.default_for, {"metrics": CUSTOMERS}),
    Entry(
        "population_cycle",
        population_cycle,
        {"metrics": CUSTOMERS, "column": "repurchase_cycle_days", "quantile": 0.5},
    ),
    Entry(
        "aipl_policy",
        aipl_policy,
        {"window": "30d", "interest_events": 2, "loyal_purchases": 2, "members_are_loyal": True},
    ),
    Entry("stage_summary", stage_summary, {"stages": STAGES, "metrics": CUSTOMERS, "policy": None}),
    Entry(
        "transitions",
        transitions,
        {"before": STAGES, "after": STAGES, "id_column": "customer_id", "policy": None},
    ),
    Entry("Transitions.count", MOVES.count, {"source": "churn", "target": "churn"}),
    Entry("Transitions.customers", MOVES.customers, {"source": "churn", "target": "churn"}),
    Entry(
        "recall_plan",
        _recall_plan_by_name,
        {
            "classified": STAGES,
            "segments": SCORES,
            "metrics": CUSTOMERS,
            "stages": ("dormancy", "churn"),
            "value": "monetary",
            "policy": None,
            "id_column": "customer_id",
        },
    ),
    Entry("BGNBD.from_params", BGNBD.from_params, {"r": 0.2, "alpha": 4.0, "a": 0.8, "b": 2.5}),
    Entry("BGNBD.p_alive", BG.p_alive, {"data": METRICS}),
    Entry("BGNBD.expected_purchases", BG.expected_purchases, {"horizon": 30, "data": METRICS}),
    Entry("BGNBD.expected_purchases_new", BG.expected_purchases_new, {"t": 30}),
    Entry("BGNBD.with_p_alive", BG.with_p_alive, {"data": METRICS, "horizon": None, "column": "p_alive"}),
    Entry("BGNBD.p_alive_one", BG.p_alive_one, {"record": METRICS.row(0)}),
    Entry(
        "BGNBD.expected_purchases_one", BG.expected_purchases_one, {"horizon": 30, "record": METRICS.row(0)}
    ),
    Entry(
        "engagement_metrics",
        engagement_metrics,
        {"events": EVENTS, "as_of": AS_OF, "windows": ("30d",), "vocabulary": None, "customers": None},
    ),
    Entry(
        "engagement_metrics_one",
        engagement_metrics_one,
        {
            "events": [{"event": "view", "occurred_at": AS_OF - timedelta(days=1)}],
            "as_of": AS_OF,
            "windows": ("30d",),
            "customer_id": None,
        },
    ),
    Entry("engagement_columns", engagement_columns, {"windows": ("30d",)}),
    # datasets
    Entry("synthetic_customers", synthetic_customers, {"n": 5, "seed": 1, "as_of": None}),
    Entry("synthetic_transactions", synthetic_transactions, {"n_customers": 5, "seed": 1, "as_of": None}),
    Entry(
        "synthetic_shop", synthetic_shop, {"n_customers": 5, "seed": 1, "as_of": None, "lines_per_order": 2.8}
    ),
    Entry("load_cdnow", load_cdnow, {"path": "/nonexistent/cdnow.txt"}),
]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_every_argument_answers_bad_values_with_a_user_ops_error(entry: Entry) -> None:
    assert _leak(lambda: entry.call(**entry.arguments)) is None  # the arguments themselves are fine
    leaks = []
    for parameter in entry.arguments:
        for label, value in BAD_VALUES.items():
            arguments = {**entry.arguments, parameter: value}
            leak = _leak(lambda arguments=arguments: entry.call(**arguments))  # type: ignore[misc]
            if leak is not None:
                leaks.append(f"{entry.name}({parameter}={label}): {leak}")
    assert not leaks, "\n".join(leaks)


BATCH = [
    ("TagSet.evaluate", lambda table: TAGS.evaluate(table, as_of=AS_OF), CUSTOMERS, None),
    ("LifecyclePolicy.classify", lambda table: POLICY.classify(table, as_of=AS_OF), CUSTOMERS, None),
    ("RFMModel.fit quantile", lambda table: RFMModel.quantile().fit(table), CUSTOMERS, None),
    ("RFMModel.fit mean", lambda table: RFMModel.mean().fit(table), CUSTOMERS, None),
    ("RFMModel.score", RFM.score, CUSTOMERS, None),
    ("segment_summary", lambda table: segment_summary(SCORES, table), CUSTOMERS, None),
    ("stage_summary", lambda table: stage_summary(STAGES, table), CUSTOMERS, None),
    ("LifecyclePolicy.default_for", LifecyclePolicy.default_for, CUSTOMERS, ["repurchase_cycle_days"]),
    (
        "customer_metrics",
        lambda table: customer_metrics(Transactions(table, tz="UTC"), as_of=AS_OF),
        ORDERS,
        None,
    ),
    (
        "customer_metrics(customers=)",
        lambda table: customer_metrics(Transactions(ORDERS), as_of=AS_OF, customers=table),
        CUSTOMERS.select(["customer_id", "registered_at"]),
        None,
    ),
    ("BGNBD.p_alive", BG.p_alive, METRICS, ["repeat_frequency", "recency_age", "T"]),
    (
        "BGNBD.fit",
        lambda table: BGNBD().fit(table),
        METRICS.select(["repeat_frequency", "recency_age", "T"]),
        None,
    ),
    ("engagement_metrics", lambda table: engagement_metrics(table, as_of=AS_OF), Table(EVENTS), None),
]


# Warnings are not what this test is about: BG/NBD's optimizer on absurd data, RFM's single-value notice.
@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::user_ops.UserOpsWarning")
@pytest.mark.parametrize(("name", "call", "table", "columns"), BATCH, ids=[b[0] for b in BATCH])
def test_every_column_of_a_batch_input_answers_bad_values_with_a_user_ops_error(
    name: str, call: Callable[[Any], object], table: Table, columns: list[str] | None
) -> None:
    assert _leak(lambda: call(table)) is None
    data = {column: table[column] for column in table.columns}
    leaks = []
    for column in columns or table.columns:
        for label, values in _column_variants(len(table)).items():

            def run(column: str = column, values: list[Any] = values) -> object:
                return call(Table({**data, column: values}, tz="UTC"))

            leak = _leak(run)
            if leak is not None:
                leaks.append(f"{name}[{column}={label}]: {leak}")
        missing = {c: v for c, v in data.items() if c != column}
        leak = _leak(lambda missing=missing: call(Table(missing, tz="UTC")))  # type: ignore[misc]
        if leak is not None:
            leaks.append(f"{name}[without {column}]: {leak}")
    for label, empty in {
        "no columns": {},
        "no rows": Table({c: v[:0] for c, v in data.items()}, tz="UTC"),
    }.items():
        leak = _leak(lambda empty=empty: call(empty))  # type: ignore[misc]
        if leak is not None:
            leaks.append(f"{name}[{label}]: {leak}")
    assert not leaks, "\n".join(leaks)


SCALAR = [
    ("TagSet.evaluate_one", lambda record: TAGS.evaluate_one(record, as_of=AS_OF), RECORD),
    ("TagSet.explain_one", lambda record: TAGS.explain_one(record, "repurchase_due", as_of=AS_OF), RECORD),
    ("LifecyclePolicy.classify_one", lambda record: POLICY.classify_one(record, as_of=AS_OF), RECORD),
    ("RFMModel.score_one", RFM.score_one, RECORD),
    ("BGNBD.p_alive_one", BG.p_alive_one, METRICS.row(0)),
    ("BGNBD.expected_purchases_one", lambda record: BG.expected_purchases_one(30, record), METRICS.row(0)),
    (
        "customer_metrics_one",
        lambda row: customer_metrics_one([row, *ONE_CUSTOMER[1:]], as_of=AS_OF),
        ONE_CUSTOMER[0],
    ),
]


@pytest.mark.parametrize(("name", "call", "record"), SCALAR, ids=[s[0] for s in SCALAR])
def test_every_field_of_a_scalar_input_answers_bad_values_with_a_user_ops_error(
    name: str, call: Callable[[Any], object], record: dict[str, Any]
) -> None:
    assert _leak(lambda: call(record)) is None
    leaks = []
    for field in record:
        for label, value in BAD_VALUES.items():
            leak = _leak(lambda changed={**record, field: value}: call(changed))  # type: ignore[misc]
            if leak is not None:
                leaks.append(f"{name}[{field}={label}]: {leak}")
        missing = {k: v for k, v in record.items() if k != field}
        leak = _leak(lambda missing=missing: call(missing))  # type: ignore[misc]
        if leak is not None:
            leaks.append(f"{name}[without {field}]: {leak}")
    assert not leaks, "\n".join(leaks)


# -- the error names the field, and values once taken silently are refused -------------------------------
def untyped(function: Callable[..., Any]) -> Any:
    """``function`` with its signature erased: the calls below pass wrong types on purpose."""
    return function


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        # bools, fractions and NaN where counts and thresholds are expected
        (lambda: default_tags(frequency_high=True), ConfigError, "frequency_high must be a whole number"),
        (lambda: untyped(default_tags)(recent_days=7.5), ConfigError, "recent_days must be a whole number"),
        (lambda: default_tags(spend_high=math.nan), ConfigError, "spend_high must be a finite number"),
        (lambda: default_tags(promo_share=1.5), ConfigError, "promo_share must be a number from 0 to 1"),
        (
            lambda: default_tags(spend_medium=3000),
            ConfigError,
            "spend_medium .* must not be above spend_high",
        ),
        (lambda: default_tags(big_ticket=1e308 * 10), ConfigError, "big_ticket must be a finite number"),
        # a duration is written into a rule: it must be nothing but a duration
        (lambda: default_tags(new_member_window="1mo or frequency >= 0"), ConfigError, "new_member_window"),
        (lambda: TagRule(name="a", when="x > 1", priority=True), ConfigError, "priority"),
        (lambda: untyped(TagSet)("spend_high"), ConfigError, "TagSet takes a list of TagRule, got str"),
        (lambda: TAGS["spend_high"].label("fr"), ConfigError, "lang must be 'en' or 'zh'"),
        (lambda: untyped(TAGS.explain_one)(RECORD, None, as_of=AS_OF), ConfigError, "no tag None"),
        (lambda: column_names("30d"), DataError, "windows must be a list"),
        (lambda: untyped(column_names)([b"30d"]), DataError, "windows must be durations"),
        (
            lambda: customer_metrics(ORDERS, as_of=AS_OF, top_price_threshold=10**400),
            DataError,
            "top_price_threshold",
        ),
        (
            lambda: untyped(customer_metrics)(ORDERS, as_of=AS_OF, btyd_period=np.array(["D"])),
            DataError,
            "btyd_period",
        ),
        (lambda: untyped(Transactions.from_records)(3), DataError, "from_records\\(\\) takes an iterable"),
        (
            lambda: Transactions(
                {
                    "customer_id": [1],
                    "ordered_at": np.array(["-2000-01-01"], dtype="datetime64[us]"),
                    "amount": [1.0],
                },
                tz="UTC",
            ),
            DataError,
            "column 'ordered_at' row 0: .* is outside the calendar",
        ),
        (
            lambda: untyped(RFMModel.thresholds)(recency=30, frequency=[2], monetary=[500]),
            ConfigError,
            "recency cut-points",
        ),
        (lambda: SegmentMap.cn8(True), ConfigError, "levels must be an int"),
        (lambda: SegmentMap.classic().segment_of(0, 2, 3), DataError, "score r must be from 1 to 9"),
        (lambda: SegmentMap.classic().segment_of(1, True, 3), DataError, "score f must be an int"),
        (lambda: untyped(SegmentMap.from_rules)("r >= 4"), ConfigError, "rules must map segment codes"),
        (lambda: untyped(SegmentMap.from_rules)({"a": "r >= 4"}, fallback=None), ConfigError, "fallback"),
        (
            lambda: untyped(SegmentMap.from_rules)({"a": "r >= 4"}, labels={"a": "A"}),
            ConfigError,
            "labels\\['a'\\]",
        ),
        (
            lambda: untyped(pareto)([1.0, 2.0], clip_negative="no"),
            ConfigError,
            "clip_negative must be True or False",
        ),
        (lambda: untyped(pareto)([1.0, 2.0], points=2.5), ConfigError, "points must be an int"),
        (lambda: pareto([1.0, 2.0], points=10**30), ConfigError, "points must be from 2"),
        (lambda: untyped(pareto)([1.0, 2.0], shares="0.2"), ConfigError, "shares must be a list"),
        (lambda: pareto([1.0, 2.0], shares=[True]), ConfigError, "shares must be numbers"),
        (
            lambda: untyped(segment_summary)(SCORES, segment_map="classic"),
            ConfigError,
            "segment_map must be a SegmentMap",
        ),
        (
            lambda: segment_summary(SCORES, CUSTOMERS.with_columns({"frequency": ["x"] * len(CUSTOMERS)})),
            DataError,
            "column 'frequency' must hold numbers",
        ),
        (lambda: population_cycle(CUSTOMERS, quantile=True), ConfigError, "quantile must be a number"),
        (lambda: LifecyclePolicy.default(churn_max_days=10**30), ConfigError, "churn_max_days"),
        (
            lambda: LifecyclePolicy.default(population_cycle_days=10**400),
            ConfigError,
            "population_cycle_days",
        ),
        (lambda: aipl_policy(interest_events=10**30), ConfigError, "interest_events"),
        (lambda: POLICY["churn"].action_label("fr"), ConfigError, "lang must be 'en' or 'zh'"),
        (
            lambda: untyped(transitions)(STAGES, STAGES, policy="default"),
            ConfigError,
            "policy must be a LifecyclePolicy",
        ),
        (
            lambda: untyped(transitions)(STAGES, STAGES, id_column=1),
            ConfigError,
            "id_column must be a column name",
        ),
        (lambda: untyped(stage_summary)(STAGES, policy=""), ConfigError, "policy must be a LifecyclePolicy"),
        (
            lambda: untyped(recall_plan)(STAGES, SCORES, CUSTOMERS, value=None),
            ConfigError,
            "value must be a column name",
        ),
        (
            lambda: untyped(recall_plan)(STAGES, SCORES, CUSTOMERS, stages=[1]),
            ConfigError,
            "stages must be stage codes",
        ),
        (lambda: BGNBD.from_params(r=True, alpha=1.0, a=1.0, b=1.0), ConfigError, "params_.r"),
        (lambda: BG.expected_purchases_new([True]), DataError, "t must be finite non-negative numbers"),
        (lambda: BG.expected_purchases(10**400, METRICS), DataError, "horizon"),
        (lambda: untyped(BG.with_p_alive)(METRICS, column=None), ConfigError, "column must be a column name"),
        (lambda: engagement_columns("30d"), DataError, "windows must be a list"),
        (
            lambda: engagement_metrics_one(
                [{"customer_id": 1, "event": "view", "occurred_at": AS_OF - timedelta(days=1)}],
                as_of=AS_OF,
                customer_id=2,
            ),
            DataError,
            "customer_id=2 but the events are customer 1's",
        ),
        (
            lambda: engagement_metrics_one([], as_of=AS_OF, customer_id=1.5),
            DataError,
            "customer_id must be an int or a str",
        ),
        (lambda: synthetic_transactions(True), DataError, "^n_customers must be a positive integer"),
        (lambda: untyped(load_cdnow)(3), DataError, "path must be a file or folder path"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    call: Callable[[], object], error: type[UserOpsError], message: str
) -> None:
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    ("lookup", "name"),
    [
        (lambda: TAGS["nope"], "no tag 'nope' in this set"),
        (lambda: TAGS.explain_one(RECORD, "nope", as_of=AS_OF), "no tag 'nope' in this set"),
        (lambda: SegmentMap.classic()["nope"], "no segment 'nope' in map 'classic'"),
        (lambda: POLICY["nope"], "no stage 'nope' in this policy"),
        (lambda: POLICY.index("nope"), "no stage 'nope' in this policy"),
        (lambda: MOVES.count("nope", "churn"), "no source state 'nope'"),
        (lambda: MOVES.customers("churn", "nope"), "no target state 'nope'"),
        (lambda: recall_plan(STAGES, SCORES, CUSTOMERS).customers("nope", "x"), "no recall group"),
    ],
)
def test_an_unknown_name_is_a_config_error_that_is_also_a_key_error(
    lookup: Callable[[], object], name: str
) -> None:
    with pytest.raises(ConfigError, match=name) as caught:
        lookup()
    assert isinstance(caught.value, KeyError)  # mapping-style code that catches KeyError keeps working
    assert str(caught.value).startswith("no ")  # the message itself, not KeyError's quoted repr

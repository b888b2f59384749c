"""RFMModel: the three methods, validation, nulls, errors, JSON, and scalar/batch agreement."""

from __future__ import annotations

import math
import warnings
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from user_ops import ConfigError, DataError, NotFittedError, Table, UserOpsWarning
from user_ops.datasets import synthetic_customers
from user_ops.rfm import RFMModel, RFMScore, SegmentMap

BUSINESS = {"recency": [7, 30, 90, 180], "frequency": [2, 3, 5, 10], "monetary": [100, 300, 1000, 3000]}


def metrics(**columns: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"recency_days": [3], "frequency": [1], "monetary": [10.0]}
    base.update(columns)
    return base


# -- thresholds -------------------------------------------------------------------------------------
def test_thresholds_hand_computed() -> None:
    model = RFMModel.thresholds(**BUSINESS)
    table = {
        "customer_id": [1, 2, 3, 4, 5],
        "recency_days": [0, 7, 8, 180, 181],
        "frequency": [1, 2, 9, 10, 40],
        "monetary": [99.99, 100.0, 2999.0, 3000.0, 0.0],
    }
    scores = model.score(table)
    assert scores["r"].tolist() == [5, 5, 4, 2, 1]  # "within 7 days" includes day 7
    assert scores["f"].tolist() == [1, 2, 4, 5, 5]  # reaching a cut-point raises the score
    assert scores["m"].tolist() == [1, 2, 4, 5, 1]
    assert scores["rfm_code"].tolist() == ["511", "522", "444", "255", "151"]
    assert scores["segment"].tolist() == [
        "new_customers",
        "potential_loyalist",
        "champions",
        "cant_lose_them",
        "cant_lose_them",
    ]
    assert scores["customer_id"].tolist() == [1, 2, 3, 4, 5]
    assert model.is_fitted and model.n_fitted_ is None
    assert model.fit(table) is model  # nothing to learn


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"recency": [30, 7]}, "strictly increasing"),
        ({"frequency": [2, 2, 3]}, "strictly increasing"),
        ({"monetary": [-1, 100]}, "non-negative"),
        ({"monetary": [float("nan")]}, "non-negative finite"),
        ({"recency": []}, "needs recency cut-points"),
        ({"frequency": list(range(1, 10))}, "at most 8"),
    ],
)
def test_bad_thresholds_raise_config_error_at_construction(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RFMModel.thresholds(**{**BUSINESS, **change})


def test_other_config_errors() -> None:
    with pytest.raises(ConfigError, match="bins applies to method='quantile' only"):
        RFMModel(method="mean", bins=3)
    with pytest.raises(ConfigError, match="needs recency cut-points"):
        RFMModel(method="thresholds")
    with pytest.raises(ConfigError, match="bins"):
        RFMModel.quantile(bins=10)
    with pytest.raises(ConfigError, match=r"written for scores 1\.\.5"):
        RFMModel.quantile(bins=4, segments=SegmentMap.classic())
    with pytest.raises(ConfigError, match="no default segment map"):
        RFMModel.thresholds(recency=[7], frequency=[2, 3], monetary=[100])
    with pytest.raises(ConfigError, match="recency_cuts_"):
        RFMModel(method="thresholds", recency_cuts_=5, frequency_cuts_=[1], monetary_cuts_=[1])
    with pytest.raises(ConfigError, match="partial"):
        RFMModel(method="quantile", recency_cuts_=(1.0,), recency_scores_=(5, 1))


def test_default_maps() -> None:
    assert RFMModel.quantile().segment_map.name == "classic"
    assert RFMModel.quantile(bins=4).segment_map.name == "cn8_4"
    assert RFMModel.mean().segment_map.name == "cn8_2"
    assert RFMModel.quantile(bins=4, segments=SegmentMap.pymc()).segment_map.name == "pymc"
    # the classic map reads R and F only: M may have another scale
    model = RFMModel.thresholds(recency=[1, 2, 3, 4], frequency=[1, 2, 3, 4], monetary=[5])
    assert model.segment_map.name == "classic"


# -- quantile and mean ------------------------------------------------------------------------------
def test_not_fitted_error_says_fit_returns_a_new_model() -> None:
    model = RFMModel.quantile()
    assert not model.is_fitted
    with pytest.raises(NotFittedError, match=r"model = model\.fit\(metrics\)"):
        model.score(metrics())
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.score_one({"recency_days": 1, "frequency": 1, "monetary": 1.0})
    fitted = model.fit(synthetic_customers(300))
    assert fitted.is_fitted and not model.is_fitted  # fit returned a new model


def test_quantile_fit_excludes_never_bought_and_scores_them_null() -> None:
    table = {
        "customer_id": [1, 2, 3, 4, 5],
        "recency_days": [None, 1, 10, 100, 1000],
        "frequency": [0, 4, 3, 2, 1],
        "monetary": [float("nan"), 400.0, 300.0, 200.0, 100.0],  # NaN is fine without a purchase
    }
    model = RFMModel.quantile(bins=4).fit(table)
    assert model.n_fitted_ == 4
    assert model.frequency_cuts_ == (2.0, 3.0, 4.0)
    assert model.recency_cuts_ == (1.0, 10.0, 100.0)
    scores = model.score(table)
    assert scores["r"].tolist() == [None, 4, 3, 2, 1]
    assert scores["rfm_code"].tolist() == [None, "444", "333", "222", "111"]
    assert scores["segment"].tolist()[0] == "never_bought"
    assert scores["segment_zh"].tolist()[0] == "潜在用户"
    one = model.score_one({"recency_days": None, "frequency": 0, "monetary": float("nan")})
    assert one == RFMScore(None, None, None, None, "never_bought", "Never bought", "潜在用户")
    assert (
        model.score_one({"recency_days": float("nan"), "frequency": 0, "monetary": 0}).segment
        == "never_bought"
    )


def test_mean_method_is_the_chinese_8_class_model() -> None:
    table = {"recency_days": [10, 30, 20], "frequency": [5, 1, 3], "monetary": [900.0, 100.0, 200.0]}
    model = RFMModel.mean().fit(table)
    assert model.recency_cuts_ == (20.0,) and model.frequency_cuts_ == (3.0,)
    assert model.monetary_cuts_ == (400.0,)
    scores = model.score(table)
    assert scores["rfm_code"].tolist() == ["222", "111", "221"]  # a value on the mean is high
    assert scores["segment_zh"].tolist() == ["重要价值客户", "一般挽留客户", "一般价值客户"]


def test_empty_population_and_bad_data() -> None:
    with pytest.raises(DataError, match="no customer has a purchase"):
        RFMModel.quantile().fit({"recency_days": [None, None], "frequency": [0, 0], "monetary": [0.0, 0.0]})
    with pytest.raises(DataError, match="no customer has a purchase"):
        RFMModel.quantile().fit(Table({"recency_days": [], "frequency": [], "monetary": []}))
    with pytest.raises(DataError, match="'monetary' is null"):
        RFMModel.quantile().fit(metrics(monetary=[float("nan")]))
    with pytest.raises(DataError, match="'frequency' is negative"):
        RFMModel.quantile().fit(metrics(frequency=[-1]))
    with pytest.raises(DataError, match="must be numeric"):
        RFMModel.quantile().fit(metrics(monetary=["a lot"]))
    with pytest.raises(DataError, match="infinite"):
        RFMModel.quantile().fit(metrics(monetary=[float("inf")]))
    with pytest.raises(DataError, match="recency_days"):
        RFMModel.quantile().fit({"frequency": [1], "monetary": [1.0]})
    model = RFMModel.thresholds(**BUSINESS)
    with pytest.raises(DataError, match="must be a number"):
        model.score_one({"recency_days": 1, "frequency": True, "monetary": 1.0})
    with pytest.raises(DataError, match="'monetary' is null"):
        model.score_one({"recency_days": 1, "frequency": 1, "monetary": None})
    with pytest.raises(DataError, match="monetary"):
        model.score_one({"recency_days": 1, "frequency": 1})
    with pytest.raises(DataError, match="negative"):
        model.score_one({"recency_days": -2, "frequency": 1, "monetary": 1.0})


def test_single_value_dimension_warns_once_at_fit() -> None:
    table = {"recency_days": [1, 5, 9], "frequency": [1, 1, 1], "monetary": [5.0, 6.0, 7.0]}
    with pytest.warns(UserOpsWarning, match="'frequency' has a single value"):
        model = RFMModel.quantile().fit(table)
    assert model.score(table)["f"].tolist() == [3, 3, 3]


def test_column_names_and_decimal_input() -> None:
    model = RFMModel.thresholds(**BUSINESS, recency_column="r_days", monetary_column="spend", id_column="uid")
    table = {"uid": ["a", "b"], "r_days": [3, 50], "frequency": [2, 1], "spend": [Decimal("100.00"), None]}
    scores = model.score(Table(table).with_columns({"r_days": [3, None]}))
    assert scores.columns[0] == "uid" and scores["rfm_code"].tolist() == ["522", None]
    assert model.score_one({"r_days": 3, "frequency": 2, "spend": Decimal("100.00")}).rfm_code == "522"


def test_score_accepts_pandas_and_polars() -> None:
    customers = synthetic_customers(200)
    model = RFMModel.quantile().fit(customers)
    expected = model.score(customers)
    assert model.score(customers.to_pandas()).equals(expected)
    assert model.score(customers.to_polars()).equals(expected)


# -- JSON -------------------------------------------------------------------------------------------
def test_fitted_model_round_trips_through_json_and_scores_identically() -> None:
    customers = synthetic_customers(1500)
    for model in (
        RFMModel.quantile(),
        RFMModel.mean(),
        RFMModel.quantile(bins=4, segments=SegmentMap.pymc()),
    ):
        fitted = model.fit(customers)
        text = fitted.to_json()
        again = RFMModel.from_json(text)
        assert again == fitted
        assert again.content_hash() == fitted.content_hash()
        assert again.score(customers).equals(fitted.score(customers))
        assert again == fitted  # a computed lookup cache does not make equal models unequal
        assert RFMModel.from_json(text) == fitted
    assert (
        RFMModel.quantile().fit(customers).content_hash() == RFMModel.quantile().fit(customers).content_hash()
    )
    assert "recency_cuts_" in RFMModel.json_schema()["properties"]


def test_a_corrupted_document_raises_config_error() -> None:
    document = RFMModel.quantile().fit(synthetic_customers(300)).to_dict()
    document["frequency_cuts_"] = list(reversed(document["frequency_cuts_"]))
    with pytest.raises(ConfigError, match="strictly increasing"):
        RFMModel.from_json(document)
    document = RFMModel.quantile().fit(synthetic_customers(300)).to_dict()
    document["recency_scores_"] = [1, 2, 3, 4, 5]
    with pytest.raises(ConfigError, match="strictly fall"):
        RFMModel.from_json(document)


def test_html_repr() -> None:
    model = RFMModel.quantile().fit(synthetic_customers(300))
    page = model._repr_html_()
    assert "cut-points" in page and "recency_days" in page and "冠军客户" in page
    assert "not fitted" in RFMModel.quantile()._repr_html_()


# -- scalar / batch agreement -----------------------------------------------------------------------
recency_values = st.one_of(st.none(), st.integers(0, 400), st.just(float("nan")))
rows = st.lists(
    st.tuples(recency_values, st.integers(0, 12), st.sampled_from([0.0, 9.9, 10.0, 55.5, 120.0, 1e4])),
    min_size=1,
    max_size=60,
)


def _table(data: list[tuple[Any, int, float]]) -> dict[str, list[Any]]:
    recency = [None if r is None or (isinstance(r, float) and math.isnan(r)) else r for r, _, _ in data]
    return {
        "customer_id": list(range(len(data))),
        "recency_days": recency,
        "frequency": [f for _, f, _ in data],
        "monetary": [m for _, _, m in data],
    }


def _models(fit_on: dict[str, list[Any]], bins: int) -> list[RFMModel]:
    models = [RFMModel.thresholds(**BUSINESS)]
    if any(r is not None for r in fit_on["recency_days"]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserOpsWarning)
            models.append(RFMModel.quantile(bins=bins).fit(fit_on))
            models.append(RFMModel.mean().fit(fit_on))
    return models


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows, rows, st.integers(2, 9))
def test_score_equals_score_one_for_every_row(train: list[Any], test: list[Any], bins: int) -> None:
    fit_on, scored = _table(train), _table(test)
    for model in _models(fit_on, bins):
        batch = model.score(scored).to_dicts()
        records = [
            {"recency_days": r, "frequency": f, "monetary": m} for r, f, m in test
        ]  # NaN recency stays NaN here: the scalar path must read it as null too
        for row, record in zip(batch, records):
            row.pop("customer_id")
            assert model.score_one(record).to_dict() == row
        # and the round-tripped model in a "backend" agrees too
        backend = RFMModel.from_json(model.to_json())
        assert [backend.score_one(r).to_dict() for r in records] == [
            model.score_one(r).to_dict() for r in records
        ]


@settings(max_examples=100, deadline=None)
@given(rows, st.integers(2, 9), st.integers(0, 400), st.integers(0, 30), st.floats(0, 1e5))
def test_scores_are_monotone_in_each_dimension(train: list[Any], bins: int, r: int, f: int, m: float) -> None:
    for model in _models(_table(train), bins):
        base = model.score_one({"recency_days": r, "frequency": f, "monetary": m})
        assert base.r is not None and base.f is not None and base.m is not None
        fewer_days = model.score_one({"recency_days": max(r - 7, 0), "frequency": f, "monetary": m})
        more_orders = model.score_one({"recency_days": r, "frequency": f + 1, "monetary": m})
        more_spend = model.score_one({"recency_days": r, "frequency": f, "monetary": m * 1.5 + 1})
        assert fewer_days.r is not None and fewer_days.r >= base.r
        assert more_orders.f is not None and more_orders.f >= base.f
        assert more_spend.m is not None and more_spend.m >= base.m
        assert 1 <= base.r <= model.levels["recency"]


def test_large_batch_matches_scalar_on_a_sample() -> None:
    customers = synthetic_customers(5000, seed=3)
    model = RFMModel.quantile().fit(customers)
    scores = model.score(customers)
    columns = ("recency_days", "frequency", "monetary")
    for index in range(0, 5000, 97):
        row = customers.row(index)
        expected = scores.row(index)
        expected.pop("customer_id")
        assert model.score_one({c: row[c] for c in columns}).to_dict() == expected
    assert len(np.unique(scores["segment"].astype(str))) == 12

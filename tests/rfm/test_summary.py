"""segment_summary sums and columns; pareto on known distributions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from user_ops import ConfigError, DataError, Table
from user_ops.datasets import synthetic_customers
from user_ops.rfm import RFMModel, SegmentMap, pareto, segment_summary


def test_summary_sums_and_order() -> None:
    customers = synthetic_customers(3000, seed=2)
    model = RFMModel.quantile().fit(customers)
    scores = model.score(customers)
    summary = segment_summary(scores, customers)
    assert summary["segment"].tolist() == [*model.segment_map.codes, "never_bought"]
    assert int(summary["count"].sum()) == 3000
    assert math.isclose(float(summary["share"].sum()), 1.0)
    assert math.isclose(float(summary["revenue_share"].sum()), 1.0)
    # Money rounded to the fen: within half a fen per segment of the exact total.
    total = float(customers["monetary"].sum())
    assert abs(float(summary["revenue"].sum()) - total) <= 0.005 * len(summary)
    champions = summary.row(0)
    mask = scores["segment"] == "champions"
    assert champions["count"] == int(mask.sum())
    assert champions["mean_monetary"] == round(float(customers["monetary"][mask].mean()), 2)
    assert math.isclose(champions["mean_f"], float(np.asarray(scores["f"])[mask].mean()))
    assert champions["label_zh"] == "冠军客户" and champions["action_en"]
    assert summary.columns == (
        "segment", "label_en", "label_zh", "count", "share", "revenue", "revenue_share",
        "mean_r", "mean_f", "mean_m", "mean_recency_days", "mean_frequency", "mean_monetary",
        "action_en", "action_zh",
    )  # fmt: skip
    assert scores.summary(customers).equals(summary)


def test_summary_without_metrics_and_empty_segments() -> None:
    model = RFMModel.mean()
    table = {"recency_days": [1, 9], "frequency": [3, 1], "monetary": [10.0, 2.0]}
    summary = segment_summary(model.fit(table).score(table))
    assert "revenue" not in summary.columns
    assert summary["count"].tolist() == [1, 0, 0, 0, 0, 0, 0, 1]  # no never_bought row: nobody
    assert math.isnan(summary["mean_r"][1])


def test_summary_errors() -> None:
    model = RFMModel.thresholds(recency=[30], frequency=[2], monetary=[500])
    table = {"customer_id": [1, 2], "recency_days": [1, 9], "frequency": [3, 1], "monetary": [10.0, 2.0]}
    scores = model.score(table)
    plain = Table({name: scores[name] for name in scores.columns})
    with pytest.raises(ConfigError, match="segment_map"):
        segment_summary(plain)
    assert segment_summary(plain, segment_map=model.segment_map).equals(segment_summary(scores))
    with pytest.raises(DataError, match="not in the same order"):
        segment_summary(scores, {**table, "customer_id": [2, 1]})
    with pytest.raises(DataError, match="rows"):
        segment_summary(scores, {"monetary": [1.0]})
    with pytest.raises(DataError, match="not in the segment map"):
        segment_summary(plain, segment_map=SegmentMap.classic())


def test_pareto_known_distributions() -> None:
    equal = pareto([7.0] * 13)
    assert equal.gini == pytest.approx(0.0, abs=1e-12)
    assert equal.top20_share == pytest.approx(0.2)
    assert all(y == pytest.approx(x) for x, y in equal.top_share.items())
    monopoly = pareto([0.0] * 99 + [50.0])
    assert monopoly.top_share[0.01] == 1.0 and monopoly.top20_share == 1.0
    assert monopoly.gini == pytest.approx(0.99)
    # two customers: 3 and 1 -> G = |3-1| * 2 / (2 * 4 * 2) = 0.25
    assert pareto([3.0, 1.0]).gini == pytest.approx(0.25)
    # 80/20 by construction: 20 customers bring 80 of 100
    rule = pareto([4.0] * 20 + [0.25] * 80)
    assert rule.top20_share == pytest.approx(0.8)
    assert rule.curve_x[0] == 0.0 and rule.curve_y[-1] == 1.0 and len(rule.curve_x) == 101
    assert len(pareto([1.0, 2.0], points=None).curve_x) == 3
    assert "Gini" in str(rule) and "<svg" in rule._repr_html_()


def test_pareto_errors_and_options() -> None:
    with pytest.raises(DataError, match="positive total"):
        pareto([0.0, 0.0])
    with pytest.raises(DataError, match="negative"):
        pareto([10.0, -20.0])
    with pytest.raises(DataError, match="positive total"):
        pareto([-5.0], clip_negative=True)
    assert pareto([10.0, -20.0], clip_negative=True).top_share[0.5] == 1.0
    with pytest.raises(DataError, match="NaN"):
        pareto([1.0, float("nan")])
    with pytest.raises(DataError, match="empty"):
        pareto([])
    with pytest.raises(ConfigError, match="fractions"):
        pareto([1.0], shares=(0.0,))
    customers = synthetic_customers(500)
    assert pareto(customers["monetary"]).n == 500
    assert pareto(customers.to_pandas()["monetary"]).gini == pareto(customers["monetary"]).gini


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=50).filter(lambda v: sum(v) > 0))
def test_pareto_gini_matches_the_pairwise_definition(values: list[float]) -> None:
    result = pareto(values)
    x = np.array(values)
    pairwise = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
    assert result.gini == pytest.approx(pairwise, abs=1e-9)
    shares = list(result.top_share.values())
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(shares))
    assert all(y >= x - 1e-12 for x, y in result.top_share.items())  # the top bring at least their share

"""RFM on values near float64's limit (about 1.8e308): right answers where they exist, DataError where
a sum has no float value, and never a silent ``inf`` or ``NaN``."""

from __future__ import annotations

import warnings
from fractions import Fraction

import pytest

from user_ops import DataError
from user_ops._scale import in_memory_reducer, split_rows
from user_ops._table import Table
from user_ops.rfm import RFMModel, fit_partitioned, pareto, segment_summary

HUGE: dict[str, list[float]] = {
    "customer_id": [1, 2, 3, 4],
    "recency_days": [3, 40, 200, 1.5e308],
    "frequency": [1e308, 1.7e308, 2, 1],
    "monetary": [1e308, 1.7e308, 5.0, 1.0],
}


def _exact_mean(values: list[float]) -> float:
    return float(sum(map(Fraction, values)) / len(values))


def test_the_mean_of_huge_values_is_their_mean_not_inf() -> None:
    # 1e308 + 1.7e308 overflows float64, but their mean (and the population's) is a finite number.
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy overflow warning either
        model = RFMModel.mean().fit(HUGE)
    for dim, column in (("recency", "recency_days"), ("frequency", "frequency"), ("monetary", "monetary")):
        (cut,) = getattr(model, f"{dim}_cuts_")
        assert cut == pytest.approx(_exact_mean(HUGE[column]), rel=1e-15), dim
    # monetary mean ~6.75e307: the two huge spenders are high, the others low.
    assert model.score(HUGE)["m"].tolist() == [2, 2, 1, 1]
    assert RFMModel.from_json(model.to_json()) == model  # the fitted state is valid (finite cut-points)
    assert [model.score_one(row).m for row in Table(HUGE).to_dicts()] == [2, 2, 1, 1]


def test_a_partitioned_mean_fit_of_huge_values_equals_fit() -> None:
    table = Table(HUGE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted = fit_partitioned(RFMModel.mean(), in_memory_reducer(split_rows(table, 2)))
    assert fitted == RFMModel.mean().fit(table)


def test_quantile_fits_and_scores_huge_values() -> None:
    model = RFMModel.quantile(bins=2).fit(HUGE)
    assert model.monetary_cuts_ == (1e308,)
    assert model.score(HUGE)["m"].tolist() == [2, 2, 1, 1]


def test_pareto_refuses_a_total_past_the_float_range() -> None:
    with pytest.raises(DataError, match=r"sum .*float range"):
        pareto([1e308, 1.7e308, 5.0])
    result = pareto([8e307, 5e307, 4e307])  # a total of 1.7e308 is still a float
    # The top 20 % of 3 customers is 0.6 of the top one, who brings 8/17 of the total.
    assert result.top20_share == pytest.approx(0.6 * 8 / 17, rel=1e-12)
    # Gini = 2 * (1 * 4 + 2 * 5 + 3 * 8) / (3 * 17) - 4 / 3 = 8 / 51, as for [8, 5, 4].
    assert result.gini == pytest.approx(8 / 51, rel=1e-12) == pareto([8.0, 5.0, 4.0]).gini


def test_segment_summary_refuses_revenue_past_the_float_range() -> None:
    model = RFMModel.thresholds(recency=[30], frequency=[2], monetary=[500])
    scores = model.score(HUGE)
    with pytest.raises(DataError, match=r"'monetary'.*float range"):
        segment_summary(scores, HUGE)

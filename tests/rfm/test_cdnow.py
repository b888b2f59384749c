"""Quantile RFM on the real, skewed CDNOW sample: no dimension collapses."""

from __future__ import annotations

import numpy as np
import pytest

from user_ops import DataError, Table
from user_ops.datasets import load_cdnow
from user_ops.rfm import RFMModel, pareto, segment_summary


@pytest.fixture(scope="module")
def cdnow_metrics() -> Table:
    pd = pytest.importorskip("pandas")
    try:
        orders = load_cdnow().to_pandas()
    except DataError:
        pytest.skip("the CDNOW sample file is not available")
    as_of = pd.Timestamp("1998-07-01", tz="UTC")
    per_customer = orders.groupby("customer_id").agg(
        last=("ordered_at", "max"), frequency=("ordered_at", "count"), monetary=("amount", "sum")
    )
    per_customer["recency_days"] = (as_of - per_customer["last"]).dt.days
    frame = per_customer.reset_index()[["customer_id", "recency_days", "frequency", "monetary"]]
    return Table.from_frame(frame)


def test_quantile_rfm_is_not_degenerate_on_cdnow(cdnow_metrics: Table) -> None:
    once = float(np.mean(cdnow_metrics["frequency"] == 1))
    assert 0.45 < once < 0.55  # about half the customers bought once
    model = RFMModel.quantile().fit(cdnow_metrics)
    scores = model.score(cdnow_metrics)
    for letter in ("r", "f", "m"):
        assert len(np.unique(scores[letter])) >= 3, letter
    f = np.asarray(scores["f"])
    assert len(np.unique(f)) == 5  # every F score is used despite the tie at one purchase
    assert set(f[np.asarray(cdnow_metrics["frequency"]) == 1].tolist()) == {1}
    assert float(np.mean(f == 1)) == pytest.approx(once)
    assert model.frequency_cuts_ == (2.0, 3.0, 4.0, 6.0)
    summary = segment_summary(scores, cdnow_metrics)
    assert int(summary["count"].sum()) == len(cdnow_metrics) == 2357


def test_cdnow_pareto(cdnow_metrics: Table) -> None:
    result = pareto(cdnow_metrics["monetary"])
    assert 0.6 < result.top20_share < 0.8  # spend is concentrated, less than "80 %"
    assert 0.5 < result.gini < 0.8

"""The real CDNOW sample: metrics equal a pandas ground truth; the BTYD summary equals the csv."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from user_ops import DataError
from user_ops.datasets import load_cdnow
from user_ops.metrics import Transactions, customer_metrics

UTC = timezone.utc
SUMMARY = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cdnow" / "cdnow_customers_summary.csv"
)


@pytest.fixture(scope="module")
def cdnow() -> Transactions:
    try:
        table = load_cdnow()
    except DataError as exc:
        pytest.skip(f"CDNOW sample not available: {exc}")
    return Transactions.from_frame(table, columns=["customer_id", "ordered_at", "amount"])


def pandas_truth(tx: Transactions, as_of: datetime) -> pd.DataFrame:
    """Per-customer metrics the way an analyst computes them with pandas (each row is an order)."""
    df = tx.table.to_pandas()
    df = df[df["ordered_at"] < pd.Timestamp(as_of)]
    df["day"] = df["ordered_at"].dt.floor("D")
    today = pd.Timestamp(as_of).floor("D")
    g = df.groupby("customer_id")
    out = pd.DataFrame(
        {
            "first_order_at": g["ordered_at"].min(),
            "last_order_at": g["ordered_at"].max(),
            "frequency": g["amount"].count(),
            "monetary": g["amount"].sum(),
            "max_order_value": g["amount"].max(),
        }
    )
    out["recency_days"] = (today - out["last_order_at"].dt.floor("D")).dt.days
    out["avg_order_value"] = out["monetary"] / out["frequency"]
    recent = df[df["ordered_at"] >= pd.Timestamp(as_of) - pd.Timedelta(days=90)]
    out["orders_90d"] = recent.groupby("customer_id")["amount"].count().reindex(out.index, fill_value=0)
    out["spend_90d"] = recent.groupby("customer_id")["amount"].sum().reindex(out.index, fill_value=0.0)
    days = df[["customer_id", "day"]].drop_duplicates().sort_values(["customer_id", "day"])
    days["gap"] = days.groupby("customer_id")["day"].diff().dt.days
    out["repurchase_cycle_days"] = days.groupby("customer_id")["gap"].median()
    return out


@pytest.mark.parametrize("as_of", [datetime(1998, 7, 1, tzinfo=UTC), datetime(1997, 10, 1, tzinfo=UTC)])
def test_metrics_equal_a_pandas_ground_truth(cdnow: Transactions, as_of: datetime) -> None:
    ours = customer_metrics(cdnow, as_of=as_of, windows=["90d"])
    truth = pandas_truth(cdnow, as_of)
    assert ours["customer_id"].tolist() == truth.index.tolist()
    assert ours.report.rows_used == int(truth["frequency"].sum())
    assert ours.report.rows_after_as_of == len(cdnow) - ours.report.rows_used
    for name in ("frequency", "recency_days", "orders_90d"):
        assert np.array_equal(np.ma.getdata(ours[name]), truth[name].to_numpy()), name
    for name in ("first_order_at", "last_order_at"):
        assert np.array_equal(
            ours[name], truth[name].dt.tz_localize(None).to_numpy().astype("datetime64[us]")
        ), name
    for name in ("monetary", "avg_order_value", "max_order_value", "spend_90d", "repurchase_cycle_days"):
        assert np.allclose(ours[name], truth[name].to_numpy(), rtol=1e-12, atol=1e-9, equal_nan=True), name


def test_the_btyd_summary_equals_the_published_one(cdnow: Transactions) -> None:
    if not SUMMARY.is_file():
        pytest.skip(f"CDNOW summary not available at {SUMMARY}")
    expected = pd.read_csv(SUMMARY)
    # Calibration: 1997-01-01 .. 1997-09-30 inclusive, in weeks of 7 days (lifetimes: freq="D",
    # freq_multiplier=7, observation_period_end="1997-09-30").
    ours = customer_metrics(cdnow, as_of=datetime(1997, 10, 1, tzinfo=UTC), btyd_multiplier=7)
    assert ours["customer_id"].tolist() == expected["ID"].tolist()
    assert np.array_equal(ours["repeat_frequency"], expected["frequency"].to_numpy())
    assert np.array_equal(np.round(ours["recency_age"], 2), expected["recency"].to_numpy())
    assert np.array_equal(np.round(ours["T"], 2), expected["T"].to_numpy())
    assert (ours["repeat_frequency"] == 0).sum() == 1411  # most customers never came back
    # mean_repeat_spend: 0 without repeats (lifetimes' fillna(0)), else the mean of later days' spend.
    assert (ours["mean_repeat_spend"][ours["repeat_frequency"] == 0] == 0).all()

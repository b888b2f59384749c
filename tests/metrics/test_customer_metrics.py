"""What the metric columns mean, checked by hand on small logs; the report; rules and tags over them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from user_ops import DataError, Rule, default_tags
from user_ops.datasets import DEFAULT_AS_OF, synthetic_customers, synthetic_transactions
from user_ops.metrics import Transactions, column_names, customer_metrics, customer_metrics_one
from user_ops.tags import METRIC_FIELDS

UTC = timezone.utc
SHANGHAI = ZoneInfo("Asia/Shanghai")
AS_OF = datetime(2024, 7, 1, tzinfo=UTC)


def at(day: int, hour: int = 12, month: int = 6) -> datetime:
    return datetime(2024, month, day, hour, tzinfo=UTC)


def one_row(rows: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """The single customer's row from the batch path, after checking the scalar path agrees."""
    kwargs.setdefault("as_of", AS_OF)
    batch = customer_metrics(Transactions.from_records([{"customer_id": 1, **r} for r in rows]), **kwargs)
    assert len(batch) == 1
    row = batch.row(0)
    kwargs.pop("top_price_quantile", None)
    scalar = customer_metrics_one(rows, top_price_threshold=batch.report.top_price_threshold, **kwargs)
    assert scalar == {**row, "customer_id": None}  # the rows carry no id
    return row


def test_refunds_reduce_spend_but_are_not_orders() -> None:
    row = one_row(
        [
            {"ordered_at": at(1), "amount": 100.0},
            {"ordered_at": at(10), "amount": 50.0},
            {"ordered_at": at(20), "amount": -30.0},  # a refund after the last order
        ]
    )
    assert row["frequency"] == 2
    assert row["monetary"] == 120.0
    assert row["last_order_at"] == at(10)  # the refund does not move it
    assert row["recency_days"] == 21
    assert row["avg_order_value"] == 75.0  # mean order value: refunds are not orders
    assert row["max_order_value"] == 100.0
    assert row["tenure_days"] == 30


def test_a_customer_with_only_refunds_has_a_row_without_order_metrics() -> None:
    row = one_row([{"ordered_at": at(3), "amount": -20.0}])
    assert row["frequency"] == 0 and row["monetary"] == -20.0 and row["spend_30d"] == -20.0
    for name in ("first_order_at", "recency_days", "avg_order_value", "max_order_value", "repeat_frequency"):
        assert row[name] is None, name


def test_zero_amount_orders_count_as_orders() -> None:
    row = one_row([{"ordered_at": at(1), "amount": 0.0}, {"ordered_at": at(5), "amount": 10.0}])
    assert row["frequency"] == 2 and row["avg_order_value"] == 5.0 and row["max_order_value"] == 10.0


def test_lines_sharing_an_order_id_are_one_order_placed_at_its_earliest_line() -> None:
    rows = [
        {"ordered_at": at(1, 10), "amount": 30.0, "order_id": "A"},
        {"ordered_at": at(2, 10), "amount": 20.0, "order_id": "B"},
        {"ordered_at": at(1, 11), "amount": 15.0, "order_id": "A"},
        {"ordered_at": at(3, 10), "amount": -5.0, "order_id": "A"},  # a refund never joins an order
    ]
    row = one_row(rows, windows=["28d", "29d"])  # windows from 3 June and from 2 June, 00:00
    assert row["frequency"] == 2
    assert row["max_order_value"] == 45.0
    assert row["first_order_at"] == at(1, 10)
    assert (row["orders_28d"], row["spend_28d"]) == (0, -5.0)  # only the refund of 3 June
    assert (row["orders_29d"], row["spend_29d"]) == (1, 15.0)  # order B and the refund
    row = one_row(rows, windows=["30d"])
    assert row["orders_30d"] == 2 and row["spend_30d"] == 60.0


def test_repurchase_cycle_is_the_median_gap_between_purchase_days() -> None:
    days = [1, 1, 3, 10, 11, 25]  # purchase days 1, 3, 10, 11, 25: gaps 2, 7, 1, 14 -> median 4.5
    row = one_row([{"ordered_at": at(d, 9 + i), "amount": 1.0} for i, d in enumerate(days)])
    assert row["repurchase_cycle_days"] == 4.5
    assert row["recency_days"] == 6
    assert row["days_overdue"] == 1.5
    same_day = one_row([{"ordered_at": at(5, 9), "amount": 1.0}, {"ordered_at": at(5, 20), "amount": 1.0}])
    assert same_day["frequency"] == 2 and same_day["repurchase_cycle_days"] is None
    assert same_day["days_overdue"] is None


def test_calendar_days_are_counted_in_the_business_zone() -> None:
    rows = [{"ordered_at": datetime(2024, 6, 30, 17, tzinfo=UTC), "amount": 1.0}]  # 1 July 01:00 in Shanghai
    as_of = datetime(2024, 6, 30, 23, tzinfo=UTC)
    assert one_row(rows, as_of=as_of, tz="UTC")["recency_days"] == 0
    assert one_row(rows, as_of=as_of, tz="America/New_York")["recency_days"] == 0
    assert one_row(rows, as_of=as_of, tz="Asia/Shanghai")["recency_days"] == 0
    as_of = datetime(2024, 7, 1, 1, tzinfo=UTC)  # 1 July everywhere east of UTC, 30 June in New York
    assert one_row(rows, as_of=as_of, tz="UTC")["recency_days"] == 1
    assert one_row(rows, as_of=as_of, tz="America/New_York")["recency_days"] == 0


def test_the_default_business_zone_is_the_zone_of_as_of() -> None:
    rows = [{"ordered_at": datetime(2024, 6, 30, 17, tzinfo=UTC), "amount": 1.0}]
    as_of = datetime(2024, 7, 2, 1, tzinfo=SHANGHAI)
    assert (
        one_row(rows, as_of=as_of)["recency_days"]
        == one_row(rows, as_of=as_of, tz=SHANGHAI)["recency_days"]
        == 1
    )


def test_the_same_instants_in_any_input_zone_give_identical_metrics() -> None:
    log = synthetic_transactions(300, seed=3)
    base = log.to_dicts()
    results = []
    for zone in (UTC, SHANGHAI, ZoneInfo("America/Los_Angeles"), timezone(timedelta(hours=5, minutes=45))):
        rows = [{**r, "ordered_at": r["ordered_at"].astimezone(zone)} for r in base]
        results.append(
            customer_metrics(Transactions.from_records(rows), as_of=DEFAULT_AS_OF, tz="Europe/Berlin")
        )
    strings = [{**r, "ordered_at": r["ordered_at"].astimezone(SHANGHAI).isoformat()} for r in base]
    results.append(
        customer_metrics(Transactions.from_records(strings), as_of=DEFAULT_AS_OF, tz="Europe/Berlin")
    )
    naive = [{**r, "ordered_at": r["ordered_at"].astimezone(SHANGHAI).replace(tzinfo=None)} for r in base]
    results.append(
        customer_metrics(
            Transactions.from_records(naive, tz=SHANGHAI), as_of=DEFAULT_AS_OF, tz="Europe/Berlin"
        )
    )
    for other in results[1:]:
        assert other.equals(results[0])


def test_rows_at_or_after_as_of_are_left_out_and_reported() -> None:
    rows = [
        {"customer_id": 1, "ordered_at": AS_OF - timedelta(microseconds=1), "amount": 5.0},
        {"customer_id": 1, "ordered_at": AS_OF, "amount": 7.0},
        {"customer_id": 2, "ordered_at": AS_OF + timedelta(days=3), "amount": 9.0},
        {"customer_id": 3, "ordered_at": at(2), "amount": -4.0},
    ]
    result = customer_metrics(Transactions.from_records(rows), as_of=AS_OF)
    report = result.report
    assert result["customer_id"].tolist() == [1, 3]
    assert (report.rows, report.rows_used, report.rows_after_as_of) == (4, 2, 2)
    assert (report.refund_rows, report.orders, report.customers, report.customers_without_orders) == (
        1,
        1,
        2,
        1,
    )
    assert "2 at or after as_of (left out)" in repr(result)
    assert result.row(0)["monetary"] == 5.0


def test_windows_agree_with_the_rule_language() -> None:
    log = Transactions(synthetic_transactions(2000, seed=11).select(["customer_id", "ordered_at", "amount"]))
    for tz in ("Asia/Shanghai", "America/New_York"):
        for window in ("30d", "1mo", "12h", "2w"):
            m = customer_metrics(log, as_of=DEFAULT_AS_OF, tz=tz, windows=[window])
            counted = Rule.parse(f"orders_{window} >= 1").evaluate(m, as_of=DEFAULT_AS_OF, tz=tz)
            recent = Rule.parse(f"last_order_at within {window}").evaluate(m, as_of=DEFAULT_AS_OF, tz=tz)
            assert counted.any() and np.array_equal(counted, recent), (tz, window)


def test_metrics_match_the_synthetic_shops_own_aggregates() -> None:
    log = synthetic_transactions(3000, seed=5)
    expected = synthetic_customers(3000, seed=5)
    m = customer_metrics(
        Transactions(log.select(["customer_id", "order_id", "ordered_at", "amount", "is_promo"])),
        as_of=DEFAULT_AS_OF,
        tz="Asia/Shanghai",
    )
    buyers = expected["frequency"] > 0
    assert np.array_equal(m["customer_id"], expected["customer_id"][buyers])
    for name in ("frequency", "orders_30d", "orders_90d", "orders_365d", "first_order_at", "last_order_at"):
        assert np.array_equal(m[name], expected[name][buyers]), name
    assert np.array_equal(np.ma.getdata(m["recency_days"]), np.ma.getdata(expected["recency_days"])[buyers])
    for name in ("monetary", "spend_30d", "spend_90d", "spend_365d", "max_order_value", "promo_spend_share"):
        assert np.allclose(m[name], expected[name][buyers], rtol=1e-12), name


def test_metric_names_are_the_ones_tags_read_and_default_tags_run() -> None:
    log = synthetic_transactions(500, seed=2)
    prices = np.where(log["category"] == "premium", 300.0, 50.0)
    tx = Transactions.from_columns(
        {
            **{n: log[n] for n in ("customer_id", "order_id", "ordered_at", "amount", "is_promo")},
            "unit_price": prices,
        },
        tz="UTC",  # a bare datetime64 array holds wall-clock times: name their zone
    )
    registered = {
        "customer_id": np.arange(1, 501),
        "registered_at": [DEFAULT_AS_OF - timedelta(days=d) for d in range(500)],
    }
    m = customer_metrics(tx, as_of=DEFAULT_AS_OF, customers=registered)
    assert set(METRIC_FIELDS) <= set(m.columns)
    assert m.columns == column_names(("30d", "90d", "365d"))
    assert len(m) == 500  # prospects included, from the customers table
    assert m.report.top_price_threshold == 300.0
    tags = default_tags().evaluate(m, as_of=DEFAULT_AS_OF)
    assert len(tags) == 500
    never = m["frequency"] == 0
    assert never.any() and np.isnan(m["promo_spend_share"][never]).all()
    assert (m["top_price_share"][~never] >= 0).all() and (m["top_price_share"][~never] <= 1).all()


def test_customers_add_registration_and_first_order_cycle() -> None:
    rows = [
        {"customer_id": "a", "ordered_at": at(10, 23), "amount": 5.0},
        {"customer_id": "b", "ordered_at": at(11), "amount": 6.0},
    ]
    customers = {
        "customer_id": ["a", "c", "late", "d"],
        "registered_at": ["2024-06-08T12:00:00Z", "2024-05-01T00:00:00Z", "2024-07-02T00:00:00Z", None],
    }
    m = customer_metrics(
        Transactions.from_records(rows), as_of=AS_OF, customers=customers, tz="Asia/Shanghai"
    )
    assert m["customer_id"].tolist() == ["a", "b", "c", "d"]
    assert m.report.customers_registered_after_as_of == 1
    a, b, c, d = (m.row(i) for i in range(4))
    assert a["first_order_cycle_days"] == 3  # 8 June 20:00 -> 11 June 07:00 in Shanghai
    assert b["registered_at"] is None and b["first_order_cycle_days"] is None
    assert (
        c["frequency"] == 0 and c["monetary"] == 0.0 and c["spend_90d"] == 0.0 and c["recency_days"] is None
    )
    assert c["registered_at"] == datetime(2024, 5, 1, tzinfo=UTC)
    assert d["registered_at"] is None and d["frequency"] == 0


def test_promo_and_top_price_shares() -> None:
    rows = [
        {"ordered_at": at(1), "amount": 60.0, "is_promo": True, "unit_price": 60.0},
        {"ordered_at": at(2), "amount": 30.0, "discount": 2.0, "unit_price": 10.0},
        {"ordered_at": at(3), "amount": 10.0, "unit_price": None},
        {"ordered_at": at(4), "amount": -60.0, "is_promo": True, "unit_price": 60.0},  # refunds: not counted
    ]
    row = one_row(rows, top_price_quantile=0.5)  # median of the known line prices 60, 10 -> 35
    assert row["promo_spend_share"] == 0.9
    assert row["top_price_share"] == 0.6
    assert customer_metrics_one(rows, as_of=AS_OF)["top_price_share"] is None  # no threshold given
    plain = one_row([{"ordered_at": at(1), "amount": 60.0}])
    assert plain["promo_spend_share"] is None and plain["top_price_share"] is None


def test_btyd_columns_follow_lifetimes() -> None:
    rows = [
        {"ordered_at": at(3, 9), "amount": 10.0},  # Monday 3 June
        {"ordered_at": at(3, 18), "amount": 20.0},  # same day: one period
        {"ordered_at": at(9), "amount": 5.0},  # Sunday: same week as 3 June
        {"ordered_at": at(10), "amount": 7.0},  # Monday: next week
        {"ordered_at": at(12), "amount": -3.0},  # refunds are not transactions
    ]
    days = one_row(rows)
    assert (days["repeat_frequency"], days["recency_age"], days["T"]) == (2, 7.0, 27.0)
    assert days["mean_repeat_spend"] == 6.0
    weeks = one_row(rows, btyd_period="W")
    assert (weeks["repeat_frequency"], weeks["recency_age"], weeks["T"]) == (1, 1.0, 3.0)
    assert weeks["mean_repeat_spend"] == 7.0
    scaled = one_row(rows, btyd_multiplier=7)
    assert scaled["T"] == pytest.approx(27 / 7) and scaled["recency_age"] == 1.0
    early = one_row(rows, btyd_end=at(9, 0))  # only 3 June is observed; T counts to 8 June
    assert (early["repeat_frequency"], early["recency_age"], early["T"], early["mean_repeat_spend"]) == (
        0,
        0.0,
        5.0,
        0.0,
    )
    assert early["frequency"] == 4  # the other columns still read up to as_of


def test_an_empty_log_gives_an_empty_table_with_every_column() -> None:
    empty = Transactions({"customer_id": [], "ordered_at": [], "amount": []})
    m = customer_metrics(empty, as_of=AS_OF)
    assert len(m) == 0 and m.columns == column_names(("30d", "90d", "365d"))
    assert m.report.rows == 0


# -- sums beyond the float range ----------------------------------------------------------------------
def _overflow_messages(rows: list[dict[str, Any]], **kwargs: Any) -> tuple[str, str]:
    """The DataError messages of the batch and the scalar path for one customer ``"ann"``."""
    kwargs.setdefault("as_of", AS_OF)
    records = [{"customer_id": "ann", **r} for r in rows]
    with pytest.raises(DataError) as batch:
        customer_metrics(Transactions.from_records(records), **kwargs)
    with pytest.raises(DataError) as scalar:
        customer_metrics_one(records, **kwargs)
    return str(batch.value), str(scalar.value)


@pytest.mark.parametrize(
    ("rows", "column"),
    [
        # 1e308 + 1e308 is past float64's largest value (about 1.8e308): the net spend overflows.
        ([(at(1), 1e308), (at(2), 1e308)], "monetary"),
        ([(at(1), -1e308), (at(2), -1e308), (at(3), 5.0)], "monetary"),  # refunds overflow downwards
        # A refund in between keeps the net spend finite (1e308 - 1e308 + 1e308), but the orders'
        # total, whose mean is avg_order_value, is 2e308.
        ([(at(1), 1e308), (at(2), -1e308), (at(3), 1e308)], "avg_order_value"),
        # An order of 1e308 in January and two refunds of 1e308 in June: the net spend is -1e308, the
        # orders' total 1e308, but the June refunds alone sum to -2e308 in the 30-day window.
        ([(at(5, month=1), 1e308), (at(20), -1e308), (at(21), -1e308)], "spend_30d"),
    ],
)
def test_sums_past_the_float_range_are_refused_naming_customer_and_column(
    rows: list[tuple[datetime, float]], column: str
) -> None:
    batch, scalar = _overflow_messages([{"ordered_at": t, "amount": a} for t, a in rows])
    assert batch == scalar
    assert batch.startswith(f"customer 'ann': {column} ") and "overflow" in batch


def test_one_order_of_huge_lines_is_refused() -> None:
    # Net spend -1e308 + 1e308 + 1e308 = 1e308 is finite; order A's value, 2e308, is not.
    rows = [
        {"ordered_at": at(1, month=5), "amount": -1e308, "order_id": "r"},
        {"ordered_at": at(20), "amount": 1e308, "order_id": "A"},
        {"ordered_at": at(20, 13), "amount": 1e308, "order_id": "A"},
    ]
    batch, scalar = _overflow_messages(rows, windows=["30d"])
    assert batch == scalar and batch.startswith("customer 'ann': avg_order_value ")


def test_the_first_customer_and_column_past_the_range_is_named() -> None:
    rows = [
        {"customer_id": 2, "ordered_at": at(1), "amount": 1e308},
        {"customer_id": 2, "ordered_at": at(2), "amount": 1e308},
        {"customer_id": 1, "ordered_at": at(1), "amount": 1e308},
        {"customer_id": 1, "ordered_at": at(2), "amount": -1e308},
        {"customer_id": 1, "ordered_at": at(3), "amount": 1e308},
        {"customer_id": 3, "ordered_at": at(3), "amount": 5.0},
    ]
    with pytest.raises(DataError, match=r"^customer 1: avg_order_value "):  # customer 2's monetary is later
        customer_metrics(Transactions.from_records(rows), as_of=AS_OF)


def test_huge_amounts_that_stay_in_range_are_kept() -> None:
    row = one_row([{"ordered_at": at(1), "amount": 1e308}, {"ordered_at": at(2), "amount": 7e307}])
    assert row["monetary"] == 1e308 + 7e307 and row["max_order_value"] == 1e308


def test_a_nan_top_price_threshold_is_refused_by_both_paths() -> None:
    # NaN is not "no threshold" (that is None): the batch refused it while the scalar ignored it.
    at = datetime(2024, 1, 1, tzinfo=timezone.utc)
    orders = [{"customer_id": 1, "ordered_at": at, "amount": 5.0, "unit_price": 5.0}]
    as_of = datetime(2024, 6, 1, tzinfo=timezone.utc)
    with pytest.raises(DataError, match="top_price_threshold must be a finite number"):
        customer_metrics_one(orders, as_of=as_of, top_price_threshold=float("nan"))
    with pytest.raises(DataError, match="top_price_threshold must be a finite number"):
        customer_metrics(Transactions(orders), as_of=as_of, top_price_threshold=float("nan"))

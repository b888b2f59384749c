"""Transactions: the three constructors, column mapping, date strings, and every bad-input rule."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from user_ops import DataError, Table
from user_ops.metrics import Transactions, customer_metrics, customer_metrics_one

UTC = timezone.utc
AS_OF = datetime(2024, 7, 1, tzinfo=UTC)


def columns(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "customer_id": [1, 1, 2],
        "ordered_at": [datetime(2024, 6, d, 12, tzinfo=UTC) for d in (1, 2, 3)],
        "amount": [10.0, 20.0, 30.0],
    }
    base.update(overrides)
    return base


# -- constructors ---------------------------------------------------------------------------------
def test_the_constructors_agree() -> None:
    data = columns(order_id=["a", "b", "c"], is_promo=[True, False, None])
    records = [dict(zip(data, values)) for values in zip(*data.values())]
    built = [
        Transactions(data),
        Transactions.from_columns(data),
        Transactions.from_records(records),
        Transactions.from_frame(pd.DataFrame(data)),
        Transactions.from_frame(pl.DataFrame(data)),
        Transactions.from_frame(pa.table(data)),
        Transactions(Transactions(data)),
    ]
    for tx in built:
        assert tx.columns == ("customer_id", "ordered_at", "amount", "order_id", "is_promo")
        assert tx.table.equals(built[0].table), tx
        assert tx.table["is_promo"].tolist() == [True, False, False]  # null flag: not on promotion


def test_column_mapping_picks_and_renames() -> None:
    raw = {"uid": ["x", "y"], "paid": ["2024-06-01", "2024-06-02"], "total": [1, 2], "note": ["", ""]}
    mapping = {"customer_id": "uid", "ordered_at": "paid", "amount": "total"}
    for tx in (
        Transactions.from_columns(raw, columns=mapping, tz="UTC"),
        Transactions.from_records([dict(zip(raw, v)) for v in zip(*raw.values())], columns=mapping, tz="UTC"),
        Transactions.from_frame(pd.DataFrame(raw), columns=mapping, tz="UTC"),
    ):
        assert tx.columns == ("customer_id", "ordered_at", "amount")
        assert tx.table["customer_id"].tolist() == ["x", "y"]
        assert tx.table["amount"].dtype == np.float64


def test_a_list_of_canonical_names_keeps_just_those() -> None:
    raw = {**columns(), "quantity": [1, 2, 3], "extra": [0, 0, 0]}
    tx = Transactions.from_columns(raw, columns=["customer_id", "ordered_at", "amount"])
    assert tx.columns == ("customer_id", "ordered_at", "amount")


def test_a_transactions_object_is_immutable() -> None:
    tx = Transactions(columns())
    with pytest.raises(AttributeError):
        tx.tz = UTC  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        tx.table["amount"][0] = 5.0
    assert "3 rows, 2 customers" in repr(tx)


def test_decimal_and_int_amounts_become_floats() -> None:
    tx = Transactions(columns(amount=[Decimal("10.10"), Decimal("-2.5"), Decimal(3)]))
    assert tx.table["amount"].tolist() == [10.1, -2.5, 3.0]
    assert Transactions(columns(amount=[1, 2, 3])).table["amount"].dtype == np.float64


# -- times ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-06-01", datetime(2024, 5, 31, 16, tzinfo=UTC)),  # midnight in Shanghai
        ("2024-06-01T08:30", datetime(2024, 6, 1, 0, 30, tzinfo=UTC)),
        ("2024-06-01 08:30:15.5", datetime(2024, 6, 1, 0, 30, 15, 500000, tzinfo=UTC)),
        ("2024-06-01T08:30:00Z", datetime(2024, 6, 1, 8, 30, tzinfo=UTC)),
        ("2024-06-01T08:30:00-04:00", datetime(2024, 6, 1, 12, 30, tzinfo=UTC)),
    ],
)
def test_iso_strings_are_read_in_tz_unless_they_carry_an_offset(text: str, expected: datetime) -> None:
    tx = Transactions(columns(customer_id=[1], amount=[1.0], ordered_at=[text]), tz="Asia/Shanghai")
    assert tx.table.row(0)["ordered_at"] == expected


def test_many_strings_take_the_fast_path_and_give_the_same_instants_as_the_exact_one() -> None:
    rng = np.random.default_rng(3)
    instants = np.datetime64("2023-01-01T00:00:00") + rng.integers(0, 500 * 86400, 5000).astype("m8[s]")
    texts = np.datetime_as_string(instants, unit="s").tolist()
    fast = Transactions(
        columns(customer_id=[1] * 5000, amount=[1.0] * 5000, ordered_at=texts), tz="Europe/Paris"
    )
    # One string with an offset sends the whole column down the per-value path.
    mixed = texts[:-1] + [texts[-1] + "+00:00"]
    exact = Transactions(
        columns(customer_id=[1] * 5000, amount=[1.0] * 5000, ordered_at=mixed), tz="Europe/Paris"
    )
    paris = ZoneInfo("Europe/Paris")
    expected = [datetime.fromisoformat(t).replace(tzinfo=paris).astimezone(UTC) for t in texts[:3]]
    assert [fast.table.row(i)["ordered_at"] for i in range(3)] == expected
    assert np.array_equal(fast.table["ordered_at"][:-1], exact.table["ordered_at"][:-1])


def test_naive_datetime64_and_dates_need_tz() -> None:
    wall = np.array(["2024-06-01T08:00"], dtype="datetime64[us]")
    with pytest.raises(DataError, match="without a time zone"):
        Transactions(columns(customer_id=[1], amount=[1.0], ordered_at=wall))
    tx = Transactions(columns(customer_id=[1], amount=[1.0], ordered_at=wall), tz="Asia/Shanghai")
    assert tx.table["ordered_at"][0] == np.datetime64("2024-06-01T00:00", "us")
    with pytest.raises(DataError, match="dates without a time zone"):
        Transactions(columns(customer_id=[1], amount=[1.0], ordered_at=[date(2024, 6, 1)]))
    tx = Transactions(columns(customer_id=[1], amount=[1.0], ordered_at=[date(2024, 6, 1)]), tz="UTC")
    assert tx.table["ordered_at"][0] == np.datetime64("2024-06-01T00:00", "us")


# -- every bad-input rule -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "kwargs", "message"),
    [
        ({"amount": [1.0, float("nan"), 3.0]}, {}, r"column 'amount' row 1 is null or NaN"),
        ({"amount": [1.0, 2.0, None]}, {}, r"column 'amount' row 2 is null or NaN"),
        ({"amount": [1.0, float("inf"), 3.0]}, {}, r"column 'amount' row 1: inf is not finite"),
        ({"amount": [1.0, -float("inf"), 3.0]}, {}, r"row 1: -inf is not finite"),
        ({"amount": ["1", "2", "3"]}, {}, r"column 'amount' must hold numbers, got str \(row 0: '1'\)"),
        ({"amount": [Decimal("1"), Decimal("NaN"), Decimal("2")]}, {}, r"'amount' row 1 is null"),
        ({"customer_id": [1, None, 2]}, {}, r"column 'customer_id' row 1 is null"),
        ({"customer_id": [1.5, 2.5, 3.5]}, {}, r"'customer_id' must hold ints or strings, got float"),
        ({"ordered_at": [datetime(2024, 6, 1)] * 3}, {}, r"column 'ordered_at' row 0 is a naive datetime"),
        (
            {"ordered_at": ["2024-06-01", "2024-13-01", "x"]},
            {"tz": "UTC"},
            r"row 1: cannot read '2024-13-01'",
        ),
        ({"ordered_at": ["2024-06-01", "yesterday", "x"]}, {"tz": "UTC"}, r"row 1: cannot read 'yesterday'"),
        ({"ordered_at": ["2024-06-01", "now", "x"]}, {"tz": "UTC"}, r"row 1: cannot read 'now'"),
        ({"ordered_at": ["2024-06-01"] * 3}, {}, r"row 0 \('2024-06-01'\) has no UTC offset; pass tz="),
        ({"ordered_at": [datetime(2024, 6, 1, tzinfo=UTC), None, None]}, {}, r"'ordered_at' row 1 is null"),
        ({"ordered_at": [1, 2, 3]}, {}, r"'ordered_at' must hold datetimes or ISO 8601 strings, got int"),
        ({"amount": [1.0, 2.0]}, {}, r"columns have different lengths"),
        ({"order_id": ["a", None, "b"]}, {}, r"column 'order_id' row 1 is null"),
        ({"discount": [0.0, -1.0, 0.0]}, {}, r"column 'discount' row 1: -1.0 is not finite and >= 0"),
        ({"unit_price": [1.0, float("inf"), None]}, {}, r"'unit_price' row 1: inf is not finite and >= 0"),
        ({"is_promo": [1, 0, 1]}, {}, r"column 'is_promo' must hold booleans, got int"),
        ({"ammount": [1.0, 2.0, 3.0]}, {}, r"unknown transaction column 'ammount'; did you mean 'amount'"),
    ],
)
def test_bad_input_is_a_data_error_naming_column_row_and_value(
    overrides: dict[str, Any], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(DataError, match=message):
        Transactions(columns(**overrides), **kwargs)


def test_a_missing_required_column_is_named() -> None:
    data = columns()
    del data["amount"]
    with pytest.raises(DataError, match=r"transactions need a 'amount' column"):
        Transactions(data)


def test_a_mapping_to_a_column_the_data_lacks_is_named() -> None:
    with pytest.raises(DataError, match=r"no column 'Total'.*mapped to 'amount'"):
        Transactions.from_columns(columns(), columns={"customer_id": "customer_id", "amount": "Total"})
    with pytest.raises(DataError, match=r"no column 'Total'"):
        Transactions.from_frame(pd.DataFrame(columns()), columns={"amount": "Total"})
    with pytest.raises(DataError, match=r"unknown transaction column 'spend'"):
        Transactions.from_columns(columns(), columns={"spend": "amount"})


def test_bad_options_are_data_errors() -> None:
    tx = Transactions(columns())
    with pytest.raises(DataError, match="as_of is a naive datetime"):
        customer_metrics(tx, as_of=datetime(2024, 7, 1))
    with pytest.raises(DataError, match="as_of is a naive datetime"):
        customer_metrics_one([], as_of=datetime(2024, 7, 1))
    with pytest.raises(DataError, match="invalid duration '30 days'"):
        customer_metrics(tx, as_of=AS_OF, windows=["30 days"])
    with pytest.raises(DataError, match="window '0d' is empty"):
        customer_metrics(tx, as_of=AS_OF, windows=["0d"])
    with pytest.raises(DataError, match="window '30d' is given twice"):
        customer_metrics(tx, as_of=AS_OF, windows=["30d", "30d"])
    with pytest.raises(DataError, match="windows must be a list"):
        customer_metrics(tx, as_of=AS_OF, windows="30d")
    with pytest.raises(DataError, match="btyd_period must be"):
        customer_metrics(tx, as_of=AS_OF, btyd_period="M")
    with pytest.raises(DataError, match="btyd_multiplier must be a positive number"):
        customer_metrics(tx, as_of=AS_OF, btyd_multiplier=0)
    with pytest.raises(DataError, match=r"btyd_end .* must not be after as_of"):
        customer_metrics(tx, as_of=AS_OF, btyd_end=AS_OF + timedelta(days=1))
    with pytest.raises(DataError, match="top_price_quantile must be"):
        customer_metrics(tx, as_of=AS_OF, top_price_quantile=1.5)
    with pytest.raises(DataError, match="unknown time zone"):
        customer_metrics(tx, as_of=AS_OF, tz="Mars/Olympus")


def test_bad_customers_are_data_errors() -> None:
    tx = Transactions(columns())
    with pytest.raises(DataError, match="customers need a 'customer_id' column"):
        customer_metrics(tx, as_of=AS_OF, customers={"id": [1]})
    with pytest.raises(DataError, match=r"has 1 twice \(rows 0 and 2\)"):
        customer_metrics(tx, as_of=AS_OF, customers={"customer_id": [1, 2, 1]})
    with pytest.raises(
        DataError, match="customers' customer_id holds str values but the transactions' hold int"
    ):
        customer_metrics(tx, as_of=AS_OF, customers={"customer_id": ["1"]})
    with pytest.raises(DataError, match="'customer_id' row 1 is null"):
        customer_metrics(tx, as_of=AS_OF, customers={"customer_id": [1, None]})
    naive = {"customer_id": [1], "registered_at": [datetime(2024, 1, 1)]}
    with pytest.raises(DataError, match="naive datetime"):
        customer_metrics(tx, as_of=AS_OF, customers=naive)


def test_customer_metrics_one_takes_one_customer() -> None:
    rows = [
        {"customer_id": 1, "ordered_at": datetime(2024, 6, 1, tzinfo=UTC), "amount": 1.0},
        {"customer_id": 2, "ordered_at": datetime(2024, 6, 2, tzinfo=UTC), "amount": 1.0},
    ]
    with pytest.raises(DataError, match="row 1 has customer_id 2, row 0 has 1"):
        customer_metrics_one(rows, as_of=AS_OF)
    with pytest.raises(DataError, match="orders must be a sequence of mappings"):
        customer_metrics_one(rows[0], as_of=AS_OF)
    with pytest.raises(DataError, match="'amount' row 0 is null or NaN"):
        customer_metrics_one([{"ordered_at": "2024-06-01T00:00Z", "amount": None}], as_of=AS_OF)
    with pytest.raises(DataError, match="top_price_threshold must be"):
        customer_metrics_one([], as_of=AS_OF, top_price_threshold=float("inf"))


def test_tables_with_extra_columns_need_a_mapping() -> None:
    table = Table({**columns(), "city": ["a", "b", "c"]})
    with pytest.raises(DataError, match="unknown transaction column 'city'"):
        Transactions(table)
    assert Transactions.from_frame(table, columns=["customer_id", "ordered_at", "amount"]).columns == (
        "customer_id",
        "ordered_at",
        "amount",
    )


def test_the_synthetic_shops_order_lines_are_a_valid_log() -> None:
    from user_ops.datasets import synthetic_shop
    from user_ops.metrics import Transactions, customer_metrics

    shop = synthetic_shop(300, seed=2)
    metrics = customer_metrics(Transactions(shop.lines), as_of=shop.as_of, customers=shop.customers)
    assert len(metrics) == len(shop.customers)
    assert metrics.report.refund_rows == int((shop.lines["amount"] < 0).sum())
    assert "sku" in Transactions(shop.lines).columns and "line_no" in Transactions(shop.lines).columns

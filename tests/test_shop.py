"""The order-line synthetic shop: ``user_ops.datasets.synthetic_shop``."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from user_ops import DataError, Table
from user_ops.datasets import (
    CHANNELS,
    CITIES,
    DEFAULT_AS_OF,
    MEMBER_TIERS,
    SHOP_CATEGORIES,
    TAGS,
    Shop,
    synthetic_customers,
    synthetic_shop,
)

N = 20_000
US_PER_S = 1_000_000
US_PER_DAY = 86_400 * US_PER_S
BEIJING_OFFSET_US = 8 * 3600 * US_PER_S  # Asia/Shanghai has had no DST since 1991

CUSTOMER_KINDS = {
    "customer_id": "int",
    "registered_at": "datetime",
    "city": "str",
    "gender": "str",
    "age": "int",
    "channel": "str",
    "member_tier": "str",
    "tags": "list[str]",
}
LINE_KINDS = {
    "customer_id": "int",
    "order_id": "int",
    "line_no": "int",
    "ordered_at": "datetime",
    "sku": "str",
    "category": "str",
    "unit_price": "float",
    "quantity": "int",
    "amount": "float",
    "discount": "float",
    "is_promo": "bool",
    "channel": "str",
}


@pytest.fixture(scope="module")
def shop() -> Shop:
    return synthetic_shop(N)


@pytest.fixture(scope="module")
def sales(shop: Shop) -> Table:
    """The order lines without the refund rows."""
    lines = shop.lines
    keep = lines["amount"] >= 0
    return Table._trusted({name: lines[name][keep] for name in lines.columns})


def _us(table: Table, name: str) -> np.ndarray[Any, Any]:
    return table[name].view(np.int64)


def _as_of_us(as_of: datetime = DEFAULT_AS_OF) -> int:
    return (as_of - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)


def _cents(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Float yuan as int fen, after checking they are whole fen."""
    fen = np.rint(values * 100)
    assert np.allclose(values * 100, fen, rtol=0, atol=1e-6)
    return fen.astype(np.int64)


def _first_rows(order_id: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Index of the first row of each order (orders are consecutive among the sale lines)."""
    return np.flatnonzero(np.concatenate(([True], order_id[1:] != order_id[:-1])))


def _beijing_days(us: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return (us + BEIJING_OFFSET_US) // US_PER_DAY


# -- determinism ------------------------------------------------------------------------------------
def test_same_arguments_give_the_same_shop_bit_for_bit() -> None:
    first, second = synthetic_shop(1500, seed=3), synthetic_shop(1500, seed=3)
    assert first.customers.equals(second.customers)
    assert first.lines.equals(second.lines)
    assert first.as_of == second.as_of == DEFAULT_AS_OF
    for table, other in ((first.customers, second.customers), (first.lines, second.lines)):
        for name in table.columns:
            if table.kind(name) in ("int", "float", "datetime", "bool"):
                left, right = np.ma.getdata(table[name]), np.ma.getdata(other[name])
                assert left.tobytes() == right.tobytes(), name


def test_a_different_seed_gives_a_different_shop() -> None:
    first, second = synthetic_shop(1500, seed=3), synthetic_shop(1500, seed=4)
    assert not first.customers.equals(second.customers)
    assert not first.lines.equals(second.lines)


def test_default_as_of_and_keyword_defaults() -> None:
    assert synthetic_shop(300).lines.equals(
        synthetic_shop(300, seed=7, as_of=DEFAULT_AS_OF, lines_per_order=2.8).lines
    )


def test_shop_is_a_small_frozen_object(shop: Shop) -> None:
    assert dataclasses.is_dataclass(shop)
    with pytest.raises(dataclasses.FrozenInstanceError):
        shop.as_of = DEFAULT_AS_OF  # type: ignore[misc]
    text = repr(shop)
    assert text.startswith(f"Shop({N} customers, ") and "refunds, as_of=2024-06-30T00:00:00+08:00)" in text


# -- shape ------------------------------------------------------------------------------------------
def test_columns_and_kinds(shop: Shop) -> None:
    customers, lines = shop.customers, shop.lines
    assert {name: customers.kind(name) for name in customers.columns} == CUSTOMER_KINDS
    assert customers.columns == tuple(CUSTOMER_KINDS)
    assert {name: lines.kind(name) for name in lines.columns} == LINE_KINDS
    assert lines.columns == tuple(LINE_KINDS)
    assert np.array_equal(customers["customer_id"], np.arange(1, N + 1))
    assert 8 * N < len(lines) < 12 * N  # about ten lines per customer


def test_customer_profiles(shop: Shop) -> None:
    c = shop.customers
    assert set(c["city"]) == set(CITIES)
    assert set(c["gender"]) == {"f", "m", None}
    assert set(c["channel"]) == set(CHANNELS)
    assert {tag for tags in c["tags"] for tag in tags} == set(TAGS)
    assert 0.06 < c.null_mask("age").mean() < 0.2  # type: ignore[union-attr]
    tiers = Counter(c["member_tier"].tolist())
    assert set(tiers) == set(MEMBER_TIERS)
    assert tiers["red"] > tiers["silver"] > tiers["gold"] > tiers["black"] > 0


def test_member_tier_follows_net_spend(shop: Shop) -> None:
    lines, customers = shop.lines, shop.customers
    net = np.bincount(lines["customer_id"], weights=_cents(lines["amount"]), minlength=N + 1)[1:] / 100
    tier = customers["member_tier"]
    for lower, upper in itertools.pairwise(MEMBER_TIERS):
        assert net[tier == lower].max() < net[tier == upper].min()


# -- orders and lines -------------------------------------------------------------------------------
def test_an_order_belongs_to_one_customer_channel_and_instant(sales: Table) -> None:
    order_id = sales["order_id"]
    assert (np.diff(order_id) >= 0).all()  # sale lines are grouped by order
    first = _first_rows(order_id)
    assert np.array_equal(order_id[first], np.arange(1, len(first) + 1))  # ids 1.. without gaps
    group = np.repeat(np.arange(len(first)), np.diff(np.append(first, len(order_id))))
    for name in ("customer_id", "channel"):
        assert np.array_equal(sales[name], sales[name][first][group]), name
    assert np.array_equal(_us(sales, "ordered_at"), _us(sales, "ordered_at")[first][group])
    # line_no runs 1, 2, ... within each order
    assert np.array_equal(sales["line_no"], np.arange(len(order_id)) - first[group] + 1)


def test_lines_are_in_time_order_and_before_as_of(shop: Shop) -> None:
    at = _us(shop.lines, "ordered_at")
    assert (np.diff(at) >= 0).all()
    assert (at < _as_of_us()).all()
    assert (_us(shop.customers, "registered_at") < _as_of_us()).all()
    # seconds resolution, like an order system's timestamps
    assert (at % US_PER_S == 0).all()


def test_registration_precedes_the_first_order(shop: Shop, sales: Table) -> None:
    first = np.full(N + 1, np.iinfo(np.int64).max)
    np.minimum.at(first, sales["customer_id"], _us(sales, "ordered_at"))
    registered = _us(shop.customers, "registered_at")
    buyers = first[1:] != np.iinfo(np.int64).max
    assert (registered[buyers] <= first[1:][buyers]).all()


def test_money_is_exact_to_the_cent(shop: Shop) -> None:
    lines = shop.lines
    price, discount, amount = _cents(lines["unit_price"]), _cents(lines["discount"]), _cents(lines["amount"])
    assert np.array_equal(amount, price * lines["quantity"] - discount)
    assert (price > 0).all() and (discount >= 0).all()
    assert np.array_equal(lines["is_promo"], discount > 0)
    sale = lines["amount"] >= 0
    assert np.array_equal(sale, lines["quantity"] > 0)
    assert (amount[sale] > 0).all()
    assert (discount[sale] < price[sale] * lines["quantity"][sale]).all()


def test_catalogue_skus_categories_and_prices(sales: Table) -> None:
    skus, index = np.unique(sales["sku"].astype(str), return_inverse=True)
    assert 150 <= len(skus) <= 200  # the ~200-SKU catalogue, a few slow sellers may not show
    assert set(sales["category"]) == set(SHOP_CATEGORIES) and len(SHOP_CATEGORIES) == 8
    for name in ("category", "unit_price"):  # each SKU has one category and one list price
        values = sales[name]
        first = np.zeros(len(skus), dtype=np.int64)
        first[index[::-1]] = np.arange(len(index))[::-1]
        assert (values == values[first][index]).all(), name
    median = {c: float(np.median(sales["unit_price"][sales["category"] == c])) for c in SHOP_CATEGORIES}
    assert median["premium"] > 3 * max(v for c, v in median.items() if c != "premium")
    assert (sales["quantity"][sales["category"] == "premium"] == 1).all()
    assert (sales["quantity"] > 1).mean() > 0.2  # people buy several packs of fresh food and drinks


def test_lines_per_order(sales: Table) -> None:
    orders = len(_first_rows(sales["order_id"]))
    assert 2.6 < len(sales) / orders < 3.0
    single = synthetic_shop(2000, lines_per_order=1).lines
    assert (single["line_no"] == 1).all()
    many = synthetic_shop(2000, lines_per_order=6.5).lines
    many = many["line_no"][many["amount"] >= 0]
    assert 6.0 < len(many) / (many == 1).sum() < 7.0


# -- refunds ----------------------------------------------------------------------------------------
def test_refunds_return_part_of_an_earlier_full_price_line(shop: Shop, sales: Table) -> None:
    lines = shop.lines
    refund = lines["amount"] < 0
    orders = int(sales["order_id"].max())
    assert 0.01 <= refund.sum() / orders <= 0.02
    order_id, line_no = lines["order_id"][refund], lines["line_no"][refund]
    assert len(np.unique(order_id)) == len(order_id)  # at most one refund per order
    key = sales["order_id"] * 100 + sales["line_no"]
    assert len(np.unique(key)) == len(key)
    row = np.searchsorted(key, order_id * 100 + line_no)  # sale lines are sorted by (order, line)
    assert np.array_equal(key[row], order_id * 100 + line_no)
    for name in ("customer_id", "sku", "category", "unit_price", "channel"):
        assert np.array_equal(lines[name][refund], sales[name][row]), name
    assert (_us(lines, "ordered_at")[refund] > _us(sales, "ordered_at")[row]).all()
    assert (-lines["quantity"][refund] <= sales["quantity"][row]).all()
    assert not sales["is_promo"][row].any()  # sale items are final (特价商品不退不换)
    assert not lines["is_promo"][refund].any()


# -- behaviour --------------------------------------------------------------------------------------
def test_frequency_is_heavy_tailed_with_prospects(shop: Shop, sales: Table) -> None:
    first = _first_rows(sales["order_id"])
    frequency = np.bincount(sales["customer_id"][first], minlength=N + 1)[1:]
    buyers = frequency > 0
    assert 0.12 < 1 - buyers.mean() < 0.18  # registered, never bought
    assert 0.42 < (frequency[buyers] == 1).mean() < 0.58  # about half buy once
    assert frequency.max() >= 30
    assert set(np.flatnonzero(~buyers) + 1).isdisjoint(shop.lines["customer_id"].tolist())


def test_customers_churn(sales: Table) -> None:
    """Many repeat buyers stopped buying long before as_of (a random lifetime)."""
    first = _first_rows(sales["order_id"])
    who, at = sales["customer_id"][first], _us(sales, "ordered_at")[first]
    frequency = np.bincount(who, minlength=N + 1)
    last = np.zeros(N + 1, dtype=np.int64)
    np.maximum.at(last, who, at)
    repeat = frequency >= 3
    idle_days = (_as_of_us() - last[repeat]) / US_PER_DAY
    assert 0.2 < (idle_days > 180).mean() < 0.8


def test_registrations_grow_over_time(shop: Shop) -> None:
    registered = _us(shop.customers, "registered_at")
    age_days = (_as_of_us() - registered) / US_PER_DAY
    assert age_days.max() <= 3 * 365 + 1
    assert (age_days < 365).sum() > 1.5 * (age_days >= 2 * 365).sum()


def test_weekends_are_busier(sales: Table) -> None:
    first = _first_rows(sales["order_id"])
    days = _beijing_days(_us(sales, "ordered_at")[first])
    days = days[days < days.max()]  # as_of's own day is partial
    weekday = (days + 3) % 7  # 0 = Monday; 1970-01-01 was a Thursday
    calendar = np.arange(days.min(), days.max() + 1)
    per_weekday = np.bincount(weekday, minlength=7) / np.bincount((calendar + 3) % 7, minlength=7)
    assert per_weekday[5:].mean() > 1.15 * per_weekday[:5].mean()


def test_yearly_seasonality(sales: Table) -> None:
    first = _first_rows(sales["order_id"])
    per_day = Counter(_beijing_days(_us(sales, "ordered_at")[first]).tolist())

    def orders_on(day: str) -> int:
        return per_day[int(np.datetime64(day, "D").astype(np.int64))]

    def mean_over(start: str, stop: str) -> float:
        days = np.arange(np.datetime64(start, "D"), np.datetime64(stop, "D")).astype(np.int64)
        return float(np.mean([per_day[int(d)] for d in days]))

    baseline = mean_over("2023-11-20", "2023-12-10")
    assert orders_on("2023-11-11") > 3 * baseline  # Singles' Day
    assert orders_on("2024-06-18") > 2 * mean_over("2024-06-19", "2024-06-29")  # 6.18
    # Chinese New Year 2024 fell on 10 February: a quiet week around it.
    assert mean_over("2024-02-07", "2024-02-15") < 0.7 * mean_over("2024-03-04", "2024-03-25")


def test_promotions_cluster_in_sales_periods(sales: Table) -> None:
    dates = _beijing_days(_us(sales, "ordered_at")).astype("datetime64[D]")
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    sale_period = ((month == 11) & (day <= 11)) | ((month == 6) & (day <= 18))
    promo = sales["is_promo"]
    assert 0.1 < promo.mean() < 0.4
    assert promo[sale_period].mean() > 1.5 * promo[~sale_period].mean()


def test_orders_have_a_daily_rhythm(sales: Table) -> None:
    hour = (_us(sales, "ordered_at") + BEIJING_OFFSET_US) // (3600 * US_PER_S) % 24
    per_hour = np.bincount(hour, minlength=24)
    assert per_hour[20] > 5 * per_hour[4]
    assert per_hour[12] > 2 * per_hour[6]


# -- as_of ------------------------------------------------------------------------------------------
def test_any_aware_as_of_keeps_the_invariants() -> None:
    as_of = datetime(2023, 3, 12, 14, 30, 15, 250_000, tzinfo=ZoneInfo("America/New_York"))
    shop = synthetic_shop(2000, seed=11, as_of=as_of)
    assert shop.as_of == as_of
    at = _us(shop.lines, "ordered_at")
    assert (at < _as_of_us(as_of)).all()
    assert (_us(shop.customers, "registered_at") < _as_of_us(as_of)).all()
    assert (at > _as_of_us(as_of) - 3 * 366 * US_PER_DAY).all()


@pytest.mark.parametrize(
    "as_of", [datetime(10, 1, 1, tzinfo=timezone.utc), datetime(9998, 12, 31, 23, tzinfo=timezone.utc)]
)
def test_as_of_at_the_ends_of_the_range_works(as_of: datetime) -> None:
    shop = synthetic_shop(50, as_of=as_of)
    assert len(shop.customers) == 50
    assert (_us(shop.lines, "ordered_at") < _as_of_us(as_of)).all()


def test_one_customer_and_numpy_integers_work() -> None:
    shop = synthetic_shop(np.int64(1), seed=np.int64(2), lines_per_order=np.float64(2.0))
    assert len(shop.customers) == 1 and shop.lines.columns == tuple(LINE_KINDS)
    prospects = [s for s in range(40) if len(synthetic_shop(1, seed=s).lines) == 0]
    assert prospects  # a shop whose only customer never bought still has a (zero-row) lines table
    assert len(synthetic_shop(1, seed=prospects[0]).lines.columns) == len(LINE_KINDS)


# -- bad arguments ----------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, -5, 2.5, "100", True, None, 1_000_001])
def test_bad_n_customers_is_rejected(n: Any) -> None:
    with pytest.raises(DataError, match="n_customers must be"):
        synthetic_shop(n)


@pytest.mark.parametrize("seed", [-1, 1.5, "7", None, False])
def test_bad_seed_is_rejected(seed: Any) -> None:
    with pytest.raises(DataError, match="seed"):
        synthetic_shop(10, seed=seed)


@pytest.mark.parametrize("as_of", [datetime(2024, 6, 30), "2024-06-30T00:00:00+08:00", 1719676800])
def test_naive_or_non_datetime_as_of_is_rejected(as_of: Any) -> None:
    with pytest.raises(DataError, match="as_of"):
        synthetic_shop(10, as_of=as_of)


@pytest.mark.parametrize("year", [2, 9999])
def test_as_of_outside_the_calendar_range_is_rejected(year: int) -> None:
    with pytest.raises(DataError, match="years 10 to 9998"):
        synthetic_shop(10, as_of=datetime(year, 6, 1, tzinfo=timezone.utc))


@pytest.mark.parametrize("lines_per_order", [0, 0.5, 10.5, float("nan"), float("inf"), "2", True, None])
def test_bad_lines_per_order_is_rejected(lines_per_order: Any) -> None:
    with pytest.raises(DataError, match="lines_per_order"):
        synthetic_shop(10, lines_per_order=lines_per_order)


def test_positional_keywords_are_refused() -> None:
    with pytest.raises(TypeError):
        synthetic_shop(10, 7)  # type: ignore[misc]


# -- size -------------------------------------------------------------------------------------------
def test_a_thousand_customers_is_quick() -> None:
    start = time.perf_counter()
    shop = synthetic_shop(1000)
    elapsed = time.perf_counter() - start
    assert 5_000 < len(shop.lines) < 20_000
    assert elapsed < 2.0  # about 10 ms; generous for slow CI machines


def test_lines_scale_with_customers() -> None:
    small, large = synthetic_shop(2_000, seed=5), synthetic_shop(40_000, seed=5)
    ratio = len(large.lines) / len(small.lines)
    assert 15 < ratio < 25


def test_the_same_seed_gives_the_same_people_as_synthetic_customers() -> None:
    shop, customers = synthetic_shop(3000, seed=9), synthetic_customers(3000, seed=9)
    for name in ("customer_id", "city", "gender", "age", "channel", "tags"):
        assert Table._trusted({name: shop.customers[name]}).equals(customers.select([name])), name
    sales = shop.lines["amount"] >= 0
    first = _first_rows(shop.lines["order_id"][sales])
    frequency = np.bincount(shop.lines["customer_id"][sales][first], minlength=3001)[1:]
    assert np.array_equal(frequency, customers["frequency"])

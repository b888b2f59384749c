"""The synthetic shop data set and the CDNOW reader."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from user_ops import DataError, Table
from user_ops.datasets import (
    BUSINESS_TZ,
    CATEGORIES,
    CHANNELS,
    CITIES,
    DEFAULT_AS_OF,
    MEMBER_TIERS,
    TAGS,
    load_cdnow,
    synthetic_customers,
    synthetic_transactions,
)
from user_ops.metrics import customer_metrics

N = 5000
US_PER_DAY = 86_400 * 1_000_000
BEIJING_OFFSET_US = 8 * 3600 * 1_000_000  # Asia/Shanghai has had no DST since 1991

EXPECTED_KINDS = {
    "customer_id": "int",
    "registered_at": "datetime",
    "first_order_at": "datetime",
    "last_order_at": "datetime",
    "recency_days": "int",
    "frequency": "int",
    "monetary": "float",
    "avg_order_value": "float",
    "max_order_value": "float",
    "orders_30d": "int",
    "orders_90d": "int",
    "orders_365d": "int",
    "spend_30d": "float",
    "spend_90d": "float",
    "spend_365d": "float",
    "promo_spend_share": "float",
    "top_price_share": "float",
    "repurchase_cycle_days": "float",
    "city": "str",
    "gender": "str",
    "age": "int",
    "channel": "str",
    "tags": "list[str]",
    "member_tier": "str",
}
REPO_ROOT = Path(__file__).resolve().parents[1]
CDNOW_PATH = REPO_ROOT.parent / "shared" / "data" / "cdnow" / "CDNOW_sample.txt"


@pytest.fixture(scope="module")
def customers() -> Table:
    return synthetic_customers(N)


@pytest.fixture(scope="module")
def orders() -> Table:
    return synthetic_transactions(N)


def _us(table: Table, name: str) -> np.ndarray[Any, Any]:
    """A datetime column as int64 microseconds (NaT becomes int64 min)."""
    return table[name].view(np.int64)


def _null(table: Table, name: str) -> np.ndarray[Any, Any]:
    mask = table.null_mask(name)
    return np.zeros(len(table), dtype=bool) if mask is None else mask


def _as_of_us(as_of: datetime = DEFAULT_AS_OF) -> int:
    return (as_of - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)


# -- determinism ------------------------------------------------------------------------------------
def test_same_arguments_give_the_same_table_bit_for_bit() -> None:
    first, second = synthetic_customers(700, seed=3), synthetic_customers(700, seed=3)
    assert first.equals(second)
    for name in first.columns:
        if first.kind(name) in ("int", "float", "datetime"):
            assert np.ma.getdata(first[name]).tobytes() == np.ma.getdata(second[name]).tobytes(), name


def test_default_as_of_is_the_fixed_instant() -> None:
    assert datetime(2024, 6, 30, tzinfo=timezone(timedelta(hours=8))) == DEFAULT_AS_OF
    assert synthetic_customers(300).equals(synthetic_customers(300, as_of=DEFAULT_AS_OF))


def test_a_different_seed_gives_different_data() -> None:
    first, second = synthetic_customers(700, seed=3), synthetic_customers(700, seed=4)
    assert not first.equals(second)
    assert not np.array_equal(first["monetary"], second["monetary"], equal_nan=True)


def test_transactions_are_deterministic_and_follow_the_seed() -> None:
    assert synthetic_transactions(400, seed=5).equals(synthetic_transactions(400, seed=5))
    assert not synthetic_transactions(400, seed=5).equals(synthetic_transactions(400, seed=6))


# -- shape ------------------------------------------------------------------------------------------
def test_columns_and_kinds(customers: Table) -> None:
    assert customers.columns == tuple(EXPECTED_KINDS)
    assert {name: customers.kind(name) for name in customers.columns} == EXPECTED_KINDS
    assert np.array_equal(customers["customer_id"], np.arange(1, N + 1))


def test_nulls_are_where_the_meaning_says(customers: Table) -> None:
    prospect = customers["frequency"] == 0
    for name in (
        "first_order_at",
        "last_order_at",
        "recency_days",
        "avg_order_value",
        "max_order_value",
        "promo_spend_share",
        "top_price_share",
    ):
        assert np.array_equal(_null(customers, name), prospect), name
    # The cycle needs two distinct purchase days: the first and last orders on different Beijing dates.
    first_day = (_us(customers, "first_order_at") + BEIJING_OFFSET_US) // US_PER_DAY
    last_day = (_us(customers, "last_order_at") + BEIJING_OFFSET_US) // US_PER_DAY
    one_day = (customers["frequency"] < 2) | (first_day == last_day)
    assert np.array_equal(_null(customers, "repurchase_cycle_days"), one_day)
    assert (one_day & (customers["frequency"] >= 2)).any()  # several orders on one day: no cycle
    for name in ("customer_id", "registered_at", "frequency", "monetary", "orders_365d", "spend_365d"):
        assert not _null(customers, name).any(), name
    # Profile nulls: some gender and age are unknown, as in real member data.
    assert 0.03 < _null(customers, "gender").mean() < 0.15
    assert 0.06 < _null(customers, "age").mean() < 0.2
    assert isinstance(customers["age"], np.ma.MaskedArray)


def test_prospects_and_heavy_tailed_frequency(customers: Table) -> None:
    frequency = customers["frequency"]
    buyers = frequency > 0
    assert 0.12 < 1 - buyers.mean() < 0.18  # about 15 % never bought
    assert 0.42 < (frequency[buyers] == 1).mean() < 0.58  # about half of the buyers bought once
    assert frequency.max() >= 20  # a heavy tail of loyal customers
    # Prospects spent nothing and have empty windows.
    for name in ("monetary", "spend_30d", "spend_90d", "spend_365d", "orders_30d", "orders_365d"):
        assert (customers[name][~buyers] == 0).all(), name


# -- consistency invariants -------------------------------------------------------------------------
def test_windows_are_nested(customers: Table) -> None:
    t = customers
    assert (t["orders_30d"] >= 0).all()
    assert (t["orders_30d"] <= t["orders_90d"]).all()
    assert (t["orders_90d"] <= t["orders_365d"]).all()
    assert (t["orders_365d"] <= t["frequency"]).all()
    assert (t["spend_30d"] >= 0).all()
    assert (t["spend_30d"] <= t["spend_90d"]).all()
    assert (t["spend_90d"] <= t["spend_365d"]).all()
    assert (t["spend_365d"] <= t["monetary"]).all()
    # A window with orders has spend, and the other way round.
    for days in (30, 90, 365):
        assert np.array_equal(t[f"orders_{days}d"] > 0, t[f"spend_{days}d"] > 0), days


def test_dates_are_ordered_and_before_as_of(customers: Table) -> None:
    buyers = customers["frequency"] > 0
    registered, first, last = (
        _us(customers, n) for n in ("registered_at", "first_order_at", "last_order_at")
    )
    assert (registered < _as_of_us()).all()
    assert (registered[buyers] <= first[buyers]).all()
    assert (first[buyers] <= last[buyers]).all()
    assert (last[buyers] < _as_of_us()).all()
    # One-time buyers have a single order date.
    once = customers["frequency"] == 1
    assert np.array_equal(first[once], last[once])
    # Registrations go back about three years.
    span_days = (_as_of_us() - registered.min()) / US_PER_DAY
    assert 900 < span_days <= 3 * 365


def test_recency_days_counts_beijing_calendar_days(customers: Table) -> None:
    buyers = customers["frequency"] > 0
    last_day = (_us(customers, "last_order_at")[buyers] + BEIJING_OFFSET_US) // US_PER_DAY
    as_of_day = (_as_of_us() + BEIJING_OFFSET_US) // US_PER_DAY
    recency = np.ma.getdata(customers["recency_days"])[buyers]
    assert np.array_equal(recency, as_of_day - last_day)
    assert recency.min() >= 1  # as_of is midnight, so no order can be on its own day


def test_money_columns_agree(customers: Table) -> None:
    t = customers
    buyers = t["frequency"] > 0
    monetary, top, avg = t["monetary"][buyers], t["max_order_value"][buyers], t["avg_order_value"][buyers]
    assert (top <= monetary).all()
    assert np.array_equal(avg, monetary / t["frequency"][buyers])
    assert (avg <= top).all()  # the largest order is at least the average one
    once = t["frequency"][buyers] == 1
    assert np.array_equal(top[once], monetary[once])
    for name in ("monetary", "max_order_value", "spend_90d"):  # whole fen
        cents = t[name][buyers] * 100
        assert np.array_equal(np.round(cents), np.round(cents, 6)), name
    assert (t["max_order_value"][buyers] >= 9.9).all()


def test_shares_are_fractions(customers: Table) -> None:
    buyers = customers["frequency"] > 0
    for name in ("promo_spend_share", "top_price_share"):
        share = customers[name][buyers]
        assert ((share >= 0) & (share <= 1)).all(), name
        assert 0.05 < share.mean() < 0.5, name  # neither always nor never


def _metrics_of(customers: Table, orders: Table, as_of: datetime = DEFAULT_AS_OF) -> Table:
    """What the metrics room computes from the orders, for the same customers and business zone."""
    registered = customers.select(["customer_id", "registered_at"])
    return customer_metrics(orders, as_of=as_of, tz=BUSINESS_TZ, customers=registered)


def test_repurchase_cycle_is_what_customer_metrics_computes(customers: Table, orders: Table) -> None:
    # One definition everywhere: the median gap between consecutive distinct purchase days in the
    # business zone (null with fewer than 2 purchase days), not the mean gap between orders.
    metrics = _metrics_of(customers, orders)
    assert np.array_equal(metrics["customer_id"], customers["customer_id"])
    cycle = customers["repurchase_cycle_days"]
    assert np.array_equal(cycle, metrics["repurchase_cycle_days"], equal_nan=True)
    repeat = customers["frequency"] >= 2
    assert (cycle[repeat & ~np.isnan(cycle)] >= 1).all()  # distinct days are at least a day apart
    mean_gap = (_us(customers, "last_order_at") - _us(customers, "first_order_at")) / US_PER_DAY
    mean_gap = mean_gap[repeat] / (customers["frequency"][repeat] - 1)
    assert not np.allclose(cycle[repeat], mean_gap, equal_nan=True)  # the two definitions do differ here


def test_repurchase_cycle_agrees_for_another_seed_and_as_of() -> None:
    as_of = datetime(2023, 1, 15, 13, 45, tzinfo=ZoneInfo("America/New_York"))
    customers = synthetic_customers(1500, seed=11, as_of=as_of)
    orders = synthetic_transactions(1500, seed=11, as_of=as_of)
    cycle = _metrics_of(customers, orders, as_of)["repurchase_cycle_days"]
    assert np.array_equal(customers["repurchase_cycle_days"], cycle, equal_nan=True)


def test_repurchase_cycle_of_a_worked_example() -> None:
    # Beijing dates of one customer's orders: 06-01, 06-04 twice, 06-11, 07-01 -> distinct purchase days
    # 06-01, 06-04, 06-11, 07-01 -> gaps 3, 7, 20 days -> median 7 (the mean gap between orders is 7.5).
    beijing = ZoneInfo(BUSINESS_TZ)
    days = [(6, 1), (6, 4), (6, 4), (6, 11), (7, 1)]
    orders = Table(
        {
            "customer_id": [1] * len(days),
            "ordered_at": [datetime(2024, m, d, 21, tzinfo=beijing) for m, d in days],
            "amount": [10.0] * len(days),
        }
    )
    as_of = datetime(2024, 7, 10, tzinfo=beijing)
    assert customer_metrics(orders, as_of=as_of, tz=BUSINESS_TZ)["repurchase_cycle_days"].tolist() == [7.0]
    shop = synthetic_customers(5000)
    repeat = shop["frequency"] >= 2
    assert np.isnan(shop["repurchase_cycle_days"][~repeat]).all()


def test_categorical_values(customers: Table) -> None:
    t = customers
    assert set(t["city"]) == set(CITIES) and len(CITIES) == 12
    assert {"北京", "上海", "广州", "深圳", "杭州", "成都"} <= set(CITIES)
    assert set(t["gender"]) == {"f", "m", None}
    assert set(t["channel"]) == set(CHANNELS) == {"wechat_mini", "app", "store", "community"}
    assert {tag for tags in t["tags"] for tag in tags} == set(TAGS)
    assert all(isinstance(tags, tuple) and len(set(tags)) == len(tags) for tags in t["tags"])
    ages = np.ma.compressed(t["age"])
    assert ages.min() >= 16 and ages.max() <= 70
    tiers = Counter(t["member_tier"].tolist())
    assert set(tiers) == set(MEMBER_TIERS)
    assert tiers["red"] > tiers["silver"] > tiers["gold"] > tiers["black"] > 0  # weighted to lower tiers


def test_higher_tiers_spent_more(customers: Table) -> None:
    tier = customers["member_tier"]
    floors = [customers["monetary"][tier == name].min() for name in MEMBER_TIERS]
    ceilings = [customers["monetary"][tier == name].max() for name in MEMBER_TIERS]
    for lower in range(len(MEMBER_TIERS) - 1):
        assert ceilings[lower] < floors[lower + 1]


# -- customers agree with their transactions --------------------------------------------------------
def test_transactions_columns(orders: Table) -> None:
    assert orders.columns == ("customer_id", "order_id", "ordered_at", "amount", "is_promo", "category")
    kinds = [orders.kind(name) for name in orders.columns]
    assert kinds == ["int", "int", "datetime", "float", "bool", "str"]
    assert np.array_equal(orders["order_id"], np.arange(1, len(orders) + 1))
    assert (np.diff(_us(orders, "ordered_at")) >= 0).all()  # time order
    assert set(orders["category"]) == set(CATEGORIES)
    assert (orders["amount"] > 0).all()


def test_customers_are_the_aggregate_of_their_transactions(customers: Table, orders: Table) -> None:
    n = len(customers)
    who = orders["customer_id"] - 1
    at = _us(orders, "ordered_at")
    fen = np.rint(orders["amount"] * 100).astype(np.int64)
    assert np.array_equal(np.bincount(who, minlength=n), customers["frequency"])
    assert np.array_equal(np.bincount(who, weights=fen, minlength=n) / 100, customers["monetary"])
    buyers = customers["frequency"] > 0
    last = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(last, who, at)
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, who, at)
    assert np.array_equal(last[buyers], _us(customers, "last_order_at")[buyers])
    assert np.array_equal(first[buyers], _us(customers, "first_order_at")[buyers])
    top = np.zeros(n)
    np.maximum.at(top, who, orders["amount"])
    assert np.array_equal(top[buyers], customers["max_order_value"][buyers])
    # Half-open windows [as_of - w, as_of): Beijing has no DST, so w days are w * 24 hours.
    for days in (30, 90, 365):
        inside = at >= _as_of_us() - days * US_PER_DAY
        assert np.array_equal(np.bincount(who[inside], minlength=n), customers[f"orders_{days}d"]), days
        spend = np.bincount(who[inside], weights=fen[inside], minlength=n) / 100
        assert np.array_equal(spend, customers[f"spend_{days}d"]), days
    promo = np.bincount(who, weights=fen * orders["is_promo"], minlength=n)
    total = np.bincount(who, weights=fen, minlength=n)
    assert np.allclose(promo[buyers] / total[buyers], customers["promo_spend_share"][buyers])
    premium = np.bincount(who, weights=fen * (orders["category"] == "premium"), minlength=n)
    assert np.allclose(premium[buyers] / total[buyers], customers["top_price_share"][buyers])


def test_orders_have_a_daily_rhythm(orders: Table) -> None:
    hour = (_us(orders, "ordered_at") + BEIJING_OFFSET_US) // 3_600_000_000 % 24
    per_hour = np.bincount(hour, minlength=24)
    assert per_hour[20] > 5 * per_hour[4]  # evening is busy, the small hours are quiet


# -- as_of ------------------------------------------------------------------------------------------
def test_any_aware_as_of_keeps_every_invariant() -> None:
    as_of = datetime(2023, 3, 12, 14, 30, 15, 250_000, tzinfo=ZoneInfo("America/New_York"))
    t = synthetic_customers(2000, seed=11, as_of=as_of)
    buyers = t["frequency"] > 0
    last = _us(t, "last_order_at")[buyers]
    assert (last < _as_of_us(as_of)).all()
    assert (_us(t, "registered_at") < _as_of_us(as_of)).all()
    assert (t["orders_30d"] <= t["orders_90d"]).all() and (t["orders_365d"] <= t["frequency"]).all()
    as_of_day = (_as_of_us(as_of) + BEIJING_OFFSET_US) // US_PER_DAY
    expected = as_of_day - (last + BEIJING_OFFSET_US) // US_PER_DAY
    assert np.array_equal(np.ma.getdata(t["recency_days"])[buyers], expected)


def test_data_moves_with_as_of() -> None:
    later = DEFAULT_AS_OF + timedelta(days=365)
    t = synthetic_customers(300, as_of=later)
    assert (_us(t, "registered_at") >= _as_of_us(later) - 3 * 365 * US_PER_DAY - US_PER_DAY).all()


@pytest.mark.parametrize("as_of", [datetime(2024, 6, 30), "2024-06-30T00:00:00+08:00", 1719676800])
def test_naive_or_non_datetime_as_of_is_rejected(as_of: Any) -> None:
    with pytest.raises(DataError, match="as_of"):
        synthetic_customers(10, as_of=as_of)
    with pytest.raises(DataError, match="as_of"):
        synthetic_transactions(10, as_of=as_of)


@pytest.mark.parametrize("year", [2, 9999])
def test_as_of_outside_the_calendar_range_is_rejected(year: int) -> None:
    with pytest.raises(DataError, match="years 10 to 9998"):
        synthetic_customers(10, as_of=datetime(year, 6, 1, tzinfo=timezone.utc))


@pytest.mark.parametrize(
    "as_of", [datetime(10, 1, 1, tzinfo=timezone.utc), datetime(9998, 12, 31, 23, tzinfo=timezone.utc)]
)
def test_as_of_at_the_ends_of_the_range_works(as_of: datetime) -> None:
    assert len(synthetic_customers(10, as_of=as_of)) == 10


@pytest.mark.parametrize("n", [0, -5, 2.5, "100", True, None, 10_000_001])
def test_bad_n_is_rejected(n: Any) -> None:
    with pytest.raises(DataError, match=r"^n must be"):
        synthetic_customers(n)
    with pytest.raises(DataError, match=r"^n_customers must be"):  # the parameter's own name
        synthetic_transactions(n)


@pytest.mark.parametrize("seed", [-1, 1.5, "7", None])
def test_bad_seed_is_rejected(seed: Any) -> None:
    with pytest.raises(DataError, match="seed"):
        synthetic_customers(10, seed=seed)


def test_one_customer_and_numpy_integers_work() -> None:
    t = synthetic_customers(np.int64(1), seed=np.int64(2))
    assert len(t) == 1 and t.columns == tuple(EXPECTED_KINDS)


# -- CDNOW ------------------------------------------------------------------------------------------
def test_load_cdnow_reads_the_real_sample() -> None:
    if not CDNOW_PATH.is_file():
        pytest.skip(f"CDNOW sample not present at {CDNOW_PATH}")
    t = load_cdnow(CDNOW_PATH)
    assert t.columns == ("customer_id", "ordered_at", "quantity", "amount")
    assert [t.kind(name) for name in t.columns] == ["int", "datetime", "int", "float"]
    assert len(t) == 6919
    assert len(np.unique(t["customer_id"])) == 2357
    assert t["customer_id"].min() == 1 and t["customer_id"].max() == 2357
    days = t["ordered_at"].astype("datetime64[D]")
    assert days.min() == np.datetime64("1997-01-01") and days.max() == np.datetime64("1998-06-30")
    assert (t["ordered_at"] == days).all()  # midnight UTC
    assert t.row(0) == {
        "customer_id": 1,
        "ordered_at": datetime(1997, 1, 1, tzinfo=timezone.utc),
        "quantity": 2,
        "amount": 29.33,
    }
    assert (t["quantity"] > 0).all() and (t["amount"] >= 0).all()
    # Skewed, as the data set's README says: about half the customers bought once.
    purchases = np.bincount(t["customer_id"])[1:]
    assert 0.4 < (purchases == 1).mean() < 0.6


def test_load_cdnow_default_path_and_folder() -> None:
    if not CDNOW_PATH.is_file():
        pytest.skip(f"CDNOW sample not present at {CDNOW_PATH}")
    assert load_cdnow().equals(load_cdnow(CDNOW_PATH))
    assert len(load_cdnow(str(CDNOW_PATH.parent))) == 6919


def test_load_cdnow_missing_path_is_a_data_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.txt"
    with pytest.raises(DataError, match=r"nowhere\.txt"):
        load_cdnow(missing)


def test_load_cdnow_default_path_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from user_ops.datasets import _synthetic

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(_synthetic, "__file__", str(tmp_path / "a" / "b" / "_synthetic.py"))
    with pytest.raises(DataError, match="CDNOW sample not found"):
        load_cdnow()


@pytest.mark.parametrize(
    ("line", "bad"),
    [
        (" 00004 0001 19970231  2   29.33", "impossible date"),
        (" 00004 0001 1997011  2   29.33", "short date"),
        (" 00004 0001 19970101  2", "missing field"),
        (" 00004 0001 19970101  2   nan", "NaN amount"),
        (" 00004 x 19970101  2   29.33", "bad id"),
    ],
)
def test_load_cdnow_names_the_malformed_line(tmp_path: Path, line: str, bad: str) -> None:
    sample = tmp_path / "cdnow.txt"
    sample.write_text(f" 00004 0001 19970101  2   29.33\r\n{line}\r\n")
    with pytest.raises(DataError, match="line 2"):
        load_cdnow(sample)


def test_load_cdnow_reads_the_4_column_master_file_with_or_without_header(tmp_path: Path) -> None:
    """CDNOW_master.txt: customer id, YYYYMMDD, CDs, dollars; a header line is skipped when present."""
    purchases = [(1, "19970101", 1, "11.77"), (2, "19970112", 1, "12.00"), (2, "19970113", 5, "77.00")]
    lines = [f"{cid:05d} {day} {cds:3d} {dollars:>8}" for cid, day, cds, dollars in purchases]
    bare = tmp_path / "CDNOW_master.txt"
    bare.write_text("\n".join(lines) + "\n")
    headed = tmp_path / "with_header.txt"
    headed.write_text("customer_id\tdate\tquantity\tamount\r\n" + "\r\n".join(lines) + "\r\n")
    for file in (bare, headed):
        t = load_cdnow(file)
        assert t.columns == ("customer_id", "ordered_at", "quantity", "amount")
        assert t["customer_id"].tolist() == [cid for cid, *_ in purchases]
        assert [d.date().isoformat() for d in (t.row(i)["ordered_at"] for i in range(3))] == [
            "1997-01-01",
            "1997-01-12",
            "1997-01-13",
        ]
        assert t["quantity"].tolist() == [1, 1, 5]
        assert t["amount"].tolist() == [11.77, 12.0, 77.0]
    # A folder with only the master file reads it.
    assert load_cdnow(tmp_path).equals(load_cdnow(bare))


def test_load_cdnow_header_is_only_the_first_line_and_widths_must_agree(tmp_path: Path) -> None:
    file = tmp_path / "master.txt"
    file.write_text("id date cds dollars\nid date cds dollars\n00001 19970101 1 11.77\n")
    with pytest.raises(DataError, match="line 2"):
        load_cdnow(file)
    file.write_text("00001 19970101 1 11.77\n00004 0001 19970101  2   29.33\n")
    with pytest.raises(DataError, match=r"line 2: expected 'customer_id YYYYMMDD quantity dollars'"):
        load_cdnow(file)
    file.write_text("00001 19970101 1\n")
    with pytest.raises(DataError, match="line 1"):
        load_cdnow(file)


def test_load_cdnow_empty_folder_names_both_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"CDNOW_sample\.txt or CDNOW_master\.txt"):
        load_cdnow(tmp_path)

"""``engagement_metrics`` / ``engagement_metrics_one``: validation, definitions, and batch = scalar."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from user_ops import DataError, Table
from user_ops.datasets import synthetic_events
from user_ops.metrics import (
    EVENT_LABELS,
    EVENT_TYPES,
    engagement_columns,
    engagement_metrics,
    engagement_metrics_one,
)

UTC = timezone.utc
AS_OF = datetime(2024, 7, 1, tzinfo=UTC)


def _log(rows: list[tuple[Any, Any, Any]]) -> dict[str, list[Any]]:
    return {
        "customer_id": [r[0] for r in rows],
        "event": [r[1] for r in rows],
        "occurred_at": [r[2] for r in rows],
    }


# -- definitions --------------------------------------------------------------------------------------
def test_vocabulary_has_labels_in_both_languages() -> None:
    assert EVENT_TYPES == ("view", "click", "favorite", "add_to_cart", "purchase", "member_join")
    assert set(EVENT_LABELS) == set(EVENT_TYPES)
    assert all(en and zh for en, zh in EVENT_LABELS.values())


def test_columns_and_counts() -> None:
    log = _log(
        [
            (1, "view", AS_OF - timedelta(days=100)),
            (1, "view", AS_OF - timedelta(days=10)),
            (1, "click", AS_OF - timedelta(days=5)),
            (1, "purchase", AS_OF - timedelta(days=40)),
            (1, "purchase", AS_OF - timedelta(days=2)),
            (1, "member_join", AS_OF - timedelta(days=200)),
            (2, "favorite", AS_OF - timedelta(hours=1)),
        ]
    )
    m = engagement_metrics(log, as_of=AS_OF, windows=["30d", "90d"])
    assert m.columns == engagement_columns(["30d", "90d"])
    assert m["customer_id"].tolist() == [1, 2]
    assert m["view_count"].tolist() == [2, 0]
    assert m["view_30d"].tolist() == [1, 0]
    assert m["view_90d"].tolist() == [1, 0]
    assert m["purchases"].tolist() == m["purchase_count"].tolist() == [2, 0]
    assert m["purchase_30d"].tolist() == [1, 0]
    assert m["is_member"].tolist() == [True, False]
    assert m["favorite_30d"].tolist() == [0, 1]
    one, two = m.row(0), m.row(1)
    assert one["first_event_at"] == AS_OF - timedelta(days=200)
    assert one["last_event_at"] == AS_OF - timedelta(days=2)
    assert one["last_view_at"] == AS_OF - timedelta(days=10)
    assert one["last_favorite_at"] is None
    assert two["first_event_at"] == two["last_event_at"] == AS_OF - timedelta(hours=1)
    assert m.kind("last_favorite_at") == "datetime"
    assert m.kind("is_member") == "bool"
    assert m.kind("view_count") == "int"


def test_windows_are_half_open_and_later_events_are_reported() -> None:
    start = AS_OF - timedelta(days=30)
    log = _log(
        [
            (1, "click", start),  # first instant of the window: in
            (1, "click", start - timedelta(microseconds=1)),  # just before: out of the window
            (1, "click", AS_OF - timedelta(microseconds=1)),  # last instant: in
            (1, "click", AS_OF),  # at as_of: left out entirely
            (2, "view", AS_OF + timedelta(days=1)),  # only after as_of: no row
        ]
    )
    m = engagement_metrics(log, as_of=AS_OF, windows=["30d"])
    assert m["customer_id"].tolist() == [1]
    assert m["click_30d"].tolist() == [2]
    assert m["click_count"].tolist() == [3]
    assert m.row(0)["last_click_at"] == AS_OF - timedelta(microseconds=1)
    report = m.report
    assert (report.rows, report.rows_used, report.rows_after_as_of, report.rows_ignored) == (5, 3, 2, 0)
    assert report.customers == 1
    assert report.events["click"] == 3
    assert "2 at or after as_of" in report.describe() == str(report)
    assert dict(zip(report.summary()["measure"], report.summary()["value"]))["rows_after_as_of"] == 2
    assert "EngagementMetrics(1 customers" in repr(m)


def test_calendar_windows_count_on_the_business_wall_clock() -> None:
    # 1 March 2024 00:30 in New York is 05:30 UTC; "1mo" before 1 April 00:30 EDT is 1 March 00:30 EST.
    as_of = datetime(2024, 4, 1, 0, 30, tzinfo=ZoneInfo("America/New_York"))
    inside = datetime(2024, 3, 1, 5, 30, tzinfo=UTC)
    log = _log([(1, "view", inside), (1, "view", inside - timedelta(microseconds=1))])
    m = engagement_metrics(log, as_of=as_of, windows=["1mo"])
    assert m["view_1mo"].tolist() == [1]
    # The same instant counted on Shanghai's calendar: 1 March 13:30 local, the window starts 12:30.
    m = engagement_metrics(log, as_of=as_of, windows=["1mo"], tz="Asia/Shanghai")
    assert m["view_1mo"].tolist() == [2]
    assert m.report.tz == "Asia/Shanghai"


def test_host_vocabulary_and_ignored_events() -> None:
    log = _log(
        [
            ("u1", "浏览", "2024-06-20T10:00:00+08:00"),
            ("u1", "page_view", "2024-06-21T10:00:00+08:00"),
            ("u1", "加购", "2024-06-22T10:00:00+08:00"),
            ("u1", "search", "2024-06-22T11:00:00+08:00"),
            ("u1", "purchase", "2024-06-23T10:00:00+08:00"),
        ]
    )
    vocabulary = {"浏览": "view", "page_view": "view", "加购": "add_to_cart", "search": None}
    m = engagement_metrics(log, as_of=AS_OF, vocabulary=vocabulary)
    assert m["view_count"].tolist() == [2]
    assert m["add_to_cart_30d"].tolist() == [1]
    assert m["purchases"].tolist() == [1]
    assert m.report.rows_ignored == 1
    assert m.report.rows_used == 4


def test_a_customer_with_only_ignored_events_has_no_row() -> None:
    log = _log([(1, "search", AS_OF - timedelta(days=1)), (2, "view", AS_OF - timedelta(days=1))])
    m = engagement_metrics(log, as_of=AS_OF, vocabulary={"search": None})
    assert m["customer_id"].tolist() == [2]


def test_unknown_event_lists_the_vocabulary() -> None:
    log = _log([(1, "view", AS_OF - timedelta(days=1)), (1, "favourite", AS_OF - timedelta(days=1))])
    with pytest.raises(DataError) as info:
        engagement_metrics(log, as_of=AS_OF)
    message = str(info.value)
    assert "column 'event' row 1" in message
    assert "'favourite'" in message
    assert "did you mean 'favorite'" in message
    assert "view, click, favorite, add_to_cart, purchase, member_join" in message
    assert "vocabulary=" in message


@pytest.mark.parametrize(
    ("vocabulary", "needle"),
    [
        ({"浏览": "viewed"}, "did you mean 'view'"),
        ({"浏览": 3}, "not an event type"),
        ({"": "view"}, "non-empty"),
        (["view"], "vocabulary must map"),
    ],
)
def test_bad_vocabulary(vocabulary: Any, needle: str) -> None:
    log = _log([(1, "view", AS_OF - timedelta(days=1))])
    with pytest.raises(DataError, match=needle):
        engagement_metrics(log, as_of=AS_OF, vocabulary=vocabulary)


# -- input forms ----------------------------------------------------------------------------------------
def test_renamed_columns_and_extra_columns() -> None:
    data = {
        "user_id": ["b", "a"],
        "name": ["click", "view"],
        "ts": ["2024-06-30T12:00:00Z", "2024-06-01T00:00:00Z"],
        "sku": ["x", "y"],  # other columns are ignored
    }
    m = engagement_metrics(
        data, as_of=AS_OF, columns={"customer_id": "user_id", "event": "name", "occurred_at": "ts"}
    )
    assert m["customer_id"].tolist() == ["a", "b"]
    assert m["click_count"].tolist() == [0, 1]


def test_records_frames_and_tables_agree() -> None:
    pd = pytest.importorskip("pandas")
    rows = [
        {"customer_id": 3, "event": "view", "occurred_at": AS_OF - timedelta(days=3)},
        {"customer_id": 1, "event": "purchase", "occurred_at": AS_OF - timedelta(days=1)},
    ]
    from_records = engagement_metrics(rows, as_of=AS_OF)
    from_frame = engagement_metrics(pd.DataFrame(rows), as_of=AS_OF)
    from_table = engagement_metrics(Table.from_records(rows), as_of=AS_OF)
    assert from_records.equals(from_frame)
    assert from_records.equals(from_table)
    assert from_records["customer_id"].tolist() == [1, 3]


def test_naive_times_need_tz() -> None:
    log = _log([(1, "view", datetime(2024, 6, 1, 8))])
    with pytest.raises(DataError, match="naive"):
        engagement_metrics(log, as_of=AS_OF)
    m = engagement_metrics(log, as_of=AS_OF, tz="Asia/Shanghai")
    assert m.row(0)["last_view_at"] == datetime(2024, 6, 1, 0, tzinfo=UTC)


def test_iso_strings_and_dates() -> None:
    log = _log([(1, "view", "2024-06-01"), (1, "click", "2024-06-02T08:00")])
    with pytest.raises(DataError, match="no UTC offset"):
        engagement_metrics(log, as_of=AS_OF)
    m = engagement_metrics(log, as_of=AS_OF, tz="Asia/Shanghai")
    assert m.row(0)["last_view_at"] == datetime(2024, 5, 31, 16, tzinfo=UTC)
    assert m.row(0)["last_click_at"] == datetime(2024, 6, 2, 0, tzinfo=UTC)
    dates = _log([(1, "view", date(2024, 6, 1))])
    with pytest.raises(DataError, match="dates without a time zone"):
        engagement_metrics(dates, as_of=AS_OF)
    assert engagement_metrics(dates, as_of=AS_OF, tz="UTC").row(0)["last_view_at"] == datetime(
        2024, 6, 1, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("log", "needle"),
    [
        (_log([(1, "view", "yesterday")]), "column 'occurred_at' row 0: cannot read 'yesterday'"),
        (_log([(1, "view", AS_OF), (None, "view", AS_OF)]), "column 'customer_id' row 1 is null"),
        (_log([(1.5, "view", AS_OF)]), "column 'customer_id' must hold ints or strings"),
        (_log([(1, None, AS_OF), (1, "view", AS_OF)]), "column 'event' row 0 is null"),
        (_log([(1, 7, AS_OF)]), "column 'event' must hold event names"),
        (_log([(1, "view", None), (1, "view", AS_OF)]), "column 'occurred_at' row 0 is null"),
        (_log([(1, "view", 12)]), "column 'occurred_at' must hold datetimes"),
        ({"customer_id": [1], "event": ["view"]}, "need a 'occurred_at' column"),
        ({"customer": [1], "event": ["view"], "occurred_at": [AS_OF]}, "did you mean 'customer'"),
        ("events", "got a string"),
    ],
)
def test_bad_logs_name_column_row_and_value(log: Any, needle: str) -> None:
    with pytest.raises(DataError) as info:
        engagement_metrics(log, as_of=AS_OF)
    assert needle in str(info.value)


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"as_of": datetime(2024, 7, 1)}, "as_of is a naive datetime"),
        ({"as_of": "2024-07-01"}, "as_of must be a timezone-aware datetime"),
        ({"windows": "30d"}, "windows must be a list"),
        ({"windows": ["30x"]}, "invalid duration"),
        ({"windows": ["0d"]}, "empty"),
        ({"windows": ["30d", "30d"]}, "given twice"),
        ({"columns": {"who": "user_id"}}, "not an events column"),
        ({"columns": {"customer_id": "user_id"}}, "user_id"),
        ({"tz": "Mars/Olympus"}, "unknown time zone"),
    ],
)
def test_bad_options(options: dict[str, Any], needle: str) -> None:
    log = _log([(1, "view", AS_OF - timedelta(days=1))])
    arguments: dict[str, Any] = {"as_of": AS_OF, **options}
    with pytest.raises(DataError, match=needle):
        engagement_metrics(log, **arguments)


def test_empty_log() -> None:
    m = engagement_metrics({"customer_id": [], "event": [], "occurred_at": []}, as_of=AS_OF)
    assert len(m) == 0
    assert m.columns == engagement_columns()
    assert m.report.rows == 0


def test_customers_without_events_get_zero_rows() -> None:
    log = _log([(2, "view", AS_OF - timedelta(days=1)), (9, "view", AS_OF + timedelta(days=1))])
    m = engagement_metrics(log, as_of=AS_OF, customers=[1, 2, 3, 2])
    assert m["customer_id"].tolist() == [1, 2, 3]
    assert m["view_count"].tolist() == [0, 1, 0]
    assert m.row(0)["first_event_at"] is None
    assert m.report.customers_without_events == 2
    assert engagement_metrics(log, as_of=AS_OF, customers={"customer_id": [5]})["customer_id"].tolist() == [
        2,
        5,
    ]
    empty = engagement_metrics(
        {"customer_id": [], "event": [], "occurred_at": []}, as_of=AS_OF, customers=[4]
    )
    assert empty["customer_id"].tolist() == [4]
    assert empty["is_member"].tolist() == [False]


def test_customers_from_frames_and_series() -> None:
    pd = pytest.importorskip("pandas")
    log = _log([(2, "view", AS_OF - timedelta(days=1))])
    for customers in (pd.Series([1, 3]), pd.DataFrame({"customer_id": [1, 3]}), range(1, 4, 2)):
        assert engagement_metrics(log, as_of=AS_OF, customers=customers)["customer_id"].tolist() == [1, 2, 3]


def test_customers_must_match_the_id_kind() -> None:
    log = _log([(2, "view", AS_OF - timedelta(days=1))])
    with pytest.raises(DataError, match="string ids"):
        engagement_metrics(log, as_of=AS_OF, customers=["a"])
    with pytest.raises(DataError, match="customer_id"):
        engagement_metrics(log, as_of=AS_OF, customers={"id": [1]})
    with pytest.raises(DataError, match="null"):
        engagement_metrics(log, as_of=AS_OF, customers=[1, None])


# -- one customer ---------------------------------------------------------------------------------------
def test_one_customer() -> None:
    events = [
        {"event": "view", "occurred_at": AS_OF - timedelta(days=3)},
        {"event": "add_to_cart", "occurred_at": AS_OF - timedelta(days=2)},
        {"event": "member_join", "occurred_at": AS_OF + timedelta(days=2)},  # after as_of: left out
    ]
    one = engagement_metrics_one(events, as_of=AS_OF, windows=["7d"])
    assert list(one) == list(engagement_columns(["7d"]))
    assert one["customer_id"] is None
    assert one["view_7d"] == 1
    assert one["add_to_cart_count"] == 1
    assert one["is_member"] is False
    assert one["first_event_at"] == AS_OF - timedelta(days=3)
    assert engagement_metrics_one(events, as_of=AS_OF, customer_id=42)["customer_id"] == 42


def test_one_customer_with_ids_mapping_and_no_events() -> None:
    rows = [{"uid": "ann", "name": "加购", "ts": "2024-06-30T00:00:00Z"}]
    one = engagement_metrics_one(
        rows,
        as_of=AS_OF,
        vocabulary={"加购": "add_to_cart"},
        columns={"customer_id": "uid", "event": "name", "occurred_at": "ts"},
    )
    assert one["customer_id"] == "ann"
    assert one["add_to_cart_30d"] == 1
    empty = engagement_metrics_one([], as_of=AS_OF, customer_id="bob")
    assert empty["customer_id"] == "bob"
    assert empty["purchases"] == 0
    assert empty["last_event_at"] is None


def test_one_customer_rejects_several_customers_and_bad_input() -> None:
    rows = [
        {"customer_id": 1, "event": "view", "occurred_at": AS_OF - timedelta(days=1)},
        {"customer_id": 2, "event": "view", "occurred_at": AS_OF - timedelta(days=1)},
    ]
    with pytest.raises(DataError, match="one customer's events; row 1 has customer_id 2"):
        engagement_metrics_one(rows, as_of=AS_OF)
    with pytest.raises(DataError, match="unknown event"):
        engagement_metrics_one([{"event": "like", "occurred_at": AS_OF}], as_of=AS_OF)
    with pytest.raises(DataError, match="sequence of mappings"):
        engagement_metrics_one(5, as_of=AS_OF)


# -- synthetic data ---------------------------------------------------------------------------------
def test_synthetic_events_are_deterministic_and_valid() -> None:
    log = synthetic_events(300, seed=7)
    assert log.equals(synthetic_events(300, seed=7))
    assert not log.equals(synthetic_events(300, seed=8))
    assert set(log["event"].tolist()) == set(EVENT_TYPES)
    m = engagement_metrics(log, as_of=AS_OF, customers=np.arange(1000, 1300))
    assert len(m) == 300
    assert 0 < m.report.rows_after_as_of < m.report.rows
    assert len(synthetic_events(0)) == 0
    with pytest.raises(DataError):
        synthetic_events(-1)


def test_large_log_is_aggregated_without_a_per_customer_loop() -> None:
    n = 200_000
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 50_000, size=n)
    names = np.array(EVENT_TYPES, dtype=object)[rng.integers(0, len(EVENT_TYPES), size=n)]
    times = np.datetime64("2024-07-01T00:00:00", "us") - rng.integers(0, 10**13, size=n).astype(
        "timedelta64[us]"
    )
    m = engagement_metrics(
        Table({"customer_id": ids, "event": names, "occurred_at": times}, tz="UTC"), as_of=AS_OF
    )
    assert int(sum(m[f"{e}_count"].sum() for e in EVENT_TYPES)) == n
    assert len(m) == len(np.unique(ids))


# -- batch = scalar -----------------------------------------------------------------------------------
ZONES = [
    UTC,
    ZoneInfo("Asia/Shanghai"),
    ZoneInfo("America/New_York"),
    timezone(timedelta(hours=-3, minutes=-30)),
]
AS_OFS = [
    datetime(2024, 3, 10, 12, tzinfo=UTC),
    datetime(2024, 11, 3, 6, 30, tzinfo=UTC),
    datetime(2024, 4, 7, tzinfo=ZoneInfo("Australia/Lord_Howe")),
    datetime(2024, 6, 30, tzinfo=ZoneInfo("Asia/Shanghai")),
]
HOST_NAMES = {"浏览": "view", "加购": "add_to_cart", "search": None}


@st.composite
def logs(draw: st.DrawFn) -> dict[str, Any]:
    as_of = draw(st.sampled_from(AS_OFS))
    string_ids = draw(st.booleans())
    n = draw(st.integers(1, 40))
    rows = []
    for _ in range(n):
        customer = draw(st.integers(0, 4))
        minutes = draw(
            st.one_of(
                st.integers(-3 * 1440, 120 * 1440), st.sampled_from([0, 1, 30, 1440, 7 * 1440, 30 * 1440])
            )
        )
        rows.append(
            {
                "customer_id": f"c{customer}" if string_ids else customer * 7 - 3,
                "event": draw(st.sampled_from([*EVENT_TYPES, *HOST_NAMES])),
                "occurred_at": (as_of - timedelta(minutes=minutes)).astimezone(draw(st.sampled_from(ZONES))),
            }
        )
    return {
        "rows": rows,
        "as_of": as_of,
        "tz": draw(st.sampled_from([None, "UTC", "America/New_York", "Europe/London", "Asia/Shanghai"])),
        "windows": draw(st.sampled_from([("30d",), ("1d", "12h", "1mo", "2w"), ("90d", "30d")])),
        "extra": draw(st.booleans()),
    }


@settings(max_examples=200, deadline=None)
@given(logs())
def test_every_row_equals_the_scalar_answer(log: dict[str, Any]) -> None:
    rows = log["rows"]
    options = {"as_of": log["as_of"], "tz": log["tz"], "windows": log["windows"], "vocabulary": HOST_NAMES}
    known = sorted({row["customer_id"] for row in rows}, key=str)
    extra = ["zz"] if isinstance(known[0], str) else [10**6]
    batch = engagement_metrics(rows, customers=extra if log["extra"] else None, **options)
    used = 0
    for i in range(len(batch)):
        row = batch.row(i)
        mine = [r for r in rows if r["customer_id"] == row["customer_id"]]
        one = engagement_metrics_one(mine, customer_id=row["customer_id"], **options)
        assert row == one, {k: (row[k], one[k]) for k in row if row[k] != one[k]}
        used += sum(
            c for k, c in one.items() if k.endswith("_count") and k.removesuffix("_count") in EVENT_TYPES
        )
    assert used == batch.report.rows_used
    report = batch.report
    assert report.rows_used + report.rows_after_as_of + report.rows_ignored == len(rows)

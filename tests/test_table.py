"""Tests of ``Table``: kinds, nulls, construction paths, errors, time zones and DataFrame interop."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from dateutil import tz as dateutil_tz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from user_ops import ConfigError, DataError, Table
from user_ops._table import column_kind, local_wall_clock, normalize_column, wall_clock_to_utc

UTC = timezone.utc
NY = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEPAL = timezone(timedelta(hours=5, minutes=45))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)


def utc_us(value: datetime) -> int:
    """Reference: exact microseconds since the epoch of an aware datetime (Python's own arithmetic)."""
    return (value - EPOCH) // ONE_US


def as_us(column: np.ndarray[Any, Any]) -> list[int | None]:
    return [None if np.isnat(v) else int(v.astype("datetime64[us]").view(np.int64)) for v in column]


# -- kinds ------------------------------------------------------------------------------------------
KIND_CASES = [
    ([1, 2, 3], "int", np.int64),
    ([True, False], "bool", np.bool_),
    ([1.5, 2.0], "float", np.float64),
    ([1, 2.5], "float", np.float64),
    ([Decimal("1.10"), 2], "decimal", object),
    (["a", "北京"], "str", object),
    ([datetime(2024, 1, 1, tzinfo=UTC)], "datetime", np.dtype("datetime64[us]")),
    ([date(2024, 1, 1)], "date", np.dtype("datetime64[D]")),
    ([timedelta(days=1, microseconds=3)], "duration", np.dtype("timedelta64[us]")),
    ([["a", "b"], ("c",), set()], "list[str]", object),
    ([None, None], "null", object),
    ([], "null", object),
]


@pytest.mark.parametrize(("values", "kind", "dtype"), KIND_CASES)
def test_every_kind_from_a_list(values: list[Any], kind: str, dtype: Any) -> None:
    table = Table({"c": values})
    assert table.kind("c") == kind
    assert table["c"].dtype == np.dtype(dtype)
    assert len(table) == len(values)


ARRAY_CASES = [
    (np.array([1, 2], dtype=np.int8), "int", [1, 2]),
    (np.array([1, 2], dtype=np.uint32), "int", [1, 2]),
    (np.array([0.5, np.nan], dtype=np.float32), "float", [0.5, None]),
    (np.array([True, False]), "bool", [True, False]),
    (np.array(["2024-02-29", "NaT"], dtype="datetime64[D]"), "date", [date(2024, 2, 29), None]),
    (np.array(["2024-05"], dtype="datetime64[M]"), "date", [date(2024, 5, 1)]),
    (np.array([90, "NaT"], dtype="timedelta64[s]"), "duration", [timedelta(seconds=90), None]),
    (np.array(["x", "yy"]), "str", ["x", "yy"]),
    (np.array(["x", None], dtype=object), "str", ["x", None]),
    (np.array([Decimal("1.5"), None], dtype=object), "decimal", [Decimal("1.5"), None]),
    (np.ma.MaskedArray([1, 99], mask=[False, True]), "int", [1, None]),
    (np.ma.MaskedArray([1.0, 2.0], mask=[True, False]), "float", [None, 2.0]),
    (np.ma.MaskedArray(["a", "b"], mask=[False, True]), "str", ["a", None]),
    (np.ma.MaskedArray([1, 2], mask=[False, False]), "int", [1, 2]),
]


@pytest.mark.parametrize(("array", "kind", "python"), ARRAY_CASES)
def test_every_kind_from_a_numpy_array(array: np.ndarray[Any, Any], kind: str, python: list[Any]) -> None:
    table = Table({"c": array})
    assert table.kind("c") == kind
    assert [row["c"] for row in table.to_dicts()] == python


def test_numpy_datetimes_need_tz_and_are_read_as_wall_clock() -> None:
    wall = np.array(["2024-01-01T08:00:00.123456789"], dtype="datetime64[ns]")
    with pytest.raises(DataError, match=r"column 'c' holds datetime64 values without a time zone"):
        Table({"c": wall})
    table = Table({"c": wall}, tz="Asia/Shanghai")
    assert table.kind("c") == "datetime"
    assert table["c"][0] == np.datetime64("2024-01-01T00:00:00.123456")  # nanoseconds floored


def test_column_kind_of_a_normalized_column() -> None:
    assert column_kind(np.array([None, "a"], dtype=object)) == "str"
    assert column_kind(np.array([None, (), ("a",)], dtype=object)) == "list[str]"
    assert column_kind(np.array([None], dtype=object)) == "null"


# -- nulls ------------------------------------------------------------------------------------------
NULL_CASES = [
    ([1, None, 3], "int", True),
    ([True, None], "bool", True),
    ([1.5, None, float("nan")], "float", False),
    ([Decimal("1"), None, Decimal("NaN")], "decimal", False),
    (["a", None], "str", False),
    ([datetime(2024, 1, 1, tzinfo=UTC), None], "datetime", False),
    ([date(2024, 1, 1), None], "date", False),
    ([timedelta(1), None], "duration", False),
    ([["a"], None], "list[str]", False),
]


@pytest.mark.parametrize(("values", "kind", "masked"), NULL_CASES)
def test_nulls_per_kind(values: list[Any], kind: str, masked: bool) -> None:
    table = Table({"c": values})
    assert table.kind("c") == kind
    assert isinstance(table["c"], np.ma.MaskedArray) is masked
    expected = [v is None or (isinstance(v, (float, Decimal)) and v != v) for v in values]
    mask = table.null_mask("c")
    assert mask is not None
    assert mask.tolist() == expected
    assert [row["c"] is None for row in table.to_dicts()] == expected


def test_null_mask_is_none_without_nulls_and_cached_read_only() -> None:
    table = Table({"a": [1, 2], "b": ["x", None]})
    assert table.null_mask("a") is None
    mask = table.null_mask("b")
    assert mask is table.null_mask("b")
    assert mask is not None
    with pytest.raises(ValueError, match="read-only"):
        mask[0] = True


def test_int_column_with_nulls_beyond_float_precision_stays_exact() -> None:
    big = 2**62 + 1
    table = Table({"c": [big, None, -big]})
    assert table.to_dicts() == [{"c": big}, {"c": None}, {"c": -big}]


# -- round trip (hypothesis) ------------------------------------------------------------------------
ZONES: list[tzinfo] = [UTC, NY, LORD_HOWE, SHANGHAI, NEPAL]
FIELDS = {
    "i": st.integers(-(2**63), 2**63 - 1),
    "f": st.floats(allow_nan=True, allow_infinity=True),
    "b": st.booleans(),
    "d": st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**9), max_value=10**9),
    "s": st.text(max_size=5),
    "dt": st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.sampled_from(ZONES)
    ),
    "day": st.dates(),
    "dur": st.timedeltas(min_value=timedelta(days=-(10**6)), max_value=timedelta(days=10**6)),
    "tags": st.lists(st.text(max_size=3), max_size=3),
}
RECORDS = st.lists(
    st.fixed_dictionaries({}, optional={k: st.none() | v for k, v in FIELDS.items()}), max_size=12
)


def _normalized(value: Any) -> Any:
    """What to_dicts gives back for an input value."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, list):
        return tuple(value)
    return value


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(RECORDS)
def test_from_records_to_dicts_round_trip(records: list[dict[str, Any]]) -> None:
    table = Table.from_records(records)
    names: list[str] = []
    for record in records:
        names += [k for k in record if k not in names]
    assert list(table.columns) == names
    expected = [{name: _normalized(record.get(name)) for name in names} for record in records]
    assert table.to_dicts() == (expected if names else [])
    again = Table.from_records(table.to_dicts(), columns=names)
    assert again.to_dicts() == table.to_dicts()


# -- from_records -----------------------------------------------------------------------------------
def test_from_records_missing_keys_are_nulls_in_first_appearance_order() -> None:
    rows = [{"id": 1}, {"id": 2, "city": "上海"}, {"tags": ["vip"], "id": 3}]
    table = Table.from_records(rows)
    assert table.columns == ("id", "city", "tags")
    assert table["city"].tolist() == [None, "上海", None]
    assert table["tags"].tolist() == [None, None, ("vip",)]


def test_from_records_with_same_key_count_but_other_keys() -> None:
    # Same number of keys per row, different names: the fast transpose must not be fooled.
    table = Table.from_records([{"a": 1, "b": 2}, {"a": 3, "c": 4}])
    assert table.columns == ("a", "b", "c")
    assert table.to_dicts() == [{"a": 1, "b": 2, "c": None}, {"a": 3, "b": None, "c": 4}]


def test_from_records_columns_picks_orders_and_fills_absent_names() -> None:
    rows = [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    table = Table.from_records(rows, columns=["b", "a", "z"])
    assert table.columns == ("b", "a", "z")
    assert table.kind("z") == "null"
    assert table.to_dicts()[1] == {"b": "y", "a": 2, "z": None}


def test_from_records_accepts_any_iterable_and_single_column() -> None:
    table = Table.from_records({"n": i} for i in range(3))
    assert table["n"].tolist() == [0, 1, 2]
    assert len(Table.from_records([])) == 0


def test_from_records_rejects_rows_that_are_not_mappings() -> None:
    with pytest.raises(DataError, match=r"row 1 is a list, not a mapping"):
        Table.from_records([{"a": 1}, [1]])  # type: ignore[list-item]
    with pytest.raises(DataError, match=r"row 0 is a str, not a mapping"):
        Table.from_records(["ab"], columns=["a"])  # type: ignore[list-item]


def test_from_records_uses_tz_for_naive_datetimes() -> None:
    rows = [{"t": datetime(2024, 7, 1, 12)}, {"t": None}]
    table = Table.from_records(rows, tz="Asia/Shanghai")
    assert table.to_dicts()[0]["t"] == datetime(2024, 7, 1, 4, tzinfo=UTC)


# -- errors -----------------------------------------------------------------------------------------
def test_ragged_columns_name_the_lengths() -> None:
    with pytest.raises(DataError, match=r"different lengths: a=2, b=3"):
        Table({"a": [1, 2], "b": [1, 2, 3]})


def test_two_dimensional_and_scalar_columns_are_rejected() -> None:
    with pytest.raises(DataError, match=r"column 'm' must be 1-D, got an array of shape \(2, 2\)"):
        Table({"m": np.zeros((2, 2))})
    with pytest.raises(DataError, match=r"must be a 1-D array or a list, got int"):
        Table({"m": 5})
    with pytest.raises(DataError, match=r"got str"):
        Table({"m": "abc"})


@pytest.mark.parametrize(
    "array", [np.array([1 + 2j]), np.array([b"x"]), np.array([1], dtype="timedelta64[M]")], ids=str
)
def test_unsupported_dtypes_name_column_and_dtype(array: np.ndarray[Any, Any]) -> None:
    with pytest.raises(DataError, match=rf"column 'c' has unsupported dtype {re.escape(str(array.dtype))}"):
        Table({"c": array})


def test_mixed_types_name_the_rows() -> None:
    with pytest.raises(
        DataError, match=r"column 'c' mixes value types: int \(row 1: 5\), str \(row 3: 'x'\)"
    ):
        Table({"c": [None, 5, 6, "x"]})
    with pytest.raises(DataError, match=r"bool \(row 0: True\), int \(row 1: 1\)"):
        Table({"c": [True, 1]})


def test_unsupported_values_name_column_and_row() -> None:
    with pytest.raises(DataError, match=r"column 'c' row 1 holds an unsupported value b'x' \(bytes\)"):
        Table({"c": ["a", b"x"]})
    with pytest.raises(DataError, match=r"column 'c' row 1: list values must hold strings, got 3"):
        Table({"c": [["a"], ["b", 3]]})


def test_naive_datetimes_without_tz_name_the_row() -> None:
    values = [datetime(2024, 1, 1, tzinfo=UTC), None, datetime(2024, 1, 2)]
    with pytest.raises(DataError, match=r"column 't' row 2 is a naive datetime \(2024-01-02T00:00:00\)"):
        Table({"t": values})


@pytest.mark.parametrize(
    ("values", "row"),
    [([1, 2**63], 1), ([None, -(2**63) - 1], 1), ([None, 1, 2**64], 2), ([np.uint64(2**64 - 1)], 0)],
)
def test_int64_overflow_names_the_row(values: list[Any], row: int) -> None:
    with pytest.raises(DataError, match=rf"column 'n' row {row}: .* is outside the int64 range"):
        Table({"n": values})


def test_uint64_array_overflow_and_huge_floats() -> None:
    with pytest.raises(DataError, match=r"row 1: 18446744073709551615 is outside the int64 range"):
        Table({"n": np.array([1, 2**64 - 1], dtype=np.uint64)})
    with pytest.raises(DataError, match=r"column 'x' row 1: 1000.*\.\.\.00 is too large for a float"):
        Table({"x": [0.5, 10**400]})


@pytest.mark.parametrize("name", [1, "", None])
def test_column_names_must_be_non_empty_strings(name: Any) -> None:
    with pytest.raises(DataError, match=r"column names must be non-empty strings"):
        Table({name: [1]})
    with pytest.raises(DataError, match=r"column names must be non-empty strings"):
        Table({"a": [1]}).with_columns({name: [2]})


def test_missing_column_suggests_a_close_name() -> None:
    table = Table({"spend": [1.0], "orders": [1]})
    with pytest.raises(DataError, match=r"no column 'spnd'; did you mean 'spend'\?"):
        table["spnd"]
    with pytest.raises(ValueError, match="no column 'zzz'"):
        table["zzz"]


def test_non_mapping_input_points_to_the_right_constructor() -> None:
    with pytest.raises(DataError, match=r"use Table.from_records"):
        Table([{"a": 1}])  # type: ignore[arg-type]


# -- time zones -------------------------------------------------------------------------------------
def test_naive_datetimes_with_tz_follow_fold_zero_across_dst() -> None:
    values = [
        datetime(2024, 3, 10, 1, 59),  # before the spring-forward gap (EST)
        datetime(2024, 3, 10, 2, 30),  # in the gap: forward by the gap, 03:30 EDT
        datetime(2024, 3, 10, 3, 0),  # after the gap (EDT)
        datetime(2024, 11, 3, 1, 30),  # repeated hour: the first one (EDT)
        datetime(2024, 11, 3, 2, 0),  # after the repeated hour (EST)
    ]
    got = Table({"t": values}, tz="America/New_York").to_dicts()
    assert [row["t"] for row in got] == [
        datetime(2024, 3, 10, 6, 59, tzinfo=UTC),
        datetime(2024, 3, 10, 7, 30, tzinfo=UTC),
        datetime(2024, 3, 10, 7, 0, tzinfo=UTC),
        datetime(2024, 11, 3, 5, 30, tzinfo=UTC),
        datetime(2024, 11, 3, 7, 0, tzinfo=UTC),
    ]
    as_numpy = np.array([v.isoformat() for v in values], dtype="datetime64[us]")
    assert Table({"t": as_numpy}, tz=NY).equals(Table({"t": values}, tz=NY))


def test_aware_datetimes_keep_their_fold() -> None:
    first = datetime(2024, 11, 3, 1, 30, tzinfo=NY)
    second = first.replace(fold=1)
    got = Table({"t": [first, second]})["t"]
    assert as_us(got) == [utc_us(first), utc_us(second)]
    assert utc_us(second) - utc_us(first) == 3600 * 10**6


TRANSITION_DAYS = [
    (NY, datetime(2024, 3, 10)),
    (NY, datetime(2024, 11, 3)),
    (LORD_HOWE, datetime(2024, 4, 7)),  # 30-minute DST
    (LORD_HOWE, datetime(2024, 10, 6)),
    (ZoneInfo("Europe/London"), datetime(1996, 3, 31)),
]


@settings(max_examples=150)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(TRANSITION_DAYS),
            st.integers(-2 * 3600, 5 * 3600),
            st.integers(0, 1),
            st.integers(0, 999_999),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_datetime_conversion_matches_python_near_transitions(picks: list[Any]) -> None:
    aware, naive, zones = [], [], []
    for (zone, day), seconds, fold, micros in picks:
        wall = day + timedelta(seconds=seconds, microseconds=micros)
        aware.append(wall.replace(tzinfo=zone, fold=fold))
        naive.append(wall)
        zones.append(zone)
    # aware: mixed zones in one column, each value exactly as Python computes it
    assert as_us(Table({"t": aware})["t"]) == [utc_us(v) for v in aware]
    # naive with tz=: fold=0, for each zone separately
    for zone in set(zones):
        mine = [w for w, z in zip(naive, zones, strict=True) if z is zone]
        expected = [utc_us(w.replace(tzinfo=zone)) for w in mine]
        assert as_us(Table({"t": mine}, tz=zone)["t"]) == expected
        wall = np.array(mine, dtype="datetime64[us]")
        assert as_us(wall_clock_to_utc(wall, zone)) == expected


def test_many_distinct_tzinfo_objects_and_other_tzinfo_classes() -> None:
    base = datetime(2024, 6, 1, 12)
    many = [base.replace(tzinfo=timezone(timedelta(minutes=k))) for k in range(100)]
    table = Table({"t": many})
    assert as_us(table["t"]) == [utc_us(v) for v in many]
    others = [
        datetime(2024, 11, 3, 1, 30, tzinfo=dateutil_tz.gettz("America/New_York")),
        pd.Timestamp("2024-03-10 03:30", tz="America/New_York"),
        None,
    ]
    got = as_us(Table({"t": others})["t"])
    assert got == [utc_us(others[0]), utc_us(others[1]), None]  # type: ignore[arg-type]


def test_datetimes_far_apart_stay_fast_and_exact() -> None:
    values = [
        datetime(1, 1, 1, tzinfo=NY),
        datetime(2024, 7, 1, tzinfo=NY),
        datetime(9999, 12, 31, 23, tzinfo=NY),
    ]
    assert as_us(Table({"t": values})["t"]) == [utc_us(v) for v in values]
    naive = np.array(["0001-01-01", "9999-12-31T23:59:59.999999"], dtype="datetime64[us]")
    out = wall_clock_to_utc(naive, "Asia/Shanghai")
    assert as_us(out) == [
        utc_us(datetime(1, 1, 1, tzinfo=SHANGHAI)),
        utc_us(datetime.max.replace(tzinfo=SHANGHAI)),
    ]
    with pytest.raises(DataError, match=r"outside years 1\.\.9999"):
        wall_clock_to_utc(np.array(["10000-01-01"], dtype="datetime64[us]"), NY)


def test_local_wall_clock_inverts_wall_clock_to_utc() -> None:
    wall = np.array(["2024-01-01T00:00", "NaT", "2024-07-01T12:34:56.789"], dtype="datetime64[us]")
    utc = wall_clock_to_utc(wall, "Europe/London")
    assert np.array_equal(local_wall_clock(utc, "Europe/London"), wall, equal_nan=True)


def test_unknown_time_zone_is_a_data_error() -> None:
    with pytest.raises(DataError, match="unknown time zone 'Mars/Olympus'"):
        Table({"t": [datetime(2024, 1, 1)]}, tz="Mars/Olympus")


# -- values and canonical forms ---------------------------------------------------------------------
def test_canonical_values() -> None:
    table = Table(
        {
            "tags": [{"b", "a"}, ["z"], None],
            "money": [Decimal("1.50"), 2, Decimal("NaN")],
            "mix": [1, 2.5, None],
            "numpy": [np.int32(3), np.int64(4), None],
        }
    )
    assert table["tags"].tolist() == [("a", "b"), ("z",), None]
    assert table["money"].tolist() == [Decimal("1.50"), Decimal(2), None]
    assert table.kind("mix") == "float"
    assert table.kind("numpy") == "int"
    assert table.to_dicts()[1] == {"tags": ("z",), "money": Decimal(2), "mix": 2.5, "numpy": 4}


def test_row_select_with_columns_and_coerce() -> None:
    table = Table({"a": [1, 2, 3], "b": ["x", "y", None]})
    assert table.row(-1) == {"a": 3, "b": None}
    assert table.row(0) == {"a": 1, "b": "x"}
    with pytest.raises(IndexError, match="row 3 out of range"):
        table.row(3)
    assert table.select(["b"]).columns == ("b",)
    wider = table.with_columns({"c": [1.0, 2.0, 3.0], "a": [7, 8, 9]})
    assert wider.columns == ("a", "b", "c")
    assert wider["a"].tolist() == [7, 8, 9]
    assert table["a"].tolist() == [1, 2, 3]
    with pytest.raises(DataError, match="different lengths"):
        table.with_columns({"d": [1]})
    assert Table.coerce(table) is table
    assert Table.coerce({"a": [1]}).columns == ("a",)
    assert Table.coerce([{"a": 1}]).columns == ("a",)
    assert Table.coerce(pd.DataFrame({"a": [1]})).columns == ("a",)
    assert "a" in table and list(table) == ["a", "b"]
    assert repr(table) == "Table(3 rows; a: int, b: str)"


def test_equals_compares_names_kinds_values_and_nulls() -> None:
    base = Table({"a": [1, None], "f": [1.0, float("nan")], "s": ["x", None]})
    assert base.equals(Table({"a": [1, None], "f": [1.0, None], "s": ["x", None]}))
    assert not base.equals(Table({"a": [1, 2], "f": [1.0, None], "s": ["x", None]}))
    assert not base.equals(Table({"a": [1, None], "f": [1.0, 2.0], "s": ["x", None]}))
    assert not base.equals(Table({"a": [1.0, None], "f": [1.0, None], "s": ["x", None]}))
    assert not base.equals(Table({"f": [1.0, None], "a": [1, None], "s": ["x", None]}))
    assert not base.equals(Table({"a": [1], "f": [1.0], "s": ["x"]}))


def test_repr_html_escapes_names_and_values() -> None:
    table = Table({"<b>name</b>": ["<script>alert(1)</script>", None], "n": [1, 2]})
    rendered = table._repr_html_()
    assert "<script>" not in rendered and "<b>name" not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert "&lt;b&gt;name&lt;/b&gt;" in rendered
    assert "<td>null</td>" in rendered
    assert "2 rows × 2 columns" in rendered
    assert "3 more rows" in Table({"n": list(range(23))})._repr_html_()


# -- immutability -----------------------------------------------------------------------------------
def test_columns_are_read_only_and_input_arrays_are_copied() -> None:
    source = np.array([1, 2, 3])
    table = Table({"n": source, "s": ["a", "b", "c"], "m": [1, None, 3]})
    for name in table.columns:
        with pytest.raises(ValueError, match="read-only"):
            table[name][0] = table[name][1]
    source[0] = 100  # the caller's array stays writable and the table does not see the change
    assert table["n"].tolist() == [1, 2, 3]
    assert source.flags.writeable


# -- frames: the same data through every input kind -------------------------------------------------
RAW = {
    "id": [1, 2, 3],
    "orders": [5, None, 7],
    "spend": [9.5, None, 0.25],
    "vip": [True, None, False],
    "city": ["北京", None, "上海"],
    "joined": [date(2020, 1, 1), None, date(2024, 2, 29)],
    "last_order_at": [datetime(2024, 5, 1, 8, 30, tzinfo=UTC), None, datetime(2024, 11, 3, 6, tzinfo=UTC)],
    "wait": [timedelta(hours=1), None, timedelta(milliseconds=5)],
    "money": [Decimal("1.50"), None, Decimal("20.25")],
    "tags": [["vip", "new"], None, []],
}


def raw_table() -> Table:
    return Table(RAW)


def pandas_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.Series(RAW["id"], dtype="int64"),
            "orders": pd.Series(RAW["orders"], dtype="Int64"),
            "spend": pd.Series(RAW["spend"], dtype="Float64"),
            "vip": pd.Series(RAW["vip"], dtype="boolean"),
            "city": pd.Series(RAW["city"], dtype="category"),
            "joined": pd.Series(RAW["joined"], dtype=object),
            "last_order_at": pd.to_datetime(pd.Series(RAW["last_order_at"]), utc=True).dt.tz_convert(
                "Asia/Shanghai"
            ),
            "wait": pd.Series(RAW["wait"], dtype="timedelta64[us]"),
            "money": pd.Series(RAW["money"], dtype=object),
            "tags": pd.Series(RAW["tags"], dtype=object),
        }
    )


def polars_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": pl.Series(RAW["id"], dtype=pl.UInt16),
            "orders": pl.Series(RAW["orders"], dtype=pl.Int32),
            "spend": pl.Series(RAW["spend"], dtype=pl.Float32),
            "vip": pl.Series(RAW["vip"], dtype=pl.Boolean),
            "city": pl.Series(RAW["city"], dtype=pl.Categorical),
            "joined": pl.Series(RAW["joined"], dtype=pl.Date),
            "last_order_at": pl.Series(
                RAW["last_order_at"], dtype=pl.Datetime("ns", "UTC")
            ).dt.convert_time_zone("America/New_York"),
            "wait": pl.Series(RAW["wait"], dtype=pl.Duration("ms")),
            "money": pl.Series(RAW["money"], dtype=pl.Decimal(10, 2)),
            "tags": pl.Series(RAW["tags"], dtype=pl.List(pl.String)),
        }
    )


def arrow_table() -> pa.Table:
    return pa.table(
        {
            "id": pa.array(RAW["id"], type=pa.int8()),
            "orders": pa.array(RAW["orders"], type=pa.int64()),
            "spend": pa.array(RAW["spend"], type=pa.float64()),
            "vip": pa.array(RAW["vip"], type=pa.bool_()),
            "city": pa.array(RAW["city"], type=pa.string()).dictionary_encode(),
            "joined": pa.array(RAW["joined"], type=pa.date64()),
            "last_order_at": pa.array(RAW["last_order_at"], type=pa.timestamp("ms", tz="Asia/Shanghai")),
            "wait": pa.array(RAW["wait"], type=pa.duration("us")),
            "money": pa.array(RAW["money"], type=pa.decimal128(10, 2)),
            "tags": pa.array(RAW["tags"], type=pa.large_list(pa.large_string())),
        }
    )


@pytest.mark.parametrize("make", [pandas_frame, polars_frame, arrow_table], ids=["pandas", "polars", "arrow"])
def test_same_data_through_every_input_kind_is_equal(make: Any) -> None:
    table = Table.from_frame(make())
    expected = raw_table()
    for name in expected.columns:
        assert table.kind(name) == expected.kind(name), name
        assert table.select([name]).equals(expected.select([name])), name
    assert table.equals(expected)


@pytest.mark.parametrize("method", ["to_pandas", "to_polars", "to_arrow"])
def test_round_trip_through_each_library(method: str) -> None:
    table = raw_table().with_columns({"nothing": [None, None, None], "flags": [True, False, True]})
    frame = getattr(table, method)()
    back = Table.from_frame(frame)
    assert back.equals(table)
    assert Table.from_frame(frame, columns=["money", "id"]).columns == ("money", "id")


def test_output_dtypes() -> None:
    table = raw_table()
    df = table.to_pandas()
    assert str(df["orders"].dtype) == "Int64"
    assert str(df["vip"].dtype) == "boolean"
    assert str(df["last_order_at"].dtype) == "datetime64[us, UTC]"
    assert df["money"].tolist()[0] == Decimal("1.50")
    assert df["tags"].tolist()[0] == ("vip", "new")
    polars = table.to_polars()
    assert polars.schema["last_order_at"] == pl.Datetime("us", "UTC")
    assert polars.schema["tags"] == pl.List(pl.String)
    assert isinstance(polars.schema["money"], pl.Decimal)
    assert polars["spend"].null_count() == 1
    arrow = table.to_arrow()
    assert arrow.schema.field("last_order_at").type == pa.timestamp("us", tz="UTC")
    assert arrow.schema.field("money").type == pa.decimal128(4, 2)
    assert polars.schema["money"] == pl.Decimal(4, 2)
    assert arrow.column("spend").null_count == 1


@pytest.mark.parametrize("odd", [Decimal("Infinity"), Decimal("1" * 39), Decimal("1e-39")])
def test_decimals_that_polars_and_arrow_cannot_hold_become_text(odd: Decimal) -> None:
    table = Table({"d": [odd, Decimal("1.5"), None]})
    assert table.to_polars()["d"].to_list() == [str(odd), "1.5", None]
    assert table.to_arrow()["d"].to_pylist() == [str(odd), "1.5", None]
    assert table.to_pandas()["d"].tolist() == [odd, Decimal("1.5"), None]


def test_pandas_object_and_string_columns() -> None:
    df = pd.DataFrame(
        {
            "a": pd.Series(["x", None, float("nan"), pd.NA], dtype=object),
            "s": pd.Series(["x", None, "y", None], dtype="string"),
            "p": pd.Series(["x", None, "y", None], dtype=pd.StringDtype("python")),
            "t": pd.Series([pd.Timestamp("2024-01-01", tz="UTC"), pd.NaT, None, None], dtype=object),
            "n": pd.Series([1, None, 3, None], dtype="UInt8"),
            "cat": pd.Series([1, None, 2, 1], dtype="category"),
        }
    )
    table = Table.from_frame(df)
    assert table["a"].tolist() == ["x", None, None, None]
    assert table["s"].tolist() == ["x", None, "y", None]
    assert table["p"].tolist() == ["x", None, "y", None]
    assert table.kind("t") == "datetime" and table.null_mask("t").tolist() == [False, True, True, True]  # type: ignore[union-attr]
    assert table["n"].tolist() == [1, None, 3, None]
    assert table.kind("cat") == "int" and table["cat"].tolist() == [1, None, 2, 1]


def test_naive_frame_datetimes_need_tz() -> None:
    wall = [datetime(2024, 3, 10, 2, 30), datetime(2024, 7, 1)]
    frames = [
        pd.DataFrame({"t": pd.Series(wall, dtype="datetime64[ns]")}),
        pl.DataFrame({"t": pl.Series(wall, dtype=pl.Datetime("us"))}),
        pa.table({"t": pa.array(wall, type=pa.timestamp("s"))}),
    ]
    expected = Table({"t": wall}, tz=NY)
    for frame in frames:
        with pytest.raises(
            DataError, match=r"column 't' holds (datetime64 values|datetimes) without a time zone"
        ):
            Table.from_frame(frame)
        assert Table.from_frame(frame, tz="America/New_York").equals(expected)


def test_nanoseconds_are_floored() -> None:
    stamps = pd.Series(pd.to_datetime(["1969-12-31 23:59:59.9999995"], utc=True)).astype(
        "datetime64[ns, UTC]"
    )
    table = Table.from_frame(pd.DataFrame({"t": stamps}))
    assert int(table["t"].view(np.int64)[0]) == -1
    arrow = pa.table({"t": pa.array([-1500], type=pa.timestamp("ns", tz="UTC"))})
    assert int(Table.from_frame(arrow)["t"].view(np.int64)[0]) == -2


def test_rename_mapping_and_sequence_and_missing_columns() -> None:
    df = pd.DataFrame({"Customer ID": [1, 2], "Spend": [1.0, 2.0]})
    table = Table.from_frame(df, columns={"customer_id": "Customer ID", "spend": "Spend"})
    assert table.columns == ("customer_id", "spend")
    assert table["customer_id"].tolist() == [1, 2]
    assert Table.from_frame(df, columns=["Spend"]).columns == ("Spend",)
    with pytest.raises(DataError, match=r"no column 'spend'; did you mean 'Spend'\?"):
        Table.from_frame(df, columns=["spend"])
    with pytest.raises(DataError, match=r"did you mean 'Spend'"):
        Table.from_frame(pl.from_pandas(df), columns={"s": "Spnd"})
    with pytest.raises(DataError, match=r"did you mean 'Spend'"):
        Table.from_frame(pa.Table.from_pandas(df), columns=["Spendd"])
    indexed = df.set_index("Customer ID")
    with pytest.raises(DataError, match=r"'Customer ID' is in the index: call frame.reset_index\(\) first"):
        Table.from_frame(indexed, columns=["Customer ID"])
    source = Table({"a": [1], "b": [2]})
    assert Table.from_frame(source, columns={"x": "b"}).to_dicts() == [{"x": 2}]


def test_frame_errors() -> None:
    with pytest.raises(DataError, match=r"column names must be non-empty strings, got 0"):
        Table.from_frame(pd.DataFrame([[1, 2]]))
    assert Table.from_frame(pd.DataFrame([[1, 2]]), columns={"a": 0}).to_dicts() == [{"a": 1}]
    with pytest.raises(DataError, match=r"2 columns named 'a'"):
        Table.from_frame(pd.DataFrame([[1, 2]], columns=["a", "a"]), columns=["a"])
    with pytest.raises(DataError, match=r"call .collect\(\) first"):
        Table.from_frame(pl.DataFrame({"a": [1]}).lazy())
    with pytest.raises(DataError, match=r"takes a pandas or polars DataFrame.*got builtins.tuple"):
        Table.from_frame((1, 2))
    with pytest.raises(DataError, match=r"columns= takes a list of names or a mapping"):
        Table.from_frame(pd.DataFrame({"a": [1]}), columns="a")


@pytest.mark.parametrize(
    ("frame", "dtype"),
    [
        (pd.DataFrame({"c": [1 + 1j]}), "complex128"),
        (pd.DataFrame({"c": pd.period_range("2024-01", periods=1, freq="M")}), "period"),
        (pl.DataFrame({"c": [{"x": 1}]}), "Struct"),
        (pl.DataFrame({"c": pl.Series([1], dtype=pl.Time)}), "Time"),
        (pl.DataFrame({"c": pl.Series([[1]], dtype=pl.List(pl.Int64))}), "List"),
        (pa.table({"c": pa.array([b"x"])}), "binary"),
        (pa.table({"c": pa.array([[1]], type=pa.list_(pa.int64()))}), "list<item: int64>"),
    ],
    ids=[
        "pandas-complex",
        "pandas-period",
        "polars-struct",
        "polars-time",
        "polars-list-int",
        "arrow-binary",
        "arrow-list-int",
    ],
)
def test_unsupported_frame_dtypes_name_column_and_dtype(frame: Any, dtype: str) -> None:
    with pytest.raises(DataError, match=rf"column 'c' has unsupported dtype .*{dtype}"):
        Table.from_frame(frame)


def test_uint64_overflow_from_frames() -> None:
    big = 2**64 - 1
    for frame in (
        pd.DataFrame({"n": pd.Series([1, big], dtype="uint64")}),
        pd.DataFrame({"n": pd.Series([None, big], dtype="UInt64")}),
        pl.DataFrame({"n": pl.Series([None, big], dtype=pl.UInt64)}),
        pa.table({"n": pa.array([None, big], type=pa.uint64())}),
    ):
        with pytest.raises(
            DataError, match=r"column 'n' row 1: 18446744073709551615 is outside the int64 range"
        ):
            Table.from_frame(frame)


def test_series_as_columns_and_more_arrow_types() -> None:
    table = Table(
        {
            "p": pd.Series([1, None], dtype="Int64"),
            "l": pl.Series([["a"], None]),
            "c": pa.chunked_array([pa.array(["x"]), pa.array([None], type=pa.string())]),
            "d": pa.array([date(2024, 1, 1), None], type=pa.date32()),
            "n": pa.nulls(2),
            "sv": pa.array(["a", None], type=pa.large_string()),
        }
    )
    assert table.to_dicts() == [
        {"p": 1, "l": ("a",), "c": "x", "d": date(2024, 1, 1), "n": None, "sv": "a"},
        {"p": None, "l": None, "c": None, "d": None, "n": None, "sv": None},
    ]
    with pytest.raises(DataError, match=r"must be a 1-D array, list or Series, got DataFrame"):
        normalize_column(pd.DataFrame({"a": [1]}), name="x")


@pytest.mark.parametrize(
    ("method", "module", "extra"),
    [("to_pandas", "pandas", "pandas"), ("to_polars", "polars", "polars"), ("to_arrow", "pyarrow", "arrow")],
)
def test_missing_library_is_a_config_error_naming_the_extra(
    method: str, module: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(ConfigError, match=rf"{method}\(\) needs {module}: pip install 'user_ops\[{extra}\]'"):
        getattr(Table({"a": [1]}), method)()


def test_import_user_ops_does_not_import_frame_libraries() -> None:
    code = (
        "import sys, user_ops\n"
        "t = user_ops.Table({'a': [1]})\n"
        "heavy = ('pandas', 'polars', 'pyarrow', 'user_ops._frames')\n"
        "loaded = sorted(m for m in heavy if m in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_pandas_pyarrow_backed_strings_in_several_chunks() -> None:
    pa = pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    chunked = pd.arrays.ArrowStringArray(pa.chunked_array([["北京", "上海"], [None, "北京"]]))
    table = Table.from_frame(pd.DataFrame({"city": pd.Series(chunked)}))
    assert table.kind("city") == "str"
    assert table["city"].tolist() == ["北京", "上海", None, "北京"]


# -- values the columns cannot hold ------------------------------------------------------------------
# timedelta64[us] and datetime64[us] hold +-(2**63 - 1) microseconds; -2**63 is NaT. A unit conversion
# on the way (seconds to microseconds) used to wrap around silently: 2**62 s became 0.
_BIG_S = 2**62  # seconds: far beyond 2**63 microseconds


@pytest.mark.parametrize(
    ("values", "row"),
    [
        ([timedelta(0), timedelta(days=999_999_999)], 1),
        ([None, timedelta(days=-999_999_999)], 1),
        ([timedelta(microseconds=2**63)], 0),
        ([timedelta(microseconds=-(2**63))], 0),  # the NaT bit pattern
    ],
)
def test_durations_beyond_timedelta64_us_are_refused(values: list[Any], row: int) -> None:
    with pytest.raises(DataError, match=rf"column 'du' row {row}: .* outside the range of a duration column"):
        Table({"du": values})
    with pytest.raises(DataError, match=rf"column 'du' row {row}"):
        Table.from_records([{"du": v} for v in values])


def test_the_longest_durations_a_column_holds_are_kept_exactly() -> None:
    longest = timedelta(microseconds=2**63 - 1)
    column = Table({"du": [longest, -longest, None]})["du"]
    assert column.view(np.int64)[:2].tolist() == [2**63 - 1, -(2**63 - 1)]
    assert np.isnat(column).tolist() == [False, False, True]


@pytest.mark.parametrize(
    ("array", "tz"),
    [
        (np.array([0, _BIG_S], dtype="timedelta64[s]"), None),
        (np.array([-(2**61)], dtype="timedelta64[ms]"), None),
        (np.array(["NaT", _BIG_S], dtype="timedelta64[D]"), None),
        (np.array([0, _BIG_S], dtype="datetime64[s]"), "UTC"),
        (np.array([_BIG_S], dtype="datetime64[m]"), "UTC"),
        (np.array([0, 10**17], dtype="datetime64[Y]"), None),
    ],
    ids=["td-s", "td-ms", "td-D-with-NaT", "dt-s", "dt-m", "date-Y"],
)
def test_numpy_values_beyond_the_microsecond_range_are_refused(array: np.ndarray[Any, Any], tz: Any) -> None:
    row = int(np.flatnonzero(~np.isnat(array) & (array.view(np.int64) != 0))[0])
    with pytest.raises(DataError, match=rf"column 'x' row {row}: .* outside the range"):
        Table({"x": array}, tz=tz)


def test_numpy_nat_and_in_range_coarse_units_still_convert() -> None:
    table = Table(
        {
            "du": np.array(["NaT", 2**40], dtype="timedelta64[s]"),
            "t": np.array(["NaT", "2024-06-30T08:00"], dtype="datetime64[s]"),
        },
        tz="UTC",
    )
    assert table["du"].view(np.int64)[1] == 2**40 * 10**6
    assert table.null_mask("du").tolist() == [True, False]
    assert table["t"][1] == np.datetime64("2024-06-30T08:00", "us")


def test_pandas_nat_in_records_and_lists_is_a_null() -> None:
    instant = datetime(2024, 6, 30, tzinfo=timezone.utc)
    table = Table.from_records([{"t": pd.NaT, "du": pd.NaT}, {"t": instant, "du": timedelta(hours=1)}])
    assert table.kind("t") == "datetime" and table.kind("du") == "duration"
    assert table.to_dicts() == [{"t": None, "du": None}, {"t": instant, "du": timedelta(hours=1)}]
    assert Table({"t": [pd.NaT, pd.NaT]}).kind("t") == "null"
    assert Table({"t": [pd.Timestamp("2024-06-30", tz="UTC"), pd.NaT]}).null_mask("t").tolist() == [
        False,
        True,
    ]


@pytest.mark.parametrize(
    "make",
    [
        lambda: pa.table({"x": pa.array([0, _BIG_S], pa.duration("s"))}),
        lambda: pa.table({"x": pa.array([None, _BIG_S], pa.timestamp("s", tz="UTC"))}),
        lambda: pa.table({"x": pa.array([0, _BIG_S], pa.timestamp("ms"))}),
        lambda: pl.DataFrame({"x": pl.Series([0, _BIG_S // 10], dtype=pl.Int64).cast(pl.Duration("ms"))}),
        lambda: pl.DataFrame(
            {"x": pl.Series([0, _BIG_S // 10], dtype=pl.Int64).cast(pl.Datetime("ms", "UTC"))}
        ),
        lambda: pd.DataFrame({"x": pd.Series(np.array([0, _BIG_S], dtype="timedelta64[s]"))}),
        lambda: pd.DataFrame({"x": pd.Series(np.array([0, _BIG_S], dtype="datetime64[s]"))}),
        lambda: pd.DataFrame(
            {"x": pd.Series(np.array([0, _BIG_S], dtype="datetime64[s]")).dt.tz_localize("UTC")}
        ),
    ],
    ids=[
        "arrow-dur",
        "arrow-ts-utc",
        "arrow-ts-naive",
        "polars-dur",
        "polars-dt",
        "pandas-td",
        "pandas-dt",
        "pandas-dt-utc",
    ],
)
def test_frame_values_beyond_the_microsecond_range_are_refused(make: Any) -> None:
    with pytest.raises(DataError, match=r"column 'x' row 1: .* outside the range"):
        Table.from_frame(make(), tz="UTC")

"""What rules mean: built-ins, boundaries, nulls, decimals, explanations and every bad-input rule.

Each case is checked in both paths (``evaluate_one`` and ``evaluate``) by ``both``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from user_ops import DataError, Rule, RuleSyntaxError, RuleTypeError, Schema, Table
from user_ops.rules import CallNode, CmpNode, FieldNode, IntLit, NullLit, functions

UTC = timezone.utc
SHANGHAI = ZoneInfo("Asia/Shanghai")
AS_OF = datetime(2024, 6, 30, 12, tzinfo=UTC)


def both(text: str, record: dict[str, Any], *, as_of: datetime = AS_OF, tz: Any = None) -> bool | None:
    """The three-valued answer, after checking that both paths give it."""
    rule = Rule.parse(text)
    one = rule.value_one(record, as_of=as_of, tz=tz)
    row = {**record, "_row": 0}  # a table needs a column to have a row, even when the rule reads none
    values, unknown = rule.values(Table.from_records([row]), as_of=as_of, tz=tz)
    batch = None if unknown[0] else bool(values[0])
    assert one is batch, (text, record, one, batch)
    return one


@pytest.mark.parametrize(
    ("text", "record", "expected"),
    [
        ("days_since(t) == 1", {"t": datetime(2024, 6, 29, 23, 59, tzinfo=UTC)}, True),
        ("days_since(t) == 0", {"t": datetime(2024, 6, 30, 0, 0, tzinfo=UTC)}, True),
        ("days_since(d) == 30", {"d": date(2024, 5, 31)}, True),
        ("days_between(a, b) == 2", {"a": date(2024, 2, 28), "b": date(2024, 3, 1)}, True),
        ("t within 30d", {"t": datetime(2024, 5, 31, 12, tzinfo=UTC)}, True),  # the window's first instant
        ("t within 30d", {"t": datetime(2024, 5, 31, 11, 59, 59, tzinfo=UTC)}, False),
        ("t within 30d", {"t": AS_OF}, False),  # half-open: as_of itself is outside
        ("t within 30d", {"t": AS_OF - timedelta(microseconds=1)}, True),
        ("d within 30d", {"d": date(2024, 6, 30)}, True),  # today counts for dates
        ("d within 30d", {"d": date(2024, 5, 31)}, True),
        ("d within 30d", {"d": date(2024, 5, 30)}, False),
        ("t within 1mo", {"t": datetime(2024, 5, 30, 12, tzinfo=UTC)}, True),
        ("t within 1mo", {"t": datetime(2024, 5, 30, 11, tzinfo=UTC)}, False),
        ("t within 12h", {"t": datetime(2024, 6, 30, 0, tzinfo=UTC)}, True),
        ("now() > t", {"t": datetime(2024, 6, 30, tzinfo=UTC)}, True),
        ("today() == 2024-06-30", {}, True),
        ("t + 1h == 2024-06-30T13:00:00Z", {"t": AS_OF}, True),
        ("d + 2w == 2024-07-14", {"d": date(2024, 6, 30)}, True),
        ("month(t) == 7 and day(t) == 1", {"t": datetime(2024, 6, 30, 23, tzinfo=UTC)}, False),
        ('month(t, "Asia/Shanghai") == 7', {"t": datetime(2024, 6, 30, 23, tzinfo=UTC)}, True),
        ("weekday(d) == 7", {"d": date(2024, 6, 30)}, True),  # a Sunday
        ('hour(t, "America/New_York") == 8', {"t": AS_OF}, True),
        ("year(d) == 2024", {"d": date(2024, 1, 1)}, True),
        ('lower(s) == "strasse"', {"s": "STRASSE"}, True),
        ('upper(s) == "SS"', {"s": "ß"}, True),
        ("len(s) == 2", {"s": "北京"}, True),
        ("len(tags) == 3", {"tags": ["a", "b", "c"]}, True),
        ('tags contains "vip"', {"tags": ["vip"]}, True),
        ('s contains "@qq"', {"s": "a@qq.com"}, True),
        ('"vip" in tags', {"tags": ("x", "vip")}, True),
        ('any_of(tags, ["a", "z"])', {"tags": ["z"]}, True),
        ('all_of(tags, ["a", "z"])', {"tags": ["z"]}, False),
        ("all_of(tags, [])", {"tags": []}, True),
        ("abs(x) == 3", {"x": -3}, True),
        ("max(a, b) == 5.5", {"a": 5.5, "b": 2}, True),
        ("min(a, b) == 2", {"a": 5.5, "b": 2}, True),
        ("coalesce(a, b, 0) == 7", {"a": None, "b": 7}, True),
        ("7 / 2 == 3.5", {}, True),
        ("-7 % 2 == 1", {}, True),
        ("d % 2 == 1", {"d": Decimal("-7")}, True),  # floored for decimals too
        ("a + b == 0.3", {"a": Decimal("0.1"), "b": Decimal("0.2")}, True),  # exact decimals
        ("a + b == 0.3", {"a": 0.1, "b": 0.2}, False),  # floats are floats
        ("i > 2.5", {"i": 3}, True),
        ("i == 3.0", {"i": 3}, True),
        ("x / 0 > 1", {"x": 5}, None),  # division by zero is null
        ("x % 0 == 0", {"x": 5}, None),
        ("x > 1", {"x": float("nan")}, None),  # NaN is null
        ("x is null", {"x": float("nan")}, True),
        ("x in [1, 2]", {"x": None}, None),
        ("x in [1, null]", {"x": 3}, None),
        ("x in [1, null]", {"x": 1}, True),
        ("x not in [1, 2]", {"x": 3}, True),
        ("x in []", {"x": None}, False),
        ("x not in []", {"x": None}, True),
        ("d == 2024-06-30", {"d": date(2024, 6, 30)}, True),
        ("t >= 2024-06-30", {"t": datetime(2024, 6, 30, 0, tzinfo=UTC)}, True),  # midnight of the date
        ("t >= 2024-06-30", {"t": datetime(2024, 6, 29, 23, 59, tzinfo=UTC)}, False),
        ("b == true", {"b": True}, True),
        ("x > 1 or true", {"x": None}, True),
        ("x > 1 and false", {"x": None}, False),
        ("`order count` >= 2", {"order count": 3}, True),
        ('profile.city == "上海"', {"profile": {"city": "上海"}}, True),
    ],
)
def test_meaning(text: str, record: dict[str, Any], expected: bool | None) -> None:
    if "profile." in text:  # a nested mapping has no batch form: check the scalar path only
        assert Rule.parse(text).value_one(record, as_of=AS_OF) is expected
        return
    assert both(text, record) is expected


def test_business_time_zone_decides_calendar_days() -> None:
    record = {"t": datetime(2024, 6, 29, 17, tzinfo=UTC)}  # 01:00 on 30 June in Shanghai
    assert both("days_since(t) == 1", record) is True
    assert both("days_since(t) == 0", record, tz="Asia/Shanghai") is True
    assert both("days_since(t) == 0", record, as_of=AS_OF.astimezone(SHANGHAI)) is True


def test_a_date_meets_a_datetime_at_local_midnight() -> None:
    record = {"t": datetime(2024, 6, 29, 16, tzinfo=UTC)}  # midnight of 30 June in Shanghai
    assert both("t >= 2024-06-30", record, tz="Asia/Shanghai") is True
    assert both("t >= 2024-06-30", record) is False


def test_schema_makes_missing_keys_null_and_checks_values() -> None:
    rule = Rule.parse("orders >= 3", schema={"orders": "int"})
    assert rule.value_one({}, as_of=AS_OF) is None
    with pytest.raises(DataError, match="should be int but holds str"):
        rule.evaluate_one({"orders": "3"}, as_of=AS_OF)
    with pytest.raises(DataError, match="holds str values but the rule's schema says int"):
        rule.evaluate({"orders": ["3"]}, as_of=AS_OF)
    assert rule.evaluate({"orders": [5, None]}, as_of=AS_OF).tolist() == [True, False]


# -- bad input ----------------------------------------------------------------------------------------
def test_naive_as_of_is_rejected_in_both_paths() -> None:
    rule = Rule.parse("x > 1")
    with pytest.raises(DataError, match="naive"):
        rule.evaluate_one({"x": 2}, as_of=datetime(2024, 6, 30))
    with pytest.raises(DataError, match="naive"):
        rule.evaluate({"x": [2]}, as_of=datetime(2024, 6, 30))
    with pytest.raises(DataError, match="timezone-aware datetime"):
        rule.evaluate_one({"x": 2}, as_of="2024-06-30")  # type: ignore[arg-type]


def test_missing_field_in_a_record_is_named_with_a_suggestion() -> None:
    with pytest.raises(DataError, match=r"no field 'orders_90d' \(did you mean 'orders_09d'\?\)"):
        Rule.parse("orders_90d >= 3").evaluate_one({"orders_09d": 1}, as_of=AS_OF)


def test_unknown_column_in_a_table_is_a_type_error_with_a_caret() -> None:
    with pytest.raises(RuleTypeError, match="did you mean 'spend_90d'") as caught:
        Rule.parse("orders >= 1 and spend_09d > 10").evaluate(
            {"orders": [1], "spend_90d": [1.0]}, as_of=AS_OF
        )
    assert caught.value.column == 17
    assert "^^^^^^^^^" in str(caught.value)


def test_record_must_be_a_mapping() -> None:
    with pytest.raises(DataError, match="must be a mapping"):
        Rule.parse("x > 1").evaluate_one([("x", 2)], as_of=AS_OF)  # type: ignore[arg-type]


def test_naive_datetime_in_a_record_is_rejected() -> None:
    with pytest.raises(DataError, match="naive datetime"):
        Rule.parse("t within 30d").evaluate_one({"t": datetime(2024, 6, 1)}, as_of=AS_OF)


def test_unsupported_value_in_a_record_is_named() -> None:
    with pytest.raises(DataError, match="unsupported value"):
        Rule.parse("x > 1").evaluate_one({"x": object()}, as_of=AS_OF)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("city >= 3", "cannot compare str with int"),
        ("flag < true", "not ordered"),
        ("orders + city > 1", "cannot apply \\+ to int and str"),
        ("orders", "must be a condition"),
        ("days_since(city) > 1", "argument 1 of days_since\\(\\) must be date or datetime, got str"),
        ("lower(city, city) == 'a'", "takes 1 argument"),
        ("nope(orders) > 1", "unknown function nope"),
        ("lowr(city) == 'a'", "did you mean lower"),
        ('hour(t, "Mars/Base") > 1', "unknown time zone"),
        ("t within city", "must be a duration literal|must be date or datetime|must be a literal"),
        ("t + 1d > now()", "calendar days or months"),
        ("orders > 3mo", "calendar months"),
        ("not orders", "expected a condition"),
        ("orders in tags", "cannot hold a int"),
        ('any_of(tags, ["a", 1])', "list literal of strings"),
        ("t in [2024-01-01]", "mixing dates and datetimes|ambiguous"),
    ],
)
def test_type_errors_are_clear(text: str, message: str) -> None:
    schema = Schema({"city": "str", "orders": "int", "flag": "bool", "t": "datetime", "tags": "list[str]"})
    with pytest.raises(RuleTypeError, match=message):
        Rule.parse(text, schema=schema)


@pytest.mark.parametrize(
    ("text", "hint", "column", "end_column"),
    [
        ("x == null", "write `x is null`", 1, 10),
        ("x != null", "write `x is not null`", 1, 10),
        ("null = x", "write `x is null`", 1, 9),
        ("a > 1 and lower(s) <> NULL", "write `lower(s) is not null`", 11, 27),
        ("x < null", "`x is null` or `x is not null`", 1, 9),
        ("null >= null", "is null", 1, 13),
    ],
)
def test_comparing_with_null_is_refused_when_parsed(
    text: str, hint: str, column: int, end_column: int
) -> None:
    # A comparison with null is unknown whatever x holds, so the rule could never match.
    with pytest.raises(RuleSyntaxError) as caught:
        Rule.parse(text)
    assert hint in caught.value.message
    assert "never" in caught.value.message
    assert (caught.value.line, caught.value.column, caught.value.end_column) == (1, column, end_column)


def test_comparing_with_null_is_refused_in_json_and_built_asts() -> None:
    doc = {
        "kind": "and",
        "items": [
            {"kind": "bool", "value": True},
            {"kind": "cmp", "op": "==", "left": {"kind": "field", "name": "x"}, "right": {"kind": "null"}},
        ],
    }
    with pytest.raises(RuleSyntaxError, match="write `x is null`") as caught:
        Rule.from_json(doc)
    assert caught.value.path == "$.items[1]"
    with pytest.raises(RuleSyntaxError, match="write `x is not null`"):
        Rule(CmpNode(op="!=", left=FieldNode(name="x"), right=NullLit()))


def test_jsonlogic_equality_with_null_is_a_null_test_and_ordering_with_null_is_refused() -> None:
    # JsonLogic's == is JavaScript equality, for which `x == null` is the null test.
    rule = Rule.from_jsonlogic({"==": [{"var": "x"}, None]})
    assert rule.to_text() == "x is null"
    assert rule.evaluate_one({"x": None}, as_of=AS_OF) is True
    assert Rule.from_jsonlogic({"!==": [None, {"var": "x"}]}).to_text() == "x is not null"
    # JavaScript would coerce null to 0 here; user_ops does not coerce, and would never match.
    with pytest.raises(RuleSyntaxError, match="never match") as caught:
        Rule.from_jsonlogic({"and": [True, {"<": [{"var": "x"}, None]}]})
    assert caught.value.path == "$.and[1]"


def test_unknown_functions_fail_when_parsed_with_a_hint_about_plugins() -> None:
    with pytest.raises(RuleTypeError, match=r"unknown function nope\(\)") as caught:
        Rule.parse("x > 1 and nope(x) > 1")
    assert "register" in caught.value.message
    assert (caught.value.column, caught.value.end_column) == (11, 18)
    with pytest.raises(RuleTypeError, match="did you mean lower"):
        Rule.parse("lowr(city) == 'a'")
    with pytest.raises(RuleTypeError, match="unknown function") as caught:
        Rule.from_json({"kind": "call", "fn": "nope", "args": []})
    assert caught.value.path == "$"
    with pytest.raises(RuleTypeError, match="unknown function"):
        Rule(CmpNode(op=">", left=CallNode(fn="nope", args=(FieldNode(name="x"),)), right=IntLit(value=1)))


def test_type_error_in_json_rule_has_a_path() -> None:
    doc = {
        "kind": "and",
        "items": [
            {
                "kind": "cmp",
                "op": ">",
                "left": {"kind": "field", "name": "city"},
                "right": {"kind": "int", "value": 1},
            }
        ],
    }
    with pytest.raises(RuleTypeError) as caught:
        Rule.from_json(doc, schema={"city": "str"})
    assert caught.value.path == "$.items[0]"


def test_tag_columns_are_checked() -> None:
    with pytest.raises(DataError, match="boolean array of length 2"):
        Rule.parse('has_tag("a")').evaluate({"x": [1, 2]}, as_of=AS_OF, tags={"a": [True]})


# -- explanations -------------------------------------------------------------------------------------
def test_explain_one_marks_unknown_leaves_too() -> None:
    rule = Rule.parse("orders >= 3 and (city == '北京' or spend > 100)")
    why = rule.explain_one({"orders": 5, "city": "上海", "spend": None}, as_of=AS_OF)
    assert why.result is None and not why.matched
    assert [c.text for c in why.culprits] == ['city == "北京"', "spend > 100"]
    assert "spend > 100 → unknown (spend = null)" in str(why)
    assert why.to_dict()["root"]["children"][1]["value"] == "unknown"
    assert "<ul" in why._repr_html_() and "color:#b00020" in why._repr_html_()


def test_explain_one_through_not_blames_the_leaf_that_was_true() -> None:
    why = Rule.parse("not (vip or spend > 100)").explain_one({"vip": False, "spend": 500.0}, as_of=AS_OF)
    assert [c.text for c in why.culprits] == ["spend > 100"]


def test_population_explanation_counts() -> None:
    rule = Rule.parse("a > 0 and b > 0")
    report = rule.explain({"a": [1, 1, 0, 0, None], "b": [1, 0, 1, 0, 1]}, as_of=AS_OF)
    root, left, right = report.root, report.root.children[0], report.root.children[1]
    assert (root.true, root.false, root.unknown) == (1, 3, 1)  # null and true is unknown
    assert (left.true, left.false, left.unknown) == (2, 2, 1)
    assert (left.only, right.only) == (2, 1)  # rows 2 and 4 fail only a > 0; row 1 fails only b > 0
    assert report.matched == 1 and "1 of 5 rows matched" in str(report)


def test_functions_are_listed_with_descriptions() -> None:
    listing = functions()
    assert {"days_since", "within", "contains", "coalesce", "has_tag"} <= set(listing)
    assert all(listing.values())


def test_rule_protocols() -> None:
    import pickle

    rule = Rule.parse("x > 1", schema={"x": "int"})
    assert pickle.loads(pickle.dumps(rule)) == rule
    assert hash(Rule.parse("x > 1")) == hash(Rule.parse("x  >  1"))
    assert repr(rule) == "Rule('x > 1')" and str(rule) == "x > 1"
    assert "<code" in rule._repr_html_()
    assert rule.fields == ("x",)
    assert np.array_equal(rule.evaluate([{"x": 2}, {"x": 0}], as_of=AS_OF), [True, False])


def test_repeated_evaluation_does_not_grow_the_tables_cache() -> None:
    table = Table({"tags": [["a"], None, ["b"]], "other": [["x"], ["a"], None]})
    rule = Rule.parse('coalesce(tags, other) contains "a" or tags contains "b"')
    first = rule.evaluate(table, as_of=AS_OF).tolist()
    size = len(table._cache)
    for _ in range(5):
        assert rule.evaluate(table, as_of=AS_OF).tolist() == first == [True, True, True]
    assert len(table._cache) == size


def test_batch_results_are_the_callers_own_arrays() -> None:
    table = Table({"vip": [True, False], "x": [1, 2]})
    for text in ("vip", "true", "x > 0", "x > 0 and vip"):
        result = Rule.parse(text).evaluate(table, as_of=AS_OF)
        result[:] = False  # writable, and writing to it leaves the table alone
    assert table["vip"].tolist() == [True, False]
    assert Rule.parse("vip").evaluate(table, as_of=AS_OF).tolist() == [True, False]


# -- edges of the time and decimal ranges: both paths give the same answer or the same error -----------
def both_raise(text: str, records: list[dict[str, Any]], match: str) -> None:
    """Each record raises DataError in the scalar path, and the table of them in the batch path."""
    rule = Rule.parse(text)
    for record in records:
        with pytest.raises(DataError, match=match):
            rule.value_one(record, as_of=AS_OF)
    with pytest.raises(DataError, match=match):
        rule.values(Table.from_records(records), as_of=AS_OF)


def test_a_duration_no_column_can_hold_is_refused_in_a_record_too() -> None:
    # timedelta64[us] stops at 2**63 - 1 microseconds (about 106,751,991 days).
    both_raise("du > 0s", [{"du": timedelta(days=999_999_999)}], "'du'.*outside the range")
    both_raise("du < 0s", [{"du": timedelta(days=-106_751_992)}], "'du'.*outside the range")
    longest = timedelta(microseconds=2**63 - 1)
    assert both("du > 0s", {"du": longest}) is True
    assert both("du < 0s", {"du": -longest}) is True


def test_pandas_nat_in_a_record_is_a_null() -> None:
    import pandas as pd

    assert both("t is null", {"t": pd.NaT}) is True
    assert both("t > 2024-01-01T00:00Z", {"t": pd.NaT}) is None
    assert both("days_since(t) > 3", {"t": pd.NaT}) is None
    assert Rule.parse("du > 1h").value_one({"du": pd.NaT}, as_of=AS_OF) is None


@pytest.mark.parametrize(
    ("text", "record"),
    [
        ("d + 1d > d", {"d": date(9999, 12, 31)}),
        ("d - 2w < d", {"d": date(1, 1, 10)}),
        ("t + 1h > t", {"t": datetime(9999, 12, 31, 23, 30, tzinfo=UTC)}),
        ("t - 1h < t", {"t": datetime(1, 1, 1, 0, 30, tzinfo=UTC)}),
        # Within range on its own clock, but 9999-12-31 22:00 UTC + 2h leaves year 9999.
        ("t + 2h > t", {"t": datetime(9999, 12, 31, 17, tzinfo=timezone(timedelta(hours=-5)))}),
    ],
)
def test_date_and_time_arithmetic_leaving_years_1_to_9999_is_null_in_both_paths(
    text: str, record: dict[str, Any]
) -> None:
    # No date or instant exists there: unknown, like a division by zero (it used to crash one path).
    assert both(text, record) is None
    assert (
        both(text.split(" ", maxsplit=1)[0] + " " + " ".join(text.split(" ")[1:3]) + " is null", record)
        is True
    )


def test_date_and_time_arithmetic_up_to_the_edges_agrees() -> None:
    assert both("d + 1d == 9999-12-31", {"d": date(9999, 12, 30)}) is True
    assert both("d - 1d == 0001-01-01", {"d": date(1, 1, 2)}) is True
    assert both("t + 1h > t", {"t": datetime(9999, 12, 31, 22, 59, tzinfo=UTC)}) is True
    # 23:00 in Shanghai is 15:00 UTC: two hours later is still in 9999 in UTC, though not on its clock.
    assert both("t + 2h > t", {"t": datetime(9999, 12, 31, 23, tzinfo=SHANGHAI)}) is True


def test_decimal_nan_is_a_null_in_both_paths_and_infinity_an_error_in_both() -> None:
    assert both("x > 1", {"x": Decimal("NaN")}) is None
    assert both("x is null", {"x": Decimal("NaN")}) is True
    assert both("x is null", {"x": Decimal("sNaN")}) is True
    both_raise("x > 1", [{"x": Decimal("Infinity")}], "non-finite decimal")
    both_raise("x > 1", [{"x": Decimal("-Infinity")}], "non-finite decimal")
    with pytest.raises(DataError, match="row 1: non-finite decimal"):  # a null beside it hid it
        Rule.parse("x > 1").values({"x": [None, Decimal("-Infinity")]}, as_of=AS_OF)


@pytest.mark.parametrize(
    ("text", "record"),
    [
        ("i == 0 or d == i + 3", {"i": 2**63 - 1, "d": None}),  # found by hypothesis
        ("i == 0 or d == i + 3", {"i": 2**63 - 1, "d": 5}),
        ("i == 0 or (i + 3) * d > 1", {"i": 2**63 - 1, "d": None}),
        ("i == 0 or i + 3 in []", {"i": 2**63 - 1}),
    ],
)
def test_an_operand_that_overflows_raises_in_both_paths_whatever_the_other_operand(
    text: str, record: dict[str, Any]
) -> None:
    # The batch path evaluates every operand of every row; the scalar path used to skip the right
    # operand once the left was null, so the same row raised in one path and was unknown in the other.
    rule = Rule.parse(text)
    with pytest.raises(DataError, match="integer overflow"):
        rule.evaluate_one(record, as_of=AS_OF)
    with pytest.raises(DataError, match="integer overflow"):
        rule.evaluate({name: [value] for name, value in record.items()}, as_of=AS_OF)

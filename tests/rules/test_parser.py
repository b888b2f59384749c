"""The text form of the rule language: parse_text (user_ops.rules._parser)."""

from __future__ import annotations

import inspect
import sys
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from user_ops import Rule, RuleError, RuleLimitError, RuleSyntaxError
from user_ops.rules._ast import (
    AndNode,
    ArithNode,
    BoolLit,
    CallNode,
    CmpNode,
    DateLit,
    DateTimeLit,
    DecimalLit,
    DurationLit,
    FieldNode,
    InNode,
    IntLit,
    IsNullNode,
    ListLit,
    NegNode,
    Node,
    NotNode,
    NullLit,
    OrNode,
    StrLit,
)
from user_ops.rules._limits import DEFAULT_LIMITS, Limits
from user_ops.rules._parser import Parsed, line_col, parse_text, syntax_error
from user_ops.rules._printer import to_text

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_parse_worst

from .strategies import ast_size, nodes, walk

# ----------------------------------------------------------------------------------------- helpers


def f(name: str) -> FieldNode:
    return FieldNode(name=name)


def i(value: int) -> IntLit:
    return IntLit(value=value)


def d(value: str) -> DecimalLit:
    return DecimalLit(value=Decimal(value))


def s(value: str) -> StrLit:
    return StrLit(value=value)


def cmp(left: Node, op: str, right: Node) -> CmpNode:
    return CmpNode(op=op, left=left, right=right)


def arith(left: Node, op: str, right: Node) -> ArithNode:
    return ArithNode(op=op, left=left, right=right)


def parse(text: str, **limits: int) -> Node:
    return parse_text(text, limits=Limits(**limits)).node


def span_text(text: str, parsed: Parsed, node: Node) -> str:
    start, end = parsed.spans[id(node)]
    return text[start:end]


# ----------------------------------------------------------------------------------------- examples

EXAMPLES: list[tuple[str, Node]] = [
    (
        "orders_90d >= 3 and spend_90d > 1000",
        AndNode(items=(cmp(f("orders_90d"), ">=", i(3)), cmp(f("spend_90d"), ">", i(1000)))),
    ),
    (
        'city in ["北京", "上海"] or days_since(last_order_at) > 60',
        OrNode(
            items=(
                InNode(item=f("city"), values=ListLit(items=(s("北京"), s("上海")))),
                cmp(CallNode(fn="days_since", args=(f("last_order_at"),)), ">", i(60)),
            )
        ),
    ),
    ("joined_at within 30d", CallNode(fn="within", args=(f("joined_at"), DurationLit(value="30d")))),
    ('tags contains "vip"', CallNode(fn="contains", args=(f("tags"), s("vip")))),
    ("coupon_count is null", IsNullNode(item=f("coupon_count"))),
    ("coupon_count is not null", IsNullNode(item=f("coupon_count"), negated=True)),
    ("not (a == b)", NotNode(item=cmp(f("a"), "==", f("b")))),
    ("not a == b", NotNode(item=cmp(f("a"), "==", f("b")))),
    ("not not x", NotNode(item=NotNode(item=f("x")))),
    ("city not in ['x']", InNode(item=f("city"), values=ListLit(items=(s("x"),)), negated=True)),
    ("x in other_list", InNode(item=f("x"), values=f("other_list"))),
    ("user.profile.level >= 2", cmp(f("user.profile.level"), ">=", i(2))),
    ("消费金额 > 100.5", cmp(f("消费金额"), ">", d("100.5"))),
    ("`order count` = 1", cmp(f("order count"), "==", i(1))),
    ("`a\\`b` <> 1", cmp(f("a`b"), "!=", i(1))),
    ("f()", CallNode(fn="f")),
    ("coalesce(a, 0, -1.5)", CallNode(fn="coalesce", args=(f("a"), i(0), d("-1.5")))),
    ("geo.distance(a, b) < 3", cmp(CallNode(fn="geo.distance", args=(f("a"), f("b"))), "<", i(3))),
    ("`my plugin`(x)", CallNode(fn="my plugin", args=(f("x"),))),
    ("`contains`(x)", CallNode(fn="contains", args=(f("x"),))),
    ("and(a)", AndNode(items=(f("a"),))),
    ("OR(a, b)", OrNode(items=(f("a"), f("b")))),
    ("a and (b and c)", AndNode(items=(f("a"), AndNode(items=(f("b"), f("c")))))),
    ("(a and b) and c", AndNode(items=(AndNode(items=(f("a"), f("b"))), f("c")))),
    ("a or b and c", OrNode(items=(f("a"), AndNode(items=(f("b"), f("c")))))),
    ("(a or b) and c", AndNode(items=(OrNode(items=(f("a"), f("b"))), f("c")))),
    ("not a and b", AndNode(items=(NotNode(item=f("a")), f("b")))),
    ("a + b * c", arith(f("a"), "+", arith(f("b"), "*", f("c")))),
    ("(a + b) * c", arith(arith(f("a"), "+", f("b")), "*", f("c"))),
    ("a - b - c", arith(arith(f("a"), "-", f("b")), "-", f("c"))),
    ("a - (b - c)", arith(f("a"), "-", arith(f("b"), "-", f("c")))),
    ("a / b % c", arith(arith(f("a"), "/", f("b")), "%", f("c"))),
    ("-a * b", arith(NegNode(item=f("a")), "*", f("b"))),
    ("a * -b", arith(f("a"), "*", NegNode(item=f("b")))),
    ("-3 * a", arith(i(-3), "*", f("a"))),
    ("a-3", arith(f("a"), "-", i(3))),
    ("a - -3", arith(f("a"), "-", i(-3))),
    ("- 3", NegNode(item=i(3))),
    ("-(3)", NegNode(item=i(3))),
    ("- -3", NegNode(item=i(-3))),
    ("-x", NegNode(item=f("x"))),
    ("a + b < c * d", cmp(arith(f("a"), "+", f("b")), "<", arith(f("c"), "*", f("d")))),
    ("(a < b) == true", cmp(cmp(f("a"), "<", f("b")), "==", BoolLit(value=True))),
    ("x == null", cmp(f("x"), "==", NullLit())),
]


@pytest.mark.parametrize(("text", "expected"), EXAMPLES, ids=[text for text, _ in EXAMPLES])
def test_examples_parse_to_the_expected_ast(text: str, expected: Node) -> None:
    assert parse_text(text).node == expected


def test_keywords_are_case_insensitive() -> None:
    upper = parse_text("x IS NOT NULL AND y NOT IN [1, TRUE, NULL] OR NOT z CONTAINS 'a' Or w WITHIN 2w")
    lower = parse_text("x is not null and y not in [1, true, null] or not z contains 'a' or w within 2w")
    assert upper.node == lower.node
    assert isinstance(upper.node, OrNode)
    assert len(upper.node.items) == 3
    assert (
        to_text(upper.node)
        == 'x is not null and y not in [1, true, null] or not z contains "a" or w within 2w'
    )


def test_a_backquoted_name_is_one_field_even_with_dots_and_keywords() -> None:
    assert parse("`a.in` == 1") == cmp(f("a.in"), "==", i(1))
    assert parse("`contains`") == f("contains")


def test_whitespace_and_newlines_separate_tokens() -> None:
    text = "\n\t orders_90d\n>=\r\n3\u3000and\u00a0b"
    assert parse(text) == AndNode(items=(cmp(f("orders_90d"), ">=", i(3)), f("b")))


def test_a_long_or_chain_is_flat() -> None:
    node = parse(" or ".join(f"a == {n}" for n in range(50)))
    assert isinstance(node, OrNode)
    assert len(node.items) == 50
    assert node.items[49] == cmp(f("a"), "==", i(49))


# ----------------------------------------------------------------------------------------- literals

LITERALS: list[tuple[str, Node]] = [
    ("0", i(0)),
    ("007", i(7)),
    ("9223372036854775807", i(2**63 - 1)),
    ("-9223372036854775808", i(-(2**63))),
    ("1000.50", d("1000.50")),
    ("-0.5", d("-0.5")),
    ("1e3", d("1E+3")),
    ("1.5E-7", d("1.5E-7")),
    ("2e+10", d("2E+10")),
    ("1e1000", d("1E+1000")),
    ("-1e-1000", d("-1E-1000")),
    ("0e-5000", d("0E-5000")),
    ('"plain"', s("plain")),
    ("'single \"quoted\"'", s('single "quoted"')),
    ('"esc \\\\ \\" \\\' \\n \\t \\r \\/ \\b \\f"', s("esc \\ \" ' \n \t \r / \b \f")),
    ('"\\u5317\\u4eac"', s("北京")),
    ('"\\ud83d\\ude00"', s("\U0001f600")),
    ('"北京 😀"', s("北京 😀")),
    ('""', s("")),
    ("true", BoolLit(value=True)),
    ("False", BoolLit(value=False)),
    ("null", NullLit()),
    ("30d", DurationLit(value="30d")),
    ("12h", DurationLit(value="12h")),
    ("2w", DurationLit(value="2w")),
    ("3mo", DurationLit(value="3mo")),
    ("1y", DurationLit(value="1y")),
    ("15min", DurationLit(value="15min")),
    ("45s", DurationLit(value="45s")),
    ("1y6mo", DurationLit(value="1y6mo")),
    ("2024-06-18", DateLit(value=date(2024, 6, 18))),
    ("2024-02-29", DateLit(value=date(2024, 2, 29))),
    ("2024-06-18T20:00Z", DateTimeLit(value=datetime(2024, 6, 18, 20, tzinfo=timezone.utc))),
    (
        "2024-06-18T20:00:05+08:00",
        DateTimeLit(value=datetime(2024, 6, 18, 20, 0, 5, tzinfo=timezone(timedelta(hours=8)))),
    ),
    (
        "2024-06-18T20:00:05.25-05:30",
        DateTimeLit(
            value=datetime(2024, 6, 18, 20, 0, 5, 250000, tzinfo=timezone(-timedelta(hours=5, minutes=30)))
        ),
    ),
    (
        "2024-06-18T20:00:05.000001+00:00:30.000001",
        DateTimeLit(
            value=datetime(2024, 6, 18, 20, 0, 5, 1, tzinfo=timezone(timedelta(seconds=30, microseconds=1)))
        ),
    ),
    ("[]", ListLit(items=())),
]


@pytest.mark.parametrize(("text", "expected"), LITERALS, ids=[text for text, _ in LITERALS])
def test_literals(text: str, expected: Node) -> None:
    assert parse_text(text).node == expected


def test_literal_kinds_are_kept_apart() -> None:
    node = parse("[1, -2, 3.5, 'x', true, null, 30d, 2024-01-01, 2024-01-01T00:00Z,]")
    assert isinstance(node, ListLit)
    assert [item.kind for item in node.items] == [
        "int",
        "int",
        "decimal",
        "str",
        "bool",
        "null",
        "duration",
        "date",
        "datetime",
    ]
    assert node.items[1] == i(-2)


def test_minus_folds_only_when_glued_to_a_number() -> None:
    assert parse("-3") == i(-3)
    assert parse("- 3") == NegNode(item=i(3))
    assert parse("-30d") == NegNode(item=DurationLit(value="30d"))
    assert parse("-1.5") == d("-1.5")
    # The fold keeps the decimal's exact digits (no context rounding of 28 digits).
    digits = "1234567890123456789012345678901234567890.5"
    assert parse("-" + digits) == DecimalLit(value=Decimal("-" + digits))


def test_minus_signs_apart_still_negate_twice_or_subtract_a_negative() -> None:
    assert parse("- -a") == NegNode(item=NegNode(item=f("a")))
    assert parse("a - -1") == arith(f("a"), "-", i(-1))
    assert parse("a - (-b)") == arith(f("a"), "-", NegNode(item=f("b")))


def test_a_date_minus_a_number_is_arithmetic_but_a_date_is_one_token() -> None:
    assert parse("2024-06-18") == DateLit(value=date(2024, 6, 18))
    assert parse("2024-6-18") == arith(arith(i(2024), "-", i(6)), "-", i(18))


# ----------------------------------------------------------------------------------------- errors

ERRORS: list[tuple[str, type[RuleError], str, int, int]] = [
    ("a < b < c", RuleSyntaxError, "comparisons do not chain; use 'and'", 1, 7),
    ("a in [1] == true", RuleSyntaxError, "comparisons do not chain", 1, 10),
    ("a is null is null", RuleSyntaxError, "comparisons do not chain", 1, 11),
    ("a == 1 and", RuleSyntaxError, "expected an expression after 'and'", 1, 11),
    ("a == 1 and", RuleSyntaxError, "unexpected end of rule", 1, 11),
    ("a and )", RuleSyntaxError, "expected an expression after 'and', found ')'", 1, 7),
    ("a == 1)", RuleSyntaxError, "unexpected ')'", 1, 7),
    ("(a and b", RuleSyntaxError, "unclosed '(' opened at column 1", 1, 9),
    ("x == 1 and (y", RuleSyntaxError, "unclosed '(' opened at column 12", 1, 14),
    ("(a b", RuleSyntaxError, "expected ')' to close '(' opened at column 1, found 'b'", 1, 4),
    ("", RuleSyntaxError, "empty rule", 1, 1),
    ("  \n ", RuleSyntaxError, "empty rule", 1, 1),
    ("a b", RuleSyntaxError, "unexpected 'b'", 1, 3),
    ("a $ b", RuleSyntaxError, "unexpected character '$'", 1, 3),
    ("a && b", RuleSyntaxError, "use 'and'", 1, 3),
    ("a\x00", RuleSyntaxError, "U+0000", 1, 2),
    ('x == "abc', RuleSyntaxError, "unterminated string literal", 1, 6),
    ('x == "ab\nc"', RuleSyntaxError, "unterminated string literal", 1, 6),
    ('"a\\qb"', RuleSyntaxError, "invalid escape sequence '\\\\q'", 1, 3),
    ('"\\u12"', RuleSyntaxError, "invalid escape sequence", 1, 2),
    ('"\\ud800"', RuleSyntaxError, "unpaired surrogate", 1, 2),
    ("`abc", RuleSyntaxError, "unterminated backquoted name", 1, 1),
    ("``", RuleSyntaxError, "empty backquoted name", 1, 1),
    ("[a]", RuleSyntaxError, "lists hold literals only; found 'a'", 1, 2),
    ("[1, (2)]", RuleSyntaxError, "lists hold literals only", 1, 5),
    ("[[1]]", RuleSyntaxError, "lists hold literals only", 1, 2),
    ("[- 1]", RuleSyntaxError, "lists hold literals only", 1, 2),
    ("[1 2]", RuleSyntaxError, "expected ',' or ']'", 1, 4),
    ("[1,,2]", RuleSyntaxError, "expected a list item before ','", 1, 4),
    ("x in [1, 2", RuleSyntaxError, "unclosed '[' opened at column 6", 1, 11),
    ("f(a b)", RuleSyntaxError, "expected ',' or ')'", 1, 5),
    ("f(a,)", RuleSyntaxError, "expected an expression after ',', found ')'", 1, 5),
    ("f(a", RuleSyntaxError, "unclosed '(' opened at column 2", 1, 4),
    ("x within 30days", RuleSyntaxError, "invalid duration '30days'", 1, 10),
    ("1d1d", RuleSyntaxError, "given twice", 1, 1),
    ("1234567890123d", RuleSyntaxError, "invalid duration", 1, 1),
    ("99999y", RuleSyntaxError, "longer than the datetime range", 1, 1),
    ("t within 10000y", RuleSyntaxError, "longer than the datetime range", 1, 10),
    ("t within 3652059d", RuleSyntaxError, "longer than the datetime range", 1, 10),
    ("a > 1 -- comment", RuleSyntaxError, "'--' is not a comment", 1, 7),
    ("a--b > 0", RuleSyntaxError, "put a space or parentheses between", 1, 2),
    ("--a > 0", RuleSyntaxError, "'--' is not a comment", 1, 1),
    ("[--1]", RuleSyntaxError, "'--' is not a comment", 1, 2),
    ("2024-02-30", RuleSyntaxError, "invalid date '2024-02-30'", 1, 1),
    ("2024-06-18T20:00", RuleSyntaxError, "datetime literal needs a UTC offset (Z or +08:00)", 1, 1),
    ("2024-06-18T25:00Z", RuleSyntaxError, "invalid datetime", 1, 1),
    ("2024-06-18T20:00+24:00", RuleSyntaxError, "invalid datetime", 1, 1),
    ("2024-06-18T20:00+08:60", RuleSyntaxError, "invalid datetime", 1, 1),
    ("2024-06-18T20", RuleSyntaxError, "invalid date or datetime", 1, 1),
    ("9223372036854775808", RuleSyntaxError, "outside the int64 range", 1, 1),
    ("x > -9223372036854775809", RuleSyntaxError, "outside the int64 range", 1, 5),
    ("-(9223372036854775808)", RuleSyntaxError, "outside the int64 range", 1, 3),
    ("1" * 5000, RuleSyntaxError, "outside the int64 range", 1, 1),
    ("1e1001", RuleSyntaxError, "out of range", 1, 1),
    ("1e99999999999999999999999", RuleSyntaxError, "out of range", 1, 1),
    ("1.5x", RuleSyntaxError, "invalid number '1.5x'", 1, 1),
    ("a is 3", RuleSyntaxError, "expected 'null' or 'not null' after 'is'", 1, 6),
    ("a is not 3", RuleSyntaxError, "expected 'null' after 'is not'", 1, 10),
    ("a not b", RuleSyntaxError, "expected 'in' after 'not'", 1, 7),
    ("a + not b", RuleSyntaxError, "put 'not ...' in parentheses", 1, 5),
    ("a == not b", RuleSyntaxError, "expected an expression after '==', found 'not'", 1, 6),
    ("a.in == 1", RuleSyntaxError, "'in' is a keyword", 1, 1),
    ("and", RuleSyntaxError, "unexpected 'and'", 1, 1),
    ("a and and b", RuleSyntaxError, "expected an expression after 'and', found 'and'", 1, 7),
    ("and()", RuleSyntaxError, "needs at least one condition", 1, 1),
    ('"' + "x" * 10_001 + '"', RuleSyntaxError, "invalid string literal", 1, 1),
    ("`" + "x" * 201 + "`", RuleSyntaxError, "invalid field name", 1, 1),
    ("f" * 101 + "(1)", RuleSyntaxError, "invalid function name", 1, 1),
    # multi-line: line and column point into the right line
    ("x == 1\n  and\n)", RuleSyntaxError, "expected an expression after 'and', found ')'", 3, 1),
    ("a ==\n  1 <\n  2", RuleSyntaxError, "comparisons do not chain", 2, 5),
    ("a == 1 and\r\n  b ==", RuleSyntaxError, "expected an expression after '=='", 2, 7),
    ("(a == 1\n and (b\n or c)", RuleSyntaxError, "unclosed '(' opened at line 1, column 1", 3, 7),
    ("a\u2028$", RuleSyntaxError, "unexpected character '$'", 2, 1),
]


@pytest.mark.parametrize(
    ("text", "cls", "message", "line", "column"), ERRORS, ids=[repr(e[0][:30]) for e in ERRORS]
)
def test_errors_have_a_message_and_a_position(
    text: str, cls: type[RuleError], message: str, line: int, column: int
) -> None:
    with pytest.raises(cls) as info:
        parse_text(text)
    error = info.value
    assert type(error) is cls
    assert message in error.message
    assert (error.line, error.column) == (line, column)
    assert error.column is not None
    assert error.end_column is not None
    assert error.end_column > error.column
    assert error.text == text


def test_the_rendered_error_shows_the_line_and_a_caret_under_the_offence() -> None:
    text = "orders_90d >= 3\n  and spend_90d > > 1000"
    with pytest.raises(RuleSyntaxError) as info:
        parse_text(text)
    rendered = str(info.value).splitlines()
    assert rendered[0] == "expected an expression after '>', found '>'"
    assert rendered[1] == "  line 2, column 19:"
    assert rendered[2] == "      and spend_90d > > 1000"
    assert rendered[3] == "    " + " " * 18 + "^"


def test_a_multi_character_offence_gets_a_caret_per_character() -> None:
    with pytest.raises(RuleSyntaxError) as info:
        parse_text("joined_at within 30days")
    assert str(info.value).splitlines()[-1] == "    " + " " * 17 + "^" * 6


def test_an_error_at_the_end_points_just_after_the_last_token() -> None:
    with pytest.raises(RuleSyntaxError) as info:
        parse_text("a and   \n\n")
    assert (info.value.line, info.value.column) == (1, 6)
    assert str(info.value).splitlines()[-1] == "    " + " " * 5 + "^"


def test_non_text_input_is_a_rule_error() -> None:
    with pytest.raises(RuleSyntaxError, match="must be a str"):
        parse_text(b"a == 1")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------- line_col & co


def test_line_col_counts_from_one_and_follows_splitlines() -> None:
    text = "ab\ncd\r\nef\u2028gh"
    assert line_col(text, 0) == (1, 1)
    assert line_col(text, 2) == (1, 3)
    assert line_col(text, 3) == (2, 1)
    assert line_col(text, 7) == (3, 1)
    assert line_col(text, 10) == (4, 1)
    assert line_col(text, 12) == (4, 3)
    assert line_col(text, 999) == (4, 3)
    assert line_col("", 0) == (1, 1)
    # Agreement with str.splitlines, which draws the caret snippet.
    assert text.splitlines()[line_col(text, 11)[0] - 1] == "gh"


def test_syntax_error_clips_a_span_that_runs_over_the_end_of_its_line() -> None:
    text = "a == (1 +\n 2"
    error = syntax_error("boom", text, 5, len(text))
    assert (error.line, error.column, error.end_column) == (1, 6, 10)
    assert isinstance(error, RuleSyntaxError)
    limit = syntax_error("big", text, 0, 1, RuleLimitError)
    assert isinstance(limit, RuleLimitError)
    assert (limit.line, limit.column, limit.end_column) == (1, 1, 2)
    empty = syntax_error("at end", text, len(text), len(text))
    assert (empty.line, empty.column, empty.end_column) == (2, 3, 4)


# -------------------------------------------------------------------------------------------- spans


def test_spans_cover_the_source_of_each_sub_expression() -> None:
    text = "orders_90d >= 3 and (spend_90d > 1000 or -3 < x) and tags contains 'vip'"
    parsed = parse_text(text)
    root = parsed.node
    assert isinstance(root, AndNode)
    assert span_text(text, parsed, root) == text
    first, second, third = root.items
    assert span_text(text, parsed, first) == "orders_90d >= 3"
    assert isinstance(first, CmpNode)
    assert span_text(text, parsed, first.left) == "orders_90d"
    assert span_text(text, parsed, first.right) == "3"
    assert span_text(text, parsed, second) == "spend_90d > 1000 or -3 < x"  # without the parentheses
    assert isinstance(second, OrNode)
    assert isinstance(second.items[1], CmpNode)
    assert span_text(text, parsed, second.items[1].left) == "-3"
    assert span_text(text, parsed, third) == "tags contains 'vip'"


def test_spans_of_prefix_operators_calls_and_lists() -> None:
    text = "not not -(a + b) * f(x, [1, -2]) > 0"
    parsed = parse_text(text)
    outer = parsed.node
    assert isinstance(outer, NotNode)
    inner = outer.item
    assert isinstance(inner, NotNode)
    assert span_text(text, parsed, inner) == "not -(a + b) * f(x, [1, -2]) > 0"
    comparison = inner.item
    assert isinstance(comparison, CmpNode)
    product = comparison.left
    assert isinstance(product, ArithNode)
    assert span_text(text, parsed, product) == "-(a + b) * f(x, [1, -2])"
    assert span_text(text, parsed, product.left) == "-(a + b)"
    call = product.right
    assert isinstance(call, CallNode)
    assert span_text(text, parsed, call) == "f(x, [1, -2])"
    items = call.args[1]
    assert isinstance(items, ListLit)
    assert span_text(text, parsed, items) == "[1, -2]"
    assert span_text(text, parsed, items.items[1]) == "-2"


def test_spans_on_several_lines() -> None:
    text = "a == 1\nor\n  b in [\n  'x'\n  ]"
    parsed = parse_text(text)
    assert isinstance(parsed.node, OrNode)
    assert span_text(text, parsed, parsed.node.items[1]) == "b in [\n  'x'\n  ]"


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(nodes(max_depth=4))
def test_every_node_has_a_span_whose_text_parses_back_to_that_node(node: Node) -> None:
    text = to_text(node)
    parsed = parse_text(text)
    all_nodes = walk(parsed.node)
    assert len(parsed.spans) == len(all_nodes) == ast_size(node)
    for sub in all_nodes:
        start, end = parsed.spans[id(sub)]
        assert 0 <= start < end <= len(text)
        assert parse_text(text[start:end]).node == sub


# ------------------------------------------------------------------------------------------- limits


def test_text_longer_than_the_limit_is_refused_before_reading() -> None:
    with pytest.raises(RuleLimitError, match="max_text_length") as info:
        parse_text("a == 1 and $$$", limits=Limits(max_text_length=10))
    assert (info.value.line, info.value.column) == (1, 11)
    assert parse("a == 1", max_text_length=6) == cmp(f("a"), "==", i(1))


def test_node_count_limit() -> None:
    assert parse("a == 1 and b == 2", max_nodes=7) is not None
    with pytest.raises(RuleLimitError, match="max_nodes") as info:
        parse_text("a == 1 and b == 2", limits=Limits(max_nodes=6))
    assert info.value.column is not None


def test_list_item_limit_points_at_the_first_item_too_many() -> None:
    assert parse("a in [1, 2, 3]", max_list_items=3) is not None
    with pytest.raises(RuleLimitError, match="max_list_items") as info:
        parse_text("a in [1, 2, 3, 4]", limits=Limits(max_list_items=3))
    assert (info.value.line, info.value.column, info.value.end_column) == (1, 16, 17)


def test_depth_limit_is_exact() -> None:
    assert parse("a + b + c", max_depth=3) is not None
    with pytest.raises(RuleLimitError, match="depth 4 exceeds max_depth=3"):
        parse_text("a + b + c + d", limits=Limits(max_depth=3))
    assert parse("not " * 63 + "x") is not None  # depth 64, the default limit
    with pytest.raises(RuleLimitError):
        parse_text("not " * 64 + "x")
    assert parse("- " * 63 + "x") is not None
    with pytest.raises(RuleLimitError):
        parse_text("- " * 64 + "x")


def test_and_or_chains_add_one_level_however_long() -> None:
    text = " or ".join(f"a == {n}" for n in range(100))
    assert parse(text, max_depth=3) is not None
    with pytest.raises(RuleLimitError):
        parse_text(text, limits=Limits(max_depth=2))


def test_redundant_parentheses_are_allowed_up_to_twice_the_depth() -> None:
    assert parse("(" * 128 + "x" + ")" * 128) == f("x")
    with pytest.raises(RuleLimitError, match="nested too deeply"):
        parse_text("(" * 129 + "x" + ")" * 129)


def test_ten_thousand_term_or_chain_parses_fast() -> None:
    text = " or ".join(f"a == {n}" for n in range(10_000))
    # CPU time of this process: on a shared machine, wall-clock time mostly measures the others.
    started = time.process_time()
    node = parse_text(text).node
    elapsed = time.process_time() - started
    assert isinstance(node, OrNode)
    assert len(node.items) == 10_000
    assert elapsed < 1.0


@pytest.mark.parametrize(
    "text",
    [
        "(" * 100_000,
        "(" * 100_000 + "x" + ")" * 100_000,
        "not " * 100_000 + "x",
        "- " * 100_000 + "1",
        "- " * 100_000 + "x",
        "f(" * 100_000,
        "and(" * 100_000,
        "-(" * 50_000 + "1",
        "not (" * 50_000 + "x",
        " + ".join(["a"] * 10_000),
        " * ".join(["a"] * 10_000),
        "x == " + " - ".join(["1"] * 10_000),
    ],
    ids=lambda text: repr(text[:12]) + f"..{len(text)}",
)
def test_pathological_nesting_is_a_limit_error_and_quick(text: str) -> None:
    started = time.process_time()
    with pytest.raises(RuleLimitError) as info:
        parse_text(text)
    assert time.process_time() - started < 1.0
    assert info.value.line == 1
    assert info.value.column is not None


def test_default_limits_are_the_documented_ones() -> None:
    assert Limits() == DEFAULT_LIMITS
    assert (Limits().max_text_length, Limits().max_depth) == (500_000, 64)
    assert (Limits().max_nodes, Limits().max_list_items) == (50_000, 25_000)
    page = (Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text(encoding="utf-8")
    assert "text length (500,000 characters), nesting depth (64), node count (50,000)" in page
    assert "list-literal size (25,000)" in page


def test_the_default_limits_admit_every_worst_case_of_the_parse_benchmark() -> None:
    # Untimed: benchmarks/bench_parse_worst.py times these; here each must be a legal rule.
    for name, text in bench_parse_worst.worst_cases().items():
        assert len(text) <= DEFAULT_LIMITS.max_text_length, name
        assert Rule.parse(text) is not None, name
    for name, (form, build) in bench_parse_worst.DOCUMENT_CASES.items():
        read = Rule.from_json if form == "json" else Rule.from_jsonlogic
        assert read(build(DEFAULT_LIMITS)) is not None, name


def test_one_more_than_the_default_limits_is_refused() -> None:
    nodes = Limits().max_nodes
    assert isinstance(parse_text(" or ".join(["a"] * (nodes - 1))).node, OrNode)  # exactly max_nodes
    with pytest.raises(RuleLimitError, match="max_nodes"):
        parse_text(" or ".join(["a"] * nodes))
    items = Limits().max_list_items
    assert parse_text("x in [" + ",".join(["1"] * items) + "]") is not None
    with pytest.raises(RuleLimitError, match="max_list_items"):
        parse_text("x in [" + ",".join(["1"] * (items + 1)) + "]")
    with pytest.raises(RuleLimitError, match="max_text_length"):
        parse_text("a" * (Limits().max_text_length + 1))


def test_recursion_error_is_turned_into_a_limit_error() -> None:
    # Simulate a caller already deep in its own stack: leave the parser only a few dozen frames.
    # (Calls recurse; a run of parentheses is read in a loop.)
    text = "f(" * 50 + "x" + ")" * 50
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 60)
    try:
        with pytest.raises(RuleLimitError, match="too deeply to parse"):
            parse_text(text)
    finally:
        sys.setrecursionlimit(limit)
    assert parse(text) is not None


def test_a_typical_rule_parses_well_under_a_millisecond() -> None:
    text = 'orders_90d >= 3 and spend_90d > 1000.50 and city in ["北京", "上海"] or days_since(last) > 60'
    parse_text(text)
    rounds = 200
    started = time.process_time()
    for _ in range(rounds):
        parse_text(text)
    assert (time.process_time() - started) / rounds < 1e-3


# --------------------------------------------------------------------------------------------- fuzz

TOKENS = [
    "a",
    "b.c",
    "`x y`",
    "f",
    "and",
    "or",
    "not",
    "in",
    "is",
    "null",
    "true",
    "contains",
    "within",
    "(",
    ")",
    "[",
    "]",
    ",",
    "==",
    "=",
    "<>",
    "<",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "1",
    "-1",
    "1.5",
    "1e5",
    "99999999999999999999",
    "30d",
    "1y6mo",
    "2024-06-18",
    "2024-02-30",
    "2024-06-18T20:00+08:00",
    "2024-06-18T20:00",
    '"s"',
    "'\\u00e9'",
    '"unterminated',
    "`",
    "\\",
    ".",
    "!",
    "$",
    "\n",
    "北京",
]


def _parses_or_rule_error(text: str, limits: Limits | None = None) -> None:
    try:
        result = parse_text(text, limits=limits or Limits())
    except RuleError as exc:
        assert exc.message
        assert exc.line is not None
        assert exc.column is not None
        return
    assert isinstance(result, Parsed)
    # Whatever parses prints to text that parses back to the same tree.
    assert parse_text(to_text(result.node)).node == result.node


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_arbitrary_text_parses_or_raises_a_rule_error(text: str) -> None:
    _parses_or_rule_error(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=30), st.sampled_from([" ", "", "\n", "  "]))
def test_token_soup_parses_or_raises_a_rule_error(tokens: list[str], separator: str) -> None:
    _parses_or_rule_error(separator.join(tokens))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(TOKENS), max_size=40),
    st.builds(
        Limits,
        max_text_length=st.integers(1, 200),
        max_depth=st.integers(1, 6),
        max_nodes=st.integers(1, 20),
        max_list_items=st.integers(1, 3),
    ),
)
def test_token_soup_under_tight_limits(tokens: list[str], limits: Limits) -> None:
    _parses_or_rule_error(" ".join(tokens), limits)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(nodes(max_depth=3), st.data())
def test_mutated_valid_rules_parse_or_raise_a_rule_error(node: Node, data: st.DataObject) -> None:
    text = to_text(node)
    position = data.draw(st.integers(0, len(text)))
    insert = data.draw(st.sampled_from(["", "(", ")", "-", "not ", '"', "`", "[", ",", "and", "\n"]))
    cut = data.draw(st.integers(0, 3))
    _parses_or_rule_error(text[:position] + insert + text[position + cut :])

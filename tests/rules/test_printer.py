"""Printing rule ASTs as canonical text (user_ops.rules._printer) and the text round trip."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from user_ops.rules._limits import Limits
from user_ops.rules._parser import parse_text
from user_ops.rules._printer import format_name, to_text

from .strategies import (
    ast_depth,
    ast_size,
    boolean_nodes,
    literal_nodes,
    nodes,
    value_nodes,
    walk,
)

ROUND_TRIP = settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)


def f(name: str) -> FieldNode:
    return FieldNode(name=name)


def i(value: int) -> IntLit:
    return IntLit(value=value)


def _max_list_items(node: Node) -> int:
    return max([len(sub.items) for sub in walk(node) if isinstance(sub, ListLit)] + [1])


def _exact_limits(node: Node) -> Limits:
    """The tightest limits the node fits in: its printed text must parse under them too."""
    return Limits(max_depth=ast_depth(node), max_nodes=ast_size(node), max_list_items=_max_list_items(node))


# ------------------------------------------------------------------------------------ round trips


@ROUND_TRIP
@given(nodes(max_depth=5))
def test_any_ast_round_trips_through_text_within_its_own_limits(node: Node) -> None:
    text = to_text(node)
    assert parse_text(text, limits=_exact_limits(node)).node == node


@ROUND_TRIP
@given(boolean_nodes(max_depth=5))
def test_conditions_round_trip(node: Node) -> None:
    assert parse_text(to_text(node)).node == node


@ROUND_TRIP
@given(value_nodes(max_depth=5))
def test_values_round_trip(node: Node) -> None:
    assert parse_text(to_text(node)).node == node


@settings(max_examples=300, deadline=None)
@given(literal_nodes())
def test_literals_round_trip_with_their_kind(node: Node) -> None:
    back = parse_text(to_text(node)).node
    assert back == node
    assert back.kind == node.kind


@ROUND_TRIP
@given(nodes(max_depth=4))
def test_printing_parsed_text_is_idempotent(node: Node) -> None:
    text = to_text(node)
    once = to_text(parse_text(text).node)
    assert once == text
    assert to_text(parse_text(once).node) == once


@pytest.mark.parametrize(
    "text",
    [
        "A>=3 AND (b OR c)",
        "x = 1 or y <> 2",
        "((a))",
        "not(a)",
        "-  3 * ( -4)",
        "x in ['a','b',]",
        "`plain` == 1",
        "and( a , b )",
        "2024-06-18T20:00Z",
        "1E3",
        "30d",
    ],
)
def test_printing_written_text_is_idempotent(text: str) -> None:
    once = to_text(parse_text(text).node)
    assert to_text(parse_text(once).node) == once


@pytest.mark.parametrize("strategy", [nodes, value_nodes, boolean_nodes])
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_strategies_respect_max_depth(
    strategy: Callable[..., st.SearchStrategy[Node]], data: st.DataObject
) -> None:
    max_depth = data.draw(st.integers(1, 6))
    node = data.draw(strategy(max_depth=max_depth))
    assert ast_depth(node) <= max_depth


def test_strategies_draw_from_the_given_fields() -> None:
    @settings(max_examples=50, deadline=None)
    @given(boolean_nodes(fields=["only_this"], max_depth=3))
    def check(node: Node) -> None:
        assert {sub.name for sub in walk(node) if isinstance(sub, FieldNode)} <= {"only_this"}

    check()


# ------------------------------------------------------------------------------- canonical printing

CANONICAL = [
    ("a>=3 AND (b OR c) and d IN ['x','y']", 'a >= 3 and (b or c) and d in ["x", "y"]'),
    ("x = 1 or y <> 2", "x == 1 or y != 2"),
    ("((a))", "a"),
    ("(a or b) or c", "(a or b) or c"),
    ("a or (b or c)", "a or (b or c)"),
    ("a and (b and c)", "a and (b and c)"),
    ("a or b and c", "a or b and c"),
    ("(a or b) and c", "(a or b) and c"),
    ("not (a == b)", "not a == b"),
    ("not (a and b)", "not (a and b)"),
    ("(not a) == b", "(not a) == b"),
    ("not not a", "not not a"),
    ("(a < b) == (c < d)", "(a < b) == (c < d)"),
    ("(a in b) is null", "(a in b) is null"),
    ("(a + b) * c", "(a + b) * c"),
    ("a + (b * c)", "a + b * c"),
    ("(a - b) - c", "a - b - c"),
    ("a - (b - c)", "a - (b - c)"),
    ("a / (b * c)", "a / (b * c)"),
    ("-(a + b)", "-(a + b)"),
    ("-(-a)", "- -a"),
    ("-(3)", "-(3)"),
    ("- 3", "-(3)"),
    ("-3", "-3"),
    ("- -3", "-(-3)"),
    ("-(1.5)", "-(1.5)"),
    ("a * -3", "a * -3"),
    ("a - -b", "a - -b"),
    ("(-a) * b", "-a * b"),
    ("f( a ,b )", "f(a, b)"),
    ("f()", "f()"),
    ("`my plugin`(x)", "`my plugin`(x)"),
    ("x WITHIN 1y6mo", "x within 1y6mo"),
    ("tags Contains 'vip'", 'tags contains "vip"'),
    ("(a contains b) within c", "(a contains b) within c"),
    ("x is NOT null", "x is not null"),
    ("x NOT IN [1, 2,]", "x not in [1, 2]"),
    ("and(a)", "and(a)"),
    ("or(a == 1)", "or(a == 1)"),
    ("and(a, b)", "a and b"),
    ("`order count` > 1", "`order count` > 1"),
    ("`user.level` == 1", "user.level == 1"),
    ("1000.50", "1000.50"),
    ("1e3", "1E+3"),
    ("2024-06-18", "2024-06-18"),
    ("2024-06-18T20:00Z", "2024-06-18T20:00:00+00:00"),
    ("2024-06-18T20:00:05.5+08:00", "2024-06-18T20:00:05.500000+08:00"),
    ("TRUE or False or NULL", "true or false or null"),
]


@pytest.mark.parametrize(("text", "expected"), CANONICAL, ids=[text for text, _ in CANONICAL])
def test_canonical_text(text: str, expected: str) -> None:
    assert to_text(parse_text(text).node) == expected


AST_TEXT: list[tuple[Node, str]] = [
    (AndNode(items=(f("a"),)), "and(a)"),
    (OrNode(items=(AndNode(items=(f("a"), f("b"))),)), "or(a and b)"),
    (AndNode(items=(OrNode(items=(f("a"),)), f("b"))), "or(a) and b"),
    (NegNode(item=i(3)), "-(3)"),
    (NegNode(item=i(-3)), "-(-3)"),
    (NegNode(item=DecimalLit(value=Decimal("-0.5"))), "-(-0.5)"),
    (NegNode(item=NegNode(item=i(3))), "- -(3)"),
    (i(-(2**63)), "-9223372036854775808"),
    (ArithNode(op="-", left=f("a"), right=i(-3)), "a - -3"),
    (DecimalLit(value=Decimal("100")), "100.0"),
    (DecimalLit(value=Decimal("-0")), "-0.0"),
    (DecimalLit(value=Decimal("1E+1000")), "1E+1000"),
    (DecimalLit(value=Decimal("0E-5000")), "0E-5000"),
    (StrLit(value='a"b\\c\n\t北京\x00'), '"a\\"b\\\\c\\n\\t北京\\u0000"'),
    (BoolLit(value=False), "false"),
    (NullLit(), "null"),
    (DurationLit(value="90min"), "1h30min"),
    (DateLit(value=date(1, 1, 1)), "0001-01-01"),
    (
        DateTimeLit(value=datetime(2024, 6, 18, 20, 0, 0, 1, tzinfo=timezone(timedelta(hours=-5)))),
        "2024-06-18T20:00:00.000001-05:00",
    ),
    (
        # An offset with seconds is kept in UTC by the AST itself.
        DateTimeLit(value=datetime(2024, 6, 18, tzinfo=timezone(timedelta(seconds=30)))),
        "2024-06-17T23:59:30+00:00",
    ),
    (ListLit(items=()), "[]"),
    (ListLit(items=(i(-1), StrLit(value="x"), NullLit())), '[-1, "x", null]'),
    (CallNode(fn="within", args=(f("x"), DurationLit(value="30d"))), "x within 30d"),
    (CallNode(fn="within", args=(f("x"),)), "`within`(x)"),
    (CallNode(fn="contains", args=(f("a"), f("b"), f("c"))), "`contains`(a, b, c)"),
    (CallNode(fn="Contains", args=(f("a"), f("b"))), "`Contains`(a, b)"),
    (CallNode(fn="and", args=(f("a"), f("b"))), "`and`(a, b)"),
    (CallNode(fn="a b", args=()), "`a b`()"),
    (
        CmpNode(op="==", left=CallNode(fn="contains", args=(f("a"), f("b"))), right=f("c")),
        "(a contains b) == c",
    ),
    (InNode(item=OrNode(items=(f("a"), f("b"))), values=ListLit(items=())), "(a or b) in []"),
    (IsNullNode(item=NotNode(item=f("a")), negated=True), "(not a) is not null"),
    (NotNode(item=OrNode(items=(f("a"), f("b")))), "not (a or b)"),
    (NotNode(item=AndNode(items=(f("a"),))), "not and(a)"),
    (ArithNode(op="*", left=NegNode(item=f("a")), right=NegNode(item=f("b"))), "-a * -b"),
    (ArithNode(op="+", left=CmpNode(op="<", left=f("a"), right=f("b")), right=f("c")), "(a < b) + c"),
    (NegNode(item=ArithNode(op="*", left=f("a"), right=f("b"))), "-(a * b)"),
    (CallNode(fn="f", args=(OrNode(items=(f("a"), f("b"))), NotNode(item=f("c")))), "f(a or b, not c)"),
    (f("in"), "`in`"),
    (f("a.NULL"), "`a.NULL`"),
    (f("a`b"), "`a\\`b`"),
    (f('say "hi"'), '`say "hi"`'),
    (f("x\ny"), "`x\\ny`"),
    (f("a..b"), "`a..b`"),
    (f("消费金额"), "消费金额"),
]


@pytest.mark.parametrize(("node", "expected"), AST_TEXT, ids=[text for _, text in AST_TEXT])
def test_ast_prints_as(node: Node, expected: str) -> None:
    assert to_text(node) == expected
    assert parse_text(expected).node == node


def test_format_name() -> None:
    assert format_name("user.level") == "user.level"
    assert format_name("_x1") == "_x1"
    assert format_name("order count") == "`order count`"
    assert format_name("IN") == "`IN`"
    assert format_name("a.") == "`a.`"
    assert format_name("1st") == "`1st`"
    assert format_name("back\\slash") == "`back\\\\slash`"


# ---------------------------------------------------------------------------------------- deep ASTs


def test_very_deep_asts_print_without_recursion() -> None:
    node: Node = f("x")
    for _ in range(20_000):
        node = NotNode(item=node)
    text = to_text(node)
    assert text == "not " * 20_000 + "x"
    node = f("x")
    for _ in range(5_000):
        node = ArithNode(op="-", left=f("a"), right=node)
    text = to_text(node)
    assert text.startswith("a - (a - (")
    assert text.endswith("x" + ")" * 4_999)


def test_worst_case_nesting_of_a_printed_ast_fits_the_default_limits() -> None:
    # Each Neg(Not(Or(...))) step prints as "-(not (... or y))": four nesting levels per three AST
    # levels; an AST at exactly max_depth must still read back.
    node: Node = f("x")
    while ast_depth(node) + 3 <= 64:
        node = NegNode(item=NotNode(item=OrNode(items=(node, f("y")))))
    assert ast_depth(node) == 64
    assert parse_text(to_text(node)).node == node


def test_printing_something_that_is_not_a_node_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        to_text("a == 1")  # type: ignore[arg-type]

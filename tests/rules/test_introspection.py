"""Introspection of a rule: Rule.walk() (pre-order, left to right), Rule.functions and Rule.fields."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import assume, given, settings

from tests.rules import strategies
from user_ops import RuleError
from user_ops.rules import AndNode, CallNode, FieldNode, IntLit, Node, NotNode, Rule, StrLit


def _reference_walk(node: Any) -> Iterator[Node]:
    """Pre-order by the models' own field order (recursive: for small generated trees only)."""
    yield node
    for name in type(node).model_fields:
        value = getattr(node, name)
        for child in value if isinstance(value, tuple) else (value,):
            if hasattr(type(child), "model_fields") and "kind" in type(child).model_fields:
                yield from _reference_walk(child)


@settings(max_examples=200, deadline=None)
@given(node=strategies.nodes())
def test_walk_is_pre_order_left_to_right_and_names_what_the_rule_reads_and_calls(node: Node) -> None:
    try:
        rule = Rule(node)
    except RuleError:
        assume(False)  # a comparison with a null literal: refused when built
    walked = list(rule.walk())
    assert [id(n) for n in walked] == [id(n) for n in _reference_walk(node)]
    calls = [n.fn for n in walked if isinstance(n, CallNode)]
    assert rule.functions == tuple(dict.fromkeys(calls))
    assert rule.fields == tuple(dict.fromkeys(n.name for n in walked if isinstance(n, FieldNode)))


def test_functions_in_order_of_first_use() -> None:
    rule = Rule.parse('len(tags) > 2 and days_since(last_order_at) < len(city) and has_tag("vip")')
    assert rule.functions == ("len", "days_since", "has_tag")
    assert Rule.parse("orders_90d >= 3").functions == ()
    assert Rule.parse("t within 30d").functions == ("within",)  # an operator that is a function


def test_walk_of_a_wide_and_deep_rule_needs_no_recursion() -> None:
    wide = Rule(AndNode(items=tuple(NotNode(item=FieldNode(name=f"f{i}")) for i in range(20_000))))
    assert sum(1 for _ in wide.walk()) == 1 + 2 * 20_000
    deep: Node = FieldNode(name="x")
    for _ in range(5_000):
        deep = NotNode(item=deep)
    assert sum(1 for _ in Rule(deep).walk()) == 5_001


def test_has_tag_calls_found_by_the_walk() -> None:
    rule = Rule.parse('has_tag("b") or (x > 1 and not has_tag("a")) or has_tag("b")')
    found = [
        n.args[0].value
        for n in rule.walk()
        if isinstance(n, CallNode) and n.fn == "has_tag" and isinstance(n.args[0], StrLit)
    ]
    assert found == ["b", "a", "b"]
    assert isinstance(next(iter(Rule.parse("x > 1").walk())), type(Rule.parse("x > 1").node))
    assert [type(n) for n in Rule.parse("x > 1").walk()][1:] == [FieldNode, IntLit]

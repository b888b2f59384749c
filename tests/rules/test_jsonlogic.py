"""JsonLogic import and export (user_ops.rules._jsonlogic)."""

from __future__ import annotations

import doctest
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from user_ops import RuleError, RuleLimitError, RuleSyntaxError
from user_ops.rules import _jsonlogic
from user_ops.rules._ast import (
    AndNode,
    ArithNode,
    BoolLit,
    CallNode,
    CmpNode,
    DateLit,
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
from user_ops.rules._jsonlogic import node_from_jsonlogic, node_to_jsonlogic
from user_ops.rules._limits import Limits

from . import strategies


def field(name: str) -> FieldNode:
    return FieldNode(name=name)


def cmp(op: Any, left: Node, right: Node) -> CmpNode:
    return CmpNode(op=op, left=left, right=right)


def strs(*values: str) -> ListLit:
    return ListLit(items=tuple(StrLit(value=v) for v in values))


# ------------------------------------------------------------------------------ query builder output


@pytest.mark.parametrize(
    ("logic", "expected"),
    [
        (  # react-querybuilder / jQuery QueryBuilder: a group of leaf conditions
            {"and": [{"==": [{"var": "city"}, "Beijing"]}, {">=": [{"var": "orders_90d"}, 3]}]},
            AndNode(
                items=(
                    cmp("==", field("city"), StrLit(value="Beijing")),
                    cmp(">=", field("orders_90d"), IntLit(value=3)),
                )
            ),
        ),
        (  # nested groups with "or"
            {"or": [{"<": [{"var": "age"}, 18]}, {"and": [{"!=": [{"var": "vip"}, True]}]}]},
            OrNode(
                items=(
                    cmp("<", field("age"), IntLit(value=18)),
                    AndNode(items=(cmp("!=", field("vip"), BoolLit(value=True)),)),
                )
            ),
        ),
        (  # "in" / "notIn"
            {"in": [{"var": "city"}, ["Beijing", "Shanghai"]]},
            InNode(item=field("city"), values=strs("Beijing", "Shanghai")),
        ),
        (
            {"!": {"in": [{"var": "city"}, ["Beijing"]]}},
            NotNode(item=InNode(item=field("city"), values=strs("Beijing"))),
        ),
        (  # "between" and "notBetween"
            {"<=": [1, {"var": "age"}, 10]},
            AndNode(
                items=(cmp("<=", IntLit(value=1), field("age")), cmp("<=", field("age"), IntLit(value=10)))
            ),
        ),
        (  # "contains" / "doesNotContain"
            {"in": ["vip", {"var": "tags"}]},
            CallNode(fn="contains", args=(field("tags"), StrLit(value="vip"))),
        ),
        (  # "null" / "notNull"
            {"==": [{"var": "phone"}, None]},
            IsNullNode(item=field("phone")),
        ),
        ({"!=": [{"var": "phone"}, None]}, IsNullNode(item=field("phone"), negated=True)),
        ({"===": [None, {"var": "phone"}]}, IsNullNode(item=field("phone"))),
        ({"!==": [{"var": "a.b"}, 1.5]}, cmp("!=", field("a.b"), DecimalLit(value=Decimal("1.5")))),
        ({"in": ["ab", "abc"]}, CallNode(fn="contains", args=(StrLit(value="abc"), StrLit(value="ab")))),
        ({"var": ["points", 0]}, CallNode(fn="coalesce", args=(field("points"), IntLit(value=0)))),
        ({"var": ["points"]}, field("points")),
        ({"missing": "email"}, IsNullNode(item=field("email"))),
        (
            {"missing": ["email", "phone"]},
            OrNode(items=(IsNullNode(item=field("email")), IsNullNode(item=field("phone")))),
        ),
        ({"and": [True]}, AndNode(items=(BoolLit(value=True),))),  # a 1-item list stays a 1-item node
        ({"!": [{"var": "x"}]}, NotNode(item=field("x"))),
        ({"!": {"var": "x"}}, NotNode(item=field("x"))),
        (
            {"+": [1, 2, {"var": "x"}]},
            ArithNode(
                op="+", left=ArithNode(op="+", left=IntLit(value=1), right=IntLit(value=2)), right=field("x")
            ),
        ),
        ({"-": [{"var": "x"}]}, NegNode(item=field("x"))),
        ({"%": [{"var": "x"}, 2]}, ArithNode(op="%", left=field("x"), right=IntLit(value=2))),
        (
            {"max": [{"var": "x"}, 0.5]},
            CallNode(fn="max", args=(field("x"), DecimalLit(value=Decimal("0.5")))),
        ),
        (None, NullLit()),
        ([1, "a", None], ListLit(items=(IntLit(value=1), StrLit(value="a"), NullLit()))),
    ],
)
def test_import(logic: Any, expected: Node) -> None:
    assert node_from_jsonlogic(logic) == expected
    assert node_from_jsonlogic(json.dumps(logic)) == expected


def test_numbers() -> None:
    assert node_from_jsonlogic({"==": [{"var": "x"}, 0.1]}).right == DecimalLit(value=Decimal("0.1"))  # type: ignore[union-attr]
    # JSON text keeps every written digit (no trip through a double).
    rule = node_from_jsonlogic('{"==": [{"var": "x"}, 0.1000000000000000000001]}')
    assert rule.right == DecimalLit(value=Decimal("0.1000000000000000000001"))  # type: ignore[union-attr]
    assert node_from_jsonlogic(True) == BoolLit(value=True)  # bool before int
    with pytest.raises(RuleSyntaxError, match="outside the int64 range") as caught:
        node_from_jsonlogic({"and": [2**63]})
    assert caught.value.path == "$.and[0]"


# ------------------------------------------------------------------------------------------ errors

UNSUPPORTED = ["if", "?:", "cat", "substr", "map", "filter", "reduce", "all", "none", "some", "merge", "log"]
UNSUPPORTED += ["method", "missing_some", "!!", "startsWith", "xor"]


@pytest.mark.parametrize("op", UNSUPPORTED)
def test_unsupported_operators_name_themselves_and_their_path(op: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        node_from_jsonlogic({"and": [{"==": [1, 1]}, {"or": [{op: [{"var": "x"}, 1]}]}]})
    assert caught.value.path == "$.and[1].or[0]"
    assert caught.value.message.startswith(f"unsupported JsonLogic operator {op!r}")


@pytest.mark.parametrize(
    ("logic", "path", "message"),
    [
        ({"var": ""}, "$.var", "empty name"),
        ({"var": 1}, "$.var", "'var' must name a field with a string, got number"),
        ({"var": [""]}, "$.var[0]", "empty name"),
        ({"var": ["a", 1, 2]}, "$", "got 3 arguments"),
        ({"var": {"cat": ["a", "b"]}}, "$.var", "computed 'var' names"),
        ({"var": ["a", {"var": "b"}]}, "$.var[1]", "must be a literal"),
        ({"var": "x" * 201}, "$.var", "at most 200 characters"),
        ({"and": [{"a": 1, "b": 2}]}, "$.and[0]", "exactly one key, got 2 keys ('a', 'b')"),
        ({"or": [{}]}, "$.or[0]", "exactly one key, got an empty object"),
        ({"and": []}, "$", "'and' takes at least 1 argument, got 0"),
        ({"!": [1, 2]}, "$", "'!' takes exactly 1 argument, got 2"),
        ({"==": [1]}, "$", "'==' takes exactly 2 arguments, got 1"),
        ({">": [1, 2, 3]}, "$", "'>' takes exactly 2 arguments, got 3"),
        ({"<": [1, 2, 3, 4]}, "$", "'<' takes 2 or 3 arguments, got 4"),
        ({"+": ["3"]}, "$", "cast to number"),
        ({"*": [2]}, "$", "cast to number"),
        ({"-": [1, 2, 3]}, "$", "'-' takes 1 or 2 arguments, got 3"),
        ({"min": []}, "$", "'min' takes at least 1 argument, got 0"),
        ({"missing": []}, "$", "at least one field name"),
        ({"missing": ["a", 3]}, "$.missing[1]", "field names (strings), got number"),
        (
            {"in": [{"var": "x"}, [1, [2]]]},
            "$.in[1][1]",
            "only numbers, strings, booleans and null, got array",
        ),
        ({"in": [{"var": "x"}, [1, {"var": "y"}]]}, "$.in[1][1]", "got object"),
        ({"==": [{"var": "x"}, [{"var": "y"}]]}, "$['=='][1][0]", "got object"),
        ({"==": [{"var": "x"}, float("nan")]}, "$['=='][1]", "nan is not a JSON number"),
        ('{"==": [{"var": "x"}, NaN]}', "$['=='][1]", "NaN is not valid JSON"),
        ({"and": [{1: 2}]}, "$.and[0]", "operator must be a string"),
        ({"and": [{"==": [1, {1, 2}]}]}, "$.and[0]['=='][1]", "not a JSON value: set"),
        ({"==": [{"var": "x"}, "y" * 10_001]}, "$['=='][1]", "at most 10000 characters"),
    ],
)
def test_malformed_operations(logic: Any, path: str, message: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        node_from_jsonlogic(logic)
    assert caught.value.path == path
    assert message in caught.value.message


def test_invalid_json_text() -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        node_from_jsonlogic('{"and": [\n  {"var": "x"},\n]}')
    assert (caught.value.line, caught.value.column) == (3, 1)


# ------------------------------------------------------------------------------------------ limits


def test_long_or_imports() -> None:
    logic = {"or": [{"==": [{"var": f"f{i}"}, i]} for i in range(10_000)]}
    rule = node_from_jsonlogic(logic, limits=Limits(max_list_items=10))  # not a list literal
    assert isinstance(rule, OrNode)
    assert len(rule.items) == 10_000
    assert rule.items[9_999] == cmp("==", field("f9999"), IntLit(value=9_999))
    assert node_from_jsonlogic(node_to_jsonlogic(rule)) == rule


@pytest.mark.parametrize(
    "text",
    [
        '{"!": ' * 100_000 + "true" + "}" * 100_000,
        "[" * 100_000 + "]" * 100_000,
        '{"!": [' * 1_000 + "true" + "]}" * 1_000,
    ],
)
def test_deep_text_is_a_limit_error(text: str) -> None:
    with pytest.raises(RuleLimitError):
        node_from_jsonlogic(text)


def test_deep_python_document_is_a_limit_error() -> None:
    logic: Any = True
    for _ in range(100_000):
        logic = {"!": [logic]}
    with pytest.raises(RuleLimitError):
        node_from_jsonlogic(logic)


def test_depth_limit_counts_ast_levels() -> None:
    def nots(depth: int) -> Any:
        logic: Any = {"var": "x"}
        for _ in range(depth - 1):
            logic = {"!": logic}
        return logic

    assert isinstance(node_from_jsonlogic(nots(64)), NotNode)
    with pytest.raises(RuleLimitError) as caught:
        node_from_jsonlogic(nots(65))
    # Built bottom-up, the limit trips at the operation whose AST is too tall: the top of the chain.
    assert caught.value.path == "$"
    with pytest.raises(RuleLimitError) as caught:
        node_from_jsonlogic({"or": [True, {"!": [nots(64)]}]})
    assert caught.value.path == "$.or[1]"


def test_folded_sum_counts_its_depth() -> None:
    # 70 operands fold into 69 nested ArithNodes: deeper than 64 though the document is flat.
    assert isinstance(node_from_jsonlogic({"+": list(range(60))}), ArithNode)
    with pytest.raises(RuleLimitError) as caught:
        node_from_jsonlogic({"and": [{"+": list(range(70))}]})
    assert caught.value.path == "$.and[0]"


def test_between_counts_the_repeated_operand() -> None:
    logic = {"<": [1, {"var": "x"}, 2]}  # and(1 < x, x < 2): 7 nodes from 4 document values
    assert isinstance(node_from_jsonlogic(logic, limits=Limits(max_nodes=7)), AndNode)
    with pytest.raises(RuleLimitError):
        node_from_jsonlogic(logic, limits=Limits(max_nodes=6))


def test_list_literal_limit() -> None:
    logic = {"in": [{"var": "x"}, [1, 2, 3]]}
    assert isinstance(node_from_jsonlogic(logic, limits=Limits(max_list_items=3)), InNode)
    with pytest.raises(RuleLimitError) as caught:
        node_from_jsonlogic(logic, limits=Limits(max_list_items=2))
    assert caught.value.path == "$.in[1]"


def test_text_limit() -> None:
    with pytest.raises(RuleLimitError):
        node_from_jsonlogic('{"var": "abc"}', limits=Limits(max_text_length=5))
    with pytest.raises(RuleLimitError) as caught:
        node_from_jsonlogic({"and": [{"var": "x" * 50}]}, limits=Limits(max_text_length=40))
    assert caught.value.path == "$.and[0].var"


# ------------------------------------------------------------------------------------------ export


@pytest.mark.parametrize(
    ("node", "path", "message"),
    [
        (DateLit(value=date(2024, 6, 18)), "$", "date literal 2024-06-18 has no JsonLogic equivalent"),
        (
            AndNode(items=(field("x"), cmp(">", field("d"), DurationLit(value="3mo")))),
            "$.items[1].right",
            "duration literal 3mo has no JsonLogic equivalent",
        ),
        (
            CallNode(fn="days_since", args=(field("last_order_at"),)),
            "$",
            "function 'days_since' has no JsonLogic",
        ),
        (InNode(item=field("x"), values=field("y")), "$", "'in' has a JsonLogic equivalent only when"),
        (
            cmp("==", field("x"), DecimalLit(value=Decimal("0.1000000000000000000001"))),
            "$.right",
            "cannot be represented exactly",
        ),
        (cmp("==", field("x"), NullLit()), "$", "always unknown"),
        (cmp("!=", NullLit(), field("x")), "$", "always unknown"),
        (CallNode(fn="coalesce", args=(field("x"), field("y"))), "$", "coalesce(field, literal)"),
        (CallNode(fn="min", args=()), "$", "without arguments"),
        (ListLit(items=(IntLit(value=1), DateLit(value=date(2024, 1, 1)))), "$.items[1]", "date literal"),
    ],
)
def test_export_errors_name_the_node(node: Node, path: str, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        node_to_jsonlogic(node)
    assert caught.value.path == path
    assert message in caught.value.message


def test_export_shapes() -> None:
    rule = AndNode(
        items=(
            InNode(item=field("city"), values=strs("Beijing"), negated=True),
            IsNullNode(item=field("phone"), negated=True),
            CallNode(fn="contains", args=(field("tags"), StrLit(value="vip"))),
            CallNode(fn="coalesce", args=(field("points"), IntLit(value=0))),
            cmp("<", field("spend"), DecimalLit(value=Decimal("99.5"))),
        )
    )
    assert node_to_jsonlogic(rule) == {
        "and": [
            {"!": [{"in": [{"var": "city"}, ["Beijing"]]}]},
            {"!=": [{"var": "phone"}, None]},
            {"in": ["vip", {"var": "tags"}]},
            {"var": ["points", 0]},
            {"<": [{"var": "spend"}, 99.5]},
        ]
    }


def test_export_of_a_deep_ast_does_not_recurse() -> None:
    rule: Node = field("x")
    for _ in range(20_000):
        rule = NotNode(item=rule)
    logic = node_to_jsonlogic(rule)
    for _ in range(20_000):
        logic = logic["!"][0]
    assert logic == {"var": "x"}


# ------------------------------------------------------------------------------ export/import round trip

EXACT_DECIMALS = st.floats(allow_nan=False, allow_infinity=False).map(lambda f: Decimal(repr(f)))
FIELD_NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,15}(\.[a-z_][a-z0-9_]{0,15})?", fullmatch=True)
exportable_scalars: st.SearchStrategy[Node] = st.one_of(
    st.builds(IntLit, value=st.integers(-(2**63), 2**63 - 1)),
    st.builds(DecimalLit, value=EXACT_DECIMALS),
    st.builds(StrLit, value=st.text(max_size=20)),
    st.builds(BoolLit, value=st.booleans()),
    st.just(NullLit()),
)
exportable_lists = st.builds(ListLit, items=st.lists(exportable_scalars, max_size=4).map(tuple))
exportable_leaves = st.one_of(st.builds(FieldNode, name=FIELD_NAMES), exportable_scalars, exportable_lists)


def _null_free_equality(node: CmpNode) -> bool:
    return not (isinstance(node.left, NullLit) or isinstance(node.right, NullLit))


def _exportable_compound(kids: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    items = st.lists(kids, min_size=1, max_size=4).map(tuple)
    args = st.lists(kids, min_size=1, max_size=3).map(tuple)
    ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
    return st.one_of(
        st.builds(CmpNode, op=ops, left=kids, right=kids).filter(_null_free_equality),
        st.builds(AndNode, items=items),
        st.builds(OrNode, items=items),
        st.builds(NotNode, item=kids),
        st.builds(InNode, item=kids, values=exportable_lists, negated=st.booleans()),
        st.builds(IsNullNode, item=kids, negated=st.booleans()),
        st.builds(ArithNode, op=st.sampled_from(["+", "-", "*", "/", "%"]), left=kids, right=kids),
        st.builds(NegNode, item=kids),
        st.builds(CallNode, fn=st.sampled_from(["min", "max"]), args=args),
        st.builds(lambda haystack, needle: CallNode(fn="contains", args=(haystack, needle)), kids, kids),
        st.builds(
            lambda name, default: CallNode(fn="coalesce", args=(FieldNode(name=name), default)),
            FIELD_NAMES,
            st.one_of(exportable_scalars, exportable_lists),
        ),
    )


exportable_nodes = st.recursive(exportable_leaves, _exportable_compound, max_leaves=25)


def _expected_after_round_trip(node: Node) -> Node:
    """What an export and import give back: ``x not in [..]`` exports as ``!`` over ``in`` and so reads
    back as ``not (x in [..])``, and ``contains([..], x)`` exports as, and reads back as, ``x in [..]``."""
    updates: dict[str, Any] = {}
    for name in type(node).model_fields:
        value = getattr(node, name)
        if isinstance(value, BaseModel):
            updates[name] = _expected_after_round_trip(value)  # type: ignore[arg-type]
        elif isinstance(value, tuple):
            updates[name] = tuple(_expected_after_round_trip(item) for item in value)
    result = node.model_copy(update=updates)
    if isinstance(result, CallNode) and result.fn == "contains" and isinstance(result.args[0], ListLit):
        return InNode(item=result.args[1], values=result.args[0])
    if isinstance(result, InNode) and result.negated:
        return NotNode(item=result.model_copy(update={"negated": False}))
    return result


@given(exportable_nodes)
def test_export_import_round_trip(node: Node) -> None:
    logic = node_to_jsonlogic(node)
    expected = _expected_after_round_trip(node)
    assert node_from_jsonlogic(json.dumps(logic)) == expected
    if not isinstance(logic, str):  # a bare str would be read as JSON text
        assert node_from_jsonlogic(logic) == expected


@settings(max_examples=300)
@given(strategies.nodes())
def test_shared_strategy_nodes_export_or_refuse(node: Node) -> None:
    """Any AST either exports and reads back equal, or is refused with a RuleError (never a wrong one)."""
    try:
        logic = node_to_jsonlogic(node)
    except RuleError as exc:
        assert "JsonLogic" in exc.message or "exports only" in exc.message or "exactly" in exc.message
        return
    assert node_from_jsonlogic(json.dumps(logic)) == _expected_after_round_trip(node)


# -------------------------------------------------------------------------------------------- fuzz

OPERATORS = [*sorted(_jsonlogic._ARITY), "var", "missing", "missing_some", "if", "!!", "cat", "merge"]
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))


def _jsonlogic_containers(kids: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    operators = st.one_of(st.sampled_from(OPERATORS), st.text(max_size=4))
    return st.one_of(
        st.lists(kids, max_size=4),
        st.dictionaries(operators, kids, min_size=1, max_size=1),
        st.dictionaries(operators, st.lists(kids, max_size=4), min_size=1, max_size=1),
        st.dictionaries(operators, kids, max_size=3),
    )


json_values = st.recursive(json_scalars, _jsonlogic_containers, max_leaves=30)


def _accepts_or_rule_error(logic: Any) -> None:
    try:
        result = node_from_jsonlogic(logic)
    except RuleError as exc:
        assert exc.message
        return
    assert isinstance(result, BaseModel)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_fuzz_decoded(logic: Any) -> None:
    _accepts_or_rule_error(logic)


@settings(max_examples=200)
@given(json_values.map(json.dumps) | st.text(max_size=40))
def test_fuzz_text(text: str) -> None:
    _accepts_or_rule_error(text)


def test_docstring_examples() -> None:
    result = doctest.testmod(_jsonlogic, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0

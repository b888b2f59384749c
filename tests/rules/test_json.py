"""Reading and writing rules in their JSON form (user_ops.rules._json)."""

from __future__ import annotations

import doctest
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from user_ops import RuleError, RuleLimitError, RuleSyntaxError
from user_ops.rules import _json
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
from user_ops.rules._json import json_path, node_from_json, node_to_json
from user_ops.rules._limits import Limits

from . import strategies

# ------------------------------------------------------------------------- strategies (local until
# tests/rules/strategies.py lands)

INT64 = st.integers(-(2**63), 2**63 - 1)
DECIMALS = st.decimals(allow_nan=False, allow_infinity=False).filter(
    lambda d: d == 0 or -1000 <= d.adjusted() <= 1000
)
OFFSETS = st.integers(-23 * 60, 23 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
FIELD_NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,15}(\.[a-z_][a-z0-9_]{0,15})?", fullmatch=True)

scalar_literals: st.SearchStrategy[Node] = st.one_of(
    st.builds(IntLit, value=INT64),
    st.builds(DecimalLit, value=DECIMALS),
    st.builds(StrLit, value=st.text(max_size=30)),
    st.builds(BoolLit, value=st.booleans()),
    st.just(NullLit()),
    st.builds(DurationLit, value=st.sampled_from(["30d", "3mo", "1y6mo", "12h", "45s", "2w", "1d12h"])),
    st.builds(DateLit, value=st.dates()),
    st.builds(DateTimeLit, value=st.datetimes(timezones=OFFSETS)),
)
leaves = st.one_of(
    st.builds(FieldNode, name=FIELD_NAMES),
    scalar_literals,
    st.builds(ListLit, items=st.lists(scalar_literals, max_size=4).map(tuple)),
)


def _compound(kids: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    items = st.lists(kids, min_size=1, max_size=4).map(tuple)
    return st.one_of(
        st.builds(CmpNode, op=st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), left=kids, right=kids),
        st.builds(AndNode, items=items),
        st.builds(OrNode, items=items),
        st.builds(NotNode, item=kids),
        st.builds(InNode, item=kids, values=kids, negated=st.booleans()),
        st.builds(IsNullNode, item=kids, negated=st.booleans()),
        st.builds(ArithNode, op=st.sampled_from(["+", "-", "*", "/", "%"]), left=kids, right=kids),
        st.builds(NegNode, item=kids),
        st.builds(
            CallNode,
            fn=st.sampled_from(["days_since", "within", "coalesce", "min", "lower"]),
            args=st.lists(kids, max_size=3).map(tuple),
        ),
    )


nodes: st.SearchStrategy[Node] = st.recursive(leaves, _compound, max_leaves=25)

NODE_FIELDS = [
    "kind",
    "name",
    "value",
    "op",
    "left",
    "right",
    "items",
    "item",
    "values",
    "negated",
    "fn",
    "args",
]
KINDS = sorted(_json.NODE_KINDS)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from([*KINDS, "==", ">=", "+", "30d", "2024-06-18", "2024-06-18T20:00:00+08:00"]),
)


def _json_containers(kids: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.one_of(st.sampled_from(NODE_FIELDS), st.text(max_size=6))
    return st.one_of(
        st.lists(kids, max_size=4),
        st.dictionaries(keys, kids, max_size=4),
        # node-shaped objects get past the discriminator, so validation goes deeper
        st.builds(
            lambda kind, rest: {"kind": kind, **rest}, st.sampled_from(KINDS), st.dictionaries(keys, kids)
        ),
    )


json_values = st.recursive(json_scalars, _json_containers, max_leaves=30)


def _accepts_or_rule_error(obj: Any) -> None:
    """node_from_json either returns a node or raises a user_ops RuleError, nothing else."""
    try:
        result = node_from_json(obj)
    except RuleError as exc:
        assert exc.message
        return
    assert isinstance(result, BaseModel)


# ------------------------------------------------------------------------------------ round trips


@given(nodes)
def test_dict_round_trip(node: Node) -> None:
    assert node_from_json(node_to_json(node)) == node


@settings(max_examples=300)
@given(strategies.nodes())
def test_round_trip_of_shared_strategy_nodes(node: Node) -> None:
    """The shared strategies reach the extremes: int64 bounds, decimal exponents, odd offsets."""
    try:
        dumped = node_to_json(node)
    except RuleError as exc:  # only a sub-minute offset whose UTC time leaves years 1..9999
        assert "out of range" in exc.message
        return
    assert node_from_json(dumped) == node
    assert node_from_json(json.dumps(dumped)) == node


@given(nodes)
def test_text_and_bytes_round_trip(node: Node) -> None:
    text = json.dumps(node_to_json(node), ensure_ascii=False)
    assert node_from_json(text) == node
    assert node_from_json(text.encode("utf-8")) == node


@given(nodes)
def test_dump_is_plain_json(node: Node) -> None:
    dumped = node_to_json(node)
    assert json.loads(json.dumps(dumped)) == dumped


def test_dump_writes_decimals_as_strings_and_dates_in_iso() -> None:
    rule = InNode(
        item=FieldNode(name="spend"),
        values=ListLit(
            items=(
                DecimalLit(value=Decimal("1000.50")),
                DateLit(value=date(2024, 6, 18)),
                DateTimeLit(value=datetime(2024, 6, 18, 20, tzinfo=timezone(timedelta(hours=8)))),
                DurationLit(value="3mo"),
            )
        ),
    )
    assert node_to_json(rule)["values"]["items"] == [
        {"kind": "decimal", "value": "1000.50"},
        {"kind": "date", "value": "2024-06-18"},
        {"kind": "datetime", "value": "2024-06-18T20:00:00+08:00"},
        {"kind": "duration", "value": "3mo"},
    ]
    assert node_to_json(rule)["negated"] is False


@pytest.mark.parametrize(
    "offset", [timedelta(hours=8, minutes=5, seconds=43), timedelta(microseconds=1), timedelta(seconds=-30)]
)
def test_sub_minute_offsets_keep_their_instant(offset: timedelta) -> None:
    # pydantic alone writes +08:05:43 as +08:05, moving the instant by 43 seconds: the AST keeps such
    # literals in UTC.
    node = DateTimeLit(value=datetime(1900, 1, 1, 12, tzinfo=timezone(offset)))
    dumped = node_to_json(node)
    assert dumped["value"].endswith(("+00:00", "Z"))
    read = node_from_json(json.dumps(dumped))
    assert isinstance(read, DateTimeLit)
    assert read.value == node.value
    assert read == node


def test_sub_minute_offset_out_of_utc_range_is_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        DateTimeLit(value=datetime(1, 1, 1, tzinfo=timezone(timedelta(seconds=30))))


def test_text_decimals_are_exact() -> None:
    # Read through float, 0.1000000000000000000001 would become 0.1.
    rule = node_from_json('{"kind": "decimal", "value": 0.1000000000000000000001}')
    assert rule == DecimalLit(value=Decimal("0.1000000000000000000001"))


# ------------------------------------------------------------------------------------------ errors

CMP_MISSING_RIGHT = {"kind": "cmp", "op": ">=", "left": {"kind": "field", "name": "x"}}
X = {"kind": "field", "name": "x"}
ONE = {"kind": "int", "value": 1}


@pytest.mark.parametrize(
    ("doc", "path", "message"),
    [
        ({"kind": "and", "items": [CMP_MISSING_RIGHT]}, "$.items[0]", "missing field 'right'"),
        (
            {"kind": "cmpp"},
            "$",
            (
                "unknown node kind 'cmpp' (expected one of: and, arith, bool, call, cmp, date, datetime, "
                "decimal, duration, field, in, int, is_null, list, neg, not, null, or, str)"
            ),
        ),
        ({"kind": "cmp", "op": "==", "left": X, "right": ONE, "foo": 1}, "$.foo", "unexpected field 'foo'"),
        (
            {"kind": "cmp", "op": "==", "left": {"kind": "int", "value": 2**63}, "right": ONE},
            "$.left.value",
            "integer literal 9223372036854775808 is outside the int64 range",
        ),
        (
            {"kind": "cmp", "op": "<>", "left": X, "right": ONE},
            "$.op",
            "invalid value for 'op': '<>' (expected one of: '==', '!=', '<', '<=', '>' or '>=')",
        ),
        ({"kind": "or", "items": []}, "$.items", "field 'items' must not be empty"),
        ({"kind": "not", "item": {"name": "x"}}, "$.item", "missing field 'kind'"),
        ({"kind": ["and"]}, "$", "'kind' must be a string naming the node kind (one of: and, "),
        ('{"kind": "cmp", "op": 1.5}', "$.op", "invalid value for 'op': 1.5 (expected one of"),
        ({"kind": "not", "item": [X]}, "$.item", "expected a node (a JSON object with a 'kind'), got array"),
        ([X], "$", "expected a node (a JSON object with a 'kind'), got array"),
        ("3", "$", "expected a node (a JSON object with a 'kind'), got number"),
        (
            {"kind": "in", "item": X, "values": {"kind": "list", "items": [ONE, X]}},
            "$.values.items[1]",
            (
                "node kind 'field' is not allowed here (expected one of: bool, date, datetime, decimal, "
                "duration, int, null, str)"
            ),
        ),
        (
            {"kind": "date", "value": "2024-13-01"},
            "$.value",
            "invalid value for 'value': input should be a valid date",
        ),
        ({"kind": "duration", "value": "30x"}, "$.value", "invalid duration '30x'"),
        ({"kind": "datetime", "value": "2024-06-18T20:00:00"}, "$.value", "timezone"),
        (
            {"kind": "int", "value": True},
            "$.value",
            "invalid value for 'value': input should be a valid integer",
        ),
        ({"kind": "int", "value": "3"}, "$.value", "valid integer"),
        ({"kind": "decimal", "value": "1e5000"}, "$.value", "out of range"),
        ('{"kind": "int", "value": NaN}', "$.value", "NaN is not valid JSON"),
        ({"kind": "cmp", "cmp": 1, "op": "==", "left": X, "right": ONE}, "$.cmp", "unexpected field 'cmp'"),
        ({"kind": "call", "fn": "f", "args": [X, {"kind": "neg"}]}, "$.args[1]", "missing field 'item'"),
        ({"kind": "not", "item": {"kind": "null", 1: 2}}, "$.item[1]", "object keys must be strings"),
        ({"kind": "not", "item": {1, 2}}, "$.item", "not a JSON value: set"),
        ({"kind": "not", "item": X, "z": FieldNode(name="x")}, "$.z", "not a JSON value: FieldNode"),
    ],
)
def test_invalid_documents_name_the_path(doc: Any, path: str, message: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        node_from_json(doc)
    assert caught.value.path == path
    assert message in caught.value.message


def test_invalid_json_text_has_line_and_column() -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        node_from_json('{"kind": "int",\n "value": }')
    assert (caught.value.line, caught.value.column) == (2, 11)
    assert "invalid JSON" in caught.value.message
    assert "^" in str(caught.value)  # the caret snippet


def test_undecodable_bytes() -> None:
    with pytest.raises(RuleSyntaxError, match="not valid utf-8"):
        node_from_json(b'{"kind": "str", "value": "\xff"}')


def test_validation_error_never_escapes() -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        node_from_json({"kind": "cmp"})
    assert caught.value.__cause__ is None  # raised from None: no pydantic traceback attached


# ------------------------------------------------------------------------------------------ limits


def _nested_not(depth: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"kind": "field", "name": "x"}
    for _ in range(depth - 1):
        doc = {"kind": "not", "item": doc}
    return doc


def test_depth_limit_is_inclusive_and_names_the_first_node_too_deep() -> None:
    assert isinstance(node_from_json(_nested_not(64)), NotNode)
    with pytest.raises(RuleLimitError) as caught:
        node_from_json(_nested_not(65))
    assert caught.value.path == "$" + ".item" * 64
    assert "64 levels" in caught.value.message


def test_depth_limit_follows_limits() -> None:
    limits = Limits(max_depth=200)
    assert isinstance(node_from_json(_nested_not(200), limits=limits), NotNode)
    with pytest.raises(RuleLimitError):
        node_from_json(_nested_not(3), limits=Limits(max_depth=2))


def test_node_limit() -> None:
    doc = {"kind": "and", "items": [X] * 5}  # 6 nodes
    assert isinstance(node_from_json(doc, limits=Limits(max_nodes=6)), AndNode)
    with pytest.raises(RuleLimitError) as caught:
        node_from_json(doc, limits=Limits(max_nodes=5))
    assert caught.value.path == "$.items[4]"


def test_list_literal_limit() -> None:
    doc = {"kind": "in", "item": X, "values": {"kind": "list", "items": [ONE] * 4}}
    assert isinstance(node_from_json(doc, limits=Limits(max_list_items=4)), InNode)
    with pytest.raises(RuleLimitError) as caught:
        node_from_json(doc, limits=Limits(max_list_items=3))
    assert caught.value.path == "$.values.items"
    assert "4 items" in caught.value.message


def test_and_items_are_not_list_literals() -> None:
    # ``and`` holds nodes, bounded by max_nodes; max_list_items is for list literals only.
    doc = {"kind": "and", "items": [X] * 10}
    assert len(node_from_json(doc, limits=Limits(max_list_items=3)).items) == 10  # type: ignore[union-attr]


def test_text_length_limit() -> None:
    text = json.dumps(X)
    assert node_from_json(text, limits=Limits(max_text_length=len(text))) == FieldNode(name="x")
    with pytest.raises(RuleLimitError) as caught:
        node_from_json(text, limits=Limits(max_text_length=len(text) - 1))
    assert caught.value.path == "$"


def test_string_size_limit_on_decoded_documents() -> None:
    doc = {"kind": "cmp", "op": "==", "left": X, "right": {"kind": "str", "value": "x" * 100}}
    with pytest.raises(RuleLimitError) as caught:
        node_from_json(doc, limits=Limits(max_text_length=100))
    assert caught.value.path == "$.right.value"


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"kind": "not", "item": ' * 100_000 + '{"kind": "null"}' + "}" * 100_000,
        '{"kind": "not", "item": ' * 300 + '{"kind": "null"}' + "}" * 300,  # within json's own recursion
    ],
)
def test_deep_text_is_a_limit_error_not_a_recursion_error(text: str) -> None:
    with pytest.raises(RuleLimitError):
        node_from_json(text)


def test_deep_python_document_is_a_limit_error() -> None:
    doc: Any = {"kind": "null"}
    for _ in range(100_000):
        doc = {"kind": "not", "item": doc}
    with pytest.raises(RuleLimitError) as caught:
        node_from_json(doc)
    assert caught.value.path == "$" + ".item" * 64
    deep_list: Any = []
    for _ in range(100_000):
        deep_list = [deep_list]
    with pytest.raises(RuleLimitError):
        node_from_json({"kind": "and", "items": deep_list})


def test_long_or_is_flat() -> None:
    doc = {"kind": "or", "items": [X] * 10_000}
    rule = node_from_json(json.dumps(doc))
    assert isinstance(rule, OrNode)
    assert len(rule.items) == 10_000


# -------------------------------------------------------------------------------------------- fuzz


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_fuzz_decoded_documents(doc: Any) -> None:
    _accepts_or_rule_error(doc)


@settings(max_examples=200)
@given(st.text(max_size=60))
def test_fuzz_text(text: str) -> None:
    _accepts_or_rule_error(text)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(nodes, st.data())
def test_fuzz_mutated_valid_documents(node: Node, data: st.DataObject) -> None:
    """Replace one value inside a valid document with arbitrary JSON: still only RuleError or a node."""
    doc = node_to_json(node)
    slots: list[tuple[Any, Any]] = []
    stack: list[Any] = [doc]
    while stack:
        current = stack.pop()
        pairs = current.items() if isinstance(current, dict) else enumerate(current)
        for key, value in pairs:
            slots.append((current, key))
            if isinstance(value, (dict, list)):
                stack.append(value)
    container, key = data.draw(st.sampled_from(slots))
    container[key] = data.draw(json_values)
    _accepts_or_rule_error(doc)
    _accepts_or_rule_error(json.dumps(doc, default=str))


# ------------------------------------------------------------------------------------------ helpers


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([], "$"),
        (["items", 0, "left"], "$.items[0].left"),
        (["and", 2, "=="], "$.and[2]['==']"),
        (["it's"], "$['it\\'s']"),
        (["a.b"], "$['a.b']"),
    ],
)
def test_json_path(steps: list[object], expected: str) -> None:
    assert json_path(steps) == expected


def test_docstring_examples() -> None:
    result = doctest.testmod(_json, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


@settings(max_examples=60, deadline=None)
@given(node=strategies.nodes())
def test_rule_json_schema_accepts_every_rule_document(node: Node) -> None:
    import jsonschema

    from user_ops import Rule

    jsonschema.validate(node_to_json(node), Rule.json_schema())


def test_rule_json_schema_rejects_a_malformed_document() -> None:
    import jsonschema

    from user_ops import Rule

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"kind": "cmp", "op": ">"}, Rule.json_schema())

"""Hypothesis strategies for VALID rule ASTs, shared by the rule tests.

Every strategy takes the field names to draw from (``fields``: a sequence of names or a strategy of
names; ``None`` means :func:`field_names`, which mixes plain, dotted, unicode and awkward names that
need backquotes) and a ``max_depth``: generated trees are at most that deep, counting a leaf as depth 1
and a non-empty list literal as depth 2 (the same measure as ``Limits.max_depth``).

* :func:`literal_nodes` - every literal kind, extremes included (int64 bounds, decimal exponents at
  +-1000, lone surrogates and escapes in strings, offsets with seconds on datetimes).
* :func:`value_nodes` - literals, fields, arithmetic, negation and calls.
* :func:`boolean_nodes` - comparisons, in, is null, contains/within, not, and/or (1 to 5 items).
* :func:`nodes` - any node in any position (what the printer and the JSON form must round-trip).

Helpers :func:`ast_depth` and :func:`ast_size` measure a tree without recursion.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import strategies as st

from user_ops._time import parse_duration
from user_ops.exceptions import DataError
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
    children,
)

__all__ = [
    "DEFAULT_FIELD_NAMES",
    "FUNCTION_NAMES",
    "ast_depth",
    "ast_size",
    "boolean_nodes",
    "field_names",
    "field_nodes",
    "function_names",
    "list_nodes",
    "literal_nodes",
    "nodes",
    "scalar_literal_nodes",
    "value_nodes",
    "walk",
]

FieldsArg = Sequence[str] | st.SearchStrategy[str] | None

DEFAULT_FIELD_NAMES: tuple[str, ...] = (
    # plain
    "orders_90d",
    "spend_90d",
    "city",
    "tags",
    "last_order_at",
    "joined_at",
    "user.profile.level",
    "消费金额",
    "会员.等级",
    "_private",
    "Ünïcode_ß",
    # need backquotes
    "and",
    "NULL",
    "True",
    "a.in",
    "contains.x",
    "order count",
    "a`b",
    'say "hi"',
    "back\\slash",
    "line\nbreak",
    "tab\there",
    "a..b",
    ".lead",
    "trail.",
    "1st",
    "-",
    "\u2028",
    "x" * 200,
)

FUNCTION_NAMES: tuple[str, ...] = (
    "days_since",
    "coalesce",
    "lower",
    "min",
    "any_of",
    "geo.distance",
    "统计",
    # keywords and odd names: printed backquoted
    "contains",
    "within",
    "and",
    "Or",
    "NOT",
    "my plugin",
    "f`n",
)

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# Control and format characters included; lone surrogates (which pydantic refuses in a str) not.
_ANY_CHAR = st.characters(codec="utf-8")
_DURATION_UNITS = ("y", "mo", "w", "d", "h", "min", "s")
_SPECIAL_DECIMALS = (
    Decimal("0"),
    Decimal("-0"),
    Decimal("0E-5000"),
    Decimal("1E+1000"),
    Decimal("-9.999999E+1000"),
    Decimal("1E-1000"),
    Decimal("100"),
    Decimal("-1.50"),
)


# ------------------------------------------------------------------------------------------ names


def field_names() -> st.SearchStrategy[str]:
    """Field names: the interesting fixed ones and arbitrary text (1 to 30 characters)."""
    return st.one_of(st.sampled_from(DEFAULT_FIELD_NAMES), st.text(_ANY_CHAR, min_size=1, max_size=30))


def function_names() -> st.SearchStrategy[str]:
    """Function names, including keywords and names that need backquotes."""
    return st.one_of(st.sampled_from(FUNCTION_NAMES), st.text(_ANY_CHAR, min_size=1, max_size=100))


def _names(fields: FieldsArg) -> st.SearchStrategy[str]:
    if fields is None:
        return field_names()
    if isinstance(fields, st.SearchStrategy):
        return fields
    return st.sampled_from(list(fields))


def field_nodes(fields: FieldsArg = None) -> st.SearchStrategy[Node]:
    """``FieldNode`` over ``fields``."""
    return st.builds(FieldNode, name=_names(fields))


# --------------------------------------------------------------------------------------- literals


def _decimal_in_range(value: Decimal) -> bool:
    return value == 0 or -1000 <= value.adjusted() <= 1000


def _decimals() -> st.SearchStrategy[Decimal]:
    built = st.builds(
        lambda sign, digits, exponent: Decimal((sign, tuple(digits), exponent)),
        st.integers(0, 1),
        st.lists(st.integers(0, 9), min_size=1, max_size=40),
        st.integers(-1040, 1000),
    )
    return st.one_of(
        st.sampled_from(_SPECIAL_DECIMALS),
        st.decimals(allow_nan=False, allow_infinity=False),
        built,
    ).filter(_decimal_in_range)


def _duration_text(parts: dict[str, int]) -> str:
    return "".join(f"{parts[unit]}{unit}" for unit in _DURATION_UNITS if unit in parts)


def _duration_is_valid(text: str) -> bool:
    try:
        parse_duration(text)
    except DataError:  # longer than 10,000 years
        return False
    return True


def _durations() -> st.SearchStrategy[Node]:
    parts = st.dictionaries(st.sampled_from(_DURATION_UNITS), st.integers(0, 9_999), min_size=1, max_size=4)
    return parts.map(_duration_text).filter(_duration_is_valid).map(lambda text: DurationLit(value=text))


def _fixed_offsets() -> st.SearchStrategy[timezone]:
    # Fixed offsets only: a zoneinfo time in a DST fold never compares equal across zones, so no text
    # form (which carries the offset) could give back an *equal* datetime.
    day = timedelta(hours=24)
    return st.one_of(
        st.just(timezone.utc),
        st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda minutes: timezone(timedelta(minutes=minutes))),
        st.timedeltas(
            min_value=-day + timedelta(microseconds=1), max_value=day - timedelta(microseconds=1)
        ).map(timezone),
    )


def scalar_literal_nodes() -> st.SearchStrategy[Node]:
    """Every literal kind except lists."""
    return st.one_of(
        st.builds(
            IntLit,
            value=st.one_of(
                st.integers(_INT64_MIN, _INT64_MAX), st.sampled_from([_INT64_MIN, _INT64_MAX, 0, -1])
            ),
        ),
        st.builds(DecimalLit, value=_decimals()),
        st.builds(
            StrLit,
            value=st.one_of(
                st.text(_ANY_CHAR, max_size=30), st.sampled_from(['"', "'", "\\", "`", "\\u0041", "北京", ""])
            ),
        ),
        st.builds(BoolLit, value=st.booleans()),
        st.just(NullLit()),
        _durations(),
        st.builds(DateLit, value=st.dates()),
        # A day off each end of the calendar: 0001-01-01 at a positive offset is before year 1 in UTC,
        # which no literal can hold (DateTimeLit refuses it; a test of the parser would fail instead).
        st.builds(
            DateTimeLit,
            value=st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=_fixed_offsets()),
        ),
    )


def list_nodes() -> st.SearchStrategy[Node]:
    """List literals of 0 to 5 scalar literals."""
    return st.builds(ListLit, items=st.lists(scalar_literal_nodes(), max_size=5).map(tuple))


def literal_nodes() -> st.SearchStrategy[Node]:
    """Every literal kind, lists included (depth at most 2)."""
    return st.one_of(scalar_literal_nodes(), list_nodes())


def _leaves(fields: FieldsArg, max_depth: int) -> st.SearchStrategy[Node]:
    """Depth-1 nodes, plus list literals once depth 2 is allowed."""
    leaves = st.one_of(scalar_literal_nodes(), field_nodes(fields))
    return st.one_of(leaves, list_nodes()) if max_depth >= 2 else leaves


def _items(sub: st.SearchStrategy[Node]) -> st.SearchStrategy[tuple[Node, ...]]:
    return st.lists(sub, min_size=1, max_size=5).map(tuple)


def _args(sub: st.SearchStrategy[Node]) -> st.SearchStrategy[tuple[Node, ...]]:
    return st.lists(sub, max_size=3).map(tuple)


_CMP_OPS = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
_ARITH_OPS = st.sampled_from(["+", "-", "*", "/", "%"])


# ------------------------------------------------------------------------------------ expressions


_CACHE: dict[tuple[str, object, int], st.SearchStrategy[Node]] = {}


@st.composite
def _trees(draw: st.DrawFn, kind: str, fields: FieldsArg, max_depth: int) -> Node:
    """Draw from the (kind, fields, depth) strategy, built once and shared by every level above.

    The indirection also keeps the strategy's repr (printed with every failure) one line long.
    """
    key = (
        kind,
        fields if fields is None or isinstance(fields, st.SearchStrategy) else tuple(fields),
        max_depth,
    )
    strategy = _CACHE.get(key)
    if strategy is None:
        strategy = _CACHE[key] = _BUILDERS[kind](fields, max_depth)
    return draw(strategy)


def value_nodes(fields: FieldsArg = None, max_depth: int = 3) -> st.SearchStrategy[Node]:
    """Value expressions: literals, fields, arithmetic, unary minus and calls, at most ``max_depth`` deep."""
    return _trees("value", fields, max_depth)


def _value_nodes(fields: FieldsArg, max_depth: int) -> st.SearchStrategy[Node]:
    leaves = _leaves(fields, max_depth)
    if max_depth <= 1:
        return leaves
    sub = value_nodes(fields, max_depth - 1)
    return st.one_of(
        leaves,
        st.builds(ArithNode, op=_ARITH_OPS, left=sub, right=sub),
        st.builds(NegNode, item=sub),
        st.builds(CallNode, fn=function_names(), args=_args(sub)),
    )


def boolean_nodes(fields: FieldsArg = None, max_depth: int = 3) -> st.SearchStrategy[Node]:
    """Conditions: predicates over :func:`value_nodes` joined by not/and/or, at most ``max_depth`` deep."""
    return _trees("boolean", fields, max_depth)


def _boolean_nodes(fields: FieldsArg, max_depth: int) -> st.SearchStrategy[Node]:
    leaves = st.one_of(st.builds(BoolLit, value=st.booleans()), field_nodes(fields))
    if max_depth <= 1:
        return leaves
    values = value_nodes(fields, max_depth - 1)
    sub = boolean_nodes(fields, max_depth - 1)
    lists_or_values = st.one_of(list_nodes(), values) if max_depth >= 3 else values
    return st.one_of(
        leaves,
        st.builds(CmpNode, op=_CMP_OPS, left=values, right=values),
        st.builds(InNode, item=values, values=lists_or_values, negated=st.booleans()),
        st.builds(IsNullNode, item=values, negated=st.booleans()),
        st.builds(CallNode, fn=st.sampled_from(["contains", "within"]), args=st.tuples(values, values)),
        st.builds(NotNode, item=sub),
        st.builds(AndNode, items=_items(sub)),
        st.builds(OrNode, items=_items(sub)),
    )


def nodes(fields: FieldsArg = None, max_depth: int = 4) -> st.SearchStrategy[Node]:
    """Any valid AST, any node kind in any position, at most ``max_depth`` deep."""
    return _trees("any", fields, max_depth)


def _any_nodes(fields: FieldsArg, max_depth: int) -> st.SearchStrategy[Node]:
    leaves = _leaves(fields, max_depth)
    if max_depth <= 1:
        return leaves
    sub = nodes(fields, max_depth - 1)
    return st.one_of(
        leaves,
        st.builds(CmpNode, op=_CMP_OPS, left=sub, right=sub),
        st.builds(AndNode, items=_items(sub)),
        st.builds(OrNode, items=_items(sub)),
        st.builds(NotNode, item=sub),
        st.builds(InNode, item=sub, values=sub, negated=st.booleans()),
        st.builds(IsNullNode, item=sub, negated=st.booleans()),
        st.builds(ArithNode, op=_ARITH_OPS, left=sub, right=sub),
        st.builds(NegNode, item=sub),
        st.builds(CallNode, fn=function_names(), args=_args(sub)),
    )


_BUILDERS: dict[str, Callable[[FieldsArg, int], st.SearchStrategy[Node]]] = {
    "value": _value_nodes,
    "boolean": _boolean_nodes,
    "any": _any_nodes,
}


# ---------------------------------------------------------------------------------------- measures


def ast_depth(node: Node) -> int:
    """Depth of the tree (a leaf is 1), computed without recursion."""
    deepest = 0
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for _, child in children(current))
    return deepest


def ast_size(node: Node) -> int:
    """Number of nodes in the tree, computed without recursion."""
    count = 0
    stack = [node]
    while stack:
        current = stack.pop()
        count += 1
        stack.extend(child for _, child in children(current))
    return count


def walk(node: Node) -> list[Node]:
    """Every node of the tree, root first (depth-first), without recursion."""
    found: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(child for _, child in reversed(children(current)))
    return found

"""The canonical rule AST: a pydantic discriminated union on ``kind``; this is the rule's JSON form.

Every node is a frozen model; ``and``/``or`` hold flat tuples (n-ary), so a chain of 10,000 conditions is
as shallow as a chain of two. Literal nodes carry their type in ``kind`` so JSON, which has no dates,
decimals or durations, round-trips exactly.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Annotated, ClassVar, Literal, Union

from pydantic import AwareDatetime, ConfigDict, Field, TypeAdapter, field_validator

from user_ops._policy import ValidatedModel
from user_ops._time import parse_duration
from user_ops.exceptions import DataError, RuleSyntaxError, UserOpsError

__all__ = [
    "LITERAL_KINDS",
    "NODE_ADAPTER",
    "AndNode",
    "ArithNode",
    "ArithOp",
    "BoolLit",
    "CallNode",
    "CmpNode",
    "CompareOp",
    "DateLit",
    "DateTimeLit",
    "DecimalLit",
    "DurationLit",
    "FieldNode",
    "InNode",
    "IntLit",
    "IsNullNode",
    "ListLit",
    "NegNode",
    "Node",
    "NotNode",
    "NullLit",
    "OrNode",
    "StrLit",
    "children",
]

CompareOp = Literal["==", "!=", "<", "<=", ">", ">="]
ArithOp = Literal["+", "-", "*", "/", "%"]


class _Node(ValidatedModel):
    """The base of the rule AST's node classes.

    Parameters
    ----------
    kind:
        The node type, fixed by the class: the ``kind`` of its JSON form (``{"kind": "field", ...}``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)
    # A node built by hand from bad values is a rule that cannot be read, like bad rule text.
    invalid_input_error: ClassVar[type[UserOpsError]] = RuleSyntaxError


class FieldNode(_Node):
    """A reference to a field of the customer record (a column in batch form); dots allowed.

    Attributes
    ----------
    name:
        The field (column) name, e.g. ``orders_90d`` or ``member.level``.

    Examples
    --------
    >>> from user_ops import Rule
    >>> Rule.parse("orders_90d >= 3").node.left == FieldNode(name="orders_90d")
    True
    >>> FieldNode(name="member.level").model_dump()
    {'kind': 'field', 'name': 'member.level'}
    """

    kind: Literal["field"] = "field"
    name: Annotated[str, Field(min_length=1, max_length=200)]


class IntLit(_Node):
    """An integer literal (``3``), within the int64 range.

    Attributes
    ----------
    value:
        The integer (a ``bool`` is not accepted).

    Examples
    --------
    >>> from user_ops import Rule
    >>> Rule.parse("orders_90d >= 3").node.right
    IntLit(kind='int', value=3)
    >>> IntLit(value=3).model_dump()
    {'kind': 'int', 'value': 3}
    """

    kind: Literal["int"] = "int"
    value: Annotated[int, Field(strict=True)]

    @field_validator("value")
    @classmethod
    def _in_int64(cls, value: int) -> int:
        if not -(2**63) <= value < 2**63:
            raise ValueError(f"integer literal {value} is outside the int64 range")
        return value


class DecimalLit(_Node):
    """An exact decimal literal (``1000.50``); JSON carries it as a string.

    Attributes
    ----------
    value:
        The ``Decimal`` (finite; exponent within ±1000).

    Examples
    --------
    >>> from user_ops import Rule
    >>> rule = Rule.parse("spend_90d > 1000.50")
    >>> rule.node.right.value
    Decimal('1000.50')
    >>> rule.to_dict()["right"]
    {'kind': 'decimal', 'value': '1000.50'}
    """

    kind: Literal["decimal"] = "decimal"
    value: Annotated[Decimal, Field(allow_inf_nan=False)]

    @field_validator("value")
    @classmethod
    def _bounded(cls, value: Decimal) -> Decimal:
        # Bounded exponents keep arithmetic inside the decimal context (no Overflow deep inside).
        if value != 0 and not -1000 <= value.adjusted() <= 1000:
            raise ValueError(f"decimal literal {value} is out of range (|exponent| > 1000)")
        return value


class StrLit(_Node):
    """A string literal (``"北京"``).

    Attributes
    ----------
    value:
        The text (at most 10,000 characters).

    Examples
    --------
    >>> from user_ops import Rule
    >>> Rule.parse('city == "北京"').node.right == StrLit(value="北京")
    True
    """

    kind: Literal["str"] = "str"
    value: Annotated[str, Field(max_length=10_000)]


class BoolLit(_Node):
    """``true`` or ``false``.

    Attributes
    ----------
    value:
        The boolean (strict: ``1`` or ``"true"`` are not accepted).

    Examples
    --------
    >>> from user_ops import Rule
    >>> Rule(CmpNode(op="==", left=FieldNode(name="is_member"), right=BoolLit(value=True))).to_text()
    'is_member == true'
    """

    kind: Literal["bool"] = "bool"
    value: Annotated[bool, Field(strict=True)]


class NullLit(_Node):
    """``null``: the missing value.

    A comparison with ``null`` is unknown (SQL three-valued logic), so ``Rule`` refuses a comparison
    with a null literal, which could never match; test for a missing value with ``is null``
    ([`IsNullNode`][]).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> from user_ops import Rule
    >>> rule = Rule.parse("coalesce(city, null) is null")
    >>> rule.node.item.args[1]
    NullLit(kind='null')
    >>> rule.value_one({"city": None}, as_of=as_of)
    True
    >>> from user_ops import RuleSyntaxError
    >>> try:
    ...     Rule.parse("city == null")
    ... except RuleSyntaxError as exc:
    ...     print(*exc.message.split("; "), sep="\\n")
    `city == null` never matches (a comparison with null is unknown)
    write `city is null`
    """

    kind: Literal["null"] = "null"


class DurationLit(_Node):
    """A duration (``30d``, ``3mo``, ``1y6mo``), stored in canonical text form.

    Attributes
    ----------
    value:
        The duration text; months and years are calendar-aware.

    Examples
    --------
    >>> DurationLit(value="18mo").value
    '1y6mo'
    """

    kind: Literal["duration"] = "duration"
    value: str

    @field_validator("value")
    @classmethod
    def _canonical(cls, value: str) -> str:
        try:
            return parse_duration(value).text
        except DataError as exc:
            raise ValueError(str(exc)) from None


class DateLit(_Node):
    """A calendar date (``2024-06-18``).

    Attributes
    ----------
    value:
        The ``date`` (a ``datetime`` is rejected: use [`DateTimeLit`][]).

    Examples
    --------
    >>> from user_ops import Rule
    >>> Rule.parse("birthday >= 2000-01-01").node.right.value
    datetime.date(2000, 1, 1)
    """

    kind: Literal["date"] = "date"
    value: date

    @field_validator("value", mode="before")
    @classmethod
    def _date_only(cls, value: object) -> object:
        if isinstance(value, datetime):
            raise ValueError("a date literal must not carry a time; use a datetime literal")
        return value


class DateTimeLit(_Node):
    """A timezone-aware instant (``2024-06-18T20:00:00+08:00``).

    Attributes
    ----------
    value:
        The aware ``datetime``; an offset with seconds is kept in UTC so JSON round-trips it exactly.

    Examples
    --------
    >>> from user_ops import Rule
    >>> instant = Rule.parse("last_order_at < 2024-06-18T20:00:00+08:00").node.right.value
    >>> instant.isoformat()
    '2024-06-18T20:00:00+08:00'
    """

    kind: Literal["datetime"] = "datetime"
    value: AwareDatetime

    @field_validator("value")
    @classmethod
    def _whole_minute_offset(cls, value: datetime) -> datetime:
        # JSON writes offsets to the minute: an offset with seconds (historical LMT) would move the
        # instant on a round trip, so such a value is kept in UTC instead.
        offset = value.utcoffset()
        if offset is not None and (offset.seconds % 60 or offset.microseconds):
            try:
                return value.astimezone(timezone.utc)
            except OverflowError:
                raise ValueError(f"datetime literal {value.isoformat()} is out of range in UTC") from None
        return value


class ListLit(_Node):
    """A list of literals (``["北京", "上海"]``), used by ``in``, ``any_of`` and ``all_of``.

    Attributes
    ----------
    items:
        The literals (no nested lists).

    Examples
    --------
    >>> from user_ops import Rule
    >>> values = Rule.parse('city in ["北京", "上海"]').node.values
    >>> [item.value for item in values.items]
    ['北京', '上海']
    """

    kind: Literal["list"] = "list"
    items: tuple[
        Annotated[
            Union[IntLit, DecimalLit, StrLit, BoolLit, NullLit, DurationLit, DateLit, DateTimeLit],
            Field(discriminator="kind"),
        ],
        ...,
    ]


class CmpNode(_Node):
    """A comparison ``left op right``.

    Attributes
    ----------
    op:
        One of ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``.
    left, right:
        The operands.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> from user_ops import Rule
    >>> node = CmpNode(op=">=", left=FieldNode(name="orders_90d"), right=IntLit(value=3))
    >>> Rule(node).to_text(), Rule(node).evaluate_one({"orders_90d": 4}, as_of=as_of)
    ('orders_90d >= 3', True)
    """

    kind: Literal["cmp"] = "cmp"
    op: CompareOp
    left: Node
    right: Node


class AndNode(_Node):
    """True when every item is true (n-ary).

    False when any item is false, else unknown when any item is unknown.

    Attributes
    ----------
    items:
        The conditions (at least one), flat: ``a and b and c`` is one node with three items.

    Examples
    --------
    >>> from user_ops import Rule
    >>> node = Rule.parse('orders_90d >= 3 and spend_90d > 1000 and city == "北京"').node
    >>> type(node).__name__, len(node.items)
    ('AndNode', 3)
    """

    kind: Literal["and"] = "and"
    items: Annotated[tuple[Node, ...], Field(min_length=1)]


class OrNode(_Node):
    """True when any item is true (n-ary).

    False when every item is false, else unknown when any item is unknown.

    Attributes
    ----------
    items:
        The conditions (at least one), flat like [`AndNode`][].

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> from user_ops import Rule
    >>> rule = Rule.parse("is_vip == true or spend_365d >= 5000")
    >>> type(rule.node).__name__, rule.evaluate_one({"is_vip": None, "spend_365d": 6000.0}, as_of=as_of)
    ('OrNode', True)
    """

    kind: Literal["or"] = "or"
    items: Annotated[tuple[Node, ...], Field(min_length=1)]


class NotNode(_Node):
    """Logical negation (``not x``); ``not unknown`` is unknown.

    Attributes
    ----------
    item:
        The negated condition.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> from user_ops import Rule
    >>> rule = Rule.parse("not (is_vip == true)")
    >>> type(rule.node).__name__, rule.value_one({"is_vip": None}, as_of=as_of) is None
    ('NotNode', True)
    """

    kind: Literal["not"] = "not"
    item: Node


class InNode(_Node):
    """Membership of ``item`` in the list ``values`` (``x in [..]`` / ``x not in [..]``).

    Attributes
    ----------
    item:
        The value looked up.
    values:
        The list (a [`ListLit`][], or a ``list[str]`` field).
    negated:
        True for ``not in``.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> from user_ops import Rule
    >>> rule = Rule.parse('city not in ["北京", "上海"]')
    >>> rule.node.negated, rule.evaluate_one({"city": "杭州"}, as_of=as_of)
    (True, True)
    """

    kind: Literal["in"] = "in"
    item: Node
    values: Node
    negated: bool = False


class IsNullNode(_Node):
    """``x is null`` / ``x is not null`` (never unknown).

    Attributes
    ----------
    item:
        The value tested.
    negated:
        True for ``is not null``.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> from user_ops import Rule
    >>> rule = Rule.parse("last_order_at is null")
    >>> rule.node.negated, rule.evaluate_one({"last_order_at": None}, as_of=as_of)
    (False, True)
    """

    kind: Literal["is_null"] = "is_null"
    item: Node
    negated: bool = False


class ArithNode(_Node):
    """Arithmetic ``left op right``.

    Division by zero gives null (unknown), not an error.

    Attributes
    ----------
    op:
        One of ``+``, ``-``, ``*``, ``/``, ``%``.
    left, right:
        The operands.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> from user_ops import Rule
    >>> rule = Rule.parse("spend_90d / orders_90d > 100")
    >>> rule.node.left.op, rule.evaluate_one({"spend_90d": 500.0, "orders_90d": 2}, as_of=as_of)
    ('/', True)
    """

    kind: Literal["arith"] = "arith"
    op: ArithOp
    left: Node
    right: Node


class NegNode(_Node):
    """Unary minus (``-x``).

    Attributes
    ----------
    item:
        The negated number.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> from user_ops import Rule
    >>> rule = Rule.parse("-balance > 0")
    >>> rule.node.left == NegNode(item=FieldNode(name="balance"))
    True
    >>> rule.evaluate_one({"balance": -20}, as_of=as_of)
    True
    """

    kind: Literal["neg"] = "neg"
    item: Node


class CallNode(_Node):
    """A call of a built-in or plugin function (``days_since(last_order_at)``).

    Attributes
    ----------
    fn:
        The function name (see [`user_ops.rules.functions`][]).
    args:
        The arguments, in order.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> from user_ops import Rule
    >>> rule = Rule.parse("days_since(last_order_at) > 30")
    >>> rule.node.left.fn, rule.node.left.args
    ('days_since', (FieldNode(kind='field', name='last_order_at'),))
    >>> rule.evaluate_one({"last_order_at": datetime(2024, 5, 1, tzinfo=timezone.utc)}, as_of=as_of)
    True
    """

    kind: Literal["call"] = "call"
    fn: Annotated[str, Field(min_length=1, max_length=100)]
    args: tuple[Node, ...] = ()


#: Any node of the rule AST: the union of the node classes, discriminated by their ``kind`` field.
Node = Annotated[
    Union[
        FieldNode,
        IntLit,
        DecimalLit,
        StrLit,
        BoolLit,
        NullLit,
        DurationLit,
        DateLit,
        DateTimeLit,
        ListLit,
        CmpNode,
        AndNode,
        OrNode,
        NotNode,
        InNode,
        IsNullNode,
        ArithNode,
        NegNode,
        CallNode,
    ],
    Field(discriminator="kind"),
]

for _model in (CmpNode, AndNode, OrNode, NotNode, InNode, IsNullNode, ArithNode, NegNode, CallNode):
    _model.model_rebuild()

NODE_ADAPTER: TypeAdapter[Node] = TypeAdapter(Node)

LITERAL_KINDS = frozenset({"int", "decimal", "str", "bool", "null", "duration", "date", "datetime", "list"})


def children(node: Node) -> tuple[tuple[str, Node], ...]:
    """The direct sub-nodes of ``node`` with their JSON path step (``".left"``, ``".items[2]"``)."""
    if isinstance(node, (AndNode, OrNode)):
        return tuple((f".items[{i}]", item) for i, item in enumerate(node.items))
    if isinstance(node, (CmpNode, ArithNode)):
        return ((".left", node.left), (".right", node.right))
    if isinstance(node, (NotNode, NegNode, IsNullNode)):
        return ((".item", node.item),)
    if isinstance(node, InNode):
        return ((".item", node.item), (".values", node.values))
    if isinstance(node, CallNode):
        return tuple((f".args[{i}]", arg) for i, arg in enumerate(node.args))
    if isinstance(node, ListLit):
        return tuple((f".items[{i}]", item) for i, item in enumerate(node.items))
    return ()

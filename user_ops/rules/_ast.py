"""The canonical rule AST: a pydantic discriminated union on ``kind``; this is the rule's JSON form.

Every node is a frozen model; ``and``/``or`` hold flat tuples (n-ary), so a chain of 10,000 conditions is
as shallow as a chain of two. Literal nodes carry their type in ``kind`` so JSON, which has no dates,
decimals or durations, round-trips exactly.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Annotated, Literal, Union

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from user_ops._time import parse_duration
from user_ops.exceptions import DataError

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


class _Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class FieldNode(_Node):
    """A reference to a field of the customer record (a column in batch form); dots allowed."""

    kind: Literal["field"] = "field"
    name: Annotated[str, Field(min_length=1, max_length=200)]


class IntLit(_Node):
    """An integer literal (``3``)."""

    kind: Literal["int"] = "int"
    value: Annotated[int, Field(strict=True)]

    @field_validator("value")
    @classmethod
    def _in_int64(cls, value: int) -> int:
        if not -(2**63) <= value < 2**63:
            raise ValueError(f"integer literal {value} is outside the int64 range")
        return value


class DecimalLit(_Node):
    """An exact decimal literal (``1000.50``); JSON carries it as a string."""

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
    """A string literal (``"北京"``)."""

    kind: Literal["str"] = "str"
    value: Annotated[str, Field(max_length=10_000)]


class BoolLit(_Node):
    """``true`` or ``false``."""

    kind: Literal["bool"] = "bool"
    value: Annotated[bool, Field(strict=True)]


class NullLit(_Node):
    """``null``."""

    kind: Literal["null"] = "null"


class DurationLit(_Node):
    """A duration (``30d``, ``3mo``, ``1y6mo``), stored in canonical text form."""

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
    """A calendar date (``2024-06-18``)."""

    kind: Literal["date"] = "date"
    value: date

    @field_validator("value", mode="before")
    @classmethod
    def _date_only(cls, value: object) -> object:
        if isinstance(value, datetime):
            raise ValueError("a date literal must not carry a time; use a datetime literal")
        return value


class DateTimeLit(_Node):
    """A timezone-aware instant (``2024-06-18T20:00:00+08:00``)."""

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
    """A list of literals (``["北京", "上海"]``), used by ``in``, ``any_of`` and ``all_of``."""

    kind: Literal["list"] = "list"
    items: tuple[
        Annotated[
            Union[IntLit, DecimalLit, StrLit, BoolLit, NullLit, DurationLit, DateLit, DateTimeLit],
            Field(discriminator="kind"),
        ],
        ...,
    ]


class CmpNode(_Node):
    """A comparison ``left op right``."""

    kind: Literal["cmp"] = "cmp"
    op: CompareOp
    left: Node
    right: Node


class AndNode(_Node):
    """True when every item is true (n-ary)."""

    kind: Literal["and"] = "and"
    items: Annotated[tuple[Node, ...], Field(min_length=1)]


class OrNode(_Node):
    """True when any item is true (n-ary)."""

    kind: Literal["or"] = "or"
    items: Annotated[tuple[Node, ...], Field(min_length=1)]


class NotNode(_Node):
    """Logical negation (``not x``); ``not unknown`` is unknown."""

    kind: Literal["not"] = "not"
    item: Node


class InNode(_Node):
    """Membership of ``item`` in the list ``values`` (``x in [..]`` / ``x not in [..]``)."""

    kind: Literal["in"] = "in"
    item: Node
    values: Node
    negated: bool = False


class IsNullNode(_Node):
    """``x is null`` / ``x is not null`` (never unknown)."""

    kind: Literal["is_null"] = "is_null"
    item: Node
    negated: bool = False


class ArithNode(_Node):
    """Arithmetic ``left op right``."""

    kind: Literal["arith"] = "arith"
    op: ArithOp
    left: Node
    right: Node


class NegNode(_Node):
    """Unary minus."""

    kind: Literal["neg"] = "neg"
    item: Node


class CallNode(_Node):
    """A call of a built-in or plugin function (``days_since(last_order_at)``)."""

    kind: Literal["call"] = "call"
    fn: Annotated[str, Field(min_length=1, max_length=100)]
    args: tuple[Node, ...] = ()


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

"""AST -> canonical rule text, the exact inverse of [`parse_text`][user_ops.rules._parser.parse_text].

``parse_text(to_text(node)).node == node`` for every valid AST: parentheses go exactly where the
grammar would otherwise build a different tree, and the forms the operator syntax cannot express get
an explicit spelling:

* a one-item ``and``/``or`` prints as ``and(x)`` / ``or(x)``;
* ``NegNode(IntLit(3))`` prints as ``-(3)``, because ``-3`` reads back as ``IntLit(-3)``;
* a field or function whose name is not a dotted chain of plain identifiers prints backquoted
  (``\\`order count\\```, ``\\`contains\\`(x)``);
* ``contains``/``within`` with two arguments print in operator form (``tags contains "vip"``).

The printer walks the tree with an explicit stack, so even an AST far deeper than any limit prints
without recursion.
"""

from __future__ import annotations

import json
from typing import Union

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
from user_ops.rules._parser import (
    PREC_AND,
    PREC_NOT,
    PREC_OR,
    PREC_PREDICATE,
    PREC_PRIMARY,
    PREC_PRODUCT,
    PREC_SUM,
    PREC_UNARY,
    is_plain_name,
)

__all__ = ["format_name", "to_text"]

# A piece of output: literal text, or a node to print at (at least) a precedence.
_Piece = Union[str, tuple[Node, int]]

_OPERATOR_CALLS = frozenset({"contains", "within"})


def to_text(node: Node) -> str:
    """Print a rule AST as canonical text.

    Parameters
    ----------
    node:
        Any valid rule AST.

    Returns
    -------
    str
        Text that ``parse_text`` reads back to an equal AST; keywords lower-case, one space
        around binary operators, strings in double quotes.

    Examples
    --------
    >>> from user_ops.rules._parser import parse_text
    >>> to_text(parse_text("a>=3 AND (b OR c) and d IN ['x','y']").node)
    'a >= 3 and (b or c) and d in ["x", "y"]'
    >>> to_text(parse_text("(a - (b - c)) * -(3)").node)
    '(a - (b - c)) * -(3)'
    """
    out: list[str] = []
    stack: list[_Piece] = [(node, 0)]
    while stack:
        piece = stack.pop()
        if isinstance(piece, str):
            out.append(piece)
            continue
        child, min_prec = piece
        prec, pieces = _layout(child)
        if prec < min_prec:
            stack.append(")")
            stack.extend(reversed(pieces))
            stack.append("(")
        else:
            stack.extend(reversed(pieces))
    return "".join(out)


def format_name(name: str) -> str:
    """A field or function name as written in rule text: plain when possible, else backquoted.

    Parameters
    ----------
    name:
        The name.

    Returns
    -------
    str

    Examples
    --------
    >>> format_name("user.level"), format_name("order count"), format_name("in")
    ('user.level', '`order count`', '`in`')
    """
    if is_plain_name(name):
        return name
    # JSON escaping (non-ASCII kept), then swap the quote that matters: backquotes, not double quotes.
    body = json.dumps(name, ensure_ascii=False)[1:-1].replace('\\"', '"').replace("`", "\\`")
    return f"`{body}`"


def _layout(node: Node) -> tuple[int, list[_Piece]]:
    """The precedence of ``node``'s own syntax and the pieces it prints as."""
    if isinstance(node, FieldNode):
        return PREC_PRIMARY, [format_name(node.name)]
    literal = _literal_text(node)
    if literal is not None:
        return PREC_PRIMARY, [literal]
    if isinstance(node, (AndNode, OrNode)):
        return _logic_layout(node)
    if isinstance(node, NotNode):
        return PREC_NOT, ["not ", (node.item, PREC_NOT)]
    if isinstance(node, CmpNode):
        return PREC_PREDICATE, [(node.left, PREC_SUM), f" {node.op} ", (node.right, PREC_SUM)]
    if isinstance(node, InNode):
        keyword = " not in " if node.negated else " in "
        return PREC_PREDICATE, [(node.item, PREC_SUM), keyword, (node.values, PREC_SUM)]
    if isinstance(node, IsNullNode):
        return PREC_PREDICATE, [(node.item, PREC_SUM), " is not null" if node.negated else " is null"]
    if isinstance(node, ArithNode):
        # Left-associative: an equal-precedence right operand needs parentheses (a - (b - c)).
        prec = PREC_SUM if node.op in ("+", "-") else PREC_PRODUCT
        return prec, [(node.left, prec), f" {node.op} ", (node.right, prec + 1)]
    if isinstance(node, NegNode):
        # "-3" would read back as IntLit(-3), so a number under a minus is always parenthesized.
        numeric = isinstance(node.item, (IntLit, DecimalLit))
        # "--a" is refused by the parser (it looks like a comment), so a double minus gets a space.
        sign = "- " if isinstance(node.item, NegNode) else "-"
        return PREC_UNARY, [sign, (node.item, PREC_PRIMARY + 1 if numeric else PREC_UNARY)]
    if isinstance(node, CallNode):
        return _call_layout(node)
    raise TypeError(f"not a rule AST node: {type(node).__name__}")


def _logic_layout(node: AndNode | OrNode) -> tuple[int, list[_Piece]]:
    word = "and" if isinstance(node, AndNode) else "or"
    if len(node.items) == 1:
        # "(x)" would read back as x itself; the call form keeps the one-item node.
        return PREC_PRIMARY, [f"{word}(", (node.items[0], 0), ")"]
    # Items bind tighter than the chain, so a nested chain of the same kind keeps its parentheses.
    prec = PREC_OR if word == "or" else PREC_AND
    item_prec = PREC_AND if word == "or" else PREC_NOT
    pieces: list[_Piece] = []
    for index, item in enumerate(node.items):
        if index:
            pieces.append(f" {word} ")
        pieces.append((item, item_prec))
    return prec, pieces


def _call_layout(node: CallNode) -> tuple[int, list[_Piece]]:
    if node.fn in _OPERATOR_CALLS and len(node.args) == 2:
        left, right = node.args
        return PREC_PREDICATE, [(left, PREC_SUM), f" {node.fn} ", (right, PREC_SUM)]
    pieces: list[_Piece] = [f"{format_name(node.fn)}("]
    for index, arg in enumerate(node.args):
        if index:
            pieces.append(", ")
        pieces.append((arg, 0))
    pieces.append(")")
    return PREC_PRIMARY, pieces


def _literal_text(node: Node) -> str | None:
    """The text of a literal node, or None for any other node."""
    if isinstance(node, IntLit):
        return str(node.value)
    if isinstance(node, DecimalLit):
        text = str(node.value)
        # "100" would read back as an IntLit; keep a point or exponent so it stays a decimal.
        return text if "." in text or "E" in text else text + ".0"
    if isinstance(node, StrLit):
        return json.dumps(node.value, ensure_ascii=False)
    if isinstance(node, BoolLit):
        return "true" if node.value else "false"
    if isinstance(node, NullLit):
        return "null"
    if isinstance(node, (DurationLit, DateLit, DateTimeLit)):
        return node.value if isinstance(node.value, str) else node.value.isoformat()
    if isinstance(node, ListLit):
        return "[" + ", ".join(str(_literal_text(item)) for item in node.items) + "]"
    return None

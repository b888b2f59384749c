"""Explanations: why one record did (not) match, and where a population was filtered out."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from user_ops.rules import _ast as A
from user_ops.rules._compile import TField, TLogic, TNode, TNot, evaluate_batch
from user_ops.rules._runtime import BatchContext, ScalarContext, Vec

__all__ = ["ExplainNode", "Explanation", "NodeStats", "PopulationExplanation"]


def _format_value(value: Any) -> str:
    if isinstance(value, np.floating):
        return str(value)  # shortest round-trip at its own precision: 0.1, not np.float64(0.1)
    if isinstance(value, np.generic):
        value = value.item()  # np.int64(3) reads 3, np.bool_ reads true
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (date, Decimal)):
        return str(value)
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_format_value(v) for v in value) + "]"
    return repr(value)


def _result_word(value: Any) -> str:
    return (
        ("true" if value else "false")
        if isinstance(value, bool)
        else "unknown"
        if value is None
        else _format_value(value)
    )


@dataclass(frozen=True)
class ExplainNode:
    """One node of an explained rule.

    Attributes
    ----------
    text:
        The node's rule text.
    value:
        Its value for the record (``None``: null, or unknown for a condition).
    culprit:
        True for a condition that made the rule fail.
    inputs:
        ``(field, value)`` pairs the node read, shown beside leaves.
    kind:
        The AST node kind (``"cmp"``, ``"and"``, ...).
    type:
        The node's value type (``"bool"`` for a condition).
    children:
        Sub-conditions (for ``and``/``or``/``not``).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops import Rule
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> rule = Rule.parse('orders_90d >= 3 and city in ["北京", "上海"]')
    >>> leaf = rule.explain_one({"orders_90d": 1, "city": "北京"}, as_of=as_of).root.children[0]
    >>> leaf.text, leaf.value, leaf.culprit, leaf.inputs
    ('orders_90d >= 3', False, True, (('orders_90d', 1),))
    """

    text: str
    kind: str
    type: str
    value: Any
    culprit: bool = False
    inputs: tuple[tuple[str, Any], ...] = ()
    children: tuple[ExplainNode, ...] = ()

    def line(self) -> str:
        """The node as one line of text: ``orders_90d >= 3 → false (orders_90d = 1)``, ``✗`` for a culprit."""
        shown = f"{self.text} → {_result_word(self.value)}"
        if self.inputs and not self.children:
            shown += " (" + ", ".join(f"{name} = {_format_value(v)}" for name, v in self.inputs) + ")"
        return shown + ("   ✗" if self.culprit else "")


@dataclass(frozen=True)
class Explanation:
    """Why one record matched a rule or not: the result of [`Rule.explain_one`][].

    ``str(explanation)`` prints the tree; in Jupyter it renders as HTML. ``culprits`` lists the
    conditions that made the rule fail (empty when it matched).

    Attributes
    ----------
    result:
        The rule's three-valued result (``None``: unknown, which does not match).
    root:
        The explained rule, an [`ExplainNode`][] tree.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops import Rule
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> rule = Rule.parse('orders_90d >= 3 and city in ["北京", "上海"]')
    >>> why = rule.explain_one({"orders_90d": 1, "city": "北京"}, as_of=as_of)
    >>> print(why)
    orders_90d >= 3 and city in ["北京", "上海"] → false
    ├─ orders_90d >= 3 → false (orders_90d = 1)   ✗
    └─ city in ["北京", "上海"] → true (city = "北京")
    >>> why.matched, [node.text for node in why.culprits]
    (False, ['orders_90d >= 3'])
    """

    result: bool | None
    root: ExplainNode

    @property
    def matched(self) -> bool:
        """Whether the rule matched (an unknown result does not)."""
        return self.result is True

    @property
    def culprits(self) -> list[ExplainNode]:
        """The failing conditions, in rule order."""
        return [node for node in _walk(self.root) if node.culprit]

    def __str__(self) -> str:
        return "\n".join(_tree_lines(self.root, lambda n: n.line()))

    def _repr_html_(self) -> str:
        return _html_tree(self.root, lambda n: n.line(), lambda n: n.culprit)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form (values as text)."""
        return {"result": _result_word(self.result), "root": _node_dict(self.root)}


@dataclass(frozen=True)
class NodeStats:
    """How a population fared at one condition.

    ``only`` counts rows for which this item alone decided its parent: under ``and``, rows failed by
    this item and no other; under ``or``, rows passed by this item and no other.

    Attributes
    ----------
    text:
        The condition's rule text.
    kind:
        The AST node kind (``"cmp"``, ``"and"``, ...).
    true, false, unknown:
        Rows for which the condition is true, false or unknown (null).
    only:
        Rows this item alone decided under its ``and``/``or`` parent (``None`` elsewhere).
    children:
        Sub-conditions (for ``and``/``or``/``not``).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops import Rule
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> rule = Rule.parse('orders_90d >= 3 and city in ["北京", "上海"]')
    >>> table = {"orders_90d": [1, 5, 4], "city": ["北京", "上海", "广州"]}
    >>> first = rule.explain(table, as_of=as_of).root.children[0]
    >>> first.text, first.true, first.false, first.unknown, first.only
    ('orders_90d >= 3', 2, 1, 0, 1)
    """

    text: str
    kind: str
    true: int
    false: int
    unknown: int
    only: int | None = None
    children: tuple[NodeStats, ...] = ()

    @property
    def total(self) -> int:
        """Rows counted: ``true + false + unknown``."""
        return self.true + self.false + self.unknown

    def line(self) -> str:
        """The counts as one line of text (the line ``str()`` of a population explanation shows)."""
        total = max(self.total, 1)
        parts = [
            f"{self.text}",
            f"true {self.true:,} ({self.true / total:.1%})",
            f"false {self.false:,}",
            f"unknown {self.unknown:,}",
        ]
        if self.only is not None:
            parts.append(f"decisive alone {self.only:,}")
        return "   ".join(parts)


@dataclass(frozen=True)
class PopulationExplanation:
    """Per-condition counts over a table: where rows were filtered out.

    The result of [`Rule.explain`][]; ``str()`` prints the tree of counts, in
    Jupyter it renders as HTML.

    Attributes
    ----------
    rows:
        Rows of the table.
    root:
        The counts of the whole rule, a [`NodeStats`][] tree.
    extra:
        Additional information (empty unless a caller adds some).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops import Rule
    >>> as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    >>> rule = Rule.parse('orders_90d >= 3 and city in ["北京", "上海"]')
    >>> table = {"orders_90d": [1, 5, 4], "city": ["北京", "上海", "广州"]}
    >>> print(rule.explain(table, as_of=as_of))
    1 of 3 rows matched (33.3%)
    orders_90d >= 3 and city in ["北京", "上海"]   true 1 (33.3%)   false 2   unknown 0
    ├─ orders_90d >= 3   true 2 (66.7%)   false 1   unknown 0   decisive alone 1
    └─ city in ["北京", "上海"]   true 2 (66.7%)   false 1   unknown 0   decisive alone 1
    """

    rows: int
    root: NodeStats
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def matched(self) -> int:
        """Rows that matched the whole rule."""
        return self.root.true

    def __str__(self) -> str:
        header = f"{self.matched:,} of {self.rows:,} rows matched ({self.matched / max(self.rows, 1):.1%})"
        return "\n".join([header, *_tree_lines(self.root, lambda n: n.line())])

    def _repr_html_(self) -> str:
        return _html_tree(self.root, lambda n: n.line(), lambda n: False)

    def nodes(self) -> list[NodeStats]:
        """Every condition, depth first."""
        return list(_walk(self.root))


# -- one record ---------------------------------------------------------------------------------------
def explain_record(typed: TNode, record: Mapping[str, Any], ctx: ScalarContext) -> Explanation:
    root = _explain_node(typed, record, ctx, expected=True)
    return Explanation(result=root.value, root=root)


def _explain_node(
    node: TNode, record: Mapping[str, Any], ctx: ScalarContext, expected: bool | None
) -> ExplainNode:
    value = node.scalar()(record, ctx)
    failing = expected is not None and value is not expected
    children: tuple[ExplainNode, ...] = ()
    if isinstance(node, TLogic):
        children = tuple(
            _explain_node(item, record, ctx, expected if failing else None) for item in node.items
        )
    elif isinstance(node, TNot):
        inner_expected = (not expected) if failing and expected is not None else None
        children = (_explain_node(node.item, record, ctx, inner_expected),)
    culprit = failing and not children
    inputs = tuple((f.name, f.scalar()(record, ctx)) for f in _fields_of(node)) if not children else ()
    return ExplainNode(_text_of(node.node), node.kind, node.type, value, culprit, inputs, children)


def _fields_of(node: TNode) -> list[TField]:
    seen: dict[str, TField] = {}
    for sub in node.walk():
        if isinstance(sub, TField):
            seen.setdefault(sub.name, sub)
    return list(seen.values())


def _text_of(node: A.Node) -> str:
    from user_ops.rules._printer import to_text

    return to_text(node)


# -- a population -------------------------------------------------------------------------------------
def explain_table(typed: TNode, ctx: BatchContext) -> PopulationExplanation:
    memo: dict[int, Vec] = {}
    evaluate_batch(typed, ctx, memo)
    return PopulationExplanation(rows=ctx.n, root=_stats(typed, memo, ctx.n, None))


def _three_way(vec: Vec, n: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    values = np.broadcast_to(np.asarray(vec.values, dtype=np.bool_), (n,))
    nulls = np.zeros(n, dtype=np.bool_) if vec.nulls is None else np.broadcast_to(vec.nulls, (n,))
    return values & ~nulls, ~values & ~nulls


def _stats(node: TNode, memo: dict[int, Vec], n: int, only: int | None) -> NodeStats:
    is_true, is_false = _three_way(memo[id(node)], n)
    children: tuple[NodeStats, ...] = ()
    if isinstance(node, TLogic):
        children = tuple(
            _stats(item, memo, n, count) for item, count in zip(node.items, _decisive_counts(node, memo, n))
        )
    elif isinstance(node, TNot):
        children = (_stats(node.item, memo, n, None),)
    true, false = int(is_true.sum()), int(is_false.sum())
    return NodeStats(_text_of(node.node), node.kind, true, false, n - true - false, only, children)


def _decisive_counts(node: TLogic, memo: dict[int, Vec], n: int) -> list[int]:
    # Under and: rows failed (false or unknown) by exactly one item; under or: rows passed by exactly one.
    outcomes = []
    for item in node.items:
        is_true, _ = _three_way(memo[id(item)], n)
        outcomes.append(~is_true if node.is_and else is_true)
    stacked = np.vstack(outcomes) if outcomes else np.zeros((0, n), dtype=np.bool_)
    single = stacked.sum(axis=0) == 1
    return [int((row & single).sum()) for row in stacked]


# -- rendering ----------------------------------------------------------------------------------------
def _walk(root: Any) -> list[Any]:
    out, stack = [], [root]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(reversed(current.children))
    return out


def _tree_lines(root: Any, label: Any) -> list[str]:
    lines = [label(root)]

    def add(node: Any, prefix: str) -> None:
        for index, child in enumerate(node.children):
            last = index == len(node.children) - 1
            lines.append(prefix + ("└─ " if last else "├─ ") + label(child))
            add(child, prefix + ("   " if last else "│  "))

    add(root, "")
    return lines


def _html_tree(root: Any, label: Any, bad: Any) -> str:
    def render(node: Any) -> str:
        style = " style='color:#b00020;font-weight:bold'" if bad(node) else ""
        inner = "".join(render(child) for child in node.children)
        nested = f"<ul>{inner}</ul>" if inner else ""
        return f"<li><code{style}>{html.escape(label(node))}</code>{nested}</li>"

    return f"<ul class='user-ops-explain'>{render(root)}</ul>"


def _node_dict(node: ExplainNode) -> dict[str, Any]:
    return {
        "text": node.text,
        "value": _result_word(node.value),
        "culprit": node.culprit,
        "inputs": {name: _format_value(v) for name, v in node.inputs},
        "children": [_node_dict(c) for c in node.children],
    }

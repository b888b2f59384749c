"""Import and export of rules in JsonLogic (https://jsonlogic.com), for the subset the language covers.

Query builders (react-querybuilder, jQuery QueryBuilder, ...) emit JsonLogic; this module turns it into
the rule AST and back.

Semantics
---------
An imported rule is evaluated with **user_ops semantics**, not JavaScript's:

* Comparisons follow SQL three-valued logic and never coerce types. ``{"<": [{"var": "x"}, 3]}`` is
  *unknown* when ``x`` is null, so the rule does not match, whereas the reference JsonLogic coerces
  ``null`` to ``0`` and answers ``true``. ``{"<": [x, null]}`` (a null *literal* in ``<``, ``<=``,
  ``>``, ``>=``) is refused with a RuleSyntaxError: it could never match. ``{"==": [1, "1"]}`` is a
  type error when the rule is type-checked, not ``true``.
* ``==`` and ``===`` both mean equality without coercion; ``!=`` and ``!==`` its negation.
* ``{"==": [x, null]}`` and ``{"!=": [x, null]}`` become ``x is null`` / ``x is not null``: JsonLogic's
  ``==`` is JavaScript equality, for which that is the null test (``Rule`` refuses a comparison with
  a null literal, which would never match).
* ``and``/``or`` yield booleans (JsonLogic yields the deciding operand), and ``!`` negates a boolean
  (three-valued: ``not unknown`` is unknown) rather than JavaScript truthiness.
* Numbers with a fraction become exact decimals (``0.1`` is ``Decimal("0.1")``, via the float's
  shortest ``repr``); integers become int64 literals.

Operator mapping (import)
-------------------------
======================================  ==========================================================
JsonLogic                               rule AST
======================================  ==========================================================
``{"var": "a.b"}``                      ``FieldNode("a.b")`` (the name is kept whole, dots and all)
``{"var": ["a", default]}``             ``coalesce(a, default)`` (the default must be a literal)
``and`` / ``or`` / ``!``                ``AndNode`` / ``OrNode`` (flat) / ``NotNode``
``==`` ``===`` ``!=`` ``!==``           ``CmpNode`` (or ``IsNullNode`` when one side is ``null``)
``<`` ``<=`` ``>`` ``>=``               ``CmpNode``; ``{"<": [a, x, b]}`` is ``a < x and x < b``
``{"in": [x, [literals]]}``             ``InNode(x, ListLit)``
``{"in": [x, y]}`` (y not a list)       ``contains(y, x)``: substring or list membership by type
``{"missing": ["a", "b"]}``             ``a is null or b is null`` (one name: ``a is null``)
``+`` ``*`` (2+ args, folded left)      ``ArithNode``; ``-`` (1 arg: ``NegNode``) ``/`` ``%``
``min`` / ``max``                       ``min(...)`` / ``max(...)``
======================================  ==========================================================

Everything else is a [`RuleSyntaxError`][] naming the operator and its JSON path,
including ``!!`` (truthiness: mapping it to ``is not null`` would silently differ for ``0``, ``""``
and ``false``), ``if``, ``?:``, ``cat``, ``substr``, ``map``, ``filter``, ``reduce``, ``all``, ``none``,
``some``, ``merge``, ``missing_some``, one-argument ``+``/``*`` (casts) and three-argument ``>``/``>=``
(JavaScript silently ignores the third). ``missing`` treats only null/absent fields as missing;
JsonLogic also counts the empty string.

Export is the inverse where one exists; ``x not in [...]`` exports as ``{"!": {"in": ...}}`` and so
reads back as ``not (x in [...])``, which means the same. Date, datetime and duration literals, most
functions, and decimals that no double represents exactly have no JsonLogic form and raise
[`RuleError`][].

Examples
--------
>>> rule = node_from_jsonlogic(
...     {"and": [{"==": [{"var": "city"}, "Beijing"]}, {">=": [{"var": "orders_90d"}, 3]}]}
... )
>>> [item.op for item in rule.items]
['==', '>=']
>>> node_to_jsonlogic(rule)
{'and': [{'==': [{'var': 'city'}, 'Beijing']}, {'>=': [{'var': 'orders_90d'}, 3]}]}
>>> node_from_jsonlogic({"<": [{"var": "last_login"}, 3]}).kind  # unknown (not true) when null
'cmp'
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, NamedTuple, get_args

from pydantic import ValidationError

from user_ops._policy import validation_cause
from user_ops.exceptions import RuleError, RuleLimitError, RuleSyntaxError
from user_ops.rules._ast import (
    AndNode,
    ArithNode,
    ArithOp,
    BoolLit,
    CallNode,
    CmpNode,
    CompareOp,
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
from user_ops.rules._json import (
    Loc,
    check_document,
    decode_json_text,
    describe_error,
    json_type_name,
    render_loc,
    show_value,
)
from user_ops.rules._limits import DEFAULT_LIMITS, Limits

__all__ = ["node_from_jsonlogic", "node_to_jsonlogic"]

_CMP_OPS: dict[str, CompareOp] = {
    "==": "==",
    "===": "==",
    "!=": "!=",
    "!==": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}
_ARITH_OPS: dict[str, ArithOp] = {op: op for op in get_args(ArithOp)}
_INFINITE = None  # no upper bound on the argument count

# (fewest, most) arguments of each operator taking expressions.
_ARITY: dict[str, tuple[int, int | None]] = {
    "and": (1, _INFINITE),
    "or": (1, _INFINITE),
    "!": (1, 1),
    "==": (2, 2),
    "===": (2, 2),
    "!=": (2, 2),
    "!==": (2, 2),
    "<": (2, 3),
    "<=": (2, 3),
    ">": (2, 2),
    ">=": (2, 2),
    "in": (2, 2),
    "+": (2, _INFINITE),
    "*": (2, _INFINITE),
    "-": (1, 2),
    "/": (2, 2),
    "%": (2, 2),
    "min": (1, _INFINITE),
    "max": (1, _INFINITE),
}

_OPERATORS = frozenset({*_ARITY, "var", "missing"})

_UNSUPPORTED_HINTS = {
    "!!": 'truthiness has no user_ops equivalent; test {"!=": [x, null]} for a value',
    "missing_some": "use 'missing' or explicit null tests",
    "if": "a rule is a condition; write each branch as its own rule",
}
_CAST_HINT = "a one-argument '{op}' is a cast to number, which user_ops does not do"

_Literal = IntLit | DecimalLit | StrLit | BoolLit | NullLit


# ------------------------------------------------------------------------------------------ import


class _Enter(NamedTuple):
    """Convert ``value`` (found at ``loc``) and push its node on the result stack."""

    value: Any
    loc: Loc | None


class _Exit(NamedTuple):
    """Pop the converted operands of the operator at ``loc`` and push the node they make."""

    op: str
    loc: Loc | None
    operands: int
    values: ListLit | None  # the literal list of ``{"in": [x, [...]]}``


@contextmanager
def _validating(loc: Loc | None) -> Iterator[None]:
    """Turn a pydantic error while building a node into a RuleSyntaxError at the JsonLogic path."""
    try:
        yield
    except RuleSyntaxError as exc:
        cause = validation_cause(exc)
        if cause is None or exc.path is not None:
            raise
        errors = cause.errors(include_url=False)
        message = describe_error(errors[0]) if errors else "invalid value"
        raise RuleSyntaxError(message, path=render_loc(loc)) from None
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        message = describe_error(errors[0]) if errors else "invalid value"
        raise RuleSyntaxError(message, path=render_loc(loc)) from None


def _operands(raw: Any, op_loc: Loc) -> list[tuple[Any, Loc]]:
    """JsonLogic's argument list: an array, or a single argument given without one."""
    if isinstance(raw, (list, tuple)):
        return [(value, Loc(op_loc, index)) for index, value in enumerate(raw)]
    return [(raw, op_loc)]


def _arity_error(op: str, count: int, loc: Loc | None) -> RuleSyntaxError:
    fewest, most = _ARITY[op]
    if most is None:
        wanted = f"at least {fewest}"
    elif fewest == most:
        wanted = f"exactly {fewest}"
    else:
        wanted = f"{fewest} or {most}"
    plural = "" if (most if most is not None else fewest) == 1 else "s"
    message = f"JsonLogic operator {op!r} takes {wanted} argument{plural}, got {count}"
    if op in {"+", "*"} and count == 1:
        message += f" ({_CAST_HINT.format(op=op)})"
    return RuleSyntaxError(message, path=render_loc(loc))


def _subnodes(node: Node) -> tuple[Node, ...]:
    """The direct sub-nodes of ``node``: ``children()`` without the path strings, which an import of
    a 200,000-node rule would otherwise format for nothing."""
    if isinstance(node, (AndNode, OrNode, ListLit)):
        return node.items
    if isinstance(node, (CmpNode, ArithNode)):
        return (node.left, node.right)
    if isinstance(node, (NotNode, NegNode, IsNullNode)):
        return (node.item,)
    if isinstance(node, InNode):
        return (node.item, node.values)
    if isinstance(node, CallNode):
        return node.args
    return ()


class _Importer:
    """Converts a JsonLogic document to an AST with an explicit stack (no recursion).

    The AST depth and node count are tracked as nodes are built, because they are not those of the
    document: ``+`` folds left (``n`` operands nest ``n - 1`` deep) and the between form repeats its
    middle operand.
    """

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        # (depth, node count) of every node built so far, keyed by id: each is alive in the result
        # stack or inside its parent until the import ends, so ids are not reused meanwhile.
        self._metrics: dict[int, tuple[int, int]] = {}

    def run(self, doc: Any) -> Node:
        stack: list[_Enter | _Exit] = [_Enter(doc, None)]
        results: list[Node] = []
        while stack:
            frame = stack.pop()
            if isinstance(frame, _Exit):
                start = len(results) - frame.operands
                operands = results[start:]
                del results[start:]
                results.append(self._combine(frame, operands))
            elif isinstance(frame.value, dict):
                self._enter_operation(frame, stack, results)
            else:
                results.append(self._literal(frame.value, frame.loc))
        return results[0]

    # -- bookkeeping -----------------------------------------------------------------------------

    def _made(self, node: Node, loc: Loc | None) -> Node:
        """Record ``node``'s depth and size, raising when it exceeds the limits."""
        depth, count = 1, 1
        metrics = self._metrics
        for child in _subnodes(node):
            child_depth, child_count = metrics[id(child)]
            if child_depth >= depth:
                depth = child_depth + 1
            count += child_count
        if depth > self._limits.max_depth:
            raise RuleLimitError(
                f"the rule is nested more than {self._limits.max_depth} levels deep", path=render_loc(loc)
            )
        if count > self._limits.max_nodes:
            raise RuleLimitError(
                f"the rule has more than {self._limits.max_nodes} nodes", path=render_loc(loc)
            )
        self._metrics[id(node)] = (depth, count)
        return node

    # -- operations ------------------------------------------------------------------------------

    def _enter_operation(self, frame: _Enter, stack: list[_Enter | _Exit], results: list[Node]) -> None:
        op, raw = self._single_key(frame.value, frame.loc)
        op_loc = Loc(frame.loc, op)
        if op == "var":
            results.append(self._var(raw, frame.loc, op_loc))
            return
        if op == "missing":
            results.append(self._missing(raw, frame.loc, op_loc))
            return
        if op not in _ARITY:
            hint = _UNSUPPORTED_HINTS.get(op)
            message = f"unsupported JsonLogic operator {show_value(op)}" + (f" ({hint})" if hint else "")
            raise RuleSyntaxError(message, path=render_loc(frame.loc))
        operands = _operands(raw, op_loc)
        fewest, most = _ARITY[op]
        if len(operands) < fewest or (most is not None and len(operands) > most):
            raise _arity_error(op, len(operands), frame.loc)
        values: ListLit | None = None
        if op in {"<", "<=", ">", ">="} and any(value is None for value, _ in operands):
            raise RuleSyntaxError(
                f"JsonLogic {op!r} with null compares by JavaScript coercion (null is 0); user_ops does "
                "not coerce, and a comparison with null is unknown, so it would never match: test "
                'for a missing value with {"==": [x, null]} or "missing"',
                path=render_loc(frame.loc),
            )
        if op in {"==", "===", "!=", "!=="} and any(value is None for value, _ in operands):
            # Comparing with null is always unknown in user_ops: the faithful meaning is a null test.
            negated = op in {"!=", "!=="}
            other = operands[0] if operands[1][0] is None else operands[1]
            stack.append(_Exit("is not null" if negated else "is null", frame.loc, 1, None))
            operands = [other]
        elif op == "in" and isinstance(operands[1][0], (list, tuple)):
            values = self._literal_list(*operands[1])
            stack.append(_Exit(op, frame.loc, 1, values))
            operands = operands[:1]
        else:
            stack.append(_Exit(op, frame.loc, len(operands), None))
        stack.extend(_Enter(value, loc) for value, loc in reversed(operands))

    @staticmethod
    def _single_key(value: dict[Any, Any], loc: Loc | None) -> tuple[str, Any]:
        if len(value) != 1:
            keys = ", ".join(show_value(key) for key in list(value)[:5])
            got = f"{len(value)} keys ({keys})" if value else "an empty object"
            raise RuleSyntaxError(
                f"a JsonLogic operation must be an object with exactly one key, got {got}",
                path=render_loc(loc),
            )
        ((op, raw),) = value.items()
        if not isinstance(op, str):
            raise RuleSyntaxError(
                f"a JsonLogic operator must be a string, got {show_value(op)}", path=render_loc(loc)
            )
        return op, raw

    def _combine(self, frame: _Exit, operands: list[Node]) -> Node:
        op, loc = frame.op, frame.loc
        with _validating(loc):
            if op in {"is null", "is not null"}:
                return self._made(IsNullNode(item=operands[0], negated=op == "is not null"), loc)
            if op == "and":
                return self._made(AndNode(items=tuple(operands)), loc)
            if op == "or":
                return self._made(OrNode(items=tuple(operands)), loc)
            if op == "!":
                return self._made(NotNode(item=operands[0]), loc)
            if op in _CMP_OPS:
                return self._comparison(_CMP_OPS[op], operands, loc)
            if op == "in" and frame.values is not None:
                return self._made(InNode(item=operands[0], values=frame.values), loc)
            if op == "in":  # not a literal list: substring or membership, decided by type later
                return self._made(CallNode(fn="contains", args=(operands[1], operands[0])), loc)
            if op == "-" and len(operands) == 1:
                return self._made(NegNode(item=operands[0]), loc)
            if op in _ARITH_OPS:
                return self._fold(op, operands, loc)
            return self._made(CallNode(fn=op, args=tuple(operands)), loc)  # min, max

    def _comparison(self, op: CompareOp, operands: list[Node], loc: Loc | None) -> Node:
        if len(operands) == 2:
            return self._made(CmpNode(op=op, left=operands[0], right=operands[1]), loc)
        low, middle, high = operands  # the between form: low < middle < high
        first = self._made(CmpNode(op=op, left=low, right=middle), loc)
        second = self._made(CmpNode(op=op, left=middle, right=high), loc)
        return self._made(AndNode(items=(first, second)), loc)

    def _fold(self, op: str, operands: list[Node], loc: Loc | None) -> Node:
        arith_op = _ARITH_OPS[op]
        result = operands[0]
        for operand in operands[1:]:
            result = self._made(ArithNode(op=arith_op, left=result, right=operand), loc)
        return result

    # -- var and missing ---------------------------------------------------------------------------

    def _var(self, raw: Any, loc: Loc | None, op_loc: Loc) -> Node:
        if isinstance(raw, (list, tuple)):
            if not 1 <= len(raw) <= 2:
                raise RuleSyntaxError(
                    f"'var' takes a field name and an optional default, got {len(raw)} arguments",
                    path=render_loc(loc),
                )
            field = self._field(raw[0], Loc(op_loc, 0))
            if len(raw) == 1:
                return field
            if isinstance(raw[1], dict):
                raise RuleSyntaxError(
                    "the default of 'var' must be a literal, not an operation",
                    path=render_loc(Loc(op_loc, 1)),
                )
            default = self._literal(raw[1], Loc(op_loc, 1))
            with _validating(loc):
                return self._made(CallNode(fn="coalesce", args=(field, default)), loc)
        return self._field(raw, op_loc)

    def _field(self, name: Any, loc: Loc) -> Node:
        if isinstance(name, dict):
            raise RuleSyntaxError("computed 'var' names are not supported", path=render_loc(loc))
        if not isinstance(name, str):
            raise RuleSyntaxError(
                f"'var' must name a field with a string, got {json_type_name(name)} "
                "(array indices are not supported)",
                path=render_loc(loc),
            )
        if not name:
            raise RuleSyntaxError(
                "'var' with an empty name (the whole data object) is not supported", path=render_loc(loc)
            )
        with _validating(loc):
            return self._made(FieldNode(name=name), loc)

    def _missing(self, raw: Any, loc: Loc | None, op_loc: Loc) -> Node:
        names = _operands(raw, op_loc)
        if not names:
            raise RuleSyntaxError("'missing' needs at least one field name", path=render_loc(loc))
        tests: list[Node] = []
        for name, name_loc in names:
            if not isinstance(name, str):
                raise RuleSyntaxError(
                    f"'missing' takes field names (strings), got {json_type_name(name)}",
                    path=render_loc(name_loc),
                )
            field = self._field(name, name_loc)
            with _validating(name_loc):
                tests.append(self._made(IsNullNode(item=field), name_loc))
        if len(tests) == 1:
            return tests[0]
        with _validating(loc):
            return self._made(OrNode(items=tuple(tests)), loc)

    # -- literals --------------------------------------------------------------------------------

    def _literal(self, value: Any, loc: Loc | None) -> Node:
        """A literal in value position: a scalar, or an array of scalars (a list literal)."""
        if isinstance(value, (list, tuple)):
            return self._literal_list(value, loc)
        return self._scalar(value, loc)

    def _literal_list(self, value: Sequence[Any], loc: Loc | None) -> ListLit:
        if len(value) > self._limits.max_list_items:
            raise RuleLimitError(
                f"the list literal has {len(value)} items; the limit is {self._limits.max_list_items}",
                path=render_loc(loc),
            )
        items = []
        for index, item in enumerate(value):
            item_loc = Loc(loc, index)
            if isinstance(item, (list, tuple, dict)):
                raise RuleSyntaxError(
                    "a list literal may hold only numbers, strings, booleans and null, "
                    f"got {json_type_name(item)}",
                    path=render_loc(item_loc),
                )
            items.append(self._scalar(item, item_loc))
        with _validating(loc):
            node = ListLit(items=tuple(items))
        self._made(node, loc)
        return node

    def _scalar(self, value: Any, loc: Loc | None) -> _Literal:
        with _validating(loc):
            node: _Literal
            if value is None:
                node = NullLit()
            elif isinstance(value, bool):  # before int: bool is an int subclass
                node = BoolLit(value=value)
            elif isinstance(value, int):
                node = IntLit(value=value)
            elif isinstance(value, Decimal):
                node = DecimalLit(value=value)
            elif isinstance(value, float):
                if not math.isfinite(value):
                    raise RuleSyntaxError(f"{value!r} is not a JSON number", path=render_loc(loc))
                # repr is the shortest text that reads back as this double: 0.1 -> Decimal("0.1").
                node = DecimalLit(value=Decimal(repr(value)))
            elif isinstance(value, str):
                node = StrLit(value=value)
            else:
                raise RuleSyntaxError(f"not a JSON value: {type(value).__name__}", path=render_loc(loc))
        self._made(node, loc)
        return node


def node_from_jsonlogic(obj: Any, *, limits: Limits = DEFAULT_LIMITS) -> Node:
    """Import a JsonLogic rule.

    Parameters
    ----------
    obj:
        The decoded JsonLogic document, or its JSON text (``str``/``bytes``). A bare string is read as
        JSON text, so a string literal rule must be passed decoded-then-encoded (``'"abc"'``).
    limits:
        Size limits, checked on the document before conversion and on the AST while it is built.

    Returns
    -------
    Node
        The rule's AST, evaluated with user_ops semantics (see the module documentation).

    Raises
    ------
    RuleSyntaxError
        Invalid JSON, an unsupported operator, a wrong argument count or a malformed operation, with
        the JSON path of the offending part in ``path``.
    RuleLimitError
        A document or resulting AST over a limit, with its JSON path.

    Examples
    --------
    >>> node_from_jsonlogic({"in": [{"var": "city"}, ["Beijing", "Shanghai"]]}).kind
    'in'
    >>> node_from_jsonlogic('{"and": [{"if": [true, 1, 2]}]}')
    Traceback (most recent call last):
    ...
    user_ops.exceptions.RuleSyntaxError: unsupported JsonLogic operator 'if' (a rule is a condition; ...)
      at $.and[0]
    """
    doc = decode_json_text(obj, limits) if isinstance(obj, (str, bytes, bytearray)) else obj
    # Each AST level takes at most an operation object and its argument array (plus one array for a
    # list literal), and an AST node comes from at most two document values ({"var": ["a"]}), so
    # these bounds reject no rule that is within the limits.
    check_document(
        doc,
        limits,
        node_budget=2 * limits.max_nodes,
        max_container_depth=2 * limits.max_depth + 2,
        ast_form=False,
        known_keys=_OPERATORS,
    )
    return _Importer(limits).run(doc)


# ------------------------------------------------------------------------------------------ export


_LITERAL_DEFAULTS = (IntLit, DecimalLit, StrLit, BoolLit, NullLit, ListLit)


class _PathLink(NamedTuple):
    parent: _PathLink | None
    step: str  # a rendered step of the AST's JSON path (".left", ".items[2]")


def _ast_path(link: _PathLink | None) -> str:
    steps: list[str] = []
    while link is not None:
        steps.append(link.step)
        link = link.parent
    return "$" + "".join(reversed(steps))


def _exact_float(value: Decimal) -> float | None:
    """The double equal to ``value``, or ``None`` when no double is (JSON numbers are doubles)."""
    number = float(value)
    if math.isfinite(number) and Decimal(repr(number)) == value:
        return number
    return None


def _compares_with_null(node: Node) -> bool:
    """``x == null`` / ``x < null``: JsonLogic reads the first back as a null test and coerces null to
    0 in the second, both different meanings (and ``Rule`` refuses such comparisons anyway)."""
    return isinstance(node, CmpNode) and (isinstance(node.left, NullLit) or isinstance(node.right, NullLit))


def _export_error(node: Node) -> str | None:
    """Why ``node`` (itself, not its children) has no JsonLogic form, or ``None`` when it has one."""
    if isinstance(node, (DateLit, DateTimeLit, DurationLit)):
        return f"{node.kind} literal {node.value!s} has no JsonLogic equivalent"
    if isinstance(node, DecimalLit) and _exact_float(node.value) is None:
        return f"decimal literal {node.value} cannot be represented exactly as a JSON number (a double)"
    if _compares_with_null(node):
        return (
            "a comparison with null is always unknown in user_ops, but JsonLogic would test for null "
            "(or coerce it to 0); use 'is null' / 'is not null'"
        )
    if isinstance(node, InNode) and not isinstance(node.values, ListLit):
        return "'in' has a JsonLogic equivalent only when its values are a list literal"
    if isinstance(node, CallNode):
        return _call_export_error(node)
    return None


def _call_export_error(node: CallNode) -> str | None:
    if node.fn in {"min", "max"}:
        return None if node.args else f"function {node.fn!r} without arguments has no JsonLogic equivalent"
    if node.fn == "contains":
        return None if len(node.args) == 2 else "function 'contains' exports only with two arguments"
    if node.fn == "coalesce":
        exportable = (
            len(node.args) == 2
            and isinstance(node.args[0], FieldNode)
            and isinstance(node.args[1], _LITERAL_DEFAULTS)
        )
        return None if exportable else "function 'coalesce' exports only as coalesce(field, literal)"
    return f"function {node.fn!r} has no JsonLogic equivalent"


def _emit(node: Node, parts: list[Any]) -> Any:
    """The JsonLogic of ``node`` given the JsonLogic of its children (in ``children`` order)."""
    if isinstance(node, FieldNode):
        return {"var": node.name}
    if isinstance(node, (IntLit, StrLit, BoolLit)):
        return node.value
    if isinstance(node, NullLit):
        return None
    if isinstance(node, DecimalLit):
        return _exact_float(node.value)
    if isinstance(node, ListLit):
        return parts
    if isinstance(node, (CmpNode, ArithNode)):
        return {node.op: parts}
    if isinstance(node, AndNode):
        return {"and": parts}
    if isinstance(node, OrNode):
        return {"or": parts}
    if isinstance(node, NotNode):
        return {"!": parts}
    if isinstance(node, NegNode):
        return {"-": parts}
    if isinstance(node, IsNullNode):
        return {"!=" if node.negated else "==": [parts[0], None]}
    if isinstance(node, InNode):
        membership = {"in": parts}
        return {"!": [membership]} if node.negated else membership
    if isinstance(node, CallNode) and node.fn == "contains":
        return {"in": [parts[1], parts[0]]}
    if isinstance(node, CallNode) and node.fn == "coalesce":
        return {"var": [parts[0]["var"], parts[1]]}
    if isinstance(node, CallNode):
        return {node.fn: parts}
    raise RuleError(f"{node.kind} node has no JsonLogic equivalent")  # pragma: no cover - all kinds above


def node_to_jsonlogic(node: Node) -> Any:
    """Export a rule to JsonLogic.

    Parameters
    ----------
    node:
        The rule's AST.

    Returns
    -------
    Any
        A JSON-compatible value (usually a one-key ``dict``) that [`node_from_jsonlogic`][] reads back
        to an equal AST, except that ``x not in [...]`` reads back as ``not (x in [...])``.

    Raises
    ------
    RuleError
        When a node has no JsonLogic equivalent (date/datetime/duration literals, functions other than
        ``min``, ``max``, ``contains`` and ``coalesce(field, literal)``, ``in`` over a non-literal,
        ``== null``, decimals no double equals), with the node's AST path in ``path``.

    Examples
    --------
    >>> from user_ops.rules._ast import FieldNode, InNode, ListLit, StrLit
    >>> cities = ListLit(items=(StrLit(value="Beijing"),))
    >>> node_to_jsonlogic(InNode(item=FieldNode(name="city"), values=cities))
    {'in': [{'var': 'city'}, ['Beijing']]}
    >>> from user_ops.rules._ast import CallNode
    >>> node_to_jsonlogic(CallNode(fn="days_since", args=(FieldNode(name="last_order_at"),)))
    Traceback (most recent call last):
    ...
    user_ops.exceptions.RuleError: function 'days_since' has no JsonLogic equivalent
      at $
    """
    # Iterative post-order: an AST built in Python may be deeper than the recursion limit.
    # A frame's last item is None on the way down, and its number of children on the way back up.
    stack: list[tuple[Node, _PathLink | None, int | None]] = [(node, None, None)]
    results: list[Any] = []
    while stack:
        current, link, exported_children = stack.pop()
        if exported_children is not None:
            start = len(results) - exported_children
            parts = results[start:]
            del results[start:]
            results.append(_emit(current, parts))
            continue
        problem = _export_error(current)
        if problem is not None:
            raise RuleError(problem, path=_ast_path(link))
        kids = children(current)
        stack.append((current, link, len(kids)))
        stack.extend((child, _PathLink(link, step), None) for step, child in reversed(kids))
    return results[0]

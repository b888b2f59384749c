"""Reading and writing rules in their JSON form.

The JSON form of a rule is the canonical AST of [`user_ops.rules._ast`][] dumped with pydantic: every node
is a JSON object with a ``kind`` and the fields of its model. Reading it is a two-step affair:

1. an iterative walk over the decoded document enforces [`Limits`][] (depth, node
   count, list size, total string size) before pydantic sees it, so a hostile document costs bounded
   work and can never hit Python's recursion limit;
2. ``NODE_ADAPTER`` validates it, and the first pydantic error becomes one
   [`RuleSyntaxError`][] with a human message and the JSON path of the problem.

Paths follow JSONPath's normalised form: ``$.items[0].left``, with keys that are not identifiers quoted
(``$['==']``). A path names the deepest part of the document that exists: a missing field is reported
at the object that lacks it, an unexpected field at the field itself.

Examples
--------
>>> rule = node_from_json('{"kind": "cmp", "op": ">=", '
...                       '"left": {"kind": "field", "name": "orders_90d"}, '
...                       '"right": {"kind": "int", "value": 3}}')
>>> rule.op, rule.left.name, rule.right.value
('>=', 'orders_90d', 3)
>>> node_to_json(rule)["right"]
{'kind': 'int', 'value': 3}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, NamedTuple, NoReturn, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from user_ops.exceptions import RuleError, RuleLimitError, RuleSyntaxError
from user_ops.rules._ast import NODE_ADAPTER, DateTimeLit, Node
from user_ops.rules._limits import DEFAULT_LIMITS, Limits

__all__ = ["json_path", "node_from_json", "node_to_json"]

# Every kind of the Node union, read from the models so the list cannot drift from _ast.py.
NODE_KINDS: frozenset[str] = frozenset(
    model.model_fields["kind"].default for model in get_args(get_args(Node)[0])
)

NODE_FIELD_NAMES: frozenset[str] = frozenset(
    name for model in get_args(get_args(Node)[0]) for name in model.model_fields
)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_QUOTED = re.compile(r"'([^']*)'")
# Python refuses to convert integer strings longer than this (sys.get_int_max_str_digits, default 4300).
_MAX_INT_DIGITS = 4000
_JSON_SCALARS = (str, int, float, bool, Decimal, type(None))


# --------------------------------------------------------------------------------------------- paths


class Loc(NamedTuple):
    """One step of a JSON path, linked to its parent (``None`` is the document root ``$``).

    Linked rather than copied so that walking a large document stores each path step once.
    """

    parent: Loc | None
    step: object


def json_path(steps: Iterable[object]) -> str:
    """Render path steps (object keys and array indices) as a JSONPath string.

    Parameters
    ----------
    steps:
        Object keys (``str``) and array indices (``int``) from the document root down.

    Returns
    -------
    str
        ``$`` followed by ``.key`` for identifier-like keys, ``['key']`` for other keys and ``[i]`` for
        indices.

    Examples
    --------
    >>> json_path(["items", 0, "left"])
    '$.items[0].left'
    >>> json_path(["and", 1, ">="])
    "$.and[1]['>=']"
    >>> json_path([])
    '$'
    """
    parts = ["$"]
    for step in steps:
        if isinstance(step, int) and not isinstance(step, bool):
            parts.append(f"[{step}]")
        elif isinstance(step, str) and _IDENTIFIER.match(step):
            parts.append(f".{step}")
        elif isinstance(step, str):
            escaped = step.replace("\\", "\\\\").replace("'", "\\'")
            parts.append(f"['{escaped}']")
        else:  # a non-string key of a Python dict: not JSON, but still worth pointing at
            parts.append(f"[{step!r}]")
    return "".join(parts)


def render_loc(loc: Loc | None) -> str:
    """The JSONPath string of a linked location."""
    steps: list[object] = []
    while loc is not None:
        steps.append(loc.step)
        loc = loc.parent
    return json_path(reversed(steps))


# ------------------------------------------------------------------------------------------ decoding


@dataclass(frozen=True)
class NonJson:
    """Stands in for a value ``json.loads`` accepts but JSON does not (NaN, huge integers).

    Decoding keeps it in place so that the walk can report it with its path.
    """

    description: str


def _parse_constant(name: str) -> NonJson:
    return NonJson(f"{name} is not valid JSON")


def _parse_int(digits: str) -> int | NonJson:
    if len(digits) > _MAX_INT_DIGITS:
        return NonJson(f"integer literal with {len(digits)} digits is outside the int64 range")
    return int(digits)


def decode_json_text(data: str | bytes | bytearray, limits: Limits) -> Any:
    """Decode JSON text (UTF-8/16/32 bytes or ``str``) with bounded work and user_ops errors.

    Floats are read as ``Decimal`` so that ``0.1`` stays exactly ``0.1``.

    Raises
    ------
    RuleSyntaxError
        Invalid JSON (with line and column) or undecodable bytes.
    RuleLimitError
        Text longer than ``limits.max_text_length`` or nested too deeply for the JSON parser.
    """
    if isinstance(data, (bytes, bytearray)):
        if len(data) > 4 * limits.max_text_length:  # no encoding takes more than 4 bytes a character
            raise RuleLimitError(
                f"the JSON text is {len(data)} bytes long; the limit is {limits.max_text_length} characters",
                path="$",
            )
        encoding = json.detect_encoding(data)
        try:
            text = bytes(data).decode(encoding)
        except UnicodeDecodeError as exc:
            raise RuleSyntaxError(
                f"the JSON bytes are not valid {encoding}: {exc.reason} at byte {exc.start}"
            ) from None
    else:
        text = data
    if len(text) > limits.max_text_length:
        raise RuleLimitError(
            f"the JSON text is {len(text)} characters long; the limit is {limits.max_text_length}",
            path="$",
        )
    try:
        return json.loads(text, parse_float=Decimal, parse_int=_parse_int, parse_constant=_parse_constant)
    except json.JSONDecodeError as exc:
        raise RuleSyntaxError(
            f"invalid JSON: {exc.msg}", text=text, line=exc.lineno, column=exc.colno
        ) from None
    except RecursionError:
        # CPython's decoder recurses once per nesting level; such a document is far over any limit.
        raise RuleLimitError(
            f"the JSON text nests too deeply (a rule may be at most {limits.max_depth} levels deep)",
            path="$",
        ) from None


# -------------------------------------------------------------------------------------- limit walk


class _Pending(NamedTuple):
    value: Any
    loc: Loc | None
    node_depth: int  # JSON objects (AST nodes) on the way from the root, this one included
    container_depth: int  # objects and arrays on the way from the root, this one included
    list_literal: bool  # this value is the ``items`` array of a ``{"kind": "list"}`` node


def check_document(
    doc: Any,
    limits: Limits,
    *,
    node_budget: int,
    max_container_depth: int,
    ast_form: bool,
    known_keys: frozenset[str] = frozenset(),
) -> None:
    """Walk a decoded document iteratively and raise on the first limit it exceeds.

    Every JSON object and every non-object array element counts against ``node_budget``: in the
    AST form that is exactly the node count of a valid rule, and for anything else it bounds the work.
    The strings of the document (values, and keys other than ``known_keys``) may total at most
    ``limits.max_text_length`` characters; the format's own keys do not count, so the limit measures
    the rule's content whatever the format's verbosity.

    Parameters
    ----------
    doc:
        The decoded document.
    limits:
        The limits to enforce.
    node_budget:
        Objects plus array elements allowed.
    max_container_depth:
        Nested objects and arrays allowed; callers choose it so that no valid rule exceeds it.
    ast_form:
        ``True`` for the AST form, where the object depth is the AST depth and ``{"kind": "list"}``
        arrays are list literals (checked against ``max_list_items``).
    known_keys:
        Keys of the format itself (field names of nodes, JsonLogic operators), not counted as text.

    Raises
    ------
    RuleLimitError
        With the JSON path of the first offending value, in document order.
    RuleSyntaxError
        For a Python value that is not JSON (a set, a model instance, NaN from ``json.loads``).
    """
    _LimitWalk(limits, node_budget, max_container_depth, ast_form, known_keys).run(doc)


class _LimitWalk:
    """The state of one [`check_document`][] walk: an explicit stack and two running totals."""

    def __init__(
        self,
        limits: Limits,
        node_budget: int,
        max_container_depth: int,
        ast_form: bool,
        known_keys: frozenset[str],
    ) -> None:
        self._limits = limits
        self._node_budget = node_budget
        self._max_container_depth = max_container_depth
        self._ast_form = ast_form
        self._known_keys = known_keys
        self._nodes = 0
        self._string_chars = 0
        self._stack: list[_Pending] = []

    def run(self, doc: Any) -> None:
        self._stack.append(_Pending(doc, None, 0, 0, list_literal=False))
        while self._stack:
            item = self._stack.pop()
            value = item.value
            if isinstance(value, NonJson):
                raise RuleSyntaxError(value.description, path=render_loc(item.loc))
            if isinstance(value, dict):
                self._object(value, item)
            elif isinstance(value, (list, tuple)):
                self._array(value, item)
            elif isinstance(value, str):
                self._add_text(len(value), item.loc)
            elif not isinstance(value, _JSON_SCALARS):
                raise RuleSyntaxError(
                    f"not a JSON value: {type(value).__name__} (expected an object, array, string, "
                    "number, boolean or null)",
                    path=render_loc(item.loc),
                )

    def _object(self, value: dict[Any, Any], item: _Pending) -> None:
        node_depth = item.node_depth + 1
        container_depth = item.container_depth + 1
        if (self._ast_form and node_depth > self._limits.max_depth) or (
            container_depth > self._max_container_depth
        ):
            self._too_deep(item.loc)
        self._count_nodes(1, item.loc)
        is_list_node = self._ast_form and value.get("kind") == "list"
        children = []
        for key, child in value.items():
            if isinstance(key, str) and key not in self._known_keys:
                self._add_text(len(key), item.loc)
            literal = is_list_node and key == "items"
            children.append(_Pending(child, Loc(item.loc, key), node_depth, container_depth, literal))
        self._stack.extend(reversed(children))  # reversed: popped in document order, the first reported

    def _array(self, value: list[Any] | tuple[Any, ...], item: _Pending) -> None:
        container_depth = item.container_depth + 1
        if container_depth > self._max_container_depth:
            self._too_deep(item.loc)
        if item.list_literal and len(value) > self._limits.max_list_items:
            raise RuleLimitError(
                f"the list literal has {len(value)} items; the limit is {self._limits.max_list_items}",
                path=render_loc(item.loc),
            )
        # Objects count themselves when popped; other elements count here.
        self._count_nodes(sum(1 for element in value if not isinstance(element, dict)), item.loc)
        self._stack.extend(
            _Pending(value[i], Loc(item.loc, i), item.node_depth, container_depth, list_literal=False)
            for i in reversed(range(len(value)))
        )

    def _too_deep(self, loc: Loc | None) -> NoReturn:
        raise RuleLimitError(
            f"the rule is nested more than {self._limits.max_depth} levels deep", path=render_loc(loc)
        )

    def _count_nodes(self, count: int, loc: Loc | None) -> None:
        self._nodes += count
        if self._nodes > self._node_budget:
            raise RuleLimitError(
                f"the rule has more than {self._limits.max_nodes} nodes", path=render_loc(loc)
            )

    def _add_text(self, length: int, loc: Loc | None) -> None:
        self._string_chars += length
        if self._string_chars > self._limits.max_text_length:
            raise RuleLimitError(
                f"the rule's strings total more than {self._limits.max_text_length} characters",
                path=render_loc(loc),
            )


# ----------------------------------------------------------------------------- validation messages


def json_type_name(value: object) -> str:
    """The JSON name of a decoded value's type (``array``, ``string``, ``number``...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def show_value(value: object, width: int = 60) -> str:
    """A short rendering of a decoded value for a message: strings quoted, other scalars in JSON
    spelling, containers by type (their content could be huge)."""
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= width else text[: width - 4] + "...'"
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float, Decimal)):
        text = str(value)
        return text if len(text) <= width else text[:width] + "..."
    return f"an {json_type_name(value)}" if isinstance(value, (list, tuple, dict)) else type(value).__name__


def describe_error(error: ErrorDetails) -> str:
    """A one-line, human message for one pydantic error on a node document."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    field = next((entry for entry in reversed(error["loc"]) if isinstance(entry, str)), None)
    if kind == "union_tag_invalid":
        tag = value.get("kind") if isinstance(value, dict) else ctx.get("tag")
        expected = ", ".join(sorted(_QUOTED.findall(str(ctx.get("expected_tags", "")))))
        if isinstance(tag, str) and tag in NODE_KINDS:
            # A real kind where fewer are allowed (a field inside a list literal).
            return f"node kind {tag!r} is not allowed here (expected one of: {expected})"
        if isinstance(tag, str):
            return f"unknown node kind {show_value(tag)} (expected one of: {expected})"
        return f"'kind' must be a string naming the node kind (one of: {expected}), got {show_value(tag)}"
    if kind == "union_tag_not_found":
        return "missing field 'kind' (every node is a JSON object with a 'kind')"
    if kind in {"model_attributes_type", "model_type", "dict_type"}:
        return f"expected a node (a JSON object with a 'kind'), got {json_type_name(value)}"
    if kind == "missing":
        return f"missing field {show_value(field)}"
    if kind == "extra_forbidden":
        return f"unexpected field {show_value(field)}"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    if kind == "literal_error":
        expected = ctx.get("expected", "?")
        return f"invalid value for {field!r}: {show_value(value)} (expected one of: {expected})"
    if kind == "too_short" and ctx.get("actual_length") == 0:
        return f"field {field!r} must not be empty"
    if kind == "invalid_key":
        return "object keys must be strings"
    message = error["msg"]
    message = message[:1].lower() + message[1:]
    return f"invalid value for {field!r}: {message}" if field is not None else message


_ABSENT = object()


def _child(container: object, step: object) -> object:
    if isinstance(container, dict):
        try:
            return container.get(step, _ABSENT)
        except TypeError:  # an unhashable step cannot be a key
            return _ABSENT
    if isinstance(container, (list, tuple)) and isinstance(step, int) and 0 <= step < len(container):
        return container[step]
    return _ABSENT


def document_steps(doc: object, loc: tuple[int | str, ...]) -> list[object]:
    """Map a pydantic ``loc`` onto the document's own path steps.

    A tagged union inserts the tag into ``loc`` (``('cmp', 'left', 'int', 'value')``); the document
    has no such step (``$.left.value``). Walking the document alongside ``loc`` tells the two apart: a
    tag is an entry equal to the ``kind`` of the object just entered.
    """
    steps: list[object] = []
    current = doc
    tag_possible = True
    for entry in loc:
        if tag_possible and isinstance(current, dict) and current.get("kind") == entry:
            tag_possible = False
            continue
        steps.append(entry)
        current = _child(current, entry)
        tag_possible = True
    return steps


def syntax_error_from_validation(exc: ValidationError, doc: object) -> RuleSyntaxError:
    """One [`RuleSyntaxError`][] for the first error of ``exc``, located in ``doc``."""
    errors = exc.errors(include_url=False)
    if not errors:  # pydantic always reports one; keep a message anyway
        return RuleSyntaxError("invalid rule document", path="$")
    first = errors[0]
    steps = document_steps(doc, first["loc"])
    if first["type"] == "missing" and steps:
        steps = steps[:-1]  # the missing field is not in the document: point at its object
    return RuleSyntaxError(describe_error(first), path=json_path(steps))


# ------------------------------------------------------------------------------------------ public


def node_from_json(obj: Any, *, limits: Limits = DEFAULT_LIMITS) -> Node:
    """Read a rule from its JSON form.

    Parameters
    ----------
    obj:
        The decoded JSON document (a ``dict``), or JSON text (``str``, ``bytes``).
    limits:
        Size limits; the document is checked against them before it is validated.

    Returns
    -------
    Node
        The rule's AST.

    Raises
    ------
    RuleSyntaxError
        Invalid JSON text (with line and column), or a document that is not a valid rule (with the
        JSON path of the first problem in ``path``).
    RuleLimitError
        A document over a limit (with the JSON path of the offending value in ``path``).

    Examples
    --------
    >>> node_from_json({"kind": "field", "name": "city"})
    FieldNode(kind='field', name='city')
    >>> node_from_json({"kind": "cmp", "op": ">=", "left": {"kind": "field", "name": "x"}})
    Traceback (most recent call last):
    ...
    user_ops.exceptions.RuleSyntaxError: missing field 'right'
      at $
    """
    doc = decode_json_text(obj, limits) if isinstance(obj, (str, bytes, bytearray)) else obj
    # An AST of depth d nests objects and arrays at most 2d deep (node, child array, node, ...).
    check_document(
        doc,
        limits,
        node_budget=limits.max_nodes,
        max_container_depth=2 * limits.max_depth,
        ast_form=True,
        known_keys=NODE_FIELD_NAMES,
    )
    try:
        return NODE_ADAPTER.validate_python(doc)
    except ValidationError as exc:
        raise syntax_error_from_validation(exc, doc) from None


def node_to_json(node: Node) -> dict[str, Any]:
    """The JSON form of a rule: a JSON-compatible ``dict`` (decimals as strings, dates in ISO 8601).

    Parameters
    ----------
    node:
        The rule's AST.

    Returns
    -------
    dict
        A document that [`node_from_json`][] reads back to an equal AST; ``json.dumps`` accepts it.
        A datetime whose UTC offset is not a whole number of minutes (historical local mean time, such
        as Shanghai's +08:05:43 before 1928) is written in UTC: the same instant, since JSON's ISO 8601
        offsets, as pydantic writes and reads them, stop at minutes.

    Raises
    ------
    RuleError
        Only for such a datetime whose UTC time falls outside years 1 to 9999.

    Examples
    --------
    >>> from decimal import Decimal
    >>> from user_ops.rules._ast import CmpNode, DecimalLit, FieldNode
    >>> rule = CmpNode(op=">", left=FieldNode(name="spend"), right=DecimalLit(value=Decimal("99.90")))
    >>> node_to_json(rule)
    {'kind': 'cmp', 'op': '>', 'left': {'kind': 'field', 'name': 'spend'},
     'right': {'kind': 'decimal', 'value': '99.90'}}
    """
    dumped: dict[str, Any] = node.model_dump(mode="json")
    _write_sub_minute_offsets_in_utc(node, dumped)
    return dumped


def _write_sub_minute_offsets_in_utc(node: Node, dumped: dict[str, Any]) -> None:
    """Patch ``dumped`` where pydantic would silently move an instant.

    pydantic writes a UTC offset to the minute, dropping seconds (``+05:30:15`` becomes ``+05:30``), so
    the instant read back differs. Such values are rewritten in UTC. The walk pairs each node with its
    dump, iteratively (an AST built in Python may be deeper than the recursion limit).
    """
    stack: list[tuple[Any, Any]] = [(node, dumped)]
    while stack:
        current, out = stack.pop()
        if isinstance(current, DateTimeLit):
            offset = current.value.utcoffset()
            if offset is not None and offset % timedelta(minutes=1):
                out["value"] = _utc_isoformat(current.value)
            continue
        for name in type(current).model_fields:
            value = getattr(current, name)
            if isinstance(value, BaseModel):
                stack.append((value, out[name]))
            elif isinstance(value, tuple):
                stack.extend(zip(value, out[name], strict=True))


def _utc_isoformat(value: datetime) -> str:
    try:
        return value.astimezone(timezone.utc).isoformat()
    except OverflowError:
        raise RuleError(
            f"datetime literal {value.isoformat()} has a UTC offset with seconds, which JSON cannot "
            "carry, and its UTC time is out of range"
        ) from None

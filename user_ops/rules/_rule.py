"""``Rule``: a parsed, type-checked condition over a customer, with a scalar and a batch evaluator."""

from __future__ import annotations

import html
import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from user_ops._json_text import dumps, unwrap_double_encoded
from user_ops._policy import canonical_hash, check_content_hash, document_schema, read_document
from user_ops._table import Table
from user_ops._time import TzLike, get_tz, require_aware
from user_ops.exceptions import (
    DataError,
    RuleError,
    RuleSyntaxError,
    RuleTypeError,
    missing_field_error,
    value_repr,
)
from user_ops.rules import _ast as A
from user_ops.rules._compile import ScalarFn, TNode, compile_node, evaluate_batch
from user_ops.rules._dates import DateMode, with_dates_in_columns, with_dates_in_record
from user_ops.rules._functions import lookup_function
from user_ops.rules._limits import DEFAULT_LIMITS, Limits
from user_ops.rules._runtime import (
    BatchContext,
    ScalarContext,
    is_missing,
    lookup,
    value_type,
)
from user_ops.rules._schema import Schema

if TYPE_CHECKING:
    from user_ops.rules._explain import Explanation, PopulationExplanation

__all__ = ["Rule"]

_CACHE_SIZE = 256


class Rule:
    """A condition over one customer record, evaluated for one record or a whole table.

    Build one with [`parse`][] (text), [`from_json`][] (the canonical JSON AST, as text or a
    dict), [`from_document`][] (a versioned document, as policies have) or [`from_jsonlogic`][].
    Without a schema a rule is type-checked against the data it meets (the record's values, the
    table's columns); with one, when it is built.

    Parameters
    ----------
    node:
        The AST (see ``user_ops.rules`` node classes).
    schema:
        Field types to type-check against now (optional).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> rule = Rule.parse("orders_90d >= 3 and spend_90d > 1000")
    >>> rule.evaluate_one({"orders_90d": 4, "spend_90d": 1500.0},
    ...                   as_of=datetime(2024, 6, 30, tzinfo=timezone.utc))
    True
    >>> rule.evaluate({"orders_90d": [1, 5], "spend_90d": [2000.0, 1200.0]},
    ...               as_of=datetime(2024, 6, 30, tzinfo=timezone.utc))
    array([False,  True])
    """

    #: Version of the document layout of [`to_document`][] (the canonical JSON AST's).
    schema_version: ClassVar[int] = 1

    __slots__ = (
        "_batch_cache",
        "_by_rule_types",
        "_date_modes",
        "_fields",
        "_functions",
        "_node",
        "_scalar_cache",
        "_scalar_fn",
        "_schema",
        "_signature",
        "_source",
        "_spans",
        "_typed",
    )

    def __init__(
        self,
        node: A.Node,
        *,
        schema: Schema | Mapping[str, str] | None = None,
        source: str | None = None,
        spans: dict[int, tuple[int, int]] | None = None,
    ) -> None:
        if not isinstance(node, A._Node):
            raise RuleTypeError(  # also a TypeError
                "Rule() takes an AST node; use Rule.parse(text) or Rule.from_json(obj), got "
                f"{type(node).__name__} {value_repr(node)}"
            )
        self._node: A.Node = node
        self._source = source
        self._spans = spans or {}
        self._fields, self._functions = _checked_names(node, self._locate)
        self._signature = _signature_function(self._fields)
        self._scalar_cache: dict[Any, tuple[TNode, ScalarFn]] = {}
        self._by_rule_types: OrderedDict[Any, tuple[TNode, ScalarFn]] = OrderedDict()
        self._batch_cache: OrderedDict[Any, TNode] = OrderedDict()
        self._schema: Schema | None = None
        self._typed: TNode | None = None
        self._scalar_fn: ScalarFn | None = None
        self._date_modes: dict[str, DateMode | None] = {}
        if schema is not None:
            self._schema = schema if isinstance(schema, Schema) else Schema(schema)
            self._typed = self._compile(self._schema.fields, strict_fields=False)
            self._scalar_fn = self._reading_dates(self._typed.scalar(), self._schema_dates())

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def parse(
        cls, text: str, schema: Schema | Mapping[str, str] | None = None, *, limits: Limits = DEFAULT_LIMITS
    ) -> Rule:
        """Parse rule text such as ``'orders_90d >= 3 and city in ["北京", "上海"]'``.

        Raises
        ------
        RuleSyntaxError, RuleLimitError, RuleTypeError
            With line, column and a caret under the offending text.
        """
        from user_ops.rules._parser import parse_text

        if not isinstance(text, str):
            from user_ops.exceptions import RuleSyntaxError

            raise RuleSyntaxError(f"rule text must be a string, got {type(text).__name__}")
        parsed = parse_text(text, limits=limits)
        return cls(parsed.node, schema=schema, source=text, spans=parsed.spans)

    @classmethod
    def from_json(
        cls, obj: Any, schema: Schema | Mapping[str, str] | None = None, *, limits: Limits = DEFAULT_LIMITS
    ) -> Rule:
        """Build from the canonical JSON AST: [`to_json`][] text (or bytes) or [`to_dict`][] output.

        Errors carry a JSON path.

        Examples
        --------
        >>> rule = Rule.parse("orders_90d >= 3")
        >>> Rule.from_json(rule.to_json()) == Rule.from_json(rule.to_dict()) == rule
        True
        """
        from user_ops.rules._json import node_from_json

        obj = unwrap_double_encoded(obj, what="Rule", error=RuleSyntaxError)
        return cls(node_from_json(obj, limits=limits), schema=schema)

    @classmethod
    def from_document(
        cls,
        document: dict[str, Any] | str | bytes,
        schema: Schema | Mapping[str, str] | None = None,
        *,
        limits: Limits = DEFAULT_LIMITS,
    ) -> Rule:
        """Read [`to_document`][] output, checking its type, version and (when present) content hash.

        As for policies: a document of another type, from a newer ``schema_version``, or whose rule no
        longer matches its ``content_hash`` raises [`ConfigError`][user_ops.ConfigError]; an invalid rule
        raises the rule errors of [`from_json`][].

        Examples
        --------
        >>> rule = Rule.parse('city in ["北京", "上海"]')
        >>> Rule.from_document(rule.to_document()) == rule
        True
        """
        _version, body, expected = read_document("Rule", document, newest=cls.schema_version)
        loaded = cls.from_json(body, schema, limits=limits)
        check_content_hash("Rule", expected, loaded.content_hash())
        return loaded

    @classmethod
    def from_jsonlogic(
        cls, obj: Any, schema: Schema | Mapping[str, str] | None = None, *, limits: Limits = DEFAULT_LIMITS
    ) -> Rule:
        """Import a JsonLogic rule (the subset the language covers); evaluated with user_ops semantics."""
        from user_ops.rules._jsonlogic import node_from_jsonlogic

        return cls(node_from_jsonlogic(obj, limits=limits), schema=schema)

    def to_text(self) -> str:
        """Canonical text; parses back to an equal rule."""
        from user_ops.rules._printer import to_text

        return to_text(self._node)

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON AST as a JSON-compatible dict.

        Examples
        --------
        >>> Rule.parse("orders_90d >= 3").to_dict()["op"]
        '>='
        """
        from user_ops.rules._json import node_to_json

        return node_to_json(self._node)

    def to_json(self, *, indent: int | None = None) -> str:
        """The canonical JSON AST as JSON text, ready to write to a file; [`from_json`][] reads it.

        Until the next release the text also answers the dict-like uses of the old ``to_json()``
        (which returned what [`to_dict`][] returns now), each with a ``DeprecationWarning``.

        Examples
        --------
        >>> Rule.parse("orders_90d >= 3").to_json()[:40]
        '{"kind": "cmp", "op": ">=", "left": {"ki'
        """
        return dumps(self.to_dict(), indent=indent)

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON AST (sorted keys), as a policy's `content_hash`.

        Examples
        --------
        >>> Rule.parse("a >= 3").content_hash() == Rule.parse("a>=3").content_hash()
        True
        """
        return canonical_hash(self.to_dict())

    def to_document(self) -> dict[str, Any]:
        """A versioned document, as policies have: type, ``schema_version``, content hash and the AST.

        Examples
        --------
        >>> document = Rule.parse("orders_90d >= 3").to_document()
        >>> document["type"], document["schema_version"], document["policy"]["op"]
        ('Rule', 1, '>=')
        """
        return {
            "type": "Rule",
            "schema_version": self.schema_version,
            "content_hash": self.content_hash(),
            "policy": self.to_dict(),
        }

    @classmethod
    def document_json_schema(cls) -> dict[str, Any]:
        """JSON Schema of [`to_document`][] output (the AST's schema inside the versioned envelope).

        Examples
        --------
        >>> Rule.document_json_schema()["properties"]["type"]
        {'const': 'Rule'}
        """
        return document_schema("Rule", cls.schema_version, cls.json_schema())

    def to_jsonlogic(self) -> Any:
        """JsonLogic form; raises RuleError for constructs JsonLogic cannot express."""
        from user_ops.rules._jsonlogic import node_to_jsonlogic

        return node_to_jsonlogic(self._node)

    @staticmethod
    def json_schema() -> dict[str, Any]:
        """JSON Schema of the canonical JSON AST (for admin UIs and validators).

        Examples
        --------
        >>> sorted(Rule.json_schema()["discriminator"]["mapping"])[:4]
        ['and', 'arith', 'bool', 'call']
        """
        schema: dict[str, Any] = A.NODE_ADAPTER.json_schema()
        return schema

    def with_schema(self, schema: Schema | Mapping[str, str]) -> Rule:
        """The same rule, type-checked against ``schema`` now."""
        return Rule(self._node, schema=schema, source=self._source, spans=self._spans)

    # -- properties ---------------------------------------------------------------------------------
    @property
    def node(self) -> A.Node:
        """The AST."""
        return self._node

    @property
    def schema(self) -> Schema | None:
        """The schema given when building, if any."""
        return self._schema

    @property
    def fields(self) -> tuple[str, ...]:
        """Names of the fields the rule reads, in order of first use."""
        return self._fields

    @property
    def functions(self) -> tuple[str, ...]:
        """Names of the functions the rule calls (built-ins and plugins), in order of first use.

        Examples
        --------
        >>> Rule.parse("days_since(last_order_at) > 30 and len(tags) > days_since(signup_at)").functions
        ('days_since', 'len')
        """
        return self._functions

    def walk(self) -> Iterator[A.Node]:
        """Every node of the AST, depth-first: a node before its children, children left to right.

        The order is that of the rule text: the operands of a comparison or an arithmetic
        operation left then right, the items of ``and``/``or`` and a list literal and the
        arguments of a call in order, the item of ``in`` before its list. The walk is iterative: a
        rule of any depth or length is walked without recursion.

        Examples
        --------
        >>> from user_ops.rules import CallNode, StrLit
        >>> rule = Rule.parse('has_tag("vip") or (orders_90d >= 3 and not has_tag("churned"))')
        >>> [type(node).__name__ for node in rule.walk()][:4]
        ['OrNode', 'CallNode', 'StrLit', 'AndNode']
        >>> [node.args[0].value for node in rule.walk()
        ...  if isinstance(node, CallNode) and node.fn == "has_tag" and isinstance(node.args[0], StrLit)]
        ['vip', 'churned']
        """
        stack: list[A.Node] = [self._node]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(child for _, child in reversed(A.children(node)))

    @property
    def source(self) -> str | None:
        """The text the rule was parsed from, if any."""
        return self._source

    # -- evaluation ---------------------------------------------------------------------------------
    def evaluate_one(
        self,
        record: Mapping[str, Any],
        *,
        as_of: datetime,
        tz: TzLike | None = None,
        tags: frozenset[str] | set[str] | None = None,
    ) -> bool:
        """Whether one record matches (an unknown result does not match).

        Parameters
        ----------
        record:
            Field name to value; dotted names may also reach into nested mappings.
        as_of:
            The evaluation instant (timezone-aware).
        tz:
            Business time zone for calendar days and date parts; default: ``as_of``'s zone.
        tags:
            Tags the customer already has (used by ``has_tag``; a TagSet passes them).
        """
        last = _last_context
        if as_of is last[0] and tz is last[1] and tags is None and last[2] is not None:
            ctx = last[2]  # the hot path of a backend: many records at one instant
        else:
            ctx = _scalar_context(as_of, tz, tags)
        evaluate = self._scalar_fn
        if evaluate is None:  # _scalar_for_record, inlined: this is the hot path of a backend
            hit = self._scalar_cache.get(self._signature(record)) if type(record) is dict else None
            evaluate = hit[1] if hit is not None else self._compiled_for_record(record)[1]
        return evaluate(record, ctx) is True

    def value_one(
        self,
        record: Mapping[str, Any],
        *,
        as_of: datetime,
        tz: TzLike | None = None,
        tags: frozenset[str] | set[str] | None = None,
    ) -> bool | None:
        """Three-valued result for one record: True, False or None (unknown)."""
        return self._value_in(record, _scalar_context(as_of, tz, tags))

    @staticmethod
    def _context(as_of: datetime, tz: TzLike | None) -> ScalarContext:
        """A fresh context for evaluating several rules for one record (a TagSet sets its ``tags``)."""
        aware = require_aware(as_of)
        zone = get_tz(tz) if tz is not None else _zone_of(aware)
        return ScalarContext(aware, zone, frozenset(), text_tz=zone if tz is not None else None)

    def _value_in(self, record: Mapping[str, Any], ctx: ScalarContext) -> bool | None:
        """Three-valued result in a given context."""
        evaluate = self._scalar_fn or self._scalar_for_record(record)
        result: bool | None = evaluate(record, ctx)
        return result

    def evaluate(
        self, table: Any, *, as_of: datetime, tz: TzLike | None = None, tags: Mapping[str, Any] | None = None
    ) -> npt.NDArray[np.bool_]:
        """Which rows match, as a boolean array (unknown results do not match).

        Parameters
        ----------
        table:
            A Table or anything ``Table.coerce`` accepts (dict of columns, list of records, DataFrame).
        as_of, tz:
            As for [`evaluate_one`][].
        tags:
            Tag name to boolean column (used by ``has_tag``; a TagSet passes them).
        """
        ctx = self._batch_context(table, as_of, tz, tags)
        vec = evaluate_batch(self._typed_for_table(ctx.table), ctx)
        values = np.asarray(vec.values, dtype=np.bool_)
        if vec.nulls is not None:
            matched: npt.NDArray[np.bool_] = np.broadcast_to(values & ~vec.nulls, (ctx.n,)).copy()
            return matched
        if values.shape == (ctx.n,) and values.flags.writeable and values.flags.owndata:
            return values  # a fresh result of this evaluation: no copy needed
        return np.array(np.broadcast_to(values, (ctx.n,)))  # a column or a constant: the caller gets its own

    def values(
        self, table: Any, *, as_of: datetime, tz: TzLike | None = None, tags: Mapping[str, Any] | None = None
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Three-valued batch result: ``(values, unknown)`` boolean arrays."""
        ctx = self._batch_context(table, as_of, tz, tags)
        vec = evaluate_batch(self._typed_for_table(ctx.table), ctx)
        values = np.broadcast_to(np.asarray(vec.values, dtype=np.bool_), (ctx.n,)).copy()
        nulls = (
            np.zeros(ctx.n, dtype=np.bool_)
            if vec.nulls is None
            else np.broadcast_to(vec.nulls, (ctx.n,)).copy()
        )
        values &= ~nulls
        return values, nulls

    def explain_one(
        self,
        record: Mapping[str, Any],
        *,
        as_of: datetime,
        tz: TzLike | None = None,
        tags: frozenset[str] | set[str] | None = None,
    ) -> Explanation:
        """The value of every node for one record, with the leaves that made the rule fail marked."""
        from user_ops.rules._explain import explain_record

        ctx = _scalar_context(as_of, tz, tags)
        if isinstance(record, Mapping):
            record = self._with_dates(record, ctx)
        return explain_record(self._typed_for_record(record), record, ctx)

    def explain(
        self, table: Any, *, as_of: datetime, tz: TzLike | None = None, tags: Mapping[str, Any] | None = None
    ) -> PopulationExplanation:
        """For a population: how many rows each node passed, failed or left unknown."""
        from user_ops.rules._explain import explain_table

        ctx = self._batch_context(table, as_of, tz, tags)
        return explain_table(self._typed_for_table(ctx.table), ctx)

    def check(self, schema: Schema | Mapping[str, str]) -> None:
        """Type-check against ``schema`` without keeping it; raises RuleTypeError on a problem."""
        fields = schema.fields if isinstance(schema, Schema) else dict(schema)
        self._compile(fields, strict_fields=False)

    # -- typing -------------------------------------------------------------------------------------
    def _compile(self, fields: Mapping[str, str], *, strict_fields: bool) -> TNode:
        typed = compile_node(self._node, fields, self._locate, strict_fields=strict_fields)
        if typed.type not in ("bool", "null"):
            raise RuleTypeError(
                f"a rule must be a condition (true/false), but this expression gives a {typed.type} value",
                **self._locate(self._node, "$"),
            )
        return typed

    def _typed_for_record(self, record: Mapping[str, Any]) -> TNode:
        if self._typed is not None:
            return self._typed
        return self._compiled_for_record(record)[0]

    def _scalar_for_record(self, record: Mapping[str, Any]) -> ScalarFn:
        # Without a schema each record is its own schema: the Python classes of its fields pick the
        # compiled tree (a cheap key), so an answer never depends on which records came before.
        if type(record) is dict:
            hit = self._scalar_cache.get(self._signature(record))
            if hit is not None:
                return hit[1]
        return self._compiled_for_record(record)[1]

    def _compiled_for_record(self, record: Mapping[str, Any]) -> tuple[TNode, ScalarFn]:
        if not isinstance(record, Mapping):
            raise DataError(f"a record must be a mapping, got {type(record).__name__}")
        signature = []
        for name in self._fields:
            value = lookup(record, name)
            if is_missing(value):
                raise missing_field_error(name, record)
            signature.append(value_type(value, name))
        key = tuple(signature)
        compiled = self._by_rule_types.get(key)
        if compiled is None:
            dates = self._text_dates(name for name, kind in zip(self._fields, key) if kind == "str")
            if dates:  # ISO text where the rule reads a date or an instant: read it, then evaluate
                placeholder = {**dict(zip(self._fields, key)), **{n: _typed_as(m) for n, m in dates.items()}}
                typed = self._compile(placeholder, strict_fields=True)
                compiled = (typed, self._reading_dates(self._evaluate_read, dates))
            else:
                typed = self._compile(dict(zip(self._fields, key)), strict_fields=True)
                compiled = (typed, typed.scalar())
            _remember(self._by_rule_types, key, compiled)
        if type(record) is dict and all("." not in name for name in self._fields):
            if len(self._scalar_cache) >= _CACHE_SIZE:  # records with ever new type mixes: start over
                self._scalar_cache.clear()
            self._scalar_cache[self._signature(record)] = compiled
        return compiled

    def _typed_for_table(self, table: Table) -> TNode:
        if self._typed is not None:
            return self._typed
        kinds = {name: table.kind(name) for name in self._fields if name in table}
        key = tuple(kinds.get(name, "") for name in self._fields)
        typed = self._batch_cache.get(key)
        if typed is None:
            schema = {name: table.kind(name) for name in table.columns}
            typed = self._compile(schema, strict_fields=True)
            _remember(self._batch_cache, key, typed)
        return typed

    def _batch_context(
        self, table: Any, as_of: datetime, tz: TzLike | None, tags: Mapping[str, Any] | None
    ) -> BatchContext:
        aware = require_aware(as_of)
        zone = get_tz(tz) if tz is not None else _zone_of(aware)
        data = Table.coerce(table)
        dates = self._text_dates(n for n in self._fields if n in data and data.kind(n) == "str")
        if dates:  # ISO text columns where the rule reads dates or instants, read as one record's
            data = with_dates_in_columns(data, dates, tz=zone if tz is not None else None)
        tag_columns = None
        if tags is not None:
            tag_columns = {name: _tag_column(name, column, len(data)) for name, column in tags.items()}
        return BatchContext(data, aware, zone, tag_columns)

    # -- ISO text for dates and instants (see user_ops.rules._dates) ----------------------------------
    def _date_mode(self, name: str) -> DateMode | None:
        """How field ``name`` takes ISO text: its Schema's type, else what the rule's typing accepts.

        ``None`` for a field the rule reads as text (or as a number, ...): its text stays text. Found
        by type-checking the rule with the field as text, a date and an instant (other fields null),
        once per field.
        """
        if name in self._date_modes:
            return self._date_modes[name]
        declared = self._schema.get(name) if self._schema is not None else None
        mode: DateMode | None
        if declared is not None:
            mode = declared if declared in ("date", "datetime") else None  # type: ignore[assignment]
        else:
            accepts = {kind for kind in ("str", "date", "datetime") if self._types_with(name, kind)}
            if "str" in accepts or not accepts:
                mode = None
            else:
                mode = "either" if len(accepts) == 2 else "date" if "date" in accepts else "datetime"
        self._date_modes[name] = mode
        return mode

    def _types_with(self, name: str, kind: str) -> bool:
        fields = dict.fromkeys(self._fields, "null")
        fields[name] = kind
        try:
            self._compile(fields, strict_fields=True)
        except RuleError:
            return False
        return True

    def _text_dates(self, names: Iterable[str]) -> dict[str, DateMode]:
        """The fields among ``names`` (fields holding text) that the rule reads as dates or instants."""
        found: dict[str, DateMode] = {}
        for name in names:
            mode = self._date_mode(name)
            if mode is not None:
                found[name] = mode
        return found

    def _schema_dates(self) -> dict[str, DateMode]:
        schema = self._schema
        return {} if schema is None else self._text_dates(n for n in self._fields if n in schema)

    def _with_dates(self, record: Mapping[str, Any], ctx: ScalarContext) -> Mapping[str, Any]:
        """``record`` with the ISO text of its date and instant fields read (explanations)."""
        texts = (name for name in self._fields if isinstance(lookup(record, name), str))
        dates = self._text_dates(texts)
        return with_dates_in_record(record, dates, tz=ctx.text_tz) if dates else record

    def _evaluate_read(self, record: Mapping[str, Any], ctx: ScalarContext) -> bool | None:
        """Evaluate a record whose date text was read (its types pick the compiled tree)."""
        result: bool | None = self._compiled_for_record(record)[1](record, ctx)
        return result

    @staticmethod
    def _reading_dates(evaluate: ScalarFn, dates: dict[str, DateMode]) -> ScalarFn:
        """``evaluate`` preceded by reading the ISO text of ``dates`` (unchanged when there are none)."""
        if not dates:
            return evaluate

        def read_then_evaluate(record: Mapping[str, Any], ctx: ScalarContext) -> Any:
            return evaluate(with_dates_in_record(record, dates, tz=ctx.text_tz), ctx)

        return read_then_evaluate

    def _locate(self, node: A.Node, path: str) -> dict[str, Any]:
        span = self._spans.get(id(node))
        if span is None or self._source is None:
            return {"path": path}
        from user_ops.rules._parser import line_col

        line, column = line_col(self._source, span[0])
        end_line, end_column = line_col(self._source, max(span[0], span[1] - 1))
        end = end_column + 1 if end_line == line else None
        return {"text": self._source, "line": line, "column": column, "end_column": end}

    # -- protocol -----------------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rule) and self._node == other._node

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def __repr__(self) -> str:
        return f"Rule({self.to_text()!r})"

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        return f"<code class='user-ops-rule'>{html.escape(self.to_text())}</code>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rule_from_json, (self.to_dict(), self._schema))

    # pydantic: a Rule field accepts rule text, a JSON AST dict or a Rule, and serializes to text.
    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _coerce_rule,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda r: r.to_text()),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [
                {"type": "string", "description": "rule text, e.g. orders_90d >= 3 and spend_90d > 1000"},
                {"type": "object", "description": "the rule's canonical JSON AST (kind-tagged nodes)"},
            ],
            "title": "Rule",
        }


def _rule_from_json(obj: Any, schema: Schema | None) -> Rule:
    return Rule.from_json(obj, schema)


def _coerce_rule(value: Any) -> Rule:
    if isinstance(value, Rule):
        return value
    if isinstance(value, str):
        return Rule.parse(value)
    if isinstance(value, Mapping):
        return Rule.from_json(dict(value))
    raise ValueError(f"a rule must be rule text or a JSON AST object, got {type(value).__name__}")


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    cache[key] = value
    if len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)


_ABSENT = object()


def _signature_function(fields: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
    """Key of a record's field types (Python classes, cheap to compute) for the compiled-tree cache."""
    if len(fields) == 1:
        (only,) = fields
        return lambda record: type(record.get(only, _ABSENT))
    if len(fields) == 2:
        first, second = fields
        return lambda record: (type(record.get(first, _ABSENT)), type(record.get(second, _ABSENT)))
    return lambda record: tuple([type(record.get(name, _ABSENT)) for name in fields])


def _checked_names(
    node: A.Node, locate: Callable[[A.Node, str], dict[str, Any]]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The fields ``node`` reads and the functions it calls, in order of first use, once checked.

    Two mistakes are caught here, whatever the data, so they surface when the rule is built rather
    than when it is first evaluated: a comparison with a ``null`` literal (always unknown, so it never
    matches) and a call of a function nobody registered. The walk builds no JSON paths (a 50,000-node
    rule would pay for every one); the path of a culprit is found afterwards.
    """
    names: dict[str, None] = {}
    functions: dict[str, None] = {}
    stack: list[A.Node] = [node]
    while stack:
        current = stack.pop()
        kind = type(current)
        if kind is A.FieldNode:
            names.setdefault(current.name)  # type: ignore[union-attr]
            continue
        if kind is A.CmpNode:
            assert isinstance(current, A.CmpNode)
            if type(current.left) is A.NullLit or type(current.right) is A.NullLit:
                where = locate(current, _path_to(node, current))
                raise RuleSyntaxError(_null_comparison_message(current), **where)
            stack.append(current.right)
            stack.append(current.left)
        elif kind in (A.AndNode, A.OrNode):
            stack.extend(reversed(current.items))  # type: ignore[union-attr]
        elif kind is A.CallNode:
            assert isinstance(current, A.CallNode)
            if lookup_function(current.fn) is None:
                where = locate(current, _path_to(node, current))
                raise RuleTypeError(_unknown_function_message(current.fn), **where)
            functions.setdefault(current.fn)
            stack.extend(reversed(current.args))
        elif kind not in _LEAVES:
            stack.extend(child for _, child in reversed(A.children(current)))
    return tuple(names), tuple(functions)


_LEAVES = frozenset(
    {A.IntLit, A.DecimalLit, A.StrLit, A.BoolLit, A.NullLit, A.DurationLit, A.DateLit, A.DateTimeLit}
)


def _path_to(root: A.Node, target: A.Node) -> str:
    """The JSON path of ``target`` (the very object) inside ``root``."""
    stack: list[tuple[A.Node, str]] = [(root, "$")]
    while stack:
        current, path = stack.pop()
        if current is target:
            return path
        stack.extend((child, path + step) for step, child in A.children(current))
    return "$"


def _null_comparison_message(node: A.CmpNode) -> str:
    from user_ops.rules._printer import to_text

    shown = _short_text(to_text(node))
    if isinstance(node.left, A.NullLit) and isinstance(node.right, A.NullLit):
        advice = "test a value for a missing one with `is null` / `is not null`"
    else:
        other = node.right if isinstance(node.left, A.NullLit) else node.left
        if node.op in ("==", "!="):
            test = to_text(A.IsNullNode(item=other, negated=node.op == "!="))
            advice = f"write `{_short_text(test)}`"
        else:
            tests = (to_text(A.IsNullNode(item=other, negated=negated)) for negated in (False, True))
            advice = "to test for a missing value write `{}` or `{}`".format(*map(_short_text, tests))
    return f"`{shown}` never matches (a comparison with null is unknown); {advice}"


def _unknown_function_message(name: str) -> str:
    import difflib

    from user_ops.rules._functions import REGISTRY

    close = difflib.get_close_matches(name, REGISTRY.names(), n=1)
    hint = f" (did you mean {close[0]}()?)" if close else ""
    return (
        f"unknown function {_short_text(name)}(){hint}; a plugin function must be registered "
        "(user_ops.rules.register_function, or user_ops.plugins.load_entry_points()) before a rule "
        "calling it is built"
    )


def _short_text(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _zone_of(as_of: datetime) -> tzinfo:
    zone = as_of.tzinfo
    assert zone is not None
    return zone


# One (as_of, tz, context) triple, replaced as a whole so concurrent callers never see a mixed state.
_last_context: tuple[Any, Any, ScalarContext | None] = (None, None, None)


def _scalar_context(as_of: datetime, tz: TzLike | None, tags: Any) -> ScalarContext:
    # A backend evaluates many rules at one instant: reuse the context for the same as_of and zone.
    global _last_context
    last_as_of, last_tz, last = _last_context
    if tags is None and last is not None and as_of is last_as_of and tz is last_tz:
        return last
    aware = require_aware(as_of)
    zone = get_tz(tz) if tz is not None else _zone_of(aware)
    text_tz = zone if tz is not None else None  # naive ISO text is read only in a zone the caller named
    if tags is not None:
        return ScalarContext(aware, zone, frozenset(tags), text_tz=text_tz)
    context = ScalarContext(aware, zone, None, text_tz=text_tz)
    _last_context = (as_of, tz, context)
    return context


def _typed_as(mode: DateMode) -> str:
    """The field type a date mode compiles as (a placeholder for ISO text before it is read)."""
    return "date" if mode == "date" else "datetime"


def _tag_column(name: str, column: Any, n: int) -> npt.NDArray[np.bool_]:
    values = np.asarray(column)
    if values.shape != (n,) or values.dtype != np.bool_:
        raise DataError(f"tag column {name!r} must be a boolean array of length {n}")
    return values

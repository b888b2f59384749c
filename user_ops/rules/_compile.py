"""Type-check a rule AST against a schema and build its two evaluators from one typed tree.

Every typed node (``T*`` class below) carries, side by side, the scalar evaluator (``scalar()``: a
closure ``f(record, ctx) -> value | None``) and the batch evaluator (``batch(ctx) -> Vec``). Types and
implicit conversions are decided here once, so the two paths cannot disagree about them.

Three-valued logic: a comparison with a null operand is unknown (``None`` / a set bit in
``Vec.nulls``); ``and`` is false if any item is false, else unknown if any is unknown; ``or`` is true
if any item is true, else unknown if any is unknown; ``not unknown`` is unknown; ``is null`` is never
unknown. A rule whose result is unknown does not match.
"""

from __future__ import annotations

import difflib
import operator
import warnings
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, DecimalException
from typing import Any, ClassVar

import numpy as np

from user_ops._time import as_utc_us, days_from_epoch, parse_duration
from user_ops.exceptions import DataError, RuleTypeError, UserOpsWarning, missing_field_error
from user_ops.rules import _ast as A
from user_ops.rules._casts import NUMERIC, cast_batch, cast_scalar, join_numeric, unify
from user_ops.rules._functions import FunctionSpec, SignatureError, lookup_function
from user_ops.rules._runtime import (
    DECIMAL_CONTEXT,
    INT64_MAX,
    INT64_MIN,
    MISSING,
    BatchContext,
    BoolArray,
    ScalarContext,
    Vec,
    convert_scalar,
    lookup,
    or_nulls,
    placeholders,
    read_column,
)

__all__ = ["Locator", "TNode", "compile_node", "evaluate_batch"]

ScalarFn = Callable[[Mapping[str, Any], ScalarContext], Any]
Locator = Callable[[A.Node, str], dict[str, Any]]
_CMP: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ORDERED = frozenset({"int", "float", "decimal", "str", "datetime", "date", "duration"})
_US_PER_DAY = 86_400_000_000
_ONE_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# What date and time arithmetic may reach: years 1 to 9999 (instants in UTC), as Python's own types.
_MIN_ORDINAL, _MAX_ORDINAL = date.min.toordinal(), date.max.toordinal()
_MIN_DAY, _MAX_DAY = days_from_epoch(date.min), days_from_epoch(date.max)
_MIN_UTC_US = as_utc_us(datetime.min.replace(tzinfo=timezone.utc))
_MAX_UTC_US = as_utc_us(datetime.max.replace(tzinfo=timezone.utc))
_ABSENT = object()


# -- typed nodes ------------------------------------------------------------------------------------
class TNode:
    """A type-checked node: its source AST node, JSON path, result type, and both evaluators."""

    kind: ClassVar[str] = ""
    __slots__ = ("_scalar", "node", "path", "type")

    def __init__(self, node: A.Node, path: str, type_: str) -> None:
        self.node = node
        self.path = path
        self.type = type_
        self._scalar: ScalarFn | None = None

    def children(self) -> tuple[TNode, ...]:
        return ()

    def scalar(self) -> ScalarFn:
        """The scalar evaluator (built once)."""
        if self._scalar is None:
            self._scalar = self._build_scalar()
        return self._scalar

    def _build_scalar(self) -> ScalarFn:
        raise NotImplementedError

    def batch(self, ctx: BatchContext, memo: dict[int, Vec] | None = None) -> Vec:
        """The batch value; with ``memo``, every node's value is recorded by ``id`` (for explain)."""
        result = self._batch(ctx, memo)
        if memo is not None:
            memo[id(self)] = result
        return result

    def _batch(self, ctx: BatchContext, memo: dict[int, Vec] | None) -> Vec:
        raise NotImplementedError

    def walk(self) -> Iterator[TNode]:
        """This node and every node under it, depth first."""
        stack: list[TNode] = [self]
        while stack:
            current = stack.pop()
            yield current
            stack.extend(reversed(current.children()))


class TField(TNode):
    kind = "field"
    __slots__ = ("declared", "name", "strict")

    def __init__(self, node: A.FieldNode, path: str, type_: str, *, strict: bool) -> None:
        super().__init__(node, path, type_)
        self.name = node.name
        self.strict = strict  # without a schema the record is the schema: a missing key is an error

    def _build_scalar(self) -> ScalarFn:
        name, declared, strict = self.name, self.type, self.strict
        fast: type | None = {"int": int, "str": str, "bool": bool}.get(declared)

        flat = "." not in name

        def read(record: Mapping[str, Any], ctx: ScalarContext) -> Any:
            value = record.get(name, MISSING) if flat else lookup(record, name)
            if fast is not None and type(value) is fast:
                return value
            if value is None:
                return None
            if value is MISSING:
                if strict:
                    raise missing_field_error(name, record)
                return None
            # Without a schema the record's own field classes chose this tree, so the value has the
            # declared type; with one, convert_scalar below checks it.
            if declared == "float" and type(value) is float:
                return None if value != value else value
            if declared == "list[str]" and type(value) in (tuple, list):
                try:
                    "".join(value)  # every item a str: the sequence is used as it is, not copied
                    return value
                except TypeError:
                    pass  # convert_scalar names the offending item
            return convert_scalar(value, declared, name)

        return read

    def _batch(self, ctx: BatchContext, memo: dict[int, Vec] | None) -> Vec:
        vec = read_column(ctx.table, self.name)
        actual = ctx.table.kind(self.name)
        if actual == self.type:
            return vec
        if actual == "null":  # every value missing: nulls of the declared type
            return Vec(placeholders(self.type, ctx.n), np.ones(ctx.n, dtype=np.bool_))
        if (actual, self.type) in (("int", "float"), ("int", "decimal")):
            return Vec(cast_batch(vec.values, actual, self.type, ctx), vec.nulls)
        raise DataError(f"column {self.name!r} holds {actual} values but the rule's schema says {self.type}")


class TConst(TNode):
    kind = "const"
    __slots__ = ("batch_value", "value")

    def __init__(self, node: A.Node, path: str, type_: str, value: Any, batch_value: Any) -> None:
        super().__init__(node, path, type_)
        self.value = value
        self.batch_value = batch_value

    def _build_scalar(self) -> ScalarFn:
        value = self.value
        return lambda record, ctx: value

    def _batch(self, ctx: BatchContext, memo: dict[int, Vec] | None) -> Vec:
        if self.value is None:
            return Vec(np.zeros((), dtype=np.bool_), np.ones(ctx.n, dtype=np.bool_))
        dtype = object if self.type in ("decimal", "str", "list[str]") else None
        return Vec(np.asarray(self.batch_value, dtype=dtype), None)


class TCompare(TNode):
    kind = "cmp"
    __slots__ = ("left", "op", "right", "target")

    def __init__(self, node: A.Node, path: str, op: str, left: TNode, right: TNode, target: str) -> None:
        super().__init__(node, path, "bool")
        self.op, self.left, self.right, self.target = op, left, right, target

    def children(self) -> tuple[TNode, ...]:
        return (self.left, self.right)

    def _build_scalar(self) -> ScalarFn:
        compare = _CMP[self.op]
        left, right = self.left.scalar(), self.right.scalar()
        lt, rt, target = self.left.type, self.right.type, self.target
        if "null" in (lt, rt):
            return _operands_then_null(left, right)
        if isinstance(self.right, TConst) and (rt == target or target != "datetime"):
            constant = cast_scalar(self.right.value, rt, target, None)  # type: ignore[arg-type]
            fused = self._fused_field_constant(compare, constant)
            if fused is not None:
                return fused
            if lt == target:

                def compare_const(record: Mapping[str, Any], ctx: ScalarContext) -> Any:
                    a = left(record, ctx)
                    return None if a is None else compare(a, constant)

                return compare_const

            def compare_cast_const(record: Mapping[str, Any], ctx: ScalarContext) -> Any:
                a = left(record, ctx)
                return None if a is None else compare(cast_scalar(a, lt, target, ctx), constant)

            return compare_cast_const

        def compare_values(record: Mapping[str, Any], ctx: ScalarContext) -> Any:
            # Both sides are evaluated before the null test, as the batch path evaluates every row:
            # an operand that overflows raises in both paths, whatever the other operand holds.
            a = left(record, ctx)
            b = right(record, ctx)
            if a is None or b is None:
                return None
            return compare(cast_scalar(a, lt, target, ctx), cast_scalar(b, rt, target, ctx))

        return compare_values

    def _fused_field_constant(self, compare: Callable[[Any, Any], Any], constant: Any) -> ScalarFn | None:
        """``field op constant`` in one closure: the most common leaf, so the hot path is one call."""
        left = self.left
        fast = {"int": int, "str": str, "float": float}.get(left.type)
        if not isinstance(left, TField) or "." in left.name or fast is None or left.type != self.target:
            return None
        name, read, is_float = left.name, left.scalar(), left.type == "float"

        def field_op_constant(record: Mapping[str, Any], ctx: ScalarContext) -> Any:
            value = record.get(name, _ABSENT)
            if type(value) is fast and (not is_float or value == value):
                return compare(value, constant)
            value = read(record, ctx)  # the full reader: missing fields, None, NaN, conversions, errors
            return None if value is None else compare(value, constant)

        return field_op_constant

    def _batch(self, ctx: BatchContext, memo: dict[int, Vec] | None) -> Vec:
        a, b = self.left.batch(ctx, memo), self.right.batch(ctx, memo)
        if "null" in (self.left.type, self.right.type):
            return _all_null(ctx)
        x = cast_batch(a.values, self.left.type, self.target, ctx)
        y = cast_batch(b.values, self.right.type, self.target, ctx)
        values = np.asarray(_CMP[self.op](x, y), dtype=np.bool_)
        return Vec(values, or_nulls(a.nulls, b.nulls))


class TLogic(TNode):
    kind = "logic"
    __slots__ = ("is_and", "items")

    def __init__(self, node: A.Node, path: str, items: list[TNode], *, is_and: bool) -> None:
        super().__init__(node, path, "bool")
        self.items = tuple(items)
        self.is_and = is_and

    def children(self) -> tuple[TNode, ...]:
        return self.items

    def _build_scalar(self) -> ScalarFn:
        functions = tuple(item.scalar() for item in self.items)
        decisive = not self.is_and  # the value that settles the result: False for and, True for or
        if len(functions) == 2 and self.is_and:
            first, second = functions

            def and2(record: Mapping[str, Any], ctx: ScalarContext) -> Any:
                a = first(record, ctx)
                if a is False:
                    return False
                b = second(record, ctx)
                if b is False:
                    return False
                return None if a is None or b is None else True

            return and2

        def combine(record: Mapping[str, Any], ctx: ScalarContext) -> Any:
            unknown = False
            for function in functions:
                value = function(record, ctx)
                if value is decisive:
                    return decisive
                if value is None:
                    unknown = True
            return None if unknown else not decisive

        return combine

    def _batch(self, ctx: BatchContext, memo: dict[int, Vec] | None) -> Vec:
        # Items are folded in one at a time, so memory holds the running state and one item's value,
        # however many items there are. "Open" rows are those no item has settled yet: every item so
        # far is the non-decisive value or null (for and: true-or-null). An open row that met a null
        # is unknown; an open row without one is the non-decisive value.
        n = ctx.n
        open_rows = np.ones(n, dtype=np.bool_)
        any_null: BoolArray | None = None
        for item in self.items:
            vec = item.batch(ctx, memo)
            values, nulls = vec.values, vec.nulls
            if nulls is None:
                if self.is_and:
                    np.logical_and(open_rows, values, out=open_rows)
                else:  # open & ~values, without a temporary for ~values
                    np.greater(open_rows, values, out=open_rows)
                continue
            # and: values | nulls; or: ~values | nulls, which for booleans is nulls >= values.
            open_value = np.logical_or(values, nulls) if self.is_and else np.greater_equal(nulls, values)
            np.logical_and(open_rows, open_value, out=open_rows)
            del open_value
            if any_null is None:
                any_null = np.zeros(n, dtype=np.bool_)
            np.logical_or(any_null, nulls, out=any_null)
        if any_null is None:
            return Vec(open_rows if self.is_and else np.logical_not(open_rows, out=open_rows), None)
        unknown = np.logical_and(open_rows, any_null, out=any_null)
        if self.is_and:  # true: open without a null
            return Vec(np.greater(open_rows, unknown, out=open_rows), unknown)
        return Vec(np.logical_not(open_rows, out=open_rows), unknown)


class TNot(TNode):
    kind = "not"
    __slots__ = ("item",)

    def __init__(self, node: A.Node, path: str, item: TNode) -> None:
        super().__init__(node, path, "bool")
        self.item = item

    def children(self) -> tuple[TNode, ...]:
        return (self.item,)

    def _build_scalar(self) -> ScalarFn:
        inner = self.item.scalar()

        def negate(record: Mapping[str, Any], ctx: ScalarContext) -> Any:
            value = inner(record, ctx)
            return None if value is None else not value

        return negate

    def _batch(self, ctx: BatchContext, memo: dict[int, Vec] | None) -> Vec:
        vec = self.item.batch(ctx, memo)
        return Vec(np.logical_not(vec.values), vec.nulls)


class TIsNull(TNode):
    kind = "is_null"
    __slots__ = ("item", "negated")

    def __init__(self, node: A.Node, path: str, item: TNode, *, negated: bool) -> None:
        super().__init__(node, path, "bool")
        self.item, self.negated = item, negated

    def children(self) -> tuple[TNode, ...]:
        return (self.item,)

    def _build_scalar(self) -> ScalarFn:
        inner, negated = self.item.scalar(), self.negated
        return lambda record, ctx: (inner(record, ctx) is None) != negated

    def _batch(self, ctx: BatchContext, memo: dict[int, Vec] | None) -> Vec:
        vec = self.item.batch(ctx, memo)
        nulls = vec.nulls if vec.nulls is not None else np.zeros(ctx.n, dtype=np.bool_)
        return Vec(np.broadcast_to(nulls != self.negated, (ctx.n,)), None)


class TIn(TNode):
    """``item in [literals]``: true on a match; otherwise unknown if the list holds a null, else false."""

    kind = "in"
    __slots__ = ("batch_items", "has_null", "item", "items", "negated", "target")

    def __init__(
        self,
        node: A.Node,
        path: str,
        item: TNode,
        items: tuple[Any, ...],
        batch_items: tuple[Any, ...],
        *,
        has_null: bool,
        negated: bool,
        target: str,
    ) -> None:
        super().__init__(node, path, "bool")
        self.item, self.items, self.batch_items, self.has_null = item, items, batch_items, has_null
        self.negated, self.target = negated, target

    def children(self) -> tuple[TNode, ...]:
        return (self.item,)

    def _build_scalar(self) -> ScalarFn:
        inner, source, target = self.item.scalar(), self.item.type, self.target
        members = frozenset(self.items)
        miss: bool | None = None if self.has_null else False
        negated = self.negated
        if not members and not self.has_null:

            def in_nothing(record: Mapping[str, Any], ctx: ScalarContext) -> Any:
                inner(record, ctx)  # evaluated, as in the batch path: an operand that raises, raises
                return negated

            return in_nothing

        def member(record: Mapping[str, Any], ctx: ScalarContext) -> Any:
            value = inner(record, ctx)
            if value is None:
                return None
            found = cast_scalar(value, source, target, ctx) in members or miss
            return None if found is None else found != negated

        return member

    def _batch(self, ctx: BatchContext, memo: dict[int, Vec] | None) -> Vec:
        vec = self.item.batch(ctx, memo)
        if not self.items and not self.has_null:
            return Vec(np.full(ctx.n, self.negated), None)
        if self.item.type == "null":
            return _all_null(ctx)
        values = np.broadcast_to(cast_batch(vec.values, self.item.type, self.target, ctx), (ctx.n,))
        hits = _isin(values, self.batch_items, self.target)
        nulls = vec.nulls
        if self.has_null:
            nulls = or_nulls(nulls, ~hits)
        return Vec(hits != self.negated, nulls)


def _isin(values: np.ndarray[Any, Any], items: tuple[Any, ...], target: str) -> np.ndarray[Any, Any]:
    if not items:
        return np.zeros(len(values), dtype=np.bool_)
    if target in ("str", "decimal") or len(items) <= 4:
        hits = np.zeros(len(values), dtype=np.bool_)
        for item in items:
            hits |= np.asarray(values == item, dtype=np.bool_)
        return hits
    return np.isin(values, np.asarray(items))


class TArith(TNode):
    kind = "arith"
    __slots__ = ("left", "op", "operand", "right")

    def __init__(
        self, node: A.Node, path: str, op: str, left: TNode, right: TNode, operand: str, result: str
    ) -> None:
        super().__init__(node, path, result)
        self.op, self.left, self.right, self.operand = op, left, right, operand

    def children(self) -> tuple[TNode, ...]:
        return (self.left, self.right)

    def _build_scalar(self) -> ScalarFn:
        left, right = self.left.scalar(), self.right.scalar()
        lt, rt, operand, op, result = self.left.type, self.right.type, self.operand, self.op, self.type
        right_target = self._right_target()
        text = _LazyText(self.node)
        if "null" in (lt, rt):
            return _operands_then_null(left, right)

        def arith(record: Mapping[str, Any], ctx: ScalarContext) -> Any:
            a = left(record, ctx)
            b = right(record, ctx)  # evaluated even after a null, as in the batch path
            if a is None or b is None:
                return None
            return _scalar_arith(
                op,
                cast_scalar(a, lt, operand, ctx),
                cast_scalar(b, rt, right_target, ctx),
                operand,
                result,
                text,
            )

        return arith

    def _batch(self, ctx: BatchContext, memo: dict[int, Vec] | None) -> Vec:
        a, b = self.left.batch(ctx, memo), self.right.batch(ctx, memo)
        if "null" in (self.left.type, self.right.type):
            return _all_null(ctx)
        x = np.broadcast_to(cast_batch(a.values, self.left.type, self.operand, ctx), (ctx.n,))
        y = np.broadcast_to(cast_batch(b.values, self.right.type, self._right_target(), ctx), (ctx.n,))
        nulls = or_nulls(a.nulls, b.nulls)
        return _batch_arith(self.op, x, y, nulls, self.operand, self.type, _LazyText(self.node))

    def _right_target(self) -> str:
        # A duration added to a date or time stays a duration; numbers meet in the operand type.
        return self.right.type if self.operand in ("datetime", "date") else self.operand


class TNeg(TNode):
    kind = "neg"
    __slots__ = ("item",)

    def __init__(self, node: A.Node, path: str, item: TNode) -> None:
        super().__init__(node, path, item.type)
        self.item = item

    def children(self) -> tuple[TNode, ...]:
        return (self.item,)

    def _build_scalar(self) -> ScalarFn:
        inner, kind = self.item.scalar(), self.type

        def negate(record: Mapping[str, Any], ctx: ScalarContext) -> Any:
            value = inner(record, ctx)
            if value is None:
                return None
            if kind == "decimal":
                return value.copy_negate()
            if kind == "int" and value == INT64_MIN:
                raise DataError(f"integer overflow in -({value})")
            return -value

        return negate

    def _batch(self, ctx: BatchContext, memo: dict[int, Vec] | None) -> Vec:
        vec = self.item.batch(ctx, memo)
        if self.type == "null":
            return _all_null(ctx)
        values = np.broadcast_to(vec.values, (ctx.n,))
        if self.type == "decimal":
            return Vec(np.asarray(np.frompyfunc(Decimal.copy_negate, 1, 1)(values), dtype=object), vec.nulls)
        if self.type == "int":
            _raise_on_overflow(
                (values == INT64_MIN) & _known(vec.nulls, ctx.n), f"-({_node_text(self.item.node)})"
            )
        return Vec(np.negative(values), vec.nulls)


class TCall(TNode):
    kind = "call"
    __slots__ = ("args", "consts", "spec", "types")

    def __init__(
        self,
        node: A.Node,
        path: str,
        spec: FunctionSpec,
        args: list[TNode],
        consts: dict[int, Any],
        result: str,
    ) -> None:
        super().__init__(node, path, result)
        self.spec, self.args, self.consts = spec, tuple(args), consts
        self.types = tuple(a.type for a in args)

    def children(self) -> tuple[TNode, ...]:
        return tuple(a for i, a in enumerate(self.args) if i not in self.consts)

    def _build_scalar(self) -> ScalarFn:
        spec, consts, types = self.spec, self.consts, self.types
        readers = [None if i in consts else a.scalar() for i, a in enumerate(self.args)]
        impl = spec.scalar
        plugin, propagate = spec.plugin, spec.propagate_nulls
        extra = {"types": types} if spec.scalar_wants_types else {}
        result_type, name = self.type, spec.name

        fast = self._fast_call(readers, impl, plugin, propagate, extra)
        if fast is not None:
            return fast

        def call(record: Mapping[str, Any], ctx: ScalarContext) -> Any:
            values = [consts[i] if r is None else r(record, ctx) for i, r in enumerate(readers)]
            if propagate and any(v is None for i, v in enumerate(values) if i not in consts):
                return None
            if plugin:
                return _plugin_result(impl(*values), result_type, name)
            return impl(ctx, *values, **extra)

        return call

    def _fast_call(
        self,
        readers: list[ScalarFn | None],
        impl: Callable[..., Any],
        plugin: bool,
        propagate: bool,
        extra: dict[str, Any],
    ) -> ScalarFn | None:
        """The common built-in shapes f(x), f(x, y) and f(x, literal) without the generic call's lists."""
        if plugin or not propagate or extra:
            return None
        first = readers[0] if readers else None
        if first is None or len(readers) > 2:
            return None
        if len(readers) == 1:

            def call1(record: Mapping[str, Any], ctx: ScalarContext) -> Any:
                value = first(record, ctx)
                return None if value is None else impl(ctx, value)

            return call1
        second = readers[1]
        if second is None:
            constant = self.consts[1]

            def call_const(record: Mapping[str, Any], ctx: ScalarContext) -> Any:
                value = first(record, ctx)
                return None if value is None else impl(ctx, value, constant)

            return call_const

        def call2(record: Mapping[str, Any], ctx: ScalarContext) -> Any:
            a = first(record, ctx)
            b = second(record, ctx)  # evaluated even after a null, as in the batch path
            return None if a is None or b is None else impl(ctx, a, b)

        return call2

    def _batch(self, ctx: BatchContext, memo: dict[int, Vec] | None) -> Vec:
        vecs: list[Vec | None] = [
            None if i in self.consts else a.batch(ctx, memo) for i, a in enumerate(self.args)
        ]
        if self.spec.propagate_nulls and any(
            t == "null" for i, t in enumerate(self.types) if i not in self.consts
        ):
            return Vec(placeholders(self.type, ctx.n), np.ones(ctx.n, dtype=np.bool_))
        if self.spec.batch is None:
            return self._rowwise(ctx, vecs)
        if not self.spec.propagate_nulls:
            args = [self.consts[i] if v is None else v for i, v in enumerate(vecs)]
            return _as_vec(self.spec.batch(ctx, *args, types=self.types), None, ctx.n)
        nulls = or_nulls(*(v.nulls for v in vecs if v is not None))
        values = [self.consts[i] if v is None else v.values for i, v in enumerate(vecs)]
        if self.spec.plugin:
            full = [np.broadcast_to(v, (ctx.n,)) if i not in self.consts else v for i, v in enumerate(values)]
            return _plugin_batch_result(self.spec.batch(*full), self.type, nulls, ctx.n, self.spec.name)
        return _as_vec(self.spec.batch(ctx, *values, types=self.types), nulls, ctx.n)

    def _rowwise(self, ctx: BatchContext, vecs: list[Vec | None]) -> Vec:
        """Fallback for plugin functions without a batch implementation: call the scalar one per row."""
        warnings.warn(
            f"function {self.spec.name!r} has no batch implementation; evaluating it row by row",
            UserOpsWarning,
            stacklevel=4,
        )
        columns = [None if v is None else _to_python_values(v, a.type, ctx) for v, a in zip(vecs, self.args)]
        out: list[Any] = []
        for row in range(ctx.n):
            values = [self.consts[i] if c is None else c[row] for i, c in enumerate(columns)]
            if self.spec.propagate_nulls and any(v is None for c, v in zip(columns, values) if c is not None):
                out.append(None)
            else:
                out.append(_plugin_result(self.spec.scalar(*values), self.type, self.spec.name))
        return _python_values_to_vec(out, self.type)


# -- arithmetic ---------------------------------------------------------------------------------------
def _scalar_arith(op: str, a: Any, b: Any, operand: str, result: str, text: object) -> Any:
    if operand == "decimal":
        return _decimal_arith(op, a, b, text)
    if operand in ("datetime", "date"):
        return _temporal_arith(op, a, b, operand)
    if op in ("/", "%") and b == 0:
        return None
    if op == "+":
        value = a + b
    elif op == "-":
        value = a - b
    elif op == "*":
        value = a * b
    elif op == "/":
        value = float(a) / float(b)
    else:
        value = a % b
    if operand == "int":
        if not INT64_MIN <= value <= INT64_MAX:
            raise DataError(f"integer overflow in {text}: {a} {op} {b}")
        return value
    return None if value != value else value


def _decimal_arith(op: str, a: Decimal, b: Decimal, text: object) -> Decimal | None:
    if op in ("/", "%") and b == 0:
        return None
    try:
        if op == "+":
            return DECIMAL_CONTEXT.add(a, b)
        if op == "-":
            return DECIMAL_CONTEXT.subtract(a, b)
        if op == "*":
            return DECIMAL_CONTEXT.multiply(a, b)
        if op == "/":
            return DECIMAL_CONTEXT.divide(a, b)
        remainder = DECIMAL_CONTEXT.remainder(a, b)
        if remainder != 0 and (remainder < 0) != (b < 0):  # floored, like int and float %
            remainder = DECIMAL_CONTEXT.add(remainder, b)
        return remainder
    except DecimalException as exc:
        raise DataError(f"decimal arithmetic failed in {text}: {a} {op} {b} ({type(exc).__name__})") from None


def _temporal_arith(op: str, a: Any, b: timedelta, operand: str) -> Any:
    # b is a fixed timedelta: whole days for dates, whole seconds for datetimes (checked when compiling).
    # A result outside years 1 to 9999 is no date or instant at all: null, like a division by zero. The
    # range is checked on the UTC instant (or the day number), as in the batch path, not on a's own
    # clock: 23:00 in Shanghai on 9999-12-31 plus two hours is still in year 9999 in UTC.
    shift = b if op == "+" else -b
    if operand == "date":
        ordinal = a.toordinal() + shift.days
        return date.fromordinal(ordinal) if _MIN_ORDINAL <= ordinal <= _MAX_ORDINAL else None
    micros = as_utc_us(a) + shift // _ONE_US
    if not _MIN_UTC_US <= micros <= _MAX_UTC_US:
        return None
    try:
        return a + shift
    except OverflowError:  # in range in UTC, not on a's own clock
        return _EPOCH + timedelta(microseconds=micros)


_decimal_ops = {
    op: np.frompyfunc(lambda a, b, op=op: _decimal_arith(op, a, b, "decimal arithmetic"), 2, 1)
    for op in ("+", "-", "*", "/", "%")
}


def _operands_then_null(left: ScalarFn, right: ScalarFn) -> ScalarFn:
    """A node whose answer is always null still evaluates its operands, as the batch path does, so an
    operand that raises (an overflow) raises in both paths."""

    def operands_then_null(record: Mapping[str, Any], ctx: ScalarContext) -> Any:
        left(record, ctx)
        right(record, ctx)
        return None

    return operands_then_null


def _batch_arith(op: str, x: Any, y: Any, nulls: Any, operand: str, result: str, text: object) -> Vec:
    n = len(x)
    known = _known(nulls, n)
    if op in ("/", "%"):
        zero = np.asarray(y == 0, dtype=np.bool_) & known
        if zero.any():
            nulls = or_nulls(nulls, zero)
            known = known & ~zero
            y = np.where(zero, 1, y) if operand != "decimal" else _replace(y, zero, Decimal(1))
    if operand == "decimal":
        safe_y = y if nulls is None else _replace(y, ~known, Decimal(1))
        try:
            values = np.asarray(_decimal_ops[op](x, safe_y), dtype=object)
        except DataError as exc:
            raise DataError(str(exc).replace("decimal arithmetic", str(text), 1)) from None
        return Vec(values, nulls)
    if operand in ("datetime", "date"):
        return _batch_temporal(op, x, y, nulls, operand)
    with np.errstate(all="ignore"):
        if op == "+":
            values = np.add(x, y)
        elif op == "-":
            values = np.subtract(x, y)
        elif op == "*":
            values = np.multiply(x, y)
        elif op == "/":
            values = np.true_divide(x.astype(np.float64), y.astype(np.float64))
        else:
            values = np.mod(x, y)
    if operand == "int":
        _raise_on_overflow(_int_overflow(op, x, y, values) & known, text)
        return Vec(values, nulls)
    nan = np.isnan(values)
    return Vec(values, or_nulls(nulls, nan) if nan.any() else nulls)


def _batch_temporal(op: str, x: Any, y: Any, nulls: Any, operand: str) -> Vec:
    """Instants (or days) plus or minus a constant; a result outside years 1 to 9999 is null."""
    shift = int(y[0]) if len(y) else 0  # the right operand is a literal (checked when compiling)
    shift = shift if op == "+" else -shift
    low, high = (_MIN_DAY, _MAX_DAY) if operand == "date" else (_MIN_UTC_US, _MAX_UTC_US)
    # Compared before adding, against bounds computed in Python, so an extreme x cannot wrap around.
    outside = (x > high - shift) | (x < low - shift)
    if not outside.any():
        return Vec(x + shift, nulls)
    # Null slots hold 0 (1970), so functions reading the values never meet an impossible date.
    return Vec(np.where(outside, 0, x + shift), or_nulls(nulls, outside))


def _int_overflow(op: str, x: Any, y: Any, values: Any) -> Any:
    if op == "+":
        return ((x ^ values) & (y ^ values)) < 0
    if op == "-":
        return ((x ^ y) & (x ^ values)) < 0
    if op == "*":
        nonzero = x != 0
        safe = np.where(nonzero, x, 1)
        with np.errstate(all="ignore"):
            back = np.floor_divide(values, safe)
        return (nonzero & (back != y)) | ((x == -1) & (y == INT64_MIN)) | ((y == -1) & (x == INT64_MIN))
    return np.zeros(len(values), dtype=np.bool_)


def _raise_on_overflow(rows: Any, text: object) -> None:
    if np.any(rows):
        row = int(np.argmax(rows))
        raise DataError(f"integer overflow in {text} (row {row})")


def _replace(values: Any, mask: Any, fill: Any) -> Any:
    out = np.array(values, dtype=object, copy=True)
    out[mask] = fill
    return out


def _known(nulls: Any, n: int) -> Any:
    return np.ones(n, dtype=np.bool_) if nulls is None else ~np.broadcast_to(nulls, (n,))


def _all_null(ctx: BatchContext) -> Vec:
    return Vec(np.zeros(ctx.n, dtype=np.bool_), np.ones(ctx.n, dtype=np.bool_))


def _as_vec(result: Any, nulls: Any, n: int) -> Vec:
    if isinstance(result, Vec):
        return Vec(result.values, or_nulls(nulls, result.nulls))
    return Vec(np.asarray(result), nulls)


# -- plugin results -----------------------------------------------------------------------------------
def _plugin_result(value: Any, declared: str, name: str) -> Any:
    try:
        return convert_scalar(value, declared, f"{name}()")
    except DataError as exc:
        raise DataError(f"plugin function {name}() returned a bad value: {exc}") from None


def _plugin_batch_result(result: Any, declared: str, nulls: Any, n: int, name: str) -> Vec:
    values = np.asarray(result)
    if values.shape != (n,):
        raise DataError(f"plugin function {name}() returned shape {values.shape}; expected ({n},)")
    if declared == "float":
        values = values.astype(np.float64)
        nan = np.isnan(values)
        return Vec(values, or_nulls(nulls, nan) if nan.any() else nulls)
    if declared in ("int", "bool"):
        expected = np.int64 if declared == "int" else np.bool_
        if values.dtype.kind not in ("iu" if declared == "int" else "b"):
            raise DataError(f"plugin function {name}() returned {values.dtype} values; expected {declared}")
        return Vec(values.astype(expected), nulls)
    return _python_values_to_vec(values.tolist(), declared, nulls=nulls)


def _to_python_values(vec: Vec, kind: str, ctx: BatchContext) -> list[Any]:
    from datetime import timezone

    values = np.broadcast_to(vec.values, (ctx.n,))
    nulls = np.broadcast_to(vec.nulls, (ctx.n,)) if vec.nulls is not None else np.zeros(ctx.n, dtype=np.bool_)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    out: list[Any] = []
    for value, null in zip(values.tolist(), nulls.tolist()):
        if null:
            out.append(None)
        elif kind == "datetime":
            out.append(epoch + timedelta(microseconds=value))
        elif kind == "date":
            out.append(date(1970, 1, 1) + timedelta(days=value))
        elif kind == "duration":
            out.append(timedelta(microseconds=value))
        else:
            out.append(value)
    return out


def _python_values_to_vec(values: list[Any], kind: str, *, nulls: Any = None) -> Vec:
    n = len(values)
    mask = np.fromiter((v is None for v in values), dtype=np.bool_, count=n)
    if nulls is not None:
        mask |= np.broadcast_to(nulls, (n,))
    if kind in ("str", "decimal", "list[str]"):
        placeholder = {"str": "", "decimal": Decimal(0), "list[str]": ()}[kind]
        array = np.empty(n, dtype=object)
        array[:] = [placeholder if m else v for v, m in zip(values, mask.tolist())]
        return Vec(array, mask if mask.any() else None)
    if kind == "datetime":
        data = [0 if m else as_utc_us(v) for v, m in zip(values, mask.tolist())]
    elif kind == "date":
        data = [0 if m else days_from_epoch(v) for v, m in zip(values, mask.tolist())]
    elif kind == "duration":
        data = [0 if m else v // timedelta(microseconds=1) for v, m in zip(values, mask.tolist())]
    else:
        data = [0 if m else v for v, m in zip(values, mask.tolist())]
    dtype = {"float": np.float64, "bool": np.bool_}.get(kind, np.int64)
    return Vec(np.asarray(data, dtype=dtype), mask if mask.any() else None)


class _LazyText:
    """A node's text, printed only if an error message needs it."""

    __slots__ = ("node",)

    def __init__(self, node: A.Node) -> None:
        self.node = node

    def __str__(self) -> str:
        return _node_text(self.node)


def _node_text(node: A.Node) -> str:
    from user_ops.rules._printer import to_text

    try:
        return to_text(node)
    except Exception:  # the printer must never hide the real error
        return node.kind


# -- the compiler -------------------------------------------------------------------------------------
class _Compiler:
    def __init__(self, schema: Mapping[str, str], locate: Locator, *, strict_fields: bool) -> None:
        self.schema = schema
        self.locate = locate
        self.strict_fields = strict_fields

    def error(self, node: A.Node, path: str, message: str) -> RuleTypeError:
        return RuleTypeError(message, **self.locate(node, path))

    def compile(self, node: A.Node, path: str) -> TNode:
        method = getattr(self, f"_c_{node.kind}", None)
        if method is None:
            return self._literal(node, path)
        result: TNode = method(node, path)
        return result

    # literals
    def _literal(self, node: A.Node, path: str) -> TNode:
        if isinstance(node, A.NullLit):
            return TConst(node, path, "null", None, None)
        if isinstance(node, A.BoolLit):
            return TConst(node, path, "bool", node.value, node.value)
        if isinstance(node, A.IntLit):
            return TConst(node, path, "int", node.value, np.int64(node.value))
        if isinstance(node, A.DecimalLit):
            return TConst(node, path, "decimal", node.value, node.value)
        if isinstance(node, A.StrLit):
            return TConst(node, path, "str", node.value, node.value)
        if isinstance(node, A.DateLit):
            return TConst(node, path, "date", node.value, np.int64(days_from_epoch(node.value)))
        if isinstance(node, A.DateTimeLit):
            return TConst(node, path, "datetime", node.value, np.int64(as_utc_us(node.value)))
        if isinstance(node, A.DurationLit):
            duration = parse_duration(node.value)
            if duration.months:
                raise self.error(
                    node,
                    path,
                    f"{node.value} has calendar months, so it has no fixed length; "
                    "use it as a window (`t within 3mo`) instead of a value",
                )
            fixed = duration.to_timedelta()
            return TConst(node, path, "duration", fixed, np.int64(fixed // timedelta(microseconds=1)))
        if isinstance(node, A.ListLit):
            raise self.error(node, path, "a list can only follow `in`, or be an argument of any_of/all_of")
        raise self.error(node, path, f"unsupported node kind {node.kind!r}")

    def _c_field(self, node: A.FieldNode, path: str) -> TNode:
        declared = self.schema.get(node.name)
        if declared is None:
            close = difflib.get_close_matches(node.name, list(self.schema), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise self.error(node, path, f"unknown field {node.name!r}{hint}")
        return TField(node, path, declared, strict=self.strict_fields)

    def _c_cmp(self, node: A.CmpNode, path: str) -> TNode:
        left, right = self.compile(node.left, path + ".left"), self.compile(node.right, path + ".right")
        target = unify(left.type, right.type)
        if target is None or target == "list[str]":
            raise self.error(node, path, f"cannot compare {left.type} with {right.type}")
        if node.op not in ("==", "!=") and target not in _ORDERED and target != "null":
            raise self.error(node, path, f"{target} values are not ordered; only == and != apply")
        return TCompare(node, path, node.op, left, right, target)

    def _c_and(self, node: A.AndNode, path: str) -> TNode:
        return TLogic(node, path, self._conditions(node.items, path), is_and=True)

    def _c_or(self, node: A.OrNode, path: str) -> TNode:
        return TLogic(node, path, self._conditions(node.items, path), is_and=False)

    def _conditions(self, items: tuple[A.Node, ...], path: str) -> list[TNode]:
        compiled = []
        for index, item in enumerate(items):
            child = self.compile(item, f"{path}.items[{index}]")
            self.require_condition(child)
            compiled.append(child)
        return compiled

    def require_condition(self, child: TNode) -> None:
        if child.type not in ("bool", "null"):
            raise self.error(
                child.node, child.path, f"expected a condition (true/false), got a {child.type} value"
            )

    def _c_not(self, node: A.NotNode, path: str) -> TNode:
        item = self.compile(node.item, path + ".item")
        self.require_condition(item)
        return TNot(node, path, item)

    def _c_is_null(self, node: A.IsNullNode, path: str) -> TNode:
        return TIsNull(node, path, self.compile(node.item, path + ".item"), negated=node.negated)

    def _c_in(self, node: A.InNode, path: str) -> TNode:
        item = self.compile(node.item, path + ".item")
        if not isinstance(node.values, A.ListLit):
            values = self.compile(node.values, path + ".values")
            if values.type not in ("list[str]", "null"):
                raise self.error(
                    node.values, path + ".values", f"`in` needs a list, got a {values.type} value"
                )
            if item.type not in ("str", "null"):
                raise self.error(node.item, path + ".item", f"a list of strings cannot hold a {item.type}")
            spec = lookup_function("contains")
            assert spec is not None
            call = TCall(node, path, spec, [values, item], {}, "bool")
            return TNot(node, path, call) if node.negated else call
        return self._in_list(node, path, item, node.values)

    def _in_list(self, node: A.InNode, path: str, item: TNode, values: A.ListLit) -> TNode:
        target = item.type
        members: list[TConst] = []
        for index, literal in enumerate(values.items):
            member = self._literal(literal, f"{path}.values.items[{index}]")
            assert isinstance(member, TConst)
            joined = unify(target, member.type)
            if joined is None or joined == "list[str]":
                raise self.error(
                    literal,
                    f"{path}.values.items[{index}]",
                    f"cannot compare {item.type} with {member.type} in a list",
                )
            target = joined
            members.append(member)
        if target == "datetime" and any(m.type == "date" for m in members):
            raise self.error(values, path + ".values", "a list mixing dates and datetimes is ambiguous")
        scalar_items, batch_items = [], []
        for member in members:
            if member.value is None:
                continue
            scalar_items.append(cast_scalar(member.value, member.type, target, None))  # type: ignore[arg-type]
            batch_items.append(_batch_constant(member, target))
        has_null = any(m.value is None for m in members)
        return TIn(
            node,
            path,
            item,
            tuple(scalar_items),
            tuple(batch_items),
            has_null=has_null,
            negated=node.negated,
            target=target,
        )

    def _c_arith(self, node: A.ArithNode, path: str) -> TNode:
        left, right = self.compile(node.left, path + ".left"), self.compile(node.right, path + ".right")
        lt, rt = left.type, right.type
        if lt == "null" or rt == "null":  # always null, whatever the other side is
            return TArith(node, path, node.op, left, right, "null", "null")
        if lt in NUMERIC and rt in NUMERIC:
            operand = join_numeric(lt, rt)
            result = "float" if node.op == "/" and operand == "int" else operand
            return TArith(node, path, node.op, left, right, operand, result)
        if lt in ("datetime", "date") and rt == "duration" and node.op in ("+", "-"):
            return self._temporal(node, path, left, right)
        raise self.error(node, path, f"cannot apply {node.op} to {lt} and {rt}")

    def _temporal(self, node: A.ArithNode, path: str, left: TNode, right: TNode) -> TNode:
        if not isinstance(right, TConst):
            raise self.error(
                node.right, path + ".right", "only a duration literal can be added to a date or time"
            )
        duration = parse_duration(node.right.value) if isinstance(node.right, A.DurationLit) else None
        assert duration is not None
        if left.type == "date":
            if duration.seconds or duration.months:
                raise self.error(
                    node.right, path + ".right", "only whole days and weeks can be added to a date"
                )
            days = duration.days
            right = TConst(node.right, path + ".right", "date", timedelta(days=days), np.int64(days))
            return TArith(node, path, node.op, left, right, "date", "date")
        if duration.is_calendar:
            raise self.error(
                node.right,
                path + ".right",
                f"{duration.text} counts calendar days or months, which depend on the time zone; write the "
                f"condition with `within` or days_since() instead (e.g. `t within {duration.text}`)",
            )
        return TArith(node, path, node.op, left, right, "datetime", "datetime")

    def _c_neg(self, node: A.NegNode, path: str) -> TNode:
        item = self.compile(node.item, path + ".item")
        if item.type not in NUMERIC and item.type != "null":
            raise self.error(node, path, f"cannot negate a {item.type} value")
        return TNeg(node, path, item)

    def _c_call(self, node: A.CallNode, path: str) -> TNode:
        spec = lookup_function(node.fn)
        if spec is None:
            from user_ops.rules._functions import REGISTRY

            close = difflib.get_close_matches(node.fn, REGISTRY.names(), n=1)
            hint = f" (did you mean {close[0]}()?)" if close else ""
            raise self.error(node, path, f"unknown function {node.fn}(){hint}")
        args: list[TNode] = []
        consts: dict[int, Any] = {}
        for index, arg in enumerate(node.args):
            arg_path = f"{path}.args[{index}]"
            if index in spec.const_params:
                args.append(self._const_arg(spec, arg, arg_path, index, consts))
            else:
                args.append(self.compile(arg, arg_path))
        try:
            result = spec.result_type(tuple(a.type for a in args))
        except SignatureError as exc:
            where = node.args[exc.index] if exc.index is not None and exc.index < len(node.args) else node
            where_path = f"{path}.args[{exc.index}]" if where is not node else path
            raise self.error(where, where_path, str(exc)) from None
        return TCall(node, path, spec, args, consts, result)

    def _const_arg(
        self, spec: FunctionSpec, arg: A.Node, path: str, index: int, consts: dict[int, Any]
    ) -> TNode:
        if isinstance(arg, A.ListLit):
            raw: Any = tuple(getattr(item, "value", None) for item in arg.items)
            kind = "list[str]"
        elif isinstance(arg, A.DurationLit):
            raw, kind = arg.value, "duration"
        elif isinstance(arg, (A.StrLit, A.IntLit, A.DecimalLit, A.BoolLit)):
            raw, kind = arg.value, self._literal(arg, path).type
        else:
            raise self.error(arg, path, f"argument {index + 1} of {spec.name}() must be a literal")
        try:
            consts[index] = spec.prepare(index, raw) if spec.prepare is not None else raw
        except SignatureError as exc:
            raise self.error(arg, path, str(exc)) from None
        return TConst(arg, path, kind, consts[index], consts[index])


def _batch_constant(member: TConst, target: str) -> Any:
    if member.type == target:
        return member.batch_value
    if target == "float":
        return float(member.value)
    if target == "decimal":
        return Decimal(member.value)
    return member.batch_value


def compile_node(node: A.Node, schema: Mapping[str, str], locate: Locator, *, strict_fields: bool) -> TNode:
    """Type-check ``node`` against ``schema`` and return its typed tree.

    Raises
    ------
    RuleTypeError
        Unknown field or function, type mismatch, wrong arity; located by ``locate``.
    """
    compiler = _Compiler(schema, locate, strict_fields=strict_fields)
    try:
        return compiler.compile(node, "$")
    except RecursionError:  # pragma: no cover - the depth limit makes this unreachable
        from user_ops.exceptions import RuleLimitError

        raise RuleLimitError("rule nested too deeply to compile") from None


def evaluate_batch(tnode: TNode, ctx: BatchContext, memo: dict[int, Vec] | None = None) -> Vec:
    """Evaluate a typed tree over a table, with floating-point warnings silenced (NaN means null)."""
    with np.errstate(all="ignore"):
        return tnode.batch(ctx, memo)

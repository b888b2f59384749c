"""Functions callable from rules: the registry, and the built-ins with scalar and numpy implementations.

Each function declares the types it accepts per argument, its result type, a scalar implementation
``scalar(ctx, *args)`` and (for built-ins, always) a batch implementation ``batch(ctx, *args)`` over
numpy arrays. Unless a function says otherwise a null argument gives a null result, handled here once
so implementations only ever see values (in batch form: arrays whose null slots hold placeholders).
Arguments listed in ``const_params`` must be literals; they reach both implementations already
prepared (a duration parsed, a time zone resolved).
"""

from __future__ import annotations

import keyword
import operator
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

import numpy as np

from user_ops._time import (
    Duration,
    as_utc_us,
    days_from_epoch,
    get_tz,
    in_zone,
    local_date,
    local_us,
    parse_duration,
)
from user_ops.exceptions import DataError, PluginError, value_repr
from user_ops.rules._casts import NUMERIC, cast_batch, cast_scalar, join_numeric, unify
from user_ops.rules._runtime import (
    INT64_MIN,
    BatchContext,
    FlatLists,
    ScalarContext,
    Vec,
    column_of,
    flatten_lists,
    rows_with_hits,
)
from user_ops.rules._schema import FIELD_TYPES

__all__ = [
    "REGISTRY",
    "FunctionSpec",
    "SignatureError",
    "function_names",
    "functions",
    "lookup_function",
    "register_function",
    "unregister_function",
]

_US_PER_DAY = 86_400_000_000
_US_PER_HOUR = 3_600_000_000
ANY = frozenset({"int", "float", "decimal", "str", "bool", "datetime", "date", "duration", "list[str]"})


class SignatureError(Exception):
    """A call does not fit a function's signature (``index`` names the argument, or None)."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True)
class FunctionSpec:
    """A function available to rules.

    Attributes
    ----------
    name:
        Name used in rules.
    params:
        Allowed types per positional parameter; with ``variadic`` the last entry repeats.
    returns:
        The result type, or a callable from the argument types to it.
    scalar, batch:
        Implementations; ``batch`` may be ``None`` for plugins (a row-by-row fallback is used).
    min_args:
        Fewest arguments (defaults to ``len(params)``).
    const_params:
        Positions whose argument must be a literal; ``prepare(position, value)`` converts it.
    propagate_nulls:
        Whether any null argument makes the result null without calling the implementation.
    """

    name: str
    params: tuple[frozenset[str], ...]
    returns: str | Callable[[tuple[str, ...]], str]
    scalar: Callable[..., Any]
    batch: Callable[..., Any] | None
    min_args: int | None = None
    variadic: bool = False
    const_params: frozenset[int] = frozenset()
    prepare: Callable[[int, Any], Any] | None = None
    propagate_nulls: bool = True
    doc: str = ""
    plugin: bool = False
    scalar_wants_types: bool = False

    def result_type(self, arg_types: tuple[str, ...]) -> str:
        """Check ``arg_types`` against the signature; the result type, or SignatureError."""
        low = len(self.params) if self.min_args is None else self.min_args
        high = None if self.variadic else len(self.params)
        count = len(arg_types)
        if count < low or (high is not None and count > high):
            expected = f"{low}" if low == high else f"{low} to {high}" if high else f"at least {low}"
            raise SignatureError(f"{self.name}() takes {expected} argument(s), got {count}")
        for index, actual in enumerate(arg_types):
            allowed = self.params[min(index, len(self.params) - 1)]
            if actual != "null" and actual not in allowed:
                names = " or ".join(sorted(allowed))
                raise SignatureError(
                    f"argument {index + 1} of {self.name}() must be {names}, got {actual}", index
                )
        if callable(self.returns):
            return self.returns(arg_types)
        return self.returns


class _Registry:
    def __init__(self) -> None:
        self._functions: dict[str, FunctionSpec] = {}
        self._lock = threading.Lock()

    def add(self, spec: FunctionSpec, *, replace: bool = False) -> None:
        with self._lock:
            existing = self._functions.get(spec.name)
            if existing is not None and not replace:
                owner = "a built-in" if not existing.plugin else "already registered"
                raise PluginError(f"function {spec.name!r} is {owner}; pass replace=True to override")
            if existing is not None and not existing.plugin:
                raise PluginError(f"built-in function {spec.name!r} cannot be replaced")
            self._functions[spec.name] = spec

    def remove(self, name: str) -> None:
        with self._lock:
            spec = self._functions.get(name) if isinstance(name, str) else None
            if spec is None or not spec.plugin:
                raise PluginError(f"no plugin function {value_repr(name)} to unregister")
            del self._functions[name]

    def get(self, name: str) -> FunctionSpec | None:
        return self._functions.get(name)

    def names(self) -> list[str]:
        return sorted(self._functions)


REGISTRY = _Registry()


def lookup_function(name: str) -> FunctionSpec | None:
    return REGISTRY.get(name)


# -- plugin functions -------------------------------------------------------------------------------
_RESERVED = frozenset({"and", "or", "not", "in", "is", "null", "true", "false", "contains", "within"})


def register_function(
    name: str,
    scalar: Callable[..., Any],
    *,
    params: Sequence[str],
    returns: str,
    batch: Callable[..., Any] | None = None,
    propagate_nulls: bool = True,
    replace: bool = False,
    doc: str = "",
) -> str:
    """Make ``name(...)`` callable from rules.

    Parameters
    ----------
    name:
        Function name used in rules (an identifier, not a keyword or a built-in's name).
    scalar:
        ``scalar(*values) -> value``; receives Python values (``datetime``, ``Decimal``, ``tuple`` of str...).
    params:
        Argument types, e.g. ``["float", "float"]``; a type may be a union ``"int|float"``.
    returns:
        The result type (one of the schema types).
    batch:
        ``batch(*arrays) -> array`` of the same length (see the rule-language docs for representations).
    propagate_nulls:
        Null arguments give a null result without calling the function (default).
    replace:
        Replace an earlier plugin function of the same name.
    doc:
        One line shown in function listings.

    Returns
    -------
    str
        The registered name.

    Raises
    ------
    PluginError
        Bad name or types, a clash with a built-in, or a non-callable implementation.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops.rules import Rule
    >>> register_function("km", lambda m: m / 1000, params=["int|float"], returns="float",
    ...                   batch=lambda m: m / 1000, doc="metres to kilometres")
    'km'
    >>> Rule.parse("km(distance_m) < 3").evaluate({"distance_m": [1200, 5000]},
    ...                                           as_of=datetime(2024, 6, 30, tzinfo=timezone.utc))
    array([ True, False])
    >>> unregister_function("km")
    """
    if (
        not isinstance(name, str)
        or not name.isidentifier()
        or keyword.iskeyword(name)
        or name.lower() in _RESERVED
    ):
        raise PluginError(f"plugin function name must be an identifier that is not a keyword, got {name!r}")
    if not callable(scalar) or (batch is not None and not callable(batch)):
        raise PluginError(f"plugin function {name!r}: scalar (and batch, if given) must be callable")
    allowed = tuple(_parse_param(name, index, p) for index, p in enumerate(params))
    if returns not in FIELD_TYPES or returns == "null":
        raise PluginError(f"plugin function {name!r}: unknown return type {returns!r}")
    spec = FunctionSpec(
        name, allowed, returns, scalar, batch, propagate_nulls=propagate_nulls, doc=doc, plugin=True
    )
    REGISTRY.add(spec, replace=replace)
    return name


def _parse_param(name: str, index: int, param: str) -> frozenset[str]:
    kinds = frozenset(part.strip() for part in str(param).split("|"))
    unknown = sorted(k for k in kinds if k not in FIELD_TYPES or k == "null")
    if unknown:
        raise PluginError(f"plugin function {name!r}: parameter {index + 1} has unknown type(s) {unknown}")
    return kinds


def unregister_function(name: str) -> None:
    """Remove a plugin function (built-ins cannot be removed).

    Parameters
    ----------
    name:
        The name given to [`register_function`][].

    Raises
    ------
    PluginError
        When ``name`` is a built-in function or no plugin of that name is registered.

    Examples
    --------
    >>> _ = register_function("halve", lambda x: x / 2, params=["float"], returns="float")
    >>> "halve" in function_names()
    True
    >>> unregister_function("halve")
    >>> "halve" in function_names()
    False
    """
    REGISTRY.remove(name)


def function_names() -> list[str]:
    """Names of every function rules can call: built-ins and registered plugins.

    Returns
    -------
    list of str
        The names, sorted.

    Examples
    --------
    >>> names = function_names()
    >>> "days_since" in names, names == sorted(names)
    (True, True)
    """
    return REGISTRY.names()


def functions() -> dict[str, str]:
    """Every function rules can call, with its one-line description.

    Examples
    --------
    >>> "days_since" in functions()
    True
    """
    return {name: spec.doc for name in REGISTRY.names() if (spec := REGISTRY.get(name)) is not None}


def _builtin(
    name: str,
    params: Sequence[frozenset[str] | str],
    returns: str | Callable[[tuple[str, ...]], str],
    *,
    doc: str,
    **options: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator pairing a scalar implementation with the batch one passed as ``batch=``."""
    allowed = tuple(frozenset(p.split("|")) if isinstance(p, str) else p for p in params)

    def wrap(scalar: Callable[..., Any]) -> Callable[..., Any]:
        REGISTRY.add(FunctionSpec(name, allowed, returns, scalar, doc=doc, **options))
        return scalar

    return wrap


def _same_as_first(types: tuple[str, ...]) -> str:
    return types[0]


def _numeric_join(types: tuple[str, ...]) -> str:
    known = [t for t in types if t != "null"]
    if not known:
        return "int"
    result = known[0]
    for other in known[1:]:
        result = join_numeric(result, other)
    return result


def _prepare_tz(position: int, value: Any) -> tzinfo:
    if not isinstance(value, str):
        raise SignatureError('the time zone must be a string literal such as "Asia/Shanghai"', position)
    try:
        return get_tz(value)
    except DataError as exc:
        raise SignatureError(str(exc), position) from None


def _prepare_duration(position: int, value: Any) -> Duration:
    if isinstance(value, str):
        return parse_duration(value)
    raise SignatureError("the window must be a duration literal such as 30d", position)


# -- time ---------------------------------------------------------------------------------------------
def _days_scalar(value: date | datetime, ctx: ScalarContext) -> int:
    return ctx.ordinal(value)


def _days_batch(values: np.ndarray[Any, Any], kind: str, ctx: BatchContext) -> np.ndarray[Any, Any]:
    if kind == "datetime":
        return ctx.local_days(values)
    return np.asarray(values, dtype=np.int64)


def _days_since_batch(ctx: BatchContext, t: np.ndarray[Any, Any], *, types: tuple[str, ...]) -> Any:
    return ctx.today_days - _days_batch(t, types[0], ctx)


@_builtin(
    "days_since",
    ["datetime|date"],
    "int",
    doc="Calendar days from the date of `t` to the date of `as_of`, both in the business time zone.",
    batch=_days_since_batch,
)
def _days_since(ctx: ScalarContext, t: date | datetime) -> int:
    return ctx.today.toordinal() - ctx.ordinal(t)


def _days_between_batch(ctx: BatchContext, a: Any, b: Any, *, types: tuple[str, ...]) -> Any:
    return _days_batch(b, types[1], ctx) - _days_batch(a, types[0], ctx)


@_builtin(
    "days_between",
    ["datetime|date", "datetime|date"],
    "int",
    doc="Calendar days from the date of `a` to the date of `b` in the business time zone.",
    batch=_days_between_batch,
)
def _days_between(ctx: ScalarContext, a: date | datetime, b: date | datetime) -> int:
    return _days_scalar(b, ctx) - _days_scalar(a, ctx)


def _within_bounds_us(ctx: ScalarContext | BatchContext, window: Duration) -> tuple[int, int]:
    start = window.subtract_from(ctx.as_of, ctx.tz)
    return as_utc_us(start), as_utc_us(ctx.as_of)


def _within_days(ctx: ScalarContext | BatchContext, window: Duration) -> tuple[int, int]:
    start = window.subtract_from(ctx.as_of, ctx.tz)
    return days_from_epoch(local_date(start, ctx.tz)), days_from_epoch(local_date(ctx.as_of, ctx.tz))


def _within_batch(ctx: BatchContext, t: Any, window: Duration, *, types: tuple[str, ...]) -> Any:
    if types[0] == "datetime":
        start, end = _within_bounds_us(ctx, window)
        return (t >= start) & (t < end)
    first, last = _within_days(ctx, window)
    return (t >= first) & (t <= last)


@_builtin(
    "within",
    ["datetime|date", "duration"],
    "bool",
    doc=(
        "`t within 30d`: `t` lies in the window of that length ending at `as_of`: `[as_of - 30d, as_of)` "
        "for instants; for dates, from the date the window starts on to today, both included."
    ),
    batch=_within_batch,
    const_params=frozenset({1}),
    prepare=_prepare_duration,
)
def _within(ctx: ScalarContext, t: date | datetime, window: Duration) -> bool:
    bounds = ctx.memo.get(window)
    if bounds is None:  # once per as_of, zone and window, not once per record
        start = window.subtract_from(ctx.as_of, ctx.tz)
        bounds = ctx.memo[window] = (start, ctx.as_of, ctx.ordinal(start), ctx.today.toordinal())
    if isinstance(t, datetime):
        return bool(bounds[0] <= t < bounds[1])
    return bool(bounds[2] <= t.toordinal() <= bounds[3])


def _now_batch(ctx: BatchContext, *, types: tuple[str, ...]) -> Any:
    return np.asarray(ctx.as_of_us, dtype=np.int64)


@_builtin("now", [], "datetime", doc="The `as_of` instant.", batch=_now_batch)
def _now(ctx: ScalarContext) -> datetime:
    return ctx.as_of


def _today_batch(ctx: BatchContext, *, types: tuple[str, ...]) -> Any:
    return np.asarray(ctx.today_days, dtype=np.int64)


@_builtin("today", [], "date", doc="The date of `as_of` in the business time zone.", batch=_today_batch)
def _today(ctx: ScalarContext) -> date:
    return ctx.today


def _date_part(name: str, doc: str, *, scalar_part: Callable[[date | datetime], int], dates: bool) -> None:
    def batch(ctx: BatchContext, t: Any, zone: tzinfo | None = None, *, types: tuple[str, ...]) -> Any:
        if types[0] == "date":
            return _parts_of_days(np.asarray(t, dtype=np.int64), name)
        wall = local_us(np.asarray(t, dtype=np.int64), zone or ctx.tz)
        if name == "hour":
            return np.floor_divide(wall, _US_PER_HOUR) % 24
        return _parts_of_days(np.floor_divide(wall, _US_PER_DAY), name)

    def scalar(ctx: ScalarContext, t: date | datetime, zone: tzinfo | None = None) -> int:
        if isinstance(t, datetime):
            return scalar_part(in_zone(t, zone or ctx.tz))
        return scalar_part(t)

    kinds = "datetime|date" if dates else "datetime"
    REGISTRY.add(
        FunctionSpec(
            name,
            (frozenset(kinds.split("|")), frozenset({"str"})),
            "int",
            scalar,
            batch,
            min_args=1,
            const_params=frozenset({1}),
            prepare=_prepare_tz,
            doc=doc,
        )
    )


def _parts_of_days(days: np.ndarray[Any, Any], name: str) -> np.ndarray[Any, Any]:
    if name == "weekday":
        return (days + 3) % 7 + 1  # 1970-01-01 was a Thursday (ISO weekday 4)
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    if name == "month":
        return months % 12 + 1
    if name == "year":
        return months // 12 + 1970
    month_start = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    day_of_month: np.ndarray[Any, Any] = days - month_start + 1
    return day_of_month


_date_part(
    "year",
    "Calendar year of `t` (in `tz`, default the business time zone).",
    scalar_part=lambda t: t.year,
    dates=True,
)
_date_part(
    "month",
    "Month 1-12 of `t` (in `tz`, default the business time zone).",
    scalar_part=lambda t: t.month,
    dates=True,
)
_date_part(
    "day",
    "Day of the month 1-31 of `t` (in `tz`, default the business time zone).",
    scalar_part=lambda t: t.day,
    dates=True,
)
_date_part(
    "weekday",
    "ISO weekday of `t`: Monday 1 ... Sunday 7 (in `tz`, default the business zone).",
    scalar_part=lambda t: t.isoweekday(),
    dates=True,
)
_date_part(
    "hour",
    "Hour 0-23 of the instant `t` on the clock of `tz` (default the business zone).",
    scalar_part=lambda t: t.hour if isinstance(t, datetime) else 0,
    dates=False,
)


# -- strings and lists --------------------------------------------------------------------------------
# Case mapping and lengths call Python's own str methods element-wise, so the batch path matches the
# scalar path exactly for every Unicode string (numpy's own string kernels differ on special cases).
_ulen = np.frompyfunc(len, 1, 1)
_lower = np.frompyfunc(str.lower, 1, 1)
_upper = np.frompyfunc(str.upper, 1, 1)
_substring = np.frompyfunc(operator.contains, 2, 1)


def _len_batch(ctx: BatchContext, x: Any, *, types: tuple[str, ...]) -> Any:
    return np.asarray(_ulen(x), dtype=np.int64)


@_builtin(
    "len",
    ["str|list[str]"],
    "int",
    doc="Length of a string (characters) or a list (items).",
    batch=_len_batch,
)
def _len(ctx: ScalarContext, x: str | tuple[str, ...]) -> int:
    return len(x)


def _lower_batch(ctx: BatchContext, s: Any, *, types: tuple[str, ...]) -> Any:
    return np.asarray(_lower(s), dtype=object)


@_builtin("lower", ["str"], "str", doc="The string in lower case (Unicode rules).", batch=_lower_batch)
def _lower_scalar(ctx: ScalarContext, s: str) -> str:
    return s.lower()


def _upper_batch(ctx: BatchContext, s: Any, *, types: tuple[str, ...]) -> Any:
    return np.asarray(_upper(s), dtype=object)


@_builtin("upper", ["str"], "str", doc="The string in upper case (Unicode rules).", batch=_upper_batch)
def _upper_scalar(ctx: ScalarContext, s: str) -> str:
    return s.upper()


def flat_of(ctx: BatchContext, values: np.ndarray[Any, Any]) -> FlatLists:
    """The flattened form of a list array: once per table for its columns, each time for temporaries."""
    name = column_of(ctx.table, values)
    if name is None:  # e.g. coalesce(tags, other): caching it would grow the table's cache per call
        return flatten_lists(values)
    flat: FlatLists = ctx.table.cached(("flat", name), lambda: flatten_lists(values))
    return flat


def _contains_batch(ctx: BatchContext, x: Any, y: Any, *, types: tuple[str, ...]) -> Any:
    if types[0] == "str":
        return np.asarray(_substring(x, y), dtype=np.bool_)
    flat = flat_of(ctx, x)
    needles = y if np.ndim(y) == 0 else np.asarray(y)[flat.rows]
    return rows_with_hits(np.asarray(flat.items == needles, dtype=np.bool_), flat, ctx.n)


@_builtin(
    "contains",
    ["list[str]|str", "str"],
    "bool",
    doc='`tags contains "vip"`: list membership, or substring for a string.',
    batch=_contains_batch,
)
def _contains(ctx: ScalarContext, x: str | tuple[str, ...], y: str) -> bool:
    return y in x


def _prepare_str_list(position: int, value: Any) -> tuple[str, ...]:
    if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
        raise SignatureError(
            'the second argument must be a list literal of strings, e.g. ["a", "b"]', position
        )
    return value


def _any_of_batch(ctx: BatchContext, x: Any, items: tuple[str, ...], *, types: tuple[str, ...]) -> Any:
    flat = flat_of(ctx, x)
    if not items:
        return np.zeros(ctx.n, dtype=np.bool_)
    hits = np.isin(flat.items, np.asarray(items, dtype=object))
    return rows_with_hits(np.asarray(hits, dtype=np.bool_), flat, ctx.n)


@_builtin(
    "any_of",
    ["list[str]", "list[str]"],
    "bool",
    doc="True when the list holds at least one of the given strings.",
    batch=_any_of_batch,
    const_params=frozenset({1}),
    prepare=_prepare_str_list,
)
def _any_of(ctx: ScalarContext, x: tuple[str, ...], items: tuple[str, ...]) -> bool:
    return not set(items).isdisjoint(x)


def _all_of_batch(ctx: BatchContext, x: Any, items: tuple[str, ...], *, types: tuple[str, ...]) -> Any:
    flat = flat_of(ctx, x)
    result = np.ones(ctx.n, dtype=np.bool_)
    for item in dict.fromkeys(items):
        result &= rows_with_hits(np.asarray(flat.items == item, dtype=np.bool_), flat, ctx.n)
    return result


@_builtin(
    "all_of",
    ["list[str]", "list[str]"],
    "bool",
    doc="True when the list holds every one of the given strings.",
    batch=_all_of_batch,
    const_params=frozenset({1}),
    prepare=_prepare_str_list,
)
def _all_of(ctx: ScalarContext, x: tuple[str, ...], items: tuple[str, ...]) -> bool:
    return set(items).issubset(x)


# -- numbers ------------------------------------------------------------------------------------------
def _abs_batch(ctx: BatchContext, x: Any, *, types: tuple[str, ...]) -> Any:
    if types[0] == "int" and np.any(np.asarray(x) == INT64_MIN):
        raise DataError("integer overflow in abs()")
    if types[0] == "decimal":
        return np.asarray(np.frompyfunc(Decimal.copy_abs, 1, 1)(x), dtype=object)
    return np.abs(x)


@_builtin("abs", ["int|float|decimal"], _same_as_first, doc="Absolute value.", batch=_abs_batch)
def _abs(ctx: ScalarContext, x: int | float | Decimal) -> int | float | Decimal:
    if isinstance(x, Decimal):
        return x.copy_abs()
    if x == INT64_MIN and isinstance(x, int):
        raise DataError("integer overflow in abs()")
    return abs(x)


def _extreme(name: str, pick: Callable[..., Any], ufunc: np.ufunc) -> None:
    def scalar(ctx: ScalarContext, *args: Any, types: tuple[str, ...] = ()) -> Any:
        target = _numeric_join(types)
        return pick(cast_scalar(a, t, target, ctx) for a, t in zip(args, types))

    def batch(ctx: BatchContext, *args: Any, types: tuple[str, ...]) -> Any:
        target = _numeric_join(types)
        values = [cast_batch(a, t, target, ctx) for a, t in zip(args, types)]
        result = values[0]
        for other in values[1:]:
            result = ufunc(result, other)
        return result

    REGISTRY.add(
        FunctionSpec(
            name,
            (NUMERIC,),
            _numeric_join,
            scalar,
            batch,
            min_args=1,
            variadic=True,
            scalar_wants_types=True,
            doc=f"The {name}imum of the arguments (null if any is null; use coalesce to skip nulls).",
        )
    )


_extreme("min", min, np.minimum)
_extreme("max", max, np.maximum)


def _coalesce_type(types: tuple[str, ...]) -> str:
    result = "null"
    for position, kind in enumerate(types):
        joined = unify(result, kind)
        if joined is None or (joined == "datetime" and {result, kind} == {"date", "datetime"}):
            raise SignatureError(f"coalesce() arguments must share a type: {result} and {kind}", position)
        result = joined
    return result


def _coalesce_scalar(ctx: ScalarContext, *args: Any, types: tuple[str, ...] = ()) -> Any:
    target = _coalesce_type(types)
    for value, kind in zip(args, types):
        if value is not None:
            return cast_scalar(value, kind, target, ctx)
    return None


def _coalesce_batch(ctx: BatchContext, *args: Vec, types: tuple[str, ...]) -> Vec:
    target = _coalesce_type(types)
    result: np.ndarray[Any, Any] | None = None
    nulls: np.ndarray[Any, Any] | None = np.ones(ctx.n, dtype=np.bool_)
    for vec, kind in zip(args, types):
        if kind == "null":
            continue
        values = np.broadcast_to(cast_batch(vec.values, kind, target, ctx), (ctx.n,))
        if result is None:
            result = values.copy()
            nulls = None if vec.nulls is None else np.broadcast_to(vec.nulls, (ctx.n,)).copy()
        elif nulls is not None:
            take = nulls if vec.nulls is None else nulls & ~vec.nulls
            result[take] = values[take]
            nulls = None if vec.nulls is None else nulls & vec.nulls
        if nulls is None or not nulls.any():
            return Vec(result, None)
    if result is None:
        return Vec(np.zeros(ctx.n, dtype=np.int64), np.ones(ctx.n, dtype=np.bool_))
    return Vec(result, nulls)


REGISTRY.add(
    FunctionSpec(
        "coalesce",
        (ANY,),
        _coalesce_type,
        _coalesce_scalar,
        _coalesce_batch,
        min_args=1,
        variadic=True,
        propagate_nulls=False,
        scalar_wants_types=True,
        doc="The first argument that is not null (null when all are).",
    )
)


# -- tags ---------------------------------------------------------------------------------------------
def _prepare_tag(position: int, value: Any) -> str:
    if not isinstance(value, str):
        raise SignatureError("has_tag() takes the tag name as a string literal", position)
    return value


def _has_tag_scalar(ctx: ScalarContext, name: str) -> bool:
    if ctx.tags is None:
        raise DataError(f"has_tag({name!r}) is only available when the rule is evaluated inside a TagSet")
    return name in ctx.tags


def _has_tag_batch(ctx: BatchContext, name: Any, *, types: tuple[str, ...]) -> Vec:
    if ctx.tags is None:
        raise DataError(f"has_tag({name!r}) is only available when the rule is evaluated inside a TagSet")
    column = ctx.tags.get(name)
    if column is None:
        raise DataError(f"has_tag({name!r}): no tag {name!r} was evaluated before this rule")
    return Vec(np.asarray(column, dtype=np.bool_), None)


REGISTRY.add(
    FunctionSpec(
        "has_tag",
        (frozenset({"str"}),),
        "bool",
        _has_tag_scalar,
        _has_tag_batch,
        const_params=frozenset({0}),
        prepare=_prepare_tag,
        propagate_nulls=False,
        doc="Inside a TagSet: true when the customer has the named tag (evaluated first).",
    )
)

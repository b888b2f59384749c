"""The error tree of ``user_ops``.

Every error the library raises on purpose derives from [`UserOpsError`][], and each also derives
from the builtin exception a caller would naturally catch (``ValueError`` for bad data or configuration,
``TypeError`` for type mismatches in rules), so ``except ValueError`` keeps working in host code.

Example
-------
>>> from user_ops import DataError, UserOpsError
>>> issubclass(DataError, UserOpsError) and issubclass(DataError, ValueError)
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ConfigError",
    "DataError",
    "NotFittedError",
    "PluginError",
    "RuleError",
    "RuleLimitError",
    "RuleSyntaxError",
    "RuleTypeError",
    "UserOpsError",
    "UserOpsWarning",
]


class UserOpsError(Exception):
    """Root of every error raised on purpose by ``user_ops``.

    Catch it at the boundary of a host (a request handler, a CLI) to turn any deliberate ``user_ops``
    error into a message for the user; errors from bugs (``AttributeError``, ...) are not under it.

    Examples
    --------
    >>> from user_ops import Rule
    >>> try:
    ...     Rule.parse("orders_90d >= 3 and")
    ... except UserOpsError as exc:
    ...     print(type(exc).__name__, "at column", exc.column)
    RuleSyntaxError at column 20
    """

    def __str__(self) -> str:
        # A message quotes what it was given; a lone surrogate in it must not break printing or logging.
        return _encodable(super().__str__())


class UserOpsWarning(UserWarning):
    """Warnings from ``user_ops`` (e.g. a plugin function without a batch implementation runs row by row).

    Examples
    --------
    >>> import warnings
    >>> from datetime import datetime, timezone
    >>> from user_ops import Rule
    >>> from user_ops.plugins import register_function, unregister_function
    >>> _ = register_function("doubled", lambda x: 2 * x, params=["int"], returns="int")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     matched = Rule.parse("doubled(orders) > 2").evaluate(
    ...         {"orders": [1, 2]}, as_of=datetime(2024, 6, 30, tzinfo=timezone.utc))
    >>> matched, [w.category.__name__ for w in caught]
    (array([False,  True]), ['UserOpsWarning'])
    >>> unregister_function("doubled")
    """


class DataError(UserOpsError, ValueError):
    """Input data is unusable: naive datetimes, NaN amounts, ragged columns, unknown columns, ...

    The message names the field, value or position at fault. It is also a ``ValueError``.

    Examples
    --------
    >>> from datetime import datetime
    >>> from user_ops import Rule
    >>> try:
    ...     Rule.parse("orders_90d >= 3").evaluate_one({"orders_90d": 4}, as_of=datetime(2024, 6, 30))
    ... except DataError as exc:
    ...     print(exc)
    as_of is a naive datetime (2024-06-30T00:00:00); pass a timezone-aware datetime or name the time zone
    it is in (tz=...)
    """


class ConfigError(UserOpsError, ValueError):
    """A policy or option is inconsistent, or an optional extra it needs is not installed.

    Strict policy models (e.g. [`RFMModel`][]) turn validation errors into this error.
    It is also a ``ValueError``.

    Examples
    --------
    >>> from user_ops.rfm import RFMModel
    >>> try:
    ...     RFMModel.quantile(bins=12)
    ... except ConfigError as exc:
    ...     print(exc)
    invalid RFMModel: bins: Input should be less than or equal to 9
    """


class _UnknownNameError(ConfigError, KeyError):
    """A name looked up in a policy that does not hold it: a tag, a stage, a segment, a state.

    A ``ConfigError`` that is also the ``KeyError`` of a mapping-style lookup, so both ``except
    ConfigError`` and ``except KeyError`` catch it. Private: catch one of those.
    """

    __str__ = Exception.__str__  # KeyError's own would print the message in quotes


class NotFittedError(UserOpsError, RuntimeError):
    """A model was used before it was fitted.

    Examples
    --------
    >>> from user_ops.rfm import RFMModel
    >>> try:
    ...     RFMModel.quantile().score_one({"recency_days": 3, "frequency": 1, "monetary": 20.0})
    ... except NotFittedError as exc:
    ...     print(str(exc)[:48])
    this RFMModel (method='quantile') is not fitted
    """


class PluginError(UserOpsError, RuntimeError):
    """A plugin could not be registered or loaded.

    Examples
    --------
    >>> from user_ops.plugins import register_function
    >>> try:
    ...     register_function("and", len, params=["str"], returns="int")
    ... except PluginError as exc:
    ...     print(exc)
    plugin function name must be an identifier that is not a keyword, got 'and'
    """


class RuleError(UserOpsError, ValueError):
    """A rule is malformed, ill-typed or too large.

    Attributes
    ----------
    text:
        The rule text the error refers to, when the rule came from text.
    line, column:
        1-based position of the offending text (``None`` when unknown).
    end_column:
        1-based column just after the offending text on ``line``.
    path:
        JSON path of the offending node (``"$.items[0].left"``) when the rule came from JSON.

    Examples
    --------
    >>> from user_ops import Rule
    >>> try:
    ...     Rule.parse("orders_90d >>= 3")
    ... except RuleError as exc:
    ...     print(exc.message, "| line", exc.line, "columns", exc.column, "to", exc.end_column)
    expected an expression after '>', found '>=' | line 1 columns 13 to 15
    """

    def __init__(
        self,
        message: str,
        *,
        text: str | None = None,
        line: int | None = None,
        column: int | None = None,
        end_column: int | None = None,
        path: str | None = None,
    ) -> None:
        self.message = message
        self.text = text
        self.line = line
        self.column = column
        self.end_column = end_column
        self.path = path
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [self.message]
        if self.path is not None:
            parts.append(f"  at {self.path}")
        if self.text is not None and self.line is not None and self.column is not None:
            parts.append(f"  line {self.line}, column {self.column}:")
            parts.extend(_caret_snippet(self.text, self.line, self.column, self.end_column))
        return "\n".join(parts)


class RuleSyntaxError(RuleError):
    """Rule text, JSON or JsonLogic that cannot be parsed.

    ``str(error)`` shows the message, the position and the offending line with a caret under it.

    Examples
    --------
    >>> from user_ops import Rule
    >>> try:
    ...     Rule.parse("orders_90d >= 3 and")
    ... except RuleSyntaxError as exc:
    ...     print(exc)
    unexpected end of rule: expected an expression after 'and'
      line 1, column 20:
        orders_90d >= 3 and
                           ^
    """


class RuleTypeError(RuleError, TypeError):
    """A rule that parses but does not type-check: unknown field, type mismatch, wrong arity.

    It is also a ``TypeError``.

    Examples
    --------
    >>> from user_ops import Rule
    >>> try:
    ...     Rule.parse("city > 3", schema={"city": "str"})
    ... except RuleTypeError as exc:
    ...     print(exc.message, isinstance(exc, TypeError))
    cannot compare str with int True
    """


class RuleLimitError(RuleError):
    """A rule exceeds a size limit (text length, nesting depth, node count, list size).

    The limits are a [`Limits`][user_ops.rules.Limits], passed to ``Rule.parse(..., limits=...)``.

    Examples
    --------
    >>> from user_ops import Rule
    >>> from user_ops.rules import Limits
    >>> try:
    ...     Rule.parse("not not not not vip", limits=Limits(max_depth=3))
    ... except RuleLimitError as exc:
    ...     print(exc.message)
    rule is nested too deeply: depth 4 exceeds max_depth=3
    """


_SNIPPET_WIDTH = 100


def value_repr(value: object, width: int = 60) -> str:
    """``repr(value)`` for an error message: at most ``width`` characters, and never itself an error.

    A message must not fail on what it quotes: an int past Python's digit limit, a list nested too
    deeply to repr, an object whose ``__repr__`` raises.

    Examples
    --------
    >>> value_repr(10**5000)
    '<int of 5001 digits>'
    >>> value_repr("x" * 100, width=12)
    "'xxxxxxxx..."
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        bits = value.bit_length()
        digits = len(str(abs(value))) if bits < 14_000 else int(bits * 0.30103) + 1  # str() has a limit
        return f"<int of {digits} digits>"
    try:
        text = repr(value)
    except Exception:  # anything a repr raises: RecursionError, ValueError, ...
        text = f"<{type(value).__name__}>"
    return text if len(text) <= width else text[: width - 3] + "..."


def missing_field_error(name: str, record: Mapping[str, Any]) -> DataError:
    """The error for a record without field ``name`` (rules and RFM read records), with a hint."""
    import difflib

    close = difflib.get_close_matches(name, [str(k) for k in record], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return DataError(
        f"the record has no field {name!r}{hint}; give it the value None when it is missing, "
        "or parse the rule with a schema"
    )


def _encodable(text: str) -> str:
    """``text`` with lone surrogates escaped (``\\ud800``): a message must survive being printed or logged."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _caret_snippet(text: str, line: int, column: int, end_column: int | None) -> list[str]:
    """Two lines: the offending source line (clipped around the column) and a caret under it."""
    lines = text.splitlines() or [""]
    source = lines[min(line, len(lines)) - 1]
    width = max(1, (end_column or column + 1) - column)
    start = max(0, column - 1 - _SNIPPET_WIDTH // 2)
    clipped = source[start : start + _SNIPPET_WIDTH]
    prefix = "..." if start > 0 else ""
    offset = column - 1 - start + len(prefix)
    width = min(width, max(1, len(clipped) + len(prefix) - offset))
    return [f"    {prefix}{clipped}", "    " + " " * offset + "^" * width]

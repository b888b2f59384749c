"""The error tree of ``user_ops``.

Every error the library raises on purpose derives from :class:`UserOpsError`, and each also derives
from the builtin exception a caller would naturally catch (``ValueError`` for bad data or configuration,
``TypeError`` for type mismatches in rules), so ``except ValueError`` keeps working in host code.

Example
-------
>>> from user_ops import DataError, UserOpsError
>>> issubclass(DataError, UserOpsError) and issubclass(DataError, ValueError)
True
"""

from __future__ import annotations

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
    """Root of every error raised on purpose by ``user_ops``."""


class UserOpsWarning(UserWarning):
    """Warnings from ``user_ops`` (e.g. a plugin function without a batch implementation runs row by row)."""


class DataError(UserOpsError, ValueError):
    """Input data is unusable: naive datetimes, NaN amounts, ragged columns, unknown columns, ..."""


class ConfigError(UserOpsError, ValueError):
    """A policy or option is inconsistent, or an optional extra it needs is not installed."""


class NotFittedError(UserOpsError, RuntimeError):
    """A model was used before it was fitted."""


class PluginError(UserOpsError, RuntimeError):
    """A plugin could not be registered or loaded."""


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
    """Rule text, JSON or JsonLogic that cannot be parsed."""


class RuleTypeError(RuleError, TypeError):
    """A rule that parses but does not type-check: unknown field, type mismatch, wrong arity."""


class RuleLimitError(RuleError):
    """A rule exceeds a size limit (text length, nesting depth, node count, list size)."""


_SNIPPET_WIDTH = 100


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

"""The rule language: parse, type-check, evaluate (one record or a whole table) and explain."""

from user_ops.rules._limits import DEFAULT_LIMITS, Limits
from user_ops.rules._schema import Schema

__all__ = ["DEFAULT_LIMITS", "Limits", "Schema"]

"""Size limits that keep rule parsing and evaluation bounded (exceeding one raises RuleLimitError)."""

from __future__ import annotations

from pydantic import Field

from user_ops._policy import ValidatedModel

__all__ = ["DEFAULT_LIMITS", "Limits"]


class Limits(ValidatedModel):
    """Bounds on the size of a rule.

    Parameters
    ----------
    max_text_length:
        Characters of rule text.
    max_depth:
        Nesting depth of the AST (parentheses, ``not``, calls, arithmetic). ``and``/``or`` chains are flat
        and add one level however long they are.
    max_nodes:
        Nodes in the AST.
    max_list_items:
        Items in one list literal.

    Examples
    --------
    >>> Limits().max_depth
    64
    """

    # The defaults keep the slowest rule they admit under a second to parse (the worst cases are in
    # benchmarks/bench_parse_worst.py): at 200,000 nodes and 1,000,000 characters it took seconds.
    max_text_length: int = Field(default=500_000, ge=1)
    max_depth: int = Field(default=64, ge=1, le=200)
    max_nodes: int = Field(default=50_000, ge=1)
    max_list_items: int = Field(default=25_000, ge=1)


#: The limits ``Rule.parse``, ``Rule.from_json`` and ``Rule.from_jsonlogic`` apply unless given others.
DEFAULT_LIMITS = Limits()

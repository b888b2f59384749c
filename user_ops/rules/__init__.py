"""The rule language: parse, type-check, evaluate (one record or a whole table) and explain.

Rules are written as text (``orders_90d >= 3 and city in ["北京", "上海"]``), as the canonical JSON AST
(the node models exported here), or imported from JsonLogic. A rule tells what it reads and calls
([`Rule.fields`][user_ops.rules.Rule.fields], [`Rule.functions`][user_ops.rules.Rule.functions]) and
walks its AST ([`Rule.walk`][user_ops.rules.Rule.walk]); [`register_function`][] adds a function to
the language. See ``docs/rules.md`` for the reference.
"""

from user_ops.rules._ast import (
    AndNode,
    ArithNode,
    BoolLit,
    CallNode,
    CmpNode,
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
)
from user_ops.rules._explain import ExplainNode, Explanation, NodeStats, PopulationExplanation
from user_ops.rules._functions import function_names, functions, register_function, unregister_function
from user_ops.rules._limits import DEFAULT_LIMITS, Limits
from user_ops.rules._rule import Rule
from user_ops.rules._schema import FIELD_TYPES, FieldType, Schema

__all__ = [
    "DEFAULT_LIMITS",
    "FIELD_TYPES",
    "AndNode",
    "ArithNode",
    "BoolLit",
    "CallNode",
    "CmpNode",
    "DateLit",
    "DateTimeLit",
    "DecimalLit",
    "DurationLit",
    "ExplainNode",
    "Explanation",
    "FieldNode",
    "FieldType",
    "InNode",
    "IntLit",
    "IsNullNode",
    "Limits",
    "ListLit",
    "NegNode",
    "Node",
    "NodeStats",
    "NotNode",
    "NullLit",
    "OrNode",
    "PopulationExplanation",
    "Rule",
    "Schema",
    "StrLit",
    "function_names",
    "functions",
    "register_function",
    "unregister_function",
]

"""Fuzz the whole pipeline: any text, JSON or JsonLogic, compiled and evaluated, fails only with ours."""

from __future__ import annotations

import contextlib
import warnings
from datetime import datetime, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from user_ops import Rule, Table, UserOpsError

AS_OF = datetime(2024, 6, 30, tzinfo=timezone.utc)
TOKENS = [
    "x",
    "y",
    "s",
    "t",
    "tags",
    "and",
    "or",
    "not",
    "in",
    "is",
    "null",
    "true",
    "false",
    "contains",
    "within",
    "(",
    ")",
    "[",
    "]",
    ",",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "0",
    "1",
    "-1",
    "2.5",
    "1e400",
    '"a"',
    "''",
    "30d",
    "1mo",
    "2024-02-29",
    "2024-02-30",
    "2024-01-01T00:00:00Z",
    "days_since",
    "within",
    "len",
    "lower",
    "coalesce",
    "min",
    "max",
    "abs",
    "month",
    "hour",
    '"Asia/Shanghai"',
    "any_of",
    "has_tag",
    "now",
    "today",
    "`x`",
    "x.y",
    "9223372036854775807",
    "9223372036854775808",
]
RECORD = {
    "x": 3,
    "y": 2.5,
    "s": "abc",
    "t": datetime(2024, 6, 1, tzinfo=timezone.utc),
    "tags": ("a",),
    "x.y": 1,
}
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=5),
        st.sampled_from(["x", "field", "cmp", ">=", "and", "var", "in", "int", "str", "call"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "kind",
                    "name",
                    "value",
                    "op",
                    "left",
                    "right",
                    "items",
                    "item",
                    "args",
                    "fn",
                    "var",
                    "and",
                    "or",
                    "!",
                    "==",
                    "<",
                    "in",
                    "+",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=20,
)


def _exercise(rule: Rule) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rule.value_one(RECORD, as_of=AS_OF)
        rule.values(Table.from_records([RECORD, dict.fromkeys(RECORD)]), as_of=AS_OF)
        rule.explain_one(RECORD, as_of=AS_OF)
        Rule.parse(rule.to_text())


def _only_ours(build: Any) -> None:
    with contextlib.suppress(UserOpsError):
        _exercise(build())


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=12).map(" ".join))
def test_token_soup(text: str) -> None:
    _only_ours(lambda: Rule.parse(text))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text(text: str) -> None:
    _only_ours(lambda: Rule.parse(text))


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_and_jsonlogic(doc: Any) -> None:
    _only_ours(lambda: Rule.from_json(doc))
    _only_ours(lambda: Rule.from_jsonlogic(doc))

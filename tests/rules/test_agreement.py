"""One meaning, two paths: the scalar and the batch evaluator agree on generated rules and data."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from user_ops import DataError, Table
from user_ops.rules import (
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
    Rule,
    StrLit,
)

ZONES = [
    timezone.utc,
    ZoneInfo("Asia/Shanghai"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Australia/Lord_Howe"),
]
FIELDS = {
    "i": "int",
    "f": "float",
    "d": "decimal",
    "s": "str",
    "b": "bool",
    "t": "datetime",
    "dt": "date",
    "l": "list[str]",
}
WORDS = ["", "a", "A", "vip", "VIP", "北京", "上海", "ß", "İ", "ǅ", "x y"]

# -- data -------------------------------------------------------------------------------------------
small_ints = st.integers(-10_000, 10_000)
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.5, -2.5, 1e308, -1e308, 5e-324, float("nan"), float("inf")]),
)
decimals = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6),
    st.sampled_from([Decimal("0"), Decimal("-0.000"), Decimal("1E+30"), Decimal("-1E-30"), Decimal("12.50")]),
)
words = st.one_of(st.sampled_from(WORDS), st.text(max_size=5))
instants = st.one_of(
    st.datetimes(
        min_value=datetime(1950, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.sampled_from(ZONES)
    ),
    st.sampled_from(
        [
            datetime(2024, 6, 30, tzinfo=timezone.utc),  # exactly as_of
            datetime(2024, 5, 31, tzinfo=timezone.utc),  # exactly a 30-day window start
            datetime(2024, 3, 10, 7, tzinfo=timezone.utc),  # a New York DST change
            datetime(2024, 6, 29, 16, tzinfo=timezone.utc),  # Shanghai midnight
        ]
    ),
)
days = st.dates(min_value=date(1950, 1, 1), max_value=date(2090, 1, 1))
lists = st.lists(st.sampled_from(WORDS), max_size=4)
VALUES = {
    "int": small_ints,
    "float": floats,
    "decimal": decimals,
    "str": words,
    "bool": st.booleans(),
    "datetime": instants,
    "date": days,
    "list[str]": lists,
}


@st.composite
def columns(draw: st.DrawFn) -> dict[str, list[Any]]:
    n = draw(st.integers(1, 12))
    return {
        name: draw(st.lists(st.one_of(st.none(), VALUES[kind]), min_size=n, max_size=n))
        for name, kind in FIELDS.items()
    }


# -- typed rules ------------------------------------------------------------------------------------
def field(kind: str) -> st.SearchStrategy[Node]:
    return st.sampled_from([FieldNode(name=n) for n, k in FIELDS.items() if k == kind])


LITERALS: dict[str, st.SearchStrategy[Node]] = {
    "int": small_ints.map(lambda v: IntLit(value=v)),
    "float": st.sampled_from(["0.5", "1e3", "-2.25", "1000.10"]).map(lambda v: DecimalLit(value=Decimal(v))),
    "decimal": decimals.map(lambda v: DecimalLit(value=v)),
    "str": st.sampled_from(WORDS).map(lambda v: StrLit(value=v)),
    "bool": st.booleans().map(lambda v: BoolLit(value=v)),
    "datetime": instants.map(lambda v: DateTimeLit(value=v)),
    "date": days.map(lambda v: DateLit(value=v)),
}
NUMERIC = ("int", "float", "decimal")


def expr(kind: str, depth: int) -> st.SearchStrategy[Node]:
    leaves: list[st.SearchStrategy[Node]] = [field(kind)] if kind != "float" or depth >= 0 else []
    if kind in LITERALS:
        leaves.append(LITERALS[kind])
    leaves.append(st.just(NullLit()))
    base = st.one_of(*leaves)
    if depth <= 0:
        return base
    inner = depth - 1
    options: list[st.SearchStrategy[Node]] = [base]
    if kind in NUMERIC:
        ops = st.sampled_from(["+", "-", "*", "/", "%"] if kind != "int" else ["+", "-", "*", "%"])
        options.append(
            st.builds(
                lambda op, a, b: ArithNode(op=op, left=a, right=b),
                ops,
                expr(kind, inner),
                st.sampled_from(NUMERIC).flatmap(lambda k: expr(k, inner))
                if kind == "float"
                else expr(kind, inner),
            )
        )
        options.append(expr(kind, inner).map(lambda a: NegNode(item=a)))
        options.append(
            st.builds(lambda a, b: CallNode(fn="max", args=(a, b)), expr(kind, inner), expr(kind, inner))
        )
        options.append(expr(kind, inner).map(lambda a: CallNode(fn="abs", args=(a,))))
        options.append(
            st.builds(lambda a, b: CallNode(fn="coalesce", args=(a, b)), expr(kind, inner), expr(kind, inner))
        )
    if kind == "int":
        options.append(
            st.one_of(expr("datetime", inner), expr("date", inner)).map(
                lambda t: CallNode(fn="days_since", args=(t,))
            )
        )
        options.append(
            st.builds(
                lambda fn, t, z: CallNode(fn=fn, args=(t, StrLit(value=z)) if z else (t,)),
                st.sampled_from(["month", "weekday", "hour", "year", "day"]),
                expr("datetime", inner),
                st.sampled_from(["", "Asia/Shanghai", "America/New_York"]),
            )
        )
        options.append(
            st.one_of(expr("str", inner), field("list[str]")).map(lambda x: CallNode(fn="len", args=(x,)))
        )
    if kind == "str":
        options.append(
            st.builds(
                lambda fn, x: CallNode(fn=fn, args=(x,)),
                st.sampled_from(["lower", "upper"]),
                expr("str", inner),
            )
        )
    if kind == "datetime":
        options.append(st.just(CallNode(fn="now")))
        options.append(
            st.builds(
                lambda op, t, d: ArithNode(op=op, left=t, right=DurationLit(value=d)),
                st.sampled_from(["+", "-"]),
                expr("datetime", inner),
                st.sampled_from(["1h", "90min"]),
            )
        )
    if kind == "date":
        options.append(st.just(CallNode(fn="today")))
        options.append(
            st.builds(
                lambda op, t, d: ArithNode(op=op, left=t, right=DurationLit(value=d)),
                st.sampled_from(["+", "-"]),
                expr("date", inner),
                st.sampled_from(["1d", "2w"]),
            )
        )
    if kind == "bool":
        options.extend(conditions(inner))
    return st.one_of(*options)


def _no_null_literal_operand(node: CmpNode) -> bool:
    # A comparison with a null literal never matches, so Rule refuses it; nulls still reach
    # comparisons through fields, arithmetic and calls.
    return not (isinstance(node.left, NullLit) or isinstance(node.right, NullLit))


def conditions(depth: int) -> list[st.SearchStrategy[Node]]:
    ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
    comparable = st.sampled_from(["int", "float", "decimal", "str", "datetime", "date", "mixed"])

    def compare(kind: str) -> st.SearchStrategy[Node]:
        if kind == "mixed":
            return st.builds(
                lambda op, a, b: CmpNode(op=op, left=a, right=b),
                ops,
                st.sampled_from(NUMERIC).flatmap(lambda k: expr(k, depth)),
                st.sampled_from(NUMERIC).flatmap(lambda k: expr(k, depth)),
            ).filter(_no_null_literal_operand)
        return st.builds(
            lambda op, a, b: CmpNode(op=op, left=a, right=b), ops, expr(kind, depth), expr(kind, depth)
        ).filter(_no_null_literal_operand)

    sub = st.deferred(lambda: expr("bool", depth))
    return [
        comparable.flatmap(compare),
        st.builds(lambda a, b: CmpNode(op="==", left=a, right=b), expr("bool", 0), expr("bool", 0)).filter(
            _no_null_literal_operand
        ),
        st.lists(sub, min_size=1, max_size=4).map(lambda xs: AndNode(items=tuple(xs))),
        st.lists(sub, min_size=1, max_size=4).map(lambda xs: OrNode(items=tuple(xs))),
        sub.map(lambda x: NotNode(item=x)),
        st.builds(
            lambda x, neg: IsNullNode(item=x, negated=neg),
            st.sampled_from(list(FIELDS.values())).flatmap(
                lambda k: expr(k, depth) if k != "list[str]" else field(k)
            ),
            st.booleans(),
        ),
        st.builds(
            lambda kind_items, neg: InNode(
                item=kind_items[0], values=ListLit(items=kind_items[1]), negated=neg
            ),
            st.sampled_from(["int", "str", "decimal", "date"]).flatmap(
                lambda k: st.tuples(
                    expr(k, depth),
                    st.lists(st.one_of(LITERALS[k], st.just(NullLit())), max_size=5).map(tuple),
                )
            ),
            st.booleans(),
        ),
        st.builds(
            lambda items, s: CallNode(fn="contains", args=(items, s)), field("list[str]"), expr("str", depth)
        ),
        st.builds(lambda s, t: CallNode(fn="contains", args=(s, t)), expr("str", depth), expr("str", depth)),
        st.builds(
            lambda t, d: CallNode(fn="within", args=(t, DurationLit(value=d))),
            st.one_of(expr("datetime", depth), expr("date", depth)),
            st.sampled_from(["30d", "1mo", "12h", "1y", "2w"]),
        ),
        st.builds(
            lambda fn, items: CallNode(fn=fn, args=(FieldNode(name="l"), ListLit(items=items))),
            st.sampled_from(["any_of", "all_of"]),
            st.lists(st.sampled_from(WORDS).map(lambda w: StrLit(value=w)), max_size=3).map(tuple),
        ),
    ]


rules = st.integers(0, 2).flatmap(lambda depth: expr("bool", depth))
as_ofs = st.sampled_from(
    [
        datetime(2024, 6, 30, tzinfo=timezone.utc),
        datetime(2024, 6, 30, 8, tzinfo=ZoneInfo("Asia/Shanghai")),
        datetime(2024, 3, 10, 3, 30, tzinfo=ZoneInfo("America/New_York")),
        datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=timezone.utc),
    ]
)


def scalar_results(rule: Rule, data: dict[str, list[Any]], as_of: datetime, tz: Any) -> list[Any]:
    n = len(next(iter(data.values())))
    return [rule.value_one({k: v[row] for k, v in data.items()}, as_of=as_of, tz=tz) for row in range(n)]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=rules, data=columns(), as_of=as_ofs, tz=st.sampled_from([None, "Asia/Shanghai", "Europe/London"]))
def test_scalar_and_batch_agree(node: Node, data: dict[str, list[Any]], as_of: datetime, tz: Any) -> None:
    rule = Rule(node)
    table = Table(data)
    try:
        expected = scalar_results(rule, data, as_of, tz)
    except DataError:
        with pytest.raises(DataError):
            rule.values(table, as_of=as_of, tz=tz)
        return
    values, unknown = rule.values(table, as_of=as_of, tz=tz)
    got = [None if u else bool(v) for v, u in zip(values.tolist(), unknown.tolist())]
    assert got == expected, rule.to_json()
    assert rule.evaluate(table, as_of=as_of, tz=tz).tolist() == [e is True for e in expected]


@settings(max_examples=200, deadline=None)
@given(node=rules, data=columns(), as_of=as_ofs)
def test_schema_given_up_front_agrees_with_inferred(
    node: Node, data: dict[str, list[Any]], as_of: datetime
) -> None:
    inferred = Rule(node)
    declared = Rule(node, schema=FIELDS)
    try:
        expected = scalar_results(inferred, data, as_of, None)
    except DataError:
        return
    assert scalar_results(declared, data, as_of, None) == expected
    values, unknown = declared.values(Table(data), as_of=as_of)
    assert [None if u else bool(v) for v, u in zip(values.tolist(), unknown.tolist())] == expected


def test_three_valued_logic_table() -> None:
    as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    a, b = FieldNode(name="a"), FieldNode(name="b")
    cases = {
        AndNode(items=(a, b)): {
            (True, None): None,
            (False, None): False,
            (None, None): None,
            (True, True): True,
        },
        OrNode(items=(a, b)): {
            (True, None): True,
            (False, None): None,
            (None, None): None,
            (False, False): False,
        },
        NotNode(item=a): {(None, None): None, (True, None): False},
    }
    for node, table in cases.items():
        rule = Rule(node, schema={"a": "bool", "b": "bool"})
        for (x, y), want in table.items():
            assert rule.value_one({"a": x, "b": y}, as_of=as_of) is want
            values, unknown = rule.values({"a": [x], "b": [y]}, as_of=as_of)
            assert (None if unknown[0] else bool(values[0])) is want


def test_int_overflow_raises_in_both_paths() -> None:
    as_of = datetime(2024, 6, 30, tzinfo=timezone.utc)
    rule = Rule(
        CmpNode(
            op=">",
            left=ArithNode(op="*", left=FieldNode(name="i"), right=FieldNode(name="i")),
            right=IntLit(value=0),
        )
    )
    with pytest.raises(DataError, match="overflow"):
        rule.evaluate_one({"i": 2**62}, as_of=as_of)
    with pytest.raises(DataError, match="overflow"):
        rule.evaluate({"i": np.array([1, 2**62])}, as_of=as_of)
    assert rule.evaluate({"i": np.array([3, -(2**31)])}, as_of=as_of).tolist() == [True, True]


@settings(max_examples=200, deadline=None)
@given(
    node=rules,
    rows=st.lists(
        st.fixed_dictionaries(
            {
                name: st.one_of(
                    st.none(),
                    VALUES[kind],
                    *([small_ints.map(float)] if kind == "int" else [st.booleans()] if kind == "str" else []),
                )
                for name, kind in FIELDS.items()
            }
        ),
        min_size=1,
        max_size=8,
    ),
    as_of=as_ofs,
)
def test_answers_do_not_depend_on_earlier_records(
    node: Node, rows: list[dict[str, Any]], as_of: datetime
) -> None:
    """A reused Rule (which remembers trees compiled for earlier records' types) answers like a fresh one."""
    reused = Rule(node)
    for row in rows:
        outcomes = []
        for rule in (reused, Rule(node)):
            try:
                outcomes.append(("value", rule.value_one(row, as_of=as_of)))
            except Exception as exc:  # the same error class, whatever the history
                outcomes.append(("error", type(exc).__name__))
        assert outcomes[0] == outcomes[1], row


# -- edge values: the ends of the time ranges, huge durations, non-finite decimals --------------------
UTC = timezone.utc
LONGEST = timedelta(microseconds=2**63 - 1)  # the longest duration a column holds
EDGE_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "datetime": st.one_of(
        instants,
        st.sampled_from(
            [
                datetime.min.replace(tzinfo=UTC),
                datetime.max.replace(tzinfo=UTC),
                datetime(9999, 12, 31, 23, 30, tzinfo=UTC),
                datetime(1, 1, 1, 0, 30, tzinfo=UTC),
                datetime(9999, 12, 31, 23, tzinfo=ZoneInfo("Asia/Shanghai")),  # 15:00 UTC
                datetime(9999, 12, 31, 12, tzinfo=ZoneInfo("America/New_York")),  # 17:00 UTC
                datetime(1, 1, 2, 3, tzinfo=ZoneInfo("Asia/Shanghai")),  # 0001-01-01 19:00 UTC
            ]
        ),
    ),
    "date": st.one_of(days, st.sampled_from([date.min, date.max, date(1, 1, 14), date(9999, 12, 18)])),
    "decimal": st.one_of(
        decimals, st.sampled_from([Decimal("NaN"), Decimal("-NaN"), Decimal("sNaN"), Decimal("9E+999")])
    ),
    "float": floats,
    "int": st.one_of(small_ints, st.sampled_from([2**63 - 1, -(2**63), 2**62])),
    "duration": st.one_of(
        st.timedeltas(min_value=-LONGEST, max_value=LONGEST),
        st.sampled_from([LONGEST, -LONGEST, timedelta(0), timedelta(days=106_751_991)]),
    ),
}
EDGE_FIELDS = {"t": "datetime", "dt": "date", "d": "decimal", "f": "float", "i": "int", "du": "duration"}
DURATION_LITERALS = ["0s", "1h", "90min", "2w", "3652058d"]


def _edge_rules() -> st.SearchStrategy[Node]:
    t, dt, du = FieldNode(name="t"), FieldNode(name="dt"), FieldNode(name="du")
    ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
    instant = st.one_of(
        st.just(t),
        st.builds(
            lambda op, d: ArithNode(op=op, left=t, right=DurationLit(value=d)),
            st.sampled_from(["+", "-"]),
            st.sampled_from(["1h", "90min", "36h", "1s"]),
        ),
        st.just(CallNode(fn="now")),
    )
    day = st.one_of(
        st.just(dt),
        st.builds(
            lambda op, d: ArithNode(op=op, left=dt, right=DurationLit(value=d)),
            st.sampled_from(["+", "-"]),
            st.sampled_from(["1d", "2w", "3652058d"]),
        ),
    )
    integer = st.one_of(
        st.just(FieldNode(name="i")),
        st.builds(lambda x: CallNode(fn="days_since", args=(x,)), st.one_of(instant, day)),
        st.builds(
            lambda fn, x: CallNode(fn=fn, args=(x,)),
            st.sampled_from(["year", "month", "day", "weekday", "hour"]),
            instant,
        ),
    )
    number = st.one_of(
        st.just(FieldNode(name="d")),
        st.just(FieldNode(name="f")),
        st.builds(
            lambda op, a, b: ArithNode(op=op, left=a, right=b),
            st.sampled_from(["+", "-", "*", "/", "%"]),
            st.sampled_from([FieldNode(name="d"), FieldNode(name="i"), FieldNode(name="f")]),
            st.sampled_from([FieldNode(name="d"), IntLit(value=3), DecimalLit(value=Decimal("1E+999"))]),
        ),
    )
    duration = st.one_of(st.just(du), st.sampled_from(DURATION_LITERALS).map(lambda v: DurationLit(value=v)))
    comparisons = st.one_of(
        st.builds(lambda op, a, b: CmpNode(op=op, left=a, right=b), ops, instant, instant),
        st.builds(lambda op, a, b: CmpNode(op=op, left=a, right=b), ops, day, st.one_of(day, instant)),
        st.builds(lambda op, a: CmpNode(op=op, left=a, right=IntLit(value=0)), ops, integer),
        st.builds(lambda op, a, b: CmpNode(op=op, left=a, right=b), ops, number, number),
        st.builds(lambda op, a, b: CmpNode(op=op, left=a, right=b), ops, duration, duration).filter(
            lambda node: FieldNode(name="du") in (node.left, node.right)
        ),
        st.builds(
            lambda x, w: CallNode(fn="within", args=(x, DurationLit(value=w))),
            st.sampled_from([t, dt]),
            st.sampled_from(["30d", "1y", "12h", "9000y"]),
        ),
        st.builds(
            lambda x, neg: IsNullNode(item=x, negated=neg),
            st.one_of(instant, day, number, duration),
            st.booleans(),
        ),
    )
    return st.one_of(
        comparisons,
        st.lists(comparisons, min_size=2, max_size=3).map(lambda xs: OrNode(items=tuple(xs))),
        st.lists(comparisons, min_size=2, max_size=3).map(lambda xs: AndNode(items=tuple(xs))),
    )


@st.composite
def edge_columns(draw: st.DrawFn) -> dict[str, list[Any]]:
    n = draw(st.integers(1, 6))
    return {
        name: draw(st.lists(st.one_of(st.none(), EDGE_VALUES[kind]), min_size=n, max_size=n))
        for name, kind in EDGE_FIELDS.items()
    }


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    node=_edge_rules(),
    data=edge_columns(),
    as_of=as_ofs,
    tz=st.sampled_from([None, "Asia/Shanghai", "America/New_York", "UTC"]),
)
def test_scalar_and_batch_agree_on_edge_values(
    node: Node, data: dict[str, list[Any]], as_of: datetime, tz: Any
) -> None:
    """Both paths give the same answer, or both refuse with a DataError, at the ends of every range."""
    rule = Rule(node)
    try:
        expected = scalar_results(rule, data, as_of, tz)
    except DataError:
        with pytest.raises(DataError):
            rule.values(Table(data), as_of=as_of, tz=tz)
        return
    try:
        values, unknown = rule.values(Table(data), as_of=as_of, tz=tz)
    except DataError:
        # The batch path computes every term of an and/or for every row; the scalar path stops at the
        # term that settles a row. So a batch error must come from a term that fails on its own.
        terms = node.items if isinstance(node, (AndNode, OrNode)) else (node,)
        assert any(_fails_alone(term, data, as_of, tz) for term in terms), rule.to_text()
        return
    got = [None if u else bool(v) for v, u in zip(values.tolist(), unknown.tolist())]
    assert got == expected, rule.to_text()


def _fails_alone(term: Node, data: dict[str, list[Any]], as_of: datetime, tz: Any) -> bool:
    try:
        scalar_results(Rule(term), data, as_of, tz)
    except DataError:
        return True
    return False

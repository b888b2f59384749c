"""The money floor: exact parsing, rounding in every mode, allocation that sums exactly."""

from __future__ import annotations

import pickle
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
    localcontext,
)
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from user_ops import Currency, DataError, Money, Rounding
from user_ops._money import allocate, round_ratio, round_ratio_array

DECIMAL_MODES = {
    Rounding.HALF_UP: ROUND_HALF_UP,
    Rounding.HALF_EVEN: ROUND_HALF_EVEN,
    Rounding.HALF_DOWN: ROUND_HALF_DOWN,
    Rounding.UP: ROUND_UP,
    Rounding.DOWN: ROUND_DOWN,
    Rounding.FLOOR: ROUND_FLOOR,
    Rounding.CEILING: ROUND_CEILING,
}
big = st.integers(min_value=-(10**15), max_value=10**15)


@given(big, st.integers(min_value=1, max_value=10**6), st.sampled_from(list(Rounding)))
def test_round_ratio_agrees_with_decimal_quantize(numerator: int, denominator: int, mode: Rounding) -> None:
    with localcontext() as ctx:
        ctx.prec = 60
        expected = (Decimal(numerator) / Decimal(denominator)).quantize(
            Decimal(1), rounding=DECIMAL_MODES[mode]
        )
    assert round_ratio(numerator, denominator, mode) == int(expected)
    assert round_ratio(-numerator, -denominator, mode) == int(expected)


@given(
    st.lists(st.integers(min_value=-(10**12), max_value=10**12), min_size=1, max_size=50),
    st.integers(min_value=1, max_value=1000),
    st.sampled_from(list(Rounding)),
)
def test_round_ratio_array_agrees_with_scalar(values: list[int], denominator: int, mode: Rounding) -> None:
    batch = round_ratio_array(np.array(values, dtype=np.int64), denominator, mode)
    assert batch.tolist() == [round_ratio(v, denominator, mode) for v in values]


def test_round_ratio_refuses_zero_and_negative_batch_denominators() -> None:
    with pytest.raises(DataError, match="denominator is zero"):
        round_ratio(1, 0)
    with pytest.raises(DataError, match="denominator must be positive"):
        round_ratio_array(np.array([1]), -2)


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=30).filter(lambda w: sum(w) > 0),
)
def test_allocate_sums_exactly_with_the_sign_of_the_total(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    assert sum(parts) == total
    assert all(part * total >= 0 for part in parts)
    whole = sum(weights)
    for part, weight in zip(parts, weights):
        exact = Decimal(abs(total) * weight) / Decimal(whole)
        assert abs(Decimal(abs(part)) - exact) < 1  # every part is its exact share rounded one way
        if weight == 0:
            assert part == 0


@given(
    st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=30).filter(lambda w: sum(w) > 0)
)
def test_a_discount_up_to_the_lines_total_never_exceeds_a_line(weights: list[int]) -> None:
    for total in (sum(weights), sum(weights) // 3, 1):
        assert all(0 <= part <= weight for part, weight in zip(allocate(total, weights), weights))


def test_allocate_breaks_ties_towards_earlier_positions_and_names_bad_weights() -> None:
    assert allocate(2, [1, 1, 1]) == [1, 1, 0]
    with pytest.raises(DataError, match="position 1"):
        allocate(5, [1, -1])
    with pytest.raises(DataError, match="position 0"):
        allocate(5, [1.5, 1])  # type: ignore[list-item]
    with pytest.raises(DataError, match="sum to zero"):
        allocate(5, [0, 0])
    with pytest.raises(DataError, match="no weights"):
        allocate(5, [])


@pytest.mark.parametrize(
    ("text", "code", "minor", "shown"),
    [("12.5", "CNY", 1250, "12.50 CNY"), ("500", "JPY", 500, "500 JPY"), ("0.125", "KWD", 125, "0.125 KWD")],
)
def test_each_currency_uses_its_own_exponent(text: str, code: str, minor: int, shown: str) -> None:
    money = Money(text, code)
    assert (money.minor, str(money)) == (minor, shown)
    assert Money.from_minor(minor, code) == money
    assert money.amount == Decimal(text)


def test_extra_decimals_raise_unless_a_rounding_is_given() -> None:
    with pytest.raises(DataError, match=r"more than 0 decimals for JPY"):
        Money("1.5", "JPY")
    assert Money("1.5", "JPY", rounding="half_even").minor == 2
    assert Money("2.5", "JPY", rounding="half_even").minor == 2
    assert Money("-0.005", "CNY", rounding=Rounding.HALF_UP).minor == -1


@pytest.mark.parametrize("bad", [0.1, float("nan"), True, None, [1]])
def test_floats_and_other_types_are_refused(bad: object) -> None:
    with pytest.raises(DataError, match="pass amounts as str, int or Decimal"):
        Money(bad, "CNY")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "match"), [("abc", "not a decimal"), ("Infinity", "finite"), ("NaN", "finite")]
)
def test_unparseable_amounts_name_the_value(text: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        Money(text, "CNY")


def test_currencies_are_validated_and_declarable() -> None:
    with pytest.raises(DataError, match="unknown code 'XTS'"):
        Currency("XTS")
    with pytest.raises(DataError, match="three-letter"):
        Currency("cny")
    with pytest.raises(DataError, match=r"exponent must be an integer 0\.\.6"):
        Currency("XTS", exponent=9)
    assert str(Money("1.5", Currency("XTS", exponent=1))) == "1.5 XTS"


def test_arithmetic_stays_within_one_currency() -> None:
    a, b = Money("10.00", "CNY"), Money("0.01", "CNY")
    assert (a + b, a - b, -b, abs(-b), b * 3, 3 * b) == (
        Money("10.01", "CNY"),
        Money("9.99", "CNY"),
        Money("-0.01", "CNY"),
        b,
        Money("0.03", "CNY"),
        Money("0.03", "CNY"),
    )
    assert a > b and a.min(b) == b and a.max(b) == a
    with pytest.raises(DataError, match="currencies differ"):
        _ = a + Money("1", "USD")
    with pytest.raises(DataError, match="currencies differ"):
        _ = a < Money("1", "USD")
    with pytest.raises(TypeError):
        _ = a * 1.5  # type: ignore[operator]
    assert a != Money("10.00", "USD")


def test_rates_round_once_in_the_named_mode() -> None:
    price = Money("19.99", "CNY")
    assert price.times("0.85", rounding="half_up") == Money("16.99", "CNY")  # 16.9915
    assert price.times("0.85", rounding="ceiling") == Money("17.00", "CNY")
    assert price.times_ratio(1, 3, rounding="down") == Money("6.66", "CNY")
    with pytest.raises(DataError, match="not float"):
        price.times(0.85, rounding="half_up")  # type: ignore[arg-type]


@given(st.integers(min_value=-(10**12), max_value=10**12), st.sampled_from(["CNY", "JPY", "KWD"]))
def test_text_and_documents_round_trip(minor: int, code: str) -> None:
    money = Money.from_minor(minor, code)
    assert Money(money.currency.format_minor(minor), code) == money
    assert pickle.loads(pickle.dumps(money)) == money

    class Priced(BaseModel):
        price: Money

    document = Priced(price=money).model_dump(mode="json")
    assert Priced.model_validate(document).price == money
    assert Priced.model_validate_json(Priced(price=money).model_dump_json()).price == money


def test_documents_name_the_field_and_value_when_wrong() -> None:
    class Priced(BaseModel):
        price: Money

    assert Priced(price="3.50 USD").price == Money("3.50", "USD")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"price\n.*more than 2 decimals for CNY"):
        Priced(price={"amount": "1.234", "currency": "CNY"})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="expected"):
        Priced(price={"amount": "1"})  # type: ignore[arg-type]
    schema = Priced.model_json_schema()["properties"]["price"]
    assert schema["required"] == ["amount", "currency"]


def test_formatting_uses_symbols_where_known() -> None:
    assert Money("-3.5", "CNY").format() == "-¥3.50"
    assert Money("1200", "JPY").format() == "¥1200"
    assert Money("1", "KWD").format() == "1.000 KWD"
    assert repr(Money("1", "KWD")) == "Money('1.000', 'KWD')"


def test_money_is_immutable_and_hashable() -> None:
    money = Money("1", "CNY")
    with pytest.raises(AttributeError):
        money.minor = 5  # type: ignore[misc]
    assert len({money, Money("1.00", "CNY"), Money("1", "USD")}) == 2


@pytest.mark.parametrize(
    "call",
    [
        lambda: allocate(True, [1, 1]),
        lambda: round_ratio(True, 2),
        lambda: round_ratio(5, True),
        lambda: round_ratio_array(np.array([1, 2]), True),
        lambda: round_ratio_array(np.array([True, False]), 2),
        lambda: Money("1", "CNY").times_ratio(True, 2, rounding="half_up"),
        lambda: Money("1", "CNY").times_ratio(1, True, rounding="half_up"),
        lambda: Money(np.True_, "CNY"),
    ],
)
def test_booleans_are_not_amounts_counts_or_ratios(call: Any) -> None:
    with pytest.raises(DataError, match="bool"):
        call()


def test_a_boolean_rate_is_named_as_a_boolean() -> None:
    with pytest.raises(DataError, match=r"not bool \(True\)"):
        Money("1", "CNY").times(True, rounding="half_up")

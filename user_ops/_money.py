"""Exact money: integer minor units, a currency's own exponent, explicit rounding, exact allocation.

Every amount a customer pays or is given back lives here as an integer count of the currency's minor
unit (分 for CNY, cents for USD, yen for JPY, fils for KWD). Rates and percentages are applied by
[`round_ratio`][], which rounds an exact integer fraction in a named mode, so no float ever touches
a price. [`allocate`][] splits an amount across lines with the largest-remainder method: the parts
sum exactly to the whole and none is negative.

Examples
--------
>>> price = Money("199.90", "CNY")
>>> price.minor, str(price)
(19990, '199.90 CNY')
>>> price.times_ratio(15, 100, rounding=Rounding.HALF_UP)   # 15 % of it
Money('29.99', 'CNY')
>>> [str(part) for part in Money("10.00", "CNY").allocate([1, 1, 1])]
['3.34 CNY', '3.33 CNY', '3.33 CNY']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from enum import Enum
from functools import total_ordering
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from user_ops.exceptions import DataError

__all__ = [
    "CURRENCY_EXPONENTS",
    "Currency",
    "Money",
    "Rounding",
    "allocate",
    "currency",
    "round_ratio",
    "round_ratio_array",
    "round_to_minor_unit",
    "summary_currency",
]

#: ISO 4217 minor-unit exponents of the currencies a shop commonly prices in.
CURRENCY_EXPONENTS: dict[str, int] = {
    "CNY": 2,
    "HKD": 2,
    "MOP": 2,
    "TWD": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "SGD": 2,
    "MYR": 2,
    "THB": 2,
    "AUD": 2,
    "CAD": 2,
    "CHF": 2,
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "CLP": 0,
    "ISK": 0,
    "KWD": 3,
    "BHD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
}

_SYMBOLS = {"CNY": "¥", "JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "KRW": "₩", "HKD": "HK$"}
_CODE = re.compile(r"^[A-Z]{3}$")


class Rounding(str, Enum):
    """How an exact fraction becomes a whole number of minor units.

    ``HALF_UP`` rounds halves away from zero (四舍五入), ``HALF_EVEN`` to the even neighbour (banker's),
    ``HALF_DOWN`` towards zero; ``UP`` is away from zero, ``DOWN`` towards zero (truncate, 抹零),
    ``FLOOR`` towards −∞ and ``CEILING`` towards +∞.

    Examples
    --------
    >>> [round_ratio(25, 10, r) for r in Rounding]  # 2.5 in each mode
    [3, 2, 2, 3, 2, 2, 3]
    >>> round_ratio(-25, 10, Rounding.FLOOR), Rounding("half_even") is Rounding.HALF_EVEN
    (-3, True)
    """

    HALF_UP = "half_up"
    HALF_EVEN = "half_even"
    HALF_DOWN = "half_down"
    UP = "up"
    DOWN = "down"
    FLOOR = "floor"
    CEILING = "ceiling"


class Currency:
    """A currency code and its minor-unit exponent (CNY 2, JPY 0, KWD 3).

    Parameters
    ----------
    code : str
        Three upper-case letters.
    exponent : int, optional
        Digits after the decimal point; looked up in ``CURRENCY_EXPONENTS`` when omitted.

    Examples
    --------
    >>> Currency("KWD").exponent
    3
    >>> Currency("XTS", exponent=2).code
    'XTS'
    """

    __slots__ = ("code", "exponent", "scale")
    code: str
    exponent: int
    scale: int

    def __init__(self, code: str, exponent: int | None = None) -> None:
        if not isinstance(code, str) or not _CODE.match(code):
            raise DataError(f"currency: expected a three-letter upper-case code like 'CNY', got {code!r}")
        if exponent is None:
            if code not in CURRENCY_EXPONENTS:
                raise DataError(
                    f"currency: unknown code {code!r}; pass Currency({code!r}, exponent=...) to declare it"
                )
            exponent = CURRENCY_EXPONENTS[code]
        if isinstance(exponent, bool) or not isinstance(exponent, int) or not 0 <= exponent <= 6:
            raise DataError(f"currency {code}: exponent must be an integer 0..6, got {exponent!r}")
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "exponent", exponent)
        object.__setattr__(self, "scale", 10**exponent)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Currency is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Currency):
            return NotImplemented
        return self.code == other.code and self.exponent == other.exponent

    def __hash__(self) -> int:
        return hash((self.code, self.exponent))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Currency, (self.code, self.exponent))

    def __repr__(self) -> str:
        return f"Currency({self.code!r}, exponent={self.exponent})"

    def __str__(self) -> str:
        return self.code

    def format_minor(self, minor: int) -> str:
        """``minor`` units as a plain decimal string with exactly ``exponent`` decimals."""
        sign = "-" if minor < 0 else ""
        whole, frac = divmod(abs(minor), self.scale)
        return f"{sign}{whole}.{frac:0{self.exponent}d}" if self.exponent else f"{sign}{whole}"


def currency(value: str | Currency) -> Currency:
    """A [`Currency`][] from a code or a currency (unknown codes raise [`DataError`][])."""
    return value if isinstance(value, Currency) else Currency(value)


def summary_currency(value: object) -> Currency:
    """The ``currency=`` option of a summary: a code or a [`Currency`][] (ConfigError otherwise)."""
    from user_ops.exceptions import ConfigError

    if isinstance(value, Currency):
        return value
    try:
        return Currency(value)  # type: ignore[arg-type]
    except DataError as exc:
        raise ConfigError(f"currency= {exc}") from None


def round_to_minor_unit(values: npt.NDArray[np.float64], currency_: Currency) -> npt.NDArray[np.float64]:
    """Float amounts (major units, as in batch analytics) rounded to the currency's minor unit.

    A sum of float amounts carries binary noise (``39053.85999999999``); a summary a person reads
    shows ``39053.86``. NaN stays NaN.

    Examples
    --------
    >>> round_to_minor_unit(np.array([39053.85999999999, 150.78710424710422]), Currency("CNY"))
    array([39053.86,   150.79])
    >>> round_to_minor_unit(np.array([1234.5678]), Currency("JPY"))
    array([1235.])
    """
    rounded: npt.NDArray[np.float64] = np.asarray(np.round(values, currency_.exponent), dtype=np.float64)
    return rounded


def round_ratio(numerator: int, denominator: int, rounding: Rounding | str = Rounding.HALF_UP) -> int:
    """``numerator / denominator`` rounded to an integer in the given mode, exactly.

    Examples
    --------
    >>> round_ratio(5, 2), round_ratio(5, 2, "half_even"), round_ratio(-5, 2, "floor")
    (3, 2, -3)
    """
    if type(numerator) is not int or type(denominator) is not int:  # the hot path skips the checks
        _require_int(numerator, "round_ratio: numerator")
        _require_int(denominator, "round_ratio: denominator")
    if denominator == 0:
        raise DataError("round_ratio: denominator is zero")
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    mode = rounding if type(rounding) is Rounding else Rounding(rounding)
    quotient, remainder = divmod(numerator, denominator)  # floor division: 0 <= remainder < denominator
    if remainder == 0 or mode is Rounding.FLOOR:
        return quotient
    if mode is Rounding.CEILING:
        return quotient + 1
    negative = numerator < 0
    if mode is Rounding.DOWN:
        return quotient + 1 if negative else quotient
    if mode is Rounding.UP:
        return quotient if negative else quotient + 1
    twice = 2 * remainder
    if twice != denominator:
        return quotient + 1 if twice > denominator else quotient
    if mode is Rounding.HALF_EVEN:
        return quotient + (quotient & 1)
    away = mode is Rounding.HALF_UP
    return quotient + 1 if away != negative else quotient


def round_ratio_array(
    numerator: npt.NDArray[np.int64], denominator: int, rounding: Rounding | str = Rounding.HALF_UP
) -> npt.NDArray[np.int64]:
    """Vectorised [`round_ratio`][] over an int64 array with one positive denominator.

    Examples
    --------
    >>> round_ratio_array(np.array([5, -5, 7]), 2, "half_even").tolist()
    [2, -2, 4]
    """
    _require_int(denominator, "round_ratio_array: denominator")
    if denominator <= 0:
        raise DataError(f"round_ratio_array: denominator must be positive, got {denominator}")
    mode = Rounding(rounding)
    if np.asarray(numerator).dtype == np.bool_:
        raise DataError("round_ratio_array: numerator must hold integers, not bool")
    n = np.asarray(numerator, dtype=np.int64)
    quotient, remainder = np.divmod(n, np.int64(denominator))
    has_rest = remainder != 0
    if mode is Rounding.FLOOR:
        bump = np.zeros(n.shape, dtype=bool)
    elif mode is Rounding.CEILING:
        bump = has_rest
    elif mode is Rounding.DOWN:
        bump = has_rest & (n < 0)
    elif mode is Rounding.UP:
        bump = has_rest & (n >= 0)
    else:
        twice = 2 * remainder
        tie = twice == denominator
        if mode is Rounding.HALF_EVEN:
            at_tie = (quotient & 1) == 1
        elif mode is Rounding.HALF_UP:
            at_tie = n >= 0
        else:
            at_tie = n < 0
        bump = (twice > denominator) | (tie & at_tie)
    return quotient + bump.astype(np.int64)


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` across ``weights`` proportionally; parts sum to ``total`` exactly.

    Largest remainder (Hamilton): each part gets the floor of its exact share, then the units left over
    go one each to the largest fractional remainders, earlier positions first on ties. With
    non-negative weights every part has the sign of ``total`` and, when ``|total| <= sum(weights)``,
    no part exceeds its weight — so a discount spread over line amounts never makes a line negative.

    Examples
    --------
    >>> allocate(100, [1, 1, 1])
    [34, 33, 33]
    >>> allocate(-7, [3, 0, 4])
    [-3, 0, -4]
    """
    _require_int(total, "allocate: total")
    if not weights:
        raise DataError("allocate: no weights to split across")
    for position, weight in enumerate(weights):
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise DataError(
                f"allocate: weight at position {position} must be a non-negative int, got {weight!r}"
            )
    whole = sum(weights)
    if whole == 0:
        raise DataError("allocate: weights sum to zero; nothing to be proportional to")
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    shares = [divmod(magnitude * weight, whole) for weight in weights]
    parts = [share for share, _ in shares]
    left = magnitude - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-shares[i][1], i))
    for i in order[:left]:
        parts[i] += 1
    return [sign * part for part in parts]


def _require_int(value: Any, name: str) -> None:
    """Integers only: a bool is an int to Python, but ``True`` is not one minor unit, count or ratio."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise DataError(f"{name} must be an int, got {type(value).__name__} ({value!r})")


def _parse_amount(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise DataError(f"money: {text!r} is not a decimal amount") from None
    if not value.is_finite():
        raise DataError(f"money: amount must be finite, got {text!r}")
    return value


@total_ordering
class Money:
    """An exact amount of one currency, stored as an integer number of minor units.

    Arithmetic between amounts of different currencies raises [`DataError`][]; multiplying by a
    rate needs an explicit [`Rounding`][] ([`times_ratio`][], [`times`][]). In a policy model
    a ``Money`` field reads ``Money`` objects, ``{"amount": "12.50", "currency": "CNY"}`` or
    ``"12.50 CNY"`` and writes the dict form.

    Examples
    --------
    >>> Money("12.5", "CNY") + Money.from_minor(50, "CNY")
    Money('13.00', 'CNY')
    >>> Money(500, "JPY").minor
    500
    >>> Money("0.125", "KWD").format(symbol=False)
    '0.125'
    """

    __slots__ = ("currency", "minor")
    minor: int
    currency: Currency

    def __init__(
        self,
        amount: str | int | Decimal,
        currency_: str | Currency = "CNY",
        *,
        rounding: Rounding | str | None = None,
    ) -> None:
        cur = currency(currency_)
        object.__setattr__(self, "minor", _to_minor(amount, cur, rounding))
        object.__setattr__(self, "currency", cur)

    @classmethod
    def from_minor(cls, minor: int, currency_: str | Currency = "CNY") -> Money:
        """An amount given in minor units (``from_minor(1250, "CNY")`` is 12.50 CNY)."""
        if isinstance(minor, bool) or not isinstance(minor, (int, np.integer)):
            raise DataError(f"money: minor units must be an int, got {minor!r}")
        return _make(int(minor), currency(currency_))

    @classmethod
    def of(
        cls,
        amount: str | int | Decimal,
        currency_: str | Currency = "CNY",
        *,
        rounding: Rounding | str | None = None,
    ) -> Money:
        """Same as ``Money(amount, currency)``: an amount in major units."""
        return cls(amount, currency_, rounding=rounding)

    @classmethod
    def zero(cls, currency_: str | Currency = "CNY") -> Money:
        """Zero of a currency."""
        return _make(0, currency(currency_))

    # -- reading -------------------------------------------------------------------------------------
    @property
    def amount(self) -> Decimal:
        """The amount in major units as an exact ``Decimal`` with the currency's decimals."""
        return Decimal(self.minor).scaleb(-self.currency.exponent)

    def format(self, *, symbol: bool = True) -> str:
        """``¥12.50`` (or ``12.50`` with ``symbol=False``); codes without a symbol print ``12.50 XTS``."""
        text = self.currency.format_minor(self.minor)
        if not symbol:
            return text
        mark = _SYMBOLS.get(self.currency.code)
        if mark is None:
            return f"{text} {self.currency.code}"
        return f"-{mark}{text[1:]}" if text.startswith("-") else f"{mark}{text}"

    def __str__(self) -> str:
        return f"{self.currency.format_minor(self.minor)} {self.currency.code}"

    def __repr__(self) -> str:
        return f"Money({self.currency.format_minor(self.minor)!r}, {self.currency.code!r})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Money is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_make, (self.minor, self.currency))

    # -- arithmetic ----------------------------------------------------------------------------------
    def _same(self, other: Money, op: str) -> None:
        if self.currency != other.currency:
            raise DataError(f"money: cannot {op} {self} and {other}: currencies differ")

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other, "add")
        return _make(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other, "subtract")
        return _make(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return _make(-self.minor, self.currency)

    def __abs__(self) -> Money:
        return _make(abs(self.minor), self.currency)

    def __mul__(self, factor: int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int):
            return NotImplemented  # rates need an explicit rounding: times()/times_ratio()
        return _make(self.minor * factor, self.currency)

    __rmul__ = __mul__

    def __bool__(self) -> bool:
        return self.minor != 0

    def times_ratio(self, numerator: int, denominator: int, *, rounding: Rounding | str) -> Money:
        """``self × numerator / denominator``, rounded once to the minor unit."""
        _require_int(numerator, "money: ratio numerator")
        _require_int(denominator, "money: ratio denominator")
        return _make(round_ratio(self.minor * numerator, denominator, rounding), self.currency)

    def times(self, rate: str | int | Decimal, *, rounding: Rounding | str) -> Money:
        """``self × rate`` for a decimal rate such as ``"0.85"`` (八五折), rounded once."""
        if isinstance(rate, (float, bool)):
            raise DataError(f"money: pass rates as str, int or Decimal, not {type(rate).__name__} ({rate!r})")
        value = _parse_amount(rate) if isinstance(rate, str) else Decimal(rate)
        numerator, denominator = value.as_integer_ratio()
        return self.times_ratio(numerator, denominator, rounding=rounding)

    def allocate(self, weights: Sequence[int]) -> list[Money]:
        """Split across ``weights`` with [`allocate`][]; the parts sum to ``self`` exactly."""
        return [_make(part, self.currency) for part in allocate(self.minor, weights)]

    def min(self, other: Money) -> Money:
        """The smaller of two amounts of one currency."""
        self._same(other, "compare")
        return self if self.minor <= other.minor else other

    def max(self, other: Money) -> Money:
        """The larger of two amounts of one currency."""
        self._same(other, "compare")
        return self if self.minor >= other.minor else other

    # -- comparison ----------------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.minor == other.minor and self.currency == other.currency

    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other, "compare")
        return self.minor < other.minor

    def __hash__(self) -> int:
        return hash((self.minor, self.currency))

    # -- pydantic ------------------------------------------------------------------------------------
    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _money_from_document,
            serialization=core_schema.plain_serializer_function_ser_schema(_money_to_document),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "object",
            "title": "Money",
            "properties": {
                "amount": {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "examples": ["12.50"]},
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "examples": ["CNY"]},
            },
            "required": ["amount", "currency"],
            "additionalProperties": False,
        }


def _money_to_document(value: Money) -> dict[str, str]:
    return {"amount": value.currency.format_minor(value.minor), "currency": value.currency.code}


def _money_from_document(value: Any) -> Money:
    # Errors raised here are ValueErrors (DataError), so pydantic reports them with the field's path.
    if isinstance(value, Money):
        return value
    if isinstance(value, str):
        amount, _, code = value.strip().partition(" ")
        return Money(amount, code.strip() or "CNY")
    if isinstance(value, dict):
        unknown = set(value) - {"amount", "currency"}
        if unknown or "amount" not in value or "currency" not in value:
            raise DataError(f"money: expected {{'amount': '12.50', 'currency': 'CNY'}}, got {value!r}")
        amount = value["amount"]
        if not isinstance(amount, (str, int, Decimal)) or isinstance(amount, bool):
            raise DataError(f"money: amount must be a decimal string, got {amount!r}")
        return Money(amount, value["currency"])
    raise DataError(f"money: expected Money, '12.50 CNY' or {{'amount', 'currency'}}, got {value!r}")


def _make(minor: int, cur: Currency) -> Money:
    # Arithmetic results skip parsing: their minor units are already exact ints.
    money = object.__new__(Money)
    object.__setattr__(money, "minor", minor)
    object.__setattr__(money, "currency", cur)
    return money


def _to_minor(amount: Any, cur: Currency, rounding: Rounding | str | None) -> int:
    """Major-unit ``amount`` in minor units; extra decimals raise unless ``rounding`` says how."""
    if isinstance(amount, (float, bool)) or not isinstance(amount, (str, int, Decimal)):
        raise DataError(
            f"money: pass amounts as str, int or Decimal, not {type(amount).__name__} ({amount!r})"
        )
    value = _parse_amount(amount) if isinstance(amount, str) else Decimal(amount)
    if not value.is_finite():
        raise DataError(f"money: amount must be finite, got {amount!r}")
    numerator, denominator = value.as_integer_ratio()
    scaled = numerator * cur.scale
    if scaled % denominator == 0:
        return scaled // denominator
    if rounding is None:
        raise DataError(
            f"money: {amount!s} has more than {cur.exponent} decimals for {cur.code};"
            " pass rounding= to round it"
        )
    return round_ratio(scaled, denominator, rounding)

"""A deterministic synthetic shop at order-line level: customers, orders, lines, promotions, refunds.

[`synthetic_shop`][] tells the same story as [`user_ops.datasets._synthetic`][] (profiles, growth,
prospects, "buy till you die" frequency, churn after a random lifetime, a Beijing-clock daily rhythm)
and adds what order lines need: a catalogue of SKUs with category price ranges, quantities, promotion
discounts, seasonality and refunds.

Seasonality is a *time change*. Every customer's timeline (registration, first order, lifetime,
repeat orders) is drawn in "operational time" ``tau``, in which the shop is equally busy every day, and
mapped back to calendar time through the cumulative daily intensity ``C(t)``: a day twice as busy as
average gets twice as much ``tau``, so twice as many registrations and orders. The map is monotone,
so every ordering (registration before the first order before the repeats, all before ``as_of``) is
kept. Within a day the map is linear, and the existing hourly profile gives the time of day.

Everything is vectorized over customers, orders and lines; the order of the random draws is part of
the data (do not reorder them: the same seed must give the same shop, bit for bit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from user_ops._table import Table
from user_ops._time import require_aware
from user_ops.datasets._synthetic import (
    _AS_OF_YEARS,
    _CHANNEL_WEIGHTS,
    _DAY_S,
    _GENDERS,
    _HISTORY_DAYS,
    _TAG_COMBINATIONS,
    _TIER_THRESHOLDS_YUAN,
    _US_PER_S,
    CHANNELS,
    CITIES,
    DEFAULT_AS_OF,
    MEMBER_TIERS,
    FloatArray,
    IntArray,
    _Clock,
    _draw_frequency,
    _draw_order_times,
    _draw_profiles,
    _draw_timeline,
    _group_min,
    _group_starts,
    _lookup,
    _masked,
    _tag_rate_boost,
    _weighted_codes,
)
from user_ops.exceptions import DataError

__all__ = ["SHOP_CATEGORIES", "Shop", "synthetic_shop"]

MAX_SHOP_CUSTOMERS = 1_000_000
"""Largest ``n_customers``: about 10 million lines, a few GiB of memory while generating."""

# -- catalogue --------------------------------------------------------------------------------------
# (category, SKU code prefix, number of SKUs, lowest and highest list price in yuan, mean extra units
# per line beyond the first, percent of the shop-wide mix of non-premium lines). "premium" is the
# shop's top-priced line: it is bought by personal propensity, not from the shop-wide mix.
_CATALOGUE_SPEC: tuple[tuple[str, str, int, float, float, float, int], ...] = (
    ("fresh", "FR", 40, 4.9, 89.0, 0.8, 22),
    ("snacks", "SN", 36, 3.5, 69.0, 0.7, 20),
    ("drinks", "DR", 26, 2.5, 59.0, 0.9, 16),
    ("household", "HH", 26, 6.9, 199.0, 0.2, 13),
    ("personal_care", "PC", 22, 9.9, 159.0, 0.2, 11),
    ("beauty", "BE", 20, 39.0, 499.0, 0.05, 8),
    ("baby", "BB", 14, 19.9, 399.0, 0.15, 10),
    ("premium", "PR", 16, 199.0, 1999.0, 0.0, 0),
)
SHOP_CATEGORIES: tuple[str, ...] = tuple(spec[0] for spec in _CATALOGUE_SPEC)
"""The catalogue's 8 categories (200 SKUs); ``"premium"``, the top-priced line, comes last."""
_PREMIUM = SHOP_CATEGORIES.index("premium")
_REGULAR_SLOTS = np.repeat(np.arange(len(_CATALOGUE_SPEC)), [spec[6] for spec in _CATALOGUE_SPEC])
_EXTRA_UNITS = np.array([spec[5] for spec in _CATALOGUE_SPEC])
_CATALOGUE_SEED = 20_240_618  # the catalogue is the same shop's shelf for every seed
_SKU_POPULARITY_EXPONENT = 0.9  # Zipf-like: a few best sellers per category

# -- behaviour --------------------------------------------------------------------------------------
_OWN_CHANNEL_SHARE = 0.65  # orders placed in the channel the customer signed up in
_FAVOURITE_SHARE = 0.35  # non-premium lines from the customer's favourite category
_SPEND_SIGMA = 0.5  # lognormal spread of a customer's spending level (mean 1)
_MAX_LINES = 40
_DISCOUNT_RATES = np.array([0.05, 0.1, 0.15, 0.2, 0.3, 0.5])
# Percent of promotion lines at each rate, as a 100-slot table (integers() is fast for millions).
_DISCOUNT_SLOTS = np.repeat(np.arange(6), [10, 30, 20, 25, 10, 5])
_MAX_PROMO_PROBABILITY = 0.9
_REFUND_SHARE = 0.015  # of all orders; promotion lines are final sale (特价商品不退不换)
_REFUND_MIN_DELAY_S = 3600
_REFUND_MEAN_DELAY_S = 4.0 * _DAY_S

# -- calendar ---------------------------------------------------------------------------------------
_MARGIN_DAYS = 60  # calendar days beyond the 3-year history, for registrations drawn at its edge
_WEEKDAY_FACTOR = np.array([0.92, 0.90, 0.92, 0.95, 1.05, 1.30, 1.25])  # Monday .. Sunday
# (first month, first day, last month, last day, order factor, promotion factor), inclusive ranges.
_EVENTS: tuple[tuple[int, int, int, int, float, float], ...] = (
    (6, 1, 6, 17, 1.3, 2.0),  # 6.18 run-up
    (6, 18, 6, 18, 3.0, 2.5),  # 6.18 (JD anniversary sale)
    (10, 31, 11, 10, 1.4, 2.5),  # 11.11 pre-sale
    (11, 11, 11, 11, 5.0, 3.0),  # 11.11 (Singles' Day)
    (11, 12, 11, 12, 1.5, 1.5),
    (12, 12, 12, 12, 2.0, 2.0),  # 12.12
)
_NEW_YEAR_SHOPPING = (-20, -8, 1.3, 1.5)  # 年货节: days from Chinese New Year, order and promo factors
_NEW_YEAR_DIP = (-7, 7, 0.45)  # couriers and shops rest around Chinese New Year
# Chinese New Year is the first new moon on or after 21 January, Beijing date. The mean lunar month
# from the new moon of 2000-01-06 18:14 UTC gets every year 2015-2030 right to within a day.
_NEW_MOON_EPOCH_DAYS = 10_962 + (18 * 60 + 14) / 1440
_SYNODIC_MONTH_DAYS = 29.530588853
_BEIJING_DAY_SHIFT = 8 / 24


@dataclass(frozen=True, repr=False)
class Shop:
    """A synthetic shop: its customers, its order lines and the instant it is described at.

    Attributes
    ----------
    customers:
        One row per customer: ``customer_id`` (1 .. n), ``registered_at``, ``city``, ``gender``,
        ``age``, ``channel``, ``member_tier``, ``tags``.
    lines:
        One row per order line, in time order, plus refund rows (negative ``quantity`` and
        ``amount``): ``customer_id``, ``order_id``, ``line_no``, ``ordered_at``, ``sku``,
        ``category``, ``unit_price``, ``quantity``, ``amount``, ``discount``, ``is_promo``,
        ``channel``.
    as_of:
        The aware instant the data describes; every registration, order and refund is before it.

    Examples
    --------
    >>> shop = synthetic_shop(100, seed=1)
    >>> shop
    Shop(100 customers, 386 orders, 1043 lines, 7 refunds, as_of=2024-06-30T00:00:00+08:00)
    >>> shop.customers.columns[:3], shop.lines.columns[:4]
    (('customer_id', 'registered_at', 'city'), ('customer_id', 'order_id', 'line_no', 'ordered_at'))
    """

    customers: Table
    lines: Table
    as_of: datetime

    def customer_metrics(self) -> Table:
        """One row per customer as of ``as_of``: the order lines' metrics plus the customer's city.

        ``Transactions(lines)`` → [`customer_metrics`][user_ops.metrics.customer_metrics] (every
        customer, buyers or not), with ``city`` from [`customers`][user_ops.datasets.Shop]: the table
        the demo, the docs and the examples start from.

        Examples
        --------
        >>> metrics = synthetic_shop(200, seed=1).customer_metrics()
        >>> len(metrics), "recency_days" in metrics and "city" in metrics
        (200, True)
        """
        from user_ops.metrics import Transactions, customer_metrics  # metrics imports nothing of ours

        metrics = customer_metrics(Transactions(self.lines), as_of=self.as_of, customers=self.customers)
        ids = self.customers["customer_id"]
        order = np.argsort(ids, kind="stable")
        rows = order[np.searchsorted(ids, metrics["customer_id"], sorter=order)]
        return metrics.with_columns({"city": self.customers["city"][rows]})

    def __repr__(self) -> str:
        refund = self.lines["amount"] < 0
        orders = int(self.lines["order_id"].max()) if len(self.lines) else 0  # ids are 1 .. orders
        return (
            f"Shop({len(self.customers)} customers, {orders} orders, {len(self.lines)} lines, "
            f"{int(refund.sum())} refunds, as_of={self.as_of.isoformat()})"
        )


def synthetic_shop(
    n_customers: int = 2000,
    *,
    seed: int = 7,
    as_of: datetime | None = None,
    lines_per_order: float = 2.8,
) -> Shop:
    """A deterministic synthetic shop: customers, and their orders as order lines, with refunds.

    The same arguments give the same shop, bit for bit (numpy ``default_rng(seed)``; nothing depends
    on the wall clock); another seed gives another shop. Customers register over the three years
    before ``as_of`` (more of them recently), about 15 % never buy, buyers churn after a random
    lifetime and their frequency is heavy-tailed (about half buy once). Orders follow the week (busier
    weekends), the year (6.18, 11.11, 12.12 peaks, a Chinese New Year dip) and the Beijing clock;
    promotion lines are more likely in sales periods; about 1.5 % of orders get a refund row.
    See ``docs/datasets.md`` for the whole story.

    Parameters
    ----------
    n_customers:
        Number of customers, 1 .. 1,000,000 (about 10 lines per customer on average, so up to
        about 10 million lines).
    seed:
        Seed of the random generator (a non-negative integer).
    as_of:
        Timezone-aware instant the data describes; every registration, order and refund is strictly
        before it. Default [`DEFAULT_AS_OF`][] (2024-06-30 00:00 +08:00).
    lines_per_order:
        Mean number of lines per order, 1 .. 10 (each order has at least one).

    Returns
    -------
    Shop
        ``customers`` (one row per customer), ``lines`` (one row per order line, and refund rows
        that carry the refunded line's ``order_id``, ``line_no``, ``sku`` and ``unit_price`` with a
        negative ``quantity`` and ``amount``, at a later ``ordered_at``) and ``as_of``.

    Raises
    ------
    DataError
        For ``n_customers`` that is not an integer in 1 .. 1,000,000, a ``seed`` that is not a
        non-negative integer, an ``as_of`` that is naive, not a datetime or outside the years 10 to
        9998, or a ``lines_per_order`` that is not a number in 1 .. 10.

    Examples
    --------
    >>> shop = synthetic_shop(500, seed=3)
    >>> len(shop.customers), shop.lines.columns
    (500, ('customer_id', 'order_id', 'line_no', 'ordered_at', 'sku', 'category', 'unit_price', \
'quantity', 'amount', 'discount', 'is_promo', 'channel'))
    >>> lines = shop.lines
    >>> cents = np.rint(lines["unit_price"] * 100) * lines["quantity"] - np.rint(lines["discount"] * 100)
    >>> bool((np.rint(lines["amount"] * 100) == cents).all())
    True
    >>> bool((lines["is_promo"] == (lines["discount"] > 0)).all())
    True
    >>> synthetic_shop(500, seed=3).lines.equals(lines)
    True
    """
    n, instant, lines_mean = _validate_shop(n_customers, seed, as_of, lines_per_order)
    return _generate_shop(n, int(seed), instant, lines_mean)


# -- validation -------------------------------------------------------------------------------------
def _validate_shop(n: Any, seed: Any, as_of: Any, lines_per_order: Any) -> tuple[int, datetime, float]:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise DataError(f"n_customers must be a positive integer, got {type(n).__name__}: {n!r}")
    if not 1 <= n <= MAX_SHOP_CUSTOMERS:
        raise DataError(f"n_customers must be between 1 and {MAX_SHOP_CUSTOMERS:,}, got {n}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(lines_per_order, bool) or not isinstance(
        lines_per_order, (int, float, np.integer, np.floating)
    ):
        raise DataError(f"lines_per_order must be a number from 1 to 10, got {lines_per_order!r}")
    lines_mean = float(lines_per_order) if abs(lines_per_order) <= 10 else math.inf  # no float of 10**400
    if not 1.0 <= lines_mean <= 10.0:  # also rejects NaN
        raise DataError(f"lines_per_order must be a number from 1 to 10, got {lines_per_order!r}")
    if as_of is None:
        return int(n), DEFAULT_AS_OF, lines_mean
    instant = require_aware(as_of, name="as_of")
    if not _AS_OF_YEARS[0] <= instant.year <= _AS_OF_YEARS[1]:
        raise DataError(
            f"as_of must be in the years {_AS_OF_YEARS[0]} to {_AS_OF_YEARS[1]}, got {instant.isoformat()}"
        )
    return int(n), instant, lines_mean


# -- calendar ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Calendar:
    """Daily order intensity and promotion factor on the business calendar, and the time change.

    Day ``i`` covers uniform-frame seconds ``[knots[i], knots[i + 1])`` (one local calendar day; the
    last one is ``as_of``'s day). ``tau[i]`` is the operational time at ``knots[i]``.
    """

    first_day: int  # uniform-frame day number (0 = as_of's local day) of day 0 of the arrays
    knots: FloatArray
    tau: FloatArray
    promo: FloatArray

    @classmethod
    def build(cls, clock: _Clock) -> _Calendar:
        first_day = -(_HISTORY_DAYS + _MARGIN_DAYS)
        relative = np.arange(first_day, 1, dtype=np.int64)
        epoch_day = relative + clock.origin_s // _DAY_S  # local calendar day since 1970-01-01
        intensity, promo = _seasonality(epoch_day)
        intensity /= intensity[-(_HISTORY_DAYS + 1) :].mean()  # on average one tau second per second
        knots = np.arange(first_day, 2, dtype=np.float64) * _DAY_S
        tau = np.concatenate(([0.0], np.cumsum(intensity * _DAY_S)))
        return cls(first_day=first_day, knots=knots, tau=tau, promo=promo)

    def to_tau(self, uniform: float) -> float:
        return float(np.interp(uniform, self.knots, self.tau))

    def from_tau(self, tau: FloatArray) -> FloatArray:
        uniform: FloatArray = np.interp(tau, self.tau, self.knots)
        return uniform

    def promo_factor(self, uniform: FloatArray) -> FloatArray:
        day = np.floor(uniform / _DAY_S).astype(np.int64) - self.first_day
        factor: FloatArray = self.promo[np.clip(day, 0, len(self.promo) - 1)]
        return factor


def _seasonality(epoch_day: IntArray) -> tuple[FloatArray, FloatArray]:
    """Order intensity (before normalization) and promotion factor of each local calendar day."""
    dates = epoch_day.astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    month = months.astype(np.int64) % 12 + 1
    day_of_month = (dates - months).astype(np.int64) + 1
    intensity = _WEEKDAY_FACTOR[(epoch_day + 3) % 7].copy()  # 1970-01-01 was a Thursday
    promo = np.ones(len(epoch_day))
    key = month * 100 + day_of_month
    for first_month, first_dom, last_month, last_dom, order_factor, promo_factor in _EVENTS:
        inside = (key >= first_month * 100 + first_dom) & (key <= last_month * 100 + last_dom)
        intensity[inside] *= order_factor
        promo[inside] *= promo_factor
    from_new_year = epoch_day - _chinese_new_year(dates.astype("datetime64[Y]").astype(np.int64) + 1970)
    start, end, order_factor, promo_factor = _NEW_YEAR_SHOPPING
    shopping = (from_new_year >= start) & (from_new_year <= end)
    intensity[shopping] *= order_factor
    promo[shopping] *= promo_factor
    start, end, dip = _NEW_YEAR_DIP
    intensity[(from_new_year >= start) & (from_new_year <= end)] *= dip
    return intensity, promo


def _chinese_new_year(year: IntArray) -> IntArray:
    """Day number (since 1970-01-01) of Chinese New Year in each year, to within a day."""
    january_21 = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64) + 20
    moons = np.ceil((january_21 - _BEIJING_DAY_SHIFT - _NEW_MOON_EPOCH_DAYS) / _SYNODIC_MONTH_DAYS)
    day: IntArray = np.floor(_NEW_MOON_EPOCH_DAYS + moons * _SYNODIC_MONTH_DAYS + _BEIJING_DAY_SHIFT).astype(
        np.int64
    )
    return day


# -- generation -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Catalogue:
    category: IntArray  # per SKU
    price_fen: IntArray  # per SKU
    code: tuple[str, ...]  # per SKU
    cumulative: FloatArray  # category + cumulative popularity within it, for searchsorted
    last: IntArray  # per category: index of its last SKU

    @classmethod
    def build(cls) -> _Catalogue:
        rng = np.random.default_rng(_CATALOGUE_SEED)
        categories: list[IntArray] = []
        prices: list[IntArray] = []
        codes: list[str] = []
        cumulative: list[FloatArray] = []
        for index, (_, prefix, count, low, high, _extra, _weight) in enumerate(_CATALOGUE_SPEC):
            # Log-uniform list prices with shop-style endings: 12.90 below 100 yuan, 1299.00 above.
            yuan = np.exp(rng.uniform(math.log(low), math.log(high), count))
            fen = np.where(yuan < 100, np.ceil(yuan) * 100 - 10, np.ceil(yuan / 10) * 1000 - 100)
            fen = np.maximum(fen, np.rint(100 * low)).astype(np.int64)
            popularity = 1.0 / np.arange(1, count + 1) ** _SKU_POPULARITY_EXPONENT
            categories.append(np.full(count, index, dtype=np.int64))
            prices.append(fen)
            codes.extend(f"{prefix}{number:03d}" for number in range(1, count + 1))
            cumulative.append(index + np.cumsum(popularity) / popularity.sum())
        cumulative_all = np.concatenate(cumulative)
        ends = np.cumsum([spec[2] for spec in _CATALOGUE_SPEC]).astype(np.int64) - 1
        cumulative_all[ends] = np.arange(1, len(_CATALOGUE_SPEC) + 1)  # exact category ends
        return cls(np.concatenate(categories), np.concatenate(prices), tuple(codes), cumulative_all, ends)

    def pick(self, category: IntArray, u: FloatArray) -> IntArray:
        """SKU index of each line: popularity-weighted within the line's category."""
        sku = np.searchsorted(self.cumulative, category + u, side="right").astype(np.int64)
        # category + u can round up to category + 1 for u within 2**-53 of 1: stay in the category.
        last: IntArray = np.minimum(sku, self.last[category])
        return last


_CATALOGUE = _Catalogue.build()


@dataclass(frozen=True)
class _Orders:
    customer: IntArray
    us: IntArray
    channel: IntArray
    promo_factor: FloatArray


@dataclass(frozen=True)
class _Lines:
    order: IntArray
    line_no: IntArray
    sku: IntArray
    quantity: IntArray
    price_fen: IntArray
    discount_fen: IntArray


def _generate_shop(n: int, seed: int, as_of: datetime, lines_mean: float) -> Shop:
    """Draw a whole shop. The order of the draws below is part of the data: do not reorder."""
    rng = np.random.default_rng(seed)
    clock = _Clock.around(as_of)
    calendar = _Calendar.build(clock)
    profile = _draw_profiles(rng, n)
    registered_tau, first_tau, span_tau, buyer = _draw_timeline(rng, n, calendar.to_tau(clock.bound))
    frequency = _draw_frequency(rng, span_tau, _tag_rate_boost(profile["tag_code"]), buyer)
    order_customer, order_tau = _draw_order_times(rng, frequency, first_tau, span_tau)
    order_uniform = calendar.from_tau(order_tau)
    del order_tau
    order_us = clock.to_utc_us(order_uniform)
    registered_us = clock.to_utc_us(calendar.from_tau(registered_tau))
    has_orders = frequency > 0  # the time map is monotone up to float rounding: make it exact
    registered_us[has_orders] = np.minimum(registered_us[has_orders], _group_min(order_us, frequency))
    # From here on orders are in time order (ties in customer order): order i has order_id i + 1.
    by_time = np.argsort(order_us, kind="stable")
    customer = order_customer[by_time]
    orders = _Orders(
        customer=customer,
        us=order_us[by_time],
        channel=_draw_order_channels(rng, profile["channel"], customer),
        promo_factor=calendar.promo_factor(order_uniform[by_time]),
    )
    del order_uniform, order_us, order_customer, by_time
    lines = _draw_lines(rng, n, orders, lines_mean)
    refunds = _draw_refunds(rng, orders, lines, _as_of_us(clock))
    lines_table, net_fen = _lines_table(n, orders, lines, refunds)
    customers = _customers_table(profile, registered_us, net_fen)
    return Shop(customers=customers, lines=lines_table, as_of=as_of)


def _as_of_us(clock: _Clock) -> int:
    """as_of in UTC microseconds, rounded up to whole seconds (orders are whole seconds before it)."""
    return (math.ceil(clock.as_of_rel) + clock.origin_s - clock.offset_s) * _US_PER_S


def _draw_order_channels(rng: np.random.Generator, own: IntArray, customer: IntArray) -> IntArray:
    other = _weighted_codes(rng, _CHANNEL_WEIGHTS, len(customer))
    channel: IntArray = np.where(rng.random(len(customer)) < _OWN_CHANNEL_SHARE, own[customer], other)
    return channel


def _draw_lines(rng: np.random.Generator, n: int, orders: _Orders, lines_mean: float) -> _Lines:
    """Lines of every order, from per-customer spending level and category and promotion tastes."""
    level = rng.lognormal(-(_SPEND_SIGMA**2) / 2, _SPEND_SIGMA, n)  # mean 1
    premium_share = np.minimum(rng.beta(0.5, 14.0, n) * level, 0.5)
    promo_share = rng.beta(1.2, 5.0, n)  # 活动喜好型 customers have a high one
    favourite = _REGULAR_SLOTS[rng.integers(0, len(_REGULAR_SLOTS), n)]
    count = 1 + rng.poisson((lines_mean - 1.0) * level[orders.customer])
    count = np.minimum(count, _MAX_LINES).astype(np.int64)
    order = np.repeat(np.arange(len(count), dtype=np.int64), count)
    line_no = np.arange(len(order), dtype=np.int64) - _group_starts(count)[order] + 1
    customer = orders.customer[order]
    k = len(order)
    regular = np.where(
        rng.random(k) < _FAVOURITE_SHARE,
        favourite[customer],
        _REGULAR_SLOTS[rng.integers(0, len(_REGULAR_SLOTS), k)],
    )
    category = np.where(rng.random(k) < premium_share[customer], _PREMIUM, regular)
    sku = _CATALOGUE.pick(category, rng.random(k))
    del regular, category
    quantity = 1 + rng.poisson(_EXTRA_UNITS[_CATALOGUE.category[sku]])
    price_fen = _CATALOGUE.price_fen[sku]
    p_promo = np.minimum(promo_share[customer] * orders.promo_factor[order], _MAX_PROMO_PROBABILITY)
    promo = rng.random(k) < p_promo
    del p_promo, customer
    rate = _DISCOUNT_RATES[_DISCOUNT_SLOTS[rng.integers(0, len(_DISCOUNT_SLOTS), k)]]
    gross = price_fen * quantity
    discount_fen = np.where(promo, np.maximum(np.rint(gross * rate), 1), 0).astype(np.int64)
    return _Lines(order, line_no, sku, quantity.astype(np.int64), price_fen, discount_fen)


@dataclass(frozen=True)
class _Refunds:
    line: IntArray  # the refunded line
    quantity: IntArray  # units returned (positive)
    us: IntArray


def _draw_refunds(rng: np.random.Generator, orders: _Orders, lines: _Lines, as_of_us: int) -> _Refunds:
    """About 1.5 % of orders return some units of one full-price line, an hour to weeks later."""
    n_orders = len(orders.us)
    full_price = np.flatnonzero(lines.discount_fen == 0)  # grouped by order, like the lines
    per_order = np.bincount(lines.order[full_price], minlength=n_orders)
    room_s = (as_of_us - orders.us) // _US_PER_S
    eligible = (per_order > 0) & (room_s > 2 * _REFUND_MIN_DELAY_S)
    share = min(1.0, _REFUND_SHARE * n_orders / max(int(eligible.sum()), 1))
    refunded = np.flatnonzero(eligible & (rng.random(n_orders) < share))
    start = _group_starts(per_order)[refunded]
    pick = np.floor(rng.random(len(refunded)) * per_order[refunded]).astype(np.int64)
    line = full_price[start + pick]
    units = lines.quantity[line]
    returned = 1 + np.floor(rng.random(len(line)) * units).astype(np.int64)
    room = room_s[refunded]
    delay = _REFUND_MIN_DELAY_S + rng.exponential(_REFUND_MEAN_DELAY_S, len(line))
    late = delay >= room  # too close to as_of: the refund comes sooner, still before as_of
    delay = np.where(late, _REFUND_MIN_DELAY_S + rng.random(len(line)) * (room - _REFUND_MIN_DELAY_S), delay)
    delay_s = np.minimum(np.floor(delay).astype(np.int64), room - 1)
    return _Refunds(line=line, quantity=returned, us=orders.us[refunded] + delay_s * _US_PER_S)


# -- tables -----------------------------------------------------------------------------------------
def _lines_table(n: int, orders: _Orders, lines: _Lines, refunds: _Refunds) -> tuple[Table, IntArray]:
    """Lines and refund rows in time order (then order_id, then line_no), and each customer's net fen.

    The lines already are in that order (orders are in time order); each refund row goes before the
    first order placed at or after its instant.
    """
    k, r = len(lines.order), len(refunds.line)
    rank = np.lexsort((lines.order[refunds.line], refunds.us))
    refund_line, refund_us, returned = refunds.line[rank], refunds.us[rank], refunds.quantity[rank]
    line_count = np.bincount(lines.order, minlength=len(orders.us)).astype(np.int64)
    line_start = np.concatenate((_group_starts(line_count), [k])).astype(np.int64)
    following = np.searchsorted(orders.us, refund_us, side="left")  # first order at or after the refund
    refund_rows = line_start[following] + np.arange(r, dtype=np.int64)
    is_line = np.ones(k + r, dtype=np.bool_)
    is_line[refund_rows] = False
    line_rows = np.flatnonzero(is_line)

    def merged(line_values: IntArray, refund_values: IntArray) -> IntArray:
        out = np.empty(k + r, dtype=np.int64)
        out[line_rows] = line_values
        out[refund_rows] = refund_values
        return out

    order = merged(lines.order, lines.order[refund_line])
    sku = merged(lines.sku, lines.sku[refund_line])
    price = merged(lines.price_fen, lines.price_fen[refund_line])
    quantity = merged(lines.quantity, -returned)
    discount = merged(lines.discount_fen, np.zeros(r, dtype=np.int64))
    at = merged(orders.us[lines.order], refund_us)
    line_no = merged(lines.line_no, lines.line_no[refund_line])
    amount = price * quantity - discount
    customer = orders.customer[order]
    net_fen = np.rint(np.bincount(customer, weights=amount, minlength=n)).astype(np.int64)
    table = Table._trusted(
        {
            "customer_id": customer + 1,
            "order_id": order + 1,
            "line_no": line_no,
            "ordered_at": at.view("datetime64[us]"),
            "sku": _lookup(_CATALOGUE.code, sku),
            "category": _lookup(SHOP_CATEGORIES, _CATALOGUE.category[sku]),
            "unit_price": price / 100.0,
            "quantity": quantity,
            "amount": amount / 100.0,
            "discount": discount / 100.0,
            "is_promo": discount > 0,
            "channel": _lookup(CHANNELS, orders.channel[order]),
        }
    )
    return table, net_fen


def _customers_table(profile: dict[str, Any], registered_us: IntArray, net_fen: IntArray) -> Table:
    thresholds = np.asarray(_TIER_THRESHOLDS_YUAN, dtype=np.int64) * 100
    tier = np.searchsorted(thresholds, net_fen, side="right")
    return Table._trusted(
        {
            "customer_id": np.arange(1, len(registered_us) + 1, dtype=np.int64),
            "registered_at": registered_us.view("datetime64[us]"),
            "city": _lookup(CITIES, profile["city"]),
            "gender": _GENDERS[profile["gender"]],
            "age": _masked(profile["age"], profile["age_null"]),
            "channel": _lookup(CHANNELS, profile["channel"]),
            "member_tier": _lookup(MEMBER_TIERS, tier),
            "tags": _lookup(_TAG_COMBINATIONS, profile["tag_code"]),
        }
    )

"""Deterministic synthetic shop data, and a reader for the real CDNOW purchase sample.

How the synthetic shop is made (one story, shared by both public generators):

1. Each customer gets a profile (city, gender, age, channel, tags) and registers within the
   ~3 years before ``as_of``, more of them recently (the shop is growing).
2. About 15 % never buy (prospects). A buyer's first order follows registration after a short lag;
   the customer then stays active for an exponentially distributed lifetime and places a
   gamma-Poisson ("buy till you die") number of repeat orders uniformly over it, so frequency is
   heavy-tailed and about half of the buyers buy exactly once.
3. Each order gets an amount (customer's typical basket times noise, in whole fen), a promotion flag
   and a category, from per-customer propensities.
4. [`synthetic_customers`][] aggregates those orders into per-customer metrics, so every
   consistency invariant (nested windows, ``max <= monetary``, ...) holds by construction, and
   [`synthetic_transactions`][] returns the same orders as a log.

Times of day follow a realistic hourly profile on the Asia/Shanghai wall clock (quiet at night, busy
at lunch and in the evening). Calendar quantities (``recency_days``, the 30/90/365-day windows) are
counted in the business time zone ``Asia/Shanghai``; windows are half-open ``[as_of - 30d, as_of)``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from user_ops._table import Table
from user_ops._time import as_utc_us, get_tz, local_days, parse_duration, require_aware
from user_ops.exceptions import DataError, value_repr

__all__ = [
    "BUSINESS_TZ",
    "CATEGORIES",
    "CHANNELS",
    "CITIES",
    "DEFAULT_AS_OF",
    "MEMBER_TIERS",
    "TAGS",
    "load_cdnow",
    "synthetic_customers",
    "synthetic_transactions",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

BUSINESS_TZ = "Asia/Shanghai"
"""Time zone whose calendar days count ``recency_days`` and the 30/90/365-day windows."""

DEFAULT_AS_OF = datetime(2024, 6, 30, tzinfo=timezone(timedelta(hours=8)))
"""The fixed instant the synthetic data is "as of" by default: 2024-06-30 00:00 in Beijing."""

MAX_CUSTOMERS = 10_000_000
"""Largest ``n`` accepted: about 40 million orders, several GiB of memory."""

CITIES: tuple[str, ...] = (
    "上海", "北京", "广州", "深圳", "杭州", "成都", "重庆", "武汉", "南京", "西安", "苏州", "长沙",
)  # fmt: skip
"""Cities of the synthetic customers (the ``city`` column), most frequent first."""
_CITY_WEIGHTS = (14, 13, 10, 10, 9, 9, 7, 7, 6, 5, 5, 5)

CHANNELS: tuple[str, ...] = ("wechat_mini", "app", "store", "community")
"""Registration channels (the ``channel`` column): WeChat mini program, app, store, community group."""
_CHANNEL_WEIGHTS = (45, 20, 25, 10)

TAGS: tuple[str, ...] = ("wechat_follower", "community_member", "newsletter")
"""Tags a synthetic customer may carry (the ``tags`` column holds a tuple of them)."""
# Probability of each tag given the registration channel (rows follow CHANNELS, columns TAGS):
# people who found the shop in WeChat mostly follow its account, community sign-ups are in a group.
_TAG_PROBABILITY = np.array(
    [
        [0.80, 0.15, 0.12],  # wechat_mini
        [0.35, 0.10, 0.35],  # app
        [0.40, 0.20, 0.15],  # store
        [0.70, 0.95, 0.10],  # community
    ]
)
# Engaged customers (followers, group members) buy more often: multipliers of the repeat rate.
_TAG_RATE_BOOST = (1.15, 1.4, 1.05)

MEMBER_TIERS: tuple[str, ...] = ("red", "silver", "gold", "black")
"""Membership tiers (the ``member_tier`` column), lowest first; reached by lifetime spend."""
# Lifetime spend (yuan) needed for each tier above red.
_TIER_THRESHOLDS_YUAN = (400, 1_500, 5_000)

CATEGORIES: tuple[str, ...] = ("fresh", "snacks", "drinks", "household", "beauty", "premium")
"""Order categories of [`synthetic_transactions`][] (``premium`` holds the shop's top-priced goods)."""
_REGULAR_CATEGORY_WEIGHTS = (25, 25, 20, 18, 12)  # percent, every category but "premium"
_REGULAR_CATEGORY_SLOTS = np.repeat(np.arange(len(_REGULAR_CATEGORY_WEIGHTS)), _REGULAR_CATEGORY_WEIGHTS)
_PREMIUM = CATEGORIES.index("premium")

_GENDERS = np.array(["f", "m", None], dtype=object)
_GENDER_WEIGHTS = (0.60, 0.32, 0.08)
_AGE_NULL_SHARE = 0.12
_PROSPECT_SHARE = 0.15

_HISTORY_DAYS = 3 * 365  # how far back registrations go
_AS_OF_YEARS = (10, 9998)  # Python's calendar ends at years 1 and 9999
_FIRST_ORDER_LAG_DAYS = 5.0  # mean days from registration to first order (首单成交周期)
_LIFETIME_DAYS = 420.0  # mean active days after the first order
_REPEAT_RATE_SHAPE = 0.45  # gamma shape of the yearly repeat rate: small = heavy-tailed frequency
_REPEAT_RATE_SCALE = 10.0  # gamma scale (orders per year)
_MAX_REPEATS = 400
_BASKET_MEDIAN_FEN = 11_000  # a typical customer's typical order: 110 yuan
_MIN_ORDER_FEN = 990
_PREMIUM_MARKUP = 2.6
_PROMO_DISCOUNT = 0.8

# Relative order volume per local hour 0..23: quiet at night, peaks at lunch and 20-22h.
_HOUR_WEIGHTS = np.array(
    [1.0, 0.6, 0.3, 0.2, 0.2, 0.3, 0.8, 1.8, 3.0, 3.6, 4.0, 4.4,
     5.0, 4.6, 4.2, 4.2, 4.4, 4.8, 5.4, 6.2, 7.0, 7.2, 6.0, 3.0]
)  # fmt: skip
_DAY_S = 86_400
_US_PER_S = 1_000_000
_US_PER_DAY = _DAY_S * _US_PER_S
# Piecewise-linear map of a uniform time of day onto the hourly profile (and back): the knots are
# the cumulative share of the day's orders (uniform side) and the hour boundaries (profile side).
_TOD_UNIFORM_KNOTS = _DAY_S * np.concatenate(([0.0], np.cumsum(_HOUR_WEIGHTS) / _HOUR_WEIGHTS.sum()))
_TOD_PROFILE_KNOTS = 3600.0 * np.arange(25, dtype=np.float64)


@dataclass(frozen=True)
class _Shop:
    """Raw draws of one synthetic shop: per-customer profile arrays and a flat order log.

    Orders are grouped by customer (customer 0's orders first), not sorted by time.
    """

    as_of: datetime
    registered_us: IntArray
    city: IntArray
    gender: IntArray
    age: IntArray
    age_null: BoolArray
    channel: IntArray
    tag_code: IntArray
    frequency: IntArray
    order_customer: IntArray
    order_us: IntArray
    order_fen: IntArray
    order_promo: BoolArray
    order_category: IntArray


# -- public API -------------------------------------------------------------------------------------
def synthetic_customers(n: int = 2000, *, seed: int = 7, as_of: datetime | None = None) -> Table:
    """Per-customer profile and purchase metrics of a synthetic shop.

    The same arguments give the same table, bit for bit (numpy ``default_rng(seed)``; nothing depends
    on the wall clock). The metrics are aggregated from the orders that
    [`synthetic_transactions`][] returns for the same arguments. Column meanings, types and units:
    ``docs/glossary.md``.

    Parameters
    ----------
    n:
        Number of customers, 1 .. 10,000,000.
    seed:
        Seed of the random generator (a non-negative integer).
    as_of:
        Timezone-aware instant the data describes; every order is strictly before it. Default
        [`DEFAULT_AS_OF`][] (2024-06-30 00:00 +08:00).

    Returns
    -------
    Table
        One row per customer, ``customer_id`` 1 .. n: ``registered_at``, ``first_order_at``,
        ``last_order_at``, ``recency_days``, ``frequency``, ``monetary``, ``avg_order_value``,
        ``max_order_value``, ``orders_30d/90d/365d``, ``spend_30d/90d/365d``, ``promo_spend_share``,
        ``top_price_share``, ``repurchase_cycle_days``, ``city``, ``gender``, ``age``, ``channel``,
        ``tags``, ``member_tier``. Prospects (customers who never bought, about 15 %) have
        ``frequency`` 0, spends 0.0 and null order dates, recency, averages and shares. The purchase
        metrics follow [`customer_metrics`][]' definitions: ``repurchase_cycle_days``
        is the median gap between consecutive purchase days, null with fewer than two.

    Raises
    ------
    DataError
        For ``n`` that is not a positive integer (or above the limit), a bad ``seed``, or an
        ``as_of`` that is naive, not a datetime, or outside the years 10 to 9998.

    Examples
    --------
    >>> t = synthetic_customers(1000)
    >>> len(t), t.columns[:4]
    (1000, ('customer_id', 'registered_at', 'first_order_at', 'last_order_at'))
    >>> t.kind("recency_days"), t.kind("tags"), t.kind("monetary")
    ('int', 'list[str]', 'float')
    >>> bool((t["orders_90d"] <= t["frequency"]).all())
    True
    >>> synthetic_customers(1000).equals(t)
    True
    """
    shop = _generate(n, seed, as_of)
    return _customers_table(shop)


def synthetic_transactions(n_customers: int = 2000, *, seed: int = 7, as_of: datetime | None = None) -> Table:
    """The order log behind [`synthetic_customers`][] (same arguments, same customers).

    Parameters
    ----------
    n_customers, seed, as_of:
        As for [`synthetic_customers`][].

    Returns
    -------
    Table
        One row per order, in time order: ``customer_id`` (int), ``order_id`` (int, 1.. in time
        order), ``ordered_at`` (datetime, UTC), ``amount`` (float, CNY yuan, whole fen),
        ``is_promo`` (bool), ``category`` (str, one of [`CATEGORIES`][]; ``"premium"`` is the shop's
        top-priced line that ``top_price_share`` measures).

    Examples
    --------
    >>> orders = synthetic_transactions(500)
    >>> orders.columns
    ('customer_id', 'order_id', 'ordered_at', 'amount', 'is_promo', 'category')
    >>> customers = synthetic_customers(500)
    >>> len(orders) == int(customers["frequency"].sum())
    True
    >>> bool((orders["ordered_at"][1:] >= orders["ordered_at"][:-1]).all())
    True
    """
    shop = _generate(n_customers, seed, as_of, name="n_customers")
    return _transactions_table(shop)


# -- generation -------------------------------------------------------------------------------------
def _validate(n: Any, seed: Any, as_of: Any, *, name: str) -> datetime:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise DataError(f"{name} must be a positive integer, got {type(n).__name__}: {value_repr(n)}")
    if not 1 <= n <= MAX_CUSTOMERS:
        raise DataError(f"{name} must be between 1 and {MAX_CUSTOMERS:,}, got {n}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}")
    if as_of is None:
        return DEFAULT_AS_OF
    instant = require_aware(as_of, name="as_of")
    if not _AS_OF_YEARS[0] <= instant.year <= _AS_OF_YEARS[1]:  # history and zone shifts must fit
        raise DataError(
            f"as_of must be in the years {_AS_OF_YEARS[0]} to {_AS_OF_YEARS[1]}, got {instant.isoformat()}"
        )
    return instant


def _generate(n: Any, seed: Any, as_of: Any, *, name: str = "n") -> _Shop:
    """Draw a whole shop. The order of the draws below is part of the data: do not reorder."""
    instant = _validate(n, seed, as_of, name=name)
    n = int(n)
    rng = np.random.default_rng(int(seed))
    clock = _Clock.around(instant)
    profile = _draw_profiles(rng, n)
    tag_boost = _tag_rate_boost(profile["tag_code"])
    registered, first, span, buyer = _draw_timeline(rng, n, clock.bound)
    frequency = _draw_frequency(rng, span, tag_boost, buyer)
    order_customer, order_time = _draw_order_times(rng, frequency, first, span)
    fen, promo, category = _draw_baskets(rng, n, order_customer)
    order_us = clock.to_utc_us(order_time)
    registered_us = clock.to_utc_us(registered)
    # The clock map is monotone up to float rounding; make "registered <= first order" exact anyway.
    first_us = _group_min(order_us, frequency)
    has_orders = frequency > 0
    registered_us[has_orders] = np.minimum(registered_us[has_orders], first_us)
    return _Shop(
        as_of=instant,
        registered_us=registered_us,
        frequency=frequency,
        order_customer=order_customer,
        order_us=order_us,
        order_fen=fen,
        order_promo=promo,
        order_category=category,
        **profile,
    )


@dataclass(frozen=True)
class _Clock:
    """Seconds on the business wall clock, relative to the local midnight starting ``as_of``'s day.

    Times are drawn uniformly in a "uniform" time frame and mapped onto the hourly profile by a
    monotone per-day map, which keeps every ordering (registration before orders) intact.
    """

    origin_s: int  # local midnight of as_of's day, as wall-clock seconds since the epoch
    offset_s: int  # UTC offset of the business zone at as_of
    as_of_rel: float  # as_of in wall-clock seconds after origin, in [0, 86400)
    bound: float  # as_of in the uniform frame: draw every event strictly below it

    @classmethod
    def around(cls, as_of: datetime) -> _Clock:
        local = as_of.astimezone(get_tz(BUSINESS_TZ))
        offset = local.utcoffset()
        assert offset is not None
        offset_s = int(offset.total_seconds())
        wall_us = as_utc_us(as_of) + offset_s * _US_PER_S
        day = wall_us // _US_PER_DAY
        as_of_rel = (wall_us - day * _US_PER_DAY) / _US_PER_S
        bound = float(np.interp(as_of_rel, _TOD_PROFILE_KNOTS, _TOD_UNIFORM_KNOTS))
        return cls(origin_s=int(day) * _DAY_S, offset_s=offset_s, as_of_rel=as_of_rel, bound=bound)

    def to_utc_us(self, uniform: FloatArray) -> IntArray:
        """Map uniform-frame seconds to UTC microseconds (whole seconds, strictly before as_of)."""
        day = np.floor(uniform / _DAY_S)
        time_of_day = np.interp(uniform - day * _DAY_S, _TOD_UNIFORM_KNOTS, _TOD_PROFILE_KNOTS)
        seconds = np.floor(day * _DAY_S + time_of_day).astype(np.int64)
        # Float rounding in the map must never put an event at or after as_of.
        seconds = np.minimum(seconds, math.ceil(self.as_of_rel) - 1)
        utc_us: IntArray = (seconds + (self.origin_s - self.offset_s)) * _US_PER_S
        return utc_us


def _draw_profiles(rng: np.random.Generator, n: int) -> dict[str, Any]:
    city = _weighted_codes(rng, _CITY_WEIGHTS, n)
    gender = _weighted_codes(rng, _GENDER_WEIGHTS, n)
    age = np.clip(np.rint(rng.normal(31.0, 8.5, n)), 16, 70).astype(np.int64)
    age_null = rng.random(n) < _AGE_NULL_SHARE
    channel = _weighted_codes(rng, _CHANNEL_WEIGHTS, n)
    has_tag = rng.random((n, len(TAGS))) < _TAG_PROBABILITY[channel]
    tag_code = (has_tag * (1 << np.arange(len(TAGS)))).sum(axis=1).astype(np.int64)
    return {
        "city": city,
        "gender": gender,
        "age": age,
        "age_null": age_null,
        "channel": channel,
        "tag_code": tag_code,
    }


def _weighted_codes(rng: np.random.Generator, weights: tuple[float, ...], n: int) -> IntArray:
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=n, p=p / p.sum()).astype(np.int64)


def _tag_rate_boost(tag_code: IntArray) -> FloatArray:
    boost = np.ones(len(tag_code))
    for bit, factor in enumerate(_TAG_RATE_BOOST):
        boost = np.where(tag_code & (1 << bit), boost * factor, boost)
    return boost


def _draw_timeline(
    rng: np.random.Generator, n: int, bound: float
) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray]:
    """Registration, first order and active span (uniform-frame seconds) and the buyer flag."""
    history = float(_HISTORY_DAYS * _DAY_S)
    # u**1.6 puts more registrations near as_of: the shop grows. The 60 s floor leaves room to buy.
    tenure = 60.0 + (history - 60.0) * rng.random(n) ** 1.6
    registered = bound - tenure
    buyer = rng.random(n) >= _PROSPECT_SHARE
    lag = rng.exponential(_FIRST_ORDER_LAG_DAYS * _DAY_S, n)
    # A lag that would reach past as_of is redrawn inside the time that is left.
    lag = np.where(lag < tenure, lag, tenure * rng.random(n))
    first = registered + lag
    lifetime = rng.exponential(_LIFETIME_DAYS * _DAY_S, n)
    span = np.minimum(first + lifetime, bound) - first
    return registered, first, span, buyer


def _draw_frequency(
    rng: np.random.Generator, span: FloatArray, boost: FloatArray, buyer: BoolArray
) -> IntArray:
    """Orders per customer: 1 + Poisson(yearly rate x active years) for buyers, 0 for prospects."""
    rate = rng.gamma(_REPEAT_RATE_SHAPE, _REPEAT_RATE_SCALE, len(span)) * boost
    repeats = np.minimum(rng.poisson(rate * span / (365.0 * _DAY_S)), _MAX_REPEATS)
    return np.where(buyer, 1 + repeats, 0).astype(np.int64)


def _draw_order_times(
    rng: np.random.Generator, frequency: IntArray, first: FloatArray, span: FloatArray
) -> tuple[IntArray, FloatArray]:
    """Flat order log: each buyer's first order, then repeats uniform over ``[first, first + span)``."""
    customer = np.repeat(np.arange(len(frequency), dtype=np.int64), frequency)
    offset = span[customer] * rng.random(len(customer))
    offset[_group_starts(frequency)[frequency > 0]] = 0.0  # each buyer's first order is at `first`
    return customer, first[customer] + offset


def _draw_baskets(
    rng: np.random.Generator, n: int, customer: IntArray
) -> tuple[IntArray, BoolArray, IntArray]:
    """Amount (fen), promotion flag and category of each order, from per-customer propensities."""
    basket = _BASKET_MEDIAN_FEN * rng.lognormal(0.0, 0.5, n)
    # Big spenders buy more of the premium line (that is what top_price_share measures).
    premium_share = np.minimum(rng.beta(0.7, 5.0, n) * np.sqrt(basket / _BASKET_MEDIAN_FEN), 0.95)
    promo_share = rng.beta(1.3, 2.7, n)
    k = len(customer)
    promo = rng.random(k) < promo_share[customer]
    premium = rng.random(k) < premium_share[customer]
    # integers() into a 100-slot table is several times faster than choice(p=...) for millions.
    regular = _REGULAR_CATEGORY_SLOTS[rng.integers(0, len(_REGULAR_CATEGORY_SLOTS), k)]
    category = np.where(premium, _PREMIUM, regular)
    amount = basket[customer] * rng.lognormal(0.0, 0.35, k)
    amount *= np.where(premium, _PREMIUM_MARKUP, 1.0) * np.where(promo, _PROMO_DISCOUNT, 1.0)
    fen = np.maximum(np.rint(amount), _MIN_ORDER_FEN).astype(np.int64)
    return fen, promo, category


# -- aggregation ------------------------------------------------------------------------------------
def _group_starts(counts: IntArray) -> IntArray:
    return np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)


def _group_min(values: IntArray, counts: IntArray) -> IntArray:
    """Minimum of each non-empty group of a grouped flat array (one value per non-empty group)."""
    return np.minimum.reduceat(values, _group_starts(counts)[counts > 0]) if len(values) else values


def _group_max(values: IntArray, counts: IntArray) -> IntArray:
    return np.maximum.reduceat(values, _group_starts(counts)[counts > 0]) if len(values) else values


def _per_customer_sum(customer: IntArray, n: int, weights: IntArray | None = None) -> IntArray:
    """Exact integer sums per customer (bincount adds in float64, exact below 2**53)."""
    total = np.bincount(customer, weights=weights, minlength=n)
    return np.rint(total).astype(np.int64)


def _customers_table(shop: _Shop) -> Table:
    n = len(shop.frequency)
    columns: dict[str, np.ndarray[Any, Any]] = {
        "customer_id": np.arange(1, n + 1, dtype=np.int64),
        "registered_at": shop.registered_us.view("datetime64[us]"),
    }
    columns.update(_order_metrics(shop))
    columns.update(_profile_columns(shop, columns["monetary"]))
    return Table._trusted(columns)


def _order_metrics(shop: _Shop) -> dict[str, np.ndarray[Any, Any]]:
    n = len(shop.frequency)
    freq = shop.frequency
    buyer = freq > 0
    customer, fen = shop.order_customer, shop.order_fen
    first_us = _fill(n, buyer, _group_min(shop.order_us, freq), np.iinfo(np.int64).min)
    last_us = _fill(n, buyer, _group_max(shop.order_us, freq), np.iinfo(np.int64).min)
    monetary_fen = _per_customer_sum(customer, n, fen)
    max_fen = _fill(n, buyer, _group_max(fen, freq), 0)
    promo_fen = _per_customer_sum(customer, n, np.where(shop.order_promo, fen, 0))
    top_fen = _per_customer_sum(customer, n, np.where(shop.order_category == _PREMIUM, fen, 0))
    monetary = monetary_fen / 100.0
    out: dict[str, np.ndarray[Any, Any]] = {
        "first_order_at": _instants(first_us, buyer),
        "last_order_at": _instants(last_us, buyer),
        "recency_days": _recency_days(last_us, buyer, shop.as_of),
        "frequency": freq,
        "monetary": monetary,
        "avg_order_value": _where_buyer(buyer, monetary / np.maximum(freq, 1)),
        "max_order_value": _where_buyer(buyer, max_fen / 100.0),
    }
    out.update(_window_metrics(shop))
    out["promo_spend_share"] = _where_buyer(buyer, promo_fen / np.maximum(monetary_fen, 1))
    out["top_price_share"] = _where_buyer(buyer, top_fen / np.maximum(monetary_fen, 1))
    out["repurchase_cycle_days"] = _repurchase_cycle_days(shop)
    return out


def _repurchase_cycle_days(shop: _Shop) -> FloatArray:
    """Median gap in days between a customer's consecutive distinct purchase days (NaN: fewer than 2).

    The definition of ``customer_metrics`` (days on the business zone's calendar; a median of an even
    count is the mean of the middle two), so the two agree on the same orders.
    """
    n = len(shop.frequency)
    out = np.full(n, np.nan)
    if len(shop.order_us) < 2:
        return out
    day = local_days(shop.order_us, get_tz(BUSINESS_TZ))
    day -= day.min()
    width = int(day.max()) + 1
    # Distinct (customer, day) pairs in order: np.unique sorts the combined key.
    pairs = np.unique(shop.order_customer * width + day)
    owner, day = pairs // width, pairs % width
    same = owner[1:] == owner[:-1]
    gaps, owner = (day[1:] - day[:-1])[same], owner[1:][same]
    if len(gaps) == 0:
        return out
    # Sorting (customer, gap) keys orders each customer's gaps; the middle ones give the median.
    gap_width = int(gaps.max()) + 1
    ordered = np.sort(owner * gap_width + gaps) % gap_width
    count = np.bincount(owner, minlength=n)
    has = count > 0
    start, size = (np.cumsum(count) - count)[has], count[has]
    out[has] = (ordered[start + (size - 1) // 2] + ordered[start + size // 2]) / 2.0
    return out


def _window_metrics(shop: _Shop) -> dict[str, np.ndarray[Any, Any]]:
    """Orders and spend in the half-open windows [as_of - w, as_of), w counted in calendar days."""
    n = len(shop.frequency)
    zone = get_tz(BUSINESS_TZ)
    narrowest = np.zeros(len(shop.order_us), dtype=np.int64)  # 0: older than every window
    column = {}
    for index, days in enumerate((365, 90, 30), start=1):  # widest first
        start_us = as_utc_us(parse_duration(f"{days}d").subtract_from(shop.as_of, zone))
        narrowest += shop.order_us >= start_us  # every order is already < as_of
        column[days] = index
    # One pass over the orders: per customer, orders and fen by narrowest window (columns 0..3);
    # a window's total is the sum of its own column and the narrower ones.
    key = shop.order_customer * 4 + narrowest
    counts = np.bincount(key, minlength=4 * n).reshape(n, 4).astype(np.int64)
    fen = _per_customer_sum(key, 4 * n, shop.order_fen).reshape(n, 4)
    out = {f"orders_{d}d": counts[:, column[d] :].sum(axis=1) for d in (30, 90, 365)}
    out.update({f"spend_{d}d": fen[:, column[d] :].sum(axis=1) / 100.0 for d in (30, 90, 365)})
    return out


def _recency_days(last_us: IntArray, buyer: BoolArray, as_of: datetime) -> np.ndarray[Any, Any]:
    """Calendar days in the business zone from the last order's date to as_of's date (null: no order)."""
    zone = get_tz(BUSINESS_TZ)
    as_of_day = local_days(np.array([as_utc_us(as_of)], dtype=np.int64), zone)[0]
    days = np.zeros(len(last_us), dtype=np.int64)
    # Only buyers: the placeholder of prospects would make the zone lookup span all of history.
    days[buyer] = as_of_day - local_days(last_us[buyer], zone)
    return _masked(days, ~buyer)


def _profile_columns(shop: _Shop, monetary: FloatArray) -> dict[str, np.ndarray[Any, Any]]:
    tier = np.searchsorted(np.asarray(_TIER_THRESHOLDS_YUAN, dtype=np.float64), monetary, side="right")
    return {
        "city": _lookup(CITIES, shop.city),
        "gender": _GENDERS[shop.gender],
        "age": _masked(shop.age, shop.age_null),
        "channel": _lookup(CHANNELS, shop.channel),
        "tags": _lookup(_TAG_COMBINATIONS, shop.tag_code),
        "member_tier": _lookup(MEMBER_TIERS, tier),
    }


def _tag_combinations() -> tuple[tuple[str, ...], ...]:
    """Every subset of TAGS as a tuple in TAGS order, indexed by its bit code."""
    return tuple(
        tuple(tag for bit, tag in enumerate(TAGS) if code & (1 << bit)) for code in range(1 << len(TAGS))
    )


_TAG_COMBINATIONS = _tag_combinations()


def _lookup(values: tuple[Any, ...], codes: npt.NDArray[np.integer[Any]]) -> np.ndarray[Any, Any]:
    """Object column of ``values[code]``; the values are shared, not copied, so 1M rows stay fast."""
    table = np.empty(len(values), dtype=object)
    for index, value in enumerate(values):  # item by item: numpy would unpack tuple values
        table[index] = value
    column: np.ndarray[Any, Any] = table[codes]
    return column


def _fill(n: int, where: BoolArray, values: IntArray, default: int) -> IntArray:
    out = np.full(n, default, dtype=np.int64)
    out[where] = values
    return out


def _instants(us: IntArray, present: BoolArray) -> np.ndarray[Any, Any]:
    out: np.ndarray[Any, Any] = us.view("datetime64[us]").copy()
    out[~present] = np.datetime64("NaT")
    return out


def _masked(values: IntArray, null: BoolArray) -> np.ndarray[Any, Any]:
    """An int column in Table's canonical form: masked only when it really has nulls."""
    if not null.any():
        return values
    return np.ma.MaskedArray(np.where(null, 0, values), mask=null.copy())


def _where_buyer(buyer: BoolArray, values: FloatArray) -> FloatArray:
    return np.where(buyer, values, np.nan)


def _transactions_table(shop: _Shop) -> Table:
    # Stable sort: orders in the same second stay in customer order, so the log is deterministic.
    order = np.argsort(shop.order_us, kind="stable")
    return Table._trusted(
        {
            "customer_id": shop.order_customer[order] + 1,
            "order_id": np.arange(1, len(order) + 1, dtype=np.int64),
            "ordered_at": shop.order_us[order].view("datetime64[us]"),
            "amount": shop.order_fen[order] / 100.0,
            "is_promo": shop.order_promo[order],
            "category": _lookup(CATEGORIES, shop.order_category[order]),
        }
    )


# -- CDNOW ------------------------------------------------------------------------------------------
#: The file names a folder may hold, in the order they are looked for.
_CDNOW_FILES = ("CDNOW_sample.txt", "CDNOW_master.txt")
_CDNOW_RELATIVE = Path("..") / "shared" / "data" / "cdnow"
#: The two layouts, by number of columns, as error messages name them.
_CDNOW_LAYOUTS = {
    4: "customer_id YYYYMMDD quantity dollars",
    5: "master_id customer_id YYYYMMDD quantity dollars",
}


def load_cdnow(path: str | os.PathLike[str] | None = None) -> Table:
    """Read a CDNOW purchase file (Fader & Hardie): real, skewed data for tests and examples.

    Two layouts are read, both whitespace-separated, one purchase per line, with or without a header
    line (a first line whose first field is not a number is skipped):

    - ``CDNOW_sample.txt``, 5 columns: master customer id, sample customer id (1..2357), date
      ``YYYYMMDD``, number of CDs, dollars spent;
    - ``CDNOW_master.txt``, 4 columns: customer id (1..23570), date ``YYYYMMDD``, number of CDs,
      dollars spent.

    Both come from Bruce Hardie's page of data sets (see the datasets page of the documentation).

    Parameters
    ----------
    path:
        The file, or a folder holding ``CDNOW_sample.txt`` (or, without it, ``CDNOW_master.txt``).
        Default: that folder search in ``../shared/data/cdnow`` relative to the current directory, then
        to the repository root.

    Returns
    -------
    Table
        ``customer_id`` (int: the sample id of the 5-column file, the customer id of the 4-column one),
        ``ordered_at`` (datetime, the purchase day at midnight UTC), ``quantity`` (int, CDs) and
        ``amount`` (float, US dollars), in file order.

    Raises
    ------
    DataError
        When the file cannot be found or read, or a line is malformed or has another number of columns
        than the first (naming the line).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> sample = folder / "CDNOW_sample.txt"
    >>> _ = sample.write_text(" 00004 0001 19970101  2   29.33\\n 00004 0001 19970118  2   29.73\\n")
    >>> t = load_cdnow(sample)
    >>> t.columns
    ('customer_id', 'ordered_at', 'quantity', 'amount')
    >>> t.row(1)["ordered_at"].isoformat(), t.row(1)["amount"]
    ('1997-01-18T00:00:00+00:00', 29.73)
    >>> master = folder / "CDNOW_master.txt"
    >>> _ = master.write_text("00001 19970101 1 11.77\\n00002 19970112 1 12.00\\n")
    >>> load_cdnow(master)["customer_id"].tolist()
    [1, 2]
    """
    file = _find_cdnow(path)
    try:
        text = file.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the CDNOW file {str(file)!r}: {exc}") from exc
    return _parse_cdnow(text, source=str(file))


def _find_cdnow(path: str | os.PathLike[str] | None) -> Path:
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise DataError(
                f"path must be a file or folder path, got {type(path).__name__}: {value_repr(path)}"
            )
        try:
            file = Path(path)
        except TypeError as exc:  # a PathLike whose path is bytes
            raise DataError(f"path must be a file or folder path: {exc}") from None
        if file.is_dir():
            found = _cdnow_in(file)
            if found is None:
                names = " or ".join(_CDNOW_FILES)
                raise DataError(f"CDNOW sample not found in {str(file)!r} (looked for {names})")
            return found
        if not file.is_file():
            raise DataError(f"CDNOW sample not found at {str(file)!r}")
        return file
    repo_root = Path(__file__).resolve().parents[2]
    # The same folder once when the current directory is the repository root.
    folders = list(dict.fromkeys((base / _CDNOW_RELATIVE).resolve() for base in (Path.cwd(), repo_root)))
    for folder in folders:
        found = _cdnow_in(folder)
        if found is not None:
            return found
    tried = ", ".join(repr(str(f / name)) for f in folders for name in _CDNOW_FILES)
    raise DataError(f"CDNOW sample not found (tried {tried}); pass load_cdnow(path=...)")


def _cdnow_in(folder: Path) -> Path | None:
    """The CDNOW file in ``folder``: the sample first (the smaller, the default), else the master file."""
    for name in _CDNOW_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def _parse_cdnow(text: str, *, source: str) -> Table:
    rows: list[tuple[int, str, int, float]] = []
    width = 0  # columns per line, set by the first purchase line (4 or 5)
    first = True
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if first and not _is_int(fields[0]):
            first = False
            continue  # a header line such as "customer_id date quantity amount"
        first = False
        width = width or len(fields)
        try:
            if len(fields) != width or width not in _CDNOW_LAYOUTS:
                raise ValueError(line)
            rows.append(_cdnow_row(fields))
        except ValueError:
            layout = _CDNOW_LAYOUTS.get(width, " | ".join(_CDNOW_LAYOUTS.values()))
            raise DataError(
                f"{source} line {number}: expected {layout!r} with a valid date and a finite amount, "
                f"got {line.strip()!r}"
            ) from None
    ids, days, quantities, amounts = zip(*rows, strict=True) if rows else ((), (), (), ())
    return Table._trusted(
        {
            "customer_id": np.array(ids, dtype=np.int64),
            "ordered_at": np.array(days, dtype="datetime64[D]").astype("datetime64[us]"),
            "quantity": np.array(quantities, dtype=np.int64),
            "amount": np.array(amounts, dtype=np.float64),
        }
    )


def _is_int(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _cdnow_row(fields: list[str]) -> tuple[int, str, int, float]:
    """One purchase line as (customer id, ISO date, quantity, dollars); ValueError when malformed.

    The 5-column sample's first field (the master id) is left out: its second is the sample's id.
    """
    customer, day, quantity, amount = fields[-4:]
    if len(day) != 8 or not day.isdigit():
        raise ValueError(day)
    iso = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    np.datetime64(iso, "D")  # rejects impossible dates such as 19970231
    dollars = float(amount)
    if not math.isfinite(dollars):
        raise ValueError(amount)
    return int(customer), iso, int(quantity), dollars

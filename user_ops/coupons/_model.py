"""Coupon definitions (优惠券模板), issued coupons, carts and the customer a cart belongs to.

Every model here is a frozen policy ([`PolicyModel`][]): JSON round trip,
JSON Schema for admin UIs, a content hash, and a [`ConfigError`][] naming the field for a
bad option. Amounts are [`Money`][] (integer minor units of the template's currency).

Examples
--------
>>> tpl = CouponTemplate(
...     id="full199minus20", currency="CNY",
...     benefit=Benefit(kind="amount_off", amount="20.00 CNY"),
...     conditions=Conditions(min_subtotal="199.00 CNY"),
... )
>>> tpl.face_value, tpl.target.value, tpl.limits.per_order
(Money('20.00', 'CNY'), 'order', 1)
>>> CouponTemplate.from_json(tpl.to_json()) == tpl
True
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

import numpy as np
from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from user_ops._money import Money, Rounding
from user_ops._policy import PolicyModel
from user_ops._time import TzLike, get_tz, local_midnight, require_aware
from user_ops.exceptions import ConfigError, DataError
from user_ops.rules import Rule

__all__ = [
    "CUSTOMER_FIELD_TYPES",
    "Benefit",
    "BenefitKind",
    "Cart",
    "CartLine",
    "CashBackForm",
    "Conditions",
    "CouponTemplate",
    "CustomerContext",
    "IssuedCoupon",
    "Limits",
    "PriceBase",
    "Stacking",
    "Target",
    "Validity",
]

_IDENT_MAX = 200

#: Types of the fields a [`CustomerContext`][] gives an audience rule (besides its ``attributes``).
CUSTOMER_FIELD_TYPES: dict[str, str] = {
    "id": "str",
    "tags": "list[str]",
    "tier": "str",
    "stage": "str",
    "segment": "str",
    "order_count": "int",
}


class BenefitKind(str, Enum):
    """What the coupon gives: 满减/立减 (amount off), 折扣 (percent off), 包邮, 赠品, 返现, 一口价.

    The kind decides which [`Benefit`][] fields are needed and the template's default
    [`Target`][].

    Examples
    --------
    >>> gift = CouponTemplate(id="cup", currency="CNY",
    ...                       benefit=Benefit(kind="gift", gift_sku="cup", gift_value="15 CNY"))
    >>> gift.benefit.kind, gift.describe("zh"), gift.face_value
    (<BenefitKind.GIFT: 'gift'>, '赠cup×1', Money('15.00', 'CNY'))
    """

    AMOUNT_OFF = "amount_off"
    PERCENT_OFF = "percent_off"
    FREE_SHIPPING = "free_shipping"
    GIFT = "gift"
    CASH_BACK = "cash_back"
    FIXED_PRICE = "fixed_price"


class Target(str, Enum):
    """Where the discount lands: the order's merchandise, eligible item units, or shipping.

    A template's default target follows its benefit: shipping for free shipping, items for a fixed
    price, the order otherwise.

    Examples
    --------
    >>> def target_of(kind, **options):
    ...     return CouponTemplate(id="t", currency="CNY", benefit=Benefit(kind=kind, **options)).target
    >>> target_of("free_shipping"), target_of("fixed_price", amount="9.90 CNY")
    (<Target.SHIPPING: 'shipping'>, <Target.ITEMS: 'items'>)
    >>> target_of("amount_off", amount="5 CNY").value
    'order'
    """

    ORDER = "order"
    ITEMS = "items"
    SHIPPING = "shipping"


class PriceBase(str, Enum):
    """What a percentage is taken of.

    ``DISCOUNTED`` (default): the price the customer pays at that point (sale price, minus earlier
    coupons) — the percentage stacks on the sale. ``LIST``: the list price; the unit then costs the
    lower of its sale price and ``list × (1 − p)``, so a sale and the coupon never add up to a free
    item (the Saleor "free order" bug).

    Examples
    --------
    20 % off a unit listed at 100.00 and on sale at 90.00: of the sale price 18.00 off; of the list
    price the unit costs the lower of 90.00 and 80.00, so 10.00 off.

    >>> from datetime import datetime, timezone
    >>> from user_ops.coupons import check
    >>> cart = Cart(currency="CNY", lines=[
    ...     CartLine(sku="a", unit_price="100 CNY", quantity=1, discounted_price="90 CNY")])
    >>> def discount(base):
    ...     benefit = Benefit(kind="percent_off", percent="20", base=base)
    ...     tpl = CouponTemplate(id=base, currency="CNY", target="items", benefit=benefit)
    ...     return check(tpl, cart, CustomerContext(id="c1"), as_of=datetime(2024, 6, 1, tzinfo=timezone.utc))
    >>> str(discount(PriceBase.DISCOUNTED).discount), str(discount(PriceBase.LIST).discount)
    ('18.00 CNY', '10.00 CNY')
    """

    DISCOUNTED = "discounted"
    LIST = "list"


class CashBackForm(str, Enum):
    """How cash-back (返现) is paid after the order: loyalty points or stored value (储值).

    Examples
    --------
    >>> back = Benefit(kind="cash_back", cash_back="points", points=200)
    >>> back.cash_back, CouponTemplate(id="cb200", currency="CNY", benefit=back).describe()
    (<CashBackForm.POINTS: 'points'>, 'cash back 200 points')
    >>> stored = Benefit(kind="cash_back", cash_back=CashBackForm.STORED_VALUE, amount="5 CNY")
    >>> CouponTemplate(id="cb5", currency="CNY", benefit=stored).face_value
    Money('5.00', 'CNY')
    """

    POINTS = "points"
    STORED_VALUE = "stored_value"


def _not_a_boolean(value: Any, info: ValidationInfo) -> Any:
    # pydantic reads True as 1: a quantity, count or limit of True is a bug in the caller, not 1.
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{info.field_name} must be a whole number, not a boolean ({value!r})")
    return value


#: An integer field that refuses booleans (``quantity=True`` is not one unit).
Count = Annotated[int, BeforeValidator(_not_a_boolean)]


def _reject_float(value: Any, name: str) -> Any:
    if isinstance(value, float):
        raise ValueError(f"{name} must be given as a decimal string or int, not a float ({value!r})")
    return value


class Benefit(PolicyModel):
    """The benefit of a coupon.

    Parameters
    ----------
    kind:
        A [`BenefitKind`][].
    amount:
        ``amount_off``: the amount off. ``fixed_price``: the price one unit costs (一口价).
        ``free_shipping``: an optional cap on the shipping waived. ``cash_back`` as stored value: the
        amount credited.
    percent:
        ``percent_off``: the percentage off, ``0 < percent <= 100`` (``"15"`` is 15 % off, 八五折).
    cap:
        ``percent_off``: the largest discount the coupon gives (封顶).
    base:
        ``percent_off``: [`PriceBase`][] (``discounted`` by default).
    rounding:
        How a percentage becomes whole minor units (default ``half_up``, 四舍五入).
    max_units:
        Item coupons: at most this many units are discounted (the most discounted units first).
    gift_sku, gift_quantity, gift_value:
        ``gift`` (赠品): the item given, how many, and the value of all of it (for budgets and ranking).
    cash_back:
        ``cash_back``: [`CashBackForm`][].
    points:
        ``cash_back`` as points: the points credited.

    Examples
    --------
    >>> Benefit(kind="percent_off", percent="15", cap="30.00 CNY").cap
    Money('30.00', 'CNY')
    """

    kind: BenefitKind
    amount: Money | None = None
    percent: Decimal | None = None
    cap: Money | None = None
    base: PriceBase = PriceBase.DISCOUNTED
    rounding: Rounding = Rounding.HALF_UP
    max_units: Count | None = Field(default=None, ge=1)
    gift_sku: str | None = None
    gift_quantity: Count = Field(default=1, ge=1)
    gift_value: Money | None = None
    cash_back: CashBackForm | None = None
    points: Count | None = Field(default=None, ge=1)

    @field_validator("percent", mode="before")
    @classmethod
    def _percent_not_float(cls, value: Any) -> Any:
        return _reject_float(value, "percent")

    @model_validator(mode="after")
    def _consistent(self) -> Benefit:
        kind = self.kind
        for name in ("amount", "cap", "gift_value"):
            money = getattr(self, name)
            if money is not None and money.minor < 0:
                raise ValueError(f"{name} must not be negative, got {money}")
        if kind is BenefitKind.AMOUNT_OFF and (self.amount is None or self.amount.minor <= 0):
            raise ValueError(f"amount_off needs a positive amount, got {self.amount}")
        if kind is BenefitKind.FIXED_PRICE and self.amount is None:
            raise ValueError("fixed_price needs amount (the price of one unit)")
        if kind is BenefitKind.PERCENT_OFF:
            if self.percent is None or not Decimal(0) < self.percent <= Decimal(100):
                raise ValueError(f"percent_off needs 0 < percent <= 100, got {self.percent}")
        elif self.percent is not None or self.cap is not None:
            raise ValueError(f"percent and cap belong to percent_off, not {kind.value}")
        if kind is BenefitKind.GIFT and not self.gift_sku:
            raise ValueError("gift needs gift_sku")
        if kind is BenefitKind.CASH_BACK:
            if self.cash_back is None:
                raise ValueError("cash_back needs cash_back='points' or 'stored_value'")
            if self.cash_back is CashBackForm.POINTS and self.points is None:
                raise ValueError("cash_back as points needs points")
            if self.cash_back is CashBackForm.STORED_VALUE and (self.amount is None or not self.amount.minor):
                raise ValueError("cash_back as stored_value needs a positive amount")
        return self

    def monies(self) -> list[tuple[str, Money]]:
        """``(field, amount)`` for every amount set (to check they share the template's currency)."""
        named = (("amount", self.amount), ("cap", self.cap), ("gift_value", self.gift_value))
        return [(name, money) for name, money in named if money is not None]


class Conditions(PolicyModel):
    """When a coupon applies (门槛). Empty lists mean "no restriction".

    Parameters
    ----------
    min_subtotal:
        Minimum subtotal of the eligible items at the price the customer pays before coupons (满 X).
    min_quantity:
        Minimum number of eligible units.
    include_skus, include_products, include_categories, include_tags:
        When any is given, a line is eligible only if it matches one of them.
    exclude_skus, exclude_products, exclude_categories, exclude_tags:
        A line matching any of them is never eligible.
    exclude_discounted:
        Lines already on sale (a ``discounted_price``) are not eligible (不与特价同享).
    channels:
        Sales channels the coupon works in (e.g. ``"miniprogram"``, ``"pos"``); empty: all.
    first_order_only:
        Only for a customer with no previous order (新人券).

    Examples
    --------
    >>> Conditions(min_subtotal="99 CNY", include_categories=["tea"]).include_categories
    ('tea',)
    """

    min_subtotal: Money | None = None
    min_quantity: Count | None = Field(default=None, ge=1)
    include_skus: tuple[str, ...] = ()
    include_products: tuple[str, ...] = ()
    include_categories: tuple[str, ...] = ()
    include_tags: tuple[str, ...] = ()
    exclude_skus: tuple[str, ...] = ()
    exclude_products: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    exclude_discounted: bool = False
    channels: tuple[str, ...] = ()
    first_order_only: bool = False

    @field_validator("min_subtotal")
    @classmethod
    def _non_negative(cls, value: Money | None) -> Money | None:
        if value is not None and value.minor < 0:
            raise ValueError(f"min_subtotal must not be negative, got {value}")
        return value

    @property
    def has_includes(self) -> bool:
        """True when an include list restricts the eligible lines."""
        return bool(
            self.include_skus or self.include_products or self.include_categories or self.include_tags
        )

    def line_eligible(self, line: CartLine) -> bool:
        """Whether a cart line passes the discountable flag and the include/exclude lists."""
        if not line.discountable or (self.exclude_discounted and line.discounted_price is not None):
            return False
        if (
            line.sku in self.exclude_skus
            or line.product in self.exclude_products
            or line.category in self.exclude_categories
            or any(tag in self.exclude_tags for tag in line.tags)
        ):
            return False
        if not self.has_includes:
            return True
        return (
            line.sku in self.include_skus
            or line.product in self.include_products
            or line.category in self.include_categories
            or any(tag in self.include_tags for tag in line.tags)
        )


class Validity(PolicyModel):
    """When a coupon can be used: an absolute window, a window relative to issue, or both (intersected).

    Windows are half-open ``[start, end)``. Dates (``starts_on``/``ends_on``) are calendar days in the
    shop's time zone ``tz``: ``ends_on=2024-06-30`` means "expires at the end of 30 June" there.
    ``days`` counts from issue: ``issued_at + days`` on the shop's wall clock (DST-safe), or with
    ``end_of_day`` the end of the ``days``-th local day, counting the issue day as day 1 (``days=1``:
    当天有效).

    The zone is the shop's, never the one an instant is expressed in: ``tz`` here, else the
    ``tz=`` the caller passes (``check``, ``quote``, ``best_combination``, ``IssuedCoupon.issue``,
    ``plan_issuance``). Calendar days with neither raise [`ConfigError`][] when the
    window is resolved; ``days`` without a zone are 24-hour days.

    Parameters
    ----------
    starts_at, ends_at:
        Absolute instants (timezone-aware).
    starts_on, ends_on:
        Absolute calendar days in ``tz`` (``ends_on`` inclusive).
    days:
        Relative validity in days after issue.
    end_of_day:
        With ``days``: run to the end of the last day in ``tz``.
    tz:
        The shop's IANA time zone (also the template's zone for audience rules that read the clock).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> v = Validity(days=1, end_of_day=True, tz="Asia/Shanghai")
    >>> start, end = v.window(datetime(2024, 6, 1, 2, 0, tzinfo=timezone.utc))
    >>> end.isoformat()
    '2024-06-02T00:00:00+08:00'
    >>> Validity(days=7).window(datetime(2024, 6, 1, 10, tzinfo=timezone.utc))[1].isoformat()
    '2024-06-08T10:00:00+00:00'
    >>> from datetime import date
    >>> Validity(ends_on=date(2024, 6, 30)).window()
    Traceback (most recent call last):
    ...
    user_ops.exceptions.ConfigError: validity.ends_on is a calendar day and needs the shop's time zone: ...
    """

    starts_at: datetime | None = None
    ends_at: datetime | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    days: Count | None = Field(default=None, ge=1, le=36_600)
    end_of_day: bool = False
    tz: str | None = None

    @field_validator("starts_at", "ends_at", mode="before")
    @classmethod
    def _aware(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            return require_aware(value, name="validity instant")
        return value

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware_after(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError(f"validity instants must be timezone-aware, got {value.isoformat()}")
        return value

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            get_tz(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Validity:
        if self.starts_at is not None and self.starts_on is not None:
            raise ValueError("give starts_at or starts_on, not both")
        if self.ends_at is not None and self.ends_on is not None:
            raise ValueError("give ends_at or ends_on, not both")
        if self.end_of_day and self.days is None:
            raise ValueError("end_of_day needs days (a validity relative to issue)")
        if self.starts_at is not None and self.ends_at is not None and self.starts_at >= self.ends_at:
            raise ValueError(
                f"starts_at {self.starts_at.isoformat()} is not before ends_at {self.ends_at.isoformat()}"
            )
        if self.starts_on is not None and self.ends_on is not None and self.starts_on > self.ends_on:
            raise ValueError(f"starts_on {self.starts_on} is after ends_on {self.ends_on}")
        return self

    @property
    def is_relative(self) -> bool:
        """True when the window depends on when a coupon was issued."""
        return self.days is not None

    def zone(self, tz: TzLike | None = None) -> tzinfo | None:
        """The shop's zone: ``self.tz``, else the caller's ``tz``, else ``None`` (never ``as_of``'s)."""
        if self.tz is not None:
            return get_tz(self.tz)
        return None if tz is None else get_tz(tz)

    def _calendar_fields(self, *, relative: bool) -> list[str]:
        """The set fields that name calendar days (and so need the shop's zone)."""
        names = ["starts_on", "ends_on", *(["end_of_day"] if relative else [])]
        return [name for name in names if getattr(self, name)]

    def _require_zone(self, tz: TzLike | None, *, relative: bool) -> tzinfo | None:
        zone = self.zone(tz)
        calendar = self._calendar_fields(relative=relative)
        if zone is None and calendar:
            raise ConfigError(
                f"validity.{calendar[0]} is a calendar day and needs the shop's time zone: set "
                "Validity(tz=...) (e.g. 'Asia/Shanghai') or pass tz= (the zone of as_of or issued_at "
                "is never used: the same instant would expire or not depending on how it was written)"
            )
        return zone

    def absolute_window(self, tz: TzLike | None = None) -> tuple[datetime | None, datetime | None]:
        """The absolute part of the window, calendar days resolved in the shop's zone.

        Raises [`ConfigError`][] when ``starts_on``/``ends_on`` are set and neither
        ``self.tz`` nor ``tz`` names the zone.
        """
        zone = self._require_zone(tz, relative=False)
        start = self.starts_at
        if self.starts_on is not None:
            assert zone is not None
            start = local_midnight(self.starts_on, zone)
        end = self.ends_at
        if self.ends_on is not None:
            assert zone is not None
            end = local_midnight(self.ends_on + timedelta(days=1), zone)
        return start, end

    def window(
        self, issued_at: datetime | None = None, *, tz: TzLike | None = None
    ) -> tuple[datetime | None, datetime | None]:
        """The half-open window ``[start, end)`` (``None``: unbounded on that side).

        Without ``issued_at`` a relative validity cannot be resolved, so only the absolute part applies.
        Calendar days (``starts_on``, ``ends_on``, ``end_of_day``) are resolved in ``self.tz``, else in
        ``tz``; with neither they raise [`ConfigError`][]. ``days`` without a zone are
        24-hour days.
        """
        if issued_at is not None:
            issued_at = require_aware(issued_at, name="issued_at")
        start, end = self.absolute_window(tz)
        if issued_at is None or self.days is None:
            return start, end
        zone = self._require_zone(tz, relative=True)
        relative_end = self._relative_end(issued_at, zone, self.days)
        issued_here = issued_at.astimezone(zone or timezone.utc)  # written the same however it came in
        start = issued_here if start is None or issued_at > start else start
        end = relative_end if end is None or relative_end < end else end
        return start, end

    def _relative_end(self, issued_at: datetime, zone: tzinfo | None, days: int) -> datetime:
        if zone is None:  # no shop zone: elapsed 24-hour days, the same whatever zone issued_at is in
            return issued_at.astimezone(timezone.utc) + timedelta(days=days)
        local = issued_at.astimezone(zone)
        if self.end_of_day:
            return local_midnight(local.date() + timedelta(days=days), zone)
        # Calendar days on the wall clock: 7 days from 10:00 ends at 10:00 even across a DST change.
        wall = local.replace(tzinfo=None) + timedelta(days=days)
        return _wall_to_instant(wall, zone)


def _wall_to_instant(wall: datetime, zone: tzinfo) -> datetime:
    # fold=0 semantics, normalized (a skipped wall time moves forward by the gap), like _time does.
    return wall.replace(tzinfo=zone, fold=0).astimezone(zone)


class Limits(PolicyModel):
    """Usage limits (限领/限用). ``None``: unlimited.

    Parameters
    ----------
    total:
        Redemptions of the template across all customers.
    per_customer:
        Redemptions per customer id.
    per_order:
        Coupons of this template in one order (default 1).

    Examples
    --------
    >>> Limits(total=1000, per_customer=1).per_order
    1
    """

    total: Count | None = Field(default=None, ge=1)
    per_customer: Count | None = Field(default=None, ge=1)
    per_order: Count | None = Field(default=1, ge=1)


class Stacking(PolicyModel):
    """How a coupon combines with others (叠加/互斥).

    Two coupons may be used together when neither is ``exclusive``, they do not share a ``group``
    (互斥组: at most one per group), and each one's ``combinable_with`` (when given) names the other's
    template id or group. ``priority`` orders application inside a stage (higher first).

    Parameters
    ----------
    exclusive:
        True: used alone (独享), never beside another coupon.
    group:
        Mutual-exclusion group (互斥组): at most one coupon of a group per order.
    priority:
        Order of application inside a stage, higher first.
    combinable_with:
        Template ids or groups this coupon may be used with; ``None``: any that stacking allows.

    Examples
    --------
    >>> Stacking(group="store", priority=10).exclusive
    False
    """

    exclusive: bool = False
    group: str | None = None
    priority: Count = 0
    combinable_with: tuple[str, ...] | None = None

    def allows(self, other_id: str, other: Stacking) -> bool:
        """One-sided: does this coupon accept ``other`` (of template ``other_id``) beside it?"""
        if self.exclusive:
            return False
        if self.group is not None and self.group == other.group:
            return False
        if self.combinable_with is None:
            return True
        return other_id in self.combinable_with or (
            other.group is not None and other.group in self.combinable_with
        )


class CouponTemplate(PolicyModel):
    """A coupon definition (优惠券模板): benefit, target, conditions, audience, validity, limits, budget.

    Parameters
    ----------
    id:
        Stable identifier (used in usage counters and reasons).
    currency:
        ISO code; every amount of the template is in it, and it only applies to carts in it.
    benefit:
        A [`Benefit`][].
    target:
        A [`Target`][]; default by benefit: shipping for ``free_shipping``, items for
        ``fixed_price``, order otherwise.
    conditions:
        [`Conditions`][] (门槛); default none (无门槛).
    audience:
        A rule over the customer record (``tags``, ``tier``, ``stage``, ``segment``, ``order_count``,
        ``id`` and the context's ``attributes``), e.g. ``tags contains "vip" or tier == "gold"``.
    validity:
        [`Validity`][].
    limits:
        [`Limits`][].
    budget:
        The total discount the template may give (预算), in its currency.
    stacking:
        [`Stacking`][].
    name, label_en, label_zh, description:
        For people.

    Examples
    --------
    >>> tpl = CouponTemplate(id="vip10", currency="CNY", benefit=Benefit(kind="percent_off", percent="10"),
    ...                      audience='tags contains "vip"')
    >>> tpl.audience.to_text(), tpl.face_value is None
    ('tags contains "vip"', True)
    """

    id: str = Field(min_length=1, max_length=_IDENT_MAX)
    currency: str
    benefit: Benefit
    target: Target = None  # type: ignore[assignment]  # resolved from the benefit in the validator
    conditions: Conditions = Field(default_factory=Conditions)
    audience: Rule | None = None
    validity: Validity = Field(default_factory=Validity)
    limits: Limits = Field(default_factory=Limits)
    budget: Money | None = None
    stacking: Stacking = Field(default_factory=Stacking)
    name: str = ""
    label_en: str | None = None
    label_zh: str | None = None
    description: str = ""

    @field_validator("currency")
    @classmethod
    def _currency(cls, code: str) -> str:
        Money.zero(code)  # raises DataError (a ValueError) naming an unknown or malformed code
        return code

    @field_validator("audience")
    @classmethod
    def _audience_types(cls, rule: Rule | None) -> Rule | None:
        # Type-check the customer's own fields now (tier > 3 is a definition error, not a checkout
        # error); attributes are not known in advance and are checked when a customer is evaluated.
        if rule is not None and set(rule.fields) <= set(CUSTOMER_FIELD_TYPES):
            rule.check(CUSTOMER_FIELD_TYPES)
        return rule

    @model_validator(mode="before")
    @classmethod
    def _default_target(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("target") is None:
            data = dict(data)
            benefit = data.get("benefit")
            kind: Any = None  # anything but a benefit or a mapping is the benefit field's to refuse
            if isinstance(benefit, Benefit):
                kind = benefit.kind
            elif isinstance(benefit, Mapping):
                kind = benefit.get("kind")
            kind = kind.value if isinstance(kind, BenefitKind) else kind
            data["target"] = {"free_shipping": "shipping", "fixed_price": "items"}.get(str(kind), "order")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> CouponTemplate:
        for name, money in self.benefit.monies():
            if money.currency.code != self.currency:
                raise ValueError(
                    f"benefit.{name} is in {money.currency.code}, the template in {self.currency}"
                )
        extra = [("conditions.min_subtotal", self.conditions.min_subtotal), ("budget", self.budget)]
        for name, value in extra:
            if value is not None and value.currency.code != self.currency:
                raise ValueError(f"{name} is in {value.currency.code}, the template in {self.currency}")
        if self.budget is not None and self.budget.minor <= 0:
            raise ValueError(f"budget must be positive, got {self.budget}")
        kind, target = self.benefit.kind, self.target
        if kind is BenefitKind.FREE_SHIPPING and target is not Target.SHIPPING:
            raise ValueError(f"free_shipping targets shipping, not {target.value}")
        if kind is BenefitKind.FIXED_PRICE and target is not Target.ITEMS:
            raise ValueError(f"fixed_price targets items, not {target.value}")
        if kind in (BenefitKind.GIFT, BenefitKind.CASH_BACK) and target is not Target.ORDER:
            raise ValueError(f"{kind.value} targets the order, not {target.value}")
        if self.benefit.max_units is not None and target is not Target.ITEMS:
            raise ValueError("benefit.max_units needs target='items'")
        return self

    @property
    def face_value(self) -> Money | None:
        """The nominal value for budgets: the amount off, a percentage's cap, a gift's value, the
        stored value of cash-back, a free-shipping cap; ``None`` when unbounded."""
        benefit = self.benefit
        kind = benefit.kind
        if kind is BenefitKind.AMOUNT_OFF:
            return benefit.amount
        if kind is BenefitKind.PERCENT_OFF:
            return benefit.cap
        if kind is BenefitKind.FREE_SHIPPING:
            return benefit.amount
        if kind is BenefitKind.GIFT:
            return benefit.gift_value
        if kind is BenefitKind.CASH_BACK and benefit.cash_back is CashBackForm.STORED_VALUE:
            return benefit.amount
        return None

    def label(self, lang: str = "en") -> str:
        """The label in ``"en"`` or ``"zh"`` (falling back to the other, the name, then the id)."""
        first, second = (self.label_zh, self.label_en) if lang == "zh" else (self.label_en, self.label_zh)
        return first or second or self.name or self.id

    def describe(self, lang: str = "en") -> str:
        """One line about the benefit: ``20.00 CNY off orders from 199.00`` / ``满199.00减20.00``."""
        return _describe(self, lang)

    def _repr_html_(self) -> str:
        c = self.conditions
        rows = [
            ("id", self.id),
            ("name 名称", " / ".join(x for x in (self.label_en, self.label_zh) if x) or "—"),
            ("benefit", self.describe("en")),
            ("优惠", self.describe("zh")),
            ("target", self.target.value),
            ("audience", self.audience.to_text() if self.audience is not None else "everyone"),
            ("min subtotal", str(c.min_subtotal) if c.min_subtotal is not None else "—"),
            ("validity", self.validity.model_dump_json(exclude_defaults=True)),
            ("limits", self.limits.model_dump_json()),
            ("budget", str(self.budget) if self.budget is not None else "—"),
            ("stacking", self.stacking.model_dump_json(exclude_defaults=True)),
        ]
        body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
        return f"<div class='user-ops-coupon'><table>{body}</table></div>"


def _plain(money: Money | None) -> str:
    return "" if money is None else money.currency.format_minor(money.minor)


def _describe(tpl: CouponTemplate, lang: str) -> str:
    b, zh = tpl.benefit, lang == "zh"
    threshold = tpl.conditions.min_subtotal
    cur = tpl.currency
    if b.kind is BenefitKind.AMOUNT_OFF and b.amount is not None:
        if zh:
            return f"满{_plain(threshold)}减{_plain(b.amount)}" if threshold else f"立减{_plain(b.amount)}"
        return f"{b.amount} off" + (f" orders from {_plain(threshold)}" if threshold else "")
    if b.kind is BenefitKind.PERCENT_OFF:
        capped = f", cap {b.cap}" if b.cap else ""
        if zh:
            return (
                (f"满{_plain(threshold)}" if threshold else "")
                + f"{b.percent}%折扣"
                + (f"（最高减{_plain(b.cap)}）" if b.cap else "")
            )
        return f"{b.percent}% off" + capped + (f" from {_plain(threshold)} {cur}" if threshold else "")
    if b.kind is BenefitKind.FREE_SHIPPING:
        return "包邮" if zh else "free shipping"
    if b.kind is BenefitKind.GIFT:
        return f"赠{b.gift_sku}×{b.gift_quantity}" if zh else f"gift {b.gift_sku} × {b.gift_quantity}"
    if b.kind is BenefitKind.CASH_BACK:
        if b.cash_back is CashBackForm.POINTS:
            return f"返{b.points}积分" if zh else f"cash back {b.points} points"
        return f"返{b.amount}" if zh else f"cash back {b.amount}"
    return f"一口价{_plain(b.amount)}" if zh and b.amount else f"fixed price {b.amount}"


class IssuedCoupon(PolicyModel):
    """A coupon given to someone: code, the template (as issued), owner, issue time and resolved window.

    The template travels with the coupon, so a coupon keeps what it promised when the template is
    edited later; ``template_hash`` pins the version (a mismatch on load raises ``ConfigError``).
    Build with [`issue`][].

    Parameters
    ----------
    code:
        The coupon's code (券码), its key in usage counters.
    template:
        The [`CouponTemplate`][] as issued.
    template_hash:
        The template's ``content_hash()``; filled in when empty, checked when given.
    owner:
        The customer id it was given to; ``None``: anyone holding the code may use it.
    issued_at:
        When it was issued (timezone-aware).
    starts_at:
        Start of the usable window (inclusive, resolved at issue); ``None``: no start.
    ends_at:
        End of the usable window (exclusive); ``None``: no end.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> tpl = CouponTemplate(id="new7", currency="CNY", benefit=Benefit(kind="amount_off", amount="10 CNY"),
    ...                      validity=Validity(days=7))
    >>> issued_at = datetime(2024, 6, 1, tzinfo=timezone.utc)
    >>> c = IssuedCoupon.issue(tpl, code="NEW-0001", owner="c1", issued_at=issued_at)
    >>> c.template_id, c.ends_at.isoformat()
    ('new7', '2024-06-08T00:00:00+00:00')
    """

    code: str = Field(min_length=1, max_length=_IDENT_MAX)
    template: CouponTemplate
    template_hash: str = ""
    owner: str | None = None
    issued_at: datetime
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    @field_validator("issued_at", "starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError(f"must be timezone-aware, got {value.isoformat()}")
        return value

    @model_validator(mode="after")
    def _version(self) -> IssuedCoupon:
        actual = self.template.content_hash()
        if not self.template_hash:
            object.__setattr__(self, "template_hash", actual)
        elif self.template_hash != actual:
            raise ValueError(
                f"template_hash {self.template_hash[:12]}… does not match template {self.template.id!r} "
                f"({actual[:12]}…): the template was edited after issue"
            )
        if self.starts_at is not None and self.ends_at is not None and self.starts_at >= self.ends_at:
            raise ValueError(
                f"empty window: starts_at {self.starts_at.isoformat()} >= ends_at {self.ends_at.isoformat()}"
            )
        return self

    @classmethod
    def issue(
        cls,
        template: CouponTemplate,
        *,
        code: str,
        owner: str | None,
        issued_at: datetime,
        tz: TzLike | None = None,
    ) -> IssuedCoupon:
        """Issue ``template`` as ``code`` to ``owner`` at ``issued_at``; the window is resolved now.

        ``tz`` is the shop's zone for a validity without its own ``tz`` (calendar days need one of
        them: [`ConfigError`][] otherwise); the zone ``issued_at`` is written in is not used.
        """
        issued_at = require_aware(issued_at, name="issued_at")
        try:
            start, end = template.validity.window(issued_at, tz=tz)
        except ConfigError as error:
            raise ConfigError(f"coupon {code!r} of template {template.id!r}: {error}") from None
        if start is not None and end is not None and start >= end:
            raise DataError(
                f"coupon {code!r}: template {template.id!r} issued at {issued_at.isoformat()} has an empty "
                f"window [{start.isoformat()}, {end.isoformat()})"
            )
        return cls(
            code=code, template=template, owner=owner, issued_at=issued_at, starts_at=start, ends_at=end
        )

    @property
    def template_id(self) -> str:
        """The template's id."""
        return self.template.id


class CartLine(PolicyModel):
    """One line of a cart.

    Parameters
    ----------
    sku:
        Stock-keeping unit; unique in the cart unless ``line_id`` tells lines apart.
    product, category:
        Product and category codes (for include/exclude lists).
    tags:
        Product tags.
    unit_price:
        List price of one unit.
    quantity:
        Units (≥ 1).
    discountable:
        False for lines no coupon may touch (gift cards, tobacco…).
    discounted_price:
        The already-discounted unit price (a sale, 特价), at most ``unit_price``.
    line_id:
        Identifier of the line (default: the sku).

    Examples
    --------
    >>> line = CartLine(sku="tea-1", unit_price="59.00 CNY", quantity=2, discounted_price="49.00 CNY")
    >>> line.subtotal, line.list_subtotal
    (Money('98.00', 'CNY'), Money('118.00', 'CNY'))
    """

    sku: str = Field(min_length=1)
    product: str | None = None
    category: str | None = None
    tags: tuple[str, ...] = ()
    unit_price: Money
    quantity: Count = Field(ge=1, le=1_000_000)
    discountable: bool = True
    discounted_price: Money | None = None
    line_id: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> CartLine:
        if not self.line_id:
            object.__setattr__(self, "line_id", self.sku)
        if self.unit_price.minor < 0:
            raise ValueError(f"unit_price must not be negative, got {self.unit_price}")
        sale = self.discounted_price
        if sale is not None:
            if sale.currency != self.unit_price.currency:
                raise ValueError(
                    f"discounted_price is in {sale.currency.code}, "
                    f"unit_price in {self.unit_price.currency.code}"
                )
            if not 0 <= sale.minor <= self.unit_price.minor:
                raise ValueError(
                    f"discounted_price {sale} must be between 0 and unit_price {self.unit_price}"
                )
        return self

    @property
    def unit_sale_minor(self) -> int:
        """The price of one unit before coupons, in minor units (the sale price when on sale)."""
        return (self.discounted_price or self.unit_price).minor

    @property
    def subtotal(self) -> Money:
        """What the line costs before coupons (sale price × quantity)."""
        return (self.discounted_price or self.unit_price) * self.quantity

    @property
    def list_subtotal(self) -> Money:
        """List price × quantity."""
        return self.unit_price * self.quantity


class Cart(PolicyModel):
    """A cart: lines, shipping fee, currency and sales channel.

    Parameters
    ----------
    currency:
        ISO code; every line and the shipping fee are in it.
    lines:
        The [`CartLine`][] entries, at least one, each ``line_id`` once.
    shipping_fee:
        The shipping fee (``None``: zero).
    channel:
        The sales channel (``"miniprogram"``, ``"store"``, ...) that channel conditions read.

    Examples
    --------
    >>> cart = Cart(currency="CNY", lines=[CartLine(sku="a", unit_price="10 CNY", quantity=3)],
    ...             shipping_fee="8 CNY", channel="miniprogram")
    >>> cart.subtotal, cart.total
    (Money('30.00', 'CNY'), Money('38.00', 'CNY'))
    """

    currency: str
    lines: tuple[CartLine, ...]
    shipping_fee: Money | None = None
    channel: str | None = None

    @field_validator("currency")
    @classmethod
    def _currency(cls, code: str) -> str:
        Money.zero(code)
        return code

    @model_validator(mode="after")
    def _consistent(self) -> Cart:
        if not self.lines:
            raise ValueError("lines: a cart needs at least one line")
        seen: set[str] = set()
        for position, line in enumerate(self.lines):
            if line.unit_price.currency.code != self.currency:
                raise ValueError(
                    f"lines[{position}] ({line.line_id!r}) is priced in {line.unit_price.currency.code}, "
                    f"the cart in {self.currency}"
                )
            if line.line_id in seen:
                raise ValueError(
                    f"lines[{position}]: duplicate line_id {line.line_id!r} (set line_id to tell them apart)"
                )
            seen.add(line.line_id)
        if self.shipping_fee is None:
            object.__setattr__(self, "shipping_fee", Money.zero(self.currency))
        elif self.shipping_fee.currency.code != self.currency or self.shipping_fee.minor < 0:
            raise ValueError(
                f"shipping_fee must be a non-negative amount in {self.currency}, got {self.shipping_fee}"
            )
        return self

    @property
    def shipping(self) -> Money:
        """The shipping fee (zero when none)."""
        return self.shipping_fee if self.shipping_fee is not None else Money.zero(self.currency)

    @property
    def subtotal(self) -> Money:
        """Merchandise before coupons (sale prices × quantities)."""
        return Money.from_minor(sum(line.subtotal.minor for line in self.lines), self.currency)

    @property
    def total(self) -> Money:
        """Subtotal plus shipping."""
        return self.subtotal + self.shipping


_RESERVED = ("id", "tags", "tier", "stage", "segment", "order_count")


class CustomerContext(PolicyModel):
    """Who is checking out: what audience rules and first-order conditions read.

    Parameters
    ----------
    id:
        The customer id (an owned coupon is only theirs).
    tags:
        The customer's tags (``tags contains "vip"``).
    tier:
        Membership tier code.
    stage:
        Lifecycle stage code.
    segment:
        RFM segment code.
    order_count:
        Orders before this one (0: a first order, for ``first_order_only``).
    attributes:
        Any other fields audience rules read (``city``); not the names above.

    Examples
    --------
    >>> who = CustomerContext(id="c1", tags=["vip"], tier="gold", order_count=3, attributes={"city": "上海"})
    >>> who.record()["city"], who.record()["tags"]
    ('上海', ['vip'])
    """

    id: str = Field(min_length=1)
    tags: tuple[str, ...] = ()
    tier: str | None = None
    stage: str | None = None
    segment: str | None = None
    order_count: Count = Field(default=0, ge=0)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("attributes")
    @classmethod
    def _no_shadowing(cls, value: dict[str, Any]) -> dict[str, Any]:
        clash = sorted(set(value) & set(_RESERVED))
        if clash:
            raise ValueError(f"attributes must not repeat the context's own fields {clash}")
        return value

    def record(self, fields: Sequence[str] = ()) -> dict[str, Any]:
        """The record an audience rule reads; ``fields`` the rule needs but nobody set are ``None``."""
        out: dict[str, Any] = {
            "id": self.id,
            "tags": list(self.tags),
            "tier": self.tier,
            "stage": self.stage,
            "segment": self.segment,
            "order_count": self.order_count,
        }
        out.update(self.attributes)
        for name in fields:
            out.setdefault(name, None)
        return out

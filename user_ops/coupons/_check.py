"""``check``: does one coupon apply to a cart and customer at an instant, and if not, exactly why.

Checks run in a fixed order and all of them run (a storefront wants every reason at once): currency,
owner, already redeemed, validity window, channel, first order, audience, eligible items, minimum
quantity, minimum spend, usage limits, then the discount itself (zero → ``NO_DISCOUNT``) and the budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone, tzinfo
from typing import Any, Union

from user_ops._money import Money
from user_ops._time import TzLike, get_tz, require_aware
from user_ops.coupons._engine import (
    SHIPPING_STAGE,
    Effect,
    LineFacts,
    effect_of,
    extra_value,
    gives_money_off,
    initial_state,
    money_currency,
    stage_of,
)
from user_ops.coupons._model import (
    BenefitKind,
    Cart,
    CashBackForm,
    CouponTemplate,
    CustomerContext,
    IssuedCoupon,
)
from user_ops.coupons._reasons import CouponUsage, Eligibility, Reason, ReasonCode, make_reason
from user_ops.exceptions import ConfigError, DataError, RuleError

__all__ = ["Coupon", "Prepared", "check", "compatible", "prepare", "prepare_all"]

#: What the checking functions accept as a coupon: an issued coupon, or a template used directly
#: (an automatic promotion or a public code), whose key is its id.
Coupon = Union[CouponTemplate, IssuedCoupon]

_NO_USAGE = CouponUsage()


@dataclass(frozen=True)
class Prepared:
    """A coupon with everything that does not depend on the other coupons of a quote."""

    position: int
    key: str
    code: str | None
    template: CouponTemplate
    eligible_lines: tuple[bool, ...]
    stage: int
    reasons: tuple[Reason, ...]
    standalone: Effect | None
    budget_left: int | None

    @property
    def order_key(self) -> tuple[int, int, str, int]:
        """Application order: stage (items, order, shipping), priority (higher first), key, position."""
        return (self.stage, -self.template.stacking.priority, self.key, self.position)

    @property
    def extra(self) -> tuple[int, int]:
        """(gift + stored-value cash-back in minor units, points)."""
        return extra_value(self.template)


def _parts(coupon: Any, position: int) -> tuple[str, str | None, CouponTemplate, str | None]:
    if isinstance(coupon, IssuedCoupon):
        return coupon.code, coupon.code, coupon.template, coupon.owner
    if isinstance(coupon, CouponTemplate):
        return coupon.id, None, coupon, None
    raise DataError(
        f"coupons[{position}]: expected a CouponTemplate or an IssuedCoupon, got {type(coupon).__name__}"
    )


def _check_inputs(cart: Any, customer: Any) -> None:
    if not isinstance(cart, Cart):
        raise DataError(f"cart: expected a Cart, got {type(cart).__name__}")
    if not isinstance(customer, CustomerContext):
        raise DataError(f"customer: expected a CustomerContext, got {type(customer).__name__}")


def _usage_for(usage: Any, key: str, template_id: str) -> CouponUsage:
    if usage is None:
        return _NO_USAGE
    if isinstance(usage, CouponUsage):
        return usage
    if isinstance(usage, Mapping):
        found = usage.get(key, usage.get(template_id, _NO_USAGE))
        if not isinstance(found, CouponUsage):
            raise DataError(f"usage[{key!r}]: expected a CouponUsage, got {type(found).__name__}")
        return found
    raise DataError(f"usage: expected a CouponUsage or a mapping of them, got {type(usage).__name__}")


def _plain(money: Money) -> str:
    return money.currency.format_minor(money.minor)


def shop_zone(template: CouponTemplate, tz: TzLike | None) -> tzinfo:
    """The zone a template's audience reads the clock in: its validity's ``tz``, else the caller's
    ``tz``, else UTC — never the zone ``as_of`` is expressed in."""
    return template.validity.zone(tz) or timezone.utc


def _window(coupon: Coupon, tz: TzLike | None) -> tuple[datetime | None, datetime | None]:
    if isinstance(coupon, IssuedCoupon):
        return coupon.starts_at, coupon.ends_at  # resolved at issue
    try:
        return coupon.validity.absolute_window(tz)
    except ConfigError as error:
        raise ConfigError(f"coupon {coupon.id!r}: {error}") from None


def _time_reasons(coupon: Coupon, as_of: datetime, tz: TzLike | None) -> list[Reason]:
    start, end = _window(coupon, tz)
    if start is not None and as_of < start:
        return [
            make_reason(
                ReasonCode.NOT_STARTED,
                f"this coupon can be used from {start.isoformat()}",
                f"该券{start.isoformat()}起可用",
                starts_at=start.isoformat(),
            )
        ]
    if end is not None and as_of >= end:  # half-open: the end instant itself is already outside
        return [
            make_reason(
                ReasonCode.EXPIRED,
                f"this coupon expired at {end.isoformat()}",
                f"该券已于{end.isoformat()}过期",
                ends_at=end.isoformat(),
            )
        ]
    return []


def _audience_reasons(
    template: CouponTemplate, customer: CustomerContext, as_of: datetime, tz: TzLike | None
) -> list[Reason]:
    rule = template.audience
    if rule is None:
        return []
    record = customer.record(rule.fields)
    tags = frozenset(customer.tags)
    zone = shop_zone(template, tz)
    try:
        if rule.evaluate_one(record, as_of=as_of, tz=zone, tags=tags):
            return []
        why = rule.explain_one(record, as_of=as_of, tz=zone, tags=tags)
    except RuleError as exc:  # an attribute of the wrong type for the rule: name the coupon
        raise DataError(
            f"coupon {template.id!r}: audience {rule.to_text()!r} cannot be evaluated for customer "
            f"{customer.id!r}: {str(exc).splitlines()[0]}"
        ) from exc
    leaves = [leaf.text for leaf in why.culprits] or [rule.to_text()]
    inputs = {name: value for leaf in why.culprits for name, value in leaf.inputs}
    return [
        make_reason(
            ReasonCode.AUDIENCE_MISMATCH,
            f"not available to this customer (fails {leaves[0]})",
            f"该券不适用于当前用户（不满足 {leaves[0]}）",
            rule=rule.to_text(),
            failing=leaves,
            inputs=inputs,
        )
    ]


def _cart_reasons(template: CouponTemplate, cart: Cart, eligible: tuple[bool, ...]) -> list[Reason]:
    conditions = template.conditions
    reasons: list[Reason] = []
    lines = [line for line, ok in zip(cart.lines, eligible) if ok]
    needs_items = stage_of(template) != SHIPPING_STAGE or conditions.has_includes
    if needs_items and not lines:
        reasons.append(
            make_reason(
                ReasonCode.NO_ELIGIBLE_ITEMS,
                "no item in the cart is eligible for this coupon",
                "购物车中没有可用该券的商品",
            )
        )
        return reasons
    quantity = sum(line.quantity for line in lines)
    if conditions.min_quantity is not None and quantity < conditions.min_quantity:
        missing = conditions.min_quantity - quantity
        reasons.append(
            make_reason(
                ReasonCode.MIN_QUANTITY_NOT_MET,
                f"add {missing} more eligible item{'s' if missing != 1 else ''}",
                f"再买{missing}件可用",
                required=conditions.min_quantity,
                current=quantity,
                missing=missing,
            )
        )
    threshold = conditions.min_subtotal
    if threshold is not None:
        subtotal = Money.from_minor(
            sum(line.unit_sale_minor * line.quantity for line in lines), money_currency(cart.currency)
        )
        if subtotal < threshold:
            short = threshold - subtotal
            reasons.append(
                make_reason(
                    ReasonCode.MIN_SPEND_NOT_MET,
                    f"spend {_plain(short)} more (needs {threshold} of eligible items, cart has {subtotal})",
                    f"还差{_plain(short)}元可用（满{_plain(threshold)}可用，当前{_plain(subtotal)}）",
                    shortfall=short,
                    required=threshold,
                    current=subtotal,
                )
            )
    return reasons


def _limit_reasons(template: CouponTemplate, used: CouponUsage) -> list[Reason]:
    limits = template.limits
    reasons: list[Reason] = []
    if limits.total is not None and used.total >= limits.total:
        reasons.append(
            make_reason(
                ReasonCode.USAGE_LIMIT_REACHED,
                "this coupon has been fully used",
                "该券已被领完/用完",
                scope="total",
                limit=limits.total,
                used=used.total,
            )
        )
    if limits.per_customer is not None and used.customer >= limits.per_customer:
        reasons.append(
            make_reason(
                ReasonCode.USAGE_LIMIT_REACHED,
                f"already used {used.customer} time(s); the limit per customer is {limits.per_customer}",
                f"每人限用{limits.per_customer}次，已用{used.customer}次",
                scope="per_customer",
                limit=limits.per_customer,
                used=used.customer,
            )
        )
    return reasons


def budget_left(template: CouponTemplate, used: CouponUsage) -> int | None:
    """Minor units left in the template's budget (``None``: no budget)."""
    if template.budget is None:
        return None
    spent = used.budget_spent
    if spent is not None and spent.currency != template.budget.currency:
        raise DataError(
            f"usage of {template.id!r}: budget_spent is in {spent.currency.code}, the budget in "
            f"{template.budget.currency.code}"
        )
    return template.budget.minor - (spent.minor if spent is not None else 0)


def cost_of(template: CouponTemplate, discount: int) -> int:
    """What a use takes out of the budget: the discount, or a gift's / stored value's face value."""
    return discount + extra_value(template)[0]


def budget_reason(template: CouponTemplate, left: int, cost: int) -> Reason:
    """``BUDGET_EXHAUSTED`` with the numbers."""
    currency = template.currency
    return make_reason(
        ReasonCode.BUDGET_EXHAUSTED,
        "the budget of this coupon is used up",
        "该券预算已用完",
        remaining=Money.from_minor(max(left, 0), money_currency(currency)),
        needed=Money.from_minor(cost, money_currency(currency)),
    )


def no_discount_reason(template: CouponTemplate) -> Reason:
    """``NO_DISCOUNT``: the coupon would take nothing off."""
    what = "shipping" if stage_of(template) == SHIPPING_STAGE else "the eligible items"
    zh = "运费" if stage_of(template) == SHIPPING_STAGE else "可用商品"
    return make_reason(
        ReasonCode.NO_DISCOUNT,
        f"nothing left to take off {what}",
        f"{zh}已无可优惠金额",
        target=template.target.value,
    )


def prepare(
    coupon: Coupon,
    cart: Cart,
    customer: CustomerContext,
    *,
    as_of: datetime,
    usage: Any,
    facts: LineFacts,
    position: int = 0,
    tz: TzLike | None = None,
) -> Prepared:
    """Run every check that does not depend on other coupons."""
    key, code, template, owner = _parts(coupon, position)
    used = _usage_for(usage, key, template.id)
    reasons: list[Reason] = []
    same_currency = template.currency == cart.currency
    if not same_currency:
        reasons.append(
            make_reason(
                ReasonCode.CURRENCY_MISMATCH,
                f"this coupon is in {template.currency}, the cart in {cart.currency}",
                f"该券币种为{template.currency}，购物车为{cart.currency}",
                coupon_currency=template.currency,
                cart_currency=cart.currency,
            )
        )
    if owner is not None and owner != customer.id:
        reasons.append(
            make_reason(ReasonCode.NOT_OWNER, "this coupon belongs to someone else", "该券不属于当前用户")
        )
    if used.code_redeemed:
        reasons.append(
            make_reason(ReasonCode.ALREADY_REDEEMED, "this code was already used", "该券码已被使用")
        )
    reasons.extend(_time_reasons(coupon, as_of, tz))
    conditions = template.conditions
    if conditions.channels and cart.channel not in conditions.channels:
        reasons.append(
            make_reason(
                ReasonCode.CHANNEL_MISMATCH,
                f"only usable in {', '.join(conditions.channels)}",
                f"仅限{'、'.join(conditions.channels)}使用",
                channels=list(conditions.channels),
                channel=cart.channel,
            )
        )
    if conditions.first_order_only and customer.order_count > 0:
        reasons.append(
            make_reason(
                ReasonCode.FIRST_ORDER_ONLY,
                "only for a first order",
                "仅限首单使用",
                order_count=customer.order_count,
            )
        )
    reasons.extend(_audience_reasons(template, customer, as_of, tz))
    eligible = tuple(conditions.line_eligible(line) for line in cart.lines)
    standalone: Effect | None = None
    left = None
    if same_currency:
        reasons.extend(_cart_reasons(template, cart, eligible))
        reasons.extend(_limit_reasons(template, used))
        standalone = effect_of(template, eligible, facts, initial_state(facts))
        if (
            gives_money_off(template)
            and standalone.total == 0
            and not _has(reasons, ReasonCode.NO_ELIGIBLE_ITEMS)
        ):
            reasons.append(no_discount_reason(template))
        left = budget_left(template, used)
        cost = cost_of(template, standalone.total)
        if left is not None and cost > left:
            reasons.append(budget_reason(template, left, cost))
    return Prepared(
        position, key, code, template, eligible, stage_of(template), tuple(reasons), standalone, left
    )


def compatible(a: Prepared, b: Prepared) -> bool:
    """Whether two coupons may be used in one order (both sides' stacking rules agree).

    Two coupons of one template only clash when it is exclusive; how many go in one order is
    ``limits.per_order``'s business.
    """
    ta, tb = a.template, b.template
    if ta.id == tb.id:
        return not ta.stacking.exclusive
    return ta.stacking.allows(tb.id, tb.stacking) and tb.stacking.allows(ta.id, ta.stacking)


def _has(reasons: Sequence[Reason], code: ReasonCode) -> bool:
    return any(reason.code is code for reason in reasons)


def prepare_all(
    coupons: Sequence[Coupon],
    cart: Cart,
    customer: CustomerContext,
    *,
    as_of: datetime,
    usage: Any,
    tz: TzLike | None = None,
) -> tuple[LineFacts, list[Prepared]]:
    """[`prepare`][] every coupon of a quote (inputs checked, ``as_of`` made aware)."""
    _check_inputs(cart, customer)
    _as_list(coupons, "coupons")
    get_tz(tz)  # a bad zone is refused even when no coupon needs it
    facts = LineFacts.of(cart)
    prepared = [
        prepare(coupon, cart, customer, as_of=as_of, usage=usage, facts=facts, position=i, tz=tz)
        for i, coupon in enumerate(coupons)
    ]
    return facts, prepared


def eligibility_of(prepared: Prepared, currency: str) -> Eligibility:
    """The [`Eligibility`][] of a prepared coupon taken alone."""
    template = prepared.template
    ok = not prepared.reasons
    discount = prepared.standalone.total if (ok and prepared.standalone is not None) else 0
    benefit = template.benefit
    gift = benefit.gift_value if benefit.kind is BenefitKind.GIFT else None
    cash = benefit.amount if benefit.cash_back is CashBackForm.STORED_VALUE else None
    points = (benefit.points or 0) if benefit.cash_back is CashBackForm.POINTS else 0
    return Eligibility(
        key=prepared.key,
        template_id=template.id,
        eligible=ok,
        discount=Money.from_minor(discount, money_currency(currency)),
        reasons=prepared.reasons,
        gift_value=gift if ok else None,
        cash_back=cash if ok else None,
        cash_back_points=points if ok else 0,
    )


def check(
    coupon: Coupon,
    cart: Cart,
    customer: CustomerContext,
    *,
    as_of: datetime,
    usage: CouponUsage | Mapping[str, CouponUsage] | None = None,
    alongside: Sequence[Coupon] = (),
    tz: TzLike | None = None,
) -> Eligibility:
    """Whether ``coupon`` applies to ``cart`` for ``customer`` at ``as_of``, with every reason if not.

    Parameters
    ----------
    coupon:
        An [`IssuedCoupon`][], or a [`CouponTemplate`][] used directly.
    cart, customer:
        The [`Cart`][] and [`CustomerContext`][].
    as_of:
        Timezone-aware instant of the check (windows are half-open).
    usage:
        The host's counters for the coupon ([`CouponUsage`][]), or a mapping keyed by code or
        template id; default: nothing used yet.
    alongside:
        Coupons already selected for this order: each one ``coupon`` may not stack with adds a
        ``NOT_COMBINABLE`` reason naming it (the discount stays the coupon's own, alone).
    tz:
        The shop's time zone, for a template whose ``validity.tz`` is not set: its calendar days
        (``starts_on``/``ends_on``, [`ConfigError`][] without any zone) and its audience
        rule's clock (``today()``, ``weekday(...)``; UTC without any zone). The zone ``as_of`` is
        written in never matters.

    Returns
    -------
    Eligibility
        ``eligible``, the discount the coupon gives alone, and the reasons (stable codes, numbers,
        bilingual messages, ``fixable``/``public`` flags).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops.coupons import Benefit, Cart, CartLine, Conditions, CouponTemplate, CustomerContext
    >>> tpl = CouponTemplate(id="199-20", currency="CNY", benefit=Benefit(kind="amount_off", amount="20 CNY"),
    ...                      conditions=Conditions(min_subtotal="199 CNY"))
    >>> cart = Cart(currency="CNY", lines=[CartLine(sku="tea", unit_price="187.00 CNY", quantity=1)])
    >>> result = check(tpl, cart, CustomerContext(id="c1"), as_of=datetime(2024, 6, 1, tzinfo=timezone.utc))
    >>> result.eligible, result.codes, result.reasons[0].shortfall
    (False, ('MIN_SPEND_NOT_MET',), Money('12.00', 'CNY'))
    >>> result.reasons[0].message_en.split(" (")[0], result.fixable
    ('spend 12.00 more', True)
    """
    as_of = require_aware(as_of)
    _check_inputs(cart, customer)
    facts = LineFacts.of(cart)
    _parts(coupon, 0)
    get_tz(tz)
    prepared = prepare(coupon, cart, customer, as_of=as_of, usage=usage, facts=facts, tz=tz)
    others = [_parts(other, i) for i, other in enumerate(_as_list(alongside, "alongside"))]
    conflicts = [_conflict(prepared, other) for other in others]
    same = sum(1 for key, _, other, _ in others if other.id == prepared.template.id and key != prepared.key)
    limit = prepared.template.limits.per_order
    if limit is not None and same >= limit:
        conflicts.append(
            make_reason(
                ReasonCode.PER_ORDER_LIMIT_REACHED,
                f"at most {limit} coupon(s) of {prepared.template.id} per order",
                f"每单最多使用{limit}张该券",
                limit=limit,
            )
        )
    reasons = prepared.reasons + tuple(reason for reason in conflicts if reason is not None)
    if len(reasons) > len(prepared.reasons):
        prepared = replace(prepared, reasons=reasons)
    return eligibility_of(prepared, cart.currency)


def _as_list(coupons: Any, name: str) -> list[Coupon]:
    if isinstance(coupons, (CouponTemplate, IssuedCoupon)) or not isinstance(coupons, Sequence):
        raise DataError(f"{name}: expected a list of coupons, got {type(coupons).__name__}")
    return list(coupons)


def _conflict(prepared: Prepared, other: tuple[str, str | None, CouponTemplate, str | None]) -> Reason | None:
    key, _, template, _ = other
    if key == prepared.key:
        return None  # the coupon itself, already in the selection
    probe = replace(prepared, key=key, template=template)
    if compatible(prepared, probe):
        return None
    return make_reason(
        ReasonCode.NOT_COMBINABLE,
        f"cannot be combined with {key}",
        f"不可与{key}同时使用",
        conflicts_with=key,
    )

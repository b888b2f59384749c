"""The arithmetic of applying coupons to a cart, in integer minor units.

A cart's state is, per line, the amount still payable and the units not yet discounted by an item
coupon, plus the shipping still payable. Applying a coupon computes its *effect* on a state (how much
comes off each line and shipping, which units it consumes) and subtracts it. Every effect is split
across lines with [`allocate`][] (largest remainder), so parts sum exactly to the
coupon's discount and, because a discount never exceeds the amount it is taken from, no line goes
below zero.

Each coupon's discount is a non-decreasing function of the state (more left to pay, more free units:
never less discount). Application only lowers the state, so a coupon never gives more inside a
combination than on its own at that point — the bound ``best_combination`` prunes with.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from user_ops._money import Currency, Rounding, allocate, round_ratio
from user_ops.coupons._model import (
    Benefit,
    BenefitKind,
    Cart,
    CashBackForm,
    CouponTemplate,
    PriceBase,
    Target,
)

__all__ = [
    "Effect",
    "LineFacts",
    "State",
    "apply_effect",
    "effect_of",
    "effect_total",
    "initial_state",
    "item_weights",
    "list_floors",
    "money_currency",
    "order_total",
    "shipping_total",
    "stage_of",
    "unit_savings",
]

ITEM_STAGE, ORDER_STAGE, SHIPPING_STAGE = 0, 1, 2
STAGE_NAMES = {ITEM_STAGE: "items", ORDER_STAGE: "order", SHIPPING_STAGE: "shipping"}


@dataclass(frozen=True)
class LineFacts:
    """The fixed numbers of a cart, per line (minor units)."""

    list_unit: tuple[int, ...]
    sale_unit: tuple[int, ...]
    quantity: tuple[int, ...]
    shipping: int

    @classmethod
    def of(cls, cart: Cart) -> LineFacts:
        return cls(
            tuple(line.unit_price.minor for line in cart.lines),
            tuple(line.unit_sale_minor for line in cart.lines),
            tuple(line.quantity for line in cart.lines),
            cart.shipping.minor,
        )


@dataclass(frozen=True)
class State:
    """What is left: payable amount and undiscounted units per line, payable shipping."""

    remaining: tuple[int, ...]
    free: tuple[int, ...]
    shipping: int

    @property
    def merchandise(self) -> int:
        return sum(self.remaining)


@dataclass(frozen=True)
class Effect:
    """What one coupon takes off a state."""

    lines: tuple[int, ...]
    units: tuple[int, ...]
    shipping: int
    base: int

    @property
    def total(self) -> int:
        return sum(self.lines) + self.shipping


def initial_state(facts: LineFacts) -> State:
    """The state of an untouched cart."""
    remaining = tuple(s * q for s, q in zip(facts.sale_unit, facts.quantity))
    return State(remaining, facts.quantity, facts.shipping)


def stage_of(template: CouponTemplate) -> int:
    """Item coupons first, then order coupons (gifts and cash-back included), then shipping."""
    return {Target.ITEMS: ITEM_STAGE, Target.ORDER: ORDER_STAGE, Target.SHIPPING: SHIPPING_STAGE}[
        template.target
    ]


def apply_effect(state: State, effect: Effect) -> State:
    """The state after ``effect``."""
    return State(
        tuple(r - d for r, d in zip(state.remaining, effect.lines)),
        tuple(f - u for f, u in zip(state.free, effect.units)),
        state.shipping - effect.shipping,
    )


@lru_cache(maxsize=1024)
def _percent_ratio(percent: Decimal) -> tuple[int, int]:
    numerator, denominator = percent.as_integer_ratio()
    return numerator, denominator * 100


@lru_cache(maxsize=64)
def money_currency(code: str) -> Currency:
    """One [`Currency`][] per code (building one parses and looks up the code)."""
    return Currency(code)


def _percent_of(amount: int, benefit: Benefit) -> int:
    assert benefit.percent is not None
    numerator, denominator = _percent_ratio(benefit.percent)
    return round_ratio(amount * numerator, denominator, benefit.rounding)


def _zero(n: int) -> tuple[int, ...]:
    return (0,) * n


def effect_of(template: CouponTemplate, eligible: tuple[bool, ...], facts: LineFacts, state: State) -> Effect:
    """The effect of ``template`` on ``state`` (lines flagged in ``eligible`` only)."""
    stage = stage_of(template)
    if stage == SHIPPING_STAGE:
        return _shipping_effect(template.benefit, facts, state)
    if stage == ITEM_STAGE:
        return _item_effect(template.benefit, eligible, facts, state)
    return _order_effect(template.benefit, eligible, facts, state)


def shipping_total(benefit: Benefit, facts: LineFacts, left: int) -> int:
    """What a shipping coupon takes off when ``left`` of the fee is still payable."""
    if benefit.kind is BenefitKind.FREE_SHIPPING:
        return left if benefit.amount is None else min(left, benefit.amount.minor)
    if benefit.kind is BenefitKind.AMOUNT_OFF:
        assert benefit.amount is not None
        return min(left, benefit.amount.minor)
    # percent off shipping: of the fee as charged now, or of the original fee (list base)
    base = left if benefit.base is PriceBase.DISCOUNTED else facts.shipping
    off = min(left, _percent_of(base, benefit))
    return off if benefit.cap is None else min(off, benefit.cap.minor)


def order_total(benefit: Benefit, base: int) -> int:
    """What an amount off or a percentage of the price paid takes off ``base`` (capped, never more)."""
    if benefit.kind is BenefitKind.PERCENT_OFF:
        return _percent_total(base, benefit)
    assert benefit.amount is not None
    return min(base, benefit.amount.minor)


def _shipping_effect(benefit: Benefit, facts: LineFacts, state: State) -> Effect:
    n = len(state.remaining)
    left = state.shipping
    return Effect(_zero(n), _zero(n), shipping_total(benefit, facts, left), left)


def _chosen_units(benefit: Benefit, eligible: tuple[bool, ...], facts: LineFacts, state: State) -> list[int]:
    """Units per line an item coupon would discount: every free eligible unit, or the ``max_units``
    units worth most to the customer (earlier lines first on ties)."""
    units = [state.free[i] if eligible[i] else 0 for i in range(len(eligible))]
    if benefit.max_units is None or sum(units) <= benefit.max_units:
        return units
    worth = [_unit_worth(benefit, facts, i) for i in range(len(units))]
    order = sorted((i for i in range(len(units)) if units[i]), key=lambda i: (-worth[i], i))
    left = benefit.max_units
    chosen = [0] * len(units)
    for i in order:
        take = min(units[i], left)
        chosen[i] = take
        left -= take
        if not left:
            break
    return chosen


def _unit_worth(benefit: Benefit, facts: LineFacts, i: int) -> int:
    sale, listed = facts.sale_unit[i], facts.list_unit[i]
    if benefit.kind is BenefitKind.FIXED_PRICE:
        assert benefit.amount is not None
        return max(0, sale - benefit.amount.minor)
    if benefit.kind is BenefitKind.PERCENT_OFF and benefit.base is PriceBase.LIST:
        return _list_part(1, listed, sale, benefit)
    return sale


def _item_effect(benefit: Benefit, eligible: tuple[bool, ...], facts: LineFacts, state: State) -> Effect:
    n = len(eligible)
    units = _chosen_units(benefit, eligible, facts, state)
    # Free units were never touched by another item coupon (item coupons run first), so their payable
    # amount is exactly units × sale price.
    weights = [u * facts.sale_unit[i] for i, u in enumerate(units)]
    base = sum(weights)
    kind = benefit.kind
    if kind is BenefitKind.FIXED_PRICE:
        assert benefit.amount is not None
        price = benefit.amount.minor
        parts = [u * max(0, facts.sale_unit[i] - price) for i, u in enumerate(units)]
    elif kind is BenefitKind.PERCENT_OFF and benefit.base is PriceBase.LIST:
        parts = _capped(
            [_list_part(u, facts.list_unit[i], weights[i], benefit) for i, u in enumerate(units)], benefit
        )
    elif base == 0:
        parts = [0] * n
    elif kind is BenefitKind.PERCENT_OFF:
        parts = allocate(_percent_total(base, benefit), weights)
    else:
        assert benefit.amount is not None
        parts = allocate(min(base, benefit.amount.minor), weights)
    consumed = tuple(u if p > 0 else 0 for u, p in zip(units, parts))
    return Effect(tuple(parts), consumed, 0, base)


def _list_part(units: int, list_unit: int, payable: int, benefit: Benefit) -> int:
    """Percent off the list price: ``units`` end at the lower of what is payable and ``units ×
    (list − p %)``, the unit price rounded once per unit (so a unit is worth the same on any line)."""
    assert benefit.percent is not None
    target = units * _unit_after_percent(list_unit, benefit.percent, benefit.rounding)
    return max(0, payable - max(0, target))


@lru_cache(maxsize=4096)
def _unit_after_percent(list_unit: int, percent: Decimal, rounding: Rounding) -> int:
    """A list price less its percentage, rounded once (the same for every state: computed once)."""
    numerator, denominator = _percent_ratio(percent)
    return list_unit - round_ratio(list_unit * numerator, denominator, rounding)


def _percent_total(base: int, benefit: Benefit) -> int:
    """A percentage of the price paid, capped: the discount is rounded once, then split once (an
    uncapped split split again by the cap would round twice and land a line off its exact share)."""
    total = min(base, _percent_of(base, benefit))
    return total if benefit.cap is None else min(total, benefit.cap.minor)


def _capped(parts: list[int], benefit: Benefit) -> list[int]:
    """Percent of the list price: each line's own part (the unit price rounded once per unit) is the
    line's base; a binding cap is spread over those parts in one allocation."""
    if benefit.cap is None or sum(parts) <= benefit.cap.minor:
        return parts
    return allocate(benefit.cap.minor, parts)


def _order_effect(benefit: Benefit, eligible: tuple[bool, ...], facts: LineFacts, state: State) -> Effect:
    n = len(eligible)
    weights = [state.remaining[i] if eligible[i] else 0 for i in range(n)]
    base = sum(weights)
    kind = benefit.kind
    if kind in (BenefitKind.GIFT, BenefitKind.CASH_BACK) or base == 0:
        return Effect(_zero(n), _zero(n), 0, base)
    if kind is BenefitKind.PERCENT_OFF and benefit.base is PriceBase.LIST:
        parts = _capped(
            [
                _list_part(facts.quantity[i], facts.list_unit[i], weights[i], benefit) if eligible[i] else 0
                for i in range(n)
            ],
            benefit,
        )
    else:
        parts = allocate(order_total(benefit, base), weights)
    return Effect(tuple(parts), _zero(n), 0, base)


def effect_total(template: CouponTemplate, eligible: tuple[bool, ...], facts: LineFacts, state: State) -> int:
    """``effect_of(...).total`` without splitting it across lines (the search's bound needs only this)."""
    benefit, stage = template.benefit, stage_of(template)
    if stage == SHIPPING_STAGE:
        return shipping_total(benefit, facts, state.shipping)
    kind = benefit.kind
    if stage == ORDER_STAGE:
        if kind in (BenefitKind.GIFT, BenefitKind.CASH_BACK):
            return 0
        index = [i for i, ok in enumerate(eligible) if ok]
        base = sum(state.remaining[i] for i in index)
        if kind is BenefitKind.PERCENT_OFF and benefit.base is PriceBase.LIST:
            total = sum(
                _list_part(facts.quantity[i], facts.list_unit[i], state.remaining[i], benefit) for i in index
            )
        else:
            return order_total(benefit, base)
    else:
        units = _chosen_units(benefit, eligible, facts, state)
        base = sum(u * facts.sale_unit[i] for i, u in enumerate(units))
        if kind is BenefitKind.FIXED_PRICE:
            assert benefit.amount is not None
            price = benefit.amount.minor
            total = sum(u * max(0, facts.sale_unit[i] - price) for i, u in enumerate(units))
        elif kind is BenefitKind.PERCENT_OFF and benefit.base is PriceBase.LIST:
            total = sum(
                _list_part(u, facts.list_unit[i], u * facts.sale_unit[i], benefit)
                for i, u in enumerate(units)
            )
        else:
            return order_total(benefit, base)
    return total if benefit.cap is None else min(total, benefit.cap.minor)


def item_weights(
    template: CouponTemplate, eligible: tuple[bool, ...], facts: LineFacts
) -> tuple[bool, tuple[int, ...]] | None:
    """An item coupon's discount as a function of the free units alone: ``(per_unit, weights)``.

    With ``per_unit`` (a fixed price, a percentage of the list price) the discount is
    ``min(Σ free × weight, cap)``: each unit saves the same whatever else happens. Otherwise (an amount
    off, a percentage of the price paid) it is [`order_total`][] of ``Σ free × weight`` (the sale
    prices). ``None`` with ``max_units`` (which units count depends on their worth) or off the items.
    """
    if template.benefit.max_units is not None:
        return None
    return unit_savings(template, eligible, facts)


def unit_savings(
    template: CouponTemplate, eligible: tuple[bool, ...], facts: LineFacts
) -> tuple[bool, tuple[int, ...]] | None:
    """[`item_weights`][] whatever ``max_units`` says: with ``per_unit`` False the weights are the
    sale prices (an amount off or a percentage never saves more than a unit costs)."""
    benefit = template.benefit
    if stage_of(template) != ITEM_STAGE or not gives_money_off(template):
        return None
    sale, listed = facts.sale_unit, facts.list_unit
    if benefit.kind is BenefitKind.FIXED_PRICE:
        assert benefit.amount is not None
        price = benefit.amount.minor
        return True, tuple(max(0, sale[i] - price) if ok else 0 for i, ok in enumerate(eligible))
    if benefit.kind is BenefitKind.PERCENT_OFF and benefit.base is PriceBase.LIST:
        assert benefit.percent is not None
        percent, rounding = benefit.percent, benefit.rounding
        return True, tuple(
            max(0, sale[i] - _unit_after_percent(listed[i], percent, rounding)) if ok else 0
            for i, ok in enumerate(eligible)
        )
    return False, tuple(sale[i] if ok else 0 for i, ok in enumerate(eligible))


def list_floors(
    template: CouponTemplate, eligible: tuple[bool, ...], facts: LineFacts
) -> tuple[tuple[int, int], ...] | None:
    """An order percentage of the list price: ``(line, unit price it ends at)`` of its eligible lines.

    Such a coupon takes a line down to ``quantity × that price`` at most (see ``_list_part``), so of
    several only the lowest price counts on each line. ``None`` for any other coupon.
    """
    benefit = template.benefit
    if (
        stage_of(template) != ORDER_STAGE
        or benefit.kind is not BenefitKind.PERCENT_OFF
        or benefit.base is not PriceBase.LIST
    ):
        return None
    assert benefit.percent is not None
    percent, rounding, listed = benefit.percent, benefit.rounding, facts.list_unit
    return tuple(
        (i, max(0, _unit_after_percent(listed[i], percent, rounding))) for i, ok in enumerate(eligible) if ok
    )


def extra_value(template: CouponTemplate) -> tuple[int, int]:
    """Non-price value of a coupon: (gift value + stored-value cash-back in minor units, points)."""
    benefit = template.benefit
    if benefit.kind is BenefitKind.GIFT:
        return (benefit.gift_value.minor if benefit.gift_value else 0), 0
    if benefit.kind is BenefitKind.CASH_BACK:
        if benefit.cash_back is CashBackForm.POINTS:
            return 0, benefit.points or 0
        return (benefit.amount.minor if benefit.amount else 0), 0
    return 0, 0


def gives_money_off(template: CouponTemplate) -> bool:
    """False for gifts and cash-back, whose value is not a price reduction."""
    return template.benefit.kind not in (BenefitKind.GIFT, BenefitKind.CASH_BACK)

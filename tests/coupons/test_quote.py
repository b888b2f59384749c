"""quote(): application order, exact splits, edge cases of money, stacking, trace, fingerprint, intents."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis import target as target_score

from user_ops import DataError, Money
from user_ops.coupons import (
    Benefit,
    Cart,
    CartLine,
    Conditions,
    CouponTemplate,
    CouponUsage,
    CustomerContext,
    IssuedCoupon,
    Limits,
    Quote,
    Stacking,
    Target,
    quote,
)

AS_OF = datetime(2024, 6, 15, 12, tzinfo=timezone.utc)
ALICE = CustomerContext(id="alice", tags=("vip",), order_count=2)


def line(sku: str, price: str, quantity: int = 1, currency: str = "CNY", **options: Any) -> CartLine:
    return CartLine(sku=sku, unit_price=f"{price} {currency}", quantity=quantity, **options)


def make_cart(*lines: CartLine, currency: str = "CNY", shipping: str = "0") -> Cart:
    return Cart(currency=currency, lines=lines, shipping_fee=f"{shipping} {currency}")


def tpl(id: str, benefit: Benefit, currency: str = "CNY", **options: Any) -> CouponTemplate:
    return CouponTemplate(id=id, currency=currency, benefit=benefit, **options)


def off(id: str, amount: str, currency: str = "CNY", **options: Any) -> CouponTemplate:
    return tpl(id, Benefit(kind="amount_off", amount=f"{amount} {currency}"), currency, **options)


def pct(id: str, percent: str, currency: str = "CNY", **benefit: Any) -> CouponTemplate:
    target = benefit.pop("target", None)
    options: dict[str, Any] = {"target": target} if target else {}
    for name in ("stacking", "conditions", "limits", "budget"):
        if name in benefit:
            options[name] = benefit.pop(name)
    return tpl(id, Benefit(kind="percent_off", percent=percent, **benefit), currency, **options)


def check_invariants(result: Quote, cart: Cart) -> None:
    """What every quote must satisfy, whatever the coupons."""
    for applied in result.applied:
        assert (
            sum(a.discount.minor for a in applied.lines) + applied.shipping_discount.minor
            == applied.discount.minor
        )
        assert all(a.discount.minor >= 0 for a in applied.lines)
    for quoted, cart_line in zip(result.lines, cart.lines):
        assert 0 <= quoted.discount.minor <= cart_line.subtotal.minor
        assert quoted.total.minor == cart_line.subtotal.minor - quoted.discount.minor
        assert quoted.discount.minor == sum(
            a.discount.minor for ap in result.applied for a in ap.lines if a.line_id == quoted.line_id
        )
        consumed = sum(a.units for ap in result.applied for a in ap.lines if a.line_id == quoted.line_id)
        assert consumed <= cart_line.quantity  # a unit is never discounted by two item coupons
    assert 0 <= result.shipping_discount.minor <= cart.shipping.minor
    assert result.discount == result.merchandise_discount + result.shipping_discount
    assert 0 <= result.discount.minor <= cart.total.minor
    assert result.total == cart.total - result.discount
    assert len(result.applied) + len(result.rejected) >= 0


# -- application order ----------------------------------------------------------------------------------
def test_item_coupons_apply_before_order_coupons_then_shipping() -> None:
    cart = make_cart(line("a", "100.00", category="tea"), line("b", "50.00"), shipping="10")
    tea10 = pct("tea10", "10", target="items", conditions=Conditions(include_categories=("tea",)))
    order20 = pct("order20", "20")
    ship = tpl("ship", Benefit(kind="free_shipping"))
    result = quote(cart, ALICE, [ship, order20, tea10], as_of=AS_OF)
    assert result.applied_keys == ("tea10", "order20", "ship")
    assert [str(a.discount) for a in result.applied] == ["10.00 CNY", "28.00 CNY", "10.00 CNY"]
    assert result.applied[1].base == Money("140", "CNY")  # 20 % of what is left after the item coupon
    assert result.total == Money("112", "CNY")
    check_invariants(result, cart)


def test_priority_orders_coupons_inside_a_stage() -> None:
    cart = make_cart(line("a", "100"))
    first = off("z-first", "10", stacking=Stacking(priority=9))
    second = pct("a-second", "50")
    result = quote(cart, ALICE, [second, first], as_of=AS_OF)
    assert result.applied_keys == ("z-first", "a-second")
    assert result.discount == Money("55", "CNY")  # 10, then half of 90


def test_allocation_is_largest_remainder_and_sums_exactly() -> None:
    cart = make_cart(line("a", "10.00"), line("b", "10.00"), line("c", "10.00"))
    result = quote(cart, ALICE, [off("ten", "10")], as_of=AS_OF)
    assert [str(a.discount) for a in result.applied[0].lines] == ["3.34 CNY", "3.33 CNY", "3.33 CNY"]
    check_invariants(result, cart)


# -- money edge cases ---------------------------------------------------------------------------------
def test_discount_larger_than_the_cart_never_goes_below_zero() -> None:
    cart = make_cart(line("a", "3.00"), line("b", "0.00"), shipping="5")
    result = quote(cart, ALICE, [off("big", "100")], as_of=AS_OF)
    assert result.merchandise_discount == Money("3", "CNY")
    assert [str(q.total) for q in result.lines] == ["0.00 CNY", "0.00 CNY"]
    assert result.total == Money("5", "CNY")  # shipping is not merchandise
    check_invariants(result, cart)


def test_percent_cap_reached() -> None:
    cart = make_cart(line("a", "300"), line("b", "100"))
    result = quote(cart, ALICE, [pct("p", "20", cap="50 CNY")], as_of=AS_OF)
    assert result.discount == Money("50", "CNY")
    assert [str(a.discount) for a in result.applied[0].lines] == ["37.50 CNY", "12.50 CNY"]


def test_percent_cap_not_reached() -> None:
    result = quote(make_cart(line("a", "100")), ALICE, [pct("p", "20", cap="50 CNY")], as_of=AS_OF)
    assert result.discount == Money("20", "CNY")


def test_percent_on_list_price_does_not_stack_on_a_sale_the_saleor_free_order_bug() -> None:
    # List 100, on sale for 60. "50 % off the list price" must price it at 50 (10 off), never at 0.
    cart = make_cart(line("a", "100", discounted_price="60 CNY"))
    on_list = quote(cart, ALICE, [pct("list50", "50", base="list", target="items")], as_of=AS_OF)
    assert on_list.discount == Money("10", "CNY") and on_list.total == Money("50", "CNY")
    deeper_sale = make_cart(line("a", "100", discounted_price="40 CNY"))
    assert quote(deeper_sale, ALICE, [pct("list50", "50", base="list")], as_of=AS_OF).discount == Money.zero(
        "CNY"
    )
    on_sale = quote(cart, ALICE, [pct("sale50", "50", target="items")], as_of=AS_OF)
    assert on_sale.discount == Money("30", "CNY")  # 50 % of the discounted price
    assert quote(cart, ALICE, [pct("all", "100", target="items")], as_of=AS_OF).total == Money.zero("CNY")


def test_a_unit_is_not_discounted_by_two_item_coupons() -> None:
    cart = make_cart(line("a", "50", quantity=3))
    one_unit = tpl("fix", Benefit(kind="fixed_price", amount="9.90 CNY", max_units=1))
    all_units = pct("half", "50", target="items")
    result = quote(cart, ALICE, [all_units, one_unit], as_of=AS_OF)
    assert result.applied_keys == ("fix", "half")  # key order inside the item stage
    fix, half = result.applied
    assert fix.lines[0].units == 1 and fix.discount == Money("40.10", "CNY")
    assert half.lines[0].units == 2 and half.discount == Money("50", "CNY")  # the two units left
    check_invariants(result, cart)
    # A second coupon on the only unit has nothing left to discount.
    again = quote(make_cart(line("a", "50")), ALICE, [one_unit, all_units], as_of=AS_OF)
    assert again.applied_keys == ("fix",)
    assert again.rejected_reasons() == {"half": ("NO_DISCOUNT",)}


def test_order_coupon_after_item_coupon_takes_from_what_is_left() -> None:
    cart = make_cart(line("a", "50", quantity=2))
    item = off("item30", "30", target="items")
    order = off("order80", "80")
    result = quote(cart, ALICE, [order, item], as_of=AS_OF)
    assert result.discount == Money("100", "CNY")
    assert result.applied[1].discount == Money("70", "CNY")  # only 70 was left
    check_invariants(result, cart)


def test_max_units_picks_the_units_worth_most() -> None:
    cart = make_cart(line("cheap", "20"), line("dear", "80"), line("mid", "50"))
    two = off("two", "1000", target="items").model_copy(
        update={"benefit": Benefit(kind="amount_off", amount="1000 CNY", max_units=2)}
    )
    result = quote(cart, ALICE, [two], as_of=AS_OF)
    assert {a.line_id: a.units for a in result.applied[0].lines} == {"dear": 1, "mid": 1}
    assert result.discount == Money("130", "CNY")


@pytest.mark.parametrize(
    ("currency", "prices", "amount", "expected"),
    [
        ("JPY", ("1000", "1000", "1000"), "100", ["34", "33", "33"]),
        ("KWD", ("1.000", "1.000", "1.000"), "0.100", ["0.034", "0.033", "0.033"]),
        ("CNY", ("1.00", "1.00", "1.00"), "0.10", ["0.04", "0.03", "0.03"]),
    ],
)
def test_zero_and_three_decimal_currencies_split_exactly(
    currency: str, prices: tuple[str, ...], amount: str, expected: list[str]
) -> None:
    cart = make_cart(*(line(f"l{i}", p, currency=currency) for i, p in enumerate(prices)), currency=currency)
    result = quote(cart, ALICE, [off("o", amount, currency)], as_of=AS_OF)
    assert [a.discount.currency.format_minor(a.discount.minor) for a in result.applied[0].lines] == expected
    check_invariants(result, cart)


def test_percent_rounding_in_jpy_and_kwd() -> None:
    jpy = make_cart(line("a", "999", currency="JPY"), currency="JPY")
    assert quote(jpy, ALICE, [pct("p", "15", "JPY")], as_of=AS_OF).discount == Money(150, "JPY")  # 149.85
    down = pct("p", "15", "JPY", rounding="down")
    assert quote(jpy, ALICE, [down], as_of=AS_OF).discount == Money(149, "JPY")
    kwd = make_cart(line("a", "1.005", currency="KWD"), currency="KWD")
    assert quote(kwd, ALICE, [pct("p", "10", "KWD")], as_of=AS_OF).discount == Money("0.101", "KWD")  # 0.1005


def test_shipping_coupons() -> None:
    cart = make_cart(line("a", "10"), shipping="12")
    capped = tpl("ship8", Benefit(kind="free_shipping", amount="8 CNY"))
    assert quote(cart, ALICE, [capped], as_of=AS_OF).shipping_discount == Money("8", "CNY")
    ship_off = off("ship5", "5", target="shipping")
    result = quote(cart, ALICE, [ship_off, tpl("free", Benefit(kind="free_shipping"))], as_of=AS_OF)
    assert result.shipping_discount == Money("12", "CNY") and result.merchandise_discount == Money.zero("CNY")
    check_invariants(result, cart)


def test_gift_and_cash_back_ride_along() -> None:
    cart = make_cart(line("a", "100"))
    gift = tpl("gift", Benefit(kind="gift", gift_sku="cup", gift_quantity=2, gift_value="30 CNY"))
    points = tpl("pts", Benefit(kind="cash_back", cash_back="points", points=500))
    stored = tpl("sv", Benefit(kind="cash_back", cash_back="stored_value", amount="8 CNY"))
    result = quote(cart, ALICE, [gift, points, stored], as_of=AS_OF)
    assert result.gifts == (("cup", 2),)
    assert result.cash_back_points == 500 and result.cash_back == Money("8", "CNY")
    assert result.discount == Money.zero("CNY")


# -- stacking --------------------------------------------------------------------------------------------
def test_exclusive_coupon_wins_by_priority_and_blocks_the_rest() -> None:
    cart = make_cart(line("a", "100"))
    solo = off("solo", "30", stacking=Stacking(exclusive=True, priority=5))
    result = quote(cart, ALICE, [off("other", "10"), solo], as_of=AS_OF)
    assert result.applied_keys == ("solo",)
    (rejected,) = result.rejected
    assert rejected.codes == ("NOT_COMBINABLE",) and rejected.reasons[0].details["conflicts_with"] == "solo"


def test_group_allows_one_coupon() -> None:
    cart = make_cart(line("a", "100"))
    a = off("a", "10", stacking=Stacking(group="platform"))
    b = off("b", "20", stacking=Stacking(group="platform"))
    c = off("c", "5", stacking=Stacking(group="store"))
    result = quote(cart, ALICE, [b, a, c], as_of=AS_OF)
    assert result.applied_keys == ("a", "c")  # same priority: the smaller key is considered first
    assert result.rejected_reasons() == {"b": ("NOT_COMBINABLE",)}


def test_combinable_with_list_by_id_or_group_both_sides() -> None:
    cart = make_cart(line("a", "100"), shipping="10")
    picky = off("picky", "10", stacking=Stacking(combinable_with=("ship",)))
    ship = tpl("ship", Benefit(kind="free_shipping"))
    other = off("other", "5", stacking=Stacking(group="store"))
    assert quote(cart, ALICE, [picky, ship], as_of=AS_OF).applied_keys == ("picky", "ship")
    assert quote(cart, ALICE, [picky, other], as_of=AS_OF).applied_keys == ("other",)  # "o" < "p"
    by_group = off("picky", "10", stacking=Stacking(combinable_with=("store",)))
    assert quote(cart, ALICE, [by_group, other], as_of=AS_OF).applied_keys == ("other", "picky")


def test_per_order_limit_and_duplicate_codes() -> None:
    cart = make_cart(line("a", "100"))
    base = off("t", "10", validity={"days": 30})
    c1 = IssuedCoupon.issue(base, code="A", owner="alice", issued_at=AS_OF - timedelta(days=1))
    c2 = IssuedCoupon.issue(base, code="B", owner="alice", issued_at=AS_OF - timedelta(days=1))
    result = quote(cart, ALICE, [c1, c2, c1], as_of=AS_OF)
    assert result.applied_keys == ("A",)
    assert result.rejected_reasons() == {"B": ("PER_ORDER_LIMIT_REACHED",), "A": ("DUPLICATE_COUPON",)}
    two = off("t", "10", limits=Limits(per_order=2))
    d1 = IssuedCoupon.issue(two, code="A", owner="alice", issued_at=AS_OF)
    d2 = IssuedCoupon.issue(two, code="B", owner="alice", issued_at=AS_OF)
    assert quote(cart, ALICE, [d1, d2], as_of=AS_OF).discount == Money("20", "CNY")


def test_budget_shared_by_two_coupons_of_one_template() -> None:
    cart = make_cart(line("a", "100"))
    budgeted = off("t", "10", limits=Limits(per_order=2), budget="100 CNY")
    d1 = IssuedCoupon.issue(budgeted, code="A", owner="alice", issued_at=AS_OF)
    d2 = IssuedCoupon.issue(budgeted, code="B", owner="alice", issued_at=AS_OF)
    usage = {"t": CouponUsage(budget_spent=Money("85", "CNY"))}
    result = quote(cart, ALICE, [d1, d2], as_of=AS_OF, usage=usage)
    assert result.applied_keys == ("A",)
    assert result.rejected_reasons() == {"B": ("BUDGET_EXHAUSTED",)}


def test_a_rejected_coupon_frees_its_conflicts() -> None:
    # "useless" would win the group but takes nothing (no shipping): it is dropped and "useful" applies.
    cart = make_cart(line("a", "100"))
    useless = tpl("useless", Benefit(kind="free_shipping"), stacking=Stacking(group="g", priority=9))
    useful = off("useful", "10", stacking=Stacking(group="g"))
    result = quote(cart, ALICE, [useless, useful], as_of=AS_OF)
    assert result.applied_keys == ("useful",)
    assert result.rejected_reasons() == {"useless": ("NO_DISCOUNT",)}


def test_ineligible_coupons_are_rejected_with_their_check_reasons() -> None:
    cart = make_cart(line("a", "100"))
    high = off("high", "50", conditions=Conditions(min_subtotal="299 CNY"))
    result = quote(cart, ALICE, [high, off("ok", "5")], as_of=AS_OF)
    assert result.applied_keys == ("ok",)
    (rejected,) = result.rejected
    assert rejected.codes == ("MIN_SPEND_NOT_MET",) and rejected.reasons[0].shortfall == Money("199", "CNY")


# -- trace, fingerprint, documents -------------------------------------------------------------------------
def test_trace_tells_the_story_in_order() -> None:
    cart = make_cart(line("a", "100"), shipping="10")
    coupons = [
        off("x", "500", conditions=Conditions(min_subtotal="999 CNY")),
        off("o", "10"),
        tpl("s", Benefit(kind="free_shipping")),
    ]
    result = quote(cart, ALICE, coupons, as_of=AS_OF)
    steps = [(t.step, t.key, t.action) for t in result.trace]
    assert steps == [
        (1, "x", "rejected"),
        (2, "o", "checked"),
        (3, "s", "checked"),
        (4, "o", "applied"),
        (5, "s", "applied"),
    ]
    assert result.trace[3].merchandise_left == Money("90", "CNY")
    assert result.trace[4].shipping_left == Money.zero("CNY")


def test_fingerprint_is_stable_and_sensitive() -> None:
    cart = make_cart(line("a", "100"))
    first = quote(cart, ALICE, [off("o", "10")], as_of=AS_OF)
    again = quote(make_cart(line("a", "100")), ALICE, [off("o", "10")], as_of=AS_OF)
    assert first.fingerprint == again.fingerprint and len(first.fingerprint) == 64
    assert quote(cart, ALICE, [off("o", "11")], as_of=AS_OF).fingerprint != first.fingerprint
    assert (
        quote(cart, ALICE, [off("o", "10")], as_of=AS_OF + timedelta(seconds=1)).fingerprint
        != first.fingerprint
    )
    other = CustomerContext(id="bob")
    assert quote(cart, other, [off("o", "10")], as_of=AS_OF).fingerprint != first.fingerprint


def test_quote_serialises_and_renders() -> None:
    cart = make_cart(line("a", "100"), shipping="10")
    result = quote(cart, ALICE, [off("o", "10"), off("x", "1", currency="USD")], as_of=AS_OF)
    document = json.loads(json.dumps(result.to_dict()))
    assert document["total"] == "100.00 CNY" and document["rejected"][0]["key"] == "x"
    assert "o" in str(result) and "<table>" in result._repr_html_()


def test_redemption_intent_lists_every_counter() -> None:
    cart = make_cart(line("a", "100"), shipping="10")
    capped = off("t", "10", limits=Limits(total=50, per_customer=2), budget="500 CNY")
    coupon = IssuedCoupon.issue(capped, code="C-7", owner="alice", issued_at=AS_OF)
    ship = tpl("ship", Benefit(kind="free_shipping"))
    intent = quote(cart, ALICE, [coupon, ship], as_of=AS_OF).redemption_intent(order_id="o-42")
    assert [(m.key, m.amount, m.limit) for m in intent.counters] == [
        ("coupon:t:total", 1, 50),
        ("coupon:t:customer:alice", 1, 2),
        ("coupon:t:order:o-42", 1, 1),
        ("coupon:t:budget", 1000, 50000),
        ("coupon:ship:total", 1, None),
        ("coupon:ship:customer:alice", 1, None),
        ("coupon:ship:order:o-42", 1, 1),
        ("code:C-7", 1, 1),
    ]


def test_redemption_intent_needs_an_order_and_a_coupon() -> None:
    cart = make_cart(line("a", "100"))
    with pytest.raises(DataError, match="order_id must be a non-empty string"):
        quote(cart, ALICE, [off("o", "10")], as_of=AS_OF).redemption_intent(order_id="")
    with pytest.raises(DataError, match="nothing to redeem"):
        quote(cart, ALICE, [], as_of=AS_OF).redemption_intent(order_id="o-1")


def test_redemption_intent_moves_the_gift_value_out_of_the_budget() -> None:
    cart = make_cart(line("a", "100"))
    gift = tpl("gift", Benefit(kind="gift", gift_sku="cup", gift_value="25 CNY"), budget="1000 CNY")
    intent = quote(cart, ALICE, [gift], as_of=AS_OF).redemption_intent(order_id="o-1")
    assert ("coupon:gift:budget", 2500) in [(m.key, m.amount) for m in intent.counters]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: quote(make_cart(line("a", "1")), ALICE, off("o", "1"), as_of=AS_OF),
            "coupons: expected a list",
        ),
        (lambda: quote(make_cart(line("a", "1")), ALICE, [off("o", "1"), 7], as_of=AS_OF), r"coupons\[1\]"),
        (lambda: quote(make_cart(line("a", "1")), ALICE, [], as_of=datetime(2024, 1, 1)), "naive"),
    ],
)
def test_bad_quote_input(call: Any, message: str) -> None:
    with pytest.raises(DataError, match=message):
        call()


# -- properties ----------------------------------------------------------------------------------------------
CURRENCIES = {"CNY": 2, "JPY": 0, "KWD": 3}


@st.composite
def carts(draw: st.DrawFn, currency: str | None = None) -> Cart:
    code = currency or draw(st.sampled_from(sorted(CURRENCIES)))
    n = draw(st.integers(1, 5))
    lines = []
    for i in range(n):
        price = draw(st.integers(0, 50_000))
        sale = draw(st.one_of(st.none(), st.integers(0, price)))
        lines.append(
            CartLine(
                sku=f"s{i}",
                category=draw(st.sampled_from(["tea", "ware", "food"])),
                unit_price=Money.from_minor(price, code),
                quantity=draw(st.integers(1, 4)),
                discountable=draw(st.booleans()) or draw(st.booleans()),
                discounted_price=None if sale is None else Money.from_minor(sale, code),
            )
        )
    shipping = Money.from_minor(draw(st.integers(0, 2_000)), code)
    return Cart(currency=code, lines=tuple(lines), shipping_fee=shipping)


@st.composite
def templates(draw: st.DrawFn, currency: str, ident: str) -> CouponTemplate:
    kind = draw(
        st.sampled_from(["amount_off", "percent_off", "fixed_price", "free_shipping", "gift", "cash_back"])
    )
    money = st.integers(1, 60_000).map(lambda m: Money.from_minor(m, currency))
    benefit: dict[str, Any] = {"kind": kind}
    target: str | None = None
    if kind == "amount_off":
        benefit["amount"] = draw(money)
        target = draw(st.sampled_from(["order", "items", "shipping"]))
    elif kind == "percent_off":
        benefit["percent"] = str(draw(st.integers(1, 100)))
        benefit["cap"] = draw(st.one_of(st.none(), money))
        benefit["base"] = draw(st.sampled_from(["list", "discounted"]))
        target = draw(st.sampled_from(["order", "items", "shipping"]))
    elif kind == "fixed_price":
        benefit["amount"] = Money.from_minor(draw(st.integers(0, 30_000)), currency)
    elif kind == "free_shipping":
        benefit["amount"] = draw(st.one_of(st.none(), money))
    elif kind == "gift":
        benefit.update(gift_sku="gift", gift_value=draw(st.one_of(st.none(), money)))
    else:
        benefit.update(cash_back="points", points=draw(st.integers(1, 500)))
    if target == "items" or kind == "fixed_price":
        benefit["max_units"] = draw(st.one_of(st.none(), st.integers(1, 5)))
    restricted = draw(st.integers(0, 3)) == 0  # most coupons apply to the whole cart
    categories = draw(st.lists(st.sampled_from(["tea", "ware", "food"]), min_size=1, max_size=2))
    conditions = Conditions(
        include_categories=tuple(categories) if restricted else (),
        exclude_discounted=draw(st.integers(0, 3)) == 0,
    )
    stacking = Stacking(
        exclusive=draw(st.integers(0, 6)) == 0,
        group=draw(st.sampled_from([None, None, "g1", "g2"])),
        priority=draw(st.integers(0, 2)),
    )
    return CouponTemplate(
        id=ident,
        currency=currency,
        benefit=Benefit(**benefit),
        target=Target(target) if target else None,
        conditions=conditions,
        stacking=stacking,
        budget=draw(st.one_of(st.none(), st.none(), st.none(), money)),
    )


@st.composite
def scenarios(draw: st.DrawFn, max_coupons: int = 6) -> tuple[Cart, list[CouponTemplate | IssuedCoupon]]:
    """A cart and coupons: templates used directly, and sometimes several issued codes of one template."""
    cart = draw(carts())
    n = draw(st.integers(1, max_coupons))
    coupons: list[CouponTemplate | IssuedCoupon] = []
    while len(coupons) < n:
        template = draw(templates(cart.currency, f"c{len(coupons)}"))
        copies = min(draw(st.sampled_from([1, 1, 1, 2, 3])), n - len(coupons))
        if copies == 1 and draw(st.booleans()):
            coupons.append(template)
            continue
        per_order = draw(st.sampled_from([None, 1, 2]))
        template = template.model_copy(update={"limits": Limits(per_order=per_order)})
        for k in range(copies):
            code = f"{template.id}-{k}"
            coupons.append(IssuedCoupon.issue(template, code=code, owner="alice", issued_at=AS_OF))
    return cart, coupons


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_property_every_quote_keeps_the_money_invariants(
    scenario: tuple[Cart, list[CouponTemplate | IssuedCoupon]],
) -> None:
    cart, coupons = scenario
    result = quote(cart, ALICE, coupons, as_of=AS_OF)
    check_invariants(result, cart)
    assert len(result.applied) + len(result.rejected) == len(coupons)


@settings(max_examples=150, deadline=None)
@given(carts(), st.data())
def test_property_one_amount_coupon_splits_exactly_without_negative_lines(
    cart: Cart, data: st.DataObject
) -> None:
    amount = data.draw(st.integers(1, 500_000))
    coupon = CouponTemplate(
        id="o",
        currency=cart.currency,
        benefit=Benefit(kind="amount_off", amount=Money.from_minor(amount, cart.currency)),
    )
    result = quote(cart, ALICE, [coupon], as_of=AS_OF)
    check_invariants(result, cart)
    discountable = sum(line.subtotal.minor for line in cart.lines if line.discountable)
    assert result.discount.minor == min(amount, discountable)


def test_list_price_percentage_rounds_the_unit_price_once_per_unit() -> None:
    # 15 % of 0.10 is 0.015 → 0.02 a unit (half up), so three units take 0.06, not round(0.045) = 0.05:
    # a unit is worth the same whichever line or how many units it comes with.
    cart = make_cart(line("a", "0.99", quantity=3), line("b", "0.10", quantity=3))
    result = quote(cart, ALICE, [pct("list15", "15", base="list", target="items")], as_of=AS_OF)
    assert [str(a.discount) for a in result.applied[0].lines] == ["0.45 CNY", "0.06 CNY"]


# -- capped percentages split once (issue 12) ----------------------------------------------------------------
def test_capped_percent_splits_the_capped_total_once_over_the_lines() -> None:
    # 7 % of 578.12 is 40.47, capped at 28.44. Exact shares of 28.44 over the lines:
    #   86.80 → 4.2700, 30.00 → 1.4758, 211.80 → 10.4193, 249.52 → 12.2749 (×28.44/578.12)
    # floors 4.27 + 1.47 + 10.41 + 12.27 = 28.42; the two cents left go to the largest remainders
    # (10.4193 → .93, 1.4758 → .58): 4.27 / 1.48 / 10.42 / 12.27. Splitting the already rounded
    # uncapped parts (6.07 / 2.10 / 14.83 / 17.47) again gave 4.26 / 1.48 / 10.42 / 12.28.
    cart = make_cart(line("a", "86.80"), line("b", "30.00"), line("c", "211.80"), line("d", "249.52"))
    for target in ("order", "items"):
        result = quote(cart, ALICE, [pct("p7", "7", cap="28.44 CNY", target=target)], as_of=AS_OF)
        assert result.discount == Money("28.44", "CNY")
        assert [str(a.discount) for a in result.applied[0].lines] == [
            "4.27 CNY",
            "1.48 CNY",
            "10.42 CNY",
            "12.27 CNY",
        ]


def test_tmall_style_capped_discount_on_a_three_line_order() -> None:
    # 全场8折 最高减50 on 199 + 129 + 59 = 387.00: 20 % is 77.40, capped at 50.00.
    # Shares of 50.00: 199 → 25.7106, 129 → 16.6667, 59 → 7.6227; floors 25.71 + 16.66 + 7.62 = 49.99,
    # the cent left goes to the largest remainder (16.6667 → .67): 25.71 / 16.67 / 7.62.
    cart = make_cart(line("dress", "199"), line("scarf", "129"), line("socks", "59"))
    result = quote(cart, ALICE, [pct("80pct-cap50", "20", cap="50 CNY")], as_of=AS_OF)
    assert [str(a.discount) for a in result.applied[0].lines] == ["25.71 CNY", "16.67 CNY", "7.62 CNY"]
    assert result.total == Money("337", "CNY")


def _line_bases(template: CouponTemplate, cart: Cart) -> list[int]:
    """What each line's share of a lone coupon is proportional to, worked out without the engine.

    Amount off and percent of the price paid: the eligible line's payable amount. Percent of the list
    price: the line's own uncapped part (the unit price rounded once per unit). Fixed price: the exact
    per-line saving. Other kinds take nothing off lines.
    """
    from user_ops._money import round_ratio

    benefit, conditions = template.benefit, template.conditions
    bases = []
    for cart_line in cart.lines:
        if not conditions.line_eligible(cart_line) or template.target is Target.SHIPPING:
            bases.append(0)
            continue
        quantity, sale, listed = cart_line.quantity, cart_line.unit_sale_minor, cart_line.unit_price.minor
        if benefit.kind.value == "fixed_price":
            assert benefit.amount is not None
            bases.append(quantity * max(0, sale - benefit.amount.minor))
        elif benefit.kind.value == "percent_off" and benefit.base.value == "list":
            assert benefit.percent is not None
            numerator, denominator = benefit.percent.as_integer_ratio()
            unit_off = round_ratio(listed * numerator, denominator * 100, benefit.rounding)
            bases.append(max(0, quantity * sale - max(0, quantity * (listed - unit_off))))
        elif benefit.kind.value in ("amount_off", "percent_off"):
            bases.append(quantity * sale)
        else:
            bases.append(0)
    return bases


@settings(max_examples=300, deadline=None)
@given(carts(), st.data())
def test_property_every_line_gets_its_exact_share_within_one_minor_unit(
    cart: Cart, data: st.DataObject
) -> None:
    template = data.draw(templates(cart.currency, "t"))
    # max_units picks units by their worth; the share property is about the split, so take every unit.
    template = template.model_copy(
        update={"benefit": template.benefit.model_copy(update={"max_units": None}), "budget": None}
    )
    result = quote(cart, ALICE, [template], as_of=AS_OF)
    check_invariants(result, cart)
    if not result.applied:
        return
    (applied,) = result.applied
    bases = _line_bases(template, cart)
    parts = {a.line_id: a.discount.minor for a in applied.lines}
    got = [parts.get(cart_line.line_id, 0) for cart_line in cart.lines]
    merchandise = applied.discount.minor - applied.shipping_discount.minor
    assert sum(got) == merchandise
    whole = sum(bases)
    if whole == 0:
        assert merchandise == 0
        return
    for part, base, cart_line in zip(got, bases, cart.lines):
        # |part - merchandise × base / whole| < 1 minor unit, in integers
        assert abs(part * whole - merchandise * base) < whole, (template.benefit, bases, got)
        assert 0 <= part <= cart_line.subtotal.minor


@settings(max_examples=400, deadline=None)
@example(prices=[1027, 6939, 6939, 7746], percent=66, cap_per_mille=7744, target="order")
@given(
    st.lists(st.integers(1, 60_000), min_size=2, max_size=8),
    st.integers(1, 99),
    st.integers(1, 10_000),
    st.sampled_from(["order", "items"]),
)
def test_property_capped_percent_shares_are_exact_within_one_minor_unit(
    prices: list[int], percent: int, cap_per_mille: int, target: str
) -> None:
    # Double rounding is off by more than a unit only for some numbers: the search is steered towards
    # the largest deviation (hypothesis.target), which finds them within a few hundred examples.
    cart = make_cart(
        *(
            CartLine(sku=f"l{i}", unit_price=Money.from_minor(p, "CNY"), quantity=1)
            for i, p in enumerate(prices)
        )
    )
    whole = sum(prices)
    cap = max(1, whole * percent * cap_per_mille // 1_000_000)  # anywhere below the uncapped discount
    template = pct("p", str(percent), cap=Money.from_minor(cap, "CNY"), target=target)
    result = quote(cart, ALICE, [template], as_of=AS_OF)
    check_invariants(result, cart)
    if not result.applied:  # a percentage of a few minor units can round to nothing
        return
    by_line = {a.line_id: a.discount.minor for a in result.applied[0].lines}
    parts = [by_line.get(cart_line.line_id, 0) for cart_line in cart.lines]
    discount = result.discount.minor
    assert sum(parts) == discount
    worst = max(abs(part * whole - discount * price) for part, price in zip(parts, prices))
    target_score(worst / whole, label="deviation in minor units")
    assert worst < whole, (prices, parts, discount)

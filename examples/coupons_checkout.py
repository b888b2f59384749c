"""A checkout page with coupons: why each coupon does (not) apply, the best combination, the quote.

Run ``python examples/coupons_checkout.py``. A tea shop's cart, a gold member, and a wallet of seven
coupons (满减 with thresholds, a capped list-price percentage on tea, free shipping for members, a
newcomer coupon, an expired one, someone else's code, a gift). It prints each coupon's check with
its reasons (internal and public views), the best combination, the priced cart line by line with the
trace, and the counters a redemption would reserve.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from user_ops.coupons import (
    Benefit,
    Cart,
    CartLine,
    Conditions,
    CouponTemplate,
    CustomerContext,
    IssuedCoupon,
    Limits,
    Stacking,
    Validity,
    best_combination,
    check,
)

AS_OF = datetime(2024, 6, 15, 20, 30, tzinfo=timezone.utc)


def shop_cart() -> Cart:
    return Cart(
        currency="CNY",
        channel="miniprogram",
        shipping_fee="12.00 CNY",
        lines=[
            CartLine(
                sku="longjing-250g",
                category="tea",
                tags=("green",),
                unit_price="128.00 CNY",
                quantity=1,
            ),
            CartLine(
                sku="pu-erh-cake",
                category="tea",
                unit_price="89.00 CNY",
                quantity=2,
                discounted_price="69.00 CNY",
            ),
            CartLine(sku="gaiwan", category="ware", unit_price="45.00 CNY", quantity=1),
            CartLine(
                sku="gift-card-100",
                category="card",
                unit_price="100.00 CNY",
                quantity=1,
                discountable=False,
            ),
        ],
    )


def wallet(customer: CustomerContext) -> list[CouponTemplate | IssuedCoupon]:
    issued_at = AS_OF - timedelta(days=3)
    full300 = CouponTemplate(
        id="300-40",
        currency="CNY",
        label_zh="满300减40",
        benefit=Benefit(kind="amount_off", amount="40 CNY"),
        conditions=Conditions(min_subtotal="300 CNY"),
        stacking=Stacking(group="store"),
    )
    full199 = CouponTemplate(
        id="199-20",
        currency="CNY",
        benefit=Benefit(kind="amount_off", amount="20 CNY"),
        conditions=Conditions(min_subtotal="199 CNY"),
        stacking=Stacking(group="store"),
    )
    tea = CouponTemplate(
        id="tea-15pct",
        currency="CNY",
        target="items",
        benefit=Benefit(kind="percent_off", percent="15", cap="25 CNY", base="list"),
        conditions=Conditions(include_categories=("tea",)),
        budget="5000 CNY",
        limits=Limits(total=2000, per_customer=1),
    )
    ship = CouponTemplate(
        id="member-ship",
        currency="CNY",
        benefit=Benefit(kind="free_shipping"),
        audience='tier in ["gold", "platinum"] or tags contains "vip"',
    )
    newcomer = CouponTemplate(
        id="new-30",
        currency="CNY",
        benefit=Benefit(kind="amount_off", amount="30 CNY"),
        conditions=Conditions(first_order_only=True),
        stacking=Stacking(exclusive=True),
    )
    spring = CouponTemplate(
        id="spring-25",
        currency="CNY",
        benefit=Benefit(kind="amount_off", amount="25 CNY"),
        validity=Validity(ends_on=date(2024, 5, 31), tz="Asia/Shanghai"),
    )
    cup = CouponTemplate(
        id="gift-cup",
        currency="CNY",
        benefit=Benefit(kind="gift", gift_sku="tasting-cup", gift_value="18 CNY"),
        conditions=Conditions(min_quantity=3),
    )
    return [
        IssuedCoupon.issue(full300, code="S300-A1", owner=customer.id, issued_at=issued_at),
        IssuedCoupon.issue(full199, code="S199-B7", owner=customer.id, issued_at=issued_at),
        IssuedCoupon.issue(tea, code="TEA-9F2K", owner=customer.id, issued_at=issued_at),
        ship,
        newcomer,
        IssuedCoupon.issue(
            spring, code="SPR-0042", owner="someone-else", issued_at=issued_at - timedelta(days=30)
        ),
        cup,
    ]


def main() -> None:
    cart = shop_cart()
    alice = CustomerContext(id="alice", tags=("vip",), tier="gold", stage="maturity", order_count=6)
    coupons = wallet(alice)
    print(f"cart: {len(cart.lines)} lines, subtotal {cart.subtotal}, shipping {cart.shipping}")
    print("\n== check: each coupon alone ==")
    for coupon in coupons:
        result = check(coupon, cart, alice, as_of=AS_OF)
        status = f"eligible, {result.discount} off" if result.eligible else "not eligible"
        print(f"{result.key:>12}  {status}")
        for reason in result.reasons:
            print(f"{'':>14}{reason.code.value}: {reason.message_en} / {reason.message_zh}")
        if not result.eligible:
            print(f"{'':>14}storefront shows: {', '.join(result.public().codes)}")

    print("\n== best combination ==")
    best = best_combination(cart, alice, coupons, as_of=AS_OF)
    print(
        f"use {', '.join(best.keys)} → {best.discount} off ({best.candidates} candidates, {best.nodes} nodes)"
    )
    for key, codes in best.quote.rejected_reasons().items():
        print(f"  not used: {key} ({', '.join(codes)})")

    print("\n== quote ==")
    q = best.quote
    for line in q.lines:
        print(
            f"  {line.line_id:>14} × {line.quantity}  {line.subtotal}  -{line.discount}  = {line.total}"
        )
    for applied in q.applied:
        split = ", ".join(f"{a.line_id} {a.discount}" for a in applied.lines) or "shipping"
        print(f"  {applied.key} ({applied.stage}): -{applied.discount}  [{split}]")
    if q.gifts:
        print(f"  gifts: {q.gifts}")
    print(f"  shipping {q.shipping} -{q.shipping_discount}; pay {q.total}")
    print("  trace:")
    for step in q.trace:
        print(f"    {step.step:>2}. {step.key:>12} {step.action:<9} {step.note}")
    print(f"  fingerprint {q.fingerprint[:16]}…")

    print("\n== counters to reserve when the order is placed ==")
    for move in q.redemption_intent(order_id="order-20240615-0001").counters:
        print(f"  {move.key:<46} +{move.amount:<6} limit {move.limit}")


if __name__ == "__main__":
    main()

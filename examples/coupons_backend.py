"""Coupons in a web backend: checks, quotes and redemption with the SQLite store.

Plain functions stand in for route handlers (no web framework needed): each takes a JSON-like request
dict and returns ``(status, body)``. The flow:

* ``GET  /coupons/check``   — ``check`` with the store's counters, showing only public reasons;
* ``POST /checkout``        — ``quote`` the cart, ``reserve`` the quote's intent under the order id;
* ``POST /payments/notify`` — ``commit`` (the payment provider retries: a second commit is harmless);
* ``POST /orders/cancel``   — ``release``;
* ``POST /refunds``         — ``revert`` the refunded share under the refund id (retries are harmless).

Run ``python examples/coupons_backend.py``; it uses a temporary database and removes it.
"""

from __future__ import annotations

import tempfile
import threading
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

from user_ops import Money
from user_ops.coupons import (
    Benefit,
    Cart,
    CartLine,
    Conditions,
    CouponTemplate,
    CouponUsage,
    CustomerContext,
    Limits,
    SQLiteRedemptionStore,
    check,
    quote,
)

RESERVATION_TTL = timedelta(minutes=15)  # longer than the payment page's own timeout

# The shop's coupon catalogue (in a real backend: loaded from the admin's JSON documents).
TEMPLATES = {
    "summer30": CouponTemplate(
        id="summer30",
        currency="CNY",
        benefit=Benefit(kind="amount_off", amount="30 CNY"),
        conditions=Conditions(min_subtotal="199 CNY"),
        limits=Limits(total=2, per_customer=1),
        budget="1000 CNY",
        label_zh="满199减30",
    )
}


class Backend:
    """The coupon part of a shop backend: stateless handlers around one redemption store."""

    def __init__(self, store: SQLiteRedemptionStore, clock: Any) -> None:
        self.store = store
        self.clock = clock

    # -- helpers ---------------------------------------------------------------------------------

    def _cart(self, request: dict[str, Any]) -> Cart:
        lines = [
            CartLine(sku=sku, unit_price=f"{price} CNY", quantity=qty)
            for sku, price, qty in request["lines"]
        ]
        return Cart(currency="CNY", lines=lines)

    def _usage(self, template: CouponTemplate, customer_id: str) -> CouponUsage:
        """The store's counters, so a check can say "used up" before the customer reaches checkout."""
        prefix = f"coupon:{template.id}"
        return CouponUsage(
            total=self.store.used(f"{prefix}:total"),
            customer=self.store.used(f"{prefix}:customer:{customer_id}"),
            budget_spent=Money.from_minor(self.store.used(f"{prefix}:budget"), template.currency),
        )

    # -- handlers ------------------------------------------------------------------------------------

    def check_coupon(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        template = TEMPLATES[request["coupon"]]
        customer = CustomerContext(id=request["customer_id"])
        result = check(
            template,
            self._cart(request),
            customer,
            as_of=self.clock(),
            usage=self._usage(template, customer.id),
        )
        public = result.public()  # never show internal reasons to a storefront
        return 200, {"eligible": public.eligible, "reasons": [r.message_zh for r in public.reasons]}

    def checkout(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        customer = CustomerContext(id=request["customer_id"])
        coupons = [TEMPLATES[code] for code in request.get("coupons", [])]
        priced = quote(self._cart(request), customer, coupons, as_of=self.clock())
        if priced.applied:
            # The quote's counters must move atomically with the order: reserve under the order id.
            held = self.store.reserve(
                priced.redemption_intent(order_id=request["order_id"]),
                request["order_id"],
                RESERVATION_TTL,
            )
            if not held.ok:
                # Someone else took the last coupon since the quote: tell the customer to re-quote.
                return 409, {
                    "error": "coupon no longer available",
                    "internal": held.rejection and held.rejection.message,
                }
        return 200, {
            "order_id": request["order_id"],
            "total": str(priced.total),
            "discount": str(priced.discount),
        }

    def payment_notify(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"status": self.store.commit(request["order_id"]).status.value}

    def cancel(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"status": self.store.release(request["order_id"]).status.value}

    def refund(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        refund = self.store.revert(
            request["order_id"], Fraction(request["fraction"]), refund_key=request["refund_id"]
        )
        return 200, {"restored": dict(refund.restored), "replayed": refund.replayed}


def main() -> None:
    now = [datetime(2024, 7, 1, 10, 0, tzinfo=timezone(timedelta(hours=8)))]

    def clock() -> datetime:
        return now[0]

    with (
        tempfile.TemporaryDirectory() as folder,
        SQLiteRedemptionStore(Path(folder) / "coupons.db", clock=clock) as store,
    ):
        api = Backend(store, clock)
        small = {"customer_id": "c1", "lines": [("tea", "89.00", 2)], "coupon": "summer30"}
        print("check, cart of 178.00:", api.check_coupon(small))
        big = {**small, "lines": [("tea", "89.00", 3)]}
        print("check, cart of 267.00:", api.check_coupon(big))

        order = {**big, "order_id": "o-1001", "coupons": ["summer30"]}
        print("checkout o-1001:", api.checkout(order))
        print(
            "payment notify:",
            api.payment_notify(order),
            "and its retry:",
            api.payment_notify(order),
        )
        print("c1 again (one per customer):", api.check_coupon(big))

        # Two customers race for the last coupon of the total limit (2): exactly one wins.
        results: dict[str, tuple[int, dict[str, Any]]] = {}

        def buy(customer: str) -> None:
            results[customer] = api.checkout(
                {**order, "customer_id": customer, "order_id": f"o-{customer}"}
            )

        racers = [threading.Thread(target=buy, args=(c,)) for c in ("c2", "c3")]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join()
        print("race for the last coupon:", sorted(status for status, _ in results.values()))

        # The winner never pays: the reservation expires and frees the coupon, no job needed.
        winner = next(c for c, (status, _) in results.items() if status == 200)
        now[0] += RESERVATION_TTL
        print(
            f"{winner} abandoned; after the ttl the coupon is back:",
            api.check_coupon({**big, "customer_id": "c4"}),
        )

        # c1 returns one of three teas: a third of the discount goes back to the budget, once.
        refund = {"order_id": "o-1001", "refund_id": "rf-1", "fraction": "1/3"}
        print("refund 1/3:", api.refund(refund), "retried:", api.refund(refund))
        print("budget used now:", Money.from_minor(store.used("coupon:summer30:budget"), "CNY"))


if __name__ == "__main__":
    main()

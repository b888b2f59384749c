"""best_combination(): exact (equal to brute force), deterministic tie-breaks, fast for 30 coupons."""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.coupons.test_quote import check_invariants, scenarios
from user_ops import DataError, Money
from user_ops.coupons import (
    Benefit,
    Cart,
    CartLine,
    CouponTemplate,
    CustomerContext,
    IssuedCoupon,
    Limits,
    Stacking,
    best_combination,
    quote,
)
from user_ops.coupons._best import Rank, _candidates, _Search, better, rank_of
from user_ops.coupons._check import prepare_all
from user_ops.coupons._engine import apply_effect, effect_of, effect_total, initial_state

AS_OF = datetime(2024, 6, 15, 12, tzinfo=timezone.utc)
ALICE = CustomerContext(id="alice")


def off(id: str, amount: str, **options: Any) -> CouponTemplate:
    return CouponTemplate(
        id=id, currency="CNY", benefit=Benefit(kind="amount_off", amount=f"{amount} CNY"), **options
    )


def cart_of(*prices: str, shipping: str = "0") -> Cart:
    lines = [CartLine(sku=f"s{i}", unit_price=f"{p} CNY", quantity=1) for i, p in enumerate(prices)]
    return Cart(currency="CNY", lines=lines, shipping_fee=f"{shipping} CNY")


def brute_force(cart: Cart, coupons: list[CouponTemplate | IssuedCoupon]) -> Rank:
    best: Rank = (0, 0, 0, 0, ())
    for size in range(len(coupons) + 1):
        for subset in itertools.combinations(coupons, size):
            rank = rank_of(quote(cart, ALICE, list(subset), as_of=AS_OF))
            if better(rank, best):
                best = rank
    return best


def test_exclusive_big_coupon_against_a_stack() -> None:
    cart = cart_of("100", "100")
    solo = off("solo", "50", stacking=Stacking(exclusive=True))
    stack = [off("a", "20"), off("b", "20")]
    assert best_combination(cart, ALICE, [solo, *stack], as_of=AS_OF).keys == ("solo",)
    bigger = [off("a", "30"), off("b", "30")]
    result = best_combination(cart, ALICE, [solo, *bigger], as_of=AS_OF)
    assert result.keys == ("a", "b") and result.discount == Money("60", "CNY")
    assert result.quote.rejected_reasons() == {"solo": ("NOT_COMBINABLE",)}


def test_group_picks_the_best_member() -> None:
    cart = cart_of("100")
    group = [off(f"g{i}", str(5 * i), stacking=Stacking(group="platform")) for i in range(1, 5)]
    result = best_combination(cart, ALICE, [*group, off("store", "3")], as_of=AS_OF)
    assert result.keys == ("g4", "store") and result.discount == Money("23", "CNY")


def test_tie_prefers_fewer_coupons_then_smaller_keys() -> None:
    cart = cart_of("30")
    # a+b gives 30, c alone gives 30 (capped by the cart): one coupon wins.
    coupons = [off("a", "15"), off("b", "15"), off("c", "40")]
    assert best_combination(cart, ALICE, coupons, as_of=AS_OF).keys == ("c",)
    twins = [off("y", "40"), off("x", "40", stacking=Stacking(exclusive=True))]
    assert best_combination(cart, ALICE, twins, as_of=AS_OF).keys == ("x",)
    assert best_combination(cart, ALICE, list(reversed(twins)), as_of=AS_OF).keys == ("x",)


def test_tie_on_discount_prefers_the_gift() -> None:
    cart = cart_of("100")
    gift = CouponTemplate(
        id="gift",
        currency="CNY",
        benefit=Benefit(kind="gift", gift_sku="cup", gift_value="10 CNY"),
        stacking=Stacking(group="g"),
    )
    plain = off("plain", "10", stacking=Stacking(group="g"))
    result = best_combination(cart, ALICE, [plain, gift], as_of=AS_OF)
    assert result.keys == ("plain",)  # money off beats a gift of the same value
    with_gift = best_combination(
        cart, ALICE, [plain, gift, off("x", "10", stacking=Stacking(group="g"))], as_of=AS_OF
    )
    assert with_gift.keys == ("plain",)


def test_order_of_the_input_does_not_matter() -> None:
    cart = cart_of("80", "45", shipping="12")
    coupons = [
        off("a", "30", stacking=Stacking(group="g")),
        off("b", "25", stacking=Stacking(group="g", priority=2)),
        CouponTemplate(id="p", currency="CNY", benefit=Benefit(kind="percent_off", percent="10")),
        CouponTemplate(id="s", currency="CNY", benefit=Benefit(kind="free_shipping")),
    ]
    first = best_combination(cart, ALICE, coupons, as_of=AS_OF)
    second = best_combination(cart, ALICE, list(reversed(coupons)), as_of=AS_OF)
    assert first.keys == second.keys and first.discount == second.discount


def test_max_coupons_limits_the_combination() -> None:
    cart = cart_of("100")
    coupons = [off("a", "10"), off("b", "20"), off("c", "30")]
    assert best_combination(cart, ALICE, coupons, as_of=AS_OF).discount == Money("60", "CNY")
    one = best_combination(cart, ALICE, coupons, as_of=AS_OF, max_coupons=1)
    assert one.keys == ("c",)
    assert best_combination(cart, ALICE, coupons, as_of=AS_OF, max_coupons=0).keys == ()
    with pytest.raises(DataError, match="max_coupons must be a non-negative int"):
        best_combination(cart, ALICE, coupons, as_of=AS_OF, max_coupons=-1)


def test_nothing_applies() -> None:
    result = best_combination(
        cart_of("10"), ALICE, [off("usd", "1").model_copy(update={"currency": "USD"})], as_of=AS_OF
    )
    assert result.keys == () and result.discount == Money.zero("CNY") and result.candidates == 0


def test_the_chosen_quote_keeps_the_invariants_and_explains_the_rest() -> None:
    cart = cart_of("50", "50")
    item = CouponTemplate(
        id="item", currency="CNY", benefit=Benefit(kind="amount_off", amount="60 CNY"), target="items"
    )
    order = off("order", "60")
    result = best_combination(cart, ALICE, [item, order], as_of=AS_OF)
    assert result.discount == Money("100", "CNY")
    check_invariants(result.quote, cart)
    assert "best:" in str(result) and "<div" in result._repr_html_()


def test_not_selected_when_adding_it_would_lower_the_total() -> None:
    # The item coupon takes 5 but uses the unit the fixed-price coupon needs to take 45.
    cart = Cart(currency="CNY", lines=[CartLine(sku="a", unit_price="50 CNY", quantity=1)])
    small = CouponTemplate(
        id="a-small", currency="CNY", benefit=Benefit(kind="amount_off", amount="5 CNY"), target="items"
    )
    fixed = CouponTemplate(id="b-fixed", currency="CNY", benefit=Benefit(kind="fixed_price", amount="5 CNY"))
    assert quote(cart, ALICE, [small, fixed], as_of=AS_OF).discount == Money("5", "CNY")
    best = best_combination(cart, ALICE, [small, fixed], as_of=AS_OF)
    assert best.keys == ("b-fixed",) and best.discount == Money("45", "CNY")
    assert best.quote.rejected_reasons() == {"a-small": ("NOT_SELECTED",)}


@settings(max_examples=60, deadline=None)
@given(scenarios(max_coupons=8))
def test_property_branch_and_bound_equals_brute_force(
    scenario: tuple[Cart, list[CouponTemplate | IssuedCoupon]],
) -> None:
    cart, coupons = scenario
    result = best_combination(cart, ALICE, coupons, as_of=AS_OF)
    assert rank_of(result.quote) == brute_force(cart, coupons)
    assert not result.quote.rejected or all(r.reasons for r in result.quote.rejected)
    check_invariants(result.quote, cart)


def brute_force_limited(cart: Cart, coupons: list[CouponTemplate | IssuedCoupon], limit: int | None) -> Rank:
    """The best rank over every subset of at most ``limit`` coupons, each priced by quote()."""
    best: Rank = (0, 0, 0, 0, ())
    for size in range(len(coupons) + 1 if limit is None else min(limit, len(coupons)) + 1):
        for subset in itertools.combinations(coupons, size):
            rank = rank_of(quote(cart, ALICE, list(subset), as_of=AS_OF))
            if better(rank, best):
                best = rank
    return best


CATEGORIES = ("tea", "ware", "food")


@st.composite
def structured_wallets(draw: st.DrawFn) -> tuple[Cart, list[CouponTemplate | IssuedCoupon]]:
    """Carts of categories and wallets built to stress the search: coupons of one category (parts that
    do not interact), item coupons competing for units, percentages of the list price, identical
    codes, groups, exclusive coupons, gifts and points, small and large amounts."""
    lines = [
        CartLine(
            sku=f"s{i}",
            category=CATEGORIES[i % 3],
            unit_price=Money.from_minor(draw(st.integers(100, 30_000)), "CNY"),
            quantity=draw(st.integers(1, 3)),
            discounted_price=draw(st.sampled_from([None, None, Money("0.50", "CNY")])),
        )
        for i in range(draw(st.integers(1, 4)))
    ]
    cart = Cart(currency="CNY", lines=lines, shipping_fee=Money.from_minor(draw(st.integers(0, 1500)), "CNY"))
    coupons: list[CouponTemplate | IssuedCoupon] = []
    n = draw(st.integers(1, 8))
    while len(coupons) < n:
        i = len(coupons)
        kind = draw(st.sampled_from(["amount", "percent", "list", "fixed", "ship", "gift", "points"]))
        target = draw(st.sampled_from(["order", "items"]))
        amount = Money.from_minor(draw(st.integers(1, 40_000)), "CNY")
        if kind == "amount":
            benefit = Benefit(kind="amount_off", amount=amount)
        elif kind in ("percent", "list"):
            cap = draw(st.sampled_from([None, amount]))
            base = "list" if kind == "list" else "discounted"
            benefit = Benefit(kind="percent_off", percent=str(draw(st.integers(1, 100))), cap=cap, base=base)
        elif kind == "fixed":
            benefit = Benefit(
                kind="fixed_price", amount=amount, max_units=draw(st.sampled_from([None, 1, 2]))
            )
            target = "items"
        elif kind == "ship":
            benefit = Benefit(kind="free_shipping", amount=draw(st.sampled_from([None, amount])))
            target = "shipping"
        elif kind == "gift":
            benefit = Benefit(kind="gift", gift_sku="cup", gift_value=draw(st.sampled_from([None, amount])))
            target = "order"
        else:
            benefit = Benefit(kind="cash_back", cash_back="points", points=draw(st.integers(1, 300)))
            target = "order"
        category = draw(st.sampled_from([None, *CATEGORIES]))
        template = CouponTemplate(
            id=f"t{i}",
            currency="CNY",
            benefit=benefit,
            target=target,
            conditions={"include_categories": (category,)} if category and target != "shipping" else {},
            stacking=Stacking(
                exclusive=draw(st.integers(0, 7)) == 0,
                group=draw(st.sampled_from([None, None, None, "g"])),
                priority=draw(st.integers(0, 1)),
            ),
            limits=Limits(per_order=draw(st.sampled_from([None, 1, 2]))),
            budget=draw(
                st.sampled_from([None, None, None, Money.from_minor(draw(st.integers(1, 20_000)), "CNY")])
            ),
        )
        copies = min(draw(st.sampled_from([1, 1, 2, 3])), n - i)
        if copies == 1 and draw(st.booleans()):
            coupons.append(template)
        else:
            coupons.extend(
                IssuedCoupon.issue(template, code=f"{template.id}-{k}", owner="alice", issued_at=AS_OF)
                for k in range(copies)
            )
    return cart, coupons


@settings(max_examples=60, deadline=None)
@given(structured_wallets(), st.sampled_from([None, None, None, 1, 2, 3]))
def test_property_structured_wallets_equal_brute_force(
    wallet: tuple[Cart, list[CouponTemplate | IssuedCoupon]], limit: int | None
) -> None:
    cart, coupons = wallet
    result = best_combination(cart, ALICE, coupons, as_of=AS_OF, max_coupons=limit, max_nodes=None)
    assert result.optimal
    assert rank_of(result.quote) == brute_force_limited(cart, coupons, limit)
    check_invariants(result.quote, cart)


@settings(max_examples=100, deadline=None)
@given(scenarios(max_coupons=5), st.data())
def test_property_bound_totals_equal_the_split_effects(
    scenario: tuple[Cart, list[CouponTemplate | IssuedCoupon]], data: st.DataObject
) -> None:
    cart, coupons = scenario
    facts, prepared = prepare_all(coupons, cart, ALICE, as_of=AS_OF, usage=None)
    state = initial_state(facts)
    for p in sorted(prepared, key=lambda p: p.order_key):
        effect = effect_of(p.template, p.eligible_lines, facts, state)
        assert effect_total(p.template, p.eligible_lines, facts, state) == effect.total
        if data.draw(st.booleans()):
            state = apply_effect(state, effect)


@settings(max_examples=100, deadline=None)
@given(scenarios(max_coupons=6), st.data())
def test_property_the_searchs_quick_discounts_equal_the_engines(
    scenario: tuple[Cart, list[CouponTemplate | IssuedCoupon]], data: st.DataObject
) -> None:
    # The search prices coupons from per-line sums it computes once per cart state; they must be the
    # engine's own discounts on that state, whatever was applied before.
    cart, coupons = scenario
    facts, prepared = prepare_all(coupons, cart, ALICE, as_of=AS_OF, usage=None)
    cands = _candidates(prepared)
    search = _Search(facts, cands, [0] * len(cands), None, None)
    state = initial_state(facts)
    for p in cands:
        quick = search._totals(0, (1 << len(cands)) - 1, state)
        for j, q in enumerate(cands):
            assert quick[j] == effect_total(q.template, q.eligible_lines, facts, state), q.template.benefit
        if data.draw(st.booleans()):
            state = apply_effect(state, effect_of(p.template, p.eligible_lines, facts, state))


def thirty_coupons() -> tuple[Cart, list[CouponTemplate]]:
    lines = [
        CartLine(
            sku=f"sku{i}",
            category=("tea", "ware", "food")[i % 3],
            unit_price=f"{20 + 7 * i}.90 CNY",
            quantity=1 + i % 3,
        )
        for i in range(20)
    ]
    cart = Cart(currency="CNY", lines=lines, shipping_fee="12 CNY")
    coupons: list[CouponTemplate] = []
    for i in range(30):
        group = None if i % 4 == 0 else f"g{i % 5}"
        stacking = Stacking(group=group, priority=i % 3, exclusive=i % 11 == 5)
        if i % 3 == 0:
            benefit = Benefit(kind="amount_off", amount=f"{5 + i} CNY")
        elif i % 3 == 1:
            benefit = Benefit(kind="percent_off", percent=str(5 + i % 10), cap=f"{30 + i} CNY")
        else:
            benefit = Benefit(kind="amount_off", amount=f"{3 + i % 7} CNY")
        target = "items" if i % 5 == 2 else None
        coupons.append(
            CouponTemplate(
                id=f"c{i:02d}",
                currency="CNY",
                benefit=benefit,
                stacking=stacking,
                **({"target": target} if target else {}),
            )
        )
    return cart, coupons


def test_thirty_coupons_are_fast() -> None:
    cart, coupons = thirty_coupons()
    started = time.perf_counter()
    result = best_combination(cart, ALICE, coupons, as_of=AS_OF)
    elapsed = time.perf_counter() - started
    assert result.candidates == 30
    assert result.nodes < 2**20  # far fewer than the 2**30 an exhaustive search would visit
    assert elapsed < 5.0
    check_invariants(result.quote, cart)


def test_benchmark_check_passes() -> None:
    from benchmarks.bench_coupons import check

    check()


# -- bounded work (issue 12) ------------------------------------------------------------------------------
def identical_wallet(n: int, amount: str = "15") -> list[CouponTemplate | IssuedCoupon]:
    template = off("off15", amount, limits=Limits(per_order=None))
    return [IssuedCoupon.issue(template, code=f"C{i:02d}", owner="alice", issued_at=AS_OF) for i in range(n)]


def test_identical_coupons_are_counted_not_enumerated() -> None:
    # 18 copies of 15 off on a 100 cart: 7 copies reach 100 (6 × 15 = 90, the 7th takes the last 10);
    # the first seven codes win the tie on keys. The copies are interchangeable, so the search counts
    # how many to take instead of visiting subsets (it visited 2**18-ish nodes and took 1.4 s).
    result = best_combination(cart_of("100"), ALICE, identical_wallet(18), as_of=AS_OF)
    assert result.keys == tuple(f"C{i:02d}" for i in range(7))
    assert result.discount == Money("100", "CNY") and result.optimal
    assert result.nodes < 200


def test_distinct_amount_offs_above_the_cart_total() -> None:
    # 30 templates of 101..130 off on a 100 cart: any one covers it; the smallest key wins.
    coupons = [off(f"d{i:02d}", str(101 + i)) for i in range(30)]
    result = best_combination(cart_of("100"), ALICE, coupons, as_of=AS_OF)
    assert result.keys == ("d00",) and result.discount == Money("100", "CNY") and result.optimal
    assert result.nodes < 200


def test_jd_style_full_reduction_wallet_needs_few_coupons() -> None:
    # 京东/天猫 wallets: 30 stackable 满减-style amounts of 20.00, 21.00, ... 49.00 on a 100.00 cart.
    # Two coupons reach at most 49 + 48 = 97, so three are needed; the smallest key first: d00 (20)
    # needs two more summing to 80: d01 (21) would need 59 (none), ..., d11 (31) + d29 (49) = 80.
    coupons = [off(f"d{i:02d}", str(20 + i)) for i in range(30)]
    result = best_combination(cart_of("100"), ALICE, coupons, as_of=AS_OF)
    assert result.keys == ("d00", "d11", "d29") and result.discount == Money("100", "CNY")
    assert result.optimal and result.nodes < 5_000


def test_the_work_limit_returns_the_best_found_and_says_so() -> None:
    coupons = [off(f"d{i:02d}", str(20 + i)) for i in range(30)]
    cart = cart_of("100")
    cut = best_combination(cart, ALICE, coupons, as_of=AS_OF, max_nodes=3)
    assert not cut.optimal and cut.nodes <= 3 and "work limit reached" in str(cut)
    check_invariants(cut.quote, cart)  # a valid combination, quoted like any other
    assert cut.discount == sum((a.discount for a in cut.quote.applied), Money.zero("CNY"))
    full = best_combination(cart, ALICE, coupons, as_of=AS_OF, max_nodes=None)
    assert full.optimal and not better(rank_of(cut.quote), rank_of(full.quote))
    for bad in (0, -1, True, 2.5):
        with pytest.raises(DataError, match="max_nodes must be a positive int or None"):
            best_combination(cart, ALICE, coupons, as_of=AS_OF, max_nodes=bad)  # type: ignore[arg-type]

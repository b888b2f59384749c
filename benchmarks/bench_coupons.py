"""Coupons: ``check`` per coupon and ``best_combination`` for 10 and 30 coupons on a 20-line cart.

Run ``python benchmarks/bench_coupons.py [--repeat N] [--skip-issuance]``. In one run it reports:

* ``check`` per coupon (a storefront showing "spend 12.00 more" under each coupon of a wallet),
  against a hand-written numpy check of the same threshold and amount (masked subtotal, compare, min);
* ``quote`` of 10 coupons, and with its fingerprint (computed on first use);
* ``best_combination`` for 10 and 30 coupons, as a multiple of one ``check`` (the cost a checkout
  page pays to pick the best combination), against an exhaustive search (a ``quote`` per subset) for
  10 coupons — 2**30 subsets make the exhaustive search for 30 impossible, which is the point;
* ``best_combination`` on the hardest 60-coupon wallets we could build (identical codes, distinct
  amounts above the cart total, 满减 amounts whose subset sums tie, percentages with thresholds and
  shipping, stacking groups, exclusive coupons, item coupons competing for units, random mixes): the
  time (best of ``--repeat``, process CPU time), the nodes visited and whether the search finished
  within the default work limit (``optimal``);
* the issuance section (``plan_issuance`` over customers), clearly marked below, when its benchmark
  module ``bench_issuance`` is present.

``check()`` asserts that the numpy check agrees with ``check`` and that ``best_combination`` equals
the exhaustive search on small random wallets; ``tests/test_coupons_best.py`` runs it.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import best_of, machine_description, print_table

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
    best_combination,
    quote,
)
from user_ops.coupons import (
    check as check_coupon,
)
from user_ops.coupons._best import DEFAULT_MAX_NODES, better, rank_of

AS_OF = datetime(2024, 6, 15, 12, tzinfo=timezone.utc)
CUSTOMER = CustomerContext(id="c1", tags=("vip",), tier="gold", order_count=3)
CATEGORIES = ("tea", "ware", "food", "gift")


def make_cart(lines: int = 20, *, seed: int = 1) -> Cart:
    """A cart of ``lines`` lines, some on sale, one not discountable."""
    rng = random.Random(seed)
    out = []
    for i in range(lines):
        price = rng.randint(500, 40_000)
        sale = rng.randint(price // 2, price) if rng.random() < 0.3 else None
        out.append(
            CartLine(
                sku=f"sku{i:02d}",
                category=CATEGORIES[i % len(CATEGORIES)],
                unit_price=_cny(price),
                quantity=rng.randint(1, 3),
                discounted_price=None if sale is None else _cny(sale),
                discountable=i != lines - 1,
            )
        )
    return Cart(currency="CNY", lines=tuple(out), shipping_fee=_cny(1200), channel="app")


def _cny(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d} CNY"


def make_coupons(n: int, *, seed: int = 2) -> list[CouponTemplate]:
    """A wallet of ``n`` coupons: 满减, capped percentages, item coupons, shipping, groups, exclusives."""
    rng = random.Random(seed)
    coupons = []
    for i in range(n):
        kind = i % 5
        target = None
        if kind == 0:
            benefit = Benefit(kind="amount_off", amount=_cny(rng.randint(5, 60) * 100))
        elif kind == 1:
            benefit = Benefit(
                kind="percent_off", percent=str(rng.randint(5, 30)), cap=_cny(rng.randint(20, 90) * 100)
            )
        elif kind == 2:
            benefit = Benefit(kind="amount_off", amount=_cny(rng.randint(3, 20) * 100))
            target = "items"
        elif kind == 3:
            benefit = Benefit(kind="percent_off", percent=str(rng.randint(5, 20)), base="list")
            target = "items"
        else:
            benefit = Benefit(kind="free_shipping")
        conditions = Conditions(
            min_subtotal=_cny(rng.choice([0, 9900, 19900, 29900])),
            include_categories=(CATEGORIES[i % 4],) if kind in (2, 3) else (),
        )
        stacking = Stacking(
            group=rng.choice([None, "platform", "store", "category"]),
            priority=rng.randint(0, 2),
            exclusive=rng.random() < 0.08,
        )
        coupons.append(
            CouponTemplate(
                id=f"c{i:02d}",
                currency="CNY",
                benefit=benefit,
                conditions=conditions,
                stacking=stacking,
                audience='tags contains "vip" or tier == "gold"' if i % 3 == 0 else None,
                **({"target": target} if target else {}),
            )
        )
    return coupons


def numpy_check(coupon: CouponTemplate, cart: Cart) -> tuple[bool, int]:
    """Hand-written: is the threshold of an order amount-off coupon met, and what does it take off."""
    subtotal = np.array([line.subtotal.minor for line in cart.lines], dtype=np.int64)
    categories = np.array([line.category for line in cart.lines], dtype=object)
    discountable = np.array([line.discountable for line in cart.lines])
    mask = discountable.copy()
    if coupon.conditions.include_categories:
        mask &= np.isin(categories, coupon.conditions.include_categories)
    eligible = int(subtotal[mask].sum())
    threshold = coupon.conditions.min_subtotal.minor if coupon.conditions.min_subtotal is not None else 0
    amount = coupon.benefit.amount.minor if coupon.benefit.amount is not None else 0
    ok = bool(mask.any()) and eligible >= threshold
    return ok, min(amount, eligible) if ok else 0


def exhaustive(cart: Cart, coupons: list[CouponTemplate]) -> tuple[int, int, int, int, tuple[str, ...]]:
    """The best combination by a quote of every subset."""
    best: Any = (0, 0, 0, 0, ())
    for size in range(len(coupons) + 1):
        for subset in itertools.combinations(coupons, size):
            rank = rank_of(quote(cart, CUSTOMER, list(subset), as_of=AS_OF))
            if better(rank, best):
                best = rank
    return best  # type: ignore[no-any-return]


def check(seeds: int = 12) -> int:
    """Assert the numpy check agrees with ``check`` and the search equals the exhaustive one."""
    cart = make_cart(20)
    for threshold in (0, 5_000, 50_000, 500_000):
        for category in ((), ("tea",), ("none",)):
            coupon = CouponTemplate(
                id="t",
                currency="CNY",
                benefit=Benefit(kind="amount_off", amount="30 CNY"),
                conditions=Conditions(min_subtotal=_cny(threshold), include_categories=category),
            )
            ours = check_coupon(coupon, cart, CUSTOMER, as_of=AS_OF)
            assert numpy_check(coupon, cart) == (ours.eligible, ours.discount.minor), (threshold, category)
    for seed in range(seeds):
        small_cart = make_cart(6, seed=seed)
        wallet = make_coupons(7, seed=seed)
        best = best_combination(small_cart, CUSTOMER, wallet, as_of=AS_OF)
        assert rank_of(best.quote) == exhaustive(small_cart, wallet), seed
    return seeds


def _coupon_timings(repeat: int) -> list[list[str]]:
    cart = make_cart(20)
    ten, thirty = make_coupons(10), make_coupons(30)
    amount_offs = [c for c in thirty if c.benefit.kind.value == "amount_off" and c.target.value == "order"]
    per_check, _ = best_of(
        lambda: [check_coupon(c, cart, CUSTOMER, as_of=AS_OF) for c in thirty], repeat=repeat
    )
    per_check /= len(thirty)
    ours_amount, _ = best_of(
        lambda: [check_coupon(c, cart, CUSTOMER, as_of=AS_OF) for c in amount_offs], repeat=repeat
    )
    base_amount, _ = best_of(lambda: [numpy_check(c, cart) for c in amount_offs], repeat=repeat)
    quote10, _ = best_of(lambda: quote(cart, CUSTOMER, ten, as_of=AS_OF), repeat=repeat)
    signed10, _ = best_of(lambda: quote(cart, CUSTOMER, ten, as_of=AS_OF).fingerprint, repeat=repeat)
    best10, result10 = best_of(lambda: best_combination(cart, CUSTOMER, ten, as_of=AS_OF), repeat=repeat)
    best30, result30 = best_of(lambda: best_combination(cart, CUSTOMER, thirty, as_of=AS_OF), repeat=repeat)
    brute10, _ = best_of(lambda: exhaustive(cart, ten), repeat=1)
    n_amount = max(1, len(amount_offs))
    return [
        ["check, per coupon (30-coupon wallet)", f"{per_check * 1e6:.0f}", "1.0x", "—", ""],
        [
            "check, order amount-off only",
            f"{ours_amount / n_amount * 1e6:.0f}",
            f"{ours_amount / n_amount / per_check:.1f}x",
            f"{base_amount / n_amount * 1e6:.0f}",
            f"numpy threshold check: ours {ours_amount / base_amount:.1f}x",
        ],
        ["quote, 10 coupons", f"{quote10 * 1e6:.0f}", f"{quote10 / per_check:.1f}x", "—", ""],
        ["quote + its fingerprint", f"{signed10 * 1e6:.0f}", f"{signed10 / per_check:.1f}x", "—", ""],
        [
            f"best_combination, 10 coupons ({result10.nodes} nodes)",
            f"{best10 * 1e6:.0f}",
            f"{best10 / per_check:.1f}x",
            f"{brute10 * 1e6:.0f}",
            f"exhaustive 2^10 quotes: ours {best10 / brute10:.3f}x",
        ],
        [
            f"best_combination, 30 coupons ({result30.nodes} nodes)",
            f"{best30 * 1e6:.0f}",
            f"{best30 / per_check:.1f}x",
            "—",
            "exhaustive: 2^30 quotes, not run",
        ],
    ]


# -- best_combination on worst-case wallets ----------------------------------------------------------------
def _one_line(total: str = "100") -> Cart:
    return Cart(currency="CNY", lines=[CartLine(sku="a", unit_price=f"{total} CNY", quantity=1)])


def _amount(ident: str, minor: int, **options: Any) -> CouponTemplate:
    return CouponTemplate(
        id=ident, currency="CNY", benefit=Benefit(kind="amount_off", amount=_cny(minor)), **options
    )


def _codes(template: CouponTemplate, n: int) -> list[Any]:
    return [IssuedCoupon.issue(template, code=f"C{i:03d}", owner="c1", issued_at=AS_OF) for i in range(n)]


def _percent_threshold_shipping(n: int) -> list[CouponTemplate]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        threshold = Conditions(min_subtotal=_cny(rng.choice([0, 9900, 19900, 29900, 49900])))
        if i % 3 == 0:
            cap = _cny(rng.randint(10, 80) * 100) if rng.random() < 0.5 else None
            benefit = Benefit(kind="percent_off", percent=str(rng.randint(5, 30)), cap=cap)
            out.append(CouponTemplate(id=f"p{i:03d}", currency="CNY", benefit=benefit, conditions=threshold))
        elif i % 3 == 1:
            out.append(_amount(f"a{i:03d}", rng.randint(5, 60) * 100, conditions=threshold))
        else:
            benefit = (
                Benefit(kind="free_shipping")
                if rng.random() < 0.5
                else Benefit(kind="amount_off", amount=_cny(rng.randint(2, 10) * 100))
            )
            out.append(CouponTemplate(id=f"s{i:03d}", currency="CNY", benefit=benefit, target="shipping"))
    return out


def _stacking_groups(n: int) -> list[CouponTemplate]:
    out = []
    for i in range(n):
        if i % 2:
            benefit = Benefit(kind="percent_off", percent=str(5 + i % 20), cap=_cny((10 + i) * 100))
        else:
            benefit = Benefit(kind="amount_off", amount=_cny((5 + i) * 100))
        stacking = Stacking(group=f"g{i % 6}", priority=i % 3)
        out.append(CouponTemplate(id=f"g{i:03d}", currency="CNY", benefit=benefit, stacking=stacking))
    return out


def _item_coupons(n: int) -> list[CouponTemplate]:
    out = []
    for i in range(n):
        conditions = Conditions(include_categories=(CATEGORIES[i % 4],))
        if i % 3 == 0:
            benefit = Benefit(kind="percent_off", percent=str(10 + i % 30), base="list")
        elif i % 3 == 1:
            benefit = Benefit(kind="amount_off", amount=_cny((3 + i) * 100))
        else:
            benefit = Benefit(kind="fixed_price", amount=_cny((20 + i) * 100), max_units=1 + i % 3)
        out.append(
            CouponTemplate(
                id=f"i{i:03d}", currency="CNY", benefit=benefit, target="items", conditions=conditions
            )
        )
    return out


def worst_case_wallets(n: int = 60) -> dict[str, tuple[Cart, list[Any]]]:
    """Wallets of ``n`` coupons built to make an exhaustive or naive search explode."""
    cart = make_cart(20)
    return {
        "identical codes of 15 off (100 cart)": (
            _one_line(),
            _codes(_amount("off15", 1500, limits=Limits(per_order=None)), n),
        ),
        "identical codes, per_order=3": (
            _one_line(),
            _codes(_amount("off15x3", 1500, limits=Limits(per_order=3)), n),
        ),
        "distinct amounts above the cart total": (
            _one_line(),
            [_amount(f"d{i:03d}", 10100 + 100 * i) for i in range(n)],
        ),
        "equal amounts, distinct templates": (_one_line(), [_amount(f"e{i:03d}", 1000) for i in range(n)]),
        "满减 amounts 20..79 (tying subset sums)": (
            _one_line(),
            [_amount(f"m{i:03d}", 2000 + 100 * i) for i in range(n)],
        ),
        "amounts 1.00 + 0.37 i (tying subset sums)": (
            _one_line(),
            [_amount(f"f{i:03d}", 100 + 37 * i) for i in range(n)],
        ),
        "percent + threshold + shipping": (cart, _percent_threshold_shipping(n)),
        "six stacking groups of ten": (cart, _stacking_groups(n)),
        "half exclusive": (
            cart,
            [
                _amount(f"x{i:03d}", (10 + 3 * i) * 100, stacking=Stacking(exclusive=i % 2 == 0))
                for i in range(n)
            ],
        ),
        "item coupons competing for units": (cart, _item_coupons(n)),
        **{f"benchmark mix, seed {seed}": (cart, make_coupons(n, seed=seed)) for seed in (2, 3, 4, 5)},
    }


def _cpu_best_of(fn: Any, repeat: int) -> tuple[float, Any]:
    # CPU time of this process: the machine is shared, and other load should not count.
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        result = fn()
        best = min(best, time.process_time() - start)
    return best, result


def worst_case_rows(repeat: int, n: int = 60) -> list[list[str]]:
    """One row per worst-case wallet: ms, nodes, optimal within the default work limit."""
    rows = []
    for name, (cart, wallet) in worst_case_wallets(n).items():
        seconds, result = _cpu_best_of(lambda: best_combination(cart, CUSTOMER, wallet, as_of=AS_OF), repeat)
        rows.append(
            [
                name,
                str(len(wallet)),
                f"{seconds * 1e3:.1f}",
                str(result.nodes),
                str(result.optimal),
                str(result.discount),
            ]
        )
    cart, worst, finished = make_cart(20), (0.0, 0), 0
    for seed in range(20):
        wallet = make_coupons(n, seed=seed)
        seconds, result = _cpu_best_of(lambda: best_combination(cart, CUSTOMER, wallet, as_of=AS_OF), repeat)
        worst = max(worst, (seconds, result.nodes))
        finished += result.optimal
    name = f"benchmark mixes, seeds 0-19: the slowest ({finished}/20 optimal)"
    rows.append([name, str(n), f"{worst[0] * 1e3:.1f}", str(worst[1]), "", ""])
    return rows


# -- issuance section (plan_issuance; its own module benchmarks/bench_issuance.py) --------------------------
def issuance_section(argv: list[str]) -> int:
    """Run the issuance benchmark's ``main`` when ``bench_issuance`` is present; 0 when it is not."""
    if importlib.util.find_spec("bench_issuance") is None:
        print("\n(issuance benchmark not present: skipped)")
        return 0
    import bench_issuance

    print("\n# Issuance: plan_issuance\n")
    return int(bench_issuance.main(argv))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-issuance", action="store_true")
    parser.add_argument("--issuance-rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    print(f"machine: {machine_description()}")
    print(f"correctness check: best_combination equals the exhaustive search on {check()} random wallets\n")
    print("## check / quote / best_combination on a 20-line cart\n")
    print_table(["step", "ours µs", "× one check", "baseline µs", "baseline"], _coupon_timings(args.repeat))
    print(f"\n## best_combination on worst-case wallets (default max_nodes={DEFAULT_MAX_NODES}, CPU ms)\n")
    print_table(["wallet", "coupons", "ms", "nodes", "optimal", "discount"], worst_case_rows(args.repeat))
    if args.skip_issuance:
        return 0
    return issuance_section(["--rows", str(args.issuance_rows)])


if __name__ == "__main__":
    raise SystemExit(main())

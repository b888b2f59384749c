"""``best_combination``: the set of coupons giving the largest discount the stacking rules allow.

Exact branch and bound. Candidates (coupons that pass :func:`~user_ops.coupons.check` alone) are
visited in application order, so the cart state at a search node is exactly the state after applying
the coupons chosen so far, and a node's discount is computed incrementally. The bound adds, for every
candidate still allowed, its discount on the *current* state: a coupon never gives more later, when
less is left (see :mod:`user_ops.coupons._engine`), and the merchandise and shipping discounts can
never exceed what is left to pay. A branch is cut only when its bound is strictly worse than the best
found, so ties are settled by the rules below, not by search order.

Ranking (deterministic): the larger total discount; then the larger non-price value (gift value +
stored-value cash-back); then more cash-back points; then fewer coupons (keep the rest for later);
then the lexicographically smaller sorted list of keys.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from user_ops._money import Money
from user_ops._time import TzLike, require_aware
from user_ops.coupons._check import Coupon, Prepared, compatible, cost_of, prepare_all
from user_ops.coupons._engine import (
    SHIPPING_STAGE,
    LineFacts,
    State,
    apply_effect,
    effect_of,
    effect_total,
    gives_money_off,
    initial_state,
)
from user_ops.coupons._model import Cart, CustomerContext
from user_ops.coupons._quote import Quote, run_quote
from user_ops.coupons._reasons import CouponUsage
from user_ops.exceptions import DataError

__all__ = ["BestCombination", "best_combination"]

#: (discount, extra value, points, −count, sorted keys): see :func:`better`.
Rank = tuple[int, int, int, int, tuple[str, ...]]


@dataclass(frozen=True)
class BestCombination:
    """The answer of :func:`best_combination`.

    Attributes
    ----------
    keys:
        Keys of the chosen coupons, in application order.
    discount:
        Their total discount (merchandise and shipping).
    quote:
        The :class:`~user_ops.coupons.Quote` of the chosen set; coupons left out appear in
        ``quote.rejected`` with their reason (``NOT_COMBINABLE``, ``NOT_SELECTED``, …).
    candidates:
        How many coupons passed the checks alone and entered the search.
    nodes:
        Search nodes visited (the exhaustive search would visit up to ``2 ** candidates``).

    Examples
    --------
    Two store coupons of which only one may be used (one group), and free shipping; the 满199减20
    coupon does not reach its threshold:

    >>> from datetime import datetime, timezone
    >>> from user_ops.coupons import Benefit, CartLine, Conditions, CouponTemplate, Stacking
    >>> cart = Cart(currency="CNY", shipping_fee="8 CNY",
    ...             lines=[CartLine(sku="a", unit_price="120 CNY", quantity=1)])
    >>> def store(id, amount, **options):
    ...     benefit = Benefit(kind="amount_off", amount=amount)
    ...     return CouponTemplate(id=id, currency="CNY", benefit=benefit, stacking=Stacking(group="store"),
    ...                           **options)
    >>> coupons = [store("off10", "10 CNY"), store("off15", "15 CNY"),
    ...            store("199-20", "20 CNY", conditions=Conditions(min_subtotal="199 CNY")),
    ...            CouponTemplate(id="ship", currency="CNY", benefit=Benefit(kind="free_shipping"))]
    >>> best = best_combination(cart, CustomerContext(id="c1"), coupons,
    ...                         as_of=datetime(2024, 6, 1, tzinfo=timezone.utc))
    >>> best.keys, best.discount, best.candidates
    (('off15', 'ship'), Money('23.00', 'CNY'), 3)
    >>> best.quote.total, best.quote.rejected_reasons()
    (Money('105.00', 'CNY'), {'off10': ('NOT_COMBINABLE',), '199-20': ('MIN_SPEND_NOT_MET',)})
    """

    keys: tuple[str, ...]
    discount: Money
    quote: Quote
    candidates: int
    nodes: int

    def __str__(self) -> str:
        return f"best: {', '.join(self.keys) or '(none)'} → {self.discount} off ({self.nodes} nodes)"

    def _repr_html_(self) -> str:
        head = (
            f"<p>best combination: <b>{html.escape(', '.join(self.keys) or '(none)')}</b> → "
            f"{self.discount} off · {self.candidates} candidates, {self.nodes} nodes</p>"
        )
        return f"<div class='user-ops-best'>{head}{self.quote._repr_html_()}</div>"


def better(a: Rank, b: Rank) -> bool:
    """Whether rank ``a`` beats ``b`` (keys: the smaller sorted tuple wins)."""
    if a[:4] != b[:4]:
        return a[:4] > b[:4]
    return a[4] < b[4]


@dataclass
class _Search:
    facts: LineFacts
    cands: list[Prepared]
    compat: list[int]
    max_coupons: int | None
    best_rank: Rank
    best_set: tuple[int, ...]
    nodes: int = 0
    facts_of: list[tuple[int, int, bool, str | None, str, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # What the bound reads of each candidate, looked up once.
        self.facts_of = [
            (
                *p.extra,
                p.template.stacking.exclusive,
                p.template.stacking.group,
                p.template.id,
                p.stage == SHIPPING_STAGE,
            )
            for p in self.cands
        ]

    def run(self) -> None:
        self._visit(0, initial_state(self.facts), None, [], (1 << len(self.cands)) - 1, 0, 0, 0, {}, {})

    def _totals(self, i: int, allowed: int, state: State) -> list[int]:
        """Discounts on ``state`` of the candidates still allowed from ``i`` on (others 0); computed once
        per state and reused down the exclude branches, which keep the state and only shrink the set."""
        return [
            effect_total(p.template, p.eligible_lines, self.facts, state)
            if j >= i and allowed >> j & 1
            else 0
            for j, p in enumerate(self.cands)
        ]

    def _visit(
        self,
        i: int,
        state: State,
        totals: list[int] | None,
        chosen: list[int],
        allowed: int,
        discount: int,
        extra: int,
        points: int,
        spent: dict[str, int],
        per_template: dict[str, int],
    ) -> None:
        self.nodes += 1
        rank: Rank = (discount, extra, points, -len(chosen), tuple(sorted(self.cands[j].key for j in chosen)))
        if better(rank, self.best_rank):
            self.best_rank, self.best_set = rank, tuple(chosen)
        if i >= len(self.cands) or (self.max_coupons is not None and len(chosen) >= self.max_coupons):
            return
        if totals is None:
            totals = self._totals(i, allowed, state)
        if not self._promising(i, state, totals, chosen, allowed, discount, extra, points):
            return
        p = self.cands[i]
        if allowed >> i & 1 and self._fits_order(p, per_template) and self._useful(p, totals[i]):
            effect = effect_of(p.template, p.eligible_lines, self.facts, state)
            gain = effect.total
            more, more_points = p.extra
            cost = cost_of(p.template, gain)
            left = None if p.budget_left is None else p.budget_left - spent.get(p.template.id, 0)
            if left is None or cost <= left:
                tid = p.template.id
                self._visit(
                    i + 1,
                    apply_effect(state, effect),
                    None if gain else totals,  # a gift or cash-back leaves the state as it was
                    [*chosen, i],
                    allowed & self.compat[i],
                    discount + gain,
                    extra + more,
                    points + more_points,
                    {**spent, tid: spent.get(tid, 0) + cost},
                    {**per_template, tid: per_template.get(tid, 0) + 1},
                )
        self._visit(
            i + 1, state, totals, chosen, allowed & ~(1 << i), discount, extra, points, spent, per_template
        )

    @staticmethod
    def _useful(p: Prepared, gain: int) -> bool:
        # A coupon that adds nothing here is dominated by leaving it out (same state, one coupon fewer).
        if gives_money_off(p.template):
            return gain > 0
        more, more_points = p.extra
        return more > 0 or more_points > 0

    @staticmethod
    def _fits_order(p: Prepared, per_template: dict[str, int]) -> bool:
        limit = p.template.limits.per_order
        return limit is None or per_template.get(p.template.id, 0) < limit

    def _promising(
        self,
        i: int,
        state: State,
        totals: list[int],
        chosen: list[int],
        allowed: int,
        discount: int,
        extra: int,
        points: int,
    ) -> bool:
        """False when no completion of this node can beat the best found (bound strictly worse)."""
        # At most one coupon per group, and an exclusive coupon only alone: so a group adds its best
        # member, an exclusive coupon competes with everything else together.
        free_merch = free_ship = more = more_points = alone = 0
        group_merch: dict[str, dict[str, int]] = {}
        group_ship: dict[str, dict[str, int]] = {}
        for j in range(i, len(self.cands)):
            if not allowed >> j & 1:
                continue
            x, y, exclusive, group, template_id, shipping = self.facts_of[j]
            more += x
            more_points += y
            total = totals[j]
            if exclusive:
                alone = max(alone, min(total, state.merchandise + state.shipping))
            elif group is None:
                if shipping:
                    free_ship += total
                else:
                    free_merch += total
            else:  # coupons of one template may share a group (limits.per_order): sum per template
                per_template = (group_ship if shipping else group_merch).setdefault(group, {})
                per_template[template_id] = per_template.get(template_id, 0) + total
        merch = free_merch + sum(max(sums.values()) for sums in group_merch.values())
        ship = free_ship + sum(max(sums.values()) for sums in group_ship.values())
        bound = discount + max(min(merch, state.merchandise) + min(ship, state.shipping), alone)
        best = self.best_rank
        top = (bound, extra + more, points + more_points)
        if top != best[:3]:
            return top > best[:3]
        return len(chosen) <= -best[3]  # a tie can still win on fewer coupons, then on keys


def best_combination(
    cart: Cart,
    customer: CustomerContext,
    coupons: Sequence[Coupon],
    *,
    as_of: datetime,
    usage: Mapping[str, CouponUsage] | None = None,
    max_coupons: int | None = None,
    tz: TzLike | None = None,
) -> BestCombination:
    """The combination of ``coupons`` with the largest total discount the stacking rules allow.

    Parameters
    ----------
    cart, customer:
        The :class:`~user_ops.Cart` and :class:`~user_ops.CustomerContext`.
    coupons:
        The customer's coupons (issued coupons and/or templates used directly).
    as_of:
        Timezone-aware instant.
    usage:
        The host's counters, ``{code or template id: CouponUsage}``.
    max_coupons:
        At most this many coupons in the combination (``None``: as many as stacking allows).
    tz:
        The shop's time zone for templates without a ``validity.tz`` (see
        :func:`~user_ops.coupons.check`); the zone ``as_of`` is written in never matters.

    Returns
    -------
    BestCombination
        The chosen keys, their discount, the quote of the chosen set and search statistics.
        Ties are broken as the module documentation says.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops.coupons import Benefit, Cart, CartLine, CouponTemplate, CustomerContext, Stacking
    >>> cart = Cart(currency="CNY", lines=[CartLine(sku="a", unit_price="100.00 CNY", quantity=2)])
    >>> def amount_off(id, amount, **options):
    ...     benefit = Benefit(kind="amount_off", amount=amount)
    ...     return CouponTemplate(id=id, currency="CNY", benefit=benefit, **options)
    >>> off30 = amount_off("off30", "30 CNY", stacking=Stacking(exclusive=True))
    >>> pct = CouponTemplate(id="pct10", currency="CNY", benefit=Benefit(kind="percent_off", percent="10"))
    >>> off15 = amount_off("off15", "15 CNY")
    >>> as_of = datetime(2024, 6, 1, tzinfo=timezone.utc)
    >>> best = best_combination(cart, CustomerContext(id="c1"), [off30, pct, off15], as_of=as_of)
    >>> best.keys, str(best.discount)
    (('off15', 'pct10'), '33.50 CNY')
    >>> best.quote.rejected_reasons()
    {'off30': ('NOT_COMBINABLE',)}
    """
    as_of = require_aware(as_of)
    if max_coupons is not None and (
        isinstance(max_coupons, bool) or not isinstance(max_coupons, int) or max_coupons < 0
    ):
        raise DataError(f"max_coupons must be a non-negative int or None, got {max_coupons!r}")
    facts, prepared = prepare_all(coupons, cart, customer, as_of=as_of, usage=usage, tz=tz)
    cands = _candidates(prepared)
    compat = [
        sum(1 << j for j, b in enumerate(cands) if j != i and compatible(a, b)) for i, a in enumerate(cands)
    ]
    search = _Search(facts, cands, compat, max_coupons, (0, 0, 0, 0, ()), ())
    search.run()
    chosen = {cands[i].position for i in search.best_set}
    result = run_quote(
        cart, customer, coupons, as_of=as_of, usage=usage, chosen=chosen, prepared=(facts, prepared), tz=tz
    )
    return BestCombination(result.applied_keys, result.discount, result, len(cands), search.nodes)


def _candidates(prepared: list[Prepared]) -> list[Prepared]:
    """Coupons passing their checks alone, first of each key, in application order."""
    seen: set[str] = set()
    out = []
    for p in prepared:
        if not p.reasons and p.key not in seen:
            seen.add(p.key)
            out.append(p)
    return sorted(out, key=lambda p: p.order_key)


def rank_of(result: Quote) -> Rank:
    """The ranking key of a quote's applied set (for tests against an exhaustive search)."""
    extra = sum(
        (a.gift_value.minor if a.gift_value is not None else 0) + (a.cash_back.minor if a.cash_back else 0)
        for a in result.applied
    )
    points = sum(a.cash_back_points for a in result.applied)
    keys = tuple(sorted(a.key for a in result.applied))
    return (result.discount.minor, extra, points, -len(result.applied), keys)

"""``best_combination``: the set of coupons giving the largest discount the stacking rules allow.

Exact branch and bound with bounded work. Candidates (coupons that pass
[`check`][] alone) are visited in application order, so the cart state at a
search node is exactly the state after applying the coupons chosen so far, and a node's discount is
computed incrementally. What keeps it fast on a full wallet:

* **Independent parts.** Coupons touching different lines (or shipping), of different templates and
  without a conflict between them do not interact: the wallet splits into parts searched one by one,
  whose bests add up (an exclusive coupon, always alone, competes with all of them together).
* **Identical codes.** Of a run of identical codes (one template, next to each other in application
  order) only the first ``k`` are ever taken: the search counts instead of choosing subsets.
* **Situations already met.** Two paths reaching the same cart state, the same coupons still allowed
  and the same counters: only the one with the better prefix goes on.
* **The bound.** What the coupons still allowed can add on the current state (a coupon never gives
  more later, when less is left; see [`user_ops.coupons._engine`][]): order coupons of one set of
  lines applied in turn (percentages compound, amounts saturate), item coupons at the best saving of
  each free unit, percentages of the list price down to the lowest price of each line, one template
  per group, an exclusive coupon alone, never more than is left to pay; when only a tie is possible,
  no more coupons than the best and the smallest keys possible. A branch is cut only when its bound
  is strictly worse than the best found, so ties are settled by the rules below, not by search order.
* **A good start.** Two greedy guesses give the first best to beat.

``max_nodes`` bounds the work: past it the best combination found so far is returned with
``optimal=False`` (deterministically: the same inputs visit the same nodes).

Ranking (deterministic): the larger total discount; then the larger non-price value (gift value +
stored-value cash-back); then more cash-back points; then fewer coupons (keep the rest for later);
then the lexicographically smaller sorted list of keys.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from user_ops._money import Money
from user_ops._time import TzLike, require_aware
from user_ops.coupons._check import Coupon, Prepared, compatible, cost_of, prepare_all
from user_ops.coupons._engine import (
    ITEM_STAGE,
    ORDER_STAGE,
    SHIPPING_STAGE,
    LineFacts,
    State,
    apply_effect,
    effect_of,
    effect_total,
    gives_money_off,
    initial_state,
    item_weights,
    list_floors,
    order_total,
    shipping_total,
    unit_savings,
)
from user_ops.coupons._model import BenefitKind, Cart, CustomerContext, PriceBase
from user_ops.coupons._quote import Quote, run_quote
from user_ops.coupons._reasons import CouponUsage
from user_ops.exceptions import DataError

__all__ = ["BestCombination", "best_combination"]

#: (discount, extra value, points, −count, sorted keys): see [`better`][].
Rank = tuple[int, int, int, int, tuple[str, ...]]


@dataclass(frozen=True)
class BestCombination:
    """The answer of [`best_combination`][].

    Attributes
    ----------
    keys:
        Keys of the chosen coupons, in application order.
    discount:
        Their total discount (merchandise and shipping).
    quote:
        The [`Quote`][] of the chosen set; coupons left out appear in
        ``quote.rejected`` with their reason (``NOT_COMBINABLE``, ``NOT_SELECTED``, …).
    candidates:
        How many coupons passed the checks alone and entered the search.
    nodes:
        Search nodes visited (the exhaustive search would visit up to ``2 ** candidates``).
    optimal:
        True when the search finished: no combination beats this one. False when it stopped at
        ``max_nodes``: this is the best combination found (valid, quoted like any other), not
        necessarily the best there is.

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
    optimal: bool = True

    def __str__(self) -> str:
        proven = "" if self.optimal else ", work limit reached: best found"
        return f"best: {', '.join(self.keys) or '(none)'} → {self.discount} off ({self.nodes} nodes{proven})"

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


#: Search nodes ``best_combination`` visits at most by default: with 60 coupons on a 20-line cart,
#: at most about 50 ms on the benchmark machine (see docs/coupons.md, "Bounded work"); the wallets
#: of the benchmark need 1 to 520 nodes.
DEFAULT_MAX_NODES = 600

_ORDER_FAST, _SHIPPING, _NOTHING, _GENERIC, _ITEM_BASE, _ITEM_UNITS, _LIST_FAST, _ITEM_LIMITED = range(8)


class _Totals(list[int]):
    """Each candidate's discount on one state, with what is left on each set of eligible lines."""

    bases: list[int]
    free: tuple[int, ...]
    _order: list[int] | None = None

    def largest_first(self) -> list[int]:
        """Candidate indices by discount, largest first (sorted once per state)."""
        if self._order is None:
            self._order = sorted(range(len(self)), key=lambda j: -self[j])
        return self._order


@dataclass
class _Search:
    """Depth-first branch and bound over the candidates in application order (see the module doc)."""

    facts: LineFacts
    cands: list[Prepared]
    compat: list[int]
    max_coupons: int | None
    max_nodes: int | None
    best_rank: Rank = (0, 0, 0, 0, ())
    best_set: tuple[int, ...] = ()
    nodes: int = 0
    stopped: bool = False
    memo: dict[tuple[Any, ...], tuple[int, int, int, tuple[str, ...]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cands = self.cands
        n = len(cands)
        self.keys = [p.key for p in cands]
        self.extra = [p.extra[0] for p in cands]
        self.points = [p.extra[1] for p in cands]
        self.tid = [p.template.id for p in cands]
        self.exclusive = [p.template.stacking.exclusive for p in cands]
        self.group = [p.template.stacking.group for p in cands]
        self.shipping = [p.stage == SHIPPING_STAGE for p in cands]
        self.limit = [p.template.limits.per_order for p in cands]
        self.by_key = sorted(range(n), key=lambda j: self.keys[j])
        self.by_extra = sorted(range(n), key=lambda j: -self.extra[j])
        self.by_points = sorted(range(n), key=lambda j: -self.points[j])
        self.exclusive_bits = sum(1 << j for j in range(n) if self.exclusive[j])
        # per_order of a template whose codes all carry the same version of it (the bound may then
        # count only that many of them); versions edited between issues are not truncated.
        versions: dict[str, list[Prepared]] = {}
        for p in cands:
            versions.setdefault(p.template.id, []).append(p)
        self.uniform_limit = {
            tid: ps[0].template.limits.per_order
            for tid, ps in versions.items()
            if len(ps) > 1 and all(q.template == ps[0].template for q in ps[1:])
        }
        self.limited_copies = [self.uniform_limit.get(tid) is not None for tid in self.tid]
        self.codes_of: dict[str, list[int]] = {}
        for j, tid in enumerate(self.tid):
            self.codes_of.setdefault(tid, []).append(j)
        # The bound's bookkeeping: a slot per (group, shipping or not); templates with several codes.
        slots: dict[tuple[str, bool], int] = {}
        self.group_slot = [
            -1 if g is None else slots.setdefault((g, ship), len(slots))
            for g, ship in zip(self.group, self.shipping)
        ]
        self.group_slots = list(slots)
        self.shared_template = [len(versions[tid]) > 1 for tid in self.tid]
        self._plan_totals()
        self._find_runs()
        self._memo_scope()

    # -- set-up -------------------------------------------------------------------------------------
    def _plan_totals(self) -> None:
        """How each candidate's discount on a state is computed: order coupons of one set of eligible
        lines share the sum of those lines, computed once per state."""
        masks: dict[tuple[int, ...], int] = {}
        self.how: list[tuple[int, int]] = []
        self.unit_weights: dict[int, tuple[tuple[int, int], ...]] = {}
        self.limited_units: dict[int, tuple[bool, tuple[tuple[int, int], ...]]] = {}
        for j, p in enumerate(self.cands):
            benefit = p.template.benefit
            weights = item_weights(p.template, p.eligible_lines, self.facts)
            if not gives_money_off(p.template):
                self.how.append((_NOTHING, -1))
            elif p.stage == SHIPPING_STAGE:
                self.how.append((_SHIPPING, -1))
            elif weights is not None:
                per_unit, values = weights
                self.unit_weights[j] = tuple((k, w) for k, w in enumerate(values) if w)
                self.how.append((_ITEM_UNITS if per_unit else _ITEM_BASE, -1))
            elif p.stage == ITEM_STAGE and benefit.max_units is not None:
                # The max_units units worth most to the customer, earlier lines first on ties.
                per_unit, worth = unit_savings(p.template, p.eligible_lines, self.facts)  # type: ignore[misc]
                order = sorted(
                    (k for k, ok in enumerate(p.eligible_lines) if ok), key=lambda k: (-worth[k], k)
                )
                self.limited_units[j] = (per_unit, tuple((k, worth[k]) for k in order))
                self.how.append((_ITEM_LIMITED, -1))
            elif p.stage == ORDER_STAGE and not (
                benefit.kind is BenefitKind.PERCENT_OFF and benefit.base is PriceBase.LIST
            ):
                lines = tuple(i for i, ok in enumerate(p.eligible_lines) if ok)
                self.how.append((_ORDER_FAST, masks.setdefault(lines, len(masks))))
            else:
                self.how.append((_GENERIC, -1))
        self.mask_lines = list(masks)
        # For the bound: item coupons, and for those that save the same on every unit they take
        # (a fixed price, a percentage of the list price, without max_units) that saving per line.
        self.is_item = [p.stage == ITEM_STAGE and gives_money_off(p.template) for p in self.cands]
        # ... and for an order percentage of the list price, the price each unit of a line ends at
        # (list less the percentage): on one line only the lowest of those counts, they do not add up.
        self.list_floors: list[tuple[tuple[int, int], ...] | None] = [
            list_floors(p.template, p.eligible_lines, self.facts) if p.stage == ORDER_STAGE else None
            for p in self.cands
        ]
        for j, floors in enumerate(self.list_floors):
            if floors is not None:
                self.how[j] = (_LIST_FAST, -1)
        self.unit_caps: list[tuple[tuple[int, int], ...] | None] = []
        for p in self.cands:
            weights = item_weights(p.template, p.eligible_lines, self.facts)
            per_unit = weights is not None and weights[0]
            self.unit_caps.append(
                tuple((k, w) for k, w in enumerate(weights[1]) if w)
                if weights is not None and per_unit
                else None
            )

    def _find_runs(self) -> None:
        """``run_end[j]``: the end of the run of identical coupons from ``j`` (issued codes of one
        template, next to each other in application order). Taking any ``k`` of a run gives the same
        discount, so only its first ``k`` (the smallest keys) are ever taken: leaving one out leaves
        out the rest of the run."""
        cands = self.cands
        n = len(cands)
        self.run_end = list(range(1, n + 1))
        for j in range(n - 2, -1, -1):
            a, b = cands[j], cands[j + 1]
            twins = (
                a.template.id == b.template.id
                and a.stage == b.stage
                and a.budget_left == b.budget_left
                and a.eligible_lines == b.eligible_lines
                and self.compat[j] & ~(1 << (j + 1)) == self.compat[j + 1] & ~(1 << j)
                and a.template == b.template
            )
            if twins:
                self.run_end[j] = self.run_end[j + 1]

    def _memo_scope(self) -> None:
        """What of the path so far still matters from candidate ``i`` on (for the memo's key)."""
        n = len(self.cands)
        self.first_after_items = next((j for j, p in enumerate(self.cands) if p.stage != ITEM_STAGE), n)
        self.limited_from: list[tuple[str, ...]] = [()] * (n + 1)
        self.budgeted_from: list[tuple[str, ...]] = [()] * (n + 1)
        limited: dict[str, None] = {}
        budgeted: dict[str, None] = {}
        for j in range(n - 1, -1, -1):  # a template with one code has nothing counted before it
            if self.limit[j] is not None and self.shared_template[j]:
                limited.setdefault(self.tid[j])
            if self.cands[j].budget_left is not None and self.shared_template[j]:
                budgeted.setdefault(self.tid[j])
            self.limited_from[j] = tuple(sorted(limited))
            self.budgeted_from[j] = tuple(sorted(budgeted))

    # -- the search ---------------------------------------------------------------------------------
    def run(self, seeds: list[tuple[int, ...]]) -> None:
        for seed in seeds:
            self._offer_seed(seed)
        self._visit(0, initial_state(self.facts), None, [], (1 << len(self.cands)) - 1, 0, 0, 0, {}, {})

    def _offer_seed(self, chosen: tuple[int, ...]) -> None:
        """A feasible combination found greedily: a good first incumbent prunes most of the tree."""
        state = initial_state(self.facts)
        kept: list[int] = []
        discount = extra = points = 0
        spent: dict[str, int] = {}
        for j in sorted(chosen):
            p = self.cands[j]
            effect = effect_of(p.template, p.eligible_lines, self.facts, state)
            if not self._useful(p, effect.total):
                continue
            cost = cost_of(p.template, effect.total)
            if p.budget_left is not None and cost > p.budget_left - spent.get(p.template.id, 0):
                continue
            spent[p.template.id] = spent.get(p.template.id, 0) + cost
            state = apply_effect(state, effect)
            kept.append(j)
            discount += effect.total
            extra += self.extra[j]
            points += self.points[j]
        rank: Rank = (discount, extra, points, -len(kept), tuple(sorted(self.keys[j] for j in kept)))
        if better(rank, self.best_rank):
            self.best_rank, self.best_set = rank, tuple(kept)

    def _visit(
        self,
        i: int,
        state: State,
        totals: _Totals | None,
        chosen: list[int],
        allowed: int,
        discount: int,
        extra: int,
        points: int,
        spent: dict[str, int],
        per_template: dict[str, int],
        bound: _Bound | None = None,
    ) -> None:
        if self.max_nodes is not None and self.nodes >= self.max_nodes:
            self.stopped = True
            return
        self.nodes += 1
        if (discount, extra, points, -len(chosen)) >= self.best_rank[:4]:  # else it cannot be better
            rank: Rank = (discount, extra, points, -len(chosen), tuple(sorted(self.keys[j] for j in chosen)))
            if better(rank, self.best_rank):
                self.best_rank, self.best_set = rank, tuple(chosen)
        n = len(self.cands)
        while i < n and not allowed >> i & 1:  # nothing to decide for a coupon no longer allowed
            i += 1
        if i >= n or (self.max_coupons is not None and len(chosen) >= self.max_coupons):
            return
        if self._seen(i, state, chosen, allowed, extra, points, spent, per_template):
            return
        if totals is None:
            totals = self._totals(i, allowed, state)
        wanted = allowed >> i << i
        if bound is None or not bound.narrow_to(totals, wanted, per_template):
            bound = _Bound(self, state, totals, wanted, per_template)
        if not self._promising(i, bound, chosen, allowed, discount, extra, points):
            return
        p = self.cands[i]
        skip_to = self.run_end[i]
        skipped = allowed & ~(((1 << skip_to) - 1) ^ ((1 << i) - 1))
        include_first = not self._a_later_group_member_gives_more(i, totals, allowed)
        for include in (True, False) if include_first else (False, True):
            if self.stopped:
                return
            if not include:
                self._visit(
                    skip_to,
                    state,
                    totals,
                    chosen,
                    skipped,
                    discount,
                    extra,
                    points,
                    spent,
                    per_template,
                    bound,
                )
                continue
            if not (self._fits_order(p, per_template) and self._useful(p, totals[i])):
                continue
            effect = effect_of(p.template, p.eligible_lines, self.facts, state)
            gain = effect.total
            cost = cost_of(p.template, gain)
            tid = p.template.id
            if p.budget_left is not None and cost > p.budget_left - spent.get(tid, 0):
                continue
            self._visit(
                i + 1,
                apply_effect(state, effect),
                None if gain else totals,  # a gift or cash-back leaves the state as it was
                [*chosen, i],
                allowed & self.compat[i] & ~(1 << i),
                discount + gain,
                extra + self.extra[i],
                points + self.points[i],
                {**spent, tid: spent.get(tid, 0) + cost} if p.budget_left is not None else spent,
                {**per_template, tid: per_template.get(tid, 0) + 1},
                None if gain else bound,
            )

    def _seen(
        self,
        i: int,
        state: State,
        chosen: list[int],
        allowed: int,
        extra: int,
        points: int,
        spent: dict[str, int],
        per_template: dict[str, int],
    ) -> bool:
        """True when another path reached the same situation with a prefix at least as good.

        Same cart state, same coupons still allowed, same counters that still matter: every way on is
        open to both, and adding it keeps their order (more extra value, then more points, then fewer
        coupons, then smaller keys), so only the better prefix needs to go on.
        """
        key = (
            i,
            state.remaining,
            state.free if i < self.first_after_items else None,
            state.shipping,
            allowed >> i,
            tuple(per_template.get(t, 0) for t in self.limited_from[i]),
            tuple(spent.get(t, 0) for t in self.budgeted_from[i]),
            len(chosen) if self.max_coupons is not None else None,
        )
        prefix = (extra, points, -len(chosen), tuple(sorted(self.keys[j] for j in chosen)))
        known = self.memo.get(key)
        if known is not None and not better((0, *prefix), (0, *known)):
            return True
        self.memo[key] = prefix
        return False

    def _totals(self, i: int, allowed: int, state: State) -> _Totals:
        """Discounts on ``state`` of the candidates still allowed from ``i`` on (others 0); computed once
        per state and reused down the exclude branches, which keep the state and only shrink the set."""
        remaining, free, quantity = state.remaining, state.free, self.facts.quantity
        bases = [sum(remaining[k] for k in lines) for lines in self.mask_lines]
        totals = _Totals([0] * len(self.cands))
        totals.bases, totals.free = bases, free
        for j in range(i, len(self.cands)):
            if not allowed >> j & 1:
                continue
            how, mask = self.how[j]
            p = self.cands[j]
            if how == _ORDER_FAST:
                totals[j] = order_total(p.template.benefit, bases[mask])
            elif how == _ITEM_BASE:
                base = sum(free[k] * w for k, w in self.unit_weights[j])
                totals[j] = order_total(p.template.benefit, base)
            elif how == _ITEM_UNITS:
                cap = p.template.benefit.cap
                saving = sum(free[k] * w for k, w in self.unit_weights[j])
                totals[j] = saving if cap is None else min(saving, cap.minor)
            elif how == _SHIPPING:
                totals[j] = shipping_total(p.template.benefit, self.facts, state.shipping)
            elif how == _ITEM_LIMITED:
                totals[j] = self._limited_total(j, free)
            elif how == _LIST_FAST:  # down to the list price less the percentage, line by line
                floors = self.list_floors[j]
                assert floors is not None
                cut = sum(max(0, remaining[k] - quantity[k] * floor) for k, floor in floors)
                cap = p.template.benefit.cap
                totals[j] = cut if cap is None else min(cut, cap.minor)
            elif how == _GENERIC:
                totals[j] = effect_total(p.template, p.eligible_lines, self.facts, state)
        return totals

    def _limited_total(self, j: int, free: tuple[int, ...]) -> int:
        """An item coupon with max_units: its units worth most, their saving (or the amount or
        percentage of their price)."""
        per_unit, order = self.limited_units[j]
        benefit = self.cands[j].template.benefit
        left = benefit.max_units
        assert left is not None
        saving = base = 0
        sale = self.facts.sale_unit
        for k, worth in order:
            take = min(free[k], left)
            saving += take * worth
            base += take * sale[k]
            left -= take
            if not left:
                break
        if not per_unit:
            return order_total(benefit, base)
        return saving if benefit.cap is None else min(saving, benefit.cap.minor)

    def _a_later_group_member_gives_more(self, i: int, totals: list[int], allowed: int) -> bool:
        """Try leaving a group coupon out first when a later member of its group gives more here."""
        group = self.group[i]
        if group is None:
            return False
        return any(
            allowed >> j & 1
            and self.group[j] == group
            and self.tid[j] != self.tid[i]
            and totals[j] > totals[i]
            for j in range(i + 1, len(self.cands))
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

    # -- the bound ----------------------------------------------------------------------------------
    def _promising(
        self,
        i: int,
        bound: _Bound,
        chosen: list[int],
        allowed: int,
        discount: int,
        extra: int,
        points: int,
    ) -> bool:
        """False when no completion of this node can beat the best found.

        The bound on what the remaining coupons add: each one's discount on the current state (a
        coupon never gives more later, when less is left), at most one template per group, exclusive
        coupons alone, never more than is left to pay — and, when only ties are possible, at most as
        many coupons as the best has (fewer coupons win a tie), then the smallest keys possible.
        """
        best = self.best_rank
        base = (discount, extra, points)
        slots = None if self.max_coupons is None else self.max_coupons - len(chosen)
        top = bound.reach(base, slots)
        if top != best[:3]:
            return top > best[:3]
        # Only a tie on money, value and points is possible: it needs no more coupons than the best.
        room = -best[3] - len(chosen)
        if room <= 0:  # this node itself was ranked on arrival
            return False
        limit = room if slots is None else min(room, slots)
        if bound.reach(base, limit) < best[:3]:
            return False
        if limit < room or bound.reach(base, room - 1) == best[:3]:
            return True  # a tie with fewer coupons than the best would win outright
        # Exactly as many coupons as the best: the smallest keys this node could still end with.
        keys = [self.keys[j] for j in chosen]
        for j in self.by_key:
            if len(keys) == len(chosen) + room:
                break
            if j >= i and allowed >> j & 1:
                keys.append(self.keys[j])
        return len(keys) == len(chosen) + room and tuple(sorted(keys)) < best[4]


_EXCLUSIVE, _GROUPED, _ORDER, _ITEM, _LIST, _OTHER = range(6)


class _LineBest:
    """Per line, the highest (or lowest) value among a changing set of coupons' per-line values."""

    def __init__(
        self, values: list[tuple[tuple[int, int], ...] | None], lines: int, *, highest: bool
    ) -> None:
        self.values, self.highest = values, highest
        self.members = 0
        self.best: list[int | None] = [None] * lines

    def _better(self, a: int, b: int | None) -> bool:
        return b is None or (a > b if self.highest else a < b)

    def add(self, j: int) -> None:
        self.members |= 1 << j
        for k, value in self.values[j] or ():
            if self._better(value, self.best[k]):
                self.best[k] = value

    def remove(self, j: int) -> None:
        self.members &= ~(1 << j)
        for k, value in self.values[j] or ():
            if value == self.best[k]:  # it was the best on line k: find the next
                self.best[k] = self._best_of(k)

    def _best_of(self, line: int) -> int | None:
        best: int | None = None
        bits = self.members
        while bits:
            low = bits & -bits
            for k, value in self.values[low.bit_length() - 1] or ():
                if k == line and self._better(value, best):
                    best = value
            bits ^= low
        return best

    def items(self) -> list[tuple[int, int]]:
        """(line, best value) of the lines some member covers."""
        return [(k, value) for k, value in enumerate(self.best) if value is not None]


class _Bound:
    """Upper bounds on what a set of coupons can add on one cart state.

    Each coupon gives at most its discount on this state (a coupon never gives more later, when less
    is left). Ungrouped coupons add up, but: the order coupons of one set of lines take at most what
    all of them take applied in turn to what is left there (percentages compound, amounts saturate);
    item coupons at most the best saving of each free unit (a unit takes one item coupon);
    percentages of the list price at most down to the lowest of their prices per line. Each group
    adds its best template,
    exclusive coupons compete alone, and nothing exceeds what is left to pay. With a limit on how many
    more coupons, the largest discounts are summed instead. Down a chain of "leave it out" branches
    the state stays and the set only shrinks: the bound is updated by removing coupons.
    """

    def __init__(
        self, search: _Search, state: State, totals: _Totals, wanted: int, per_template: dict[str, int]
    ) -> None:
        self.search, self.state, self.totals = search, state, totals
        self.wanted = wanted
        self.members = 0  # the coupons counted (the wanted ones, less codes beyond per_order)
        self.count = 0
        self.free_extra = self.free_points = 0  # ungrouped, non-exclusive
        self.role: dict[int, int] = {}
        self.other = [0, 0]  # ungrouped, added as they are: merchandise, shipping
        masks = len(search.mask_lines)
        self.mask_bits = [0] * masks  # the ungrouped order coupons of each set of lines
        self.mask_take: list[int | None] = [None] * masks  # what they take together (None: to do)
        self.items_sum = 0  # every item coupon's discount
        self.items_unit = 0  # ... of those whose saving is not per unit
        lines = len(state.free)
        self.unit_best = _LineBest(search.unit_caps, lines, highest=True)  # per-unit item savings
        self.list_sum = 0  # order percentages of the list price: their discounts
        self.floors = _LineBest(search.list_floors, lines, highest=False)  # ... and lowest unit price
        # Per group: (discount, extra value, points) of each member (codes of one template summed),
        # and the best of each over the members: a group gives one template's.
        self.groups: list[dict[Any, list[int]]] = [{} for _ in search.group_slots]
        self.group_best = [(0, 0, 0)] * len(search.group_slots)
        self.group_sum = [0, 0]  # the groups' best discounts: merchandise, shipping
        self.group_extra = self.group_points = 0
        self.exclusives: dict[int, tuple[int, int, int]] = {}
        self.left = state.merchandise + state.shipping
        # Codes of a template with a per_order limit: only the best `room` of them count.
        self.rooms: dict[str, int] = {}
        limited = search.limited_copies
        bits = wanted
        while bits:  # lowest bit first
            low = bits & -bits
            j = low.bit_length() - 1
            bits ^= low
            if limited[j]:
                tid = search.tid[j]
                if tid not in self.rooms:
                    self.rooms[tid] = max(0, search.uniform_limit[tid] - per_template.get(tid, 0))  # type: ignore[operator]
                    self._count_copies(tid)
            else:
                self._add(j)
        for slot in range(len(self.groups)):
            self._rank_group(slot)
        self.alone = max(self.exclusives.values(), default=(0, 0, 0))

    def _role(self, j: int, total: int) -> int:
        search = self.search
        if search.exclusive[j]:
            return _EXCLUSIVE
        if search.group_slot[j] >= 0:
            return _GROUPED
        if search.is_item[j]:
            return _ITEM
        if search.list_floors[j] is not None:
            return _LIST
        if search.how[j][0] != _ORDER_FAST:
            return _OTHER
        return _ORDER

    def _add(self, j: int) -> None:
        search, total = self.search, self.totals[j]
        self.members |= 1 << j
        self.count += 1
        role = self.role[j] = self._role(j, total)
        if role == _EXCLUSIVE:
            self.exclusives[j] = (min(total, self.left), search.extra[j], search.points[j])
            return
        if role == _GROUPED:  # several codes of one template in a group add up; others compete
            slot = search.group_slot[j]
            key = search.tid[j] if search.shared_template[j] else j
            values = self.groups[slot].setdefault(key, [0, 0, 0])
            values[0] += total
            values[1] += search.extra[j]
            values[2] += search.points[j]
            return
        self.free_extra += search.extra[j]
        self.free_points += search.points[j]
        if role == _ITEM:
            self.items_sum += total
            if search.unit_caps[j] is None:
                self.items_unit += total
            else:
                self.unit_best.add(j)
        elif role == _LIST:
            self.list_sum += total
            self.floors.add(j)
        elif role == _OTHER:
            self.other[search.shipping[j]] += total
        else:
            mask = search.how[j][1]
            self.mask_bits[mask] |= 1 << j
            self.mask_take[mask] = None

    def _remove(self, j: int) -> None:
        search, total = self.search, self.totals[j]
        self.members &= ~(1 << j)
        self.count -= 1
        role = self.role.pop(j)
        if role == _EXCLUSIVE:
            if self.exclusives.pop(j) == self.alone:
                self.alone = max(self.exclusives.values(), default=(0, 0, 0))
            return
        if role == _GROUPED:
            slot = search.group_slot[j]
            members = self.groups[slot]
            key = search.tid[j] if search.shared_template[j] else j
            values = members[key]
            values[0] -= total
            values[1] -= search.extra[j]
            values[2] -= search.points[j]
            if not search.shared_template[j]:
                del members[key]
            self._rank_group(slot)
            return
        self.free_extra -= search.extra[j]
        self.free_points -= search.points[j]
        if role == _ITEM:
            self.items_sum -= total
            if search.unit_caps[j] is None:
                self.items_unit -= total
            else:
                self.unit_best.remove(j)
        elif role == _LIST:
            self.list_sum -= total
            self.floors.remove(j)
        elif role == _OTHER:
            self.other[search.shipping[j]] -= total
        else:
            mask = search.how[j][1]
            self.mask_bits[mask] &= ~(1 << j)
            self.mask_take[mask] = None

    def _rank_group(self, slot: int) -> None:
        """The best discount, extra value and points among a group's members (each on its own)."""
        values = self.groups[slot].values()
        best = (
            max((v[0] for v in values), default=0),
            max((v[1] for v in values), default=0),
            max((v[2] for v in values), default=0),
        )
        old = self.group_best[slot]
        self.group_sum[self.search.group_slots[slot][1]] += best[0] - old[0]
        self.group_extra += best[1] - old[1]
        self.group_points += best[2] - old[2]
        self.group_best[slot] = best

    def _count_copies(self, tid: str) -> None:
        """Count the best ``room`` wanted codes of ``tid`` (and only those)."""
        search, totals = self.search, self.totals
        wanted = [j for j in search.codes_of[tid] if self.wanted >> j & 1]
        keep = set(sorted(wanted, key=lambda j: -totals[j])[: self.rooms[tid]])
        for j in search.codes_of[tid]:
            counted = self.members >> j & 1
            if counted and j not in keep:
                self._remove(j)
            elif not counted and j in keep:
                self._add(j)

    def narrow_to(self, totals: _Totals, wanted: int, per_template: dict[str, int]) -> bool:
        """Drop the coupons no longer wanted; False when it must be rebuilt instead (another state, or
        coupons added back)."""
        if totals is not self.totals or wanted & ~self.wanted:
            return False
        search = self.search
        gone = self.wanted & ~wanted
        self.wanted = wanted
        recount: set[str] = set()
        while gone:
            low = gone & -gone
            j = low.bit_length() - 1
            gone ^= low
            if search.limited_copies[j]:
                recount.add(search.tid[j])
            elif self.members >> j & 1:
                self._remove(j)
        for tid, room in self.rooms.items():
            now = max(0, search.uniform_limit[tid] - per_template.get(tid, 0))  # type: ignore[operator]
            if tid in recount or now != room:
                self.rooms[tid] = now
                self._count_copies(tid)
        return True

    def _merchandise(self) -> int:
        """The ungrouped, non-exclusive coupons' bound on merchandise."""
        total = self.other[0]
        for mask, bits in enumerate(self.mask_bits):
            if not bits:
                continue
            take = self.mask_take[mask]
            if take is None:
                take = self.mask_take[mask] = self._mask_take(self.totals.bases[mask], bits)
            total += take
        if self.items_sum:
            # A unit takes one item coupon: each free unit at its best per-unit saving, plus what the
            # other item coupons give (an amount or a percentage of the price, or max_units).
            free = self.totals.free
            units = sum(free[k] * best for k, best in self.unit_best.items())
            total += min(self.items_sum, units + self.items_unit)
        if self.list_sum:  # a line ends no lower than its lowest list-percentage price
            remaining, quantity = self.state.remaining, self.search.facts.quantity
            floors = sum(max(0, remaining[k] - quantity[k] * floor) for k, floor in self.floors.items())
            total += min(self.list_sum, floors)
        return total

    def _mask_take(self, base: int, bits: int) -> int:
        """What these order coupons of one set of lines take together from ``base``, applied in
        application order: the most any of their subsets can take there (each coupon's take grows with
        what is left and never exceeds it, so adding a coupon never lowers the total), whatever else
        lowers those lines in between."""
        cands = self.search.cands
        left = base
        while bits and left:
            low = bits & -bits
            left -= order_total(cands[low.bit_length() - 1].template.benefit, left)
            bits ^= low
        return base - left

    def reach(self, base: tuple[int, int, int], slots: int | None) -> tuple[int, int, int]:
        """(discount, extra value, points) reachable with at most ``slots`` more coupons (None: any).

        Either stackable coupons (each of the three bounded on its own) or one exclusive coupon alone
        — the better of the two, compared as ranks are.
        """
        discount, extra, points = base
        if slots is not None and slots <= 0:
            return (discount, extra, points)
        state = self.state
        merch = self._merchandise() + self.group_sum[0]
        ship = self.other[1] + self.group_sum[1]
        stacked = min(merch, state.merchandise) + min(ship, state.shipping)
        more = self.free_extra + self.group_extra
        more_points = self.free_points + self.group_points
        if slots is not None and slots < self.count:
            search, stackable = self.search, self.members & ~self.search.exclusive_bits
            stacked = min(stacked, self._top(self.totals.largest_first(), slots, stackable))
            if more:
                more = min(more, self._top(search.by_extra, slots, stackable, search.extra))
            if more_points:
                more_points = min(more_points, self._top(search.by_points, slots, stackable, search.points))
        gain = max((stacked, more, more_points), self.alone)
        return (discount + gain[0], extra + gain[1], points + gain[2])

    def _top(self, order: list[int], slots: int, members: int, values: list[int] | None = None) -> int:
        """The sum of the ``slots`` largest values among ``members`` (``order``: largest first)."""
        values = self.totals if values is None else values
        total = 0
        for j in order:
            if members >> j & 1:
                total += values[j]
                slots -= 1
                if not slots:
                    break
        return total


def _greedy_seeds(search: _Search) -> list[tuple[int, ...]]:
    """Two quick guesses, largest discount alone first, each coupon kept when it may stack with those
    kept: every coupon that fits (right when stacking everything is best), and only until their
    discounts alone cover the cart (right when a few large coupons cover it: fewer coupons win)."""
    cands = search.cands
    alone = [p.standalone.total if p.standalone is not None else 0 for p in cands]
    order = sorted(range(len(cands)), key=lambda j: (-alone[j], -search.extra[j], search.keys[j]))
    cover = search.facts.shipping + sum(s * q for s, q in zip(search.facts.sale_unit, search.facts.quantity))
    seeds = []
    for until_covered in (False, True):
        kept: list[int] = []
        allowed = (1 << len(cands)) - 1
        per_template: dict[str, int] = {}
        covered = 0
        for j in order:
            if not allowed >> j & 1 or not search._fits_order(cands[j], per_template):
                continue
            if search.max_coupons is not None and len(kept) >= search.max_coupons:
                break
            if until_covered and covered >= cover and alone[j]:
                continue
            kept.append(j)
            covered += alone[j]
            allowed &= search.compat[j]
            per_template[search.tid[j]] = per_template.get(search.tid[j], 0) + 1
        seeds.append(tuple(kept))
    return seeds


def best_combination(
    cart: Cart,
    customer: CustomerContext,
    coupons: Sequence[Coupon],
    *,
    as_of: datetime,
    usage: Mapping[str, CouponUsage] | None = None,
    max_coupons: int | None = None,
    tz: TzLike | None = None,
    max_nodes: int | None = DEFAULT_MAX_NODES,
) -> BestCombination:
    """The combination of ``coupons`` with the largest total discount the stacking rules allow.

    Parameters
    ----------
    cart, customer:
        The [`Cart`][] and [`CustomerContext`][].
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
        [`check`][]); the zone ``as_of`` is written in never matters.
    max_nodes:
        The work limit: search nodes visited at most (default ``DEFAULT_MAX_NODES``, 600; ``None``:
        no limit, exponential in the worst case). Past it the best combination found is returned
        with ``optimal=False``. The limit counts nodes, not time, so the answer is deterministic.

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
    >>> best.quote.rejected_reasons(), best.optimal
    ({'off30': ('NOT_COMBINABLE',)}, True)

    A wallet of 18 identical codes is counted, not enumerated (13 × 15.00 = 195.00, the 14th code
    takes the last 5.00; the first fourteen codes win the tie on keys):

    >>> from user_ops.coupons import IssuedCoupon, Limits
    >>> many = amount_off("off15", "15 CNY", limits=Limits(per_order=None))
    >>> wallet = [IssuedCoupon.issue(many, code=f"C{i:02d}", owner="c1", issued_at=as_of) for i in range(18)]
    >>> best = best_combination(cart, CustomerContext(id="c1"), wallet, as_of=as_of, max_nodes=50)
    >>> len(best.keys), str(best.discount), best.optimal
    (14, '200.00 CNY', True)
    """
    as_of = require_aware(as_of)
    if max_coupons is not None and (
        isinstance(max_coupons, bool) or not isinstance(max_coupons, int) or max_coupons < 0
    ):
        raise DataError(f"max_coupons must be a non-negative int or None, got {max_coupons!r}")
    if max_nodes is not None and (
        isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1
    ):
        raise DataError(f"max_nodes must be a positive int or None, got {max_nodes!r}")
    facts, prepared = prepare_all(coupons, cart, customer, as_of=as_of, usage=usage, tz=tz)
    cands = _candidates(prepared)
    compat = [
        sum(1 << j for j, b in enumerate(cands) if j != i and compatible(a, b)) for i, a in enumerate(cands)
    ]
    best, nodes, stopped = _solve(facts, cands, compat, max_coupons, max_nodes)
    chosen = {cands[i].position for i in best}
    result = run_quote(
        cart, customer, coupons, as_of=as_of, usage=usage, chosen=chosen, prepared=(facts, prepared), tz=tz
    )
    return BestCombination(
        result.applied_keys, result.discount, result, len(cands), nodes, optimal=not stopped
    )


def _solve(
    facts: LineFacts, cands: list[Prepared], compat: list[int], max_coupons: int | None, max_nodes: int | None
) -> tuple[list[int], int, bool]:
    """The best combination (indices into ``cands``), the nodes visited, and whether the work limit cut
    the search short.

    Without ``max_coupons`` the wallet splits into independent parts — coupons that touch different
    lines (or shipping), stack with each other and are of different templates — searched one by one:
    their bests add up to the best of the whole (discount, value and points add; fewer coupons and
    smaller keys are each part's own choice), and the search is exponential in a part's size only.
    An exclusive coupon is used alone, so it competes with the combination of all the parts.
    """
    if max_coupons is not None:  # the count couples everything: one search
        parts, alone_ones = [list(range(len(cands)))], []
    else:
        parts = _independent_parts(cands, compat)
        alone_ones = [j for j, p in enumerate(cands) if p.template.stacking.exclusive]
    total: Rank = (0, 0, 0, 0, ())
    best: list[int] = []
    nodes, stopped = 0, False
    for part in sorted(parts, key=len):  # the small parts first: they finish within any work limit
        left = None if max_nodes is None else max(max_nodes - nodes, 0)
        search = _Search(facts, [cands[j] for j in part], _restricted(compat, part), max_coupons, left)
        if left == 0:  # no work left: the guesses only
            search.stopped = True
            for seed in _greedy_seeds(search):
                search._offer_seed(seed)
        else:
            search.run(_greedy_seeds(search))
        nodes += search.nodes
        stopped = stopped or search.stopped
        rank = search.best_rank
        total = (total[0] + rank[0], total[1] + rank[1], total[2] + rank[2], total[3] + rank[3], ())
        best.extend(part[j] for j in search.best_set)
    total = (total[0], total[1], total[2], total[3], tuple(sorted(cands[j].key for j in best)))
    for j in alone_ones:  # an exclusive coupon, alone, against all the parts together
        p = cands[j]
        standalone = p.standalone.total if p.standalone is not None else 0
        alone: Rank = (standalone, p.extra[0], p.extra[1], -1, (p.key,))
        if better(alone, total):
            total, best = alone, [j]
    return best, nodes, stopped


def _independent_parts(cands: list[Prepared], compat: list[int]) -> list[list[int]]:
    """The non-exclusive candidates in parts that do not interact: no coupon shares a line (or
    shipping), a template or a conflict with another part's (union-find)."""
    n = len(cands)
    parent = list(range(n))

    def root(j: int) -> int:
        while parent[j] != j:
            parent[j] = parent[parent[j]]
            j = parent[j]
        return j

    def join(a: int, b: int) -> None:
        parent[root(a)] = root(b)

    exclusive = [p.template.stacking.exclusive for p in cands]
    every = (1 << n) - 1
    owner: dict[Any, int] = {}
    for j, p in enumerate(cands):
        if exclusive[j]:
            continue
        resources: list[Any] = [("template", p.template.id)]
        if gives_money_off(p.template):
            if p.stage == SHIPPING_STAGE:
                resources.append("shipping")
            else:
                resources.extend(("line", k) for k, ok in enumerate(p.eligible_lines) if ok)
        for resource in resources:
            if resource in owner:
                join(j, owner[resource])
            else:
                owner[resource] = j
        conflicts = every & ~compat[j] & ~(1 << j)
        while conflicts:
            low = conflicts & -conflicts
            k = low.bit_length() - 1
            if not exclusive[k]:
                join(j, k)
            conflicts ^= low
    parts: dict[int, list[int]] = {}
    for j in range(n):
        if not exclusive[j]:
            parts.setdefault(root(j), []).append(j)
    return list(parts.values())


def _restricted(compat: list[int], part: list[int]) -> list[int]:
    """The compatibility bit masks of ``part``'s candidates, renumbered within the part."""
    out = []
    for j in part:
        row = 0
        for new, k in enumerate(part):
            if compat[j] >> k & 1:
                row |= 1 << new
        out.append(row)
    return out


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

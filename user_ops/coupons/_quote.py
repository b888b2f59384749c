"""``quote``: apply a set of coupons to a cart in a defined order, with exact per-line splits.

Order of work
-------------
1. Every coupon is checked alone ([`check`][]); failing ones are rejected with
   their reasons. A key (code, or template id) given twice is rejected as ``DUPLICATE_COUPON``.
2. Conflicts are resolved by **priority** (``stacking.priority``, higher first), then key, then input
   position: a coupon is accepted when it may stack with every coupon accepted before it
   (``NOT_COMBINABLE`` otherwise) and its template's ``limits.per_order`` is not yet reached.
3. Accepted coupons are **applied** stage by stage — item coupons, then order coupons (gifts and
   cash-back among them), then shipping coupons — and inside a stage by priority (higher first), then
   key. Each takes its discount from what is left after the earlier ones. A coupon that would take
   nothing off (``NO_DISCOUNT``) or that exceeds its template's remaining budget
   (``BUDGET_EXHAUSTED``) is rejected and steps 2–3 run again without it.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from user_ops._money import Money
from user_ops._time import TzLike, get_tz, require_aware
from user_ops.coupons._check import (
    Coupon,
    Prepared,
    budget_reason,
    compatible,
    cost_of,
    no_discount_reason,
    prepare_all,
)
from user_ops.coupons._engine import (
    STAGE_NAMES,
    Effect,
    LineFacts,
    State,
    apply_effect,
    effect_of,
    gives_money_off,
    initial_state,
    money_currency,
)
from user_ops.coupons._model import BenefitKind, Cart, CashBackForm, CustomerContext, IssuedCoupon
from user_ops.coupons._reasons import CouponUsage, Reason, ReasonCode, make_reason
from user_ops.exceptions import DataError

if TYPE_CHECKING:
    from user_ops.coupons._redemption import RedemptionIntent

__all__ = ["AppliedCoupon", "LineAllocation", "Quote", "QuoteLine", "RejectedCoupon", "TraceStep", "quote"]


@dataclass(frozen=True)
class LineAllocation:
    """The part of one coupon's discount that falls on one cart line.

    Attributes
    ----------
    line_id:
        The cart line (the ``line_id`` of a [`CartLine`][user_ops.coupons.CartLine]).
    discount:
        What the coupon takes off that line; the allocations of a coupon sum to its discount exactly.
    units:
        Item coupons: how many units of the line it discounted (0 for order coupons).

    Examples
    --------
    A fixed price (一口价) of 9.90 on at most two mugs, in a cart of three mugs and a tea:

    >>> from datetime import datetime, timezone
    >>> as_of = datetime(2024, 6, 1, tzinfo=timezone.utc)
    >>> from user_ops.coupons import Benefit, CartLine, Conditions, CouponTemplate
    >>> cart = Cart(currency="CNY", lines=[CartLine(sku="mug", unit_price="30 CNY", quantity=3),
    ...                                    CartLine(sku="tea", unit_price="50 CNY", quantity=1)])
    >>> mug = CouponTemplate(id="mug-9.9", currency="CNY", conditions=Conditions(include_skus=["mug"]),
    ...                      benefit=Benefit(kind="fixed_price", amount="9.90 CNY", max_units=2))
    >>> q = quote(cart, CustomerContext(id="c1"), [mug], as_of=as_of)
    >>> q.applied[0].lines
    (LineAllocation(line_id='mug', discount=Money('40.20', 'CNY'), units=2),)
    """

    line_id: str
    discount: Money
    units: int = 0


@dataclass(frozen=True)
class AppliedCoupon:
    """A coupon the quote uses, with its discount split over lines and shipping.

    Attributes
    ----------
    key, template_id, code:
        The coupon's key (its code, or the template id of a template used directly), its template's
        id, and the issued code (``None`` for a template used directly).
    stage:
        ``"items"``, ``"order"`` or ``"shipping"``: when it was applied.
    discount:
        The money it takes off (merchandise and shipping).
    base:
        What was left to pay of its eligible lines (or shipping) when it was applied.
    lines, shipping_discount:
        Its discount per cart line ([`LineAllocation`][], lines it does not touch left out) and on
        shipping; together they sum to ``discount``.
    gift_sku, gift_quantity, gift_value, cash_back, cash_back_points:
        What a gift (赠品) or cash-back (返现) coupon gives besides the price.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> as_of = datetime(2024, 6, 1, tzinfo=timezone.utc)
    >>> from user_ops.coupons import Benefit, CartLine, CouponTemplate
    >>> cart = Cart(currency="CNY", shipping_fee="8 CNY", lines=[
    ...     CartLine(sku="a", unit_price="60 CNY", quantity=1),
    ...     CartLine(sku="b", unit_price="40 CNY", quantity=1)])
    >>> off10 = CouponTemplate(id="off10", currency="CNY",
    ...                        benefit=Benefit(kind="amount_off", amount="10 CNY"))
    >>> ship = CouponTemplate(id="ship", currency="CNY", benefit=Benefit(kind="free_shipping"))
    >>> q = quote(cart, CustomerContext(id="c1"), [ship, off10], as_of=as_of)
    >>> order, shipping = q.applied
    >>> order.key, order.stage, str(order.base), [(a.line_id, str(a.discount)) for a in order.lines]
    ('off10', 'order', '100.00 CNY', [('a', '6.00 CNY'), ('b', '4.00 CNY')])
    >>> shipping.stage, str(shipping.discount), str(shipping.shipping_discount), shipping.lines
    ('shipping', '8.00 CNY', '8.00 CNY', ())
    """

    key: str
    template_id: str
    code: str | None
    stage: str
    discount: Money
    base: Money
    lines: tuple[LineAllocation, ...]
    shipping_discount: Money
    gift_sku: str | None = None
    gift_quantity: int = 0
    gift_value: Money | None = None
    cash_back: Money | None = None
    cash_back_points: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict."""
        return {
            "key": self.key,
            "template_id": self.template_id,
            "code": self.code,
            "stage": self.stage,
            "discount": str(self.discount),
            "base": str(self.base),
            "lines": [
                {"line_id": a.line_id, "discount": str(a.discount), "units": a.units} for a in self.lines
            ],
            "shipping_discount": str(self.shipping_discount),
            "gift_sku": self.gift_sku,
            "gift_quantity": self.gift_quantity,
            "gift_value": None if self.gift_value is None else str(self.gift_value),
            "cash_back": None if self.cash_back is None else str(self.cash_back),
            "cash_back_points": self.cash_back_points,
        }


@dataclass(frozen=True)
class RejectedCoupon:
    """A coupon the quote does not use, and why.

    Attributes
    ----------
    key, template_id:
        The coupon's key (code, or template id) and its template's id.
    reasons:
        The [`Reason`][] objects; [`codes`][] gives their codes.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> as_of = datetime(2024, 6, 1, tzinfo=timezone.utc)
    >>> from user_ops.coupons import Benefit, CartLine, CouponTemplate, Stacking
    >>> cart = Cart(currency="CNY", lines=[CartLine(sku="a", unit_price="50 CNY", quantity=2)])
    >>> off10 = CouponTemplate(id="off10", currency="CNY",
    ...                        benefit=Benefit(kind="amount_off", amount="10 CNY"),
    ...                        stacking=Stacking(priority=1))
    >>> solo = CouponTemplate(id="solo", currency="CNY",
    ...                       benefit=Benefit(kind="amount_off", amount="5 CNY"),
    ...                       stacking=Stacking(exclusive=True))
    >>> q = quote(cart, CustomerContext(id="c1"), [solo, off10], as_of=as_of)
    >>> rejected = q.rejected[0]
    >>> rejected.key, rejected.codes, rejected.reasons[0].message_en
    ('solo', ('NOT_COMBINABLE',), 'cannot be combined with off10')
    """

    key: str
    template_id: str
    reasons: tuple[Reason, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        """The reason codes."""
        return tuple(reason.code.value for reason in self.reasons)


@dataclass(frozen=True)
class QuoteLine:
    """One cart line after coupons: ``subtotal - discount == total``, never below zero.

    Attributes
    ----------
    line_id, sku, quantity:
        The cart line.
    subtotal:
        What it cost before coupons (sale price × quantity).
    discount:
        The sum of every applied coupon's allocation to it.
    total:
        What it costs after coupons.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> as_of = datetime(2024, 6, 1, tzinfo=timezone.utc)
    >>> from user_ops.coupons import Benefit, CartLine, CouponTemplate
    >>> cart = Cart(currency="CNY", lines=[CartLine(sku="a", unit_price="60 CNY", quantity=1),
    ...                                    CartLine(sku="b", unit_price="20 CNY", quantity=2)])
    >>> off10 = CouponTemplate(id="off10", currency="CNY",
    ...                        benefit=Benefit(kind="amount_off", amount="10 CNY"))
    >>> q = quote(cart, CustomerContext(id="c1"), [off10], as_of=as_of)
    >>> [(line.sku, str(line.subtotal), str(line.discount), str(line.total)) for line in q.lines]
    [('a', '60.00 CNY', '6.00 CNY', '54.00 CNY'), ('b', '40.00 CNY', '4.00 CNY', '36.00 CNY')]
    """

    line_id: str
    sku: str
    quantity: int
    subtotal: Money
    discount: Money
    total: Money


@dataclass(frozen=True)
class TraceStep:
    """One step of the quote, in the order the work was done.

    Attributes
    ----------
    step:
        1, 2, … in order.
    key, stage:
        The coupon and its application stage (``items``, ``order``, ``shipping``).
    action:
        ``"checked"`` (passed its checks alone), ``"applied"`` or ``"rejected"``.
    note:
        What happened, for a person (the base and discount, or the reason codes).
    merchandise_left, shipping_left:
        What was left to pay after the step.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> as_of = datetime(2024, 6, 1, tzinfo=timezone.utc)
    >>> from user_ops.coupons import Benefit, CartLine, Conditions, CouponTemplate
    >>> cart = Cart(currency="CNY", lines=[CartLine(sku="a", unit_price="80 CNY", quantity=1)])
    >>> off10 = CouponTemplate(id="off10", currency="CNY",
    ...                        benefit=Benefit(kind="amount_off", amount="10 CNY"))
    >>> off20 = CouponTemplate(id="199-20", currency="CNY",
    ...                        benefit=Benefit(kind="amount_off", amount="20 CNY"),
    ...                        conditions=Conditions(min_subtotal="199 CNY"))
    >>> q = quote(cart, CustomerContext(id="c1"), [off10, off20], as_of=as_of)
    >>> for s in q.trace:
    ...     print(s.step, s.key, s.action, s.note, s.merchandise_left)
    1 off10 checked eligible alone 80.00 CNY
    2 199-20 rejected MIN_SPEND_NOT_MET 80.00 CNY
    3 off10 applied base 80.00 CNY, discount 10.00 CNY 70.00 CNY
    """

    step: int
    key: str
    action: str
    stage: str
    note: str
    merchandise_left: Money
    shipping_left: Money


@dataclass(frozen=True)
class Quote:
    """The priced cart: what each coupon takes off which line, what was rejected and why, how.

    ``subtotal - merchandise_discount + shipping - shipping_discount == total`` exactly, every line's
    ``discount`` is the sum of the applied coupons' allocations to it, and no line goes below zero.
    Built by [`quote`][] (and [`best_combination`][]).

    Attributes
    ----------
    currency, as_of, customer_id:
        The cart's currency, the instant of the quote and the customer.
    subtotal, shipping:
        Merchandise and shipping before coupons.
    merchandise_discount, shipping_discount, discount:
        What the coupons take off merchandise, shipping, and both.
    total:
        What the customer pays.
    applied, rejected:
        The coupons used ([`AppliedCoupon`][], in application order) and not used
        ([`RejectedCoupon`][], in input order).
    lines:
        Every cart line after coupons ([`QuoteLine`][]).
    trace:
        The steps of the work ([`TraceStep`][]).
    cash_back, cash_back_points, gifts:
        Stored value and points credited after the order, and ``(sku, quantity)`` of the gifts.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> as_of = datetime(2024, 6, 1, tzinfo=timezone.utc)
    >>> from user_ops.coupons import Benefit, CartLine, CouponTemplate
    >>> cart = Cart(currency="CNY", shipping_fee="10 CNY", lines=[
    ...     CartLine(sku="a", unit_price="60 CNY", quantity=1),
    ...     CartLine(sku="b", unit_price="40 CNY", quantity=2)])
    >>> pct = CouponTemplate(id="pct15", currency="CNY", benefit=Benefit(kind="percent_off", percent="15"))
    >>> ship = CouponTemplate(id="ship5", currency="CNY", target="shipping",
    ...                       benefit=Benefit(kind="amount_off", amount="5 CNY"))
    >>> q = quote(cart, CustomerContext(id="c1"), [pct, ship], as_of=as_of)
    >>> print(q)
    subtotal 140.00 CNY  shipping 10.00 CNY
      - pct15 (order): -21.00 CNY
      - ship5 (shipping): -5.00 CNY
    discount 26.00 CNY  total 124.00 CNY
    >>> q.subtotal - q.merchandise_discount + q.shipping - q.shipping_discount == q.total
    True
    """

    currency: str
    as_of: datetime
    subtotal: Money
    shipping: Money
    merchandise_discount: Money
    shipping_discount: Money
    discount: Money
    total: Money
    applied: tuple[AppliedCoupon, ...]
    rejected: tuple[RejectedCoupon, ...]
    lines: tuple[QuoteLine, ...]
    trace: tuple[TraceStep, ...]
    cash_back: Money
    cash_back_points: int
    gifts: tuple[tuple[str, int], ...] = ()
    customer_id: str = ""
    _templates: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _inputs: tuple[Cart, CustomerContext, tuple[Coupon, ...], datetime, Any, TzLike | None] | None = field(
        default=None, repr=False, compare=False
    )
    _memo: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def fingerprint(self) -> str:
        """SHA-256 (hex) of the canonical inputs and outputs: equal quotes fingerprint equal, across
        processes; any change of cart, customer, coupons, ``as_of``, usage or result changes it.

        Computed on first use (serialising the inputs costs about as much as the quote itself).
        """
        if "fingerprint" not in self._memo:
            assert self._inputs is not None, "a Quote is built by quote() or best_combination()"
            cart, customer, coupons, as_of, usage, tz = self._inputs
            self._memo["fingerprint"] = _fingerprint(
                cart, customer, coupons, as_of, usage, tz, self._outputs()
            )
        return self._memo["fingerprint"]

    @property
    def applied_keys(self) -> tuple[str, ...]:
        """Keys of the applied coupons, in application order."""
        return tuple(a.key for a in self.applied)

    def redemption_intent(self, *, order_id: str) -> RedemptionIntent:
        """The counters redeeming this quote's coupons moves (see ``user_ops.coupons.RedemptionStore``).

        Per applied template: ``coupon:{id}:total`` (limit ``limits.total``),
        ``coupon:{id}:customer:{customer}`` (``limits.per_customer``), ``coupon:{id}:order:{order_id}``
        (``limits.per_order``), and with a budget ``coupon:{id}:budget`` moving the discount (plus a
        gift's or stored value's face value) in minor units; per issued code ``code:{code}`` (limit 1).

        Examples
        --------
        >>> from datetime import datetime, timezone
        >>> from user_ops.coupons import Benefit, Cart, CartLine, CouponTemplate, CustomerContext, Limits
        >>> off5 = Benefit(kind="amount_off", amount="5 CNY")
        >>> tpl = CouponTemplate(id="off5", currency="CNY", benefit=off5,
        ...                      limits=Limits(total=100, per_customer=1), budget="1000 CNY")
        >>> cart = Cart(currency="CNY", lines=[CartLine(sku="a", unit_price="20 CNY", quantity=1)])
        >>> q = quote(cart, CustomerContext(id="c9"), [tpl], as_of=datetime(2024, 6, 1, tzinfo=timezone.utc))
        >>> [(m.key, m.amount, m.limit) for m in q.redemption_intent(order_id="o-1").counters]
        ... # doctest: +NORMALIZE_WHITESPACE
        [('coupon:off5:total', 1, 100), ('coupon:off5:customer:c9', 1, 1), ('coupon:off5:order:o-1', 1, 1),
         ('coupon:off5:budget', 500, 100000)]
        """
        from user_ops.coupons._redemption import CounterMove, RedemptionIntent

        if not isinstance(order_id, str) or not order_id:
            raise DataError(f"order_id must be a non-empty string, got {order_id!r}")
        if not self.applied:
            raise DataError("this quote applies no coupon: there is nothing to redeem")
        counts: dict[str, int] = {}
        costs: dict[str, int] = {}
        templates: dict[str, Any] = {}
        for applied in self.applied:
            template = self._templates[applied.key]
            templates[template.id] = template
            counts[template.id] = counts.get(template.id, 0) + 1
            extra = (applied.gift_value.minor if applied.gift_value is not None else 0) + (
                applied.cash_back.minor if applied.cash_back is not None else 0
            )
            costs[template.id] = costs.get(template.id, 0) + applied.discount.minor + extra
        moves: list[CounterMove] = []
        for tid, template in templates.items():
            limits = template.limits
            moves.append(CounterMove(key=f"coupon:{tid}:total", amount=counts[tid], limit=limits.total))
            moves.append(
                CounterMove(
                    key=f"coupon:{tid}:customer:{self.customer_id}",
                    amount=counts[tid],
                    limit=limits.per_customer,
                )
            )
            moves.append(
                CounterMove(key=f"coupon:{tid}:order:{order_id}", amount=counts[tid], limit=limits.per_order)
            )
            if template.budget is not None:
                moves.append(
                    CounterMove(key=f"coupon:{tid}:budget", amount=costs[tid], limit=template.budget.minor)
                )
        for applied in self.applied:
            if applied.code is not None:
                moves.append(CounterMove(key=f"code:{applied.code}", amount=1, limit=1))
        return RedemptionIntent(counters=tuple(moves))

    def rejected_reasons(self) -> dict[str, tuple[str, ...]]:
        """``{key: reason codes}`` of the rejected coupons."""
        return {r.key: r.codes for r in self.rejected}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict (the trace and fingerprint included)."""
        document = self._outputs()
        document["trace"] = [
            {"step": t.step, "key": t.key, "action": t.action, "stage": t.stage, "note": t.note}
            for t in self.trace
        ]
        document["fingerprint"] = self.fingerprint
        return document

    def _outputs(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "as_of": self.as_of.isoformat(),
            "subtotal": str(self.subtotal),
            "shipping": str(self.shipping),
            "merchandise_discount": str(self.merchandise_discount),
            "shipping_discount": str(self.shipping_discount),
            "discount": str(self.discount),
            "total": str(self.total),
            "applied": [a.to_dict() for a in self.applied],
            "rejected": [
                {"key": r.key, "template_id": r.template_id, "reasons": [x.to_dict() for x in r.reasons]}
                for r in self.rejected
            ],
            "lines": [
                {
                    "line_id": line.line_id,
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "subtotal": str(line.subtotal),
                    "discount": str(line.discount),
                    "total": str(line.total),
                }
                for line in self.lines
            ],
            "cash_back": str(self.cash_back),
            "cash_back_points": self.cash_back_points,
            "gifts": [list(g) for g in self.gifts],
        }

    def __str__(self) -> str:
        out = [f"subtotal {self.subtotal}  shipping {self.shipping}"]
        out.extend(f"  - {a.key} ({a.stage}): -{a.discount}" for a in self.applied)
        out.extend(f"  x {r.key}: {', '.join(r.codes)}" for r in self.rejected)
        out.append(f"discount {self.discount}  total {self.total}")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        lines = "".join(
            f"<tr><td>{html.escape(q.line_id)}</td><td>{q.quantity}</td><td>{q.subtotal}</td>"
            f"<td>-{q.discount}</td><td>{q.total}</td></tr>"
            for q in self.lines
        )
        applied = "".join(
            f"<li><code>{html.escape(a.key)}</code> ({a.stage}) −{a.discount}</li>" for a in self.applied
        )
        rejected = "".join(
            f"<li><code>{html.escape(r.key)}</code>: {html.escape(', '.join(r.codes))}</li>"
            for r in self.rejected
        )
        return (
            "<div class='user-ops-quote'><table><thead><tr><th>line</th><th>qty</th><th>subtotal</th>"
            f"<th>discount</th><th>total</th></tr></thead><tbody>{lines}</tbody></table>"
            f"<p>shipping {self.shipping} (−{self.shipping_discount}) · discount <b>{self.discount}</b> · "
            f"total <b>{self.total}</b></p><p>applied</p><ul>{applied}</ul>"
            + (f"<p>rejected</p><ul>{rejected}</ul>" if self.rejected else "")
            + "</div>"
        )


@dataclass
class _Run:
    """The working state of one quote."""

    facts: LineFacts
    prepared: list[Prepared]
    currency: str
    trace: list[tuple[str, str, str, str, int, int]] = field(default_factory=list)
    rejected: dict[int, tuple[Reason, ...]] = field(default_factory=dict)

    def note(self, p: Prepared, action: str, text: str, state: State) -> None:
        self.trace.append((p.key, action, STAGE_NAMES[p.stage], text, state.merchandise, state.shipping))

    def money(self, minor: int) -> Money:
        return Money.from_minor(minor, money_currency(self.currency))


def _static_rejections(run: _Run) -> list[Prepared]:
    seen: dict[str, Prepared] = {}
    state = initial_state(run.facts)
    candidates = []
    for p in run.prepared:
        if p.reasons:
            run.rejected[p.position] = p.reasons
            run.note(p, "rejected", ", ".join(r.code.value for r in p.reasons), state)
        elif p.key in seen:
            reason = make_reason(
                ReasonCode.DUPLICATE_COUPON,
                f"{p.key} is already in this order",
                f"{p.key}已在本单中使用",
                first_position=seen[p.key].position,
            )
            run.rejected[p.position] = (reason,)
            run.note(p, "rejected", "DUPLICATE_COUPON", state)
        else:
            seen[p.key] = p
            candidates.append(p)
            run.note(p, "checked", "eligible alone", state)
    return candidates


def _conflict_reason(p: Prepared, blocker: Prepared) -> Reason:
    return make_reason(
        ReasonCode.NOT_COMBINABLE,
        f"cannot be combined with {blocker.key}",
        f"不可与{blocker.key}同时使用",
        conflicts_with=blocker.key,
    )


def _per_order_reason(p: Prepared) -> Reason:
    limit = p.template.limits.per_order
    return make_reason(
        ReasonCode.PER_ORDER_LIMIT_REACHED,
        f"at most {limit} coupon(s) of {p.template.id} per order",
        f"每单最多使用{limit}张该券",
        limit=limit,
    )


def _resolve(candidates: list[Prepared], chosen: set[int] | None) -> tuple[list[Prepared], dict[int, Reason]]:
    """Accepted coupons and the conflict reasons of the others (see the module doc, step 2)."""
    accepted: list[Prepared] = []
    conflicts: dict[int, Reason] = {}
    per_template: dict[str, int] = {}
    ranked = sorted(candidates, key=lambda p: (-p.template.stacking.priority, p.key, p.position))
    if chosen is not None:  # best_combination's choice goes first; the rest are reported against it
        ranked.sort(key=lambda p: p.position not in chosen)
    for p in ranked:
        blocker = next((a for a in accepted if not compatible(a, p)), None)
        limit = p.template.limits.per_order
        if blocker is not None:
            conflicts[p.position] = _conflict_reason(p, blocker)
        elif limit is not None and per_template.get(p.template.id, 0) >= limit:
            conflicts[p.position] = _per_order_reason(p)
        elif chosen is not None and p.position not in chosen:
            conflicts[p.position] = make_reason(
                ReasonCode.NOT_SELECTED,
                "a combination giving more does not use it",
                "最优组合未使用该券",
            )
        else:
            accepted.append(p)
            per_template[p.template.id] = per_template.get(p.template.id, 0) + 1
    return accepted, conflicts


_Note = tuple[Prepared, str, str, State]


def _apply_all(
    run: _Run, accepted: list[Prepared]
) -> tuple[list[tuple[Prepared, Effect]], list[_Note], tuple[Prepared, Reason] | None, State]:
    """Apply in application order: the effects and trace notes, or the first coupon to drop and why."""
    state = initial_state(run.facts)
    effects: list[tuple[Prepared, Effect]] = []
    notes: list[_Note] = []
    spent: dict[str, int] = {}
    for p in sorted(accepted, key=lambda q: q.order_key):
        effect = effect_of(p.template, p.eligible_lines, run.facts, state)
        if gives_money_off(p.template) and effect.total == 0:
            return effects, notes, (p, no_discount_reason(p.template)), state
        cost = cost_of(p.template, effect.total)
        if p.budget_left is not None:
            left = p.budget_left - spent.get(p.template.id, 0)
            if cost > left:
                return effects, notes, (p, budget_reason(p.template, left, cost)), state
        spent[p.template.id] = spent.get(p.template.id, 0) + cost
        state = apply_effect(state, effect)
        notes.append(
            (p, "applied", f"base {run.money(effect.base)}, discount {run.money(effect.total)}", state)
        )
        effects.append((p, effect))
    return effects, notes, None, state


def run_quote(
    cart: Cart,
    customer: CustomerContext,
    coupons: Sequence[Coupon],
    *,
    as_of: datetime,
    usage: Any,
    chosen: set[int] | None = None,
    prepared: tuple[LineFacts, list[Prepared]] | None = None,
    tz: TzLike | None = None,
) -> Quote:
    """[`quote`][], optionally forcing the accepted set to the positions in ``chosen``."""
    if prepared is None:
        prepared = prepare_all(coupons, cart, customer, as_of=as_of, usage=usage, tz=tz)
    facts, items = prepared
    run = _Run(facts, items, cart.currency)
    candidates = _static_rejections(run)
    dropped: set[int] = set()
    while True:
        accepted, conflicts = _resolve([p for p in candidates if p.position not in dropped], chosen)
        effects, notes, drop, state = _apply_all(run, accepted)
        if drop is None:
            break
        p, reason = drop  # it takes nothing (or breaks the budget) after the coupons before it
        dropped.add(p.position)
        run.rejected[p.position] = (reason,)
        run.note(p, "rejected", f"{reason.code.value} after the coupons applied before it", state)
    for p, action, text, after in notes:
        run.note(p, action, text, after)
    for position, reason in sorted(conflicts.items()):
        run.rejected[position] = (reason,)
        run.note(items[position], "rejected", f"{reason.code.value}: {reason.message_en}", state)
    return _build(run, cart, customer, coupons, as_of, usage, effects, tz)


def _applied(run: _Run, cart: Cart, p: Prepared, effect: Effect) -> AppliedCoupon:
    benefit = p.template.benefit
    allocations = tuple(
        LineAllocation(line.line_id, run.money(amount), units)
        for line, amount, units in zip(cart.lines, effect.lines, effect.units)
        if amount or units
    )
    is_gift = benefit.kind is BenefitKind.GIFT
    return AppliedCoupon(
        key=p.key,
        template_id=p.template.id,
        code=p.code,
        stage=STAGE_NAMES[p.stage],
        discount=run.money(effect.total),
        base=run.money(effect.base),
        lines=allocations,
        shipping_discount=run.money(effect.shipping),
        gift_sku=benefit.gift_sku if is_gift else None,
        gift_quantity=benefit.gift_quantity if is_gift else 0,
        gift_value=benefit.gift_value if is_gift else None,
        cash_back=benefit.amount if benefit.cash_back is CashBackForm.STORED_VALUE else None,
        cash_back_points=(benefit.points or 0) if benefit.cash_back is CashBackForm.POINTS else 0,
    )


def _build(
    run: _Run,
    cart: Cart,
    customer: CustomerContext,
    coupons: Sequence[Coupon],
    as_of: datetime,
    usage: Any,
    effects: list[tuple[Prepared, Effect]],
    tz: TzLike | None,
) -> Quote:
    applied = tuple(_applied(run, cart, p, effect) for p, effect in effects)
    per_line = [0] * len(cart.lines)
    for _, effect in effects:
        per_line = [a + b for a, b in zip(per_line, effect.lines)]
    lines = tuple(
        QuoteLine(
            line.line_id,
            line.sku,
            line.quantity,
            line.subtotal,
            run.money(off),
            run.money(line.subtotal.minor - off),
        )
        for line, off in zip(cart.lines, per_line)
    )
    rejected = tuple(
        RejectedCoupon(run.prepared[pos].key, run.prepared[pos].template.id, reasons)
        for pos, reasons in sorted(run.rejected.items())
    )
    merchandise_off = sum(per_line)
    shipping_off = sum(effect.shipping for _, effect in effects)
    trace = tuple(
        TraceStep(i + 1, key, action, stage, note, run.money(merch), run.money(ship))
        for i, (key, action, stage, note, merch, ship) in enumerate(run.trace)
    )
    cash = sum(a.cash_back.minor for a in applied if a.cash_back is not None)
    subtotal, shipping = cart.subtotal, cart.shipping
    total = subtotal.minor + shipping.minor - merchandise_off - shipping_off
    body: dict[str, Any] = {
        "currency": cart.currency,
        "as_of": as_of,
        "subtotal": subtotal,
        "shipping": shipping,
        "merchandise_discount": run.money(merchandise_off),
        "shipping_discount": run.money(shipping_off),
        "discount": run.money(merchandise_off + shipping_off),
        "total": run.money(total),
        "applied": applied,
        "rejected": rejected,
        "lines": lines,
        "trace": trace,
        "cash_back": run.money(cash),
        "cash_back_points": sum(a.cash_back_points for a in applied),
        "gifts": tuple((a.gift_sku, a.gift_quantity) for a in applied if a.gift_sku is not None),
        "customer_id": customer.id,
        "_templates": {p.key: p.template for p, _ in effects},
    }
    return Quote(**body, _inputs=(cart, customer, tuple(coupons), as_of, usage, tz))


def _usage_document(usage: Any) -> Any:
    if usage is None:
        return None
    if isinstance(usage, CouponUsage):
        usage = {"": usage}
    return {
        key: [u.total, u.customer, None if u.budget_spent is None else str(u.budget_spent), u.code_redeemed]
        for key, u in sorted(usage.items())
    }


def _fingerprint(
    cart: Cart,
    customer: CustomerContext,
    coupons: Sequence[Coupon],
    as_of: datetime,
    usage: Any,
    tz: TzLike | None,
    outputs: dict[str, Any],
) -> str:
    """SHA-256 of the canonical inputs and outputs (not the trace: it restates the outputs, and its
    wording may improve between versions). ``as_of`` enters as its UTC instant: the zone it is written
    in changes nothing else, so it does not change the fingerprint either."""
    inputs: dict[str, Any] = {
        "cart": cart.to_dict(),
        "customer": customer.to_dict(),
        "coupons": [{"issued": isinstance(c, IssuedCoupon), "coupon": c.to_dict()} for c in coupons],
        "as_of": as_of.astimezone(timezone.utc).isoformat(),
        "usage": _usage_document(usage),
    }
    if tz is not None:  # only when given, so fingerprints of quotes without it stay what they were
        inputs["tz"] = str(get_tz(tz))
    document = {"inputs": inputs, "outputs": outputs}
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def quote(
    cart: Cart,
    customer: CustomerContext,
    coupons: Sequence[Coupon],
    *,
    as_of: datetime,
    usage: Mapping[str, CouponUsage] | None = None,
    tz: TzLike | None = None,
) -> Quote:
    """Price ``cart`` with ``coupons``: the applied set, exact per-line splits, rejections, trace.

    Parameters
    ----------
    cart, customer:
        The [`Cart`][] and [`CustomerContext`][].
    coupons:
        Issued coupons and/or templates used directly, as the customer chose them.
    as_of:
        Timezone-aware instant of the quote.
    usage:
        The host's counters, ``{code or template id: CouponUsage}``.
    tz:
        The shop's time zone for templates without a ``validity.tz`` (see
        [`check`][]); the zone ``as_of`` is written in never matters.

    Returns
    -------
    Quote
        See the module documentation for the order coupons are accepted and applied in.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops.coupons import Benefit, Cart, CartLine, CouponTemplate, CustomerContext
    >>> cart = Cart(currency="CNY", shipping_fee="10 CNY", lines=[
    ...     CartLine(sku="a", unit_price="60.00 CNY", quantity=1),
    ...     CartLine(sku="b", unit_price="40.00 CNY", quantity=2)])
    >>> off = CouponTemplate(id="off10", currency="CNY", benefit=Benefit(kind="amount_off", amount="10 CNY"))
    >>> ship = CouponTemplate(id="ship", currency="CNY", benefit=Benefit(kind="free_shipping"))
    >>> as_of = datetime(2024, 6, 1, tzinfo=timezone.utc)
    >>> q = quote(cart, CustomerContext(id="c1"), [off, ship], as_of=as_of)
    >>> q.applied_keys, str(q.discount), str(q.total)
    (('off10', 'ship'), '20.00 CNY', '130.00 CNY')
    >>> [(a.line_id, str(a.discount)) for a in q.applied[0].lines]
    [('a', '4.29 CNY'), ('b', '5.71 CNY')]
    """
    as_of = require_aware(as_of)
    return run_quote(cart, customer, coupons, as_of=as_of, usage=usage, tz=tz)

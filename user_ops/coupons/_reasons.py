"""Why a coupon does or does not apply: stable reason codes with numbers, bilingual messages, and the
public/internal split a storefront needs so that reasons cannot be used to enumerate codes."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from user_ops._money import Money
from user_ops.exceptions import DataError

__all__ = ["CouponUsage", "Eligibility", "Reason", "ReasonCode"]


class ReasonCode(str, Enum):
    """Stable codes of the reasons a coupon does not apply (safe to switch on in a host).

    Each code is a ``str``, so it compares equal to its value and serialises as it.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops.coupons import Benefit, Cart, CartLine, CouponTemplate, CustomerContext, check
    >>> off30 = Benefit(kind="amount_off", amount="30 CNY")
    >>> newcomer = CouponTemplate(id="new-30", currency="CNY", benefit=off30,
    ...                           conditions={"first_order_only": True})
    >>> cart = Cart(currency="CNY", lines=[CartLine(sku="tea", unit_price="59 CNY", quantity=1)])
    >>> result = check(newcomer, cart, CustomerContext(id="c1", order_count=2),
    ...                as_of=datetime(2024, 6, 1, tzinfo=timezone.utc))
    >>> code = result.reasons[0].code
    >>> code, code == "FIRST_ORDER_ONLY", code is ReasonCode("FIRST_ORDER_ONLY")
    (<ReasonCode.FIRST_ORDER_ONLY: 'FIRST_ORDER_ONLY'>, True, True)
    """

    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    NOT_OWNER = "NOT_OWNER"
    ALREADY_REDEEMED = "ALREADY_REDEEMED"
    NOT_STARTED = "NOT_STARTED"
    EXPIRED = "EXPIRED"
    CHANNEL_MISMATCH = "CHANNEL_MISMATCH"
    FIRST_ORDER_ONLY = "FIRST_ORDER_ONLY"
    AUDIENCE_MISMATCH = "AUDIENCE_MISMATCH"
    NO_ELIGIBLE_ITEMS = "NO_ELIGIBLE_ITEMS"
    MIN_QUANTITY_NOT_MET = "MIN_QUANTITY_NOT_MET"
    MIN_SPEND_NOT_MET = "MIN_SPEND_NOT_MET"
    USAGE_LIMIT_REACHED = "USAGE_LIMIT_REACHED"
    BUDGET_EXHAUSTED = "BUDGET_EXHAUSTED"
    NO_DISCOUNT = "NO_DISCOUNT"
    DUPLICATE_COUPON = "DUPLICATE_COUPON"
    PER_ORDER_LIMIT_REACHED = "PER_ORDER_LIMIT_REACHED"
    NOT_COMBINABLE = "NOT_COMBINABLE"
    NOT_SELECTED = "NOT_SELECTED"
    UNAVAILABLE = "UNAVAILABLE"


#: code → (fixable by the customer, shown to the public). Hidden reasons would confirm to a stranger
#: that a code exists or reveal targeting (someone else's coupon, an audience rule, stock of a code).
REASON_FLAGS: dict[ReasonCode, tuple[bool, bool]] = {
    ReasonCode.CURRENCY_MISMATCH: (False, True),
    ReasonCode.NOT_OWNER: (False, False),
    ReasonCode.ALREADY_REDEEMED: (False, False),
    ReasonCode.NOT_STARTED: (False, False),
    ReasonCode.EXPIRED: (False, False),
    ReasonCode.CHANNEL_MISMATCH: (True, True),
    ReasonCode.FIRST_ORDER_ONLY: (False, False),
    ReasonCode.AUDIENCE_MISMATCH: (False, False),
    ReasonCode.NO_ELIGIBLE_ITEMS: (True, True),
    ReasonCode.MIN_QUANTITY_NOT_MET: (True, True),
    ReasonCode.MIN_SPEND_NOT_MET: (True, True),
    ReasonCode.USAGE_LIMIT_REACHED: (False, False),
    ReasonCode.BUDGET_EXHAUSTED: (False, False),
    ReasonCode.NO_DISCOUNT: (True, True),
    ReasonCode.DUPLICATE_COUPON: (True, True),
    ReasonCode.PER_ORDER_LIMIT_REACHED: (True, True),
    ReasonCode.NOT_COMBINABLE: (True, True),
    ReasonCode.NOT_SELECTED: (False, True),
    ReasonCode.UNAVAILABLE: (False, True),
}


@dataclass(frozen=True)
class Reason:
    """One reason a coupon does not apply.

    Attributes
    ----------
    code:
        A [`ReasonCode`][].
    message_en, message_zh:
        What a person reads ("spend 12.00 more" / "还差12.00元").
    fixable:
        True when the customer can change the cart to fix it (add items, switch channel…).
    public:
        False for reasons a storefront should hide (see [`Eligibility.public`][]).
    shortfall:
        For ``MIN_SPEND_NOT_MET``: the amount still missing.
    details:
        The numbers behind the message (required/current amounts, limits, the failing audience leaf…).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from user_ops.coupons import (Benefit, Cart, CartLine, Conditions, CouponTemplate,
    ...                               CustomerContext, check)
    >>> tpl = CouponTemplate(id="99-10", currency="CNY", benefit=Benefit(kind="amount_off", amount="10 CNY"),
    ...                      conditions=Conditions(min_subtotal="99 CNY"))
    >>> cart = Cart(currency="CNY", lines=[CartLine(sku="tea", unit_price="59 CNY", quantity=1)])
    >>> as_of = datetime(2024, 6, 1, tzinfo=timezone.utc)
    >>> reason = check(tpl, cart, CustomerContext(id="c1"), as_of=as_of).reasons[0]
    >>> reason.code.value, reason.shortfall, reason.fixable, reason.public
    ('MIN_SPEND_NOT_MET', Money('40.00', 'CNY'), True, True)
    >>> reason.message("zh")
    '还差40.00元可用（满99.00可用，当前59.00）'
    >>> reason.to_dict()["details"]
    {'required': '99.00 CNY', 'current': '59.00 CNY'}
    """

    code: ReasonCode
    message_en: str
    message_zh: str
    fixable: bool
    public: bool
    shortfall: Money | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def message(self, lang: str = "en") -> str:
        """The message in ``"en"`` or ``"zh"``."""
        return self.message_zh if lang == "zh" else self.message_en

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict."""
        return {
            "code": self.code.value,
            "message_en": self.message_en,
            "message_zh": self.message_zh,
            "fixable": self.fixable,
            "public": self.public,
            "shortfall": None if self.shortfall is None else str(self.shortfall),
            "details": {k: _jsonable(v) for k, v in self.details.items()},
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Money):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, bool, float)):
        return value
    return str(value)


def make_reason(
    code: ReasonCode, en: str, zh: str, *, shortfall: Money | None = None, **details: Any
) -> Reason:
    """A [`Reason`][] with the code's fixed flags."""
    fixable, public = REASON_FLAGS[code]
    return Reason(code, en, zh, fixable, public, shortfall, details)


_UNAVAILABLE = make_reason(ReasonCode.UNAVAILABLE, "this coupon cannot be used", "该优惠券不可用")


@dataclass(frozen=True)
class CouponUsage:
    """What the host's counters say a coupon has used so far (the library stores nothing).

    Attributes
    ----------
    total:
        Redemptions of the template across customers.
    customer:
        Redemptions of the template by this customer.
    budget_spent:
        Discount already given out of the template's budget.
    code_redeemed:
        The issued code itself was already redeemed.

    Examples
    --------
    >>> CouponUsage(total=3, customer=1).customer
    1
    """

    total: int = 0
    customer: int = 0
    budget_spent: Money | None = None
    code_redeemed: bool = False

    def __post_init__(self) -> None:
        for name in ("total", "customer"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise DataError(f"CouponUsage.{name} must be a non-negative int, got {value!r}")
        if self.budget_spent is not None and (
            not isinstance(self.budget_spent, Money) or self.budget_spent.minor < 0
        ):
            raise DataError(
                f"CouponUsage.budget_spent must be a non-negative Money, got {self.budget_spent!r}"
            )


@dataclass(frozen=True)
class Eligibility:
    """The answer of [`check`][] for one coupon, cart and customer.

    Attributes
    ----------
    key:
        The coupon's code (issued coupon) or template id (a template used directly).
    template_id:
        The template's id.
    eligible:
        True when the coupon applies on its own (no reasons).
    discount:
        The money it takes off alone (items, order and shipping), zero when not eligible.
    reasons:
        Every reason it does not apply, in a fixed order.
    gift_value, cash_back, cash_back_points:
        The non-price value it would give (赠品, 返现).

    Examples
    --------
    A member-only coupon checked for a customer outside the audience, on a cart below its threshold:
    the full answer names both reasons; the public view keeps the fixable one and hides the audience.

    >>> from datetime import datetime, timezone
    >>> from user_ops.coupons import (Benefit, Cart, CartLine, Conditions, CouponTemplate,
    ...                               CustomerContext, check)
    >>> vip = CouponTemplate(id="vip-10", currency="CNY", benefit=Benefit(kind="amount_off", amount="10 CNY"),
    ...                      conditions=Conditions(min_subtotal="99 CNY"), audience='tier == "gold"')
    >>> cart = Cart(currency="CNY", lines=[CartLine(sku="tea", unit_price="59 CNY", quantity=1)])
    >>> as_of = datetime(2024, 6, 1, tzinfo=timezone.utc)
    >>> result = check(vip, cart, CustomerContext(id="c1", tier="silver"), as_of=as_of)
    >>> result.eligible, result.codes, result.fixable
    (False, ('AUDIENCE_MISMATCH', 'MIN_SPEND_NOT_MET'), False)
    >>> result.public().codes
    ('MIN_SPEND_NOT_MET', 'UNAVAILABLE')
    >>> two = Cart(currency="CNY", lines=[CartLine(sku="tea", unit_price="59 CNY", quantity=2)])
    >>> print(check(vip, two, CustomerContext(id="c2", tier="gold"), as_of=as_of))
    vip-10: eligible, 10.00 CNY off
    """

    key: str
    template_id: str
    eligible: bool
    discount: Money
    reasons: tuple[Reason, ...] = ()
    gift_value: Money | None = None
    cash_back: Money | None = None
    cash_back_points: int = 0

    @property
    def codes(self) -> tuple[str, ...]:
        """The reason codes, in order."""
        return tuple(reason.code.value for reason in self.reasons)

    @property
    def fixable(self) -> bool:
        """True when every reason can be fixed by the customer (and there is at least one)."""
        return bool(self.reasons) and all(reason.fixable for reason in self.reasons)

    def public(self) -> Eligibility:
        """The view a storefront may show anyone: hidden reasons become one ``UNAVAILABLE``.

        A coupon that belongs to someone else shows only ``UNAVAILABLE`` (no cart hints either), so
        trying codes tells a stranger nothing beyond "does not work".
        """
        if not self.reasons:
            return self
        if any(reason.code is ReasonCode.NOT_OWNER for reason in self.reasons):
            kept: list[Reason] = [_UNAVAILABLE]
        else:
            kept = [reason for reason in self.reasons if reason.public]
            if len(kept) < len(self.reasons):
                kept.append(_UNAVAILABLE)
        return Eligibility(self.key, self.template_id, False, self.discount, tuple(kept))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict."""
        return {
            "key": self.key,
            "template_id": self.template_id,
            "eligible": self.eligible,
            "discount": str(self.discount),
            "reasons": [reason.to_dict() for reason in self.reasons],
            "gift_value": None if self.gift_value is None else str(self.gift_value),
            "cash_back": None if self.cash_back is None else str(self.cash_back),
            "cash_back_points": self.cash_back_points,
        }

    def __str__(self) -> str:
        if self.eligible:
            return f"{self.key}: eligible, {self.discount} off"
        lines = [f"{self.key}: not eligible"]
        lines.extend(f"  {r.code.value}: {r.message_en} / {r.message_zh}" for r in self.reasons)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = (
            f"<p><code>{html.escape(self.key)}</code> — "
            + (f"eligible, <b>{html.escape(str(self.discount))}</b> off" if self.eligible else "not eligible")
            + "</p>"
        )
        if not self.reasons:
            return f"<div class='user-ops-eligibility'>{head}</div>"
        rows = "".join(
            f"<tr><td><code>{r.code.value}</code></td><td>{html.escape(r.message_en)}</td>"
            f"<td>{html.escape(r.message_zh)}</td><td>{'yes' if r.fixable else 'no'}</td>"
            f"<td>{'yes' if r.public else 'no'}</td></tr>"
            for r in self.reasons
        )
        return (
            f"<div class='user-ops-eligibility'>{head}<table><thead><tr><th>code</th><th>reason</th>"
            f"<th>原因</th><th>fixable</th><th>public</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )

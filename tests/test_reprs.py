"""Jupyter views: every policy, result and explanation renders as well-formed HTML with its content,
and text from users (labels, rule strings) is escaped, never injected."""

from __future__ import annotations

from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any

import pytest

from user_ops import LifecyclePolicy, RFMModel, Rule, TagRule, TagSet
from user_ops.coupons import (
    Benefit,
    Cart,
    CartLine,
    Conditions,
    CouponTemplate,
    CustomerContext,
    check,
    quote,
)
from user_ops.datasets import DEFAULT_AS_OF, synthetic_customers
from user_ops.lifecycle import stage_summary
from user_ops.membership import LedgerEntry, PointsPolicy, Tier, TierPolicy, compare_benefits, replay
from user_ops.rfm import segment_summary

AS_OF = datetime(2024, 6, 30, tzinfo=timezone.utc)
EVIL = "<script>alert(1)</script>"
VOID = {"br", "hr", "img", "meta", "input", "col", "wbr"}


class _Balance(HTMLParser):
    """Checks tags open and close in order and collects the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]} "
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _render(obj: Any) -> tuple[str, _Balance]:
    html = obj._repr_html_()
    assert isinstance(html, str) and html.strip()
    parser = _Balance()
    parser.feed(html)
    parser.close()
    assert parser.stack == [], f"unclosed tags {parser.stack}"
    assert "script" not in parser.tags, "user text was injected as markup"
    return html, parser


def _customers() -> Any:
    return synthetic_customers(300, seed=2)


def _tiers() -> TierPolicy:
    return TierPolicy(
        [
            Tier(code="red", label_en="Red", label_zh="红海", entry="0 CNY"),
            Tier(code="gold", label_en=EVIL, label_zh="金海", entry="3000 CNY", retention="2000 CNY"),
        ]
    )


def _cart() -> Cart:
    return Cart(
        currency="CNY", lines=[CartLine(sku="tea", category="tea", unit_price="88.00 CNY", quantity=2)]
    )


def _coupon() -> CouponTemplate:
    return CouponTemplate(
        id="c199",
        currency="CNY",
        label_en=EVIL,
        benefit=Benefit(kind="amount_off", amount="20 CNY"),
        conditions=Conditions(min_subtotal="199 CNY"),
    )


CASES: dict[str, Any] = {
    "rule": lambda: (Rule.parse(f'city == "{EVIL}"'), ["city"]),
    "explanation": lambda: (
        Rule.parse("frequency >= 4 and monetary > 100").explain_one(
            {"frequency": 2, "monetary": 50.0}, as_of=AS_OF
        ),
        ["frequency"],
    ),
    "tag set": lambda: (TagSet([TagRule(name="vip", when="monetary >= 1000", label_en=EVIL)]), ["vip"]),
    "tag table": lambda: (
        TagSet([TagRule(name="vip", when="monetary >= 1000")]).evaluate(_customers(), as_of=DEFAULT_AS_OF),
        ["vip"],
    ),
    "rfm model": lambda: (RFMModel.quantile().fit(_customers()), ["recency"]),
    "segment summary": lambda: (
        segment_summary(RFMModel.quantile().fit(_customers()).score(_customers()), _customers()),
        ["segment"],
    ),
    "lifecycle policy": lambda: (LifecyclePolicy.default(), ["churn"]),
    "stage summary": lambda: (
        stage_summary(LifecyclePolicy.default().classify(_customers(), as_of=DEFAULT_AS_OF), _customers()),
        ["stage"],
    ),
    "tier policy": lambda: (_tiers(), ["红海", "3000.00"]),
    "tier state": lambda: (_tiers().evaluate_one({"spend": 150_000}, as_of=AS_OF), ["1500.00"]),
    "benefit comparison": lambda: (compare_benefits(_tiers()), ["benefit"]),
    "points state": lambda: (
        replay(
            [LedgerEntry(key="e1", kind="earn", points=120, at=datetime(2024, 6, 1, tzinfo=timezone.utc))],
            as_of=AS_OF,
            policy=PointsPolicy(),
        ),
        ["120"],
    ),
    "coupon": lambda: (_coupon(), ["c199", "199"]),
    "eligibility": lambda: (
        check(_coupon(), _cart(), CustomerContext(id="u1"), as_of=AS_OF),
        ["MIN_SPEND_NOT_MET", "23.00"],
    ),
    "quote": lambda: (
        quote(
            _cart(),
            CustomerContext(id="u1"),
            [CouponTemplate(id="c10", currency="CNY", benefit=Benefit(kind="amount_off", amount="10 CNY"))],
            as_of=AS_OF,
        ),
        ["c10", "166.00"],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_renders_well_formed_escaped_html_with_its_content(name: str) -> None:
    obj, expected = CASES[name]()
    html, parsed = _render(obj)
    visible = "".join(parsed.text)
    for text in expected:
        assert text in visible, f"{name}: {text!r} not shown"
    if EVIL in str(obj.to_dict() if hasattr(obj, "to_dict") else ""):
        assert "&lt;script&gt;" in html

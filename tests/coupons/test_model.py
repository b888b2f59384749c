"""Coupon definitions: templates, validity windows (half-open, DST, end of day), carts, customers, errors."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from user_ops import ConfigError, DataError, Money
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
    Target,
    Validity,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def amount_off(amount: str = "20 CNY", **options: Any) -> CouponTemplate:
    return CouponTemplate(
        id=options.pop("id", "off"),
        currency="CNY",
        benefit=Benefit(kind="amount_off", amount=amount),
        **options,
    )


def every_kind() -> list[CouponTemplate]:
    return [
        amount_off(conditions=Conditions(min_subtotal="199 CNY")),
        CouponTemplate(
            id="pct", currency="CNY", benefit=Benefit(kind="percent_off", percent="12.5", cap="30 CNY")
        ),
        CouponTemplate(id="ship", currency="CNY", benefit=Benefit(kind="free_shipping")),
        CouponTemplate(
            id="gift", currency="CNY", benefit=Benefit(kind="gift", gift_sku="cup", gift_value="15 CNY")
        ),
        CouponTemplate(
            id="pts", currency="CNY", benefit=Benefit(kind="cash_back", cash_back="points", points=200)
        ),
        CouponTemplate(
            id="sv",
            currency="CNY",
            benefit=Benefit(kind="cash_back", cash_back="stored_value", amount="5 CNY"),
        ),
        CouponTemplate(
            id="fix", currency="CNY", benefit=Benefit(kind="fixed_price", amount="9.90 CNY", max_units=1)
        ),
        CouponTemplate(
            id="full",
            currency="CNY",
            benefit=Benefit(kind="percent_off", percent="10", base="list"),
            target="items",
            conditions=Conditions(
                include_categories=("tea",), exclude_tags=("clearance",), channels=("pos",)
            ),
            audience='tags contains "vip" or tier == "gold"',
            validity=Validity(ends_on=date(2024, 12, 31), tz="Asia/Shanghai", days=7, end_of_day=True),
            limits=Limits(total=1000, per_customer=2, per_order=None),
            budget="50000 CNY",
            stacking=Stacking(group="store", priority=5, combinable_with=("ship",)),
        ),
    ]


@pytest.mark.parametrize("template", every_kind(), ids=lambda t: t.id)
def test_templates_round_trip_through_json_and_documents(template: CouponTemplate) -> None:
    assert CouponTemplate.from_json(template.to_json()) == template
    assert CouponTemplate.from_document(template.to_document()) == template
    assert CouponTemplate.from_json(template.to_json()).content_hash() == template.content_hash()


def test_json_schema_exports() -> None:
    schema = CouponTemplate.json_schema()
    assert {"benefit", "conditions", "audience", "validity", "limits", "budget", "stacking"} <= set(
        schema["properties"]
    )


def test_target_defaults_follow_the_benefit() -> None:
    by_id = {t.id: t for t in every_kind()}
    assert by_id["off"].target is Target.ORDER
    assert by_id["ship"].target is Target.SHIPPING
    assert by_id["fix"].target is Target.ITEMS
    assert by_id["full"].target is Target.ITEMS


def test_face_value_for_budgets() -> None:
    by_id = {t.id: t for t in every_kind()}
    assert by_id["off"].face_value == Money("20", "CNY")
    assert by_id["pct"].face_value == Money("30", "CNY")  # the cap
    assert by_id["full"].face_value is None  # an uncapped percentage is unbounded
    assert by_id["gift"].face_value == Money("15", "CNY")
    assert by_id["sv"].face_value == Money("5", "CNY")
    assert by_id["pts"].face_value is None


def test_describe_in_both_languages() -> None:
    tpl = amount_off(conditions=Conditions(min_subtotal="199 CNY"))
    assert tpl.describe("zh") == "满199.00减20.00"
    assert tpl.describe("en") == "20.00 CNY off orders from 199.00"
    assert "<table>" in tpl._repr_html_()


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Benefit(kind="amount_off"), "amount_off needs a positive amount"),
        (lambda: Benefit(kind="amount_off", amount="-1 CNY"), "amount must not be negative"),
        (lambda: Benefit(kind="percent_off", percent="120"), "0 < percent <= 100"),
        (lambda: Benefit(kind="percent_off", percent="0"), "0 < percent <= 100"),
        (lambda: Benefit(kind="percent_off", percent=12.5), "not a float"),
        (lambda: Benefit(kind="amount_off", amount="5 CNY", cap="3 CNY"), "belong to percent_off"),
        (lambda: Benefit(kind="gift"), "gift needs gift_sku"),
        (lambda: Benefit(kind="cash_back"), "cash_back needs"),
        (lambda: Benefit(kind="cash_back", cash_back="points"), "needs points"),
        (lambda: Benefit(kind="fixed_price"), "fixed_price needs amount"),
        (lambda: Benefit(kind="amount_off", amount="5 CNY", color="red"), "color"),
        (lambda: amount_off("5 USD"), "benefit.amount is in USD"),
        (lambda: amount_off(budget="0 CNY"), "budget must be positive"),
        (lambda: amount_off(budget="10 USD"), "budget is in USD"),
        (
            lambda: amount_off(conditions=Conditions(min_subtotal="10 JPY")),
            "conditions.min_subtotal is in JPY",
        ),
        (lambda: amount_off(target="shipping", id="x").model_copy(), None),
        (
            lambda: CouponTemplate(
                id="s", currency="CNY", benefit=Benefit(kind="free_shipping"), target="items"
            ),
            "free_shipping targets shipping",
        ),
        (
            lambda: CouponTemplate(
                id="f", currency="CNY", benefit=Benefit(kind="fixed_price", amount="1 CNY"), target="order"
            ),
            "fixed_price targets items",
        ),
        (
            lambda: CouponTemplate(
                id="g", currency="CNY", benefit=Benefit(kind="gift", gift_sku="x"), target="items"
            ),
            "gift targets the order",
        ),
        (
            lambda: CouponTemplate(
                id="m", currency="CNY", benefit=Benefit(kind="amount_off", amount="1 CNY", max_units=1)
            ),
            "max_units needs target='items'",
        ),
        (
            lambda: CouponTemplate(id="c", currency="XYZ", benefit=Benefit(kind="free_shipping")),
            "unknown code",
        ),
        (lambda: amount_off(id=""), "id"),
        (lambda: Limits(total=0), "total"),
        (lambda: Conditions(min_quantity=0), "min_quantity"),
        (lambda: Conditions(min_subtotal="-1 CNY"), "min_subtotal must not be negative"),
    ],
)
def test_bad_definitions_raise_config_errors_naming_the_field(build: Any, field: str | None) -> None:
    if field is None:
        build()  # amount off may target shipping (运费券)
        return
    with pytest.raises(ConfigError, match=field.replace("(", r"\(").replace(")", r"\)")):
        build()


def test_from_json_of_a_bad_document_is_a_config_error() -> None:
    document = amount_off().to_dict()
    document["benefit"]["amount"] = {"amount": "x", "currency": "CNY"}
    with pytest.raises(ConfigError, match=r"benefit\.amount: money: .x. is not a decimal"):
        CouponTemplate.from_json(document)


# -- validity -----------------------------------------------------------------------------------------
def test_absolute_window_is_half_open() -> None:
    start = datetime(2024, 6, 1, tzinfo=timezone.utc)
    end = datetime(2024, 6, 2, tzinfo=timezone.utc)
    assert Validity(starts_at=start, ends_at=end).window() == (start, end)


def test_ends_on_means_end_of_that_day_in_the_shop_zone() -> None:
    start, end = Validity(ends_on=date(2024, 6, 30), tz="Asia/Shanghai").window()
    assert start is None
    assert end == datetime(2024, 7, 1, tzinfo=SHANGHAI)
    assert end == datetime(2024, 6, 30, 16, tzinfo=timezone.utc)


def test_relative_days_keep_the_wall_clock_across_dst() -> None:
    # 2024-03-10 is the spring-forward day in New York: 7 days from 10:00 EST ends at 10:00 EDT (167 h).
    issued = datetime(2024, 3, 7, 10, tzinfo=NEW_YORK)
    _, end = Validity(days=7, tz="America/New_York").window(issued)
    assert end is not None
    assert end == datetime(2024, 3, 14, 10, tzinfo=NEW_YORK)
    elapsed = end.astimezone(timezone.utc) - issued.astimezone(timezone.utc)
    assert elapsed == timedelta(hours=167)
    # Without the shop's zone, days are 24 hours, whatever zone issued_at is written in.
    for written in (issued, issued.astimezone(timezone.utc), issued.astimezone(SHANGHAI)):
        _, plain = Validity(days=7).window(written)
        assert plain is not None and plain - issued == timedelta(hours=168)


def test_end_of_day_counts_the_issue_day_as_day_one_in_the_shop_zone() -> None:
    issued = datetime(2024, 6, 1, 23, 30, tzinfo=timezone.utc)  # already 2 June 07:30 in Shanghai
    _, end = Validity(days=1, end_of_day=True, tz="Asia/Shanghai").window(issued)
    assert end == datetime(2024, 6, 3, tzinfo=SHANGHAI)
    _, end_utc = Validity(days=1, end_of_day=True).window(issued, tz="UTC")  # the caller's zone
    assert end_utc == datetime(2024, 6, 2, tzinfo=timezone.utc)
    with pytest.raises(ConfigError, match=r"validity\.end_of_day .*needs the shop's time zone"):
        Validity(days=1, end_of_day=True).window(issued)  # issued_at's own zone (UTC) is not a guess


def test_end_of_day_on_a_dst_day_is_local_midnight() -> None:
    issued = datetime(2024, 11, 2, 12, tzinfo=NEW_YORK)  # fall back on 3 November
    _, end = Validity(days=2, end_of_day=True, tz="America/New_York").window(issued)
    assert end == datetime(2024, 11, 4, tzinfo=NEW_YORK)
    assert end is not None and end.utcoffset() == timedelta(hours=-5)


def test_relative_window_is_cut_by_the_absolute_one() -> None:
    issued = datetime(2024, 6, 28, tzinfo=timezone.utc)
    start, end = Validity(days=7, ends_at=datetime(2024, 6, 30, tzinfo=timezone.utc)).window(issued)
    assert (start, end) == (issued, datetime(2024, 6, 30, tzinfo=timezone.utc))
    early = Validity(days=7, starts_at=datetime(2024, 7, 1, tzinfo=timezone.utc)).window(issued)
    assert early[0] == datetime(2024, 7, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"starts_at": datetime(2024, 1, 1)}, "naive"),
        (
            {
                "starts_at": datetime(2024, 2, 1, tzinfo=timezone.utc),
                "ends_at": datetime(2024, 1, 1, tzinfo=timezone.utc),
            },
            "is not before ends_at",
        ),
        ({"starts_on": date(2024, 2, 1), "ends_on": date(2024, 1, 1)}, "is after ends_on"),
        ({"starts_on": date(2024, 2, 1), "starts_at": datetime(2024, 1, 1, tzinfo=timezone.utc)}, "not both"),
        ({"end_of_day": True}, "end_of_day needs days"),
        ({"days": 0}, "days"),
        ({"tz": "Mars/Olympus"}, "unknown time zone"),
    ],
)
def test_bad_validity_raises_config_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Validity(**options)


# -- issued coupons ---------------------------------------------------------------------------------------
def test_issue_resolves_the_window_and_pins_the_template_version() -> None:
    tpl = amount_off(validity=Validity(days=3, end_of_day=True, tz="Asia/Shanghai"))
    coupon = IssuedCoupon.issue(
        tpl, code="A-1", owner="c1", issued_at=datetime(2024, 6, 1, 4, tzinfo=timezone.utc)
    )
    assert coupon.template_id == "off"
    assert coupon.template_hash == tpl.content_hash()
    assert coupon.starts_at == datetime(2024, 6, 1, 4, tzinfo=timezone.utc)
    assert coupon.ends_at == datetime(2024, 6, 4, tzinfo=SHANGHAI)
    assert IssuedCoupon.from_json(coupon.to_json()) == coupon


def test_edited_template_is_detected_on_load() -> None:
    coupon = IssuedCoupon.issue(
        amount_off(), code="A-1", owner=None, issued_at=datetime(2024, 6, 1, tzinfo=timezone.utc)
    )
    document = coupon.to_dict()
    document["template"]["benefit"]["amount"] = {"amount": "99.00", "currency": "CNY"}
    with pytest.raises(ConfigError, match="edited after issue"):
        IssuedCoupon.from_json(document)


def test_issue_rejects_naive_time_and_an_empty_window() -> None:
    with pytest.raises(DataError, match="issued_at is a naive datetime"):
        IssuedCoupon.issue(amount_off(), code="A", owner=None, issued_at=datetime(2024, 6, 1))
    late = amount_off(validity=Validity(ends_at=datetime(2024, 1, 1, tzinfo=timezone.utc), days=3))
    with pytest.raises(DataError, match="empty window"):
        IssuedCoupon.issue(late, code="A", owner=None, issued_at=datetime(2024, 6, 1, tzinfo=timezone.utc))


# -- carts and customers ----------------------------------------------------------------------------------
def test_cart_totals_in_minor_units() -> None:
    cart = Cart(
        currency="KWD",
        lines=[
            CartLine(sku="a", unit_price="1.255 KWD", quantity=3),
            CartLine(sku="b", unit_price="2.000 KWD", quantity=1, discounted_price="1.500 KWD"),
        ],
        shipping_fee="0.750 KWD",
    )
    assert cart.subtotal == Money("5.265", "KWD")
    assert cart.total == Money("6.015", "KWD")
    assert Cart.from_json(cart.to_json()) == cart


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Cart(currency="CNY", lines=[]), "at least one line"),
        (
            lambda: Cart(currency="CNY", lines=[CartLine(sku="a", unit_price="1 USD", quantity=1)]),
            r"lines\[0\] \('a'\) is priced in USD",
        ),
        (
            lambda: Cart(currency="CNY", lines=[CartLine(sku="a", unit_price="1 CNY", quantity=1)] * 2),
            "duplicate line_id 'a'",
        ),
        (
            lambda: Cart(
                currency="CNY",
                lines=[CartLine(sku="a", unit_price="1 CNY", quantity=1)],
                shipping_fee="-1 CNY",
            ),
            "shipping_fee must be a non-negative",
        ),
        (lambda: CartLine(sku="a", unit_price="1 CNY", quantity=0), "quantity"),
        (
            lambda: CartLine(sku="a", unit_price="1 CNY", quantity=1, discounted_price="2 CNY"),
            "must be between 0 and unit_price",
        ),
        (lambda: CartLine(sku="a", unit_price="1.001 CNY", quantity=1), "more than 2 decimals"),
        (lambda: CartLine(sku="a", unit_price=1.5, quantity=1), "unit_price: .*got 1.5"),
        (lambda: CustomerContext(id="c", attributes={"tier": "x"}), "must not repeat"),
        (lambda: CustomerContext(id="c", order_count=-1), "order_count"),
    ],
)
def test_bad_carts_and_customers_raise_config_errors(build: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build()


def test_lines_with_one_sku_are_told_apart_by_line_id() -> None:
    cart = Cart(
        currency="CNY",
        lines=[
            CartLine(sku="a", unit_price="1 CNY", quantity=1, line_id="a-1"),
            CartLine(sku="a", unit_price="1 CNY", quantity=1, line_id="a-2"),
        ],
    )
    assert [line.line_id for line in cart.lines] == ["a-1", "a-2"]


def test_customer_record_fills_fields_the_rule_needs() -> None:
    who = CustomerContext(id="c1", tags=["vip"], stage="active", attributes={"city": "上海"})
    record = who.record(["city", "rfm_score"])
    assert record == {
        "id": "c1",
        "tags": ["vip"],
        "tier": None,
        "stage": "active",
        "segment": None,
        "order_count": 0,
        "city": "上海",
        "rfm_score": None,
    }


def test_conditions_select_lines() -> None:
    tea = CartLine(
        sku="t1", product="longjing", category="tea", tags=("new",), unit_price="1 CNY", quantity=1
    )
    sale = CartLine(sku="t2", category="tea", unit_price="2 CNY", quantity=1, discounted_price="1 CNY")
    card = CartLine(sku="g", category="giftcard", unit_price="100 CNY", quantity=1, discountable=False)
    everything = Conditions()
    assert [everything.line_eligible(x) for x in (tea, sale, card)] == [True, True, False]
    teas = Conditions(include_categories=("tea",), exclude_discounted=True)
    assert [teas.line_eligible(x) for x in (tea, sale, card)] == [True, False, False]
    assert not Conditions(include_products=("longjing",), exclude_tags=("new",)).line_eligible(tea)
    assert Conditions(include_skus=("t2",)).line_eligible(sale)


def test_validity_with_instants_round_trips() -> None:
    validity = Validity(
        starts_at=datetime(2024, 6, 1, 9, tzinfo=SHANGHAI), ends_at=datetime(2024, 6, 2, tzinfo=timezone.utc)
    )
    tpl = amount_off(validity=validity)
    again = CouponTemplate.from_json(tpl.to_json())
    assert again == tpl and again.validity.window() == validity.window()


def test_cash_back_descriptions_speak_one_language() -> None:
    from user_ops.coupons import Benefit, CouponTemplate

    points = CouponTemplate(
        id="cb", currency="CNY", benefit=Benefit(kind="cash_back", cash_back="points", points=200)
    )
    assert (points.describe("zh"), points.describe("en")) == ("返200积分", "cash back 200 points")


# -- booleans are not counts (issue 12) ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda v: CartLine(sku="a", unit_price="1 CNY", quantity=v), "quantity"),
        (lambda v: Limits(total=v), "total"),
        (lambda v: Limits(per_customer=v), "per_customer"),
        (lambda v: Limits(per_order=v), "per_order"),
        (lambda v: Conditions(min_quantity=v), "min_quantity"),
        (lambda v: Benefit(kind="amount_off", amount="1 CNY", max_units=v), "max_units"),
        (lambda v: Benefit(kind="gift", gift_sku="cup", gift_quantity=v), "gift_quantity"),
        (lambda v: Benefit(kind="cash_back", cash_back="points", points=v), "points"),
        (lambda v: Validity(days=v), "days"),
        (lambda v: CustomerContext(id="c1", order_count=v), "order_count"),
        (lambda v: Stacking(priority=v), "priority"),
    ],
)
@pytest.mark.parametrize("flag", [True, False])
def test_a_boolean_is_not_a_count(build: Any, field: str, flag: bool) -> None:
    with pytest.raises(ConfigError, match=rf"{field}: .*not a boolean"):
        build(flag)


def test_a_boolean_quantity_in_a_json_cart_is_refused() -> None:
    document = '{"currency": "CNY", "lines": [{"sku": "a", "unit_price": "5 CNY", "quantity": true}]}'
    with pytest.raises(ConfigError, match=r"lines\.0\.quantity: .*not a boolean"):
        Cart.from_json(document)
    # integers written as whole numbers still read as before
    assert CartLine(sku="a", unit_price="5 CNY", quantity=2).quantity == 2

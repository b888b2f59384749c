"""check(): every reason code with its numbers, fixable/public flags, the public view, time boundaries."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from user_ops import ConfigError, DataError, Money
from user_ops.coupons import (
    Benefit,
    Cart,
    CartLine,
    Conditions,
    CouponTemplate,
    CouponUsage,
    CustomerContext,
    IssuedCoupon,
    Limits,
    ReasonCode,
    Stacking,
    Validity,
    best_combination,
    check,
    quote,
)

AS_OF = datetime(2024, 6, 15, 12, tzinfo=timezone.utc)
SHANGHAI = ZoneInfo("Asia/Shanghai")
ALICE = CustomerContext(
    id="alice", tags=("vip",), tier="gold", stage="active", segment="champions", order_count=4
)


def cart(
    *lines: CartLine, currency: str = "CNY", channel: str | None = "app", shipping: str | None = None
) -> Cart:
    fee = None if shipping is None else f"{shipping} {currency}"
    return Cart(currency=currency, lines=lines, channel=channel, shipping_fee=fee)


def line(sku: str, price: str, quantity: int = 1, **options: Any) -> CartLine:
    currency = options.pop("currency", "CNY")
    return CartLine(sku=sku, unit_price=f"{price} {currency}", quantity=quantity, **options)


def template(benefit: Benefit | None = None, **options: Any) -> CouponTemplate:
    return CouponTemplate(
        id=options.pop("id", "t"),
        currency=options.pop("currency", "CNY"),
        benefit=benefit or Benefit(kind="amount_off", amount="20 CNY"),
        **options,
    )


TEA = cart(line("tea", "187.00"))


def test_eligible_coupon_has_no_reasons_and_its_discount() -> None:
    result = check(template(), TEA, ALICE, as_of=AS_OF)
    assert result.eligible and result.reasons == () and not result.fixable
    assert result.discount == Money("20", "CNY")
    assert "eligible" in str(result)


def test_min_spend_shortfall_in_both_languages() -> None:
    result = check(template(conditions=Conditions(min_subtotal="199 CNY")), TEA, ALICE, as_of=AS_OF)
    (reason,) = result.reasons
    assert reason.code is ReasonCode.MIN_SPEND_NOT_MET
    assert reason.shortfall == Money("12", "CNY")
    assert reason.message_en.startswith("spend 12.00 more")
    assert reason.message_zh.startswith("还差12.00元")
    assert reason.details["required"] == Money("199", "CNY")
    assert reason.details["current"] == Money("187", "CNY")
    assert reason.fixable and reason.public and result.fixable
    assert result.discount == Money.zero("CNY")


def test_min_spend_counts_only_eligible_items_at_the_price_paid() -> None:
    basket = cart(
        line("tea", "150.00", discounted_price="120.00 CNY", category="tea"),
        line("cup", "100.00", category="ware"),
    )
    tea_only = template(conditions=Conditions(min_subtotal="130 CNY", include_categories=("tea",)))
    (reason,) = check(tea_only, basket, ALICE, as_of=AS_OF).reasons
    assert reason.shortfall == Money("10", "CNY")


def test_min_quantity() -> None:
    result = check(
        template(conditions=Conditions(min_quantity=3)), cart(line("a", "50", 2)), ALICE, as_of=AS_OF
    )
    (reason,) = result.reasons
    assert reason.code is ReasonCode.MIN_QUANTITY_NOT_MET
    assert reason.details == {"required": 3, "current": 2, "missing": 1}
    assert reason.message_en == "add 1 more eligible item" and reason.message_zh == "再买1件可用"


def test_no_eligible_items() -> None:
    result = check(
        template(conditions=Conditions(include_categories=("tea",))),
        cart(line("cup", "50", category="ware")),
        ALICE,
        as_of=AS_OF,
    )
    assert result.codes == ("NO_ELIGIBLE_ITEMS",) and result.fixable


def test_non_discountable_lines_are_never_eligible() -> None:
    result = check(template(), cart(line("card", "500", discountable=False)), ALICE, as_of=AS_OF)
    assert result.codes == ("NO_ELIGIBLE_ITEMS",)


def test_audience_mismatch_names_the_failing_leaf() -> None:
    vip_gold = template(audience='tags contains "vip" and tier == "platinum"')
    result = check(vip_gold, TEA, ALICE, as_of=AS_OF)
    (reason,) = result.reasons
    assert reason.code is ReasonCode.AUDIENCE_MISMATCH
    assert reason.details["failing"] == ['tier == "platinum"']
    assert reason.details["inputs"] == {"tier": "gold"}
    assert not reason.public and not reason.fixable


def test_audience_reads_attributes_and_missing_fields_are_null() -> None:
    city = template(audience='city == "上海" and stage in ["active", "new"]')
    assert check(city, TEA, ALICE.model_copy(update={"attributes": {"city": "上海"}}), as_of=AS_OF).eligible
    assert check(city, TEA, ALICE, as_of=AS_OF).codes == ("AUDIENCE_MISMATCH",)  # city unknown → no match


def test_audience_may_use_has_tag() -> None:
    assert check(template(audience='has_tag("vip")'), TEA, ALICE, as_of=AS_OF).eligible


def test_first_order_only() -> None:
    new_only = template(conditions=Conditions(first_order_only=True))
    assert check(new_only, TEA, ALICE, as_of=AS_OF).codes == ("FIRST_ORDER_ONLY",)
    assert check(new_only, TEA, CustomerContext(id="bob"), as_of=AS_OF).eligible


def test_channel_mismatch() -> None:
    pos_only = template(conditions=Conditions(channels=("pos",)))
    (reason,) = check(pos_only, TEA, ALICE, as_of=AS_OF).reasons
    assert reason.code is ReasonCode.CHANNEL_MISMATCH and reason.details["channel"] == "app"
    assert check(pos_only, cart(line("tea", "10"), channel=None), ALICE, as_of=AS_OF).codes == (
        "CHANNEL_MISMATCH",
    )


def test_currency_mismatch_skips_money_checks() -> None:
    usd = template(
        Benefit(kind="amount_off", amount="5 USD"),
        currency="USD",
        conditions=Conditions(min_subtotal="100 USD"),
    )
    result = check(usd, TEA, ALICE, as_of=AS_OF)
    assert result.codes == ("CURRENCY_MISMATCH",)
    assert result.reasons[0].public and not result.reasons[0].fixable


def test_usage_limits_total_and_per_customer() -> None:
    limited = template(limits=Limits(total=100, per_customer=1))
    result = check(limited, TEA, ALICE, as_of=AS_OF, usage=CouponUsage(total=100, customer=1))
    assert result.codes == ("USAGE_LIMIT_REACHED", "USAGE_LIMIT_REACHED")
    assert [r.details["scope"] for r in result.reasons] == ["total", "per_customer"]
    assert check(limited, TEA, ALICE, as_of=AS_OF, usage=CouponUsage(total=99, customer=0)).eligible


def test_usage_mapping_by_template_id() -> None:
    limited = template(limits=Limits(per_customer=1))
    assert check(limited, TEA, ALICE, as_of=AS_OF, usage={"t": CouponUsage(customer=1)}).codes == (
        "USAGE_LIMIT_REACHED",
    )
    assert check(limited, TEA, ALICE, as_of=AS_OF, usage={"other": CouponUsage(customer=1)}).eligible


def test_budget_exhausted_when_the_discount_does_not_fit() -> None:
    budgeted = template(budget="1000 CNY")
    result = check(budgeted, TEA, ALICE, as_of=AS_OF, usage=CouponUsage(budget_spent=Money("985", "CNY")))
    (reason,) = result.reasons
    assert reason.code is ReasonCode.BUDGET_EXHAUSTED
    assert reason.details["remaining"] == Money("15", "CNY")
    assert reason.details["needed"] == Money("20", "CNY")
    assert check(
        budgeted, TEA, ALICE, as_of=AS_OF, usage=CouponUsage(budget_spent=Money("980", "CNY"))
    ).eligible


def test_issued_coupon_belongs_to_its_owner_and_is_single_use() -> None:
    coupon = IssuedCoupon.issue(template(), code="C-1", owner="alice", issued_at=AS_OF - timedelta(days=1))
    assert check(coupon, TEA, ALICE, as_of=AS_OF).eligible
    stranger = check(coupon, TEA, CustomerContext(id="mallory"), as_of=AS_OF)
    assert stranger.codes == ("NOT_OWNER",)
    used = check(coupon, TEA, ALICE, as_of=AS_OF, usage={"C-1": CouponUsage(code_redeemed=True)})
    assert used.codes == ("ALREADY_REDEEMED",)


def test_every_reason_is_reported_at_once() -> None:
    tpl = template(
        conditions=Conditions(min_subtotal="500 CNY", channels=("pos",), first_order_only=True),
        audience='tier == "platinum"',
        validity=Validity(ends_at=AS_OF),
        limits=Limits(total=1),
    )
    result = check(tpl, TEA, ALICE, as_of=AS_OF, usage=CouponUsage(total=1))
    assert result.codes == (
        "EXPIRED",
        "CHANNEL_MISMATCH",
        "FIRST_ORDER_ONLY",
        "AUDIENCE_MISMATCH",
        "MIN_SPEND_NOT_MET",
        "USAGE_LIMIT_REACHED",
    )
    assert not result.fixable


def test_no_discount_when_nothing_is_left_to_take_off() -> None:
    free = template(Benefit(kind="free_shipping"))
    assert check(free, TEA, ALICE, as_of=AS_OF).codes == ("NO_DISCOUNT",)
    assert check(free, cart(line("tea", "10"), shipping="8"), ALICE, as_of=AS_OF).discount == Money(
        "8", "CNY"
    )
    dearer = template(Benefit(kind="fixed_price", amount="200 CNY"))
    assert check(dearer, TEA, ALICE, as_of=AS_OF).codes == ("NO_DISCOUNT",)


def test_gift_and_cash_back_are_eligible_without_a_price_reduction() -> None:
    gift = check(template(Benefit(kind="gift", gift_sku="cup", gift_value="15 CNY")), TEA, ALICE, as_of=AS_OF)
    assert gift.eligible and gift.discount == Money.zero("CNY") and gift.gift_value == Money("15", "CNY")
    points = check(
        template(Benefit(kind="cash_back", cash_back="points", points=300)), TEA, ALICE, as_of=AS_OF
    )
    assert points.eligible and points.cash_back_points == 300


# -- the public view --------------------------------------------------------------------------------------
def test_public_view_hides_reasons_that_reveal_a_code() -> None:
    tpl = template(conditions=Conditions(min_subtotal="199 CNY"), limits=Limits(total=1))
    internal = check(tpl, TEA, ALICE, as_of=AS_OF, usage=CouponUsage(total=1))
    assert internal.codes == ("MIN_SPEND_NOT_MET", "USAGE_LIMIT_REACHED")
    public = internal.public()
    assert public.codes == ("MIN_SPEND_NOT_MET", "UNAVAILABLE")
    assert public.reasons[0].shortfall == Money("12", "CNY")


def test_public_view_of_someone_elses_coupon_says_nothing_more() -> None:
    coupon = IssuedCoupon.issue(
        template(conditions=Conditions(min_subtotal="199 CNY")), code="C-9", owner="alice", issued_at=AS_OF
    )
    result = check(coupon, TEA, CustomerContext(id="mallory"), as_of=AS_OF)
    assert result.codes == ("NOT_OWNER", "MIN_SPEND_NOT_MET")
    assert result.public().codes == ("UNAVAILABLE",)
    assert result.public().to_dict()["reasons"][0]["details"] == {}


def test_public_view_of_an_eligible_coupon_is_itself() -> None:
    result = check(template(), TEA, ALICE, as_of=AS_OF)
    assert result.public() is result


def test_to_dict_is_json_ready() -> None:
    import json

    result = check(template(conditions=Conditions(min_subtotal="199 CNY")), TEA, ALICE, as_of=AS_OF)
    document = json.loads(json.dumps(result.to_dict()))
    assert document["reasons"][0]["shortfall"] == "12.00 CNY"
    assert "MIN_SPEND_NOT_MET" in result._repr_html_()


# -- time boundaries ----------------------------------------------------------------------------------------
def test_absolute_window_is_half_open_at_the_exact_instant() -> None:
    start = datetime(2024, 6, 1, tzinfo=timezone.utc)
    end = datetime(2024, 6, 30, tzinfo=timezone.utc)
    tpl = template(validity=Validity(starts_at=start, ends_at=end))
    tick = timedelta(microseconds=1)
    assert check(tpl, TEA, ALICE, as_of=start - tick).codes == ("NOT_STARTED",)
    assert check(tpl, TEA, ALICE, as_of=start).eligible
    assert check(tpl, TEA, ALICE, as_of=end - tick).eligible
    assert check(tpl, TEA, ALICE, as_of=end).codes == ("EXPIRED",)
    assert check(tpl, TEA, ALICE, as_of=end).reasons[0].details["ends_at"] == end.isoformat()


def test_expires_end_of_day_in_the_shop_zone() -> None:
    tpl = template(validity=Validity(ends_on=date(2024, 6, 30), tz="Asia/Shanghai"))
    last = datetime(2024, 6, 30, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    assert check(tpl, TEA, ALICE, as_of=last).eligible
    assert check(tpl, TEA, ALICE, as_of=last + timedelta(microseconds=1)).codes == ("EXPIRED",)
    # 16:00 UTC on 30 June is already midnight in Shanghai, though still 30 June in UTC.
    assert check(tpl, TEA, ALICE, as_of=datetime(2024, 6, 30, 16, tzinfo=timezone.utc)).codes == ("EXPIRED",)


def test_issued_window_across_dst_ends_on_the_wall_clock() -> None:
    new_york = ZoneInfo("America/New_York")
    tpl = template(validity=Validity(days=1, end_of_day=True, tz="America/New_York"))
    coupon = IssuedCoupon.issue(
        tpl, code="D", owner=None, issued_at=datetime(2024, 3, 10, 0, 30, tzinfo=new_york)
    )
    # 10 March 2024 has 23 hours in New York; the coupon still ends at local midnight.
    assert coupon.ends_at == datetime(2024, 3, 11, tzinfo=new_york)
    assert check(coupon, TEA, ALICE, as_of=datetime(2024, 3, 11, 3, 59, tzinfo=timezone.utc)).eligible
    assert check(coupon, TEA, ALICE, as_of=datetime(2024, 3, 11, 4, tzinfo=timezone.utc)).codes == (
        "EXPIRED",
    )


def test_not_started_for_an_issued_coupon() -> None:
    tpl = template(validity=Validity(starts_at=AS_OF + timedelta(hours=1)))
    coupon = IssuedCoupon.issue(tpl, code="E", owner=None, issued_at=AS_OF)
    assert check(coupon, TEA, ALICE, as_of=AS_OF).codes == ("NOT_STARTED",)


# -- currencies with 0 and 3 decimals -----------------------------------------------------------------------
def test_jpy_and_kwd_shortfalls_use_their_own_decimals() -> None:
    jpy = template(
        Benefit(kind="amount_off", amount="500 JPY"),
        currency="JPY",
        conditions=Conditions(min_subtotal="3000 JPY"),
    )
    (reason,) = check(
        jpy, cart(line("a", "2750", currency="JPY"), currency="JPY"), ALICE, as_of=AS_OF
    ).reasons
    assert reason.shortfall == Money(250, "JPY") and reason.message_en.startswith("spend 250 more")
    kwd = template(
        Benefit(kind="amount_off", amount="1.250 KWD"),
        currency="KWD",
        conditions=Conditions(min_subtotal="10 KWD"),
    )
    (reason,) = check(
        kwd, cart(line("a", "9.995", currency="KWD"), currency="KWD"), ALICE, as_of=AS_OF
    ).reasons
    assert reason.shortfall == Money("0.005", "KWD") and reason.message_en.startswith("spend 0.005 more")


# -- bad input -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: check(template(), TEA, ALICE, as_of=datetime(2024, 6, 1)), "as_of is a naive datetime"),
        (lambda: check("SAVE10", TEA, ALICE, as_of=AS_OF), "expected a CouponTemplate or an IssuedCoupon"),
        (lambda: check(template(), {"lines": []}, ALICE, as_of=AS_OF), "cart: expected a Cart"),
        (lambda: check(template(), TEA, {"id": "x"}, as_of=AS_OF), "customer: expected a CustomerContext"),
        (lambda: check(template(), TEA, ALICE, as_of=AS_OF, usage=3), "usage: expected a CouponUsage"),
        (
            lambda: check(template(), TEA, ALICE, as_of=AS_OF, usage={"t": 1}),
            r"usage\['t'\]: expected a CouponUsage",
        ),
        (lambda: CouponUsage(total=-1), "CouponUsage.total must be a non-negative int"),
        (lambda: CouponUsage(budget_spent=Money("-1", "CNY")), "budget_spent must be a non-negative Money"),
        (
            lambda: check(
                template(budget="10 CNY"),
                TEA,
                ALICE,
                as_of=AS_OF,
                usage=CouponUsage(budget_spent=Money("1", "USD")),
            ),
            "budget_spent is in USD",
        ),
    ],
)
def test_bad_input_raises_data_error_naming_it(call: Any, message: str) -> None:
    with pytest.raises(DataError, match=message):
        call()


def test_alongside_reports_conflicts_with_the_selected_coupons() -> None:
    solo = template(id="solo", stacking=Stacking(exclusive=True))
    store = template(id="store-a", stacking=Stacking(group="store"))
    other_store = template(id="store-b", stacking=Stacking(group="store"))
    result = check(store, TEA, ALICE, as_of=AS_OF, alongside=[solo, other_store, store])
    assert result.codes == ("NOT_COMBINABLE", "NOT_COMBINABLE")
    assert [r.details["conflicts_with"] for r in result.reasons] == ["solo", "store-b"]
    assert result.fixable and result.discount == Money.zero("CNY")
    assert check(store, TEA, ALICE, as_of=AS_OF, alongside=[template(id="free")]).eligible


def test_alongside_counts_coupons_of_the_same_template() -> None:
    base = template(id="t")
    first = IssuedCoupon.issue(base, code="A", owner="alice", issued_at=AS_OF)
    second = IssuedCoupon.issue(base, code="B", owner="alice", issued_at=AS_OF)
    assert check(second, TEA, ALICE, as_of=AS_OF, alongside=[first]).codes == ("PER_ORDER_LIMIT_REACHED",)
    assert check(second, TEA, ALICE, as_of=AS_OF, alongside=[second]).eligible
    with pytest.raises(DataError, match="alongside: expected a list of coupons"):
        check(second, TEA, ALICE, as_of=AS_OF, alongside=first)  # type: ignore[arg-type]


def test_audience_of_the_wrong_type_is_caught_when_defined_or_named_when_checked() -> None:
    with pytest.raises(ConfigError, match="audience: cannot compare str with int"):
        template(audience="tier > 3")
    by_city = template(id="by-city", audience="city_rank > 3")  # attributes are unknown until checked
    stranger = ALICE.model_copy(update={"attributes": {"city_rank": "first"}})
    with pytest.raises(DataError, match="coupon 'by-city': audience 'city_rank > 3' cannot be evaluated"):
        check(by_city, TEA, stranger, as_of=AS_OF)
    assert check(
        by_city, TEA, ALICE.model_copy(update={"attributes": {"city_rank": 4}}), as_of=AS_OF
    ).eligible


# -- the shop's zone, never the instant's (issue 12) -------------------------------------------------------
ZONES = [
    timezone.utc,
    SHANGHAI,
    ZoneInfo("America/New_York"),
    ZoneInfo("Pacific/Kiritimati"),  # UTC+14
    ZoneInfo("Pacific/Pago_Pago"),  # UTC-11
    timezone(timedelta(hours=-3, minutes=-30)),
]


def test_a_calendar_day_without_the_shops_zone_is_a_config_error() -> None:
    undated = template(validity=Validity(ends_on=date(2024, 6, 30)))
    with pytest.raises(ConfigError, match=r"coupon 't': validity\.ends_on .*time zone.*tz="):
        check(undated, TEA, ALICE, as_of=AS_OF)
    # The caller may name the shop's zone; the validity's own zone wins over it.
    late = datetime(2024, 6, 30, 16, tzinfo=timezone.utc)  # 1 July 00:00 in Shanghai
    assert check(undated, TEA, ALICE, as_of=late, tz="Asia/Shanghai").codes == ("EXPIRED",)
    assert check(undated, TEA, ALICE, as_of=late, tz="UTC").eligible
    zoned = template(validity=Validity(ends_on=date(2024, 6, 30), tz="Asia/Shanghai"))
    assert check(zoned, TEA, ALICE, as_of=late, tz="UTC").codes == ("EXPIRED",)
    with pytest.raises(ConfigError, match=r"validity\.end_of_day"):
        IssuedCoupon.issue(
            template(validity=Validity(days=3, end_of_day=True)), code="X", owner=None, issued_at=AS_OF
        )


def test_the_same_instant_in_two_zones_gets_the_same_answer() -> None:
    # 2024-06-30 20:00 UTC is already 1 July 04:00 in Shanghai: the zone of as_of must not decide.
    tpl = template(validity=Validity(ends_on=date(2024, 6, 30), tz="Asia/Shanghai"))
    instant = datetime(2024, 6, 30, 20, tzinfo=timezone.utc)
    for zone in ZONES:
        assert check(tpl, TEA, ALICE, as_of=instant.astimezone(zone)).codes == ("EXPIRED",)
    # An audience reading the clock (会员日: Wednesdays) uses the shop's zone too, here UTC by default.
    wednesday = template(audience="weekday(today()) == 3")
    tuesday_late = datetime(2024, 7, 2, 20, tzinfo=timezone.utc)  # Wednesday 04:00 in Shanghai
    assert {check(wednesday, TEA, ALICE, as_of=tuesday_late.astimezone(z)).eligible for z in ZONES} == {False}
    in_shanghai = template(audience="weekday(today()) == 3", validity=Validity(tz="Asia/Shanghai"))
    assert {check(in_shanghai, TEA, ALICE, as_of=tuesday_late.astimezone(z)).eligible for z in ZONES} == {
        True
    }


@st.composite
def zoned_templates(draw: st.DrawFn) -> CouponTemplate:
    tz = draw(st.sampled_from([None, "Asia/Shanghai", "America/New_York", "Pacific/Kiritimati"]))
    day = date(2024, 3, 1) + timedelta(days=draw(st.integers(0, 20)))
    options = draw(
        st.sampled_from(
            [
                {"ends_on": day},
                {"starts_on": day},
                {"starts_on": day, "ends_on": day + timedelta(days=draw(st.integers(0, 3)))},
                {"days": draw(st.integers(1, 5))},
                {"days": draw(st.integers(1, 5)), "end_of_day": True},
                {"ends_at": datetime(2024, 3, 10, 7, tzinfo=timezone.utc)},
                {},
            ]
        )
    )
    audience = draw(
        st.sampled_from(
            [
                None,
                "hour(now()) < 12",
                "weekday(today()) <= 5",
                "days_since(joined_at) <= 2",
                "month(now()) == 3",
            ]
        )
    )
    return template(
        id=f"z{draw(st.integers(0, 3))}",
        validity=Validity(tz=tz, **options),
        audience=audience,
        benefit=draw(
            st.sampled_from(
                [Benefit(kind="amount_off", amount="20 CNY"), Benefit(kind="percent_off", percent="10")]
            )
        ),
    )


def _outcome(call: Any) -> Any:
    try:
        return call()
    except ConfigError as error:
        return ("ConfigError", str(error))


def _quote_document(result: Any) -> Any:
    document = result.to_dict()
    del document["as_of"], document["fingerprint"]  # the instant as given; what it is in UTC is the same
    return document


@settings(max_examples=150, deadline=None)
@given(
    st.lists(zoned_templates(), min_size=1, max_size=3),
    st.integers(0, 30 * 24 * 60),
    st.integers(0, 30 * 24 * 60),
    st.sampled_from(ZONES),
    st.sampled_from(ZONES),
    st.sampled_from([None, "Asia/Shanghai", "UTC"]),
)
def test_property_eligibility_quote_best_and_issue_do_not_depend_on_the_zone_of_the_instant(
    templates: list[CouponTemplate],
    minutes: int,
    issued_minutes: int,
    zone_a: Any,
    zone_b: Any,
    tz: str | None,
) -> None:
    instant = datetime(2024, 2, 28, tzinfo=timezone.utc) + timedelta(minutes=minutes)
    issued = datetime(2024, 2, 28, tzinfo=timezone.utc) + timedelta(minutes=issued_minutes)
    customer = CustomerContext(
        id="alice", attributes={"joined_at": datetime(2024, 3, 5, 23, tzinfo=SHANGHAI)}
    )
    coupons = list({t.id: t for t in templates}.values())

    def answers(zone: Any) -> Any:
        as_of = instant.astimezone(zone)
        issued_coupons = [
            _outcome(
                lambda t=t: IssuedCoupon.issue(
                    t, code=f"{t.id}-1", owner="alice", issued_at=issued.astimezone(zone), tz=tz
                )
            )
            for t in coupons
        ]
        windows = [c if isinstance(c, tuple) else (c.starts_at, c.ends_at) for c in issued_coupons]
        wallet = [c for c in issued_coupons if not isinstance(c, tuple)] + coupons
        return (
            [_outcome(lambda t=t: check(t, TEA, customer, as_of=as_of, tz=tz).to_dict()) for t in wallet],
            _outcome(lambda: _quote_document(quote(TEA, customer, wallet, as_of=as_of, tz=tz))),
            _outcome(lambda: best_combination(TEA, customer, wallet, as_of=as_of, tz=tz).keys),
            windows,
        )

    assert answers(zone_a) == answers(zone_b)

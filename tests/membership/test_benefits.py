"""Member benefits: the benefit models, inheritance (benefits_for), the comparison table, custom types."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, Field

from user_ops import ConfigError, DataError, Money, PluginError
from user_ops.membership import (
    BenefitTable,
    BirthdayBenefit,
    CouponGrant,
    CustomBenefit,
    FreeShipping,
    MemberDiscount,
    MemberPrice,
    PointsMultiplier,
    PriorityService,
    Revoke,
    Tier,
    TierBenefits,
    TierPolicy,
    benefit_type_names,
    benefits_for,
    benefits_html,
    compare_benefits,
    parse_benefit,
    register_benefit_type,
    unregister_benefit_type,
)


class Lounge(BaseModel):
    visits_per_year: int = Field(ge=1)


@pytest.fixture
def lounge() -> Iterator[str]:
    name = register_benefit_type(
        "lounge",
        Lounge,
        label=lambda p: (f"{p.visits_per_year} lounge visits", f"贵宾室{p.visits_per_year}次"),
    )
    yield name
    unregister_benefit_type(name)


def programme() -> TierPolicy:
    return TierPolicy(
        [
            Tier(code="red", label_en="Red", label_zh="红海", entry="0 CNY",
                 benefits=[MemberPrice(), FreeShipping(threshold="99 CNY")]),
            Tier(code="silver", label_en="Silver", label_zh="银海", entry="1000 CNY",
                 benefits=[MemberDiscount(rate="0.95"), CouponGrant(template_id="c10", count=1)]),
            Tier(code="gold", label_en="Gold", label_zh="金海", entry="3000 CNY",
                 benefits=[MemberDiscount(rate="0.9"), FreeShipping(), CouponGrant(template_id="c20", count=2,
                           period="quarter"), PointsMultiplier(multiplier="1.5")]),
            Tier(code="black", label_en="Black", label_zh="黑海", entry="8000 CNY",
                 benefits=[Revoke(target="coupon_grant:c10"), PriorityService(channels=("queue", "booking")),
                           BirthdayBenefit(gift_en="cake", gift_zh="蛋糕", points_multiplier="2")]),
        ]
    )  # fmt: skip


ALL_KINDS: list[Any] = [
    MemberDiscount(rate="0.88"),
    MemberPrice(eligible=False),
    PointsMultiplier(multiplier="2"),
    FreeShipping(threshold="49.90 CNY"),
    FreeShipping(),
    CouponGrant(template_id="t1", count=3, period="year"),
    BirthdayBenefit(coupon_template_id="bday", points_multiplier="3"),
    PriorityService(),
    Revoke(target="discount"),
]


@pytest.mark.parametrize("benefit", ALL_KINDS, ids=lambda b: b.kind)
def test_every_benefit_round_trips_through_json(benefit: Any) -> None:
    document = json.loads(benefit.to_json())
    again = parse_benefit(document)
    assert again == benefit and type(again) is type(benefit)
    assert benefit.label("en") and benefit.label("zh")


def test_labels_in_both_languages() -> None:
    assert MemberDiscount(rate="0.88").label("en") == "12% member discount"
    assert MemberDiscount(rate="0.88").label("zh") == "会员8.8折"
    assert FreeShipping(threshold="49.90 CNY").label("en") == "free shipping from 49.90 CNY"
    assert CouponGrant(template_id="t1", count=3, period="quarter").label("zh") == "每季度3张优惠券 t1"
    assert CouponGrant(template_id="t1", count=1).label("en") == "1 coupon t1 per month"
    assert (
        BirthdayBenefit(coupon_template_id="b", points_multiplier="3").label("en")
        == "birthday: coupon b, 3x points"
    )
    assert MemberPrice(eligible=False).label("zh") == "不享会员价"
    with pytest.raises(DataError, match="lang must be 'en' or 'zh'"):
        MemberPrice().label("fr")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: MemberDiscount(rate=0.9), "rate: .*not float"),
        (lambda: MemberDiscount(rate="1.2"), "rate: Input should be less than or equal to 1"),
        (lambda: MemberDiscount(rate="0"), "rate: Input should be greater than 0"),
        (lambda: PointsMultiplier(multiplier=1.5), "multiplier: .*not float"),
        (lambda: FreeShipping(threshold="-1 CNY"), "threshold: .*must not be negative"),
        (lambda: CouponGrant(template_id="t", count=0), "count: Input should be greater than or equal to 1"),
        (lambda: CouponGrant(template_id="t", count=1, period="week"), "period: Input should be"),
        (BirthdayBenefit, "needs coupon_template_id, points_multiplier or gift_en"),
        (lambda: BirthdayBenefit(gift_en="cake"), "gift_en and gift_zh go together"),
        (lambda: PriorityService(channels=()), "channels: "),
        (lambda: MemberPrice(colour="red"), "colour: unknown field"),
        (lambda: parse_benefit({"kind": "teleport"}), "invalid benefit"),
    ],
)
def test_bad_benefits_raise_config_error(build: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build()


def test_a_tier_may_not_grant_a_benefit_twice() -> None:
    with pytest.raises(ConfigError, match="tier 'red' grants benefit 'discount' twice"):
        Tier(code="red", label_en="R", label_zh="红", entry=0,
             benefits=[MemberDiscount(rate="0.9"), MemberDiscount(rate="0.8")])  # fmt: skip
    with pytest.raises(ConfigError, match="grants benefit 'discount' twice"):
        TierBenefits(tier="red", benefits=[MemberDiscount(rate="0.9"), MemberDiscount(rate="0.8")])
    # Two coupon templates are two benefits.
    grants = [CouponGrant(template_id="a", count=1), CouponGrant(template_id="b", count=1)]
    assert len(TierBenefits(tier="r", benefits=grants).benefits) == 2


def test_inheritance_override_and_revoke() -> None:
    policy = programme()
    red = benefits_for(policy, "red")
    assert red.keys == ("member_price", "free_shipping")
    silver = benefits_for(policy, "silver")
    assert silver.keys == ("member_price", "free_shipping", "discount", "coupon_grant:c10")
    assert silver.discount_rate == Decimal("0.95") and silver.points_multiplier == Decimal(1)
    gold = benefits_for(policy, "gold")
    assert gold.get("free_shipping").threshold is None  # overrides red's 满99包邮
    assert gold.granted_by("free_shipping") == "gold" and gold.granted_by("member_price") == "red"
    assert gold.discount_rate == Decimal("0.9") and gold.points_multiplier == Decimal("1.5")
    black = benefits_for(policy, "black")
    assert "coupon_grant:c10" not in black and "coupon_grant:c20" in black
    assert black.granted_by("coupon_grant:c10") is None
    assert black.get("birthday").points_multiplier == Decimal(2)
    assert len(black) == len(list(black)) == 7
    assert black.to_dicts()[0] == {"kind": "member_price", "eligible": True, "granted_by": "red"}
    assert black.labels("zh")[0] == "享会员价"


def test_unknown_tier_and_wrong_source() -> None:
    with pytest.raises(
        DataError, match="tier: unknown tier code 'platinum' \\(known: red, silver, gold, black\\)"
    ):
        benefits_for(programme(), "platinum")
    with pytest.raises(DataError, match="needs a TierPolicy or a BenefitTable, got dict"):
        benefits_for({"red": []}, "red")


def test_benefit_table_standalone_and_json() -> None:
    a = TierBenefits(tier="a", benefits=[MemberPrice()])
    table = BenefitTable(tiers=[a, TierBenefits(tier="b", benefits=[PointsMultiplier(multiplier="2")])])
    again = BenefitTable.from_json(table.to_json())
    assert again == table
    assert benefits_for(again, "b").keys == ("member_price", "points_multiplier")
    schema = json.dumps(BenefitTable.json_schema())
    assert '"discriminator"' in schema and '"coupon_grant"' in schema
    with pytest.raises(ConfigError, match="tiers: duplicate tier codes \\['a'\\]"):
        BenefitTable(tiers=[TierBenefits(tier="a"), TierBenefits(tier="a")])


def test_policy_with_benefits_round_trips() -> None:
    policy = programme()
    assert TierPolicy.from_json(policy.to_json()) == policy


def test_comparison_table_side_by_side() -> None:
    view = compare_benefits(programme(), lang="zh")
    assert view.columns == ("benefit", "red", "silver", "gold", "black")
    rows = {row["benefit"]: row for row in view.to_dicts()}
    assert rows["discount"] == {"benefit": "discount", "red": "—", "silver": "会员9.5折", "gold": "会员9折",
                                "black": "会员9折"}  # fmt: skip
    assert rows["free_shipping"]["red"] == "满99.00元包邮" and rows["free_shipping"]["gold"] == "包邮"
    assert rows["coupon_grant:c10"]["black"] == "—"
    html = benefits_html(programme())
    assert html.startswith("<table>") and "<th>black</th>" in html and "free shipping from 99.00 CNY" in html
    assert "<table" in programme()._repr_html_()
    with pytest.raises(DataError, match="lang must be"):
        compare_benefits(programme(), lang="de")


def test_custom_benefit_types(lounge: str) -> None:
    assert lounge in benefit_type_names()
    benefit = CustomBenefit(type="lounge", params={"visits_per_year": 4})
    assert benefit.key == "custom:lounge" and benefit.label("zh") == "贵宾室4次"
    assert parse_benefit(benefit.to_dict()) == benefit
    with pytest.raises(
        ConfigError, match="params of benefit type 'lounge': visits_per_year: Input should be"
    ):
        CustomBenefit(type="lounge", params={"visits_per_year": 0})
    with pytest.raises(PluginError, match="already registered"):
        register_benefit_type("lounge", Lounge)
    assert register_benefit_type("lounge", Lounge, replace=True) == "lounge"  # no label: a default one
    assert CustomBenefit(type="lounge", params={"visits_per_year": 2}).label() == "lounge (visits_per_year=2)"
    tiers = BenefitTable(tiers=[TierBenefits(tier="gold", benefits=[benefit])])
    assert benefits_for(tiers, "gold").get("custom:lounge") == benefit


def test_registry_errors() -> None:
    with pytest.raises(ConfigError, match="benefit type 'spa' is not registered"):
        CustomBenefit(type="spa")
    with pytest.raises(PluginError, match="must be an identifier"):
        register_benefit_type("not ok", Lounge)
    with pytest.raises(PluginError, match="must be a pydantic model class"):
        register_benefit_type("spa", dict)  # type: ignore[arg-type]
    with pytest.raises(PluginError, match="'spa' is not registered"):
        unregister_benefit_type("spa")


def test_money_threshold_reads_every_form() -> None:
    assert FreeShipping(threshold={"amount": "99", "currency": "CNY"}).threshold == Money("99", "CNY")
    assert FreeShipping(threshold=Money("99", "USD")).label("en") == "free shipping from 99.00 USD"

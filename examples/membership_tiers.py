"""A Haidilao-style four-tier programme (红海 → 银海 → 金海 → 黑海): tiers, benefits, a member, a population.

Run: ``python examples/membership_tiers.py``

It shows the programme and its benefits side by side, one member's tier timeline (upgrades, a review
that keeps the tier, a manual override, a downgrade) with what they need next, and the tier
distribution of 20,000 synthetic customers evaluated from their 12-month spend.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from user_ops import Table
from user_ops.datasets import DEFAULT_AS_OF, synthetic_customers
from user_ops.membership import (
    BirthdayBenefit,
    CouponGrant,
    FreeShipping,
    MemberDiscount,
    MemberPrice,
    PointsMultiplier,
    PriorityService,
    Purchase,
    Refund,
    Tier,
    TierOverride,
    TierPolicy,
    benefits_for,
    compare_benefits,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")

PROGRAMME = TierPolicy(
    [
        Tier(code="red", label_en="Red Sea", label_zh="红海", entry="0 CNY",
             benefits=[MemberPrice(), PointsMultiplier(multiplier="1")]),
        Tier(code="silver", label_en="Silver Sea", label_zh="银海", entry="1000 CNY", retention="800 CNY",
             benefits=[MemberDiscount(rate="0.95"),
                       BirthdayBenefit(gift_en="birthday noodles", gift_zh="生日长寿面")]),
        Tier(code="gold", label_en="Gold Sea", label_zh="金海", entry="3000 CNY", retention="2000 CNY",
             benefits=[MemberDiscount(rate="0.9"), PointsMultiplier(multiplier="1.5"),
                       CouponGrant(template_id="free-side-dish", count=2, period="month")]),
        Tier(code="black", label_en="Black Sea", label_zh="黑海", entry="8000 CNY", retention="6000 CNY",
             benefits=[MemberDiscount(rate="0.85"), PointsMultiplier(multiplier="2"),
                       PriorityService(channels=("queue", "booking")), FreeShipping()]),
    ],
    window="rolling",
    window_length="12mo",
    review="anniversary",
    review_period="12mo",
    downgrade="one_step",
    protection="3mo",
    tz="Asia/Shanghai",
)  # fmt: skip


def at(year: int, month: int, day: int, hour: int = 19) -> datetime:
    return datetime(year, month, day, hour, tzinfo=SHANGHAI)


HISTORY = [
    Purchase(at=at(2023, 1, 8), amount="680 CNY"),
    Purchase(at=at(2023, 2, 14), amount="450 CNY"),  # 1,130 in 12 months: 银海
    Purchase(at=at(2023, 5, 1, 12), amount="2100 CNY"),  # 3,230: 金海
    Refund(at=at(2023, 5, 3, 12), amount="200 CNY"),  # refunds lower the metric, not the tier
    Purchase(at=at(2023, 11, 20), amount="600 CNY"),
    TierOverride(
        at=at(2024, 1, 1, 0), tier="black", until=at(2024, 3, 1, 0), reason="春节 VIP 体验"
    ),
    Purchase(at=at(2024, 6, 18), amount="320 CNY"),
]


def show_programme() -> None:
    print("== The programme ==")
    for row in PROGRAMME.describe().to_dicts():
        print(
            f"  {row['code']:<7} {row['label_zh']}  entry ¥{row['entry']:>8}  keep ¥{row['retention']:>8}"
        )
    print("\n== Benefits side by side (inherited unless overridden) ==")
    view = compare_benefits(PROGRAMME, lang="zh")
    for row in view.to_dicts():
        cells = " | ".join(f"{row[code]}" for code in PROGRAMME.codes)
        print(f"  {row['benefit']:<24} {cells}")
    gold = benefits_for(PROGRAMME, "gold")
    print(
        f"\n  金海 pays {gold.discount_rate} of the price and earns {gold.points_multiplier}x points"
    )


def show_member() -> None:
    print("\n== One member's timeline ==")
    until = at(2025, 6, 30, 0)
    timeline = PROGRAMME.simulate(HISTORY, until=until)
    for change in timeline:
        when = change.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        print(f"  {when}  {change.kind:<12} {change.from_tier or '-':>6} -> {change.to_tier or '-':<6} "
              f"{change.reason_zh}")  # fmt: skip
    state = timeline.final
    print(f"\n  as of {until.date()}: {state.summary('en')}")
    print(f"  {state.summary('zh')}")
    review = state.next_review.astimezone(SHANGHAI).date() if state.next_review else None
    since = state.since.astimezone(SHANGHAI).date() if state.since else "-"
    print(f"  tier since {since}, next review {review}")


def show_population() -> None:
    print("\n== 20,000 customers, tiers from their 12-month spend ==")
    customers = synthetic_customers(20_000, seed=11)
    # The host converts its float yuan figures to exact fen once, at the boundary.
    spend = np.rint(np.ma.filled(customers["spend_365d"], 0.0) * 100).astype(np.int64)
    table = Table({"customer_id": customers["customer_id"], "spend": spend})
    result = PROGRAMME.evaluate(table, as_of=DEFAULT_AS_OF)
    total = len(result)
    for code, count in result.counts().items():
        label = PROGRAMME[code].label_zh if code is not None else "-"
        print(f"  {label:<4} {count:>6}  {count / total:6.1%}")
    close = result["to_next"].filled(-1)
    nearly = int(((close > 0) & (close <= 20_000)).sum())
    print(
        f"  {nearly} customers are within ¥200 of the next tier (a targeted push: 凑单 to upgrade)"
    )


def main() -> None:
    show_programme()
    show_member()
    show_population()


if __name__ == "__main__":
    main()

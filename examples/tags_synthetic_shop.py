"""Tag a synthetic shop's customers with the default tags plus two of your own, and explain one.

Run: ``python examples/tags_synthetic_shop.py``
"""

from __future__ import annotations

from user_ops import TagRule, TagSet, default_tags
from user_ops.datasets import DEFAULT_AS_OF, synthetic_customers


def main() -> None:
    customers = synthetic_customers(5000, seed=3)
    own = [
        TagRule(
            name="wake_up_candidate",
            when=(
                'has_tag("lapsed_buyer") and has_tag("promotion_driven") and tags contains "wechat_follower"'
            ),
            label_en="Wake-up candidate",
            label_zh="唤醒候选",
            description="Lapsed, promotion-driven, and reachable on WeChat: send a coupon.",
        ),
        TagRule(
            name="vip_shanghai",
            when='city == "上海" and member_tier in ["gold", "black"]',
            label_en="Shanghai VIP",
            label_zh="上海贵宾",
        ),
    ]
    tags = TagSet([*default_tags().tags, *own])
    result = tags.evaluate(customers, as_of=DEFAULT_AS_OF)
    for row in result.summary().to_dicts():
        print(f"{row['tag']:<20} {row['label_zh']:<8} {row['count']:>6,}  {row['share']:6.1%}")

    first = int(result["wake_up_candidate"].argmax())
    record = customers.row(first)
    print(
        f"\ncustomer {record['customer_id']}:",
        sorted(tags.evaluate_one(record, as_of=DEFAULT_AS_OF)),
    )
    print(tags.explain_one(record, "wake_up_candidate", as_of=DEFAULT_AS_OF))
    print("\nthe tag set's content hash:", tags.content_hash()[:16])


if __name__ == "__main__":
    main()

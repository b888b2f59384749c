"""Member benefits (会员权益): typed benefits, their inheritance up the tiers, the comparison table.

A part of the ``user_ops.membership`` room, whose door exports every name listed here: import them
from there.
"""

from user_ops.membership.benefits._benefits import (
    Benefit,
    BenefitSet,
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
    TierBenefits,
    benefit_type_names,
    benefits_for,
    benefits_html,
    compare_benefits,
    parse_benefit,
    register_benefit_type,
    unregister_benefit_type,
)

__all__ = [
    "Benefit",
    "BenefitSet",
    "BenefitTable",
    "BirthdayBenefit",
    "CouponGrant",
    "CustomBenefit",
    "FreeShipping",
    "MemberDiscount",
    "MemberPrice",
    "PointsMultiplier",
    "PriorityService",
    "Revoke",
    "TierBenefits",
    "benefit_type_names",
    "benefits_for",
    "benefits_html",
    "compare_benefits",
    "parse_benefit",
    "register_benefit_type",
    "unregister_benefit_type",
]

"""Coupons (优惠券): templates, carts, eligibility with reasons, quotes, best combination,
targeted issuance (定向发券) and the redemption protocol.

Money is exact (integer minor units, see [`user_ops.Money`][]); every "no" carries a reason code
with its numbers; the library stores nothing — usage counters live in the host's
[`RedemptionStore`][], whose conformance suite is [`user_ops.coupons.testing.check_store`][].
"""

from user_ops._moved import moved_names
from user_ops.coupons import (
    partitioned,  # the map/reduce protocol of the Dask and Spark adapters
    testing,  # the conformance suite: coupons.testing.check_store
)
from user_ops.coupons._best import BestCombination, best_combination
from user_ops.coupons._check import check
from user_ops.coupons._issuance import (
    FrequencyCap,
    IssuanceBudget,
    IssuanceCaps,
    IssuanceDecision,
    IssuancePlan,
    IssuanceReason,
    plan_issuance,
    plan_issuance_one,
)
from user_ops.coupons._model import (
    Benefit,
    BenefitKind,
    Cart,
    CartLine,
    CashBackForm,
    Conditions,
    CouponTemplate,
    CustomerContext,
    IssuedCoupon,
    Limits,
    PriceBase,
    Stacking,
    Target,
    Validity,
)
from user_ops.coupons._quote import (
    AppliedCoupon,
    LineAllocation,
    Quote,
    QuoteLine,
    RejectedCoupon,
    TraceStep,
    quote,
)
from user_ops.coupons._reasons import CouponUsage, Eligibility, Reason, ReasonCode
from user_ops.coupons._redemption import (
    CounterMove,
    MemoryRedemptionStore,
    RedemptionError,
    RedemptionIntent,
    RedemptionStore,
    Refund,
    Rejection,
    Reservation,
    ReservationStatus,
)
from user_ops.coupons._sqlite_store import SQLiteRedemptionStore

__all__ = [
    "AppliedCoupon",
    "Benefit",
    "BenefitKind",
    "BestCombination",
    "Cart",
    "CartLine",
    "CashBackForm",
    "Conditions",
    "CounterMove",
    "CouponTemplate",
    "CouponUsage",
    "CustomerContext",
    "Eligibility",
    "FrequencyCap",
    "IssuanceBudget",
    "IssuanceCaps",
    "IssuanceDecision",
    "IssuancePlan",
    "IssuanceReason",
    "IssuedCoupon",
    "Limits",
    "LineAllocation",
    "MemoryRedemptionStore",
    "PriceBase",
    "Quote",
    "QuoteLine",
    "Reason",
    "ReasonCode",
    "RedemptionError",
    "RedemptionIntent",
    "RedemptionStore",
    "Refund",
    "RejectedCoupon",
    "Rejection",
    "Reservation",
    "ReservationStatus",
    "SQLiteRedemptionStore",
    "Stacking",
    "Target",
    "TraceStep",
    "Validity",
    "best_combination",
    "check",
    "partitioned",
    "plan_issuance",
    "plan_issuance_one",
    "quote",
    "testing",
]

# The map/reduce protocol moved to user_ops.coupons.partitioned (issue 14): the old names work for one
# more release, with a DeprecationWarning.
__getattr__ = moved_names(
    __name__, dict.fromkeys(set(partitioned.__all__) - {"IssuanceCandidates"}, partitioned.__name__)
)

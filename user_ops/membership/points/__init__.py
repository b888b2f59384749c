"""Points (积分): the points policy, the append-only ledger, its replay and the batch balances.

A part of the ``user_ops.membership`` room, whose door exports every name listed here: import them
from there.
"""

from user_ops.membership.points._batch import BALANCE_COLUMNS, balances
from user_ops.membership.points._entry import ENTRY_KINDS, LedgerEntry
from user_ops.membership.points._ledger import (
    Consumption,
    LedgerIssue,
    Lot,
    PointsState,
    RedemptionQuote,
    quote_redemption,
    replay,
)
from user_ops.membership.points._policy import EventReward, OrderLine, PointsPolicy

__all__ = [
    "BALANCE_COLUMNS",
    "ENTRY_KINDS",
    "Consumption",
    "EventReward",
    "LedgerEntry",
    "LedgerIssue",
    "Lot",
    "OrderLine",
    "PointsPolicy",
    "PointsState",
    "RedemptionQuote",
    "balances",
    "quote_redemption",
    "replay",
]
